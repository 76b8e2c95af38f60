//! Executes a [`Plan`] against the cluster the way Helm's `execHook` does: per hook, delete
//! the previous object (`before-hook-creation`) and wait until it is gone, create the stored
//! manifest, wait for Jobs and Pods with the per-hook timeout; on failure apply `hook-failed`,
//! then `hook-succeeded` of the hooks that already ran, and stop; on success apply
//! `hook-succeeded` in reverse order. The release record is never touched.

use super::logs;
use super::plan::{Plan, Step};
use super::progress::Progress;
use crate::client::Cluster;
use crate::discovery::{self, Resolution, Resolved};
use crate::duration;
use crate::error::{self, Error, Result};
use crate::objects::{self, condition_text, has_condition};
use futures::{StreamExt, TryStreamExt};
use helm_hooks::hook::OutputLogPolicy;
use helm_hooks::ownership::{LiveMeta, Ownership, ReleaseHooks};
use helm_hooks::workload::Workload;
use kube::api::{
    Api, DeleteParams, DynamicObject, PostParams, Preconditions, PropagationPolicy, WatchEvent,
    WatchParams,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Longest single watch request; the wait re-watches until the hook's timeout.
const WATCH_CHUNK_SECONDS: u64 = 60;
/// How often a deletion is checked.
const DELETE_POLL: Duration = Duration::from_millis(200);

/// How a hook's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Job `Complete`, Pod `Succeeded`, any other kind created.
    Succeeded,
    /// The object was deleted while Helm would be watching it: Helm counts that as success.
    Deleted,
    /// Job `Failed`, Pod `Failed`, with the reason.
    Failed(String),
    /// The timeout passed.
    TimedOut,
}

impl Outcome {
    fn ok(&self) -> bool {
        matches!(self, Outcome::Succeeded | Outcome::Deleted)
    }
}

/// What a rerun has done so far, for the report when it is interrupted.
#[derive(Debug, Default)]
pub struct Ledger {
    /// `kubectl_name (policy)` of every object deleted.
    pub deleted: Vec<String>,
    /// The Job or Pod being waited for (created by this rerun, still running).
    pub running: Option<String>,
}

/// What [`execute`] works with besides the plan.
pub struct Context<'a> {
    /// The cluster.
    pub kube: &'a Cluster,
    /// The release's stored revisions: nothing is deleted that is not one of its hook runs.
    pub owner: &'a ReleaseHooks,
    /// The plan's kinds, resolved.
    pub resolution: &'a Resolution,
    /// Per hook, as Helm's `--timeout`.
    pub timeout: Duration,
    /// Stream the hooks' logs.
    pub stream_logs: bool,
}

/// Runs `plan`; `Ok` when every hook succeeded. `ledger` records what was done.
pub async fn execute(
    context: &Context<'_>,
    plan: &Plan,
    progress: &mut Progress,
    ledger: &mut Ledger,
) -> Result<()> {
    let Context {
        kube,
        resolution,
        timeout,
        stream_logs,
        ..
    } = *context;
    for (i, step) in plan.steps.iter().enumerate() {
        let resolved = resolved_of(resolution, step)?;
        if step.delete_before {
            delete_and_wait(
                context,
                step,
                resolved,
                "before-hook-creation",
                progress,
                ledger,
            )
            .await?;
        }
        let created = create(kube, plan, step, resolved).await?;
        progress.line(&format!("{} created", step.hook.kubectl_name()));
        if !step.wait {
            continue;
        }
        ledger.running = Some(step.hook.kubectl_name());
        let log_task = stream_logs.then(|| logs::spawn(kube, step, &created));
        let outcome = wait_done(kube, step, resolved, &created, timeout, progress).await?;
        ledger.running = None;
        if let Some(task) = log_task {
            logs::finish(task).await;
        }
        let wanted = if outcome.ok() {
            OutputLogPolicy::HookSucceeded
        } else {
            OutputLogPolicy::HookFailed
        };
        if step.output_logs.contains(&wanted) {
            logs::output_by_policy(kube, step).await;
        }
        let name = step.hook.kubectl_name();
        match &outcome {
            Outcome::Succeeded => progress.line(&format!("{name} succeeded")),
            Outcome::Deleted => progress.line(&format!(
                "{name} was deleted while running (Helm counts that as success)"
            )),
            Outcome::Failed(reason) => progress.line(&format!("{name} failed: {reason}")),
            Outcome::TimedOut => progress.line(&format!(
                "{name} timed out after {}",
                duration::go_format(timeout)
            )),
        }
        if outcome.ok() {
            continue;
        }
        // Failure: hook-failed on this hook, then hook-succeeded on the ones that ran.
        if step.delete_on_failure
            && let Err(e) =
                delete_and_wait(context, step, resolved, "hook-failed", progress, ledger).await
        {
            progress.line(&format!("warning: {}", error::render(&e)));
        }
        for earlier in &plan.steps[..i] {
            if earlier.delete_on_success {
                delete_and_wait(
                    context,
                    earlier,
                    resolved_of(resolution, earlier)?,
                    "hook-succeeded",
                    progress,
                    ledger,
                )
                .await?;
            }
        }
        let skipped: Vec<&str> = plan.steps[i + 1..]
            .iter()
            .map(|s| s.hook.name.as_str())
            .collect();
        let logs = format!(
            "kubectl hooks logs {} -n {} --hook {}",
            plan.release, plan.namespace, step.hook.name
        );
        let (reason, next) = match outcome {
            Outcome::Failed(reason) => (reason, format!("its logs: {logs}")),
            // The Job or Pod goes on in the cluster: say so, and how to follow or stop it.
            Outcome::TimedOut if step.delete_on_failure => (
                format!(
                    "timed out after {} (deleted under hook-failed)",
                    duration::go_format(timeout)
                ),
                format!("its logs, if the janitor kept them: {logs}"),
            ),
            Outcome::TimedOut => (
                format!(
                    "timed out after {}; {name} is still running in the cluster",
                    duration::go_format(timeout)
                ),
                format!(
                    "follow it: {logs} -f; stop it: kubectl delete {name} -n {}",
                    step.hook.namespace
                ),
            ),
            _ => unreachable!("successes continue above"),
        };
        return Err(Error::Failed(format!(
            "{} hook {} failed: {reason}{}\nnext: {next}",
            plan.event,
            step.hook.name,
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; skipped the remaining hooks: {}", skipped.join(", "))
            }
        )));
    }
    for step in plan.steps.iter().rev() {
        if step.delete_on_success {
            delete_and_wait(
                context,
                step,
                resolved_of(resolution, step)?,
                "hook-succeeded",
                progress,
                ledger,
            )
            .await?;
        }
    }
    Ok(())
}

fn resolved_of<'a>(resolution: &'a Resolution, step: &Step) -> Result<&'a Resolved> {
    resolution
        .get(&step.hook.type_key)
        .and_then(Option::as_ref)
        .ok_or_else(|| discovery::unserved_error(&step.hook.type_key, &step.hook.name))
}

fn api_for(kube: &Cluster, step: &Step, resolved: &Resolved, watch: bool) -> Api<DynamicObject> {
    let client = if watch {
        &kube.watch_client
    } else {
        &kube.client
    };
    objects::api(client, resolved, Some(&step.hook.namespace))
}

fn namespace_of<'a>(step: &'a Step, resolved: &Resolved) -> Option<&'a str> {
    resolved.namespaced.then_some(step.hook.namespace.as_str())
}

/// Deletes the hook's object (background propagation, a missing object is fine) and waits
/// until it is gone, as Helm's `deleteHookByPolicy` does — but only when the object is a hook
/// run of the release (the core's ownership rule), and only that very object (uid
/// precondition). Each deletion is reported the moment the API server accepts it.
async fn delete_and_wait(
    context: &Context<'_>,
    step: &Step,
    resolved: &Resolved,
    policy: &str,
    progress: &mut Progress,
    ledger: &mut Ledger,
) -> Result<()> {
    let kube = context.kube;
    let timeout = context.timeout;
    let api = api_for(kube, step, resolved, false);
    let name = &step.hook.name;
    let resource = resolved.rbac_resource();
    let namespace = namespace_of(step, resolved);
    let get_error = |e| {
        error::api(
            error::Request::new("get", &resource, namespace).named(name),
            e,
        )
    };
    let Some(existing) = api.get_metadata_opt(name).await.map_err(get_error)? else {
        return Ok(());
    };
    if let Ownership::NotOwned(why) =
        ownership_of(context.owner, step, namespace, &existing.metadata)
    {
        return Err(Error::Failed(format!(
            "refusing to delete {} ({policy}): it is not a hook run of release {}: {why}; \
             delete or rename it yourself if it is a leftover",
            step.hook.kubectl_name(),
            context.owner.name()
        )));
    }
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: existing.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => {}
        Err(e) if error::status_code(&e) == Some(404) => return Ok(()),
        Err(e) => {
            return Err(error::api(
                error::Request::new("delete", &resource, namespace).named(name),
                e,
            ));
        }
    }
    let deleted = format!("{} deleted ({policy})", step.hook.kubectl_name());
    progress.line(&deleted);
    ledger.deleted.push(deleted);
    let started = Instant::now();
    let what = format!("{} deletion", step.hook.kubectl_name());
    let mut announced = false;
    loop {
        match api.get_metadata_opt(name).await {
            Ok(None) => break,
            // Gone and re-created by someone else: the one we deleted is gone.
            Ok(Some(now)) if now.metadata.uid != existing.metadata.uid => break,
            Ok(Some(_)) => {}
            Err(e) => return Err(get_error(e)),
        }
        if started.elapsed() >= timeout {
            progress.clear();
            return Err(Error::Failed(format!(
                "{} was not deleted within {} ({policy}); it may have finalizers: \
                 inspect it with kubectl get {} -n {} -o yaml",
                step.hook.kubectl_name(),
                duration::go_format(timeout),
                step.hook.kubectl_name(),
                step.hook.namespace
            )));
        }
        if !announced && started.elapsed() > Duration::from_secs(1) {
            progress.start_wait(&what, timeout);
            announced = true;
        }
        if announced {
            progress.tick(&what, started);
        }
        tokio::time::sleep(DELETE_POLL).await;
    }
    if announced {
        progress.clear();
    }
    Ok(())
}

/// The steps whose create would fail with `already exists`: an object of that name is there
/// and the plan will not delete it first (no `before-hook-creation`, or it is not a hook run
/// of this release, which rerun never deletes). One error per step, naming the fix.
pub async fn blocked_creates(
    kube: &Cluster,
    plan: &Plan,
    resolution: &Resolution,
    owner: &ReleaseHooks,
) -> Result<Vec<Error>> {
    let mut blocked = Vec::new();
    for step in &plan.steps {
        let Some(Some(resolved)) = resolution.get(&step.hook.type_key) else {
            continue;
        };
        let api = api_for(kube, step, resolved, false);
        let namespace = namespace_of(step, resolved);
        let resource = resolved.rbac_resource();
        let existing = api.get_metadata_opt(&step.hook.name).await.map_err(|e| {
            error::api(
                error::Request::new("get", &resource, namespace).named(&step.hook.name),
                e,
            )
        })?;
        let Some(existing) = existing else { continue };
        let why = match ownership_of(owner, step, namespace, &existing.metadata) {
            Ownership::HookRun { .. } if step.delete_before => continue,
            Ownership::HookRun { .. } => "its delete policy has no before-hook-creation, so \
                 Helm would fail the same way; delete it or run kubectl hooks cleanup"
                .to_string(),
            Ownership::NotOwned(why) => format!(
                "it is not a hook run of release {} ({why}), so rerun will not delete it; \
                 delete or rename it yourself",
                owner.name()
            ),
        };
        blocked.push(Error::Failed(format!(
            "cannot create {}: it already exists: {why}",
            step.hook.kubectl_name()
        )));
    }
    Ok(blocked)
}

/// The core's ownership verdict on the live object `metadata` of `step`'s hook.
fn ownership_of(
    owner: &ReleaseHooks,
    step: &Step,
    namespace: Option<&str>,
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Ownership {
    let annotations = metadata.annotations.clone().unwrap_or_default();
    owner.ownership(&LiveMeta {
        group: step.hook.type_key.group(),
        kind: &step.hook.type_key.kind,
        namespace,
        name: &step.hook.name,
        created: metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_second()),
        annotations: &annotations,
    })
}

/// Creates (never applies) the stored manifest.
async fn create(
    kube: &Cluster,
    plan: &Plan,
    step: &Step,
    resolved: &Resolved,
) -> Result<DynamicObject> {
    let object: DynamicObject = serde_json::from_value(
        step.object(resolved.namespaced, &plan.rerun_stamp()),
    )
    .map_err(|e| {
        Error::Failed(format!(
            "hook {}: the stored manifest is not a Kubernetes object: {e}",
            step.hook.name
        ))
    })?;
    let params = PostParams {
        field_manager: Some("kubectl-hooks".into()),
        ..PostParams::default()
    };
    api_for(kube, step, resolved, false)
        .create(&params, &object)
        .await
        .map_err(|e| {
            let resource = resolved.rbac_resource();
            let request = error::Request::new("create", &resource, namespace_of(step, resolved))
                .named(&step.hook.name);
            if error::status_code(&e) == Some(409) {
                Error::Failed(format!(
                    "cannot create {}: it already exists (its delete policy has no \
                     before-hook-creation, so Helm would fail the same way); delete it or run \
                     kubectl hooks cleanup",
                    step.hook.kubectl_name()
                ))
            } else {
                error::api(request, e)
            }
        })
}

/// The outcome visible in one state of a Job or Pod, if final.
pub fn final_state(workload: Workload, object: &Value) -> Option<Outcome> {
    match workload {
        Workload::Job => {
            if has_condition(object, "Complete") {
                Some(Outcome::Succeeded)
            } else if has_condition(object, "Failed") {
                let reason = condition_text(object, "Failed")
                    .unwrap_or_else(|| "the Job has condition Failed".into());
                Some(Outcome::Failed(reason))
            } else {
                None
            }
        }
        Workload::Pod => match object.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => Some(Outcome::Succeeded),
            Some("Failed") => Some(Outcome::Failed(
                object
                    .pointer("/status/reason")
                    .and_then(Value::as_str)
                    .map(|r| format!("Pod phase Failed ({r})"))
                    .unwrap_or_else(|| "Pod phase Failed".into()),
            )),
            _ => None,
        },
        _ => Some(Outcome::Succeeded),
    }
}

/// Waits until the Job or Pod reaches a final state, is deleted, or `timeout` passes. Lists
/// the object, then watches from its resourceVersion; re-watches when a watch ends.
async fn wait_done(
    kube: &Cluster,
    step: &Step,
    resolved: &Resolved,
    created: &DynamicObject,
    timeout: Duration,
    progress: &mut Progress,
) -> Result<Outcome> {
    let kind = Workload::of_type(&step.hook.type_key.api_version, &step.hook.type_key.kind);
    let name = created.metadata.name.clone().unwrap_or_default();
    let uid = created.metadata.uid.clone();
    let what = step.hook.kubectl_name();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    progress.start_wait(&what, timeout);
    let api = api_for(kube, step, resolved, true);
    let resource = resolved.rbac_resource();
    let namespace = namespace_of(step, resolved);
    let mut ticker = tokio::time::interval(Duration::from_millis(120));
    let mut version: Option<String> = None;
    loop {
        if tokio::time::Instant::now() >= deadline {
            progress.clear();
            return Ok(Outcome::TimedOut);
        }
        // Current state (and a resourceVersion to watch from).
        let rv = match version.take() {
            Some(rv) => rv,
            None => match api.get_opt(&name).await {
                Ok(None) => return Ok(Outcome::Deleted),
                Ok(Some(object)) if object.metadata.uid != uid => return Ok(Outcome::Deleted),
                Ok(Some(object)) => {
                    if let Some(outcome) = final_state(kind, &object.data) {
                        progress.clear();
                        return Ok(outcome);
                    }
                    object.metadata.resource_version.unwrap_or_default()
                }
                Err(e) => {
                    return Err(error::api(
                        error::Request::new("get", &resource, namespace).named(&name),
                        e,
                    ));
                }
            },
        };
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let params = WatchParams::default()
            .fields(&format!("metadata.name={name}"))
            .timeout(remaining.as_secs().clamp(1, WATCH_CHUNK_SECONDS) as u32);
        let stream = api.watch(&params, &rv).await.map_err(|e| {
            error::api(
                error::Request::new("watch", &resource, namespace).named(&name),
                e,
            )
        })?;
        let mut stream = stream.boxed();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    progress.clear();
                    return Ok(Outcome::TimedOut);
                }
                _ = ticker.tick() => progress.tick(&what, started),
                event = stream.try_next() => match event {
                    Ok(Some(WatchEvent::Added(object) | WatchEvent::Modified(object))) => {
                        if object.metadata.uid != uid {
                            progress.clear();
                            return Ok(Outcome::Deleted);
                        }
                        if let Some(outcome) = final_state(kind, &object.data) {
                            progress.clear();
                            return Ok(outcome);
                        }
                        version = object.metadata.resource_version.clone();
                    }
                    Ok(Some(WatchEvent::Deleted(_))) => {
                        progress.clear();
                        return Ok(Outcome::Deleted);
                    }
                    Ok(Some(WatchEvent::Bookmark(b))) => {
                        version = Some(b.metadata.resource_version);
                    }
                    // 410 Gone and other watch errors: list again.
                    Ok(Some(WatchEvent::Error(_))) => {
                        version = None;
                        break;
                    }
                    // The watch ended (server timeout): continue from the last version.
                    Ok(None) => break,
                    Err(_) => {
                        version = None;
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_final_states() {
        let job = |t: &str, reason: &str| {
            json!({"status": {"conditions": [
                {"type": t, "status": "True", "reason": reason, "message": "Job has reached the specified backoff limit"}
            ]}})
        };
        assert_eq!(
            final_state(Workload::Job, &job("Complete", "")),
            Some(Outcome::Succeeded)
        );
        assert_eq!(
            final_state(Workload::Job, &job("Failed", "BackoffLimitExceeded")),
            Some(Outcome::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            ))
        );
        // FailureTarget / SuccessCriteriaMet come first; Helm waits for the final condition.
        assert_eq!(final_state(Workload::Job, &job("FailureTarget", "x")), None);
        assert_eq!(
            final_state(Workload::Job, &json!({"status": {"active": 1}})),
            None
        );
    }

    #[test]
    fn pod_final_states() {
        assert_eq!(
            final_state(Workload::Pod, &json!({"status": {"phase": "Succeeded"}})),
            Some(Outcome::Succeeded)
        );
        assert!(matches!(
            final_state(Workload::Pod, &json!({"status": {"phase": "Failed"}})),
            Some(Outcome::Failed(_))
        ));
        assert_eq!(
            final_state(Workload::Pod, &json!({"status": {"phase": "Running"}})),
            None
        );
    }

    #[test]
    fn other_kinds_are_done_once_created() {
        assert_eq!(
            final_state(Workload::Other, &json!({})),
            Some(Outcome::Succeeded)
        );
    }
}
