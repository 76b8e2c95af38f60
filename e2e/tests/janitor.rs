//! `helm-hooks-janitor` end to end: the built binary against the real control plane, with
//! releases made by real helm 4 and helm 3 from tests/charts/hooks-demo; and what the plugin
//! shows of the janitor's work (`list --orphans`, `cleanup --orphans`, `logs`).
//!
//! Every janitor run is limited to the test's namespace (`--namespaces`), so tests running in
//! parallel never see each other's hooks; the namespaces are made with
//! [`TestNamespace::reviewed`] because the janitor, like the webhook, skips namespaces labelled
//! `helm-hooks.io/webhook=skip`. The binary is `target/<profile>/helm-hooks-janitor`
//! and `target/<profile>/kubectl-hooks` (`cargo build --workspace --bins`, as scripts/test
//! does), or `$HELM_HOOKS_JANITOR_BIN` and `$KUBECTL_HOOKS_BIN`.

use e2e::{Cluster, Helm, Run, TestNamespace, chart, wait_until, workspace_binary};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RELEASE: &str = "demo";

fn janitor_binary() -> std::path::PathBuf {
    workspace_binary("helm-hooks-janitor", "HELM_HOOKS_JANITOR_BIN")
}

/// `kubectl-hooks -n NS ARGS…` (the plugin, built by scripts/test with the workspace).
fn hooks(ns: &TestNamespace) -> Run {
    e2e::kubectl_hooks().args(["-n", ns.name()])
}

/// Who removes the leftovers in [`orphans_removed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remover {
    /// `helm-hooks-janitor --orphans`.
    Janitor,
    /// `kubectl hooks cleanup --orphans`.
    Plugin,
}

/// `helm-hooks-janitor --once` limited to the namespace, with the lease in it.
fn janitor_once(ns: &TestNamespace, extra: &[&str]) -> e2e::Output {
    Run::new(janitor_binary())
        .args(["--kubeconfig"])
        .arg(Cluster::get().kubeconfig())
        .args(["--once", "--listen", "", "--namespaces", ns.name()])
        .args(["--lease-namespace", ns.name(), "--lease-duration", "5"])
        .args(extra)
        .env("RUST_LOG", "info,helm_hooks_janitor=debug")
        .success()
}

fn install(ns: &TestNamespace, helm: Helm, extra: &[&str]) -> e2e::Output {
    ns.helm(helm)
        .args(["install", RELEASE])
        .arg(chart("hooks-demo"))
        .args(extra)
        .output()
}

fn exists(ns: &TestNamespace, kind: &str, name: &str) -> bool {
    ns.try_get_json(kind, name).is_some()
}

fn annotate(ns: &TestNamespace, kind: &str, name: &str, annotation: &str) {
    ns.kubectl()
        .args(["annotate", kind, name, annotation, "--overwrite"])
        .success();
}

fn deletion_events(ns: &TestNamespace, name: &str) -> usize {
    ns.kubectl()
        .args([
            "get",
            "events",
            "-o",
            "json",
            "--field-selector",
            &format!("involvedObject.name={name},reason=HookDeleted"),
        ])
        .success()
        .json()["items"]
        .as_array()
        .map_or(0, Vec::len)
}

/// (a) + (c): a succeeded hook whose live object has a delete policy is deleted only once
/// Helm's record shows its final phase (never while the release is pending-install), and a
/// hung hook is never deleted, even with every grace at zero.
fn succeeded_after_final_phase_hung_never(helm: Helm) {
    let ns = TestNamespace::reviewed(&format!("janitor-ok-{helm}"));
    // seed (weight 5) completes, then notify (weight 10) hangs: Helm waits on notify while the
    // release is pending-install.
    let mut helm_install = Command::new(helm.binary())
        .args(["--namespace", ns.name(), "install", RELEASE])
        .arg(chart("hooks-demo"))
        .args(["--set", "hangHook=notify", "--timeout", "25s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start helm install");
    wait_until(Duration::from_secs(60), "demo-seed Complete", || {
        ns.try_get_json("job", "demo-seed")
            .is_some_and(|j| e2e::condition(&j, "Complete") == Some("True"))
    });
    // What the webhook would inject: a delete policy on the live object only.
    annotate(
        &ns,
        "job",
        "demo-seed",
        "helm.sh/hook-delete-policy=hook-succeeded",
    );
    let out = janitor_once(&ns, &["--grace", "0s"]);
    assert!(
        exists(&ns, "job", "demo-seed"),
        "deleted while Helm still works on the release:\n{out}"
    );
    let status = helm_install.wait().expect("helm install");
    assert!(!status.success(), "the hung notify hook should time out");
    let record = ns.release_record(RELEASE, 1, false);
    assert_eq!(e2e::last_run_phase(&record, "demo-seed"), "Succeeded");

    let out = janitor_once(&ns, &["--grace", "0s", "--keep-failed", "0s", "--orphans"]);
    assert!(
        !exists(&ns, "job", "demo-seed"),
        "the final phase is recorded: the janitor deletes the Job\n{out}"
    );
    assert_eq!(
        deletion_events(&ns, "demo-seed"),
        1,
        "one Event per deletion"
    );
    // (c) The hung hook is never deleted.
    annotate(
        &ns,
        "job",
        "demo-notify",
        "helm.sh/hook-delete-policy=hook-succeeded,hook-failed",
    );
    janitor_once(&ns, &["--grace", "0s", "--keep-failed", "0s", "--orphans"]);
    assert!(
        exists(&ns, "job", "demo-notify"),
        "a running hook was deleted"
    );
    // The live object was stamped with its release.
    let notify = ns.get_json("job", "demo-notify");
    assert_eq!(
        notify["metadata"]["annotations"]["hooks.helm-hooks.io/release"],
        format!("{}/{RELEASE}", ns.name())
    );

    // An upgrade soon after: the new seed Job lies inside revision 1's recorded run window
    // (widened for clock skew), whose final phase is recorded; while Helm works on revision 2
    // (pending-upgrade) the janitor must still leave it alone.
    // (The hung notify Job goes first: Helm would otherwise fail at once creating it again.)
    ns.kubectl()
        .args(["delete", "job", "demo-notify", "--wait=true"])
        .success();
    let mut helm_upgrade = Command::new(helm.binary())
        .args(["--namespace", ns.name(), "upgrade", RELEASE])
        .arg(chart("hooks-demo"))
        .args(["--set", "hangHook=notify", "--timeout", "25s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start helm upgrade");
    wait_until(
        Duration::from_secs(60),
        "the new demo-seed Complete",
        || {
            ns.try_get_json("job", "demo-seed")
                .is_some_and(|j| e2e::condition(&j, "Complete") == Some("True"))
        },
    );
    annotate(
        &ns,
        "job",
        "demo-seed",
        "helm.sh/hook-delete-policy=hook-succeeded",
    );
    let out = janitor_once(&ns, &["--grace", "0s"]);
    let record = ns.get_json("secret", "sh.helm.release.v1.demo.v2");
    assert_eq!(
        record["metadata"]["labels"]["status"], "pending-upgrade",
        "Helm is still upgrading"
    );
    assert!(
        exists(&ns, "job", "demo-seed"),
        "deleted while Helm works on the upgrade (pending-upgrade):\n{out}"
    );
    let status = helm_upgrade.wait().expect("helm upgrade");
    assert!(!status.success(), "the hung notify hook should time out");
    let out = janitor_once(&ns, &["--grace", "0s"]);
    assert!(
        !exists(&ns, "job", "demo-seed"),
        "revision 2 recorded the final phase:\n{out}"
    );
}

#[test]
fn helm4_succeeded_hook_deleted_only_after_final_phase_and_hung_hook_kept() {
    succeeded_after_final_phase_hung_never(Helm::V4);
}

#[test]
fn helm3_succeeded_hook_deleted_only_after_final_phase_and_hung_hook_kept() {
    succeeded_after_final_phase_hung_never(Helm::V3);
}

/// (a) Helm never hangs: a janitor passing every second with no grace while helm installs
/// (its chart's hook-succeeded hooks are deleted by Helm itself) lets helm finish at once.
#[test]
fn helm4_does_not_hang_while_the_janitor_runs() {
    let ns = TestNamespace::reviewed("janitor-nohang");
    let mut janitor = Command::new(janitor_binary())
        .arg("--kubeconfig")
        .arg(Cluster::get().kubeconfig())
        .args(["--listen", "", "--interval", "1s", "--grace", "0s"])
        .args(["--namespaces", ns.name(), "--lease-namespace", ns.name()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the janitor");
    let start = Instant::now();
    let out = install(&ns, Helm::V4, &["--timeout", "90s"]);
    let elapsed = start.elapsed();
    let _ = janitor.kill();
    let _ = janitor.wait();
    assert!(out.ok(), "{out}");
    assert!(
        elapsed < Duration::from_secs(60),
        "helm install took {elapsed:?}"
    );
}

/// (b) A failed hook with hook-failed on its live object is kept for --keep-failed, then
/// deleted, and its log lines are kept in the release's kept-logs ConfigMap.
fn failed_kept_then_deleted_with_logs(helm: Helm) {
    let ns = TestNamespace::reviewed(&format!("janitor-fail-{helm}"));
    let out = install(&ns, helm, &["--set", "failHook=seed", "--timeout", "30s"]);
    assert!(!out.ok(), "the seed hook fails:\n{out}");
    annotate(
        &ns,
        "job",
        "demo-seed",
        "helm.sh/hook-delete-policy=hook-failed",
    );
    janitor_once(&ns, &["--keep-failed", "1h", "--grace", "0s"]);
    assert!(exists(&ns, "job", "demo-seed"), "kept for --keep-failed");
    let out = janitor_once(&ns, &["--keep-failed", "0s", "--grace", "0s"]);
    assert!(
        !exists(&ns, "job", "demo-seed"),
        "deleted after --keep-failed:\n{out}"
    );
    let logs = ns.get_json("configmap", "helm-hooks-logs.demo");
    assert_eq!(
        logs["metadata"]["labels"]["hooks.helm-hooks.io/kept-logs"],
        "true"
    );
    assert!(
        logs["metadata"]["annotations"]["hooks.helm-hooks.io/expires-at"].is_string(),
        "{logs}"
    );
    let entry: Value = serde_json::from_str(
        logs["data"]["job.demo-seed.json"]
            .as_str()
            .unwrap_or_else(|| panic!("no job.demo-seed.json in {logs}")),
    )
    .expect("JSON entry");
    assert_eq!(entry["reason"], "hook-failed");
    let lines = entry["containers"][0]["lines"].to_string();
    assert!(
        lines.contains("fake log of a kwok container"),
        "kwok's log lines are kept: {entry}"
    );
    assert_eq!(deletion_events(&ns, "demo-seed"), 1);
    // The plugin shows the kept lines, after the Job is gone.
    let shown = hooks(&ns)
        .args(["logs", RELEASE, "--hook", "demo-seed"])
        .success();
    assert!(
        shown.stdout.starts_with("==> job/demo-seed (release ")
            && shown.stdout.contains("hook-failed")
            && shown.stdout.contains("] fake log of a kwok container"),
        "{shown}"
    );
    let none = hooks(&ns)
        .args(["logs", RELEASE, "--hook", "demo-notify"])
        .success();
    assert!(
        none.stderr.contains("No logs of hook demo-notify"),
        "{none}"
    );
}

#[test]
fn helm4_failed_hook_kept_for_keep_failed_then_deleted_with_its_logs() {
    failed_kept_then_deleted_with_logs(Helm::V4);
}

#[test]
fn helm3_failed_hook_kept_for_keep_failed_then_deleted_with_its_logs() {
    failed_kept_then_deleted_with_logs(Helm::V3);
}

/// `kind/name` → uid of every object of the kinds hooks leave behind, in the namespace and the
/// cluster-scoped ClusterRoles.
fn uids(ns: &TestNamespace) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let namespaced = ns
        .kubectl()
        .args([
            "get",
            "jobs,serviceaccounts,roles,rolebindings,configmaps,secrets,services",
            "-o",
            "json",
        ])
        .success();
    let cluster = e2e::kubectl()
        .args(["get", "clusterroles,clusterrolebindings", "-o", "json"])
        .success();
    for object in namespaced.objects().iter().chain(cluster.objects().iter()) {
        let key = format!(
            "{}/{}",
            object["kind"].as_str().unwrap_or(""),
            object["metadata"]["name"].as_str().unwrap_or("")
        );
        out.insert(
            key,
            object["metadata"]["uid"].as_str().unwrap_or("").to_string(),
        );
    }
    out
}

const HAND_MADE: &str = r#"{"apiVersion": "batch/v1", "kind": "Job",
 "metadata": {"name": "hand-made", "annotations": {"helm.sh/hook": "post-install",
   "helm.sh/hook-delete-policy": "hook-succeeded"}},
 "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
   "containers": [{"name": "c", "image": "registry.example.invalid/tool:1"}]}}}}"#;

/// (d) After `helm uninstall` (with and without --keep-history) the leftover hook Job,
/// ServiceAccount, Role, RoleBinding and ClusterRole are listed by `kubectl hooks list
/// --orphans` with their evidence, and removed by the janitor with --orphans after
/// --orphan-grace or by `kubectl hooks cleanup --orphans`; nothing else changes; a hand-made
/// object carrying helm.sh/hook is never listed nor touched.
fn orphans_removed(helm: Helm, keep_history: bool, remover: Remover) {
    let tag = if keep_history { "kh" } else { "plain" };
    let ns = TestNamespace::reviewed(&format!("janitor-orph-{helm}-{tag}"));
    let out = install(&ns, helm, &["--set", "rbacHooks=true", "--timeout", "60s"]);
    assert!(out.ok(), "{out}");
    ns.kubectl()
        .args(["apply", "-f", "-"])
        .stdin(HAND_MADE)
        .success();
    // While the release is installed, the janitor stamps its hook runs (and deletes nothing:
    // these hooks have no delete policy).
    janitor_once(&ns, &["--orphans", "--orphan-grace", "0s"]);
    let seed = ns.get_json("job", "demo-seed");
    assert_eq!(
        seed["metadata"]["labels"]["hooks.helm-hooks.io/stamped"],
        "true"
    );
    assert!(
        ns.get_json("job", "hand-made")["metadata"]["annotations"]
            .get("hooks.helm-hooks.io/release")
            .is_none(),
        "a hand-made hook is never stamped"
    );
    let mut uninstall = ns.helm(helm).args(["uninstall", RELEASE]);
    if keep_history {
        uninstall = uninstall.arg("--keep-history");
    }
    uninstall.success();
    let cluster_role = format!("{}-demo-hooks-nodes", ns.name());
    let leftovers = [
        "Job/demo-seed".to_string(),
        "ServiceAccount/demo-hooks".to_string(),
        "Role/demo-hooks-reader".to_string(),
        "RoleBinding/demo-hooks-reader".to_string(),
        format!("ClusterRole/{cluster_role}"),
    ];
    let before = uids(&ns);
    for l in &leftovers {
        assert!(
            before.contains_key(l),
            "{l} should be left behind: {before:#?}"
        );
    }
    // Inside the orphan grace: nothing is deleted.
    janitor_once(&ns, &["--orphans", "--orphan-grace", "1h"]);
    assert_eq!(uids(&ns), before, "nothing deleted inside --orphan-grace");
    // Without --orphans: nothing either; --dry-run only reports.
    janitor_once(&ns, &["--orphan-grace", "0s"]);
    assert_eq!(uids(&ns), before);
    let out = janitor_once(&ns, &["--orphans", "--orphan-grace", "0s", "--dry-run"]);
    assert_eq!(uids(&ns), before, "--dry-run deleted something:\n{out}");
    assert!(
        out.combined().contains("demo-seed") && out.combined().contains("dry_run=true"),
        "--dry-run reports what it would delete:\n{out}"
    );
    // The plugin sees the same leftovers, with the release and the evidence.
    let listed = hooks(&ns)
        .args(["list", "--orphans", "-o", "json"])
        .success()
        .json();
    let mut names: Vec<String> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            assert_eq!(
                item["release"],
                format!("{}/{RELEASE}", ns.name()),
                "{item}"
            );
            let evidence = item["evidence"].as_str().unwrap_or("");
            let expected = if keep_history {
                "uninstalled"
            } else {
                "the release has no records"
            };
            assert!(evidence.contains(expected), "{item}");
            format!(
                "{}/{}",
                item["kind"].as_str().unwrap(),
                item["name"].as_str().unwrap()
            )
        })
        .collect();
    names.sort();
    let mut expected_names = leftovers.to_vec();
    expected_names.sort();
    assert_eq!(names, expected_names, "list --orphans:\n{listed:#}");
    let table = hooks(&ns).args(["list", "--orphans"]).success();
    assert!(
        table.stdout.starts_with("NAME ") && table.stdout.contains("job.batch/demo-seed"),
        "{table}"
    );
    let out = match remover {
        Remover::Janitor => janitor_once(&ns, &["--orphans", "--orphan-grace", "0s"]),
        Remover::Plugin => {
            let dry = hooks(&ns)
                .args(["cleanup", "--orphans", "--dry-run"])
                .success();
            assert_eq!(
                uids(&ns),
                before,
                "cleanup --dry-run deleted something:\n{dry}"
            );
            assert!(
                dry.stdout.contains("job.batch/demo-seed deleted (dry run)"),
                "{dry}"
            );
            hooks(&ns).args(["cleanup", "--orphans"]).success()
        }
    };
    let after = uids(&ns);
    let mut expected = before.clone();
    for l in &leftovers {
        expected.remove(l);
    }
    assert_eq!(after, expected, "exactly the leftovers are removed:\n{out}");
    assert!(after.contains_key("Job/hand-made"));
    if remover == Remover::Janitor {
        assert_eq!(deletion_events(&ns, "demo-seed"), 1);
    }
    let again = hooks(&ns).args(["list", "--orphans"]).success();
    assert!(
        again.stdout.is_empty() && again.stderr.contains("No leftover hooks found"),
        "{again}"
    );
}

#[test]
fn helm4_orphans_after_uninstall_are_removed_and_nothing_else() {
    orphans_removed(Helm::V4, false, Remover::Plugin);
}

#[test]
fn helm4_orphans_after_uninstall_keep_history_are_removed_and_nothing_else() {
    orphans_removed(Helm::V4, true, Remover::Janitor);
}

#[test]
fn helm3_orphans_after_uninstall_are_removed_and_nothing_else() {
    orphans_removed(Helm::V3, false, Remover::Janitor);
}

#[test]
fn helm3_orphans_after_uninstall_keep_history_are_removed_and_nothing_else() {
    orphans_removed(Helm::V3, true, Remover::Plugin);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Replica {
    child: Child,
    port: u16,
    identity: &'static str,
}

impl Replica {
    fn start(ns: &TestNamespace, identity: &'static str) -> Replica {
        let port = free_port();
        let child = Command::new(janitor_binary())
            .arg("--kubeconfig")
            .arg(Cluster::get().kubeconfig())
            .args(["--listen", &format!("127.0.0.1:{port}"), "--interval", "1s"])
            .args([
                "--grace",
                "0s",
                "--identity",
                identity,
                "--lease-duration",
                "4",
            ])
            .args(["--namespaces", ns.name(), "--lease-namespace", ns.name()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a janitor replica");
        Replica {
            child,
            port,
            identity,
        }
    }

    /// `helm_hooks_janitor_leader` from /metrics, `None` while not serving.
    fn leader(&self) -> Option<bool> {
        let out = Run::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{}/metrics", self.port)])
            .output();
        if !out.ok() {
            return None;
        }
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("helm_hooks_janitor_leader "))
            .map(|v| v.trim() == "1")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (e) Two replicas, one lease holder: only the holder deletes; after the holder is SIGKILLed
/// the other takes the lease over and carries on, and nothing is deleted twice.
#[test]
fn two_replicas_one_lease_holder_and_sigkill_takeover() {
    let ns = TestNamespace::reviewed("janitor-lease");
    let out = install(&ns, Helm::V4, &["--timeout", "60s"]);
    assert!(out.ok(), "{out}");
    let a = Replica::start(&ns, "replica-a");
    let b = Replica::start(&ns, "replica-b");
    let mut holder = String::new();
    wait_until(Duration::from_secs(60), "one lease holder", || {
        let lease = ns
            .kubectl()
            .args([
                "get",
                "lease",
                "helm-hooks-janitor",
                "-o",
                "json",
                "--ignore-not-found",
            ])
            .success();
        if lease.stdout.trim().is_empty() {
            return false;
        }
        holder = lease.json()["spec"]["holderIdentity"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let leaders = [a.leader(), b.leader()];
        leaders.iter().filter(|l| **l == Some(true)).count() == 1
            && leaders.iter().all(Option::is_some)
            && !holder.is_empty()
    });
    let (mut killed, survivor) = if holder == a.identity { (a, b) } else { (b, a) };
    assert_eq!(
        killed.leader(),
        Some(true),
        "the Lease names the replica that leads"
    );
    // Work for the holder: a succeeded hook gets a delete policy on its live object.
    annotate(
        &ns,
        "job",
        "demo-seed",
        "helm.sh/hook-delete-policy=hook-succeeded",
    );
    wait_until(Duration::from_secs(30), "demo-seed deleted", || {
        !exists(&ns, "job", "demo-seed")
    });
    // SIGKILL the holder in the middle of its passes (no lease release).
    killed.child.kill().expect("SIGKILL the holder");
    let _ = killed.child.wait();
    wait_until(
        Duration::from_secs(60),
        "the other replica takes over",
        || survivor.leader() == Some(true),
    );
    // New work for the new holder.
    annotate(
        &ns,
        "serviceaccount",
        "demo-hooks",
        "helm.sh/hook-delete-policy=hook-succeeded",
    );
    wait_until(Duration::from_secs(30), "demo-hooks deleted", || {
        !exists(&ns, "serviceaccount", "demo-hooks")
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(deletion_events(&ns, "demo-seed"), 1, "deleted exactly once");
    assert_eq!(
        deletion_events(&ns, "demo-hooks"),
        1,
        "deleted exactly once"
    );
}
