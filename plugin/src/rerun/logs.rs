//! `rerun --logs`: streams the container logs of a hook's Pods (the Pod itself, or the Job's
//! Pods) while Helm would be waiting, each line prefixed by the hook name. Only container
//! output is printed — never the release's values.

use super::plan::Step;
use crate::client::Cluster;
use crate::pod_logs;
use helm_hooks::workload::Workload;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams};
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
                for container in pod_logs::startable_containers(&pod) {
                    if started.insert((pod_name.clone(), container.clone())) {
                        let warn = started.len() == 1;
                        streams.spawn(pod_logs::stream(
                            pods.clone(),
                            pod_name.clone(),
                            container,
                            pod_logs::follow(None),
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

/// `helm.sh/hook-output-log-policy`: once the hook ended, prints the logs of its Pods to stderr
/// as Helm does (a Job's Pods by label `job-name`, a Pod by name; every container of the Pod's
/// spec, the whole log, unprefixed). A Pod whose logs cannot be read is a warning.
pub async fn output_by_policy(kube: &Cluster, step: &Step) {
    let pods: Api<Pod> = Api::namespaced(kube.client.clone(), &step.hook.namespace);
    let workload = Workload::of_type(&step.hook.type_key.api_version, &step.hook.type_key.kind);
    let params = match workload {
        Workload::Job => ListParams::default().labels(&format!("job-name={}", step.hook.name)),
        Workload::Pod => ListParams::default().fields(&format!("metadata.name={}", step.hook.name)),
        Workload::Other => return,
    };
    let found = match pods.list(&params).await {
        Ok(list) => list.items,
        Err(e) => {
            eprintln!(
                "warning: cannot list the Pods of {} for its output-log policy: {}",
                step.hook.kubectl_name(),
                crate::error::brief(&e)
            );
            return;
        }
    };
    for pod in found {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let containers = pod.spec.map(|s| s.containers).unwrap_or_default();
        for container in containers {
            let params = kube::api::LogParams {
                container: Some(container.name.clone()),
                ..Default::default()
            };
            match pods.logs(&name, &params).await {
                Ok(text) => eprint!("{text}"),
                Err(e) => eprintln!(
                    "warning: cannot read the logs of pod/{name} container {}: {}",
                    container.name,
                    crate::error::brief(&e)
                ),
            }
        }
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
