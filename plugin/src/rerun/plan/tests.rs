use super::*;
use crate::testdata::{self, record};
use serde_json::json;

fn hook(name: &str, kind: &str, weight: i64, policies: &[&str]) -> Value {
    let mut hook = testdata::hook(name, kind, "  resourceVersion: \"7\"\n");
    hook["weight"] = json!(weight);
    hook["delete_policies"] = json!(policies);
    hook
}

fn demo() -> Record {
    record(
        &json!({
            "name": "demo", "namespace": "team", "version": 2,
            "info": {"status": "deployed"},
            "hooks": [
                hook("demo-migrate", "Job", -5, &["before-hook-creation", "hook-succeeded"]),
                hook("demo-backup", "Job", -5, &["hook-failed"]),
                hook("demo-sa", "ServiceAccount", -20, &[]),
                hook("demo-crd", "CustomResourceDefinition", -30, &["before-hook-creation"]),
                hook("demo-pod", "Pod", 0, &["hook-succeed"]),
            ]
        })
        .to_string(),
    )
}

fn names(plan: &Plan) -> Vec<&str> {
    plan.steps.iter().map(|s| s.hook.name.as_str()).collect()
}

#[test]
fn steps_follow_helm_order_weight_then_name() {
    let plan = plan(&demo(), HookEvent::PreUpgrade, &[]).unwrap();
    assert_eq!(
        names(&plan),
        [
            "demo-crd",
            "demo-sa",
            "demo-backup",
            "demo-migrate",
            "demo-pod"
        ]
    );
}

#[test]
fn default_policy_applies_only_when_none_is_written() {
    let plan = plan(&demo(), HookEvent::PreUpgrade, &[]).unwrap();
    let step = |n: &str| plan.steps.iter().find(|s| s.hook.name == n).unwrap();
    let sa = step("demo-sa");
    assert!(sa.defaulted && sa.delete_before && !sa.delete_on_success && !sa.wait);
    let backup = step("demo-backup");
    assert!(!backup.delete_before && backup.delete_on_failure && backup.wait);
    let migrate = step("demo-migrate");
    assert!(migrate.delete_before && migrate.delete_on_success && !migrate.delete_on_failure);
    // A typo switches the default off and matches nothing.
    let pod = step("demo-pod");
    assert!(!pod.defaulted && !pod.delete_before && !pod.delete_on_success && pod.wait);
    // CRDs are never deleted by hook policy.
    let crd = step("demo-crd");
    assert!(!crd.delete_before);
}

#[test]
fn a_subset_keeps_helm_order() {
    let only = vec!["demo-pod".to_string(), "demo-sa".to_string()];
    let plan = plan(&demo(), HookEvent::PreUpgrade, &only).unwrap();
    assert_eq!(names(&plan), ["demo-sa", "demo-pod"]);
}

#[test]
fn unknown_hook_names_are_usage_errors_listing_the_event_hooks() {
    let only = vec!["nope".to_string()];
    let e = plan(&demo(), HookEvent::PreUpgrade, &only).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("demo-migrate"), "{e}");
}

#[test]
fn an_event_without_hooks_fails() {
    let e = plan(&demo(), HookEvent::PostDelete, &[]).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("no post-delete hooks"), "{e}");
}

#[test]
fn objects_are_created_in_the_release_namespace_without_server_fields() {
    let plan = plan(&demo(), HookEvent::PreUpgrade, &[]).unwrap();
    let job = plan
        .steps
        .iter()
        .find(|s| s.hook.name == "demo-migrate")
        .unwrap();
    let object = job.object(true, "team/demo.v3");
    assert_eq!(object["metadata"]["namespace"], "team");
    assert_eq!(
        object["metadata"]["annotations"]["hooks.helm-hooks.io/rerun-of"],
        "team/demo.v3"
    );
    assert!(object["metadata"].get("resourceVersion").is_none());
    let crd = &plan.steps[0];
    assert!(
        crd.object(false, "team/demo.v3")["metadata"]
            .get("namespace")
            .is_none()
    );
}

#[test]
fn plan_table_names_every_hook_and_never_the_values() {
    let mut text = Vec::new();
    plan(&demo(), HookEvent::PreUpgrade, &[])
        .unwrap()
        .write(&mut text)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with(
        "Plan: run 5 pre-upgrade hooks of release demo (revision 2) in namespace team"
    ));
    assert!(text.contains("serviceaccount/demo-sa"));
    assert!(text.contains("before-hook-creation (default)"));
}

/// The planner on the real helm 3 and helm 4 release records.
mod real_records {
    use super::*;
    use crate::testdata::{HELMS, SECRET_VALUE};
    use helm_hooks::release::HookPhase;

    fn steps(plan: &Plan) -> Vec<(String, i64)> {
        plan.steps
            .iter()
            .map(|s| (s.hook.kubectl_name(), s.weight))
            .collect()
    }

    fn step<'a>(plan: &'a Plan, name: &str) -> &'a Step {
        plan.steps
            .iter()
            .find(|s| s.hook.name == name)
            .unwrap_or_else(|| panic!("no step {name}"))
    }

    fn text(plan: &Plan) -> String {
        let mut out = Vec::new();
        plan.write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn pre_upgrade_plan_of_every_revision_is_in_helm_order() {
        for helm in HELMS {
            for revision in 1..=3 {
                let plan = plan(&helm.secret(revision), HookEvent::PreUpgrade, &[]).unwrap();
                let backup = format!("job.batch/{}", helm.backup(revision));
                assert_eq!(
                    steps(&plan),
                    [
                        ("serviceaccount/demo-hooks".to_string(), -20),
                        ("pod/demo-config-validate".to_string(), -10),
                        ("job.batch/demo-db-migrate".to_string(), -5),
                        (backup, -1),
                    ],
                    "{} v{revision}",
                    helm.prefix
                );
                assert_eq!(
                    (
                        plan.release.as_str(),
                        plan.namespace.as_str(),
                        plan.revision
                    ),
                    ("demo", helm.namespace, revision)
                );
                assert!(
                    plan.steps
                        .iter()
                        .all(|s| s.hook.namespace == helm.namespace)
                );
            }
        }
    }

    #[test]
    fn pre_upgrade_steps_apply_the_recorded_delete_policies() {
        for helm in HELMS {
            let plan = plan(&helm.secret(2), HookEvent::PreUpgrade, &[]).unwrap();
            let flags = |s: &Step| {
                (
                    s.defaulted,
                    s.delete_before,
                    s.wait,
                    s.delete_on_success,
                    s.delete_on_failure,
                )
            };
            // (defaulted, delete before, wait, delete on success, delete on failure)
            assert_eq!(
                flags(step(&plan, "demo-hooks")),
                (false, true, false, false, false)
            );
            assert_eq!(
                flags(step(&plan, "demo-config-validate")),
                (false, false, true, true, false)
            );
            assert_eq!(
                flags(step(&plan, "demo-db-migrate")),
                (false, true, true, true, false)
            );
            // hook-succeeded alone: no before-hook-creation, a failed backup stays.
            let backup = step(&plan, &helm.backup(2));
            assert_eq!(flags(backup), (false, false, true, true, false));
            assert_eq!(backup.policies, [DeletePolicy::HookSucceeded]);
            let stored = helm
                .secret(2)
                .release
                .hooks
                .iter()
                .find(|h| h.name == backup.hook.name)
                .cloned();
            assert_eq!(
                stored.unwrap().path,
                "hooks-demo/templates/hook-backup.yaml"
            );
        }
    }

    #[test]
    fn a_hook_without_recorded_delete_policy_gets_before_hook_creation() {
        for helm in HELMS {
            // v3 failed before its post-upgrade hooks ran: demo-seed has no recorded policy.
            let v3 = plan(&helm.secret(3), HookEvent::PostUpgrade, &[]).unwrap();
            assert_eq!(
                steps(&v3),
                [
                    ("job.batch/demo-seed".to_string(), 5),
                    ("job.batch/demo-notify".to_string(), 10)
                ]
            );
            let seed = step(&v3, "demo-seed");
            assert!(seed.defaulted, "{}", helm.prefix);
            assert_eq!(seed.policies, [DeletePolicy::BeforeHookCreation]);
            assert!(seed.delete_before && seed.wait);
            assert!(!seed.delete_on_success && !seed.delete_on_failure);
            let notify = step(&v3, "demo-notify");
            assert!(!notify.defaulted && !notify.delete_before && notify.delete_on_success);
            let table = text(&v3);
            let seed_line = table.lines().find(|l| l.contains("demo-seed")).unwrap();
            assert!(
                seed_line.contains(" before-hook-creation (default) "),
                "{seed_line}"
            );
            // v2 ran it, so Helm recorded the default: same policy, no longer defaulted.
            let v2 = plan(&helm.secret(2), HookEvent::PostUpgrade, &[]).unwrap();
            let seed = step(&v2, "demo-seed");
            assert!(!seed.defaulted && seed.delete_before, "{}", helm.prefix);
            assert!(!text(&v2).contains("(default)"));
        }
    }

    #[test]
    fn failed_revision_reruns_the_failed_hook_and_the_one_never_run() {
        for helm in HELMS {
            let record = helm.secret(3);
            let hook = |name: &str| {
                record
                    .release
                    .hooks
                    .iter()
                    .find(|h| h.name == name)
                    .unwrap()
            };
            assert_eq!(hook("demo-db-migrate").last_run.phase, HookPhase::Failed);
            let backup = &hook(&helm.backup(3)).last_run;
            assert_eq!(backup.phase, HookPhase::Unknown, "{}", helm.prefix);
            assert_eq!((backup.started(), backup.completed()), (None, None));

            // Asked in any order, run in Helm's.
            let only = [helm.backup(3).to_string(), "demo-db-migrate".to_string()];
            let plan = plan(&record, HookEvent::PreUpgrade, &only).unwrap();
            assert_eq!(
                steps(&plan),
                [
                    ("job.batch/demo-db-migrate".to_string(), -5),
                    (format!("job.batch/{}", helm.backup(3)), -1)
                ]
            );
            let object = plan.steps[0].object(true, &plan.rerun_stamp());
            assert_eq!(object["kind"], "Job");
            assert_eq!(object["metadata"]["name"], "demo-db-migrate");
            assert_eq!(object["metadata"]["namespace"], helm.namespace);
            assert_eq!(object["spec"]["backoffLimit"], 0);
            let table = text(&plan);
            assert!(
                table.starts_with(&format!(
                    "Plan: run 2 pre-upgrade hooks of release demo (revision 3) in namespace \
                         {}, in Helm's order:\n",
                    helm.namespace
                )),
                "{table}"
            );
            assert!(!table.contains(SECRET_VALUE));
        }
    }

    #[test]
    fn configmap_record_plans_install_and_test_hooks() {
        for helm in HELMS {
            let record = helm.configmap();
            let install = plan(&record, HookEvent::PreInstall, &[]).unwrap();
            assert_eq!(
                steps(&install),
                [
                    ("serviceaccount/demo-hooks".to_string(), -20),
                    ("pod/demo-config-validate".to_string(), -10)
                ]
            );
            assert_eq!(install.namespace, helm.configmap_namespace);
            assert_eq!(
                install.steps[1].object(true, &install.rerun_stamp())["metadata"]["namespace"],
                helm.configmap_namespace
            );
            let upgrade = plan(&record, HookEvent::PreUpgrade, &[]).unwrap();
            assert_eq!(upgrade.steps[3].hook.name, helm.configmap_backup());
            // The test Pod has no weight in the record: 0.
            let test = plan(&record, HookEvent::Test, &[]).unwrap();
            assert_eq!(steps(&test), [("pod/demo-smoke-test".to_string(), 0)]);
            let smoke = &test.steps[0];
            assert!(!smoke.defaulted && smoke.delete_before && smoke.wait);
            assert!(!smoke.delete_on_success);
            let e = plan(&record, HookEvent::PreRollback, &[]).unwrap_err();
            assert!(e.to_string().contains("no pre-rollback hooks"), "{e}");
        }
    }
}
