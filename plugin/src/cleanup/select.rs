//! The cleanup selector: which live objects provably belong to a release as hooks, and which
//! of those may be deleted. Pure: works on decoded records and listed objects.

use crate::discovery::TypeKey;
use crate::objects::{HookRef, LiveObject, LiveStatus, Lookup, ObjectKey};
use crate::options::CleanupOptions;
use crate::releases::Record;
use helm_hooks::manifest::parse_manifests;
use helm_hooks::ownership::{Ownership, ReleaseHooks, is_never_deleted};
use jiff::Timestamp;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The filters of `cleanup`.
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    /// Empty: every state (running ones only with `force`; non-workload hooks of the current
    /// revision only when `Present` is asked for explicitly).
    pub statuses: Vec<LiveStatus>,
    pub older_than: Option<Duration>,
    pub force: bool,
}

impl Criteria {
    /// The filters `options` ask for.
    pub fn of(options: &CleanupOptions) -> Criteria {
        Criteria {
            statuses: options.statuses.clone(),
            older_than: options.older_than,
            force: options.force,
        }
    }

    /// Whether `live` passes `--status` and `--older-than` (at `now`).
    pub fn admits(&self, live: &LiveObject, now: Timestamp) -> bool {
        let status_ok = self.statuses.is_empty() || self.statuses.contains(&live.status);
        let age_ok = self.older_than.is_none_or(|age| {
            live.created.is_some_and(|created| {
                now.as_second() - created.as_second() >= age.as_secs() as i64
            })
        });
        status_ok && age_ok
    }
}

/// An object to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub release: String,
    pub key: ObjectKey,
    /// `job.batch/NAME`.
    pub kubectl_name: String,
    /// For `preconditions.uid`: never delete a re-created object.
    pub uid: String,
    pub status: LiveStatus,
    /// The revisions whose hook runs created this object.
    pub revisions: Vec<i64>,
}

/// An object that belongs to the release but is left alone, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub kubectl_name: String,
    pub reason: String,
}

/// The result of selecting.
#[derive(Debug, Default)]
pub struct Selection {
    pub delete: Vec<Candidate>,
    pub skipped: Vec<Skipped>,
    /// Why the whole release was left alone (Helm is working on it), if it was.
    pub refused: Option<String>,
}

/// The hooks of every stored revision of one release, deduplicated by kind + name +
/// namespace, with the revisions that name each.
pub fn hooks_of_release(records: &[&Record]) -> Vec<(HookRef, Vec<i64>)> {
    let mut hooks: BTreeMap<(TypeKey, String, String), (HookRef, Vec<i64>)> = BTreeMap::new();
    for record in records {
        for hook in &record.release.hooks {
            let reference = HookRef::from_hook(hook, &record.reference.namespace);
            let key = (
                reference.type_key.clone(),
                reference.namespace.clone(),
                reference.name.clone(),
            );
            let entry = hooks
                .entry(key)
                .or_insert_with(|| (reference.clone(), Vec::new()));
            entry.0.keep |= reference.keep;
            entry.1.push(record.reference.meta.revision);
        }
    }
    hooks
        .into_values()
        .map(|(h, mut revs)| {
            revs.sort_unstable();
            revs.dedup();
            (h, revs)
        })
        .collect()
}

/// Group/kind + name of every regular (non-hook) resource in any stored revision: such an
/// object is never deleted as a hook, whatever its name.
fn regular_resources(records: &[&Record]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for record in records {
        // A manifest Helm wrote always parses; a corrupt one protects nothing extra.
        for object in parse_manifests(&record.release.manifest).unwrap_or_default() {
            let api_version = object
                .value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            let type_key = TypeKey::new(api_version, object.kind());
            out.insert((
                type_key.group().to_string(),
                type_key.kind.clone(),
                object.name().to_string(),
            ));
        }
    }
    out
}

/// Selects what to delete among the live objects of one release's hooks. `records` are every
/// stored revision of that release. Only objects the core's ownership rule calls hook runs of
/// this release are ever candidates; a release Helm is working on is refused whole.
pub fn select(
    records: &[&Record],
    lookup: &Lookup,
    criteria: &Criteria,
    now: Timestamp,
) -> Selection {
    let mut selection = Selection::default();
    let Some(latest) = records.iter().map(|r| r.reference.meta.revision).max() else {
        return selection;
    };
    let release = records[0].reference.meta.release.clone();
    let owner = ReleaseHooks::new(records.iter().map(|r| &r.release));
    if let Err(refusal) = owner.guard(criteria.force) {
        selection.refused = Some(refusal.to_string());
        return selection;
    }
    let regular = regular_resources(records);
    for (hook, _) in hooks_of_release(records) {
        let Some(live) = lookup.get(&hook) else {
            continue;
        };
        let kubectl_name = hook.kubectl_name();
        let skip = |reason: &str| Skipped {
            kubectl_name: kubectl_name.clone(),
            reason: reason.to_string(),
        };
        let status = live.status;
        if !criteria.admits(live, now) {
            continue;
        }
        let revisions = match owner.ownership(&live.meta()) {
            Ownership::HookRun { revisions } => revisions,
            Ownership::NotOwned(why) => {
                selection
                    .skipped
                    .push(skip(&format!("not a hook run of release {release}: {why}")));
                continue;
            }
        };
        if is_never_deleted(&hook.type_key.kind) {
            selection
                .skipped
                .push(skip("a CustomResourceDefinition: never deleted"));
            continue;
        }
        if regular.contains(&(
            hook.type_key.group().to_string(),
            hook.type_key.kind.clone(),
            hook.name.clone(),
        )) {
            selection
                .skipped
                .push(skip("also a regular (non-hook) resource of the release"));
            continue;
        }
        if hook.keep || live.keep() {
            selection
                .skipped
                .push(skip("annotated helm.sh/resource-policy: keep"));
            continue;
        }
        if live.deleting {
            selection.skipped.push(skip("already being deleted"));
            continue;
        }
        if status.is_running() && !criteria.force {
            selection.skipped.push(skip(&format!(
                "still running ({status}); --force deletes it"
            )));
            continue;
        }
        if status == LiveStatus::Present
            && criteria.statuses.is_empty()
            && owner.is_live()
            && revisions.contains(&latest)
        {
            selection.skipped.push(skip(&format!(
                "a {} hook of the current revision {latest} that may be in use; \
                 --status Present deletes it",
                hook.type_key.kind
            )));
            continue;
        }
        selection.delete.push(Candidate {
            release: release.clone(),
            key: live.key.clone(),
            kubectl_name,
            uid: live.uid.clone(),
            status,
            revisions,
        });
    }
    selection
}

#[cfg(test)]
mod tests;
