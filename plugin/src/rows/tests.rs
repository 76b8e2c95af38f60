use super::*;
use crate::testdata::{self, record};

fn hook(name: &str, kind: &str, events: &[&str], weight: i64) -> serde_json::Value {
    let mut hook = testdata::hook(name, kind, "");
    hook["events"] = serde_json::json!(events);
    hook["weight"] = serde_json::json!(weight);
    hook["last_run"] = serde_json::json!({"started_at": "", "completed_at": "", "phase": ""});
    hook
}

fn demo() -> Record {
    record(&demo_json().to_string())
}

fn demo_json() -> serde_json::Value {
    serde_json::json!({
        "name": "demo", "namespace": "team", "version": 3,
        "info": {"status": "deployed"},
        "config": {"dbPassword": "s3cr3t"},
        "hooks": [
            hook("z-job", "Job", &["pre-upgrade"], 0),
            hook("a-job", "Job", &["pre-upgrade", "pre-install"], 0),
            hook("sa", "ServiceAccount", &["pre-upgrade", "pre-install"], -10),
            hook("late", "Job", &["post-install"], 5),
            hook("early", "Job", &["post-install"], -5),
        ]
    })
}

/// Issue 11: after `helm uninstall` and a reinstall under the same name, the stale Job of the
/// first installation listed as a `Complete` hook of the new revision 1 (AGE older than the
/// release). An object older than the release's first deployment is `Stale`.
#[test]
fn a_reinstall_does_not_claim_the_previous_installations_leftover() {
    let mut json = demo_json();
    json["info"]["first_deployed"] = serde_json::json!("2026-05-01T12:00:00Z");
    let record = record(&json.to_string());
    let mut rows = rows_of(&record, None);
    let older: jiff::Timestamp = "2026-04-30T08:00:00Z".parse().unwrap();
    let newer: jiff::Timestamp = "2026-05-01T12:00:30Z".parse().unwrap();
    let live = |name: &str, created| {
        let mut object = testdata::live("Job", "team", name, LiveStatus::Complete);
        object.created = Some(created);
        object
    };
    let lookup = testdata::lookup(vec![live("late", older), live("early", newer)]);
    attach_live(&mut rows, &lookup);
    let status = |name: &str| rows.iter().find(|(_, r)| r.name == name).unwrap().1.status;
    assert_eq!(status("late"), LiveStatus::Stale);
    assert_eq!(status("early"), LiveStatus::Complete);
}

/// Issue 10, defect 10: a hook whose stored manifest is invalid YAML listed as `Absent`
/// (it exists) with exit 0. It lists as `Unknown`, with an error naming the record.
#[test]
fn invalid_stored_yaml_is_reported_not_listed_as_absent() {
    let record = record(
        &serde_json::json!({
            "name": "demo", "namespace": "team", "version": 2,
            "info": {"status": "deployed"},
            "hooks": [{
                "name": "demo-migrate", "kind": "Job", "path": "demo/templates/job.yaml",
                "manifest": "apiVersion: batch/v1\nkind: Job\nmetadata: {name: [unclosed\n",
                "events": ["pre-upgrade"],
            }],
        })
        .to_string(),
    );
    let rows = rows_of(&record, None);
    assert_ne!(rows[0].1.status, LiveStatus::Absent);
    let errors = manifest_errors(&record, &rows);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("sh.helm.release.v1.demo.v2") && errors[0].contains("invalid YAML"),
        "{}",
        errors[0]
    );
}

#[test]
fn rows_follow_helm_order_per_event() {
    let names: Vec<String> = rows_of(&demo(), None)
        .into_iter()
        .map(|(_, r)| r.name)
        .collect();
    // pre-install: sa (-10), a-job; post-install: early, late; pre-upgrade adds z-job.
    assert_eq!(names, ["sa", "a-job", "early", "late", "z-job"]);
}

#[test]
fn event_filter_shows_that_event_in_order() {
    let names: Vec<String> = rows_of(&demo(), Some(HookEvent::PreUpgrade))
        .into_iter()
        .map(|(_, r)| r.name)
        .collect();
    assert_eq!(names, ["sa", "a-job", "z-job"]);
}

#[test]
fn rows_carry_default_delete_policy_and_never_values() {
    let rows = rows_of(&demo(), None);
    let (_, row) = &rows[0];
    assert!(row.delete_policies.is_empty());
    assert_eq!(row.effective_delete_policies, ["before-hook-creation"]);
    assert!(!row.last_run.ever_ran());
    let json = serde_json::to_string(&rows.iter().map(|(_, r)| r).collect::<Vec<_>>()).unwrap();
    assert!(!json.contains("s3cr3t"));
}
