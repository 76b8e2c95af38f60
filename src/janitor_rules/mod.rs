//! The janitor's decisions, pure: when a live hook object may be deleted by its own delete
//! policy, when a hook of a release that is gone is an orphan, how the release stamp and the
//! kept logs look. `helm-hooks-janitor` acts on these; `kubectl hooks` reads the same stamps and
//! kept logs through them, so both agree on what is an orphan and where logs are.
//!
//! State lives on the objects themselves, in the cluster:
//!
//! - [`RELEASE_STAMP_ANNOTATION`] (`NAMESPACE/NAME`) + [`STAMPED_LABEL`] (`"true"`, so stamped
//!   objects can be listed by label): put by the janitor on every live object that
//!   [`crate::ownership::ReleaseHooks::ownership`] confirms as a hook run of an installed
//!   release. After a plain `helm uninstall` the records are gone and the stamp is the only
//!   evidence left that the object was a hook of that release. Objects carrying `helm.sh/hook`
//!   that were never stamped (hand-made, Argo CD) are never orphans.
//! - [`ORPHANED_SINCE_ANNOTATION`] (RFC 3339): when the janitor first saw a stamped object whose
//!   release has no records; the orphan grace counts from it.
//! - Kept logs: one ConfigMap per release in the hook's namespace, named by
//!   [`kept_logs_configmap_name`], labelled [`KEPT_LOGS_LABEL`]`=true` and
//!   [`KEPT_LOGS_RELEASE_LABEL`]`=RELEASE`, expiring at [`EXPIRES_AT_ANNOTATION`]; one data key
//!   per hook object ([`kept_log_key`]) holding a [`KeptLog`] as JSON.

use crate::hook::{DeletePolicy, parse_hook};
use crate::ownership::{RecordedRun, is_kept, is_never_deleted};
use crate::release::HookPhase;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// `NAMESPACE/NAME` of the release a hook object was confirmed to belong to.
pub const RELEASE_STAMP_ANNOTATION: &str = "hooks.helm-hooks.io/release";
/// `"true"` on every stamped object, so stamped objects can be listed with a label selector.
pub const STAMPED_LABEL: &str = "hooks.helm-hooks.io/stamped";
/// RFC 3339 time the janitor first saw a stamped object whose release has no records.
pub const ORPHANED_SINCE_ANNOTATION: &str = "hooks.helm-hooks.io/orphaned-since";
/// `"true"` on the ConfigMaps holding kept logs.
pub const KEPT_LOGS_LABEL: &str = "hooks.helm-hooks.io/kept-logs";
/// The release name, on the ConfigMaps holding kept logs.
pub const KEPT_LOGS_RELEASE_LABEL: &str = "hooks.helm-hooks.io/release-name";
/// RFC 3339 time after which the janitor deletes a kept-logs ConfigMap.
pub const EXPIRES_AT_ANNOTATION: &str = "hooks.helm-hooks.io/expires-at";
/// The namespace label that opts a namespace out of the webhook, and of the janitor.
pub const NAMESPACE_OPT_OUT_LABEL: &str = "helm-hooks.io/webhook";
/// The value of [`NAMESPACE_OPT_OUT_LABEL`] that opts out.
pub const NAMESPACE_OPT_OUT_VALUE: &str = "skip";

/// At most this many log lines are kept per container.
pub const MAX_KEPT_LINES: usize = 50;
/// At most this many bytes of log are kept per container.
pub const MAX_KEPT_BYTES: usize = 8 * 1024;
/// At most this many containers (Pods × containers) are kept per hook object.
pub const MAX_KEPT_CONTAINERS: usize = 4;
/// At most this many hook objects' logs are kept per release and namespace; the oldest go first.
pub const MAX_KEPT_ENTRIES: usize = 32;

/// A release, as a stamp names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseRef {
    /// The release namespace.
    pub namespace: String,
    /// The release name.
    pub name: String,
}

impl fmt::Display for ReleaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The value of [`RELEASE_STAMP_ANNOTATION`] for a release.
pub fn stamp_value(namespace: &str, release: &str) -> String {
    format!("{namespace}/{release}")
}

/// The release an object's stamp names, if it carries a well-formed one.
pub fn stamped_release(annotations: &BTreeMap<String, String>) -> Option<ReleaseRef> {
    let (namespace, name) = annotations.get(RELEASE_STAMP_ANNOTATION)?.split_once('/')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains('/')).then(|| ReleaseRef {
        namespace: namespace.to_string(),
        name: name.to_string(),
    })
}

/// Whether the janitor leaves a namespace alone: listed in `exempt`, or labelled
/// `helm-hooks.io/webhook=skip` (the webhook's opt-out, which the janitor honours too).
pub fn namespace_exempt(name: &str, labels: &BTreeMap<String, String>, exempt: &[String]) -> bool {
    exempt.iter().any(|e| e == name)
        || labels.get(NAMESPACE_OPT_OUT_LABEL).map(String::as_str) == Some(NAMESPACE_OPT_OUT_VALUE)
}

/// How a live hook object's run ended, as its own status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A Job or Pod that has not finished (running, pending, or unknown).
    Running,
    /// A Job `Complete`, or a Pod `Succeeded`; finished at that second, when known.
    Succeeded(Option<i64>),
    /// A Job `Failed`, or a Pod `Failed`; finished at that second, when known.
    Failed(Option<i64>),
    /// A kind Helm does not wait for (ServiceAccount, Role, ConfigMap, …): it has no outcome of
    /// its own; Helm's record tells how its hook ended.
    NotWaited,
}

impl Outcome {
    /// The outcome of a live object of `kind` from its JSON (status included).
    pub fn of(kind: &str, object: &Value) -> Outcome {
        match kind {
            "Job" => {
                if let Some(at) = condition_true(object, "Complete") {
                    Outcome::Succeeded(at.or_else(|| time_at(object, "/status/completionTime")))
                } else if let Some(at) = condition_true(object, "Failed") {
                    Outcome::Failed(at)
                } else {
                    Outcome::Running
                }
            }
            "Pod" => match object.pointer("/status/phase").and_then(Value::as_str) {
                Some("Succeeded") => Outcome::Succeeded(pod_finished(object)),
                Some("Failed") => Outcome::Failed(pod_finished(object)),
                _ => Outcome::Running,
            },
            _ => Outcome::NotWaited,
        }
    }
}

fn time_at(object: &Value, pointer: &str) -> Option<i64> {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
}

/// `Some(lastTransitionTime)` when condition `kind` is `True`.
fn condition_true(object: &Value, kind: &str) -> Option<Option<i64>> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| {
            c.get("type").and_then(Value::as_str) == Some(kind)
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
        .map(|c| time_at(c, "/lastTransitionTime"))
}

/// The latest `finishedAt` of a Pod's terminated containers.
fn pod_finished(object: &Value) -> Option<i64> {
    object
        .pointer("/status/containerStatuses")?
        .as_array()?
        .iter()
        .filter_map(|c| time_at(c, "/state/terminated/finishedAt"))
        .max()
}

/// What the janitor knows of a live object beyond its outcome.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// `kind`.
    pub kind: &'a str,
    /// `metadata.annotations`.
    pub annotations: &'a BTreeMap<String, String>,
    /// `metadata.creationTimestamp` in seconds.
    pub created: Option<i64>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// A controller `ownerReference` (a Job's Pod): it goes with its owner.
    pub controlled: bool,
    /// The outcome its status shows.
    pub outcome: Outcome,
}

/// The janitor's timing, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `--grace`: how long after a hook finished it may be deleted when Helm's record cannot
    /// tell whether Helm still watches it.
    pub grace: i64,
    /// `--keep-failed`: how long a failed hook stays before `hook-failed` deletes it.
    pub keep_failed: i64,
    /// `--orphan-grace`: how long a hook of a release that is gone stays.
    pub orphan_grace: i64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            grace: 120,
            keep_failed: 24 * 3600,
            orphan_grace: 600,
        }
    }
}

/// What Helm's records say about the run that created a live hook object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordEvidence {
    /// The records were read and the ownership rule confirmed the object as a hook run; `run`
    /// is the recorded run of the revision that created it. `busy`: Helm is working on the
    /// release (latest revision `pending-*` or `uninstalling`).
    Read {
        /// The recorded run, if the revision has that hook.
        run: Option<RecordedRun>,
        /// Helm is working on the release.
        busy: bool,
    },
    /// The object is stamped for the release but its records cannot be read (corrupt, or no
    /// permission): the janitor falls back to `--grace`.
    Unreadable,
}

/// Why a deletion happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeleteReason {
    /// The live object's delete policy has `hook-succeeded` and the hook succeeded.
    HookSucceeded,
    /// The live object's delete policy has `hook-failed`, the hook failed and `--keep-failed`
    /// has passed.
    HookFailed,
    /// The hook's release is gone (no records, or the latest record is `uninstalled`) and
    /// `--orphan-grace` has passed.
    Orphan,
}

impl DeleteReason {
    /// A stable name: metric label and Event reason suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            DeleteReason::HookSucceeded => "hook-succeeded",
            DeleteReason::HookFailed => "hook-failed",
            DeleteReason::Orphan => "orphan",
        }
    }
}

/// Why an object stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepReason {
    /// No `helm.sh/hook`.
    NotAHook,
    /// A CustomResourceDefinition.
    NeverDeletedKind,
    /// `helm.sh/resource-policy: keep`.
    ResourcePolicyKeep,
    /// Already being deleted.
    BeingDeleted,
    /// Owned by a controller (a Job's Pod): it goes with its owner.
    Controlled,
    /// The Job or Pod has not finished.
    Running,
    /// Its delete policy does not ask for deletion on this outcome.
    NoPolicyForOutcome,
    /// A kind Helm does not wait for, and the record tells no outcome.
    NoOutcome,
    /// Helm is working on the release.
    ReleaseBusy,
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeepReason::NotAHook => "not a hook",
            KeepReason::NeverDeletedKind => "CRDs are never deleted",
            KeepReason::ResourcePolicyKeep => "helm.sh/resource-policy: keep",
            KeepReason::BeingDeleted => "already being deleted",
            KeepReason::Controlled => "owned by a controller",
            KeepReason::Running => "still running",
            KeepReason::NoPolicyForOutcome => "its delete policy does not apply to this outcome",
            KeepReason::NoOutcome => "no recorded outcome",
            KeepReason::ReleaseBusy => "Helm is working on the release",
        })
    }
}

/// The janitor's verdict on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Delete it now.
    Delete(DeleteReason),
    /// Delete it for `reason` once `at` (seconds) has passed, or once Helm recorded the final
    /// phase (`at` is `None`).
    Wait {
        /// Why it will be deleted.
        reason: DeleteReason,
        /// When, if known.
        at: Option<i64>,
    },
    /// Never delete it (for now).
    Keep(KeepReason),
}

/// What no deletion ever touches, whatever the policy: non-hooks, CRDs, `resource-policy: keep`,
/// objects being deleted or owned by a controller, running Jobs and Pods.
pub fn protected(candidate: &Candidate<'_>) -> Option<KeepReason> {
    if parse_hook(candidate.annotations).is_none() {
        Some(KeepReason::NotAHook)
    } else if is_never_deleted(candidate.kind) {
        Some(KeepReason::NeverDeletedKind)
    } else if is_kept(candidate.annotations) {
        Some(KeepReason::ResourcePolicyKeep)
    } else if candidate.deleting {
        Some(KeepReason::BeingDeleted)
    } else if candidate.controlled {
        Some(KeepReason::Controlled)
    } else if candidate.outcome == Outcome::Running {
        Some(KeepReason::Running)
    } else {
        None
    }
}

/// The live delete policy of a hook run of an installed release: `hook-succeeded` deletes a
/// succeeded hook, `hook-failed` a failed one after `keep_failed`, but only once Helm recorded
/// the run's final phase (Helm 4's watcher waits for its timeout when a Job it watches
/// disappears before it saw the outcome) — or, when the records cannot be read, `grace` after
/// the hook finished. The policy read is the **live** object's `helm.sh/hook-delete-policy`
/// (the webhook may have injected it), parsed as Helm parses it.
pub fn policy_verdict(
    candidate: &Candidate<'_>,
    evidence: RecordEvidence,
    now: i64,
    timing: Timing,
) -> Verdict {
    if let Some(keep) = protected(candidate) {
        return Verdict::Keep(keep);
    }
    let Some(parsed) = parse_hook(candidate.annotations) else {
        return Verdict::Keep(KeepReason::NotAHook);
    };
    let recorded = match evidence {
        RecordEvidence::Read { busy: true, .. } => return Verdict::Keep(KeepReason::ReleaseBusy),
        RecordEvidence::Read { run, .. } => run,
        RecordEvidence::Unreadable => None,
    };
    // The outcome: the live status for Jobs and Pods, Helm's record for the other kinds.
    let (succeeded, finished) = match candidate.outcome {
        Outcome::Succeeded(at) => (true, at),
        Outcome::Failed(at) => (false, at),
        Outcome::Running => return Verdict::Keep(KeepReason::Running),
        Outcome::NotWaited => match recorded {
            Some(run) if run.is_final() => (
                run.phase == HookPhase::Succeeded,
                run.completed.or(candidate.created),
            ),
            _ => return Verdict::Keep(KeepReason::NoOutcome),
        },
    };
    let (policy, reason) = if succeeded {
        (DeletePolicy::HookSucceeded, DeleteReason::HookSucceeded)
    } else {
        (DeletePolicy::HookFailed, DeleteReason::HookFailed)
    };
    if !parsed.spec.has_delete_policy(&policy) {
        return Verdict::Keep(KeepReason::NoPolicyForOutcome);
    }
    let finished = finished.or(candidate.created);
    // Never race Helm: its record must show the final phase, else wait `grace` when the
    // records cannot tell.
    let helm_done_at = match (evidence, recorded) {
        (_, Some(run)) if run.is_final() => Some(i64::MIN),
        (RecordEvidence::Unreadable, _) => finished.map(|f| f.saturating_add(timing.grace)),
        // Readable records, release not busy, phase not final: Helm is done with the release
        // (it never records a phase for a run it was killed in), so fall back to `grace` too.
        (RecordEvidence::Read { .. }, _) => finished.map(|f| f.saturating_add(timing.grace)),
    };
    let kept_until = if succeeded {
        Some(i64::MIN)
    } else {
        finished.map(|f| f.saturating_add(timing.keep_failed))
    };
    match (helm_done_at, kept_until) {
        (Some(a), Some(b)) if now >= a.max(b) => Verdict::Delete(reason),
        (Some(a), Some(b)) => Verdict::Wait {
            reason,
            at: Some(a.max(b)),
        },
        _ => Verdict::Wait { reason, at: None },
    }
}

/// A stamped hook object of a release that is gone (no records, or the latest record is
/// `uninstalled`): an orphan, deleted `orphan_grace` after `since` (`info.deleted` of the
/// uninstalled record, or the [`ORPHANED_SINCE_ANNOTATION`] the janitor stamped). `since`
/// `None`: the caller stamps the time first and decides on a later pass. The caller must have
/// the evidence that the object was a hook run of the release (a stamp, or the ownership rule
/// against the uninstalled records); a never-stamped object is never an orphan.
pub fn orphan_verdict(
    candidate: &Candidate<'_>,
    since: Option<i64>,
    now: i64,
    timing: Timing,
) -> Verdict {
    if let Some(keep) = protected(candidate) {
        return Verdict::Keep(keep);
    }
    let reason = DeleteReason::Orphan;
    match since {
        Some(since) if now >= since.saturating_add(timing.orphan_grace) => Verdict::Delete(reason),
        Some(since) => Verdict::Wait {
            reason,
            at: Some(since.saturating_add(timing.orphan_grace)),
        },
        None => Verdict::Wait { reason, at: None },
    }
}

/// The [`ORPHANED_SINCE_ANNOTATION`] of an object, in seconds.
pub fn orphaned_since(annotations: &BTreeMap<String, String>) -> Option<i64> {
    annotations
        .get(ORPHANED_SINCE_ANNOTATION)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
}

/// The ConfigMap holding the kept logs of `release`'s failed hooks in one namespace.
pub fn kept_logs_configmap_name(release: &str) -> String {
    format!("helm-hooks-logs.{release}")
}

/// The data key of one hook object's kept logs: `<kind, lower case>.<name>.json`.
pub fn kept_log_key(kind: &str, name: &str) -> String {
    format!("{}.{name}.json", kind.to_ascii_lowercase())
}

/// The last lines of one container's log, bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptContainerLog {
    /// The Pod.
    pub pod: String,
    /// The container.
    pub container: String,
    /// The last lines (at most [`MAX_KEPT_LINES`], [`MAX_KEPT_BYTES`] in all), oldest first.
    pub lines: Vec<String>,
    /// Earlier lines were dropped.
    pub truncated: bool,
}

/// One failed hook object's kept logs: the JSON value of its [`kept_log_key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptLog {
    /// `kind` of the hook object (`Job`, `Pod`).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its uid (the object is deleted after this is written).
    pub uid: String,
    /// `NAMESPACE/NAME` of its release.
    pub release: String,
    /// Why it was deleted ([`DeleteReason::as_str`]).
    pub reason: String,
    /// RFC 3339 time the logs were read.
    pub captured_at: String,
    /// The containers' last lines (at most [`MAX_KEPT_CONTAINERS`]).
    pub containers: Vec<KeptContainerLog>,
}

/// The last `max_lines` lines of `text`, within `max_bytes` (cut at a line boundary, and at a
/// character boundary when one line alone is too long), and whether anything was dropped.
pub fn bound_log(text: &str, max_lines: usize, max_bytes: usize) -> (Vec<String>, bool) {
    let all: Vec<&str> = text.lines().collect();
    let mut kept: Vec<String> = Vec::new();
    let mut bytes = 0usize;
    let mut cut = false;
    for line in all.iter().rev() {
        if kept.len() == max_lines {
            break;
        }
        let cost = line.len() + 1;
        if bytes + cost > max_bytes {
            if kept.is_empty() {
                // One line alone is too long: keep its end.
                let mut start = line.len().saturating_sub(max_bytes.saturating_sub(1));
                while !line.is_char_boundary(start) {
                    start += 1;
                }
                kept.push(line[start..].to_string());
                cut = true;
            }
            break;
        }
        bytes += cost;
        kept.push((*line).to_string());
    }
    kept.reverse();
    let truncated = cut || kept.len() < all.len();
    (kept, truncated)
}

/// The keys to drop from a kept-logs ConfigMap's data so that at most `max` entries remain
/// after adding `new_key`: the oldest by `capturedAt` first (unreadable entries count as oldest).
pub fn keys_to_evict(data: &BTreeMap<String, String>, new_key: &str, max: usize) -> Vec<String> {
    let mut others: Vec<(String, String)> = data
        .iter()
        .filter(|(k, _)| k.as_str() != new_key)
        .map(|(k, v)| {
            let at = serde_json::from_str::<KeptLog>(v)
                .map(|l| l.captured_at)
                .unwrap_or_default();
            (at, k.clone())
        })
        .collect();
    let keep = max.saturating_sub(1);
    if others.len() <= keep {
        return Vec::new();
    }
    others.sort();
    let drop = others.len() - keep;
    others.into_iter().take(drop).map(|(_, k)| k).collect()
}

/// Whether a kept-logs ConfigMap has expired ([`EXPIRES_AT_ANNOTATION`] in the past; a missing
/// or unreadable time never expires, so a ConfigMap made by hand is never deleted).
pub fn is_expired(annotations: &BTreeMap<String, String>, now: i64) -> bool {
    annotations
        .get(EXPIRES_AT_ANNOTATION)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_some_and(|t| t.as_second() <= now)
}

#[cfg(test)]
mod tests;
