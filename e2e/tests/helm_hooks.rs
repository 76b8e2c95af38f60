//! Real helm (v4 and v3) runs the hooks of tests/charts/hooks-demo against the test cluster:
//! Jobs and Pods complete (or fail) through kwok and the job controller, and Helm's release
//! record shows each hook's last run. This proves the test cluster is good enough for the
//! webhook's and the plugin's end-to-end tests.

use e2e::{Helm, TestNamespace, chart, condition, hook, last_run_phase};
use serde_json::Value;

const RELEASE: &str = "demo";

fn install(ns: &TestNamespace, helm: Helm, extra: &[&str]) -> e2e::Output {
    ns.helm(helm)
        .args(["install", RELEASE])
        .arg(chart("hooks-demo"))
        .args(["--timeout", "60s"])
        .args(extra)
        .success()
}

fn upgrade(ns: &TestNamespace, helm: Helm, extra: &[&str]) -> e2e::Run {
    ns.helm(helm)
        .args(["upgrade", RELEASE])
        .arg(chart("hooks-demo"))
        .args(["--timeout", "60s"])
        .args(extra)
}

fn status(ns: &TestNamespace, helm: Helm) -> Value {
    ns.helm(helm)
        .args(["status", RELEASE, "-o", "json"])
        .success()
        .json()
}

fn backup_hook_name(release: &Value) -> String {
    release["hooks"]
        .as_array()
        .expect("hooks")
        .iter()
        .filter_map(|h| h["name"].as_str())
        .find(|n| n.starts_with("demo-backup-"))
        .expect("a demo-backup-<timestamp> hook")
        .to_owned()
}

/// The Job completed through the job controller, and its Pod succeeded through kwok.
fn assert_job_complete(ns: &TestNamespace, name: &str) {
    let job = ns.get_json("job", name);
    assert_eq!(
        condition(&job, "Complete"),
        Some("True"),
        "job {name}: {job:#}"
    );
    assert_eq!(job["status"]["succeeded"], 1, "job {name}: {job:#}");
    let pods = ns
        .kubectl()
        .args([
            "get",
            "pods",
            "-l",
            &format!("job-name={name}"),
            "-o",
            "json",
        ])
        .success()
        .json();
    let phases: Vec<_> = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"]["phase"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(phases, ["Succeeded"], "pods of job {name}");
}

fn assert_gone(ns: &TestNamespace, kind: &str, name: &str) {
    if let Some(obj) = ns.try_get_json(kind, name) {
        // Helm deletes hook-succeeded hooks; a Job's deletion may still be finishing (finalizers).
        assert!(
            obj["metadata"]["deletionTimestamp"].is_string(),
            "{kind}/{name} should have been deleted (hook-succeeded): {obj:#}"
        );
    }
}

fn lifecycle(helm: Helm) {
    let ns = TestNamespace::new(&format!("lifecycle-{helm}"));

    // --- install: pre-install (ServiceAccount -20, config-validate Pod -10), post-install (seed 5, notify 10)
    install(&ns, helm, &[]);
    let rel = status(&ns, helm);
    assert_eq!(rel["info"]["status"], "deployed");
    assert_eq!(rel["version"], 1);
    for name in [
        "demo-hooks",
        "demo-config-validate",
        "demo-seed",
        "demo-notify",
    ] {
        assert_eq!(
            last_run_phase(&rel, name),
            "Succeeded",
            "{helm} install: hook {name}"
        );
    }
    // pre-upgrade-only hooks did not run.
    assert_eq!(last_run_phase(&rel, "demo-db-migrate"), "", "{helm}");
    assert_eq!(last_run_phase(&rel, &backup_hook_name(&rel)), "", "{helm}");
    assert_eq!(
        hook(&rel, "demo-db-migrate")["delete_policies"],
        serde_json::json!(["before-hook-creation", "hook-succeeded"])
    );

    ns.get_json("configmap", "demo-config");
    ns.get_json("serviceaccount", "demo-hooks");
    assert_job_complete(&ns, "demo-seed");
    assert_gone(&ns, "pod", "demo-config-validate");
    assert_gone(&ns, "job", "demo-notify");

    // --- upgrade: pre-upgrade adds db-migrate (-5) and backup (-1)
    upgrade(&ns, helm, &["--set", "message=upgraded"]).success();
    let rel = status(&ns, helm);
    assert_eq!(rel["info"]["status"], "deployed");
    assert_eq!(rel["version"], 2);
    let backup = backup_hook_name(&rel);
    for name in [
        "demo-hooks",
        "demo-config-validate",
        "demo-db-migrate",
        &backup,
        "demo-seed",
        "demo-notify",
    ] {
        assert_eq!(
            last_run_phase(&rel, name),
            "Succeeded",
            "{helm} upgrade: hook {name}"
        );
        let run = &hook(&rel, name)["last_run"];
        assert_ne!(run["started_at"], "", "{helm} upgrade: hook {name}: {run}");
        assert_ne!(
            run["completed_at"], "",
            "{helm} upgrade: hook {name}: {run}"
        );
    }
    assert_eq!(
        ns.get_json("configmap", "demo-config")["data"]["message"],
        "upgraded"
    );
    assert_gone(&ns, "job", "demo-db-migrate");
    assert_gone(&ns, "job", &backup);
    assert_gone(&ns, "pod", "demo-config-validate");
    assert_gone(&ns, "job", "demo-notify");
    assert_job_complete(&ns, "demo-seed");
    ns.get_json("serviceaccount", "demo-hooks");

    // The stored records: v1 superseded, v2 deployed, the same hooks as `helm status`.
    let v1 = ns.release_record(RELEASE, 1, false);
    assert_eq!(v1["info"]["status"], "superseded");
    let v2 = ns.release_record(RELEASE, 2, false);
    assert_eq!(v2["info"]["status"], "deployed");
    assert_eq!(last_run_phase(&v2, "demo-db-migrate"), "Succeeded");
    let secret = ns.get_json("secret", "sh.helm.release.v1.demo.v2");
    assert_eq!(secret["type"], "helm.sh/release.v1");
    assert_eq!(secret["metadata"]["labels"]["owner"], "helm");
    assert_eq!(secret["metadata"]["labels"]["status"], "deployed");

    // --- helm test: the test Pod succeeds through kwok and stays (before-hook-creation only)
    ns.helm(helm)
        .args(["test", RELEASE, "--timeout", "60s"])
        .success();
    let pod = ns.get_json("pod", "demo-smoke-test");
    assert_eq!(pod["status"]["phase"], "Succeeded");
    let rel = status(&ns, helm);
    assert_eq!(
        last_run_phase(&rel, "demo-smoke-test"),
        "Succeeded",
        "{helm} test"
    );
}

fn failed_pre_upgrade(helm: Helm) {
    let ns = TestNamespace::new(&format!("fail-{helm}"));
    install(&ns, helm, &[]);

    // db-migrate's Pod fails (kwok label), its Job fails (backoffLimit 0), so the upgrade fails
    // and the backup hook after it (weight -1) never runs.
    let out = upgrade(&ns, helm, &["--set", "failHook=db-migrate"]).failure();
    assert!(
        out.stderr.contains("demo-db-migrate"),
        "the error names the hook:\n{out}"
    );
    // hook-output-log-policy: hook-failed -> helm printed the failed Pod's log (served by kwok).
    assert!(
        out.combined().contains("fake log of a kwok container"),
        "helm prints the failed hook's logs:\n{out}"
    );
    assert_eq!(
        hook(&status(&ns, helm), "demo-db-migrate")["output_log_policies"],
        serde_json::json!(["hook-failed"])
    );
    let rel = status(&ns, helm);
    assert_eq!(rel["info"]["status"], "failed");
    assert_eq!(rel["version"], 2);
    assert_eq!(last_run_phase(&rel, "demo-config-validate"), "Succeeded");
    assert_eq!(last_run_phase(&rel, "demo-db-migrate"), "Failed");
    assert_eq!(last_run_phase(&rel, &backup_hook_name(&rel)), "");
    assert_eq!(last_run_phase(&rel, "demo-notify"), "");

    // No hook-failed policy: the failed Job stays, with its failed Pod.
    let job = ns.get_json("job", "demo-db-migrate");
    assert_eq!(condition(&job, "Failed"), Some("True"), "{job:#}");
    let pods = ns.names("pods", Some("job-name=demo-db-migrate"));
    assert_eq!(pods.len(), 1, "{pods:?}");
    assert_eq!(ns.get_json("pod", &pods[0])["status"]["phase"], "Failed");
    assert!(
        ns.names("jobs", None)
            .iter()
            .all(|j| !j.starts_with("demo-backup-"))
    );

    // Fixing it works: before-hook-creation replaces the failed Job.
    upgrade(&ns, helm, &[]).success();
    let rel = status(&ns, helm);
    assert_eq!(rel["info"]["status"], "deployed");
    assert_eq!(last_run_phase(&rel, "demo-db-migrate"), "Succeeded");
    assert_gone(&ns, "job", "demo-db-migrate");
}

fn hook_timeout(helm: Helm) {
    let ns = TestNamespace::new(&format!("hang-{helm}"));
    // notify's Pod stays Running (kwok label), so Helm gives up after --timeout.
    let out = ns
        .helm(helm)
        .args(["install", RELEASE])
        .arg(chart("hooks-demo"))
        .args(["--set", "hangHook=notify", "--timeout", "5s"])
        .failure();
    // helm 4: "failed post-install: resource Job/<ns>/demo-notify not ready. status: InProgress,
    // … context deadline exceeded"; helm 3: "failed post-install: … timed out waiting for the condition".
    let timed_out = match helm {
        Helm::V4 => out.stderr.contains("demo-notify") && out.stderr.contains("deadline exceeded"),
        Helm::V3 => out.stderr.contains("timed out waiting for the condition"),
    };
    assert!(
        out.stderr.contains("failed post-install") && timed_out,
        "the error says the post-install hook timed out:\n{out}"
    );
    let rel = status(&ns, helm);
    assert_eq!(rel["info"]["status"], "failed");
    assert_eq!(last_run_phase(&rel, "demo-seed"), "Succeeded");
    assert_eq!(last_run_phase(&rel, "demo-notify"), "Failed");
    let job = ns.get_json("job", "demo-notify");
    assert_eq!(job["status"]["active"], 1, "{job:#}");
}

#[test]
fn helm4_install_upgrade_test() {
    lifecycle(Helm::V4);
}

#[test]
fn helm3_install_upgrade_test() {
    lifecycle(Helm::V3);
}

#[test]
fn helm4_failed_pre_upgrade_hook() {
    failed_pre_upgrade(Helm::V4);
}

#[test]
fn helm3_failed_pre_upgrade_hook() {
    failed_pre_upgrade(Helm::V3);
}

#[test]
fn helm4_hook_timeout() {
    hook_timeout(Helm::V4);
}

#[test]
fn helm3_hook_timeout() {
    hook_timeout(Helm::V3);
}
