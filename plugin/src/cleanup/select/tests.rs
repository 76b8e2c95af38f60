use super::*;
use crate::discovery::Resolved;
use crate::objects::LiveObject;
use crate::testdata::{self, record};
use kube::discovery::ApiResource;
use serde_json::json;

fn hook(name: &str, kind: &str, annotations: &str) -> Value {
    let mut hook = testdata::hook(name, kind, annotations);
    // One long recorded run, so every live object below was created by it.
    hook["last_run"] = json!({
        "started_at": "2026-05-01T09:00:00Z",
        "completed_at": "2026-05-01T12:00:00Z",
        "phase": "Succeeded",
    });
    hook
}

fn revision(version: i64, hooks: Vec<Value>, manifest: &str) -> Record {
    record(
        &json!({
            "name": "demo", "namespace": "team", "version": version,
            "info": {"status": if version == 3 { "deployed" } else { "superseded" }},
            "manifest": manifest,
            "hooks": hooks,
        })
        .to_string(),
    )
}

fn records() -> Vec<Record> {
    let regular = "---\n# Source: demo/templates/job.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: demo-regular\n";
    vec![
        revision(
            1,
            vec![
                hook("demo-migrate-1", "Job", ""),
                hook("demo-sa", "ServiceAccount", ""),
            ],
            regular,
        ),
        revision(
            2,
            vec![
                hook("demo-migrate-2", "Job", ""),
                hook("demo-sa", "ServiceAccount", ""),
                hook("demo-old-cm", "ConfigMap", ""),
                hook("demo-regular", "Job", ""),
            ],
            regular,
        ),
        revision(
            3,
            vec![
                hook("demo-migrate-3", "Job", ""),
                hook("demo-sa", "ServiceAccount", ""),
                hook(
                    "demo-kept",
                    "Job",
                    "  annotations:\n    helm.sh/resource-policy: keep\n",
                ),
                hook("demo-crd", "CustomResourceDefinition", ""),
                hook("demo-running", "Job", ""),
            ],
            regular,
        ),
    ]
}

fn resolved(group: &str, kind: &str, plural: &str, namespaced: bool) -> Option<Resolved> {
    let api_version = if group.is_empty() {
        "v1".to_string()
    } else {
        format!("{group}/v1")
    };
    Some(Resolved {
        resource: ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version,
            kind: kind.into(),
            plural: plural.into(),
        },
        namespaced,
    })
}

fn now() -> Timestamp {
    "2026-05-01T12:00:00Z".parse().unwrap()
}

fn lookup() -> Lookup {
    let mut lookup = Lookup::default();
    lookup.resolution.insert(
        TypeKey::new("batch/v1", "Job"),
        resolved("batch", "Job", "jobs", true),
    );
    lookup.resolution.insert(
        TypeKey::new("v1", "ServiceAccount"),
        resolved("", "ServiceAccount", "serviceaccounts", true),
    );
    lookup.resolution.insert(
        TypeKey::new("v1", "ConfigMap"),
        resolved("", "ConfigMap", "configmaps", true),
    );
    lookup.resolution.insert(
        TypeKey::new("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        resolved(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
    );
    let mut add = |api: &str,
                   kind: &str,
                   name: &str,
                   namespaced: bool,
                   status: LiveStatus,
                   age_s: i64,
                   keep: bool| {
        let key = ObjectKey {
            type_key: TypeKey::new(api, kind),
            namespace: namespaced.then(|| "team".to_string()),
            name: name.into(),
        };
        let mut annotations = BTreeMap::new();
        annotations.insert("helm.sh/hook".to_string(), "pre-upgrade".to_string());
        if keep {
            annotations.insert("helm.sh/resource-policy".to_string(), "keep".to_string());
        }
        lookup.objects.insert(
            key.clone(),
            LiveObject {
                key,
                uid: format!("uid-{name}"),
                created: Some(
                    now()
                        .checked_sub(jiff::SignedDuration::from_secs(age_s))
                        .unwrap(),
                ),
                deleting: false,
                controlled: false,
                status,
                reason: None,
                annotations,
            },
        );
    };
    add(
        "batch/v1",
        "Job",
        "demo-migrate-1",
        true,
        LiveStatus::Complete,
        7200,
        false,
    );
    add(
        "batch/v1",
        "Job",
        "demo-migrate-2",
        true,
        LiveStatus::Failed,
        3600,
        false,
    );
    add(
        "batch/v1",
        "Job",
        "demo-migrate-3",
        true,
        LiveStatus::Complete,
        60,
        false,
    );
    add(
        "batch/v1",
        "Job",
        "demo-running",
        true,
        LiveStatus::Running,
        60,
        false,
    );
    add(
        "batch/v1",
        "Job",
        "demo-kept",
        true,
        LiveStatus::Complete,
        60,
        false,
    );
    add(
        "batch/v1",
        "Job",
        "demo-regular",
        true,
        LiveStatus::Complete,
        60,
        false,
    );
    add(
        "batch/v1",
        "Job",
        "other-release-hook",
        true,
        LiveStatus::Complete,
        60,
        false,
    );
    add(
        "v1",
        "ServiceAccount",
        "demo-sa",
        true,
        LiveStatus::Present,
        60,
        false,
    );
    add(
        "v1",
        "ConfigMap",
        "demo-old-cm",
        true,
        LiveStatus::Present,
        3600,
        false,
    );
    add(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "demo-crd",
        false,
        LiveStatus::Present,
        60,
        false,
    );
    lookup
}

fn run(criteria: Criteria) -> Selection {
    let records = records();
    let refs: Vec<&Record> = records.iter().collect();
    select(&refs, &lookup(), &criteria, now())
}

fn names(s: &Selection) -> Vec<&str> {
    let mut v: Vec<&str> = s.delete.iter().map(|c| c.kubectl_name.as_str()).collect();
    v.sort();
    v
}

fn skipped(s: &Selection, name: &str) -> String {
    s.skipped
        .iter()
        .find(|k| k.kubectl_name == name)
        .map(|k| k.reason.clone())
        .unwrap_or_default()
}

#[test]
fn default_selection_takes_finished_hooks_of_every_revision() {
    let s = run(Criteria::default());
    assert_eq!(
        names(&s),
        [
            "configmap/demo-old-cm",
            "job.batch/demo-migrate-1",
            "job.batch/demo-migrate-2",
            "job.batch/demo-migrate-3"
        ]
    );
    assert!(skipped(&s, "job.batch/demo-running").contains("--force"));
    assert!(skipped(&s, "job.batch/demo-kept").contains("keep"));
    assert!(
        skipped(&s, "customresourcedefinition.apiextensions.k8s.io/demo-crd").contains("never")
    );
    assert!(skipped(&s, "job.batch/demo-regular").contains("regular"));
    assert!(skipped(&s, "serviceaccount/demo-sa").contains("current revision 3"));
    // Another release's hook is never considered.
    assert!(!s.delete.iter().any(|c| c.key.name == "other-release-hook"));
    let m1 = s
        .delete
        .iter()
        .find(|c| c.key.name == "demo-migrate-1")
        .unwrap();
    assert_eq!(m1.uid, "uid-demo-migrate-1");
    assert_eq!(m1.revisions, [1]);
}

#[test]
fn force_takes_running_hooks_too() {
    let s = run(Criteria {
        force: true,
        ..Criteria::default()
    });
    assert!(names(&s).contains(&"job.batch/demo-running"));
}

#[test]
fn status_and_age_filters() {
    let s = run(Criteria {
        statuses: vec![LiveStatus::Failed],
        ..Criteria::default()
    });
    assert_eq!(names(&s), ["job.batch/demo-migrate-2"]);
    let s = run(Criteria {
        older_than: Some(Duration::from_secs(3000)),
        ..Criteria::default()
    });
    assert_eq!(
        names(&s),
        [
            "configmap/demo-old-cm",
            "job.batch/demo-migrate-1",
            "job.batch/demo-migrate-2"
        ]
    );
    let s = run(Criteria {
        statuses: vec![LiveStatus::Present],
        ..Criteria::default()
    });
    assert_eq!(
        names(&s),
        ["configmap/demo-old-cm", "serviceaccount/demo-sa"]
    );
}

#[test]
fn hooks_are_deduplicated_across_revisions() {
    let records = records();
    let refs: Vec<&Record> = records.iter().collect();
    let sa: Vec<_> = hooks_of_release(&refs)
        .into_iter()
        .filter(|(h, _)| h.name == "demo-sa")
        .collect();
    assert_eq!(sa.len(), 1);
    assert_eq!(sa[0].1, [1, 2, 3]);
}

/// The selector on every stored revision of the real helm 3 and helm 4 release records.
mod real_records {
    use super::*;
    use crate::testdata::{HELMS, Helm, created, hook_run, live, look_alike, lookup};

    /// Leftovers of the hook runs of v2 and v3, a running hook, a kept one, hand-made
    /// copies of hooks that never ran, the release's regular ConfigMap and other
    /// releases' objects.
    fn live_objects(helm: &Helm) -> Lookup {
        let ns = helm.namespace;
        let (v1, v2, v3) = (helm.secret(1), helm.secret(2), helm.secret(3));
        let mut kept = hook_run(&v3, "demo-config-validate", LiveStatus::Failed);
        kept.annotations
            .insert("helm.sh/resource-policy".to_string(), "keep".to_string());
        lookup(vec![
            hook_run(&v2, &helm.backup(2), LiveStatus::Complete),
            hook_run(&v3, "demo-db-migrate", LiveStatus::Failed),
            hook_run(&v2, "demo-seed", LiveStatus::Complete),
            hook_run(&v2, "demo-smoke-test", LiveStatus::Succeeded),
            hook_run(&v3, "demo-hooks", LiveStatus::Present),
            hook_run(&v2, "demo-notify", LiveStatus::Running),
            kept,
            // The backup hooks of v1 and v3 never ran: these were made by hand.
            look_alike(&v1, &helm.backup(1), LiveStatus::Failed),
            look_alike(&v3, &helm.backup(3), LiveStatus::Failed),
            // Not hooks of this release.
            live("ConfigMap", ns, "demo-config", LiveStatus::Present),
            live("Job", ns, "other-backup-1795241036", LiveStatus::Failed),
            live("Job", ns, "demo-backup-1000000000", LiveStatus::Failed),
            // Release demo of the ConfigMap driver, in its own namespace.
            live(
                "Job",
                helm.configmap_namespace,
                "demo-db-migrate",
                LiveStatus::Failed,
            ),
            live(
                "Job",
                helm.configmap_namespace,
                &helm.configmap_backup(),
                LiveStatus::Failed,
            ),
        ])
    }

    fn select_from(helm: &Helm, criteria: Criteria) -> Selection {
        let records = helm.secrets();
        let refs: Vec<&Record> = records.iter().collect();
        let now: Timestamp = "2026-11-21T08:05:00Z".parse().unwrap();
        select(&refs, &live_objects(helm), &criteria, now)
    }

    #[test]
    fn selects_leftovers_of_every_stored_revision() {
        for helm in HELMS {
            let s = select_from(helm, Criteria::default());
            let backup = format!("job.batch/{}", helm.backup(2));
            assert_eq!(
                names(&s),
                [
                    backup.as_str(),
                    "job.batch/demo-db-migrate",
                    "job.batch/demo-seed",
                    "pod/demo-smoke-test"
                ],
                "{}",
                helm.prefix
            );
            let revisions = |name: &str| {
                let c = s.delete.iter().find(|c| c.key.name == name).unwrap();
                (c.revisions.clone(), c.uid.clone(), c.key.namespace.clone())
            };
            let backup = helm.backup(2);
            assert_eq!(
                revisions(&backup),
                (
                    vec![2],
                    format!("uid-{}-{backup}", helm.namespace),
                    Some(helm.namespace.to_string())
                )
            );
            // Created by v3's run; v2's ran seconds before, inside the clock-skew margin.
            assert_eq!(revisions("demo-db-migrate").0, [2, 3]);
            assert!(s.delete.iter().all(|c| c.release == "demo"));
        }
    }

    #[test]
    fn skips_running_kept_in_use_and_other_releases_objects() {
        for helm in HELMS {
            let s = select_from(helm, Criteria::default());
            let mut skipped: Vec<(&str, &str)> = s
                .skipped
                .iter()
                .map(|k| (k.kubectl_name.as_str(), k.reason.as_str()))
                .collect();
            skipped.sort();
            let hand_made = "not a hook run of release demo: created at \
                                 2026-11-21T06:50:00Z, outside every recorded run of the hook \
                                 (made by hand?)"
                .to_string();
            assert_eq!(
                skipped,
                [
                    (
                        format!("job.batch/{}", helm.backup(1)).as_str(),
                        hand_made.as_str()
                    ),
                    (format!("job.batch/{}", helm.backup(3)).as_str(), &hand_made),
                    (
                        "job.batch/demo-notify",
                        "still running (Running); --force deletes it"
                    ),
                    (
                        "pod/demo-config-validate",
                        "annotated helm.sh/resource-policy: keep"
                    ),
                    (
                        "serviceaccount/demo-hooks",
                        "a ServiceAccount hook of the current revision 3 that may be in \
                             use; --status Present deletes it"
                    ),
                ],
                "{}",
                helm.prefix
            );
            let mentioned = |name: &str| {
                s.delete.iter().any(|c| c.kubectl_name.ends_with(name))
                    || s.skipped.iter().any(|k| k.kubectl_name.ends_with(name))
            };
            let configmap_backup = helm.configmap_backup();
            for other in [
                "other-backup-1795241036",
                "demo-backup-1000000000",
                "demo-config",
                configmap_backup.as_str(),
            ] {
                assert!(!mentioned(other), "{}: {other}", helm.prefix);
            }
            // The other namespace's demo-db-migrate is not the one selected.
            assert!(
                s.delete
                    .iter()
                    .all(|c| c.key.namespace.as_deref() == Some(helm.namespace))
            );
        }
    }

    /// Issue 10, defect 1: cleanup matched kind + name + namespace only and deleted
    /// another release's regular Job and Pod and a `kubectl create job` look-alike.
    #[test]
    fn cleanup_never_deletes_another_releases_objects_or_hand_made_jobs() {
        for helm in HELMS {
            let ns = helm.namespace;
            let mut other_job = live("Job", ns, "demo-db-migrate", LiveStatus::Complete);
            let mut other_pod = live("Pod", ns, "demo-config-validate", LiveStatus::Failed);
            for object in [&mut other_job, &mut other_pod] {
                object
                    .annotations
                    .insert("meta.helm.sh/release-name".into(), "other".into());
                object
                    .annotations
                    .insert("meta.helm.sh/release-namespace".into(), ns.into());
            }
            let hand_made = live("Job", ns, "demo-notify", LiveStatus::Complete);
            let records = helm.secrets();
            let refs: Vec<&Record> = records.iter().collect();
            let now: Timestamp = "2026-11-21T08:05:00Z".parse().unwrap();
            for force in [false, true] {
                let criteria = Criteria {
                    force,
                    ..Criteria::default()
                };
                let lookup = lookup(vec![
                    other_job.clone(),
                    other_pod.clone(),
                    hand_made.clone(),
                ]);
                let s = select(&refs, &lookup, &criteria, now);
                assert!(s.delete.is_empty(), "{}: {:?}", helm.prefix, names(&s));
            }
        }
    }

    /// Issue 10, defect 2: beside `helm upgrade`, cleanup deleted a pre-upgrade hook Pod
    /// Helm was waiting for; a release in `pending-*` or `uninstalling` is left alone.
    #[test]
    fn cleanup_leaves_a_release_mid_upgrade_alone() {
        for helm in HELMS {
            for status in [
                "pending-upgrade",
                "pending-install",
                "pending-rollback",
                "uninstalling",
            ] {
                let mut records = helm.secrets();
                let in_flight = &mut records[2];
                in_flight.release.info.as_mut().unwrap().status =
                    helm_hooks::release::Status::parse(status);
                let pod = hook_run(in_flight, "demo-config-validate", LiveStatus::Succeeded);
                let job = hook_run(in_flight, "demo-db-migrate", LiveStatus::Complete);
                let refs: Vec<&Record> = records.iter().collect();
                let now: Timestamp = "2026-11-21T08:05:00Z".parse().unwrap();
                let s = select(&refs, &lookup(vec![pod, job]), &Criteria::default(), now);
                assert!(
                    s.delete.is_empty(),
                    "{} {status}: {:?}",
                    helm.prefix,
                    names(&s)
                );
                let refusal = s.refused.expect("the release is refused");
                assert!(
                    refusal.contains(status) && refusal.contains("--force"),
                    "{refusal}"
                );
            }
        }
    }

    #[test]
    fn force_status_and_age_filters_on_real_records() {
        for helm in HELMS {
            let forced = select_from(
                helm,
                Criteria {
                    force: true,
                    ..Criteria::default()
                },
            );
            assert!(names(&forced).contains(&"job.batch/demo-notify"));
            assert!(!names(&forced).contains(&"pod/demo-config-validate"));
            let failed = select_from(
                helm,
                Criteria {
                    statuses: vec![LiveStatus::Failed],
                    ..Criteria::default()
                },
            );
            // The failed look-alikes of the backup hooks are no hook runs.
            assert_eq!(
                names(&failed),
                ["job.batch/demo-db-migrate"],
                "{}",
                helm.prefix
            );
            let present = select_from(
                helm,
                Criteria {
                    statuses: vec![LiveStatus::Present],
                    ..Criteria::default()
                },
            );
            assert_eq!(names(&present), ["serviceaccount/demo-hooks"]);
            // Created at 06:43 and 06:50, less than two hours before now: nothing is three
            // hours old.
            assert_eq!(created().to_string(), "2026-11-21T06:50:00Z");
            let old = select_from(
                helm,
                Criteria {
                    older_than: Some(Duration::from_secs(3 * 3600)),
                    ..Criteria::default()
                },
            );
            assert!(old.delete.is_empty() && old.skipped.is_empty());
        }
    }
}
