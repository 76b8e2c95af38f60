//! `rerun --logs`: streams the container logs of a hook's Pods (the Pod itself, or the Job's
//! Pods) while Helm would be waiting, each line prefixed by the hook name. Only container
//! output is printed — never the release's values.

use super::plan::Step;
use crate::client::Cluster;
use futures::{AsyncBufReadExt, TryStreamExt};
use helm_hooks::workload::Workload;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, LogParams};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// How long finished hooks get for their last log lines.
const DRAIN: Duration = Duration::from_secs(3);

/// A running log streamer.
pub struct LogTask {
    stop: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

/// Starts streaming the logs of `created` (a Job or Pod) in the background.
pub fn spawn(kube: &Cluster, step: &Step, created: &DynamicObject) -> LogTask {
    let pods: Api<Pod> = Api::namespaced(kube.watch_client.clone(), &step.hook.namespace);
    let hook = step.hook.name.clone();
    let workload = Workload::of_type(&step.hook.type_key.api_version, &step.hook.type_key.kind);
    let name = created.metadata.name.clone().unwrap_or_default();
    let uid = created.metadata.uid.clone().unwrap_or_default();
    let (stop, mut stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let mut started: BTreeSet<(String, String)> = BTreeSet::new();
        let mut streams = JoinSet::new();
        let mut last_round = false;
        loop {
            let found: Vec<Pod> = if workload == Workload::Pod {
                pods.get_opt(&name)
                    .await
                    .ok()
                    .flatten()
                    .into_iter()
                    .collect()
            } else {
                let selector = format!("batch.kubernetes.io/controller-uid={uid}");
                pods.list(&ListParams::default().labels(&selector))
                    .await
                    .map(|l| l.items)
                    .unwrap_or_default()
            };
            for pod in found {
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                for container in startable_containers(&pod) {
                    if started.insert((pod_name.clone(), container.clone())) {
                        let warn = started.len() == 1;
                        streams.spawn(stream(
                            pods.clone(),
                            pod_name.clone(),
                            container,
                            format!("[{hook}] "),
                            warn,
                        ));
                    }
                }
            }
            if last_round {
                break;
            }
            tokio::select! {
                _ = &mut stopped => last_round = true,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
        // The hook finished: let the streams deliver their last lines, then stop them.
        let _ = tokio::time::timeout(DRAIN, async {
            while streams.join_next().await.is_some() {}
        })
        .await;
    });
    LogTask { stop, handle }
}

/// Containers whose logs can be read: running or terminated.
fn startable_containers(pod: &Pod) -> Vec<String> {
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

async fn stream(pods: Api<Pod>, pod: String, container: String, prefix: String, warn: bool) {
    let params = LogParams {
        container: Some(container.clone()),
        follow: true,
        ..LogParams::default()
    };
    match pods.log_stream(&pod, &params).await {
        Ok(reader) => {
            let mut lines = reader.lines();
            while let Ok(Some(line)) = lines.try_next().await {
                println!("{prefix}{line}");
            }
        }
        Err(e) if warn => eprintln!(
            "warning: cannot stream logs of pod/{pod} container {container}: {}",
            crate::error::brief(&e)
        ),
        Err(_) => {}
    }
}

/// Stops looking for new Pods and waits (briefly) for the streams to drain.
pub async fn finish(task: LogTask) {
    let _ = task.stop.send(());
    let mut handle = task.handle;
    if tokio::time::timeout(DRAIN + Duration::from_secs(1), &mut handle)
        .await
        .is_err()
    {
        handle.abort();
    }
}
