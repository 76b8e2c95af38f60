use super::*;
use crate::cleanup::select::Criteria;
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
    for (kind, status) in [
        ("Job", LiveStatus::Complete),
        ("Job", LiveStatus::Failed),
        ("Pod", LiveStatus::Succeeded),
        ("ServiceAccount", LiveStatus::Present),
    ] {
        assert_eq!(kept(&hook(kind, status), false), None, "{kind}");
    }
}

#[test]
fn running_leftovers_are_kept_unless_forced() {
    let running = hook("Job", LiveStatus::Running);
    let reason = kept(&running, false).unwrap();
    assert!(reason.contains("--force"), "{reason}");
    let pending = hook("Pod", LiveStatus::Pending);
    assert!(kept(&pending, false).is_some());
    assert_eq!(kept(&running, true), None);
}

#[test]
fn protected_leftovers_are_never_deleted_even_with_force() {
    let force = true;
    let mut keep = hook("ServiceAccount", LiveStatus::Present);
    keep.annotations
        .insert("helm.sh/resource-policy".into(), "keep".into());
    assert!(kept(&keep, force).unwrap().contains("keep"));
    let mut controlled = hook("Pod", LiveStatus::Succeeded);
    controlled.controlled = true;
    assert!(kept(&controlled, force).is_some());
    let mut deleting = hook("Job", LiveStatus::Complete);
    deleting.deleting = true;
    assert!(kept(&deleting, force).is_some());
    let crd = hook("CustomResourceDefinition", LiveStatus::Present);
    assert!(kept(&crd, force).is_some());
    let not_a_hook = live("Job", "team", "web", LiveStatus::Complete);
    assert!(kept(&not_a_hook, force).is_some());
}

#[test]
fn status_and_age_filters_apply() {
    let job = hook("Job", LiveStatus::Complete);
    assert!(Criteria::default().admits(&job, later(1)));
    let failed_only = Criteria {
        statuses: vec![LiveStatus::Failed],
        ..Criteria::default()
    };
    assert!(!failed_only.admits(&job, later(1)));
    let hour = Criteria {
        older_than: Some(Duration::from_secs(3600)),
        ..Criteria::default()
    };
    assert!(!hour.admits(&job, later(60)));
    assert!(hour.admits(&job, later(3600)));
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
