//! Ownership: whether a live object is a hook run of a release, and so may be deleted on its
//! behalf. Deleting is the dangerous part of helm-hooks; `kubectl hooks cleanup`, `rerun` and
//! the janitor all ask this one rule before they delete anything.
//!
//! Live hook objects carry no release label (Helm stamps `meta.helm.sh/release-*` only on
//! regular resources), so a name match against the release record is not proof: another
//! release's regular Job, or a hand-made copy, can have the same kind and name. An object is a
//! hook run of release R only when all of these hold:
//!
//! 1. it carries `helm.sh/hook`;
//! 2. it carries no other release's `meta.helm.sh/release-name` / `-namespace`;
//! 3. its group, kind, name and namespace match a hook of one of R's stored revisions, and its
//!    `helm.sh/hook` events are that hook's recorded events;
//! 4. it was created by a run of that hook: its creation time lies inside the run's window
//!    (`last_run.started_at` … `completed_at`, widened by [`CLOCK_SKEW_SECONDS`] because Helm's
//!    clock is the client's and `creationTimestamp` the apiserver's), or it carries the
//!    [`RERUN_ANNOTATION`] that `kubectl hooks rerun` stamps, naming R and that revision.
//!
//! On top of ownership, [`ReleaseHooks::guard`] refuses a release Helm is working on
//! (`pending-*`, `uninstalling`), and [`is_never_deleted`] keeps CRDs out of every deletion.

use crate::hook::{HOOK_ANNOTATION, HookEvent, RESOURCE_POLICY_ANNOTATION, split_annotation_value};
use crate::release::{HookPhase, Release, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Stamped by `kubectl hooks rerun` on the objects it creates: `NAMESPACE/RELEASE.vREVISION`
/// of the release whose stored hook it re-created, so they stay recognisable as hook runs
/// although they were created outside the run window Helm recorded.
pub const RERUN_ANNOTATION: &str = "hooks.helm-hooks.io/rerun-of";
/// Helm stamps this on the regular (non-hook) resources of a release.
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Helm stamps this on the regular (non-hook) resources of a release.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";

/// How far Helm's clock (the client's, in `last_run`) and the apiserver's (in
/// `creationTimestamp`) may disagree: the run window is widened by this on both sides.
pub const CLOCK_SKEW_SECONDS: i64 = 120;
/// The end of a run Helm never completed (killed `helm upgrade`, phase `Running`): its window
/// closes this long after it started.
pub const UNFINISHED_RUN_SECONDS: i64 = 24 * 3600;

/// Kinds no hook deletion ever touches: Helm never deletes CRDs by hook policy (deleting one
/// deletes every custom resource of it).
pub fn is_never_deleted(kind: &str) -> bool {
    kind == "CustomResourceDefinition"
}

/// Whether `helm.sh/resource-policy` says `keep` (Helm's spelling is case-insensitive).
pub fn is_kept(annotations: &BTreeMap<String, String>) -> bool {
    annotations
        .get(RESOURCE_POLICY_ANNOTATION)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("keep"))
}

/// What the rule needs of a live object: its identity, creation time and annotations.
#[derive(Debug, Clone, Copy)]
pub struct LiveMeta<'a> {
    /// API group (`""` for the core group).
    pub group: &'a str,
    /// `kind`.
    pub kind: &'a str,
    /// `metadata.namespace`; `None` for cluster-scoped objects.
    pub namespace: Option<&'a str>,
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.creationTimestamp`, in seconds since the Unix epoch.
    pub created: Option<i64>,
    /// `metadata.annotations`.
    pub annotations: &'a BTreeMap<String, String>,
}

/// Why a live object is not a hook run of the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotOwned {
    /// No `helm.sh/hook` annotation: a regular or hand-made object.
    NotAHook,
    /// `meta.helm.sh/release-*` names another release.
    OtherRelease {
        /// `namespace/name` of that release.
        release: String,
    },
    /// No stored revision has a hook of this kind, name and namespace.
    NotInRecords,
    /// Its `helm.sh/hook` events differ from every recorded hook of that name.
    EventsDiffer {
        /// The live object's annotation.
        live: String,
        /// The recorded events.
        recorded: String,
    },
    /// Created outside every recorded run of the hook and not by a rerun.
    NotCreatedByARun {
        /// RFC 3339 creation time, or `unknown`.
        created: String,
    },
}

impl fmt::Display for NotOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotOwned::NotAHook => f.write_str("not a hook: it has no helm.sh/hook annotation"),
            NotOwned::OtherRelease { release } => write!(
                f,
                "a resource of release {release} (meta.helm.sh/release-name)"
            ),
            NotOwned::NotInRecords => f.write_str("no stored revision has a hook of that name"),
            NotOwned::EventsDiffer { live, recorded } => write!(
                f,
                "its helm.sh/hook {live:?} differs from the recorded events {recorded:?}"
            ),
            NotOwned::NotCreatedByARun { created } => write!(
                f,
                "created at {created}, outside every recorded run of the hook (made by hand?)"
            ),
        }
    }
}

/// The verdict on one live object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// A hook run of the release, created by a run (or rerun) of these revisions.
    HookRun {
        /// Revisions whose hook run created it, ascending.
        revisions: Vec<i64>,
    },
    /// Not the release's: never delete it on the release's behalf.
    NotOwned(NotOwned),
}

/// Why a whole release is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untouchable {
    /// The latest revision's status.
    pub status: Status,
    /// The latest revision.
    pub revision: i64,
}

impl fmt::Display for Untouchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "revision {} is {}: Helm is still working on this release and waits for its hooks; \
             retry when it is done (--force overrides, e.g. for a release stuck after a killed helm)",
            self.revision, self.status
        )
    }
}

/// One hook of one stored revision, as the rule compares it.
#[derive(Debug, Clone)]
struct RecordedHook {
    revision: i64,
    group: String,
    kind: String,
    name: String,
    namespace: String,
    events: BTreeSet<HookEvent>,
    /// `[first, last]` second of the recorded run, skew included.
    window: Option<(i64, i64)>,
    /// How the recorded run ended, and when (Helm's clock).
    run: RecordedRun,
}

/// How Helm recorded one hook's last run in one revision: what the janitor waits for before it
/// deletes, so it never deletes a hook Helm is still watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedRun {
    /// `last_run.phase`.
    pub phase: HookPhase,
    /// `last_run.completed_at`, in seconds since the Unix epoch.
    pub completed: Option<i64>,
}

impl RecordedRun {
    /// Whether Helm recorded the run's final phase (`Succeeded` or `Failed`): Helm no longer
    /// watches the object.
    pub fn is_final(&self) -> bool {
        matches!(self.phase, HookPhase::Succeeded | HookPhase::Failed)
    }
}

/// Every stored revision's hooks of one release, ready to judge live objects against.
#[derive(Debug, Clone)]
pub struct ReleaseHooks {
    name: String,
    namespace: String,
    latest_revision: i64,
    latest_status: Status,
    /// `info.deleted` of the latest revision (set by `helm uninstall --keep-history`).
    latest_deleted: Option<i64>,
    /// `info.first_deployed` of the latest revision: when this install of the release began.
    first_deployed: Option<String>,
    hooks: Vec<RecordedHook>,
}

impl ReleaseHooks {
    /// Reads the hooks of `revisions` (every stored revision of one release; the first one's
    /// name and namespace name the release). A hook whose stored manifest does not parse
    /// keeps its recorded kind and name but no group, so it matches nothing: a corrupt record
    /// never widens what may be deleted.
    pub fn new<'a>(revisions: impl IntoIterator<Item = &'a Release>) -> ReleaseHooks {
        let mut out = ReleaseHooks {
            name: String::new(),
            namespace: String::new(),
            latest_revision: i64::MIN,
            latest_status: Status::Unknown,
            latest_deleted: None,
            first_deployed: None,
            hooks: Vec::new(),
        };
        for release in revisions {
            if out.name.is_empty() {
                out.name = release.name.clone();
                out.namespace = release.namespace.clone();
            }
            if release.version > out.latest_revision {
                out.latest_revision = release.version;
                out.latest_status = release.status();
                out.latest_deleted = release
                    .info
                    .as_ref()
                    .and_then(|i| seconds_of(i.deleted.as_deref()));
                out.first_deployed = release.info.as_ref().and_then(|i| i.first_deployed.clone());
            }
            for hook in &release.hooks {
                out.hooks.push(recorded_hook(release, hook));
            }
        }
        out
    }

    /// The release's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The release's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The latest stored revision.
    pub fn latest_revision(&self) -> i64 {
        self.latest_revision
    }

    /// The latest stored revision's status.
    pub fn latest_status(&self) -> &Status {
        &self.latest_status
    }

    /// When the release was uninstalled (`info.deleted` of the latest revision, kept by
    /// `helm uninstall --keep-history`), in seconds since the Unix epoch; `None` while it is
    /// installed or when Helm recorded no time.
    pub fn uninstalled_at(&self) -> Option<i64> {
        (!self.is_live()).then_some(self.latest_deleted).flatten()
    }

    /// Whether an object created at `created` (seconds) is older than this install of the
    /// release ([`predates_release`] with the latest revision's `info.first_deployed`).
    pub fn predates(&self, created: i64) -> bool {
        predates_release(self.first_deployed.as_deref(), created)
    }

    /// Whether Helm is working on the release (latest revision `pending-*` or `uninstalling`).
    pub fn is_busy(&self) -> bool {
        self.guard(false).is_err()
    }

    /// The recorded run of `live`'s hook in `revision` (one of the revisions
    /// [`Ownership::HookRun`] named): how Helm says it ended.
    pub fn recorded_run(&self, live: &LiveMeta<'_>, revision: i64) -> Option<RecordedRun> {
        self.hooks
            .iter()
            .find(|h| {
                h.revision == revision
                    && h.group == live.group
                    && h.kind == live.kind
                    && h.name == live.name
                    && live.namespace.is_none_or(|ns| ns == h.namespace)
            })
            .map(|h| h.run)
    }

    /// The kinds and namespaces of every recorded hook: `(apiVersion group, kind, namespace)`,
    /// for callers that list live objects per kind and namespace.
    pub fn hook_locations(&self) -> BTreeSet<(String, String, String)> {
        self.hooks
            .iter()
            .filter(|h| !h.group.starts_with('\0'))
            .map(|h| (h.group.clone(), h.kind.clone(), h.namespace.clone()))
            .collect()
    }

    /// `Err` when Helm is working on the release (latest revision `pending-*` or
    /// `uninstalling`) and `force` is off: touch none of its hooks then.
    pub fn guard(&self, force: bool) -> Result<(), Untouchable> {
        let busy = self.latest_status.is_pending() || self.latest_status == Status::Uninstalling;
        if busy && !force {
            return Err(Untouchable {
                status: self.latest_status.clone(),
                revision: self.latest_revision,
            });
        }
        Ok(())
    }

    /// Whether the release is installed (its latest record is not `uninstalled`).
    pub fn is_live(&self) -> bool {
        self.latest_status != Status::Uninstalled
    }

    /// Decides whether `live` is a hook run of this release.
    pub fn ownership(&self, live: &LiveMeta<'_>) -> Ownership {
        let Some(hook_value) = live.annotations.get(HOOK_ANNOTATION) else {
            return Ownership::NotOwned(NotOwned::NotAHook);
        };
        if let Some(release) = self.other_release(live.annotations) {
            return Ownership::NotOwned(NotOwned::OtherRelease { release });
        }
        let same_object: Vec<&RecordedHook> = self
            .hooks
            .iter()
            .filter(|h| {
                h.group == live.group
                    && h.kind == live.kind
                    && h.name == live.name
                    && live.namespace.is_none_or(|ns| ns == h.namespace)
            })
            .collect();
        if same_object.is_empty() {
            return Ownership::NotOwned(NotOwned::NotInRecords);
        }
        let live_events = events_of(hook_value);
        let same_events: Vec<&RecordedHook> = same_object
            .iter()
            .copied()
            .filter(|h| live_events.as_ref() == Some(&h.events))
            .collect();
        if same_events.is_empty() {
            return Ownership::NotOwned(NotOwned::EventsDiffer {
                live: crate::text::truncate(hook_value, 120),
                recorded: event_list(&same_object[0].events),
            });
        }
        let rerun = self.rerun_revision(live.annotations);
        let mut revisions: Vec<i64> = same_events
            .iter()
            .filter(|h| {
                rerun == Some(h.revision)
                    || live.created.is_some_and(|created| {
                        h.window
                            .is_some_and(|(first, last)| (first..=last).contains(&created))
                    })
            })
            .map(|h| h.revision)
            .collect();
        if revisions.is_empty() {
            let created = live
                .created
                .and_then(|s| jiff::Timestamp::from_second(s).ok())
                .map_or("an unknown time".to_string(), |t| t.to_string());
            return Ownership::NotOwned(NotOwned::NotCreatedByARun { created });
        }
        revisions.sort_unstable();
        revisions.dedup();
        Ownership::HookRun { revisions }
    }

    /// `namespace/name` of another release named by `meta.helm.sh/release-*`, if any.
    fn other_release(&self, annotations: &BTreeMap<String, String>) -> Option<String> {
        let name = annotations.get(RELEASE_NAME_ANNOTATION);
        let namespace = annotations.get(RELEASE_NAMESPACE_ANNOTATION);
        let other_name = name.is_some_and(|n| *n != self.name);
        let other_namespace = namespace.is_some_and(|ns| *ns != self.namespace);
        (other_name || other_namespace).then(|| {
            format!(
                "{}/{}",
                namespace.map_or("?", String::as_str),
                name.map_or("?", String::as_str)
            )
        })
    }

    /// The revision a `kubectl hooks rerun` stamp names, when it names this release.
    fn rerun_revision(&self, annotations: &BTreeMap<String, String>) -> Option<i64> {
        let (namespace, name, revision) = parse_rerun_stamp(annotations.get(RERUN_ANNOTATION)?)?;
        (namespace == self.namespace && name == self.name).then_some(revision)
    }
}

/// Whether an object created at `created` (seconds since the epoch) is older than the release
/// itself — `info.first_deployed` of its records, less [`CLOCK_SKEW_SECONDS`]: a leftover of an
/// earlier release of the same name (uninstalled, then installed again), never a hook run of
/// this one. `false` when `first_deployed` is missing or unreadable.
pub fn predates_release(first_deployed: Option<&str>, created: i64) -> bool {
    first_deployed
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_some_and(|since| created < since.as_second() - CLOCK_SKEW_SECONDS)
}

/// The value `kubectl hooks rerun` stamps as [`RERUN_ANNOTATION`].
pub fn rerun_stamp(namespace: &str, release: &str, revision: i64) -> String {
    format!("{namespace}/{release}.v{revision}")
}

/// The release namespace, name and revision a [`RERUN_ANNOTATION`] value names; `None` when it
/// is not one [`rerun_stamp`] wrote.
pub fn parse_rerun_stamp(value: &str) -> Option<(&str, &str, i64)> {
    let (namespace, rest) = value.split_once('/')?;
    let (name, revision) = rest.rsplit_once(".v")?;
    if namespace.is_empty() || name.is_empty() {
        return None;
    }
    Some((namespace, name, revision.parse().ok()?))
}

fn recorded_hook(release: &Release, hook: &crate::release::Hook) -> RecordedHook {
    let stored = hook.stored_object(&release.namespace);
    // No usable manifest: an impossible group, so the hook matches no live object.
    let group = match stored.problem {
        None => stored.group().to_string(),
        Some(_) => "\0unparsable".to_string(),
    };
    let seconds = seconds_of;
    let window = seconds(hook.last_run.started()).map(|started| {
        let end = seconds(hook.last_run.completed())
            .filter(|end| *end >= started)
            .unwrap_or(started + UNFINISHED_RUN_SECONDS);
        (started - CLOCK_SKEW_SECONDS, end + CLOCK_SKEW_SECONDS)
    });
    RecordedHook {
        revision: release.version,
        group,
        kind: stored.kind,
        name: stored.name,
        namespace: stored.namespace,
        events: hook.events().into_iter().collect(),
        window,
        run: RecordedRun {
            phase: hook.last_run.phase,
            completed: seconds(hook.last_run.completed()),
        },
    }
}

/// An RFC 3339 time in seconds since the Unix epoch.
fn seconds_of(t: Option<&str>) -> Option<i64> {
    t.and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
}

/// The events of a live `helm.sh/hook` value; `None` when any entry is unknown or empty (Helm
/// would have dropped such an object, so it is no run of a recorded hook).
fn events_of(value: &str) -> Option<BTreeSet<HookEvent>> {
    let parts = split_annotation_value(value).ok()?;
    parts.iter().map(|p| HookEvent::parse(p)).collect()
}

fn event_list(events: &BTreeSet<HookEvent>) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
pub(crate) mod tests;
