use super::*;
use serde_json::{Value, json};

const STARTED: &str = "2026-05-01T12:00:00.123456789+02:00";
/// `STARTED` in seconds since the epoch.
const STARTED_S: i64 = 1_777_629_600;

fn revision(version: i64, status: &str, hooks: Vec<Value>) -> Release {
    serde_json::from_value(json!({
        "name": "demo", "namespace": "team", "version": version,
        "info": {"status": status},
        "hooks": hooks,
    }))
    .unwrap()
}

fn hook(name: &str, events: &[&str], started: &str, completed: &str) -> Value {
    json!({
        "name": name, "kind": "Job", "path": "demo/templates/job.yaml",
        "manifest": format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n"),
        "events": events,
        "last_run": {"started_at": started, "completed_at": completed, "phase": "Succeeded"},
    })
}

fn release() -> ReleaseHooks {
    let revisions = [
        revision(
            1,
            "superseded",
            vec![hook(
                "demo-migrate",
                &["pre-install", "pre-upgrade"],
                STARTED,
                "2026-05-01T10:01:00Z",
            )],
        ),
        revision(
            2,
            "deployed",
            vec![hook(
                "demo-migrate",
                &["pre-install", "pre-upgrade"],
                "",
                "",
            )],
        ),
    ];
    ReleaseHooks::new(revisions.iter())
}

/// Annotations from pairs (shared with the orphans tests).
pub(crate) fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A live Job `name` in namespace team (shared with the orphans tests).
pub(crate) fn job<'a>(
    name: &'a str,
    created: i64,
    annotations: &'a BTreeMap<String, String>,
) -> LiveMeta<'a> {
    LiveMeta {
        group: "batch",
        kind: "Job",
        namespace: Some("team"),
        name,
        created: Some(created),
        annotations,
    }
}

const HOOK: (&str, &str) = (HOOK_ANNOTATION, "pre-upgrade, Pre-Install");

#[test]
fn an_object_created_inside_the_recorded_run_is_a_hook_run() {
    let a = annotations(&[HOOK]);
    assert_eq!(
        release().ownership(&job("demo-migrate", STARTED_S + 30, &a)),
        Ownership::HookRun { revisions: vec![1] }
    );
    // Clock skew between Helm's client and the apiserver is tolerated.
    assert!(matches!(
        release().ownership(&job("demo-migrate", STARTED_S - CLOCK_SKEW_SECONDS, &a)),
        Ownership::HookRun { .. }
    ));
}

#[test]
fn an_object_without_the_hook_annotation_is_not_a_hook() {
    let a = annotations(&[]);
    assert_eq!(
        release().ownership(&job("demo-migrate", STARTED_S + 30, &a)),
        Ownership::NotOwned(NotOwned::NotAHook)
    );
}

#[test]
fn another_releases_resource_is_never_owned() {
    let a = annotations(&[
        HOOK,
        (RELEASE_NAME_ANNOTATION, "other"),
        (RELEASE_NAMESPACE_ANNOTATION, "team"),
    ]);
    assert_eq!(
        release().ownership(&job("demo-migrate", STARTED_S + 30, &a)),
        Ownership::NotOwned(NotOwned::OtherRelease {
            release: "team/other".into()
        })
    );
}

#[test]
fn a_hand_made_copy_created_later_is_not_a_hook_run() {
    let a = annotations(&[HOOK]);
    let later = STARTED_S + 61 + CLOCK_SKEW_SECONDS + 1;
    let verdict = release().ownership(&job("demo-migrate", later, &a));
    assert!(
        matches!(
            verdict,
            Ownership::NotOwned(NotOwned::NotCreatedByARun { .. })
        ),
        "{verdict:?}"
    );
}

#[test]
fn different_events_or_names_or_kinds_do_not_match() {
    let a = annotations(&[(HOOK_ANNOTATION, "post-install")]);
    assert!(matches!(
        release().ownership(&job("demo-migrate", STARTED_S + 1, &a)),
        Ownership::NotOwned(NotOwned::EventsDiffer { .. })
    ));
    let a = annotations(&[HOOK]);
    assert_eq!(
        release().ownership(&job("demo-other", STARTED_S + 1, &a)),
        Ownership::NotOwned(NotOwned::NotInRecords)
    );
    let pod = LiveMeta {
        group: "",
        kind: "Pod",
        ..job("demo-migrate", STARTED_S + 1, &a)
    };
    assert_eq!(
        release().ownership(&pod),
        Ownership::NotOwned(NotOwned::NotInRecords)
    );
    let elsewhere = LiveMeta {
        namespace: Some("prod"),
        ..job("demo-migrate", STARTED_S + 1, &a)
    };
    assert_eq!(
        release().ownership(&elsewhere),
        Ownership::NotOwned(NotOwned::NotInRecords)
    );
}

#[test]
fn a_rerun_stamp_naming_a_stored_revision_makes_a_hook_run() {
    let stamp = rerun_stamp("team", "demo", 2);
    let a = annotations(&[HOOK, (RERUN_ANNOTATION, &stamp)]);
    assert_eq!(
        release().ownership(&job("demo-migrate", STARTED_S + 86_400 * 30, &a)),
        Ownership::HookRun { revisions: vec![2] }
    );
    for foreign in ["team/other.v2", "prod/demo.v2", "team/demo.v9", "garbage"] {
        let a = annotations(&[HOOK, (RERUN_ANNOTATION, foreign)]);
        assert!(
            matches!(
                release().ownership(&job("demo-migrate", STARTED_S + 86_400 * 30, &a)),
                Ownership::NotOwned(_)
            ),
            "{foreign}"
        );
    }
}

#[test]
fn a_hook_whose_stored_manifest_does_not_parse_matches_nothing() {
    let mut broken = hook("demo-migrate", &["pre-upgrade"], STARTED, "");
    broken["manifest"] = json!("apiVersion: [unclosed\n");
    let revisions = [revision(1, "deployed", vec![broken])];
    let release = ReleaseHooks::new(revisions.iter());
    let a = annotations(&[(HOOK_ANNOTATION, "pre-upgrade")]);
    assert_eq!(
        release.ownership(&job("demo-migrate", STARTED_S + 1, &a)),
        Ownership::NotOwned(NotOwned::NotInRecords)
    );
}

#[test]
fn pending_and_uninstalling_releases_are_untouchable_without_force() {
    for status in [
        "pending-install",
        "pending-upgrade",
        "pending-rollback",
        "uninstalling",
    ] {
        let revisions = [revision(1, "deployed", vec![]), revision(2, status, vec![])];
        let release = ReleaseHooks::new(revisions.iter());
        let refusal = release.guard(false).unwrap_err();
        assert_eq!(refusal.revision, 2);
        assert!(refusal.to_string().contains(status), "{refusal}");
        assert!(release.guard(true).is_ok());
    }
    for status in ["deployed", "failed", "superseded", "uninstalled"] {
        let revisions = [revision(1, status, vec![])];
        assert!(ReleaseHooks::new(revisions.iter()).guard(false).is_ok());
    }
    let revisions = [revision(1, "uninstalled", vec![])];
    assert!(!ReleaseHooks::new(revisions.iter()).is_live());
}

#[test]
fn objects_older_than_the_release_are_leftovers_of_an_earlier_one() {
    let first = Some("2026-05-01T10:00:00Z");
    // STARTED is 10:00Z, the first deployment's time.
    assert!(predates_release(first, STARTED_S - CLOCK_SKEW_SECONDS - 1));
    assert!(!predates_release(first, STARTED_S - CLOCK_SKEW_SECONDS));
    assert!(!predates_release(first, STARTED_S + 60));
    assert!(!predates_release(None, 0));
    assert!(!predates_release(Some("garbage"), 0));
}

#[test]
fn crds_are_never_deleted_and_keep_is_case_insensitive() {
    assert!(is_never_deleted("CustomResourceDefinition"));
    assert!(!is_never_deleted("Job"));
    assert!(is_kept(&annotations(&[(
        RESOURCE_POLICY_ANNOTATION,
        " Keep "
    )])));
    assert!(!is_kept(&annotations(&[(
        RESOURCE_POLICY_ANNOTATION,
        "delete"
    )])));
}

#[test]
fn recorded_run_and_uninstalled_time_come_from_the_records() {
    let r = release();
    let a = annotations(&[("helm.sh/hook", "pre-install,pre-upgrade")]);
    let live = job("demo-migrate", STARTED_S + 10, &a);
    let run = r.recorded_run(&live, 1).expect("revision 1 has the hook");
    assert_eq!(run.phase, HookPhase::Succeeded);
    assert!(run.is_final());
    assert!(run.completed.is_some());
    assert_eq!(r.recorded_run(&live, 7), None);
    assert_eq!(r.uninstalled_at(), None);
    assert!(!r.is_busy());
    assert_eq!(r.latest_revision(), 2);
    assert_eq!(r.namespace(), "team");
    assert!(
        r.hook_locations()
            .contains(&("batch".into(), "Job".into(), "team".into()))
    );

    let mut gone = revision(3, "uninstalled", vec![]);
    gone.info.as_mut().unwrap().deleted = Some("2026-05-02T00:00:00Z".into());
    let revisions = [gone];
    let r = ReleaseHooks::new(revisions.iter());
    assert!(!r.is_live());
    assert_eq!(
        r.uninstalled_at(),
        Some(
            "2026-05-02T00:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_second()
        )
    );
}
