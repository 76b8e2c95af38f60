//! The logs of hook Pods still in the cluster: a Pod hook's own Pod, a Job hook's Pods (label
//! `batch.kubernetes.io/job-name`), for the hooks of the release's latest revision in Helm's
//! order. With `-f`, every container is followed and Pods that appear later (a new run of a hook
//! while `helm upgrade` runs) are picked up from a watch, as stern does.

use crate::client::Cluster;
use crate::error::{self, Result};
use crate::options::LogsOptions;
use crate::pod_logs;
use crate::releases::Store;
use crate::rows::ordered_hooks;
use futures::StreamExt;
use helm_hooks::workload::Workload;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde::Serialize;
use std::collections::BTreeSet;
use tokio::task::JoinSet;

/// A Job or Pod hook of the release whose Pods have logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub hook: String,
    pub workload: Workload,
    pub namespace: String,
}

impl Target {
    /// Whether `pod` runs this hook: the Pod hook itself, or a Pod of the Job hook.
    fn runs(&self, pod: &Pod) -> bool {
        let meta = &pod.metadata;
        if meta.namespace.as_deref() != Some(&self.namespace) {
            return false;
        }
        match self.workload {
            Workload::Pod => meta.name.as_deref() == Some(&self.hook),
            _ => meta
                .labels
                .as_ref()
                .and_then(|l| l.get(JOB_NAME_LABEL))
                .is_some_and(|job| *job == self.hook),
        }
    }
}

/// The label the Job controller puts on a Job's Pods.
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// One container's lines, for `-o json`.
#[derive(Debug, Clone, Serialize)]
pub struct LiveLog {
    pub hook: String,
    pub kind: &'static str,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub lines: Vec<String>,
}

/// The Job and Pod hooks of the release's latest revision (filtered by `--hook`, `--event`),
/// in Helm's order; empty when the release has no records (uninstalled).
pub async fn targets(kube: &Cluster, store: &Store, options: &LogsOptions) -> Result<Vec<Target>> {
    let search = kube.search_namespace();
    let records = store.records(search, Some(&options.release)).await?;
    let Some(latest) = crate::releases::latest_per_release(&records).pop() else {
        return Ok(Vec::new());
    };
    let record = store.fetch(&latest).await?;
    let namespace = &record.reference.namespace;
    Ok(ordered_hooks(&record, options.event)
        .into_iter()
        .filter(|hook| options.hooks.is_empty() || options.hooks.contains(&hook.name))
        .filter_map(|hook| {
            let stored = hook.stored_object(namespace);
            let workload = Workload::of_type(&stored.api_version, &stored.kind);
            matches!(workload, Workload::Job | Workload::Pod).then(|| Target {
                hook: stored.name,
                workload,
                namespace: stored.namespace,
            })
        })
        .collect())
}

/// The Pods of `target`, oldest first.
async fn pods_of(kube: &Cluster, target: &Target) -> Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), &target.namespace);
    let request = || error::Request::new("list", "pods", Some(&target.namespace));
    let mut pods = match target.workload {
        Workload::Pod => api
            .get_opt(&target.hook)
            .await
            .map_err(|e| {
                error::api(
                    error::Request::new("get", "pods", Some(&target.namespace)),
                    e,
                )
            })?
            .into_iter()
            .collect(),
        _ => {
            let selector = format!("{JOB_NAME_LABEL}={}", target.hook);
            api.list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| error::api(request(), e))?
                .items
        }
    };
    pods.sort_by(|a, b| {
        (&a.metadata.creation_timestamp, &a.metadata.name)
            .cmp(&(&b.metadata.creation_timestamp, &b.metadata.name))
    });
    Ok(pods)
}

/// `[pod/POD/CONTAINER] `, as `kubectl logs --prefix` and the kept logs print lines.
fn prefix(pod: &str, container: &str) -> String {
    format!("[pod/{pod}/{container}] ")
}

/// Reads (without following) the last `tail` lines of every container of the targets' Pods.
pub async fn read(kube: &Cluster, targets: &[Target], tail: Option<i64>) -> Result<Vec<LiveLog>> {
    let mut logs = Vec::new();
    for target in targets {
        let api: Api<Pod> = Api::namespaced(kube.client.clone(), &target.namespace);
        for pod in pods_of(kube, target).await? {
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            for container in pod_logs::startable_containers(&pod) {
                let params = LogParams {
                    container: Some(container.clone()),
                    tail_lines: tail,
                    ..LogParams::default()
                };
                let text = match api.logs(&pod_name, &params).await {
                    Ok(text) => text,
                    Err(e) => {
                        eprintln!(
                            "warning: cannot read the logs of pod/{pod_name} container \
                             {container} in namespace {}: {}",
                            target.namespace,
                            error::brief(&e)
                        );
                        continue;
                    }
                };
                logs.push(LiveLog {
                    hook: target.hook.clone(),
                    kind: if target.workload == Workload::Pod {
                        "Pod"
                    } else {
                        "Job"
                    },
                    namespace: target.namespace.clone(),
                    pod: pod_name.clone(),
                    container,
                    lines: text.lines().map(str::to_string).collect(),
                });
            }
        }
    }
    Ok(logs)
}

/// Writes `logs` as text, each line prefixed.
pub fn write_text(logs: &[LiveLog], out: &mut impl std::io::Write) -> std::io::Result<()> {
    for log in logs {
        let prefix = prefix(&log.pod, &log.container);
        for line in &log.lines {
            writeln!(out, "{prefix}{line}")?;
        }
    }
    out.flush()
}

/// `-f`: follows every container of the targets' Pods, and of the Pods that start later, until
/// Ctrl-C. The targets are read again from the release's records when an unknown Pod appears,
/// so the hooks of a revision `helm upgrade` is installing are followed too.
pub async fn follow(
    kube: &Cluster,
    store: &Store,
    options: &LogsOptions,
    mut targets: Vec<Target>,
) -> Result<u8> {
    let pods: Api<Pod> = match kube.search_namespace() {
        Some(ns) => Api::namespaced(kube.watch_client.clone(), ns),
        None => Api::all(kube.watch_client.clone()),
    };
    let mut started: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut streams = JoinSet::new();
    let mut events = watcher(pods, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let mut refreshed = tokio::time::Instant::now();
    loop {
        let pod = tokio::select! {
            _ = &mut interrupted => return Ok(crate::EXIT_OK),
            event = events.next() => match event {
                None => return Ok(crate::EXIT_OK),
                Some(Err(e)) => {
                    eprintln!("warning: watching pods: {e}; resuming");
                    continue;
                }
                Some(Ok(pod)) => pod,
            },
            Some(_) = streams.join_next(), if !streams.is_empty() => continue,
        };
        let mut target = targets.iter().find(|t| t.runs(&pod));
        if target.is_none() && refreshed.elapsed() > std::time::Duration::from_secs(1) {
            if let Ok(fresh) = self::targets(kube, store, options).await {
                targets = fresh;
            }
            refreshed = tokio::time::Instant::now();
            target = targets.iter().find(|t| t.runs(&pod));
        }
        if target.is_none() {
            continue;
        }
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        for container in pod_logs::startable_containers(&pod) {
            if started.insert((namespace.clone(), name.clone(), container.clone())) {
                streams.spawn(pod_logs::stream(
                    Api::namespaced(kube.watch_client.clone(), &namespace),
                    name.clone(),
                    container.clone(),
                    pod_logs::follow(options.tail),
                    prefix(&name, &container),
                    true,
                ));
            }
        }
    }
}
