//! `kubectl hooks` end to end: the built `kubectl-hooks` binary against the real control plane,
//! with releases made by real helm 4 and helm 3 from tests/charts/hooks-demo.
//!
//! The binary is found next to this test's executable (`target/<profile>/kubectl-hooks`):
//! `cargo test --workspace` builds every binary of the workspace first, so it is there in the
//! normal runs (scripts/test, CI). When it is not (e.g. `cargo test -p e2e` alone), the test
//! builds it once with `cargo build -p kubectl-hooks` (same profile) before going on.

use e2e::{Helm, Output, Run, TestNamespace, chart, hook, last_run_phase, repo_root};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

const RELEASE: &str = "demo";

fn plugin_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>/deps/<test>");
        let binary = profile_dir.join("kubectl-hooks");
        if !binary.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Run::new(cargo).args(["build", "-p", "kubectl-hooks"]);
            if profile_dir.file_name().is_some_and(|p| p == "release") {
                build = build.arg("--release");
            }
            build.current_dir(repo_root()).success();
        }
        assert!(binary.exists(), "{} was not built", binary.display());
        binary
    })
}

/// `kubectl-hooks -n <ns> ARGS…`
fn hooks(ns: &TestNamespace) -> Run {
    Run::new(plugin_binary()).args(["-n", ns.name()])
}

fn install(ns: &TestNamespace, helm: Helm, release: &str, extra: &[&str]) {
    ns.helm(helm)
        .args(["install", release])
        .arg(chart("hooks-demo"))
        .args(["--timeout", "60s"])
        .args(extra)
        .success();
}

fn upgrade(ns: &TestNamespace, helm: Helm, extra: &[&str]) -> Output {
    ns.helm(helm)
        .args(["upgrade", RELEASE])
        .arg(chart("hooks-demo"))
        .args(["--timeout", "60s"])
        .args(extra)
        .output()
}

fn list_json(ns: &TestNamespace, extra: &[&str]) -> Vec<Value> {
    let out = hooks(ns)
        .args(["list", RELEASE, "-o", "json"])
        .args(extra)
        .success();
    out.json()["items"].as_array().expect("items").clone()
}

fn names_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

/// Hook names from `helm get hooks` (a YAML stream): the first `  name:` under `metadata:`.
fn helm_get_hooks_names(ns: &TestNamespace, helm: Helm) -> Vec<String> {
    let text = ns
        .helm(helm)
        .args(["get", "hooks", RELEASE])
        .success()
        .stdout;
    let mut names = Vec::new();
    for doc in text.split("\n---") {
        let mut in_metadata = false;
        for line in doc.lines() {
            if line == "metadata:" {
                in_metadata = true;
            } else if in_metadata && let Some(name) = line.strip_prefix("  name: ") {
                names.push(name.trim().trim_matches('"').to_string());
                break;
            } else if !line.starts_with(' ') {
                in_metadata = false;
            }
        }
    }
    names.sort();
    names
}

fn helm_status(ns: &TestNamespace, helm: Helm) -> Value {
    ns.helm(helm)
        .args(["status", RELEASE, "-o", "json"])
        .success()
        .json()
}

fn list_agrees_with_helm(helm: Helm) {
    let ns = TestNamespace::new(&format!("plugin-list-{helm}"));
    install(&ns, helm, RELEASE, &[]);
    upgrade(&ns, helm, &["--set", "message=upgraded"]);
    let items = list_json(&ns, &[]);
    let mut ours = names_of(&items);
    ours.sort();
    assert_eq!(
        ours,
        helm_get_hooks_names(&ns, helm),
        "hooks of the latest revision"
    );

    let status = helm_status(&ns, helm);
    for item in &items {
        let name = item["name"].as_str().unwrap();
        let helm_phase = match last_run_phase(&status, name) {
            "" => "Unknown",
            p => p,
        };
        assert_eq!(item["lastRun"]["phase"], helm_phase, "phase of {name}");
        let helm_started = hook(&status, name)
            .pointer("/last_run/started_at")
            .and_then(Value::as_str)
            .unwrap_or("");
        match item["lastRun"]["startedAt"].as_str() {
            Some(ours) => assert_eq!(&ours[..19], &helm_started[..19], "started_at of {name}"),
            None => assert!(
                helm_started.is_empty() || helm_started.starts_with("0001-01-01"),
                "{name}: helm says started at {helm_started}"
            ),
        }
        assert_eq!(item["revision"], 2);
    }
    // Live state: the seed Job is left Complete, hook-succeeded Jobs are gone, the
    // ServiceAccount hook is present.
    let status_of = |n: &str| {
        items
            .iter()
            .find(|i| i["name"] == n)
            .map(|i| i["status"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no {n} in {items:#?}"))
    };
    assert_eq!(status_of("demo-seed"), "Complete");
    assert_eq!(status_of("demo-db-migrate"), "Absent");
    assert_eq!(status_of("demo-hooks"), "Present");

    // --revision 1 shows the install's record; the table has kubectl's headers.
    let first = list_json(&ns, &["--revision", "1"]);
    assert!(first.iter().all(|i| i["revision"] == 1));
    // One release: a line with its revision and status, then kubectl's table.
    let table = hooks(&ns).args(["list", RELEASE]).success().stdout;
    let (release_line, table) = table.split_once("\n\n").unwrap_or(("", &table));
    assert_eq!(
        release_line,
        format!(
            "RELEASE: demo   NAMESPACE: {}   REVISION: 2   STATUS: deployed",
            ns.name()
        ),
        "{table}"
    );
    assert!(
        table.starts_with("NAME ") && table.contains(" DELETE ") && table.contains(" AGE"),
        "{table}"
    );
    let wide = hooks(&ns)
        .args(["list", RELEASE, "-o", "wide"])
        .success()
        .stdout;
    assert!(
        wide.contains("hooks-demo/templates/hook-db-migrate.yaml"),
        "{wide}"
    );
    let names = hooks(&ns)
        .args(["list", RELEASE, "-o", "name"])
        .success()
        .stdout;
    // -o name: live hook objects only (demo-db-migrate is Absent, demo-seed Complete).
    assert!(names.lines().any(|l| l == "job.batch/demo-seed"), "{names}");
    assert!(
        !names.lines().any(|l| l == "job.batch/demo-db-migrate"),
        "{names}"
    );
    // Values never appear, whatever the format.
    for format in ["json", "yaml", "wide"] {
        let out = hooks(&ns).args(["list", RELEASE, "-o", format]).success();
        assert!(
            !out.combined().contains("s3cr3t-fixture"),
            "{format} leaked values"
        );
    }
    // A missing release is an error naming it; an event without hooks says so on stderr.
    let missing = hooks(&ns).args(["list", "nope"]).failure();
    assert_eq!(missing.code, Some(1));
    assert!(
        missing.stderr.contains("release \"nope\" not found"),
        "{missing}"
    );
    let empty = hooks(&ns)
        .args(["list", RELEASE, "--event", "post-delete"])
        .success();
    assert!(
        empty.stderr.contains(&format!(
            "No hooks found for event post-delete for release demo in namespace {}.",
            ns.name()
        )),
        "{empty}"
    );
}

#[test]
fn list_agrees_with_helm_4() {
    list_agrees_with_helm(Helm::V4);
}

#[test]
fn list_agrees_with_helm_3() {
    list_agrees_with_helm(Helm::V3);
}

/// Lines of `what` in stdout, e.g. the objects "created", in order.
fn lines_ending(stdout: &str, suffix: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_suffix(suffix).map(str::to_string))
        .collect()
}

fn rerun_reproduces_helm_order(helm: Helm) {
    let ns = TestNamespace::new(&format!("plugin-rerun-{helm}"));
    install(&ns, helm, RELEASE, &[]);
    assert!(upgrade(&ns, helm, &[]).ok());
    let record_before = ns.get_json("secret", "sh.helm.release.v1.demo.v2");

    // Without --yes and without a terminal: refused, nothing changes.
    let refused = hooks(&ns)
        .args(["rerun", RELEASE, "--event", "pre-upgrade"])
        .failure();
    assert_eq!(refused.code, Some(2), "{refused}");
    assert!(refused.stderr.contains("--yes"), "{refused}");

    let dry = hooks(&ns)
        .args(["rerun", RELEASE, "--event", "pre-upgrade", "--dry-run"])
        .success();
    assert!(
        dry.stdout.contains("Dry run: nothing was changed."),
        "{dry}"
    );

    let out = hooks(&ns)
        .args(["rerun", RELEASE, "--event", "pre-upgrade", "--yes"])
        .success();
    let created = lines_ending(&out.stdout, " created");
    let backup = created
        .iter()
        .find(|c| c.starts_with("job.batch/demo-backup-"))
        .expect("backup created")
        .clone();
    // Helm's order: weight, then name.
    assert_eq!(
        created,
        [
            "serviceaccount/demo-hooks",
            "pod/demo-config-validate",
            "job.batch/demo-db-migrate",
            backup.as_str()
        ],
        "{out}"
    );
    // Each waited hook finished before the next was created.
    let pos = |needle: &str| {
        out.stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {out}"))
    };
    assert!(pos("job.batch/demo-db-migrate succeeded") < pos(&format!("{backup} created")));
    assert!(pos("pod/demo-config-validate succeeded") < pos("job.batch/demo-db-migrate created"));
    // hook-succeeded deletions run in reverse order after all succeeded.
    let deleted = lines_ending(&out.stdout, " deleted (hook-succeeded)");
    assert_eq!(
        deleted,
        [
            backup.as_str(),
            "job.batch/demo-db-migrate",
            "pod/demo-config-validate"
        ],
        "{out}"
    );
    for (kind, name) in [("job", "demo-db-migrate"), ("pod", "demo-config-validate")] {
        assert!(ns.try_get_json(kind, name).is_none(), "{kind}/{name} left");
    }
    ns.get_json("serviceaccount", "demo-hooks");
    // Helm's record is untouched.
    let record_after = ns.get_json("secret", "sh.helm.release.v1.demo.v2");
    assert_eq!(
        record_before["metadata"]["resourceVersion"],
        record_after["metadata"]["resourceVersion"]
    );
}

#[test]
fn rerun_pre_upgrade_reproduces_helm_order_helm_4() {
    rerun_reproduces_helm_order(Helm::V4);
}

#[test]
fn rerun_pre_upgrade_reproduces_helm_order_helm_3() {
    rerun_reproduces_helm_order(Helm::V3);
}

/// A small chart with a hook-failed policy: sa (-10, hook-succeeded), migrate (0,
/// hook-failed; fails when .Values.fail), after (5).
fn failing_chart() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kubectl-hooks-e2e-chart-{}", std::process::id()));
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: failing\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), "fail: false\n").unwrap();
    let job = |name: &str, weight: i32, policy: &str, fail: bool| {
        let label = if fail {
            "{{- if .Values.fail }}\n        helm-hooks.test/fail: \"true\"\n{{- end }}\n"
        } else {
            ""
        };
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{{{ .Release.Name }}}}-{name}\n  \
             annotations:\n    helm.sh/hook: pre-upgrade\n    helm.sh/hook-weight: \"{weight}\"\n    \
             helm.sh/hook-delete-policy: {policy}\nspec:\n  backoffLimit: 0\n  template:\n    \
             metadata:\n      labels:\n        app: failing\n{label}    spec:\n      \
             restartPolicy: Never\n      containers:\n      - name: main\n        image: tool:1.0\n"
        )
    };
    std::fs::write(
        templates.join("sa.yaml"),
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}-sa\n  \
         annotations:\n    helm.sh/hook: pre-upgrade\n    helm.sh/hook-weight: \"-10\"\n    \
         helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n",
    )
    .unwrap();
    std::fs::write(
        templates.join("migrate.yaml"),
        job("migrate", 0, "before-hook-creation,hook-failed", true),
    )
    .unwrap();
    std::fs::write(
        templates.join("after.yaml"),
        job("after", 5, "before-hook-creation", false),
    )
    .unwrap();
    dir
}

#[test]
fn failing_hook_stops_the_rerun_and_applies_hook_failed() {
    let ns = TestNamespace::new("plugin-rerun-fail");
    let chart = failing_chart();
    ns.helm(Helm::V4)
        .args(["install", RELEASE])
        .arg(&chart)
        .args(["--timeout", "60s"])
        .success();
    // Helm itself fails the upgrade at migrate; the record keeps the failing manifest.
    let helm = ns
        .helm(Helm::V4)
        .args(["upgrade", RELEASE])
        .arg(&chart)
        .args(["--set", "fail=true", "--timeout", "60s"])
        .failure();
    assert!(helm.combined().contains("migrate"), "{helm}");
    let out = hooks(&ns)
        .args([
            "rerun",
            RELEASE,
            "--event",
            "pre-upgrade",
            "--yes",
            "--timeout",
            "60s",
        ])
        .failure();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stdout.contains("job.batch/demo-migrate failed"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("job.batch/demo-migrate deleted (hook-failed)"),
        "{out}"
    );
    // Then hook-succeeded of the hooks that already ran, as Helm does.
    assert!(
        out.stdout
            .contains("serviceaccount/demo-sa deleted (hook-succeeded)"),
        "{out}"
    );
    assert!(!out.stdout.contains("demo-after created"), "{out}");
    assert!(
        out.stderr.contains("pre-upgrade hook demo-migrate failed")
            && out
                .stderr
                .contains("skipped the remaining hooks: demo-after"),
        "{out}"
    );
    assert!(ns.try_get_json("job", "demo-migrate").is_none());
    assert!(ns.try_get_json("job", "demo-after").is_none());
    assert!(ns.try_get_json("serviceaccount", "demo-sa").is_none());
    let _ = std::fs::remove_dir_all(chart);
}

#[test]
fn cleanup_removes_leftovers_of_every_revision_and_nothing_else() {
    let ns = TestNamespace::new("plugin-cleanup");
    let helm = Helm::V4;
    install(&ns, helm, RELEASE, &[]);
    // Two failed backups with different timestamped names (revisions 2 and 3), then a failed
    // db-migrate (revision 4): Helm leaves all three Jobs behind.
    assert!(!upgrade(&ns, helm, &["--set", "failHook=backup"]).ok());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(!upgrade(&ns, helm, &["--set", "failHook=backup"]).ok());
    assert!(!upgrade(&ns, helm, &["--set", "failHook=db-migrate"]).ok());
    let backups: Vec<String> = ns
        .names("job", None)
        .into_iter()
        .filter(|n| n.starts_with("demo-backup-"))
        .collect();
    assert_eq!(backups.len(), 2, "{backups:?}");
    // Not ours: a regular Job with the release's labels, and another release's hook.
    ns.kubectl()
        .args(["create", "job", "demo-extra", "--image=tool:1.0"])
        .success();
    ns.kubectl()
        .args([
            "label",
            "job",
            "demo-extra",
            "app.kubernetes.io/instance=demo",
        ])
        .success();
    install(&ns, helm, "other", &[]);
    ns.get_json("job", "other-seed");

    let mut expected: Vec<String> = backups.iter().map(|b| format!("job.batch/{b}")).collect();
    expected.extend([
        "job.batch/demo-db-migrate".into(),
        "job.batch/demo-seed".into(),
    ]);
    expected.sort();

    let dry = hooks(&ns).args(["cleanup", RELEASE, "--dry-run"]).success();
    let mut planned = lines_ending(&dry.stdout, " deleted (dry run)");
    planned.sort();
    assert_eq!(planned, expected, "{dry}");
    assert!(
        dry.stderr.contains("skipped serviceaccount/demo-hooks"),
        "{dry}"
    );

    // --status filters.
    let failed_only = hooks(&ns)
        .args(["cleanup", RELEASE, "--dry-run", "--status", "Failed"])
        .success();
    let mut failed = lines_ending(&failed_only.stdout, " deleted (dry run)");
    failed.sort();
    let mut expected_failed: Vec<String> = expected
        .iter()
        .filter(|n| !n.ends_with("demo-seed"))
        .cloned()
        .collect();
    expected_failed.sort();
    assert_eq!(failed, expected_failed, "{failed_only}");

    let out = hooks(&ns).args(["cleanup", RELEASE]).success();
    let mut deleted = lines_ending(&out.stdout, " deleted");
    deleted.sort();
    assert_eq!(deleted, expected, "{out}");
    for name in backups
        .iter()
        .map(String::as_str)
        .chain(["demo-db-migrate", "demo-seed"])
    {
        e2e::wait_until(std::time::Duration::from_secs(30), name, || {
            ns.try_get_json("job", name).is_none()
        });
    }
    ns.get_json("job", "demo-extra");
    ns.get_json("job", "other-seed");
    ns.get_json("serviceaccount", "demo-hooks");
    // Nothing left: says so, exit 0.
    let again = hooks(&ns).args(["cleanup", RELEASE]).success();
    assert!(
        again.stderr.contains("No leftover hooks to delete"),
        "{again}"
    );
}

/// Issue 10, defect 1: with release `demo` in the namespace, another release's *regular*
/// Job `demo-db-migrate` and Pod `demo-config-validate` and a hand-made `kubectl create job
/// demo-notify` were deleted by `cleanup demo` (kind + name matched a stored hook).
#[test]
fn cleanup_never_deletes_another_releases_objects_or_hand_made_jobs() {
    let ns = TestNamespace::new("plugin-cleanup-foreign");
    let helm = Helm::V4;
    // Twice, so demo-db-migrate (pre-upgrade) is in a stored record; hook-succeeded removed
    // the hooks, so the names are free for someone else.
    install(&ns, helm, RELEASE, &[]);
    assert!(upgrade(&ns, helm, &[]).ok());
    let dir = std::env::temp_dir().join(format!("kubectl-hooks-e2e-other-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: other\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/regular.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: demo-db-migrate\nspec:\n  \
         template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        \
         image: tool:1.0\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: demo-config-validate\n\
         spec:\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: tool:1.0\n",
    )
    .unwrap();
    ns.helm(helm).args(["install", "other"]).arg(&dir).success();
    ns.kubectl()
        .args(["create", "job", "demo-notify", "--image=tool:1.0"])
        .success();
    let foreign = [
        "job.batch/demo-db-migrate",
        "pod/demo-config-validate",
        "job.batch/demo-notify",
    ];
    for args in [
        vec!["cleanup", RELEASE, "--dry-run"],
        vec!["cleanup", RELEASE, "--force"],
    ] {
        let out = hooks(&ns).args(args).success();
        // demo-seed (no delete policy) is a real leftover of demo and goes; nothing else.
        assert!(out.stdout.contains("job.batch/demo-seed deleted"), "{out}");
        for name in foreign {
            assert!(!out.stdout.contains(name), "{name}: {out}");
            assert!(
                out.stderr
                    .contains(&format!("skipped {name} (release demo, namespace")),
                "{name}: {out}"
            );
        }
    }
    ns.get_json("job", "demo-db-migrate");
    ns.get_json("pod", "demo-config-validate");
    ns.get_json("job", "demo-notify");
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 10, defect 11: with a ServiceAccount allowed to delete Jobs but not get them,
/// rerun deleted demo-seed (before-hook-creation), then failed on `get`, and never said it had
/// deleted anything. It must check every permission it needs before it deletes.
#[test]
fn rerun_checks_every_permission_before_deleting() {
    let ns = TestNamespace::new("plugin-rerun-rbac");
    install(&ns, Helm::V4, RELEASE, &[]);
    // demo-seed has no delete policy: Helm's before-hook-creation default, so it stays.
    let uid = ns.get_json("job", "demo-seed")["metadata"]["uid"].clone();
    for args in [
        vec!["create", "serviceaccount", "limited"],
        vec![
            "create",
            "role",
            "records",
            "--verb=get,list",
            "--resource=secrets",
        ],
        vec![
            "create",
            "role",
            "jobs",
            "--verb=create,delete",
            "--resource=jobs.batch",
        ],
    ] {
        ns.kubectl().args(args).success();
    }
    for role in ["records", "jobs"] {
        let account = format!("--serviceaccount={}:limited", ns.name());
        ns.kubectl()
            .args(["create", "rolebinding", role, "--role", role, &account])
            .success();
    }
    let token = ns
        .kubectl()
        .args(["create", "token", "limited"])
        .success()
        .stdout;
    let kubeconfig = std::env::temp_dir().join(format!("{}-limited.kubeconfig", ns.name()));
    let raw = e2e::kubectl()
        .args(["config", "view", "--raw", "--minify"])
        .success()
        .stdout;
    std::fs::write(&kubeconfig, raw).unwrap();
    let config = |args: &[&str]| {
        e2e::kubectl()
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["config"])
            .args(args)
            .success();
    };
    config(&[
        "set-credentials",
        "limited",
        &format!("--token={}", token.trim()),
    ]);
    config(&["set-context", "--current", "--user=limited"]);

    let out = Run::new(plugin_binary())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["-n", ns.name(), "rerun", RELEASE, "--event", "post-install"])
        .args(["--hook", "demo-seed", "--yes"])
        .failure();
    assert!(out.stderr.contains("nothing was changed"), "{out}");
    assert!(out.stderr.contains("get jobs.batch in namespace"), "{out}");
    assert!(
        out.stderr.contains("watch jobs.batch in namespace"),
        "{out}"
    );
    assert_eq!(ns.get_json("job", "demo-seed")["metadata"]["uid"], uid);
    let _ = std::fs::remove_file(kubeconfig);
}

/// Issue 10, defect 12: Ctrl-C during rerun exited silently, left the spinner line open and
/// the Job running. It must say what was left running and exit 130.
#[test]
fn rerun_interrupted_by_ctrl_c_says_what_was_left_running() {
    use std::io::{BufRead, BufReader};
    let ns = TestNamespace::new("plugin-rerun-sigint");
    install(
        &ns,
        Helm::V4,
        RELEASE,
        &["--no-hooks", "--set", "hangHook=seed"],
    );
    let mut child = std::process::Command::new(plugin_binary())
        .args(["-n", ns.name(), "rerun", RELEASE, "--event", "post-install"])
        .args(["--hook", "demo-seed", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        let created = line.contains("job.batch/demo-seed created");
        seen.push(line);
        if created {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.contains("created")), "{seen:?}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    Run::new("kill")
        .args(["-INT", &child.id().to_string()])
        .success();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("job.batch/demo-seed was left running"),
        "{stderr}"
    );
    ns.get_json("job", "demo-seed");
}

/// Issue 10, defect 9: one corrupt release record made `list` and `cleanup --all-releases`
/// exit 1 with no rows although the other releases were healthy.
#[test]
fn one_corrupt_release_record_does_not_hide_the_others() {
    let ns = TestNamespace::new("plugin-corrupt-record");
    install(&ns, Helm::V4, RELEASE, &[]);
    ns.kubectl()
        .args([
            "create",
            "secret",
            "generic",
            "sh.helm.release.v1.broken.v1",
        ])
        .args([
            "--type=helm.sh/release.v1",
            "--from-literal=release=not-a-record",
        ])
        .success();
    ns.kubectl()
        .args(["label", "secret", "sh.helm.release.v1.broken.v1"])
        .args(["owner=helm", "name=broken", "status=deployed", "version=1"])
        .success();
    let list = hooks(&ns).args(["list"]).output();
    assert_eq!(list.code, Some(1), "{list}");
    assert!(list.stdout.contains("demo-seed"), "{list}");
    assert!(
        list.stderr
            .contains("release record secret/sh.helm.release.v1.broken.v1 -n"),
        "{list}"
    );
    let cleanup = hooks(&ns)
        .args(["cleanup", "--all-releases", "--dry-run"])
        .output();
    assert_eq!(cleanup.code, Some(1), "{cleanup}");
    assert!(
        cleanup
            .stdout
            .contains("job.batch/demo-seed deleted (dry run)"),
        "{cleanup}"
    );
    assert!(
        cleanup.stderr.contains("release broken skipped"),
        "{cleanup}"
    );
}

/// Issue 14: a release stuck in `pending-upgrade` (helm killed mid-upgrade) listed only hook
/// rows, rc 0, with no word of its state. `list` warns and names Helm's recovery command.
#[test]
fn list_shows_a_stuck_release_and_the_command_that_recovers_it() {
    let ns = TestNamespace::new("plugin-stuck");
    install(&ns, Helm::V4, RELEASE, &[]);
    assert!(upgrade(&ns, Helm::V4, &[]).ok());
    // What a killed `helm upgrade` leaves: the newest record labelled pending-upgrade.
    ns.kubectl()
        .args([
            "label",
            "secret",
            "sh.helm.release.v1.demo.v2",
            "status=pending-upgrade",
        ])
        .arg("--overwrite")
        .success();
    let out = hooks(&ns).args(["list", RELEASE]).success();
    assert!(
        out.stderr
            .contains("release demo is pending-upgrade at revision 2")
            && out
                .stderr
                .contains(&format!("helm rollback demo 1 -n {}", ns.name())),
        "{out}"
    );
}

/// Issue 14: `kubectl hooks <TAB>` completed files (`Plugin kubectl-hooks does not provide a
/// matching completion executable`). kubectl now finds `kubectl_complete-hooks`.
#[test]
fn kubectl_completes_release_names_hook_names_and_events() {
    let ns = TestNamespace::new("plugin-complete");
    install(&ns, Helm::V4, RELEASE, &[]);
    let bin_dir = plugin_binary().parent().unwrap().to_path_buf();
    let mut dirs = vec![bin_dir];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(dirs).unwrap();
    let complete = |words: &[&str]| {
        e2e::kubectl()
            .env("PATH", &path)
            .args(["__complete", "hooks", "-n", ns.name()])
            .args(words)
            .success()
            .stdout
    };
    let releases = complete(&["list", ""]);
    assert!(releases.lines().any(|l| l == "demo"), "{releases}");
    let hooks = complete(&[
        "rerun",
        "demo",
        "--event",
        "pre-upgrade",
        "--hook",
        "demo-db",
    ]);
    assert!(hooks.lines().any(|l| l == "demo-db-migrate"), "{hooks}");
    let events = complete(&["rerun", "demo", "--event", "post-"]);
    assert!(events.lines().any(|l| l == "post-upgrade"), "{events}");
    // :4 is cobra's "no file completion".
    assert!(events.lines().any(|l| l == ":4"), "{events}");
    let subcommands = complete(&[""]);
    assert!(subcommands.lines().any(|l| l == "cleanup"), "{subcommands}");
}

/// Issue 14: `rerun --dry-run` printed a clean plan, then the real run hit `cannot create
/// job.batch/…: it already exists` halfway through, after earlier hooks had run. The dry run
/// now checks every precondition and reports it without changing anything.
#[test]
fn rerun_dry_run_reports_what_the_real_run_would_hit() {
    let ns = TestNamespace::new("plugin-rerun-preflight");
    install(&ns, Helm::V4, RELEASE, &[]);
    // A failed backup (delete policy hook-succeeded only) stays behind.
    assert!(!upgrade(&ns, Helm::V4, &["--set", "failHook=backup"]).ok());
    let backup = ns
        .names("job", None)
        .into_iter()
        .find(|n| n.starts_with("demo-backup-"))
        .expect("the failed backup Job");
    let before = ns.names("job", None);
    let out = hooks(&ns)
        .args(["rerun", RELEASE, "--event", "pre-upgrade", "--dry-run"])
        .failure();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "cannot create job.batch/{backup}: it already exists"
        )),
        "{out}"
    );
    assert!(out.stderr.contains("nothing was changed"), "{out}");
    assert_eq!(ns.names("job", None), before);
    // The real run refuses before it creates or deletes anything.
    let real = hooks(&ns)
        .args(["rerun", RELEASE, "--event", "pre-upgrade", "--yes"])
        .failure();
    assert!(real.stderr.contains("it already exists"), "{real}");
    assert!(!real.stdout.contains(" created"), "{real}");
    assert_eq!(ns.names("job", None), before);
}

fn lint(input: &str) -> Output {
    Run::new(plugin_binary())
        .args(["lint", "-f", "-"])
        .stdin(input.as_bytes().to_vec())
        .output()
}

fn hook_job(annotations: &str, container_extra: &str) -> String {
    format!(
        "---\n# Source: t/templates/job.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: t\n  \
         annotations:\n{annotations}spec:\n  activeDeadlineSeconds: 300\n  template:\n    spec:\n      \
         restartPolicy: Never\n      containers:\n      - name: main\n        image: tool:1.0\n{container_extra}"
    )
}

#[test]
fn lint_flags_each_mistake_with_the_right_exit_code() {
    let good = "    helm.sh/hook: pre-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n";
    let clean = lint(&hook_job(good, ""));
    assert_eq!(clean.code, Some(0), "{clean}");

    let cases = [
        (
            hook_job("    helm.sh/hook: pre-upgade\n", ""),
            "unknown hook event",
        ),
        (
            hook_job(&format!("{good}    helm.sh/hook-weight: \"5.0\"\n"), ""),
            "helm.sh/hook-weight",
        ),
        (
            hook_job(
                "    helm.sh/hook: pre-upgrade\n    helm.sh/hook-delete-policy: hook-succeed\n",
                "",
            ),
            "did you mean \"hook-succeeded\"",
        ),
        (
            hook_job(
                good,
                "        securityContext:\n          privileged: true\n",
            ),
            "[privileged: enforce]",
        ),
    ];
    for (input, expected) in cases {
        let out = lint(&input);
        assert_eq!(out.code, Some(1), "{out}");
        assert!(
            out.stdout.contains(expected),
            "expected {expected:?} in {out}"
        );
    }
    // JSON for CI.
    let json = Run::new(plugin_binary())
        .args(["lint", "-o", "json"])
        .stdin(hook_job("    helm.sh/hook: pre-upgade\n", "").into_bytes())
        .output();
    assert_eq!(json.code, Some(1));
    let v = json.json();
    assert_eq!(v["summary"]["errors"], 1, "{json}");
    assert_eq!(v["objects"][0]["dropped"], true);

    // The demo chart as helm renders it: warnings only.
    let rendered = e2e::helm(Helm::V4)
        .args(["template", RELEASE])
        .arg(chart("hooks-demo"))
        .success()
        .stdout;
    let out = lint(&rendered);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(!out.combined().contains("s3cr3t-fixture"));
}

/// `kubectl hooks lint --target argocd` on the demo chart as the real helm renders it (Argo CD
/// renders with `helm template` too): the upgrade-only hooks run at the first sync, the test
/// hook is ignored, the install-and-upgrade hooks are not flagged; warnings only.
#[test]
fn lint_target_argocd_on_the_demo_chart() {
    let rendered = e2e::helm(Helm::V4)
        .args(["template", RELEASE])
        .arg(chart("hooks-demo"))
        .success()
        .stdout;
    let out = Run::new(plugin_binary())
        .args(["lint", "-f", "-", "--target", "argocd"])
        .stdin(rendered.as_bytes().to_vec())
        .output();
    eprintln!("{out}");
    assert_eq!(out.code, Some(0), "{out}");
    let runs_at_first_sync = out.stdout.matches("[argocd/runs-at-first-sync]").count();
    assert_eq!(runs_at_first_sync, 2, "db-migrate and backup: {out}");
    assert!(
        out.stdout
            .contains("  warning  metadata.annotations[helm.sh/hook]: Argo CD ignores test hooks"),
        "{out}"
    );
    assert!(out.stdout.contains("[argocd/test-hook-ignored]"), "{out}");

    // The same findings in JSON, each naming its target; flux's next to argocd's.
    let json = Run::new(plugin_binary())
        .args(["lint", "-o", "json", "--target", "argocd,flux"])
        .stdin(rendered.into_bytes())
        .output();
    assert_eq!(json.code, Some(0), "{json}");
    let v = json.json();
    assert_eq!(
        v["targets"],
        serde_json::json!(["argocd", "flux"]),
        "{json}"
    );
    let checks = |name: &str| -> Vec<(String, String)> {
        v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["name"] == name)
            .flat_map(|o| o["findings"].as_array().unwrap())
            .filter(|f| f.get("target").is_some())
            .map(|f| {
                (
                    f["target"].as_str().unwrap().to_string(),
                    f["check"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let pair = |t: &str, c: &str| (t.to_string(), c.to_string());
    assert_eq!(
        checks("demo-db-migrate"),
        [pair("argocd", "argocd/runs-at-first-sync")]
    );
    assert_eq!(
        checks("demo-smoke-test"),
        [
            pair("argocd", "argocd/test-hook-ignored"),
            pair("flux", "flux/not-in-inventory")
        ]
    );
    assert_eq!(checks("demo-notify"), []);
    assert_eq!(checks("demo-config-validate"), []);
}

/// Issue 14: `-w`, `-l`, `--sort-by`, `-o jsonpath=…` and `-o custom-columns=…` were rejected
/// (with clap's misleading `use '-- -w'` tip). They now work as kubectl's do, on the HookList
/// document `-o json` prints.
#[test]
fn list_takes_kubectls_output_flags() {
    let ns = TestNamespace::new("plugin-output-flags");
    install(&ns, Helm::V4, RELEASE, &[]);
    let names = hooks(&ns)
        .args(["list", RELEASE, "-o", "jsonpath={.items[*].name}"])
        .success()
        .stdout;
    let expected: Vec<String> = list_json(&ns, &[])
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.split_whitespace().collect::<Vec<_>>(), expected);
    // range/end and literals; --sort-by orders by weight (numbers as numbers).
    let ranged = hooks(&ns)
        .args([
            "list",
            RELEASE,
            "--sort-by=.weight",
            "-o",
            r#"jsonpath={range .items[*]}{.weight}{" "}{.name}{"\n"}{end}"#,
        ])
        .success()
        .stdout;
    let weights: Vec<i64> = ranged
        .lines()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(weights.windows(2).all(|w| w[0] <= w[1]), "{ranged}");
    assert_eq!(weights.len(), expected.len());
    let columns = hooks(&ns)
        .args([
            "list",
            RELEASE,
            "-o",
            "custom-columns=HOOK:.name,PHASE:.lastRun.phase,LABEL:.labels.app\\.kubernetes\\.io/name",
        ])
        .success()
        .stdout;
    let mut lines = columns.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .split_whitespace()
            .eq(["HOOK", "PHASE", "LABEL"]),
        "{columns}"
    );
    assert!(
        lines.any(|l| l
            .split_whitespace()
            .eq(["demo-seed", "Succeeded", "hooks-demo"])),
        "{columns}"
    );
    // -l on the manifests' labels.
    let all = hooks(&ns)
        .args([
            "list",
            RELEASE,
            "-l",
            "app.kubernetes.io/name=hooks-demo",
            "-o",
            "name",
        ])
        .success();
    assert!(all.stdout.contains("job.batch/demo-seed"), "{all}");
    let none = hooks(&ns)
        .args([
            "list",
            RELEASE,
            "-l",
            "app.kubernetes.io/name notin (hooks-demo)",
        ])
        .success();
    assert!(
        none.stdout.is_empty() && none.stderr.contains("No hooks found"),
        "{none}"
    );
    // Mistakes are usage errors that name the flag.
    for (args, says) in [
        (&["-o", "jsonpath={.items["][..], "jsonpath template"),
        (&["-l", "app in hooks-demo"], "-l: label selector"),
        (&["-o", "xml"], "unknown output format"),
        (&["-w", "-o", "name"], "-w prints a line"),
    ] {
        let out = hooks(&ns).args(["list", RELEASE]).args(args).failure();
        assert_eq!(out.code, Some(2), "{args:?}: {out}");
        assert!(out.stderr.contains(says), "{args:?}: {out}");
    }
}

/// Issue 14: `rerun` ignored `helm.sh/hook-output-log-policy` although it claims to run hooks
/// as Helm does. demo-db-migrate has `hook-failed`: Helm prints its Pod's logs when it fails,
/// and so does the rerun, which then names the next command.
#[test]
fn rerun_prints_logs_by_the_output_log_policy_like_helm() {
    let ns = TestNamespace::new("plugin-output-log");
    install(&ns, Helm::V4, RELEASE, &[]);
    let helm_run = upgrade(&ns, Helm::V4, &["--set", "failHook=db-migrate"]);
    assert!(!helm_run.ok());
    assert!(
        helm_run.stderr.contains("fake log of a kwok container"),
        "helm prints the failed hook's logs: {helm_run}"
    );
    let rerun = hooks(&ns)
        .args(["rerun", RELEASE, "--event", "pre-upgrade", "--yes"])
        .failure();
    assert_eq!(rerun.code, Some(1), "{rerun}");
    assert!(
        rerun.stderr.contains("fake log of a kwok container"),
        "{rerun}"
    );
    assert!(
        rerun.stderr.contains(&format!(
            "next: its logs: kubectl hooks logs demo -n {} --hook demo-db-migrate",
            ns.name()
        )),
        "{rerun}"
    );
}

/// Issue 14: `helm template` drops an object whose hook event is a typo (`skipping unknown
/// hooks`), so `helm template … | kubectl hooks lint -f -` reported nothing. `lint CHART_DIR`
/// renders the chart itself and reports it, with helm 4 and helm 3.
#[test]
fn lint_chart_dir_sees_the_unknown_event_helm_template_drops() {
    let dir = std::env::temp_dir().join(format!("lint-typo-{}", std::process::id()));
    let chart_dir = dir.join("hooks-demo");
    std::fs::create_dir_all(&dir).unwrap();
    Run::new("cp")
        .args(["-r"])
        .arg(chart("hooks-demo"))
        .arg(&dir)
        .success();
    let template = chart_dir.join("templates/hook-db-migrate.yaml");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(
        &template,
        text.replace("helm.sh/hook: pre-upgrade", "helm.sh/hook: pre-upgarde"),
    )
    .unwrap();
    for helm in [Helm::V4, Helm::V3] {
        let rendered = e2e::helm(helm)
            .args(["template", RELEASE])
            .arg(&chart_dir)
            .success();
        assert!(!rendered.stdout.contains("db-migrate"), "{helm} dropped it");
        let piped = Run::new(plugin_binary())
            .args(["lint", "-f", "-"])
            .stdin(rendered.stdout.into_bytes())
            .output();
        assert!(!piped.stdout.contains("pre-upgarde"), "{helm}: {piped}");
        let out = Run::new(plugin_binary())
            .args(["lint", "-q"])
            .arg(&chart_dir)
            .args(["--", "--set", "image=x.invalid/y:1"])
            .env("HELM_BIN", helm.binary())
            .output();
        assert_eq!(out.code, Some(1), "{helm}: {out}");
        assert!(
            out.stdout.contains("Helm drops this object")
                && out.stdout.contains("\"pre-upgarde\": unknown hook event")
                && out.stdout.contains("did you mean \"pre-upgrade\""),
            "{helm}: {out}"
        );
        let json = Run::new(plugin_binary())
            .args(["lint", "-o", "json"])
            .arg(&chart_dir)
            .env("HELM_BIN", helm.binary())
            .output();
        let typo = json.json()["objects"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|o| o["findings"].as_array().unwrap().clone())
            .find(|f| f["check"] == "annotation/unknown-event")
            .unwrap_or_else(|| panic!("{helm}: {json}"));
        assert_eq!(typo["file"], "templates/hook-db-migrate.yaml", "{typo}");
        let line = typo["line"].as_u64().unwrap() as usize;
        let written = std::fs::read_to_string(&template).unwrap();
        assert_eq!(
            written.lines().nth(line - 1),
            Some("    helm.sh/hook: pre-upgarde"),
            "{typo}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 14: no path from a running upgrade's hooks to their logs. `logs -f` follows the hook
/// Pods that start while `helm upgrade` runs, each line prefixed with its Pod and container.
#[test]
fn logs_follow_picks_up_the_hook_pods_of_an_upgrade() {
    let ns = TestNamespace::new("plugin-logs-follow");
    install(&ns, Helm::V4, RELEASE, &[]);
    let out_path = std::env::temp_dir().join(format!("logs-follow-{}.out", ns.name()));
    let mut follower = std::process::Command::new(plugin_binary())
        .args([
            "-n",
            ns.name(),
            "logs",
            RELEASE,
            "-f",
            "--event",
            "pre-upgrade",
        ])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(upgrade(&ns, Helm::V4, &[]).ok());
    e2e::wait_until(
        std::time::Duration::from_secs(30),
        "logs -f to print the migration's log",
        || {
            std::fs::read_to_string(&out_path)
                .unwrap_or_default()
                .contains("/db-migrate] done")
        },
    );
    let _ = follower.kill();
    let _ = follower.wait();
    let followed = std::fs::read_to_string(&out_path).unwrap();
    let _ = std::fs::remove_file(&out_path);
    assert!(
        followed
            .lines()
            .any(|l| l.starts_with("[pod/demo-db-migrate-") && l.ends_with("/db-migrate] done")),
        "{followed}"
    );
    // Only the event asked for: no post-upgrade hook's lines.
    assert!(!followed.contains("[pod/demo-seed-"), "{followed}");
}

/// Regression (a public chart's pre-delete ClusterRoleBinding rendered `subjects[0].name:
/// null`; the API server refused it during `helm uninstall` and the release stuck in
/// `uninstalling`, while lint passed it): lint checks built-in kinds against Kubernetes' own
/// types offline and names the field; `--no-schema` skips that check.
#[test]
fn lint_refuses_what_the_api_server_would_refuse() {
    let crb = "---\n# Source: c/templates/cleanup-rbac.yaml\napiVersion: rbac.authorization.k8s.io/v1\n\
               kind: ClusterRoleBinding\nmetadata:\n  name: c-cleanup\n  annotations:\n    \
               helm.sh/hook: pre-delete\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n\
               roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: c-cleanup\n\
               subjects:\n- kind: ServiceAccount\n  name: null\n  namespace: default\n";
    let out = lint(crb);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.contains("subjects[0].name"), "{out}");
    let skipped = Run::new(plugin_binary())
        .args(["lint", "--no-schema", "-f", "-"])
        .stdin(crb.as_bytes().to_vec())
        .output();
    assert_eq!(skipped.code, Some(0), "{skipped}");
}
