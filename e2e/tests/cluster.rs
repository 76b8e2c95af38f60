//! The test cluster itself: versions as helm and kwok see them, and the kwok stages that the
//! other end-to-end tests rely on (tests/cluster/kwok.yaml, documented in tests/cluster/README.md).

use std::time::Duration;

use e2e::{Helm, TestNamespace, condition, kubectl, wait_until};

#[test]
fn versions_are_the_pinned_releases() {
    let v = kubectl().args(["version", "-o", "json"]).success().json();
    assert_eq!(v["serverVersion"]["gitVersion"], "v1.36.3", "{v:#}");
    assert_eq!(v["serverVersion"]["minor"], "36", "{v:#}");
    assert_eq!(v["clientVersion"]["gitVersion"], "v1.36.3", "{v:#}");
    for (helm, want) in [(Helm::V4, "v4.3.1"), (Helm::V3, "v3.22.0")] {
        let out = e2e::helm(helm).args(["version", "--short"]).success();
        assert!(out.stdout.starts_with(want), "{out}");
    }
    let node = kubectl()
        .args(["get", "node", "kwok-node-0", "-o", "json"])
        .success()
        .json();
    assert_eq!(condition(&node, "Ready"), Some("True"), "{node:#}");
}

fn pod(name: &str, restart_policy: &str, labels: &str) -> String {
    format!(
        r#"{{"apiVersion": "v1", "kind": "Pod",
            "metadata": {{"name": "{name}", "labels": {{{labels}}}}},
            "spec": {{"restartPolicy": "{restart_policy}",
                      "containers": [{{"name": "c", "image": "registry.example.invalid/x:1"}}]}}}}"#
    )
}

fn phase(ns: &TestNamespace, name: &str) -> String {
    ns.get_json("pod", name)["status"]["phase"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn pods_end_as_their_labels_say() {
    let ns = TestNamespace::new("kwok-stages");
    for (name, policy, labels) in [
        ("never", "Never", ""),
        ("on-failure", "OnFailure", ""),
        ("fail", "Never", r#""helm-hooks.test/fail": "true""#),
        ("hang", "Never", r#""helm-hooks.test/hang": "true""#),
        ("fail-false", "Never", r#""helm-hooks.test/fail": "false""#),
        ("always", "Always", ""),
    ] {
        ns.kubectl()
            .args(["create", "-f", "-"])
            .stdin(pod(name, policy, labels))
            .success();
    }
    let timeout = Duration::from_secs(30);
    for (name, want) in [
        ("never", "Succeeded"),
        ("on-failure", "Succeeded"),
        ("fail-false", "Succeeded"),
        ("fail", "Failed"),
    ] {
        wait_until(timeout, &format!("pod {name} {want}"), || {
            phase(&ns, name) == want
        });
    }
    let failed = ns.get_json("pod", "fail");
    assert_eq!(
        failed["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 1,
        "{failed:#}"
    );
    for name in ["hang", "always"] {
        wait_until(timeout, &format!("pod {name} Running"), || {
            phase(&ns, name) == "Running"
        });
    }
    // Still Running a while later.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(phase(&ns, "hang"), "Running");
    assert_eq!(phase(&ns, "always"), "Running");
    // kwok serves the kubelet's log API: every container "logged" the same fixed lines.
    let logs = ns.kubectl().args(["logs", "fail"]).success();
    assert!(
        logs.stdout.contains("fake log of a kwok container"),
        "{logs}"
    );
    // Deleted Pods go away without a grace period.
    ns.kubectl()
        .args(["delete", "pod", "hang", "--timeout=20s"])
        .success();
}

#[test]
fn jobs_complete_or_fail_through_the_job_controller() {
    let ns = TestNamespace::new("kwok-jobs");
    let job = |name: &str, labels: &str| {
        format!(
            r#"{{"apiVersion": "batch/v1", "kind": "Job", "metadata": {{"name": "{name}"}},
                "spec": {{"backoffLimit": 0, "template": {{"metadata": {{"labels": {{{labels}}}}},
                  "spec": {{"restartPolicy": "Never",
                            "containers": [{{"name": "c", "image": "registry.example.invalid/x:1"}}]}}}}}}}}"#
        )
    };
    ns.kubectl()
        .args(["create", "-f", "-"])
        .stdin(job("ok", ""))
        .success();
    ns.kubectl()
        .args(["create", "-f", "-"])
        .stdin(job("broken", r#""helm-hooks.test/fail": "true""#))
        .success();
    ns.kubectl()
        .args([
            "wait",
            "--for=condition=Complete",
            "job/ok",
            "--timeout=30s",
        ])
        .success();
    ns.kubectl()
        .args([
            "wait",
            "--for=condition=Failed",
            "job/broken",
            "--timeout=30s",
        ])
        .success();
    let broken = ns.get_json("job", "broken");
    assert_eq!(broken["status"]["failed"], 1, "{broken:#}");
}
