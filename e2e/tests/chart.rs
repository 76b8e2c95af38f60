//! The Helm chart charts/helm-hooks against deploy/ and the real control plane.
//!
//! - One truth: `helm template` with matching values renders what `kubectl kustomize` renders
//!   of each overlay, field by field, once generated certificate data, Helm's labels, the
//!   Namespace (Helm's `--create-namespace`) and the chart's CA Secret are set aside.
//! - With cert-manager, the rendered chart passes a server-side dry run against its CRDs.
//! - The chart lints clean (`helm lint --strict`, `kubectl hooks lint`) with helm 4 and 3.
//! - The README's chart install, as a user runs it, with helm 4 and with helm 3, from the
//!   package scripts/release-chart makes: install, rollout (kwok runs the Pods), the caBundle
//!   verifies the serving certificate, an upgrade with changed values keeps the CA, uninstall
//!   leaves no webhook configuration and no hook object.
//!
//! The install registers the webhook cluster-wide with nothing serving behind it (the image
//! is never pulled): the release namespace is excluded by the webhooks' namespaceSelector,
//! every other e2e namespace opts out (`helm-hooks.io/webhook=skip`), the tests of this file
//! take turns, and a guard uninstalls if a test stops half way. deploy.rs registers the same
//! cluster-wide names; cargo runs test binaries one after another, never together.

use base64::Engine as _;
use e2e::{Cluster, Helm, Run, TestNamespace, kubectl, repo_root};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The namespace deploy/ installs into; the chart is rendered for it to compare.
const DEPLOY_NAMESPACE: &str = "helm-hooks-system";
/// Labels the chart adds to deploy/'s two (`app.kubernetes.io/name`, `…/part-of`).
const HELM_LABELS: [&str; 4] = [
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
    "helm.sh/chart",
];
const GENERATED: &str = "<generated>";

fn chart_dir() -> PathBuf {
    repo_root().join("charts/helm-hooks")
}

fn take_turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every document of a YAML stream as JSON (empty documents left out).
fn yaml_objects(text: &str) -> Vec<Value> {
    use serde::Deserialize as _;
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("YAML document"))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn key(object: &Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or_default(),
        object["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// `helm template helm-hooks charts/helm-hooks -n NAMESPACE ARGS…`.
fn helm_template(helm: Helm, namespace: &str, args: &[&str]) -> String {
    e2e::helm(helm)
        .args(["template", "helm-hooks"])
        .arg(chart_dir())
        .args(["--namespace", namespace])
        .args(args)
        .success()
        .stdout
}

/// The chart's objects normalised for comparison with deploy/'s: Helm's labels removed (each
/// checked present first), generated certificate data and caBundles replaced by a marker.
fn normalised_chart(text: &str) -> BTreeMap<String, Value> {
    let mut objects = BTreeMap::new();
    for mut object in yaml_objects(text) {
        let name = key(&object);
        let labels = object["metadata"]["labels"]
            .as_object_mut()
            .unwrap_or_else(|| panic!("{name}: no labels"));
        for label in HELM_LABELS {
            assert!(
                labels.remove(label).is_some(),
                "{name}: Helm label {label} missing"
            );
        }
        normalise_generated(&mut object);
        objects.insert(key(&object), object);
    }
    objects
}

fn normalised_kustomize(text: &str) -> BTreeMap<String, Value> {
    yaml_objects(text)
        .into_iter()
        .map(|mut object| {
            normalise_generated(&mut object);
            (key(&object), object)
        })
        .collect()
}

/// Certificate data differs on every generation: compare which fields hold it, not the bytes.
fn normalise_generated(object: &mut Value) {
    if object["kind"] == "Secret"
        && let Some(data) = object.get_mut("data").and_then(Value::as_object_mut)
    {
        for value in data.values_mut() {
            *value = json!(GENERATED);
        }
    }
    if let Some(webhooks) = object.get_mut("webhooks").and_then(Value::as_array_mut) {
        for webhook in webhooks {
            if let Some(ca) = webhook["clientConfig"].get_mut("caBundle") {
                *ca = json!(GENERATED);
            }
        }
    }
}

/// Asserts both sets hold the same objects with the same fields, naming the first difference.
fn assert_same_objects(chart: &BTreeMap<String, Value>, deploy: &BTreeMap<String, Value>) {
    let chart_keys: Vec<&String> = chart.keys().collect();
    let deploy_keys: Vec<&String> = deploy.keys().collect();
    assert_eq!(chart_keys, deploy_keys, "chart vs deploy/: objects");
    for (key, expected) in deploy {
        let actual = &chart[key];
        assert!(
            actual == expected,
            "{key} differs between the chart and deploy/:\n--- chart ---\n{}\n--- deploy/ ---\n{}",
            serde_json::to_string_pretty(actual).unwrap(),
            serde_json::to_string_pretty(expected).unwrap()
        );
    }
}

/// The chart with default values renders what `kubectl kustomize deploy/overlays/self-signed`
/// renders (certificates from certs/generate), with helm 4 and helm 3.
#[test]
fn chart_renders_what_the_self_signed_overlay_renders() {
    Cluster::get();
    let copy = TempCopy::of_install_files("self-signed");
    copy.certs_generate().success();
    let kustomized = kubectl()
        .args(["kustomize"])
        .arg(copy.path().join("deploy/overlays/self-signed"))
        .success()
        .stdout;
    let mut deploy = normalised_kustomize(&kustomized);
    let namespace = deploy.remove("Namespace/helm-hooks-system");
    assert!(namespace.is_some(), "deploy/ has its Namespace: {deploy:?}");

    for helm in Helm::ALL {
        let mut chart = normalised_chart(&helm_template(helm, DEPLOY_NAMESPACE, &[]));
        // The chart keeps its CA (to sign renewed serving certificates under the same caBundle);
        // certs/generate keeps it in generated/ instead.
        let ca = chart
            .remove("Secret/helm-hooks-webhook-ca")
            .unwrap_or_else(|| panic!("{helm}: no CA Secret"));
        assert_eq!(
            ca["data"],
            json!({"ca.crt": GENERATED, "ca.key": GENERATED})
        );
        assert_same_objects(&chart, &deploy);
    }
}

/// What `kubectl kustomize` renders for the self-signed overlay with `deploy/components/NAME`
/// (in a copy of the install files, certificates generated), normalised, the Namespace aside.
fn self_signed_with_component(name: &str) -> BTreeMap<String, Value> {
    let copy = TempCopy::of_install_files(name);
    copy.certs_generate().success();
    let dir = copy.path().join("deploy/with-component");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             resources: [../overlays/self-signed]\ncomponents: [../components/{name}]\n"
        ),
    )
    .unwrap();
    let kustomized = kubectl().args(["kustomize"]).arg(&dir).success().stdout;
    let mut deploy = normalised_kustomize(&kustomized);
    assert!(deploy.remove("Namespace/helm-hooks-system").is_some());
    deploy
}

/// `--set policySource=cluster` renders what the self-signed overlay with
/// `deploy/components/cluster-policy` renders (the CRD aside: the chart ships it in crds/, a
/// copy of deploy/crds' that the core's tests keep equal).
#[test]
fn chart_with_cluster_policy_source_renders_what_the_cluster_policy_component_renders() {
    Cluster::get();
    let mut deploy = self_signed_with_component("cluster-policy");
    let crd = deploy
        .remove("CustomResourceDefinition/hookpolicies.hooks.helm-hooks.io")
        .expect("the component's CRD");
    let chart_crd: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(chart_dir().join("crds/hookpolicies.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(chart_crd, crd, "crds/hookpolicies.yaml");
    for key in [
        "HookPolicy/default",
        "MutatingAdmissionPolicy/hookpolicy-summary",
        "ClusterRole/helm-hooks-webhook-policy",
    ] {
        assert!(deploy.contains_key(key), "{key} missing from deploy/");
    }
    assert!(!deploy.contains_key("ConfigMap/helm-hooks-policy"));
    for helm in Helm::ALL {
        let mut chart = normalised_chart(&helm_template(
            helm,
            DEPLOY_NAMESPACE,
            &["--set", "policySource=cluster"],
        ));
        assert!(
            chart.remove("Secret/helm-hooks-webhook-ca").is_some(),
            "{helm}"
        );
        assert_same_objects(&chart, &deploy);
    }
}

/// `--set webhooks.oneCall=true` renders what the self-signed overlay with
/// `deploy/components/one-call` renders: the mutating webhook alone, on `/admit`, failing
/// closed.
#[test]
fn chart_with_one_call_renders_what_the_one_call_component_renders() {
    Cluster::get();
    let deploy = self_signed_with_component("one-call");
    assert!(!deploy.contains_key("ValidatingWebhookConfiguration/helm-hooks"));
    let webhook = &deploy["MutatingWebhookConfiguration/helm-hooks"]["webhooks"][0];
    assert_eq!(webhook["clientConfig"]["service"]["path"], "/admit");
    assert_eq!(webhook["failurePolicy"], "Fail");
    for helm in Helm::ALL {
        let mut chart = normalised_chart(&helm_template(
            helm,
            DEPLOY_NAMESPACE,
            &["--set", "webhooks.oneCall=true"],
        ));
        assert!(
            chart.remove("Secret/helm-hooks-webhook-ca").is_some(),
            "{helm}"
        );
        assert_same_objects(&chart, &deploy);
    }
}

/// `--set certManager.enabled=true` renders what `kubectl kustomize deploy/overlays/cert-manager`
/// renders.
#[test]
fn chart_with_cert_manager_renders_what_the_cert_manager_overlay_renders() {
    Cluster::get();
    let kustomized = kubectl()
        .args(["kustomize"])
        .arg(repo_root().join("deploy/overlays/cert-manager"))
        .success()
        .stdout;
    let mut deploy = normalised_kustomize(&kustomized);
    deploy.remove("Namespace/helm-hooks-system").unwrap();
    for helm in Helm::ALL {
        let rendered = helm_template(
            helm,
            DEPLOY_NAMESPACE,
            &["--set", "certManager.enabled=true"],
        );
        assert_same_objects(&normalised_chart(&rendered), &deploy);
    }
}

/// With cert-manager, the rendered chart passes a server-side dry run against cert-manager's own
/// CRDs (the apiserver validates every object without storing it), with helm 4 and helm 3.
#[test]
fn chart_with_cert_manager_passes_a_server_side_dry_run_against_cert_managers_crds() {
    let cluster = Cluster::get();
    cluster.install_cert_manager_crds();
    // The dry run reads the cluster-scoped objects of the same names that the install tests
    // create and delete: without a turn, one vanishing between apply's read and its patch fails
    // the dry run with NotFound.
    let _turn = take_turn();
    for helm in Helm::ALL {
        let ns = TestNamespace::new(&format!("chart-cm-{helm}"));
        let rendered = helm_template(helm, ns.name(), &["--set", "certManager.enabled=true"]);
        let objects = kubectl()
            .args(["apply", "--dry-run=server", "-o", "json", "-f", "-"])
            .stdin(rendered)
            .success()
            .objects();
        let kinds: Vec<String> = objects.iter().map(key).collect();
        for expected in [
            "Issuer/helm-hooks-selfsigned",
            "Certificate/helm-hooks-webhook",
            "Deployment/helm-hooks-webhook",
            "ValidatingWebhookConfiguration/helm-hooks",
        ] {
            assert!(kinds.iter().any(|k| k == expected), "{expected}: {kinds:?}");
        }
    }
}

/// `helm lint --strict` passes with the defaults and with every switch on, with helm 4 and 3;
/// the rendered chart has no hooks, so `kubectl hooks lint` finds nothing at all.
#[test]
fn chart_lints_clean() {
    Cluster::get();
    let all_on = [
        "--set",
        "certManager.enabled=true,metrics.serviceMonitor.enabled=true,podDisruptionBudget.enabled=true",
        "--set",
        "policy.rules.image-tag=enforce,webhooks.namespaceSelector.matchLabels.team=a",
    ];
    for helm in Helm::ALL {
        for args in [&[][..], &all_on[..]] {
            let out = e2e::helm(helm)
                .args(["lint", "--strict"])
                .arg(chart_dir())
                .args(args)
                .success();
            assert!(
                !out.stdout.contains("[WARNING]") && !out.stdout.contains("[ERROR]"),
                "{out}"
            );
            let rendered = helm_template(helm, "e2e-chart-lint", args);
            let lint = Run::new(e2e::workspace_binary("kubectl-hooks", "KUBECTL_HOOKS_BIN"))
                .args(["lint", "-f", "-", "-o", "json"])
                .stdin(rendered)
                .success()
                .json();
            assert_eq!(lint["summary"]["errors"], 0, "{lint:#}");
            assert_eq!(lint["summary"]["warnings"], 0, "{lint:#}");
            assert_eq!(lint["summary"]["hooks"], 0, "{lint:#}");
            assert_eq!(lint["objects"], json!([]), "{lint:#}");
        }
    }
}

/// The chart's version and appVersion are the workspace's (scripts/release-chart refuses to
/// package otherwise), and its default image is deploy/'s.
#[test]
fn chart_version_is_the_workspace_version() {
    let chart = std::fs::read_to_string(chart_dir().join("Chart.yaml")).unwrap();
    let chart: Value = serde_yaml_ng::from_str(&chart).unwrap();
    let workspace = env!("CARGO_PKG_VERSION");
    assert_eq!(chart["version"], workspace, "Chart.yaml version");
    assert_eq!(chart["appVersion"], workspace, "Chart.yaml appVersion");
}

/// The README's chart install with helm 4.
#[test]
fn helm4_install_rollout_upgrade_keeps_the_ca_uninstall_leaves_nothing() {
    install_upgrade_uninstall(Helm::V4);
}

/// The README's chart install with helm 3.
#[test]
fn helm3_install_rollout_upgrade_keeps_the_ca_uninstall_leaves_nothing() {
    install_upgrade_uninstall(Helm::V3);
}

fn install_upgrade_uninstall(helm: Helm) {
    Cluster::get();
    let _turn = take_turn();
    let ns = TestNamespace::new(&format!("chart-{helm}"));
    let release = "helm-hooks";
    let b64 = base64::engine::general_purpose::STANDARD;

    // The package a release ships, made by the release script.
    let dist = TempDir::new(&format!("chart-dist-{helm}"));
    let version = env!("CARGO_PKG_VERSION");
    Run::new(repo_root().join("scripts/release-chart"))
        .arg(format!("v{version}"))
        .args(["--out-dir"])
        .arg(dist.path())
        .success();
    let package = dist.path().join(format!("helm-hooks-{version}.tgz"));
    assert!(package.is_file(), "{} missing", package.display());

    let _uninstall = Uninstall {
        helm,
        namespace: ns.name().to_owned(),
    };
    ns.helm(helm)
        .args(["install", release])
        .arg(&package)
        .args(["--wait", "--timeout", "2m"])
        .success();
    rollout(&ns);

    let registered_ca = || -> String {
        let mut bundles = Vec::new();
        for kind in [
            "mutatingwebhookconfiguration",
            "validatingwebhookconfiguration",
        ] {
            bundles.push(
                kubectl()
                    .args(["get", kind, "helm-hooks", "-o"])
                    .arg("jsonpath={.webhooks[0].clientConfig.caBundle}")
                    .success()
                    .stdout,
            );
        }
        assert_eq!(bundles[0], bundles[1], "both configurations trust one CA");
        String::from_utf8(b64.decode(&bundles[0]).expect("caBundle is base64")).unwrap()
    };
    let secret_data = |name: &str, key: &str| -> String {
        let secret = ns.get_json("secret", name);
        let data = secret["data"][key].as_str().unwrap_or_default();
        String::from_utf8(b64.decode(data).unwrap()).unwrap()
    };
    let host = format!("helm-hooks-webhook.{}.svc", ns.name());

    let ca = registered_ca();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    assert_eq!(secret_data("helm-hooks-webhook-ca", "ca.crt"), ca);
    let serving = secret_data("helm-hooks-webhook-tls", "tls.crt");
    verify(&ca, &serving, &host);
    let configuration = |kind: &str| -> Value {
        kubectl()
            .args(["get", kind, "helm-hooks", "-o", "json"])
            .success()
            .json()
    };
    let selector =
        &configuration("validatingwebhookconfiguration")["webhooks"][0]["namespaceSelector"];
    assert_eq!(
        selector["matchExpressions"][0]["values"],
        json!(["kube-system", ns.name()]),
        "the release namespace is never reviewed"
    );

    // An upgrade with changed values: the CA and caBundle stay, the serving certificate is
    // renewed under it, the new values are live.
    ns.helm(helm)
        .args(["upgrade", release])
        .arg(&package)
        .args(["--wait", "--timeout", "2m"])
        .args([
            "--set",
            "replicas=3,webhooks.validating.failurePolicy=Ignore",
        ])
        .args(["--set", "webhooks.mutating.timeoutSeconds=3"])
        .args(["--set", "policy.rules.image-tag=enforce"])
        .success();
    rollout(&ns);
    assert_eq!(registered_ca(), ca, "helm upgrade changed the caBundle");
    assert_eq!(secret_data("helm-hooks-webhook-ca", "ca.crt"), ca);
    let renewed = secret_data("helm-hooks-webhook-tls", "tls.crt");
    assert_ne!(
        renewed, serving,
        "the upgrade renews the serving certificate"
    );
    verify(&ca, &renewed, &host);
    let deployment = ns.get_json("deployment", "helm-hooks-webhook");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["status"]["readyReplicas"], 3, "{deployment:#}");
    assert_eq!(
        configuration("validatingwebhookconfiguration")["webhooks"][0]["failurePolicy"],
        "Ignore"
    );
    assert_eq!(
        configuration("mutatingwebhookconfiguration")["webhooks"][0]["timeoutSeconds"],
        3
    );
    let policy = ns.get_json("configmap", "helm-hooks-policy");
    let policy: Value =
        serde_yaml_ng::from_str(policy["data"]["policy.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(
        policy,
        json!({"apiVersion": "hooks.helm-hooks.io/v1alpha1", "kind": "HookPolicy",
               "rules": {"image-tag": "enforce"}})
    );

    // Uninstall: no webhook configuration, no hook object, none of the chart's objects.
    ns.helm(helm)
        .args(["uninstall", release, "--wait", "--timeout", "2m"])
        .success();
    let left = kubectl()
        .args([
            "get",
            "mutatingwebhookconfiguration,validatingwebhookconfiguration",
        ])
        .args(["-o", "name"])
        .success();
    assert!(!left.stdout.contains("/helm-hooks"), "{left}");
    let objects = ns
        .kubectl()
        .args([
            "get",
            "all,configmaps,secrets,serviceaccounts,poddisruptionbudgets,jobs",
        ])
        .args(["-o", "json"])
        .success()
        .objects();
    let hooks: Vec<String> = objects
        .iter()
        .filter(|o| !o["metadata"]["annotations"]["helm.sh/hook"].is_null())
        .map(key)
        .collect();
    assert!(hooks.is_empty(), "hook objects left: {hooks:?}");
    let orphans = e2e::kubectl_hooks()
        .args(["list", "--orphans", "-n", ns.name()])
        .success();
    assert!(
        orphans.stdout.is_empty() && orphans.stderr.contains("No leftover hooks found"),
        "kubectl hooks list --orphans after uninstall:\n{orphans}"
    );
    let chart_objects: Vec<String> = objects
        .iter()
        .filter(|o| o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "helm-hooks")
        .map(key)
        .collect();
    assert!(chart_objects.is_empty(), "left behind: {chart_objects:?}");
}

fn rollout(ns: &TestNamespace) {
    ns.kubectl()
        .args(["rollout", "status", "deployment/helm-hooks-webhook"])
        .arg("--timeout=60s")
        .success();
}

/// `openssl verify`: `serving` chains to `ca` for TLS server use under the Service's name.
fn verify(ca: &str, serving: &str, host: &str) {
    let dir = TempDir::new("chart-verify");
    let (ca_file, cert_file) = (dir.path().join("ca.crt"), dir.path().join("tls.crt"));
    std::fs::write(&ca_file, ca).unwrap();
    std::fs::write(&cert_file, serving).unwrap();
    Run::new("openssl")
        .args(["verify", "-purpose", "sslserver", "-verify_hostname", host])
        .arg("-CAfile")
        .arg(&ca_file)
        .arg(&cert_file)
        .success();
}

/// Uninstalls the release (and, failing that, deletes the cluster-wide webhook configurations)
/// if a test stops half way, so a failing-closed registration never outlives it.
struct Uninstall {
    helm: Helm,
    namespace: String,
}

impl Drop for Uninstall {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let _ = e2e::helm(self.helm)
            .args(["uninstall", "helm-hooks", "--namespace", &self.namespace])
            .output();
        let _ = kubectl()
            .args(["delete", "--ignore-not-found"])
            .args([
                "mutatingwebhookconfiguration/helm-hooks",
                "validatingwebhookconfiguration/helm-hooks",
            ])
            .output();
    }
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("helm-hooks-e2e-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// deploy/ and certs/ copied to a temporary directory, so certs/generate never writes into
/// the working tree.
struct TempCopy(TempDir);

impl TempCopy {
    fn of_install_files(tag: &str) -> TempCopy {
        let dir = TempDir::new(&format!("chart-deploy-{tag}"));
        for sub in ["deploy", "certs"] {
            copy_dir(&repo_root().join(sub), &dir.path().join(sub));
        }
        let _ = std::fs::remove_dir_all(dir.path().join("deploy/overlays/self-signed/generated"));
        TempCopy(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn certs_generate(&self) -> Run {
        Run::new(self.path().join("certs/generate")).env(
            "HELM_HOOKS_WEBHOOK",
            e2e::workspace_binary("helm-hooks-webhook", "HELM_HOOKS_WEBHOOK_BIN"),
        )
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
