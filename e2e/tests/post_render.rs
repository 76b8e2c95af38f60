//! The post-renderer and the Helm plugins (`helm-plugin/`) with real helm 4 and helm 3: the
//! defaults land in Helm's own release record and Helm itself honours them; helm 3 never
//! hands hooks to a post-renderer; an enforce rule stops `helm install` before the cluster is
//! touched; `helm hooks` runs the plugin.

use e2e::{Helm, HelmPlugins, Run, TestNamespace, chart, hook};
use serde_json::Value;

const RELEASE: &str = "demo";

fn helm4(plugins: &HelmPlugins, ns: &TestNamespace) -> Run {
    plugins.apply(ns.helm(Helm::V4))
}

/// The chart's `demo-seed` Job has no delete policy: Helm's default keeps it after success.
/// Through the post-renderer the record carries the defaults, and Helm itself deletes it.
#[test]
fn helm4_post_renderer_puts_the_defaults_into_the_record_and_helm_honours_them() {
    let ns = TestNamespace::new("post-render-helm4");
    let plugins = HelmPlugins::install(Helm::V4, &["hooks-post-render", "hooks"]);
    for verb in ["install", "upgrade"] {
        helm4(&plugins, &ns)
            .args([verb, RELEASE])
            .arg(chart("hooks-demo"))
            .args(["--post-renderer", "hooks-post-render", "--timeout", "60s"])
            .success();
    }
    let record = ns.release_record(RELEASE, 2, false);
    let seed = hook(&record, "demo-seed");
    assert_eq!(
        seed["delete_policies"],
        serde_json::json!(["before-hook-creation", "hook-succeeded"]),
        "{seed:#}"
    );
    let manifest = seed["manifest"].as_str().unwrap();
    for default in [
        "activeDeadlineSeconds: 600",
        "runAsNonRoot: true",
        "allowPrivilegeEscalation: false",
        "type: RuntimeDefault",
    ] {
        assert!(manifest.contains(default), "{default} not in {manifest}");
    }
    // The smoke test's explicit delete policy stays as the chart wrote it.
    assert_eq!(
        hook(&record, "demo-smoke-test")["delete_policies"],
        serde_json::json!(["before-hook-creation"])
    );
    // Helm deleted every hook that succeeded, without any cleanup run; the ServiceAccount too.
    for (kind, name) in [
        ("job", "demo-seed"),
        ("job", "demo-notify"),
        ("job", "demo-db-migrate"),
        ("pod", "demo-config-validate"),
        ("serviceaccount", "demo-hooks"),
    ] {
        assert!(ns.try_get_json(kind, name).is_none(), "{kind}/{name} left");
    }
    // `helm hooks list` (the cli plugin) shows the record's policy.
    let list = helm4(&plugins, &ns)
        .args(["hooks", "list", RELEASE, "-o", "json"])
        .success();
    let rows: Value = serde_json::from_str(&list.stdout).unwrap();
    let seed_row = rows["items"]
        .as_array()
        .or(rows.as_array())
        .unwrap()
        .iter()
        .find(|r| r["name"] == "demo-seed")
        .unwrap_or_else(|| panic!("{list}"))
        .clone();
    assert_eq!(
        seed_row["deletePolicies"],
        serde_json::json!(["before-hook-creation", "hook-succeeded"]),
        "{seed_row:#}"
    );
    assert_eq!(seed_row["status"], "Absent");
}

/// Helm 3 runs a post-renderer on the regular manifests only: the hooks never reach it, so
/// their record keeps the chart's annotations (Helm 3 users need the janitor instead).
#[test]
fn helm3_never_passes_hooks_to_a_post_renderer() {
    let ns = TestNamespace::new("post-render-helm3");
    let dir = std::env::temp_dir().join(format!("{}-post-renderer", ns.name()));
    std::fs::create_dir_all(&dir).unwrap();
    let seen = dir.join("seen.yaml");
    let script = dir.join("post-render");
    let binary = e2e::workspace_binary("kubectl-hooks", "KUBECTL_HOOKS_BIN");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -eu\ntee '{}' | '{}' post-render\n",
            seen.display(),
            binary.display()
        ),
    )
    .unwrap();
    Run::new("chmod").arg("+x").arg(&script).success();
    ns.helm(Helm::V3)
        .args(["install", RELEASE])
        .arg(chart("hooks-demo"))
        .arg("--post-renderer")
        .arg(&script)
        .args(["--timeout", "60s"])
        .success();
    let input = std::fs::read_to_string(&seen).unwrap();
    assert!(input.contains("kind: ConfigMap"), "{input}");
    assert!(
        !input.contains("helm.sh/hook"),
        "helm 3 passed a hook to the post-renderer: {input}"
    );
    // The record holds only Helm's own default (written back once the hook ran), not the
    // post-renderer's.
    let record = ns.release_record(RELEASE, 1, false);
    assert_eq!(
        hook(&record, "demo-seed")["delete_policies"],
        serde_json::json!(["before-hook-creation"])
    );
    assert!(
        !hook(&record, "demo-seed")["manifest"]
            .as_str()
            .unwrap()
            .contains("activeDeadlineSeconds")
    );
    // So Helm 3 keeps the succeeded seed Job (its default is before-hook-creation only).
    ns.get_json("job", "demo-seed");
    let _ = std::fs::remove_dir_all(dir);
}

/// A hook that breaks an enforce rule makes `helm install` fail with the rule's message,
/// before anything reaches the cluster: no objects, no release record.
#[test]
fn an_enforce_violation_stops_helm_install_before_the_cluster() {
    let ns = TestNamespace::new("post-render-deny");
    let plugins = HelmPlugins::install(Helm::V4, &["hooks-post-render"]);
    let out = helm4(&plugins, &ns)
        .args(["install", "bad"])
        .arg(chart("webhook-unsafe"))
        .args(["--set", "unsafe=privileged", "--timeout", "30s"])
        .args(["--post-renderer", "hooks-post-render"])
        .failure();
    let text = out.combined();
    assert!(
        text.contains(
            "helm-hooks policy denied this hook: privileged: Job/bad-migrate: \
             spec.template.spec.containers[0].securityContext.privileged"
        ),
        "{text}"
    );
    for kind in ["jobs", "pods", "configmaps", "secrets", "serviceaccounts"] {
        let names = ns.names(kind, None);
        let names: Vec<&String> = names
            .iter()
            .filter(|n| !n.starts_with("kube-root-ca") && *n != "default")
            .collect();
        assert!(names.is_empty(), "{kind}: {names:?}");
    }
}

/// `helm hooks` works with helm 3 too (the legacy plugin format both load).
#[test]
fn helm3_runs_the_hooks_plugin() {
    let ns = TestNamespace::new("helm3-plugin");
    let plugins = HelmPlugins::install(Helm::V3, &["hooks"]);
    ns.helm(Helm::V3)
        .args(["install", RELEASE])
        .arg(chart("hooks-demo"))
        .args(["--timeout", "60s"])
        .success();
    let list = plugins
        .apply(ns.helm(Helm::V3))
        .args(["hooks", "list", RELEASE])
        .success();
    assert!(list.stdout.starts_with("RELEASE: demo "), "{list}");
    assert!(list.stdout.contains("\nNAME "), "{list}");
    assert!(list.stdout.contains("demo-seed"), "{list}");
}

/// Issue 14: `helm hooks <TAB>` completes like `kubectl hooks <TAB>`: Helm 3 and 4 run the
/// plugin's `plugin.complete`, which asks kubectl-hooks in Helm's namespace.
#[test]
fn helm_hooks_completes_releases_and_events_on_helm_4_and_3() {
    let ns = TestNamespace::new("post-render-complete");
    ns.helm(Helm::V4)
        .args(["install", RELEASE])
        .arg(chart("hooks-demo"))
        .args(["--timeout", "60s"])
        .success();
    for helm in [Helm::V4, Helm::V3] {
        let plugins = HelmPlugins::install(helm, &["hooks"]);
        let complete = |words: &[&str]| {
            plugins
                .apply(ns.helm(helm))
                .args(["__complete", "hooks"])
                .args(words)
                .success()
                .stdout
        };
        let releases = complete(&["list", ""]);
        assert!(releases.lines().any(|l| l == RELEASE), "{helm}: {releases}");
        let events = complete(&["rerun", RELEASE, "--event", "pre-"]);
        assert!(
            events.lines().any(|l| l == "pre-upgrade"),
            "{helm}: {events}"
        );
        assert!(
            !events.lines().any(|l| l == "post-upgrade"),
            "{helm}: {events}"
        );
    }
}
