use super::*;
use crate::ownership::tests::{annotations, job};
use crate::release::Release;
use serde_json::{Value, json};

/// 2026-05-01T10:00:00Z.
const INSTALLED_S: i64 = 1_777_629_600;
const INSTALLED: &str = "2026-05-01T10:00:00Z";
const RAN: &str = "2026-05-01T10:00:05Z";
const RAN_END: &str = "2026-05-01T10:01:00Z";

fn revision(version: i64, status: &str, deleted: Option<&str>, hooks: Vec<Value>) -> Release {
    serde_json::from_value(json!({
        "name": "demo", "namespace": "team", "version": version,
        "info": {"status": status, "first_deployed": INSTALLED, "deleted": deleted},
        "hooks": hooks,
    }))
    .unwrap()
}

fn seed_hook() -> Value {
    json!({
        "name": "demo-seed", "kind": "Job", "path": "demo/templates/seed.yaml",
        "manifest": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: demo-seed\n",
        "events": ["post-install"],
        "last_run": {"started_at": RAN, "completed_at": RAN_END, "phase": "Succeeded"},
    })
}

fn releases(status: &str) -> BTreeMap<ReleaseRef, ReleaseHooks> {
    let deleted = (status == "uninstalled").then_some("2026-05-02T00:00:00Z");
    let revisions = [revision(1, status, deleted, vec![seed_hook()])];
    BTreeMap::from([(demo(), ReleaseHooks::new(revisions.iter()))])
}

fn demo() -> ReleaseRef {
    ReleaseRef {
        namespace: "team".into(),
        name: "demo".into(),
    }
}

const HOOK: (&str, &str) = ("helm.sh/hook", "post-install");
const STAMP: (&str, &str) = ("hooks.helm-hooks.io/release", "team/demo");

#[test]
fn an_object_without_helm_sh_hook_is_never_an_orphan() {
    let a = annotations(&[STAMP]);
    assert_eq!(
        classify(&job("demo-seed", INSTALLED_S + 10, &a), &BTreeMap::new()),
        None
    );
}

#[test]
fn a_hand_made_hook_never_stamped_nor_recorded_is_never_an_orphan() {
    let a = annotations(&[HOOK]);
    assert_eq!(
        classify(&job("hand-made", INSTALLED_S, &a), &BTreeMap::new()),
        None
    );
    assert_eq!(
        classify(&job("hand-made", INSTALLED_S, &a), &releases("uninstalled")),
        None
    );
}

#[test]
fn a_hook_run_of_an_installed_release_is_not_an_orphan_even_when_stamped() {
    let a = annotations(&[HOOK, STAMP]);
    assert_eq!(
        classify(
            &job("demo-seed", INSTALLED_S + 10, &a),
            &releases("deployed")
        ),
        None
    );
}

#[test]
fn a_hook_run_recorded_by_an_uninstalled_release_is_an_orphan_without_a_stamp() {
    let a = annotations(&[HOOK]);
    let orphan = classify(
        &job("demo-seed", INSTALLED_S + 10, &a),
        &releases("uninstalled"),
    );
    assert_eq!(
        orphan,
        Some(Orphan {
            release: demo(),
            evidence: Evidence::UninstalledRecord { revisions: vec![1] },
        })
    );
}

#[test]
fn a_stamped_hook_of_a_release_without_records_is_an_orphan() {
    let a = annotations(&[HOOK, STAMP]);
    let orphan = classify(&job("demo-seed", INSTALLED_S + 10, &a), &BTreeMap::new()).unwrap();
    assert_eq!(orphan.release, demo());
    assert_eq!(
        orphan.evidence,
        Evidence::StampedReleaseGone(Stamper::Janitor)
    );
}

#[test]
fn a_rerun_of_a_release_without_records_is_an_orphan() {
    let a = annotations(&[HOOK, ("hooks.helm-hooks.io/rerun-of", "team/demo.v3")]);
    let orphan = classify(&job("demo-seed-rerun", INSTALLED_S, &a), &BTreeMap::new()).unwrap();
    assert_eq!(orphan.release, demo());
    assert_eq!(
        orphan.evidence,
        Evidence::StampedReleaseGone(Stamper::Rerun)
    );
}

#[test]
fn a_stamped_hook_no_record_lists_of_an_uninstalled_release_is_an_orphan() {
    let a = annotations(&[HOOK, STAMP]);
    let orphan = classify(
        &job("renamed", INSTALLED_S + 10, &a),
        &releases("uninstalled"),
    )
    .unwrap();
    assert_eq!(
        orphan.evidence,
        Evidence::StampedReleaseUninstalled(Stamper::Janitor)
    );
}

/// The stale Job of an earlier install, left behind under a release name that was installed
/// again: stamped for that name, created before the new install.
#[test]
fn a_stamped_hook_older_than_the_reinstalled_release_is_an_orphan() {
    let a = annotations(&[HOOK, STAMP]);
    let old = INSTALLED_S - 3600;
    let orphan = classify(&job("demo-seed", old, &a), &releases("deployed")).unwrap();
    assert_eq!(
        orphan.evidence,
        Evidence::StampedBeforeReinstall(Stamper::Janitor)
    );
}

#[test]
fn a_stamped_hook_of_an_installed_release_created_since_its_install_is_not_an_orphan() {
    let a = annotations(&[HOOK, STAMP]);
    assert_eq!(
        classify(&job("renamed", INSTALLED_S + 10, &a), &releases("deployed")),
        None
    );
}

#[test]
fn a_malformed_stamp_is_no_evidence() {
    for value in ["demo", "", "/", "team/"] {
        let a = annotations(&[HOOK, ("hooks.helm-hooks.io/release", value)]);
        let found = classify(&job("x", INSTALLED_S, &a), &BTreeMap::new());
        assert_eq!(found, None, "{value:?}");
    }
    for value in ["team/demo.vX", "/demo.v1", "team/.v1", "demo.v1"] {
        let a = annotations(&[HOOK, ("hooks.helm-hooks.io/rerun-of", value)]);
        let found = classify(&job("x", INSTALLED_S, &a), &BTreeMap::new());
        assert_eq!(found, None, "{value:?}");
    }
}

#[test]
fn evidence_reads_as_a_sentence() {
    assert_eq!(
        Evidence::UninstalledRecord {
            revisions: vec![1, 2]
        }
        .to_string(),
        "hook run of revision 1,2 of an uninstalled release (--keep-history record)"
    );
    assert_eq!(
        Evidence::StampedReleaseGone(Stamper::Janitor).to_string(),
        "stamped by the janitor; the release has no records (uninstalled)"
    );
}
