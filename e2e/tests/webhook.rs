//! The admission webhook against the real control plane: one `helm-hooks-webhook` process per
//! test run, on a free 127.0.0.1 port with a certificate from its own `certs` command,
//! registered by `scripts/register-local-webhook` (as the demo does) with exactly the
//! Mutating and ValidatingWebhookConfiguration of `deploy/base/webhooks.yaml`: same names, rules,
//! matchConditions, namespaceSelector, failure policies and timeouts; only `clientConfig`
//! becomes `url` + `caBundle` (what `scripts/register-local-webhook` does for the demo). What is
//! tested is what users install.
//!
//! The registration is cluster-wide, as in production: these tests use
//! [`TestNamespace::reviewed`] namespaces, every other e2e test opts its namespace out with the
//! `helm-hooks.io/webhook=skip` label. Tests share the webhook, so they count the reviews of
//! their own namespace in its JSON log rather than in the process-wide `/metrics`. When the test
//! process exits, a watchdog stops the webhook and deletes the registration.
//!
//! Needs the webhook binary built (`cargo test --workspace` builds it; or `cargo build -p
//! helm-hooks-webhook`).

use e2e::webhook::{hook_configmap, webhook_for};
use e2e::{Helm, Output, Run, TestNamespace, chart, kubectl, wait_until};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn hook_job(name: &str, pod_spec: Value, annotations: Value) -> Value {
    let mut a = json!({"helm.sh/hook": "pre-install"});
    a.as_object_mut()
        .unwrap()
        .extend(annotations.as_object().unwrap().clone());
    json!({"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": name, "annotations": a},
           "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}}})
}

fn container(extra: Value) -> Value {
    let mut c = json!({"name": "main", "image": "registry.example.invalid/tool:1.0.0"});
    c.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c
}

fn create(ns: &TestNamespace, object: &Value) -> Output {
    ns.kubectl()
        .args(["create", "-f", "-"])
        .stdin(object.to_string())
        .output()
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

/// Live hook objects of a real `helm install` and `helm test` carry the injected defaults;
/// explicit values are untouched.
#[test]
fn chart_hooks_get_the_defaults_and_keep_explicit_values() {
    for helm in Helm::ALL {
        let ns = TestNamespace::reviewed(&format!("webhook-defaults-{helm}"));
        let webhook = webhook_for(&ns);
        ns.helm(helm)
            .args(["install", "demo"])
            .arg(chart("hooks-demo"))
            .args(["--timeout", "60s"])
            .success();
        ns.helm(helm)
            .args(["test", "demo", "--timeout", "60s"])
            .success();

        // demo-seed: post-install Job without a delete policy; it stays after the run.
        let seed = ns.get_json("job", "demo-seed");
        assert_eq!(
            annotation(&seed, "helm.sh/hook-delete-policy"),
            Some("before-hook-creation,hook-succeeded"),
            "{helm}: injected delete policy"
        );
        assert_eq!(
            annotation(&seed, "helm.sh/hook-weight"),
            Some("5"),
            "explicit weight kept"
        );
        assert_eq!(seed["spec"]["activeDeadlineSeconds"], 600);
        assert_eq!(
            seed["spec"]["backoffLimit"], 0,
            "explicit backoffLimit kept"
        );
        let pod = &seed["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["securityContext"]["runAsUser"], 65532);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let c = &pod["containers"][0];
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(c["image"], "registry.example.invalid/hooks-demo/tool:1.0.0");
        assert_eq!(e2e::condition(&seed, "Complete"), Some("True"), "{seed:#}");

        // Helm's release record keeps the chart's manifest: the webhook changes only the live
        // object.
        let release = ns.release_record("demo", 1, false);
        let manifest = e2e::hook(&release, "demo-seed")["manifest"]
            .as_str()
            .unwrap();
        assert!(!manifest.contains("activeDeadlineSeconds"), "{manifest}");

        // The hook ServiceAccount gets only the delete policy.
        let sa = ns.get_json("serviceaccount", "demo-hooks");
        assert_eq!(
            annotation(&sa, "helm.sh/hook-delete-policy"),
            Some("before-hook-creation,hook-succeeded")
        );

        // The `helm test` Pod: its explicit delete policy is kept, defaults injected.
        let smoke = ns.get_json("pod", "demo-smoke-test");
        assert_eq!(
            annotation(&smoke, "helm.sh/hook-delete-policy"),
            Some("before-hook-creation"),
            "explicit delete policy kept"
        );
        assert_eq!(smoke["spec"]["activeDeadlineSeconds"], 600);
        assert_eq!(smoke["spec"]["restartPolicy"], "Never");
        assert_eq!(smoke["spec"]["securityContext"]["runAsNonRoot"], true);

        // The non-hook ConfigMap of the chart never reached the webhook; hooks did.
        assert!(
            webhook.count("mutate", "patched") >= 5,
            "{:#?}",
            webhook.reviews()
        );
        let reviews = webhook.reviews();
        assert!(
            !reviews.iter().any(|r| r.kind == "ConfigMap"),
            "the chart's ConfigMap (not a hook) reached the webhook: {reviews:#?}"
        );
        assert_eq!(webhook.count("validate", "denied"), 0);
    }
}

/// Unsafe hooks make `helm install` fail with the rule's message.
#[test]
fn unsafe_hooks_fail_helm_install_with_the_rule_message() {
    let ns = TestNamespace::reviewed("webhook-unsafe");
    let webhook = webhook_for(&ns);
    for (unsafe_, expected) in [
        (
            "privileged",
            "privileged: Job/bad-migrate: spec.template.spec.containers[0].securityContext.privileged",
        ),
        (
            "hostPath",
            "host-path: Job/bad-migrate: spec.template.spec.volumes[0].hostPath",
        ),
        (
            "hostNetwork",
            "host-namespaces: Job/bad-migrate: spec.template.spec.hostNetwork",
        ),
        (
            "restartAlways",
            "restart-policy-always: Pod/bad-check: spec.restartPolicy",
        ),
        (
            "deletePolicyTypo",
            "delete-policy-values: Job/bad-migrate: metadata.annotations[helm.sh/hook-delete-policy]",
        ),
    ] {
        let out = ns
            .helm(Helm::V4)
            .args(["install", "bad"])
            .arg(chart("webhook-unsafe"))
            .args(["--set", &format!("unsafe={unsafe_}"), "--timeout", "30s"])
            .failure();
        let text = out.combined();
        assert!(
            text.contains("denied the request: helm-hooks policy denied this hook"),
            "{unsafe_}: {text}"
        );
        assert!(
            text.contains(expected),
            "{unsafe_}: expected {expected:?} in {text}"
        );
        if unsafe_ == "deletePolicyTypo" {
            assert!(
                text.contains("did you mean \\\"hook-succeeded\\\"")
                    || text.contains("did you mean \"hook-succeeded\""),
                "{text}"
            );
        }
        let _ = ns
            .helm(Helm::V4)
            .args(["uninstall", "bad", "--no-hooks"])
            .output();
    }
    // The same with kubectl, and with a server-side dry run (dryRun: true reviews).
    let privileged = hook_job(
        "direct",
        json!({"restartPolicy": "Never", "containers": [container(json!({"securityContext": {"privileged": true}}))]}),
        json!({}),
    );
    for dry_run in [false, true] {
        let mut run = ns.kubectl().arg("create");
        if dry_run {
            run = run.arg("--dry-run=server");
        }
        let out = run
            .args(["-f", "-"])
            .stdin(privileged.to_string())
            .failure();
        assert!(
            out.stderr.contains(
                "denied the request: helm-hooks policy denied this hook: privileged: Job/direct"
            ),
            "{out}"
        );
    }
    // Five helm installs and two kubectl creates, each denied by /validate.
    assert_eq!(
        webhook.count("validate", "denied"),
        7,
        "{:#?}",
        webhook.reviews()
    );
}

/// A warn-mode rule's warning reaches kubectl's and helm's output; the object is admitted.
#[test]
fn warnings_reach_kubectl_and_helm() {
    let ns = TestNamespace::reviewed("webhook-warn");
    let webhook = webhook_for(&ns);
    let job = hook_job(
        "latest",
        json!({"restartPolicy": "Never", "containers": [container(json!({"image": "busybox"}))]}),
        json!({}),
    );
    let out = create(&ns, &job);
    assert!(out.ok(), "{out}");
    assert!(
        out.stderr.contains("Warning: image-tag: Job/latest: spec.template.spec.containers[0].image: busybox has no tag"),
        "{out}"
    );
    let out = ns
        .helm(Helm::V4)
        .args(["install", "warn"])
        .arg(chart("webhook-unsafe"))
        .args(["--set", "unsafe=imageLatest", "--timeout", "60s"])
        .success();
    eprintln!("helm install with a warn-mode finding:\n{out}");
    assert!(
        out.combined().contains("image-tag: Job/warn-migrate"),
        "helm does not show the warning:\n{out}"
    );
    assert!(
        webhook.count("validate", "warned") >= 2,
        "{:#?}",
        webhook.reviews()
    );
}

/// Objects without `helm.sh/hook` never reach the webhook (matchConditions).
#[test]
fn non_hook_objects_never_reach_the_webhook() {
    let ns = TestNamespace::reviewed("webhook-nonhook");
    let webhook = webhook_for(&ns);
    let plain_job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "plain", "annotations": {"team": "x"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [container(json!({"securityContext": {"privileged": true}}))]}}}});
    assert!(create(&ns, &plain_job).ok());
    let plain_cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}});
    assert!(create(&ns, &plain_cm).ok());
    // The Job's Pods (created by the job controller, no hook annotation) don't either.
    wait_until(Duration::from_secs(60), "the plain Job to complete", || {
        let job = ns.get_json("job", "plain");
        e2e::condition(&job, "Complete") == Some("True")
    });
    let reviews = webhook.reviews();
    assert!(
        reviews.is_empty(),
        "a non-hook object reached the webhook: {reviews:#?}"
    );
    // Sanity: a hook object does reach it, twice (mutate and validate).
    assert!(create(&ns, &hook_configmap("hook")).ok());
    assert_eq!(webhook.reviews().len(), 2, "{:#?}", webhook.reviews());
    let live = ns.get_json("configmap", "hook");
    assert_eq!(
        annotation(&live, "helm.sh/hook-delete-policy"),
        Some("before-hook-creation,hook-succeeded")
    );
}

/// A namespace labelled `helm-hooks.io/webhook=skip` (the opt-out in deploy/'s
/// namespaceSelector) is never reviewed: a privileged hook is admitted as it is.
#[test]
fn opted_out_namespaces_are_never_reviewed() {
    let watched = TestNamespace::reviewed("webhook-watched");
    let opted_out = TestNamespace::new("webhook-opted-out");
    let webhook = webhook_for(&watched);
    let privileged = hook_job(
        "privileged",
        json!({"restartPolicy": "Never", "containers": [container(json!({"securityContext": {"privileged": true}}))]}),
        json!({}),
    );
    assert!(!create(&watched, &privileged).ok(), "denied where reviewed");
    let out = create(&opted_out, &privileged);
    assert!(out.ok(), "{out}");
    let live = opted_out.get_json("job", "privileged");
    assert_eq!(annotation(&live, "helm.sh/hook-delete-policy"), None);
    assert!(
        webhook.webhook.reviews(opted_out.name()).is_empty(),
        "an opted-out namespace was reviewed"
    );
}

/// With the post-renderer (`helm-plugin/hooks-post-render`) the hooks arrive with the defaults
/// already in place: the webhook reviews them and patches nothing (one engine, one patch).
#[test]
fn post_rendered_hooks_need_no_webhook_patch() {
    let ns = TestNamespace::reviewed("webhook-post-render");
    let webhook = webhook_for(&ns);
    let plugins = e2e::HelmPlugins::install(Helm::V4, &["hooks-post-render"]);
    for verb in ["install", "upgrade"] {
        plugins
            .apply(ns.helm(Helm::V4))
            .args([verb, "demo"])
            .arg(chart("hooks-demo"))
            .args(["--post-renderer", "hooks-post-render", "--timeout", "60s"])
            .success();
    }
    let reviewed = webhook.count("mutate", "allowed");
    assert!(reviewed >= 5, "{:#?}", webhook.reviews());
    assert_eq!(
        webhook.count("mutate", "patched"),
        0,
        "{:#?}",
        webhook.reviews()
    );
    assert_eq!(webhook.count("validate", "denied"), 0);
}

/// Issue 14, "Done when": a newcomer's session with `kubectl hooks`, on a namespace the
/// webhook reviews. They complete a release name; watch an upgrade's hooks live; see that a
/// release is stuck (helm killed mid-upgrade) and the command that unsticks it; read a failed
/// hook's logs; and get the same finding from `kubectl hooks lint` as from the webhook.
#[test]
fn newcomer_session_with_kubectl_hooks() {
    let ns = TestNamespace::reviewed("webhook-newcomer");
    let _webhook = webhook_for(&ns);
    let hooks = || e2e::kubectl_hooks().args(["-n", ns.name()]);
    let upgrade = |extra: &[&str]| {
        ns.helm(Helm::V4)
            .args(["upgrade", "demo"])
            .arg(chart("hooks-demo"))
            .args(["--timeout", "60s"])
            .args(extra)
            .output()
    };
    ns.helm(Helm::V4)
        .args(["install", "demo"])
        .arg(chart("hooks-demo"))
        .args(["--timeout", "60s"])
        .success();

    // 1. `kubectl hooks list <TAB>` completes the release (kubectl runs kubectl_complete-hooks).
    let plugin = e2e::workspace_binary("kubectl_complete-hooks", "KUBECTL_COMPLETE_HOOKS_BIN");
    let mut dirs = vec![plugin.parent().unwrap().to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let completed = kubectl()
        .env("PATH", std::env::join_paths(dirs).unwrap())
        .args(["__complete", "hooks", "-n", ns.name(), "list", "de"])
        .success();
    assert!(completed.stdout.lines().any(|l| l == "demo"), "{completed}");

    // 2. `list -w` follows `helm upgrade` as it runs the hooks: the new revision's line, then
    // a line per hook whose state changed, until Ctrl-C.
    let out_path = std::env::temp_dir().join(format!("newcomer-watch-{}.out", ns.name()));
    let watcher = Command::new(e2e::workspace_binary("kubectl-hooks", "KUBECTL_HOOKS_BIN"))
        .args(["-n", ns.name(), "list", "demo", "-w"])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(upgrade(&[]).ok());
    std::thread::sleep(Duration::from_secs(2));
    Run::new("kill")
        .args(["-INT", &watcher.id().to_string()])
        .success();
    let status = wait_child(watcher);
    let watched = std::fs::read_to_string(&out_path).unwrap();
    let _ = std::fs::remove_file(&out_path);
    assert!(
        status.success(),
        "list -w ended with {status:?}:\n{watched}"
    );
    assert!(
        watched.lines().next().unwrap_or("").contains("REVISION: 1"),
        "{watched}"
    );
    // What came after the first table (whose last row is the test hook).
    let (_, live) = watched.split_once("pod/demo-smoke-test").unwrap();
    for expected in [
        "RELEASE: demo   NAMESPACE: ",
        "REVISION: 2   STATUS: deployed",
        "job/demo-db-migrate",
        "job/demo-seed",
    ] {
        assert!(
            live.contains(expected),
            "{expected:?} not followed:\n{watched}"
        );
    }

    // 3. helm killed mid-upgrade leaves the release pending-upgrade; `list` says so and names
    // the command that recovers it, which then works.
    let mut killed = Command::new(Helm::V4.binary())
        .args(["upgrade", "demo", "-n", ns.name(), "--timeout", "5m"])
        .arg(chart("hooks-demo"))
        .args(["--set", "hangHook=db-migrate"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(60), "helm to start revision 3", || {
        ns.try_get_json("secret", "sh.helm.release.v1.demo.v3")
            .is_some_and(|s| s["metadata"]["labels"]["status"] == "pending-upgrade")
    });
    killed.kill().unwrap();
    let _ = killed.wait();
    let stuck = hooks().args(["list", "demo"]).success();
    let rollback = format!("helm rollback demo 2 -n {}", ns.name());
    assert!(
        stuck
            .stderr
            .contains("release demo is pending-upgrade at revision 3")
            && stuck.stderr.contains(&rollback),
        "{stuck}"
    );
    assert!(
        stuck.stdout.starts_with(&format!(
            "RELEASE: demo   NAMESPACE: {}   REVISION: 3   STATUS: pending-upgrade",
            ns.name()
        )),
        "{stuck}"
    );
    ns.helm(Helm::V4)
        .args(["rollback", "demo", "2", "--timeout", "60s"])
        .success();

    // 4. A failed hook: REASON in -o wide, its logs with `kubectl hooks logs`.
    assert!(!upgrade(&["--set", "failHook=db-migrate"]).ok());
    let wide = hooks().args(["list", "demo", "-o", "wide"]).success();
    let migrate = wide
        .stdout
        .lines()
        .find(|l| l.starts_with("job/demo-db-migrate "))
        .unwrap_or_else(|| panic!("{wide}"));
    assert!(migrate.contains("BackoffLimitExceeded"), "{wide}");
    let logs = hooks()
        .args(["logs", "demo", "--hook", "demo-db-migrate", "--tail", "1"])
        .success();
    assert!(
        logs.stdout.lines().count() == 1
            && logs.stdout.starts_with("[pod/demo-db-migrate-")
            && logs.stdout.contains("/db-migrate] done"),
        "{logs}"
    );

    // 5. lint predicts the webhook: the line lint gives for a privileged hook is the line the
    // webhook denies it with.
    let lint = e2e::kubectl_hooks()
        .args(["lint", "-o", "json"])
        .arg(chart("webhook-unsafe"))
        .args(["--", "--name-template", "bad", "--set", "unsafe=privileged"])
        .env("HELM_BIN", Helm::V4.binary())
        .output();
    assert_eq!(lint.code, Some(1), "{lint}");
    let report = lint.json();
    assert_eq!(report["kind"], "LintReport", "{lint}");
    let finding = report["objects"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "policy/privileged")
        .unwrap_or_else(|| panic!("{lint}"))
        .clone();
    assert_eq!(finding["file"], "templates/hook.yaml", "{finding}");
    assert!(finding["line"].as_u64().is_some(), "{finding}");
    let line = finding["webhook"].as_str().unwrap();
    let denied = ns
        .helm(Helm::V4)
        .args(["install", "bad"])
        .arg(chart("webhook-unsafe"))
        .args(["--set", "unsafe=privileged", "--timeout", "30s"])
        .failure();
    assert!(
        denied.combined().contains(line),
        "lint said {line:?}; the webhook said:\n{denied}"
    );
}

/// Waits for `child` (at most 20 s), killing it if it hangs.
fn wait_child(mut child: Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
