use super::*;
use crate::testdata::{created, live};
use helm_hooks::orphans::{Evidence, Stamper};
use std::time::Duration;

fn hook(kind: &str, status: LiveStatus) -> LiveObject {
    let mut object = live(kind, "team", "demo-migrate", status);
    object
        .annotations
        .insert(HOOK_ANNOTATION.to_string(), "pre-install".to_string());
    object
}

fn orphan() -> Orphan {
    Orphan {
        release: ReleaseRef {
            namespace: "team".into(),
            name: "demo".into(),
        },
        evidence: Evidence::StampedReleaseGone(Stamper::Janitor),
    }
}

fn later(seconds: i64) -> Timestamp {
    Timestamp::from_second(created().as_second() + seconds).unwrap()
}

#[test]
fn finished_and_configuration_leftovers_are_deleted() {
    let criteria = Criteria::default();
    for (kind, status) in [
        ("Job", LiveStatus::Complete),
        ("Job", LiveStatus::Failed),
        ("Pod", LiveStatus::Succeeded),
        ("ServiceAccount", LiveStatus::Present),
    ] {
        assert_eq!(
            kept(&hook(kind, status), &criteria, later(1)),
            None,
            "{kind}"
        );
    }
}

#[test]
fn running_leftovers_are_kept_unless_forced() {
    let running = hook("Job", LiveStatus::Running);
    let reason = kept(&running, &Criteria::default(), later(1)).unwrap();
    assert!(reason.contains("--force"), "{reason}");
    let pending = hook("Pod", LiveStatus::Pending);
    assert!(kept(&pending, &Criteria::default(), later(1)).is_some());
    let force = Criteria {
        force: true,
        ..Criteria::default()
    };
    assert_eq!(kept(&running, &force, later(1)), None);
}

#[test]
fn protected_leftovers_are_never_deleted_even_with_force() {
    let force = Criteria {
        force: true,
        ..Criteria::default()
    };
    let mut keep = hook("ServiceAccount", LiveStatus::Present);
    keep.annotations
        .insert("helm.sh/resource-policy".into(), "keep".into());
    assert!(kept(&keep, &force, later(1)).unwrap().contains("keep"));
    let mut controlled = hook("Pod", LiveStatus::Succeeded);
    controlled.controlled = true;
    assert!(kept(&controlled, &force, later(1)).is_some());
    let mut deleting = hook("Job", LiveStatus::Complete);
    deleting.deleting = true;
    assert!(kept(&deleting, &force, later(1)).is_some());
    let crd = hook("CustomResourceDefinition", LiveStatus::Present);
    assert!(kept(&crd, &force, later(1)).is_some());
    let not_a_hook = live("Job", "team", "web", LiveStatus::Complete);
    assert!(kept(&not_a_hook, &force, later(1)).is_some());
}

#[test]
fn status_and_age_filters_apply() {
    let job = hook("Job", LiveStatus::Complete);
    let failed_only = Criteria {
        statuses: vec![LiveStatus::Failed],
        ..Criteria::default()
    };
    assert!(kept(&job, &failed_only, later(1)).is_some());
    let hour = Criteria {
        older_than: Some(Duration::from_secs(3600)),
        ..Criteria::default()
    };
    assert!(kept(&job, &hour, later(60)).is_some());
    assert_eq!(kept(&job, &hour, later(3600)), None);
}

#[test]
fn rows_name_the_object_as_kubectl_does_and_the_evidence() {
    let row = OrphanRow::of(&hook("Job", LiveStatus::Complete), &orphan());
    assert_eq!(row.kubectl_name, "job.batch/demo-migrate");
    assert_eq!(row.release, "team/demo");
    assert_eq!(row.namespace, "team");
    assert!(!row.cluster_scoped);
    assert!(row.evidence.contains("janitor"), "{}", row.evidence);
    let mut role = hook("ClusterRole", LiveStatus::Present);
    role.key.namespace = None;
    let row = OrphanRow::of(&role, &orphan());
    assert!(row.cluster_scoped);
    assert_eq!(
        row.namespace, "team",
        "a cluster-scoped leftover shows its release's namespace"
    );
}
