//! Rows of `list`: one per hook of a revision, in Helm's execution order per event, with its
//! last run from the record and (once looked up) the state of its live object. Pure: no
//! cluster access; [`crate::printers`] prints them.

use crate::objects::{self, HookRef, LiveStatus};
use crate::releases::Record;
use helm_hooks::hook::HookEvent;
use helm_hooks::ownership::predates_release;
use helm_hooks::release::{Hook, HookPhase};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

/// One line of `list`: a hook of one revision, with its live object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRow {
    pub release: String,
    /// The release namespace.
    pub namespace: String,
    pub revision: i64,
    /// The revision's status (`deployed`, `failed`, `pending-upgrade`, …).
    pub release_status: String,
    pub name: String,
    pub kind: String,
    pub api_version: String,
    /// The template file.
    pub path: String,
    pub events: Vec<String>,
    pub weight: i64,
    /// As written in the chart (empty: Helm's default applies).
    pub delete_policies: Vec<String>,
    /// What Helm acts on.
    pub effective_delete_policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output_log_policies: Vec<String>,
    /// `metadata.labels` of the stored manifest (what `list -l` selects on).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub last_run: LastRun,
    /// The live object's state.
    pub status: LiveStatus,
    /// Why the live Job or Pod failed (its condition, reason or container exit code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The live object's namespace (`None`: cluster-scoped, or absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Timestamp>,
    /// `job.batch`, for `-o name`.
    #[serde(skip)]
    pub kubectl_kind: String,
    /// `info.first_deployed` of the record: a live object older than that is [`LiveStatus::Stale`].
    #[serde(skip)]
    pub first_deployed: Option<String>,
}

/// `last_run` of the record.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    /// `Unknown` (never run, or in flight when Helm died), `Running`, `Succeeded`, `Failed`.
    pub phase: HookPhase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
}

impl LastRun {
    fn of(hook: &Hook) -> LastRun {
        let parse = |t: Option<&str>| t.and_then(|t| t.parse::<Timestamp>().ok());
        LastRun {
            phase: hook.last_run.phase,
            started_at: parse(hook.last_run.started()),
            completed_at: parse(hook.last_run.completed()),
        }
    }

    /// Whether the record says the hook ever ran.
    pub fn ever_ran(&self) -> bool {
        self.started_at.is_some() || self.phase != HookPhase::Unknown
    }
}

/// The hooks of one revision in the order `list` shows them: for each event (in Helm's list of
/// events), its hooks in Helm's execution order; a hook with several events appears once, under
/// its first. With `event`, only that event's hooks.
pub fn ordered_hooks(record: &Record, event: Option<HookEvent>) -> Vec<&Hook> {
    let release = &record.release;
    let events: Vec<HookEvent> = match event {
        Some(e) => vec![e],
        None => HookEvent::ALL.to_vec(),
    };
    let mut out: Vec<&Hook> = Vec::new();
    for e in events {
        for hook in release.hooks_for(e) {
            if !out.iter().any(|h| std::ptr::eq(*h, hook)) {
                out.push(hook);
            }
        }
    }
    if event.is_none() {
        // Hooks without a known event (Helm never stores such, but a record may be edited).
        for hook in &release.hooks {
            if !out.iter().any(|h| std::ptr::eq(*h, hook)) {
                out.push(hook);
            }
        }
    }
    out
}

/// Rows (without live state yet) and the hook references to look up, in display order.
pub fn rows_of(record: &Record, event: Option<HookEvent>) -> Vec<(HookRef, HookRow)> {
    let namespace = &record.reference.namespace;
    ordered_hooks(record, event)
        .into_iter()
        .map(|hook| {
            let reference = HookRef::from_hook(hook, namespace);
            let row = HookRow {
                release: record.reference.meta.release.clone(),
                namespace: namespace.clone(),
                revision: record.reference.meta.revision,
                release_status: record.release.status().to_string(),
                name: reference.name.clone(),
                kind: reference.type_key.kind.clone(),
                api_version: reference.type_key.api_version.clone(),
                path: hook.path.clone(),
                events: hook.event_names.clone(),
                weight: hook.weight,
                delete_policies: hook.delete_policy_names.clone(),
                effective_delete_policies: hook
                    .effective_delete_policies()
                    .iter()
                    .map(|p| p.as_str().to_string())
                    .collect(),
                output_log_policies: hook.output_log_policy_names.clone(),
                labels: labels_of(&reference.manifest),
                last_run: LastRun::of(hook),
                status: if reference.manifest_error.is_some() {
                    LiveStatus::Unknown
                } else {
                    LiveStatus::Absent
                },
                reason: None,
                object_namespace: None,
                uid: None,
                creation_timestamp: None,
                kubectl_kind: reference.type_key.kubectl_kind(),
                first_deployed: record
                    .release
                    .info
                    .as_ref()
                    .and_then(|i| i.first_deployed.clone()),
            };
            (reference, row)
        })
        .collect()
}

/// `metadata.labels` of a stored manifest (non-string values are skipped).
fn labels_of(manifest: &serde_json::Value) -> BTreeMap<String, String> {
    manifest
        .pointer("/metadata/labels")
        .and_then(serde_json::Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// One error line per hook of `record` whose stored manifest is unusable, naming the record
/// and the parser's error (such hooks list as `Unknown`, never as `Absent`).
pub fn manifest_errors(record: &Record, rows: &[(HookRef, HookRow)]) -> Vec<String> {
    rows.iter()
        .filter_map(|(reference, row)| {
            let why = reference.manifest_error.as_ref()?;
            Some(format!(
                "hook {} of release {} (revision {}): the stored manifest in release record {} \
                 is unusable: {why}; its live state is unknown",
                row.name, row.release, row.revision, record.reference.object_name
            ))
        })
        .collect()
}

/// Fills the live columns of `rows` from `lookup`.
pub fn attach_live(rows: &mut [(HookRef, HookRow)], lookup: &objects::Lookup) {
    for (reference, row) in rows.iter_mut() {
        if let Some(live) = lookup.get(reference) {
            let stale = live
                .created
                .is_some_and(|c| predates_release(row.first_deployed.as_deref(), c.as_second()));
            row.status = if stale {
                LiveStatus::Stale
            } else {
                live.status
            };
            if !stale {
                row.reason = live.reason.clone();
            }
            row.object_namespace = live.key.namespace.clone();
            row.uid = Some(live.uid.clone());
            row.creation_timestamp = live.created;
        }
    }
}

#[cfg(test)]
mod tests;
