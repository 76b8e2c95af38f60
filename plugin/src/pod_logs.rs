//! Container logs of hook Pods, shared by `logs` and `rerun --logs`: which containers can be
//! read, and one container's lines printed with a prefix. Only container output is printed,
//! never the release's values.

use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use std::io::Write;

/// Containers (init containers first, in the Pod's order) whose logs can be read: running or
/// terminated.
pub fn startable_containers(pod: &Pod) -> Vec<String> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .filter(|c| {
            c.state
                .as_ref()
                .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
        })
        .map(|c| c.name.clone())
        .collect()
}

/// Log parameters that follow the stream, from the last `tail` lines (`None`: all).
pub fn follow(tail: Option<i64>) -> LogParams {
    LogParams {
        follow: true,
        tail_lines: tail,
        ..LogParams::default()
    }
}

/// Prints the lines of one container (`params` without the container; following or not) with
/// `prefix`; when the logs cannot be read, a warning if `warn`.
pub async fn stream(
    pods: Api<Pod>,
    pod: String,
    container: String,
    params: LogParams,
    prefix: String,
    warn: bool,
) {
    let params = LogParams {
        container: Some(container.clone()),
        ..params
    };
    match pods.log_stream(&pod, &params).await {
        Ok(reader) => {
            let mut lines = reader.lines();
            while let Ok(Some(line)) = lines.try_next().await {
                // A closed stdout (`| head`) ends the stream quietly, as kubectl logs does.
                if writeln!(std::io::stdout().lock(), "{prefix}{line}").is_err() {
                    break;
                }
            }
        }
        Err(e) if warn => eprintln!(
            "warning: cannot read the logs of pod/{pod} container {container}: {}",
            crate::error::brief(&e)
        ),
        Err(_) => {}
    }
}
