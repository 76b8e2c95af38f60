//! Live hook objects. Hooks carry no release label, so a hook object is found by what the
//! release record says: kind + name + namespace of the hook's stored manifest. Objects are
//! listed once per kind and namespace (metadata only, except Jobs and Pods whose status
//! matters), never fetched one GET per hook.

use crate::discovery::{self, Resolution, Resolved, TypeKey};
use crate::error::{self, Result};
use futures::future::try_join_all;
use helm_hooks::hook::annotations_of;
use helm_hooks::ownership::{self, LiveMeta};
use helm_hooks::release::Hook;
use helm_hooks::workload::{Workload, is_waited_kind};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// A hook of a release record, with what its stored manifest says about the live object.
#[derive(Debug, Clone)]
pub struct HookRef {
    pub type_key: TypeKey,
    pub name: String,
    /// `metadata.namespace` of the manifest, else the release namespace. Ignored for
    /// cluster-scoped kinds.
    pub namespace: String,
    /// `helm.sh/resource-policy: keep` in the stored manifest.
    pub keep: bool,
    /// The stored manifest as JSON (for rerun); `Null` when it cannot be parsed.
    pub manifest: Value,
    /// Why the stored manifest is unusable (invalid YAML, not an object), if it is.
    pub manifest_error: Option<String>,
}

impl HookRef {
    /// Reads a record's hook. The manifest may be unparsable in a corrupt record; the name and
    /// kind then come from the record and `apiVersion` stays empty.
    pub fn from_hook(hook: &Hook, release_namespace: &str) -> HookRef {
        let stored = hook.stored_object(release_namespace);
        let keep = ownership::is_kept(&annotations_of(&stored.manifest));
        HookRef {
            type_key: TypeKey::new(stored.api_version, stored.kind),
            name: stored.name,
            namespace: stored.namespace,
            keep,
            manifest: stored.manifest,
            manifest_error: stored.problem,
        }
    }

    /// The key of the live object, given whether the kind is namespaced.
    pub fn object_key(&self, namespaced: bool) -> ObjectKey {
        ObjectKey {
            type_key: self.type_key.clone(),
            namespace: namespaced.then(|| self.namespace.clone()),
            name: self.name.clone(),
        }
    }

    /// `job.batch/NAME`, as kubectl prints it.
    pub fn kubectl_name(&self) -> String {
        format!("{}/{}", self.type_key.kubectl_kind(), self.name)
    }
}

/// Identifies one live object: kind, namespace (`None`: cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub type_key: TypeKey,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    /// `job.batch/NAME`, as kubectl prints it.
    pub fn kubectl_name(&self) -> String {
        format!("{}/{}", self.type_key.kubectl_kind(), self.name)
    }
}

/// The state of a live hook object, as the STATUS column shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum LiveStatus {
    /// A Job with condition `Complete`.
    Complete,
    /// A Job with condition `Failed`, or a Pod in phase `Failed`.
    Failed,
    /// A Job with active Pods, or a Pod in phase `Running`.
    Running,
    /// A Job without active Pods nor a final condition, or a Pod in phase `Pending`.
    Pending,
    /// A Pod in phase `Succeeded`.
    Succeeded,
    /// Any other kind that exists.
    Present,
    /// No such object.
    Absent,
    /// The stored manifest cannot be read, so the live object cannot be identified.
    Unknown,
    /// An object of that name exists but is older than the release: a leftover of an earlier
    /// release of the same name, not this release's hook.
    Stale,
}

impl LiveStatus {
    /// The states `cleanup --status` accepts (an absent object cannot be deleted).
    pub const SELECTABLE: [LiveStatus; 6] = [
        LiveStatus::Complete,
        LiveStatus::Failed,
        LiveStatus::Running,
        LiveStatus::Pending,
        LiveStatus::Succeeded,
        LiveStatus::Present,
    ];

    /// The column text.
    pub fn as_str(self) -> &'static str {
        match self {
            LiveStatus::Complete => "Complete",
            LiveStatus::Failed => "Failed",
            LiveStatus::Running => "Running",
            LiveStatus::Pending => "Pending",
            LiveStatus::Succeeded => "Succeeded",
            LiveStatus::Present => "Present",
            LiveStatus::Absent => "Absent",
            LiveStatus::Unknown => "Unknown",
            LiveStatus::Stale => "Stale",
        }
    }

    /// Parses a selectable state, case-insensitively.
    pub fn parse(text: &str) -> Option<LiveStatus> {
        LiveStatus::SELECTABLE
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether a live object of the hook exists (not `Absent`, `Unknown` or `Stale`).
    pub fn is_live_hook(self) -> bool {
        !matches!(
            self,
            LiveStatus::Absent | LiveStatus::Unknown | LiveStatus::Stale
        )
    }

    /// Whether a hook in this state is still running (Job or Pod not finished).
    pub fn is_running(self) -> bool {
        matches!(self, LiveStatus::Running | LiveStatus::Pending)
    }

    /// The state of a live object (its full JSON, status included) of the given workload.
    pub fn of(workload: Workload, object: &Value) -> LiveStatus {
        match workload {
            Workload::Job => job_status(object),
            Workload::Pod => match object.pointer("/status/phase").and_then(Value::as_str) {
                Some("Succeeded") => LiveStatus::Succeeded,
                Some("Failed") => LiveStatus::Failed,
                Some("Running") => LiveStatus::Running,
                Some("Pending") | None => LiveStatus::Pending,
                Some(_) => LiveStatus::Present,
            },
            _ => LiveStatus::Present,
        }
    }
}

impl fmt::Display for LiveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a Job condition of `kind` is `True`.
pub fn has_condition(object: &Value, kind: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(kind)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// `reason: message` of a Job condition of `kind` (either alone when the other is empty).
pub fn condition_text(object: &Value, kind: &str) -> Option<String> {
    let condition = object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))?;
    let text = |k: &str| condition.get(k).and_then(Value::as_str).unwrap_or("");
    match (text("reason"), text("message")) {
        ("", "") => None,
        (reason, "") => Some(reason.to_string()),
        ("", message) => Some(message.to_string()),
        (reason, message) => Some(format!("{reason}: {message}")),
    }
}

/// Why a failed Job or Pod failed, as the REASON column shows it: the Job's `Failed`
/// condition (`BackoffLimitExceeded: Job has reached the specified backoff limit`), the Pod's
/// own reason (`DeadlineExceeded`), else its first failed container (`Error, exit code 1`).
/// `None` for anything that has not failed.
pub fn failure_reason(workload: Workload, object: &Value) -> Option<String> {
    match LiveStatus::of(workload, object) {
        LiveStatus::Failed => {}
        _ => return None,
    }
    if workload == Workload::Job {
        return condition_text(object, "Failed");
    }
    if let Some(reason) = object.pointer("/status/reason").and_then(Value::as_str) {
        return Some(reason.to_string());
    }
    let statuses = ["/status/initContainerStatuses", "/status/containerStatuses"];
    statuses
        .iter()
        .filter_map(|p| object.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.pointer("/state/terminated"))
        .find(|t| t.get("exitCode").and_then(Value::as_i64).unwrap_or(0) != 0)
        .map(|t| {
            let reason = t.get("reason").and_then(Value::as_str).unwrap_or("Error");
            let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
            format!("{reason}, exit code {code}")
        })
}

fn job_status(object: &Value) -> LiveStatus {
    if has_condition(object, "Complete") {
        LiveStatus::Complete
    } else if has_condition(object, "Failed") {
        LiveStatus::Failed
    } else if object
        .pointer("/status/active")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        > 0
    {
        LiveStatus::Running
    } else {
        LiveStatus::Pending
    }
}

/// One live object, as much as the plugin needs of it.
#[derive(Debug, Clone)]
pub struct LiveObject {
    pub key: ObjectKey,
    pub uid: String,
    pub created: Option<Timestamp>,
    /// `metadata.deletionTimestamp` is set: the object is already going away.
    pub deleting: bool,
    /// A controller `ownerReference` (a Job's Pod): it goes with its owner.
    pub controlled: bool,
    pub status: LiveStatus,
    /// Why a failed Job or Pod failed ([`failure_reason`]).
    pub reason: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

impl LiveObject {
    /// `helm.sh/resource-policy: keep` on the live object.
    pub fn keep(&self) -> bool {
        ownership::is_kept(&self.annotations)
    }

    /// What the core's ownership rule needs of this object.
    pub fn meta(&self) -> LiveMeta<'_> {
        LiveMeta {
            group: self.key.type_key.group(),
            kind: &self.key.type_key.kind,
            namespace: self.key.namespace.as_deref(),
            name: &self.key.name,
            created: self.created.map(|t| t.as_second()),
            annotations: &self.annotations,
        }
    }
}

/// An API handle for `resolved` in `namespace` (`None`: cluster-scoped or all namespaces).
pub fn api(client: &Client, resolved: &Resolved, namespace: Option<&str>) -> Api<DynamicObject> {
    match (resolved.namespaced, namespace) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resolved.resource),
        _ => Api::all_with(client.clone(), &resolved.resource),
    }
}

/// Live objects found for a set of hooks, and the kinds resolved on the way.
#[derive(Debug, Default)]
pub struct Lookup {
    pub objects: HashMap<ObjectKey, LiveObject>,
    pub resolution: Resolution,
}

impl Lookup {
    /// The live object of `hook`, if it exists.
    pub fn get(&self, hook: &HookRef) -> Option<&LiveObject> {
        let resolved = self.resolution.get(&hook.type_key)?.as_ref()?;
        self.objects.get(&hook.object_key(resolved.namespaced))
    }
}

/// Resolves the hooks' kinds and lists each kind once per namespace, keeping only the objects
/// some hook names. Warns (stderr) about kinds the server does not serve.
pub async fn lookup<'a>(
    client: &Client,
    hooks: impl IntoIterator<Item = &'a HookRef>,
) -> Result<Lookup> {
    let hooks: Vec<&HookRef> = hooks
        .into_iter()
        .filter(|h| !h.type_key.api_version.is_empty())
        .collect();
    let kinds: BTreeSet<TypeKey> = hooks.iter().map(|h| h.type_key.clone()).collect();
    let resolution = discovery::resolve(client, &kinds).await?;
    for (key, resolved) in &resolution {
        if resolved.is_none() {
            eprintln!("{}", discovery::unserved_message(key));
        }
    }
    // (kind, namespace) → wanted keys
    let mut wanted: BTreeMap<(TypeKey, Option<String>), BTreeSet<ObjectKey>> = BTreeMap::new();
    for hook in &hooks {
        if let Some(Some(resolved)) = resolution.get(&hook.type_key) {
            let key = hook.object_key(resolved.namespaced);
            wanted
                .entry((key.type_key.clone(), key.namespace.clone()))
                .or_default()
                .insert(key);
        }
    }
    let lists = wanted.iter().map(|((type_key, namespace), keys)| {
        let resolved = resolution[type_key].as_ref().expect("filtered above");
        list_kind(client, type_key, resolved, namespace.as_deref(), keys)
    });
    let mut objects = HashMap::new();
    for found in try_join_all(lists).await? {
        for object in found {
            objects.insert(object.key.clone(), object);
        }
    }
    Ok(Lookup {
        objects,
        resolution,
    })
}

/// Lists one kind in one namespace and keeps the objects in `keys`.
async fn list_kind(
    client: &Client,
    type_key: &TypeKey,
    resolved: &Resolved,
    namespace: Option<&str>,
    keys: &BTreeSet<ObjectKey>,
) -> Result<Vec<LiveObject>> {
    list_matching(client, type_key, resolved, namespace, |meta| {
        keys.contains(&ObjectKey {
            type_key: type_key.clone(),
            namespace: namespace.map(str::to_string),
            name: meta.name.clone().unwrap_or_default(),
        })
    })
    .await
}

/// Lists one kind in `namespace` (`None`: all namespaces, or cluster-scoped) and keeps the
/// objects whose metadata `keep` accepts. Jobs and Pods are listed whole (their status is
/// needed); other kinds as metadata only.
pub async fn list_matching(
    client: &Client,
    type_key: &TypeKey,
    resolved: &Resolved,
    namespace: Option<&str>,
    keep: impl Fn(&ObjectMeta) -> bool,
) -> Result<Vec<LiveObject>> {
    let api = api(client, resolved, namespace);
    let resource = resolved.rbac_resource();
    let request = error::Request::new("list", &resource, namespace);
    let params = ListParams::default();
    let workload = Workload::of_type(&type_key.api_version, &type_key.kind);
    let found = if is_waited_kind(&type_key.api_version, &type_key.kind) {
        let list = api
            .list(&params)
            .await
            .map_err(|e| error::api(request, e))?;
        list.items
            .into_iter()
            .filter(|object| keep(&object.metadata))
            .map(|object| {
                let status = LiveStatus::of(workload, &object.data);
                let mut live = live_object(type_key, &object.metadata, status);
                live.reason = failure_reason(workload, &object.data);
                live
            })
            .collect()
    } else {
        let list = api
            .list_metadata(&params)
            .await
            .map_err(|e| error::api(request, e))?;
        list.items
            .into_iter()
            .filter(|object| keep(&object.metadata))
            .map(|object| live_object(type_key, &object.metadata, LiveStatus::Present))
            .collect()
    };
    Ok(found)
}

fn live_object(type_key: &TypeKey, metadata: &ObjectMeta, status: LiveStatus) -> LiveObject {
    LiveObject {
        key: ObjectKey {
            type_key: type_key.clone(),
            namespace: metadata.namespace.clone(),
            name: metadata.name.clone().unwrap_or_default(),
        },
        uid: metadata.uid.clone().unwrap_or_default(),
        created: metadata.creation_timestamp.as_ref().map(|t| t.0),
        deleting: metadata.deletion_timestamp.is_some(),
        controlled: metadata
            .owner_references
            .iter()
            .flatten()
            .any(|owner| owner.controller == Some(true)),
        status,
        reason: None,
        annotations: metadata.annotations.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_states() {
        let cond = |t: &str, s: &str| json!({"status": {"conditions": [{"type": t, "status": s}]}});
        assert_eq!(
            LiveStatus::of(Workload::Job, &cond("Complete", "True")),
            LiveStatus::Complete
        );
        assert_eq!(
            LiveStatus::of(Workload::Job, &cond("Failed", "True")),
            LiveStatus::Failed
        );
        assert_eq!(
            LiveStatus::of(Workload::Job, &cond("Failed", "False")),
            LiveStatus::Pending
        );
        assert_eq!(
            LiveStatus::of(Workload::Job, &json!({"status": {"active": 1}})),
            LiveStatus::Running
        );
        assert_eq!(
            LiveStatus::of(Workload::Job, &json!({})),
            LiveStatus::Pending
        );
    }

    #[test]
    fn pod_states() {
        let phase = |p: &str| json!({"status": {"phase": p}});
        assert_eq!(
            LiveStatus::of(Workload::Pod, &phase("Succeeded")),
            LiveStatus::Succeeded
        );
        assert_eq!(
            LiveStatus::of(Workload::Pod, &phase("Failed")),
            LiveStatus::Failed
        );
        assert_eq!(
            LiveStatus::of(Workload::Pod, &phase("Running")),
            LiveStatus::Running
        );
        assert_eq!(
            LiveStatus::of(Workload::Pod, &phase("Pending")),
            LiveStatus::Pending
        );
        assert_eq!(
            LiveStatus::of(Workload::Other, &json!({})),
            LiveStatus::Present
        );
    }

    #[test]
    fn failure_reasons_of_jobs_and_pods() {
        let job = json!({"status": {"conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        assert_eq!(
            failure_reason(Workload::Job, &job).as_deref(),
            Some("BackoffLimitExceeded: Job has reached the specified backoff limit")
        );
        let running = json!({"status": {"active": 1}});
        assert_eq!(failure_reason(Workload::Job, &running), None);
        let deadline = json!({"status": {"phase": "Failed", "reason": "DeadlineExceeded"}});
        assert_eq!(
            failure_reason(Workload::Pod, &deadline).as_deref(),
            Some("DeadlineExceeded")
        );
        let crashed = json!({"status": {"phase": "Failed", "containerStatuses": [
            {"name": "ok", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "app", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}});
        assert_eq!(
            failure_reason(Workload::Pod, &crashed).as_deref(),
            Some("OOMKilled, exit code 137")
        );
        let succeeded = json!({"status": {"phase": "Succeeded"}});
        assert_eq!(failure_reason(Workload::Pod, &succeeded), None);
    }

    #[test]
    fn status_parse_is_case_insensitive_and_rejects_absent() {
        assert_eq!(LiveStatus::parse("complete"), Some(LiveStatus::Complete));
        assert_eq!(LiveStatus::parse("PRESENT"), Some(LiveStatus::Present));
        assert_eq!(LiveStatus::parse("Absent"), None);
    }

    #[test]
    fn hook_ref_reads_the_stored_manifest() {
        let hook = Hook {
            name: "demo-sa".into(),
            kind: "ServiceAccount".into(),
            manifest: "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: demo-sa\n  \
                       annotations:\n    helm.sh/resource-policy: Keep\n"
                .into(),
            ..Hook::default()
        };
        let r = HookRef::from_hook(&hook, "team");
        assert_eq!(r.type_key, TypeKey::new("v1", "ServiceAccount"));
        assert_eq!(r.namespace, "team");
        assert!(r.keep);
        assert_eq!(r.kubectl_name(), "serviceaccount/demo-sa");
        let key = r.object_key(true);
        assert_eq!(key.namespace.as_deref(), Some("team"));
        assert_eq!(r.object_key(false).namespace, None);
    }

    #[test]
    fn hook_ref_honours_an_explicit_namespace() {
        let hook = Hook {
            name: "x".into(),
            kind: "Job".into(),
            manifest: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\n  namespace: other\n"
                .into(),
            ..Hook::default()
        };
        let r = HookRef::from_hook(&hook, "team");
        assert_eq!(r.namespace, "other");
        assert!(!r.keep);
    }
}
