//! Randomized: in generated namespaces (two releases whose hooks share names, regular
//! resources of one named like the other's hooks, hand-made look-alikes, pending,
//! uninstalling and uninstalled releases), cleanup selects only objects that a hook run of
//! the release itself created, and nothing of a release Helm is working on.
//!
//! The oracle is the simulation's own history (who created each object), not the rule.

use super::select::{Criteria, select};
use crate::objects::{LiveObject, LiveStatus, Lookup, ObjectKey};
use crate::releases::Record;
use crate::testdata::{self, record};
use helm_hooks::ownership::CLOCK_SKEW_SECONDS;
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

const NAMESPACE: &str = "ns";
const RELEASES: [&str; 2] = ["app", "other"];
/// Hook names shared by both releases (charts that hard-code names).
const NAMES: [&str; 4] = ["migrate", "seed", "check", "hooks"];
const EVENTS: [&str; 3] = ["pre-upgrade", "post-upgrade", "pre-install,pre-upgrade"];

/// Who created a live object.
#[derive(Debug, Clone, PartialEq)]
enum Creator {
    HookRun(usize),
    Other,
}

#[derive(Debug, Clone)]
enum Action {
    /// `helm install|upgrade` of release `release` running `hooks` (name, kind, events index);
    /// the hook at `fail_at` fails, later ones are skipped; `leave` keeps finished hooks;
    /// `end` is the status the revision is left in.
    Helm {
        release: usize,
        hooks: Vec<(usize, usize, usize)>,
        fail_at: Option<usize>,
        leave: bool,
        end: usize,
    },
    /// A regular resource of `release` named like a hook.
    Regular {
        release: usize,
        name: usize,
        kind: usize,
    },
    /// `kubectl create` by hand; with `copy` the hook annotation is copied from a chart.
    HandMade {
        name: usize,
        kind: usize,
        copy: Option<usize>,
    },
    /// Someone deletes the object.
    Delete { name: usize, kind: usize },
}

const KINDS: [(&str, &str); 3] = [("batch/v1", "Job"), ("v1", "Pod"), ("v1", "ConfigMap")];
const END_STATUSES: [&str; 6] = [
    "deployed",
    "failed",
    "pending-upgrade",
    "pending-install",
    "uninstalling",
    "uninstalled",
];

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (
            0..2usize,
            prop::collection::vec((0..NAMES.len(), 0..KINDS.len(), 0..EVENTS.len()), 1..4),
            prop::option::of(0..4usize),
            any::<bool>(),
            prop_oneof![4 => Just(0usize), 1 => 1..END_STATUSES.len()],
        )
            .prop_map(|(release, hooks, fail_at, leave, end)| Action::Helm {
                release,
                hooks,
                fail_at,
                leave,
                end
            }),
        1 => (0..2usize, 0..NAMES.len(), 0..KINDS.len())
            .prop_map(|(release, name, kind)| Action::Regular { release, name, kind }),
        1 => (0..NAMES.len(), 0..KINDS.len(), prop::option::of(0..EVENTS.len()))
            .prop_map(|(name, kind, copy)| Action::HandMade { name, kind, copy }),
        1 => (0..NAMES.len(), 0..KINDS.len()).prop_map(|(name, kind)| Action::Delete { name, kind }),
    ]
}

struct World {
    now: i64,
    objects: BTreeMap<(usize, usize), (LiveObject, Creator)>,
    revisions: [Vec<serde_json::Value>; 2],
    next_uid: u64,
}

fn time(second: i64) -> String {
    Timestamp::from_second(second).unwrap().to_string()
}

impl World {
    fn new() -> World {
        World {
            now: 1_800_000_000,
            objects: BTreeMap::new(),
            revisions: [Vec::new(), Vec::new()],
            next_uid: 0,
        }
    }

    /// Time passes beyond the clock-skew margin between unrelated actions: an object made by
    /// hand within that margin of a run of the same hook is indistinguishable from it.
    fn tick(&mut self) {
        self.now += CLOCK_SKEW_SECONDS + 1 + (self.next_uid as i64 % 7) * 30;
    }

    fn create(
        &mut self,
        name: usize,
        kind: usize,
        annotations: BTreeMap<String, String>,
        by: Creator,
    ) -> bool {
        if self.objects.contains_key(&(name, kind)) {
            return false;
        }
        self.next_uid += 1;
        let (api, k) = KINDS[kind];
        let mut object = testdata::live(k, NAMESPACE, NAMES[name], LiveStatus::Present);
        object.key.type_key = crate::discovery::TypeKey::new(api, k);
        object.uid = format!("uid-{}", self.next_uid);
        object.created = Some(Timestamp::from_second(self.now).unwrap());
        object.status = match k {
            "Job" => LiveStatus::Complete,
            "Pod" => LiveStatus::Succeeded,
            _ => LiveStatus::Present,
        };
        object.annotations = annotations;
        self.objects.insert((name, kind), (object, by));
        true
    }

    fn apply(&mut self, action: &Action) {
        self.tick();
        match action {
            Action::Helm {
                release,
                hooks,
                fail_at,
                leave,
                end,
            } => {
                let mut recorded = Vec::new();
                let mut failed = false;
                for (i, &(name, kind, events)) in hooks.iter().enumerate() {
                    let (api, k) = KINDS[kind];
                    let mut hook = json!({
                        "name": NAMES[name], "kind": k, "path": "c/templates/h.yaml",
                        "manifest": format!(
                            "apiVersion: {api}\nkind: {k}\nmetadata:\n  name: {}\n  annotations:\n    helm.sh/hook: {}\n",
                            NAMES[name], EVENTS[events]
                        ),
                        "events": EVENTS[events].split(',').collect::<Vec<_>>(),
                    });
                    if !failed {
                        let started = self.now;
                        // before-hook-creation: Helm deletes what has the name, whoever made it.
                        self.objects.remove(&(name, kind));
                        let annotations = BTreeMap::from([(
                            "helm.sh/hook".to_string(),
                            EVENTS[events].replace(',', ", ").to_uppercase(),
                        )]);
                        self.create(name, kind, annotations, Creator::HookRun(*release));
                        self.now += 5;
                        failed = *fail_at == Some(i);
                        hook["last_run"] = json!({
                            "started_at": time(started), "completed_at": time(self.now),
                            "phase": if failed { "Failed" } else { "Succeeded" },
                        });
                        if !failed && !leave {
                            self.objects.remove(&(name, kind));
                        }
                    }
                    recorded.push(hook);
                }
                let list = &mut self.revisions[*release];
                for earlier in list.iter_mut() {
                    earlier["info"]["status"] = json!("superseded");
                }
                let version = list.len() as i64 + 1;
                let status = if failed && *end == 0 {
                    "failed"
                } else {
                    END_STATUSES[*end]
                };
                list.push(json!({
                    "name": RELEASES[*release], "namespace": NAMESPACE, "version": version,
                    "info": {"status": status}, "hooks": recorded,
                }));
            }
            Action::Regular {
                release,
                name,
                kind,
            } => {
                let annotations = BTreeMap::from([
                    (
                        "meta.helm.sh/release-name".to_string(),
                        RELEASES[*release].to_string(),
                    ),
                    (
                        "meta.helm.sh/release-namespace".to_string(),
                        NAMESPACE.to_string(),
                    ),
                ]);
                self.create(*name, *kind, annotations, Creator::Other);
            }
            Action::HandMade { name, kind, copy } => {
                let annotations = copy
                    .map(|e| BTreeMap::from([("helm.sh/hook".to_string(), EVENTS[e].to_string())]))
                    .unwrap_or_default();
                self.create(*name, *kind, annotations, Creator::Other);
            }
            Action::Delete { name, kind } => {
                self.objects.remove(&(*name, *kind));
            }
        }
    }

    fn records(&self, release: usize) -> Vec<Record> {
        self.revisions[release]
            .iter()
            .map(|r| record(&r.to_string()))
            .collect()
    }

    fn lookup(&self) -> Lookup {
        testdata::lookup(self.objects.values().map(|(o, _)| o.clone()).collect())
    }

    fn creator(&self, key: &ObjectKey) -> Option<&Creator> {
        self.objects
            .values()
            .find(|(o, _)| &o.key == key)
            .map(|(_, by)| by)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn cleanup_selects_only_the_releases_own_hook_runs(
        actions in prop::collection::vec(action(), 1..14),
        force in any::<bool>(),
        present in any::<bool>(),
    ) {
        let mut world = World::new();
        for action in &actions {
            world.apply(action);
        }
        let lookup = world.lookup();
        let criteria = Criteria {
            force,
            statuses: if present { LiveStatus::SELECTABLE.to_vec() } else { Vec::new() },
            older_than: None,
        };
        for (release, name) in RELEASES.iter().enumerate() {
            let records = world.records(release);
            if records.is_empty() {
                continue;
            }
            let refs: Vec<&Record> = records.iter().collect();
            let now = Timestamp::from_second(world.now).unwrap();
            let selection = select(&refs, &lookup, &criteria, now);
            let latest = records.last().unwrap().release.status();
            if (latest.is_pending() || latest.as_str() == "uninstalling") && !force {
                prop_assert!(selection.delete.is_empty() && selection.refused.is_some());
            }
            for candidate in &selection.delete {
                prop_assert_eq!(
                    world.creator(&candidate.key),
                    Some(&Creator::HookRun(release)),
                    "{} selected {} for release {}",
                    candidate.kubectl_name, candidate.uid, name
                );
                prop_assert!(!candidate.kubectl_name.starts_with("customresourcedefinition"));
            }
        }
    }
}

/// The generator is not vacuous: a leftover of the release's own run is selected.
#[test]
fn a_leftover_of_the_releases_own_run_is_selected() {
    let mut world = World::new();
    world.apply(&Action::Helm {
        release: 0,
        hooks: vec![(0, 0, 0), (1, 2, 1)],
        fail_at: None,
        leave: true,
        end: 0,
    });
    world.apply(&Action::HandMade {
        name: 2,
        kind: 0,
        copy: Some(0),
    });
    let records = world.records(0);
    let refs: Vec<&Record> = records.iter().collect();
    let now = Timestamp::from_second(world.now).unwrap();
    let selection = select(&refs, &world.lookup(), &Criteria::default(), now);
    let names: Vec<&str> = selection
        .delete
        .iter()
        .map(|c| c.kubectl_name.as_str())
        .collect();
    assert_eq!(names, ["job.batch/migrate"]);
}
