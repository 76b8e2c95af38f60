//! deploy/ against the real control plane: `kubectl apply --dry-run=server -k` of the base and
//! of every overlay, exactly as the README tells users to apply them. The apiserver validates
//! and defaults every object (the cert-manager overlay against cert-manager's own CRDs, fetched
//! by tests/cluster/build) without storing any of them, so the webhook configurations never
//! reach the shared cluster. Only the `helm-hooks-system` Namespace (and the two CRDs) are
//! really created: a namespaced dry run needs its namespace to exist.

use base64::Engine as _;
use e2e::{Cluster, kubectl, repo_root};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const NAMESPACE: &str = "helm-hooks-system";
const TLS_SECRET: &str = "helm-hooks-webhook-tls";

/// The objects of `kubectl apply --dry-run=server -k DIR -o json`, as the apiserver returned
/// them. Panics with kubectl's message when the apiserver refuses any of them.
fn server_dry_run(kustomization: &Path) -> Vec<Value> {
    static NAMESPACE_CREATED: OnceLock<()> = OnceLock::new();
    NAMESPACE_CREATED.get_or_init(|| {
        kubectl()
            .args(["apply", "-f"])
            .arg(repo_root().join("deploy/base/namespace.yaml"))
            .success();
    });
    let out = kubectl()
        .args(["apply", "--dry-run=server", "-o", "json", "-k"])
        .arg(kustomization)
        .success();
    let mut objects = Vec::new();
    for doc in serde_json::Deserializer::from_str(&out.stdout).into_iter::<Value>() {
        let doc = doc.expect("kubectl prints JSON");
        match doc["kind"].as_str() {
            Some("List") => objects.extend(doc["items"].as_array().unwrap().iter().cloned()),
            _ => objects.push(doc),
        }
    }
    objects
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} missing from the dry run"))
}

fn kinds(objects: &[Value]) -> BTreeSet<String> {
    objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn webhook_configurations(objects: &[Value]) -> Vec<&Value> {
    objects
        .iter()
        .filter(|o| {
            o["kind"] == "MutatingWebhookConfiguration"
                || o["kind"] == "ValidatingWebhookConfiguration"
        })
        .collect()
}

/// What every overlay shares with the base: the objects, their namespace, and the wiring
/// between Deployment, Service, Secret and webhook configurations.
fn assert_base_objects(objects: &[Value]) {
    let expected = [
        "ConfigMap",
        "Deployment",
        "MutatingWebhookConfiguration",
        "Namespace",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
        "ValidatingWebhookConfiguration",
    ];
    let found = kinds(objects);
    for kind in expected {
        assert!(found.contains(kind), "{kind} missing: {found:?}");
    }
    for o in objects {
        let namespaced = !matches!(
            o["kind"].as_str(),
            Some("Namespace" | "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration")
        );
        if namespaced {
            assert_eq!(o["metadata"]["namespace"], NAMESPACE, "{o:#}");
        }
    }

    // The apiserver defaulted the Deployment: it really went through admission and validation.
    let deployment = find(objects, "Deployment", "helm-hooks-webhook");
    let pod = &deployment["spec"]["template"];
    assert_eq!(
        pod["spec"]["containers"][0]["terminationMessagePolicy"], "File",
        "not defaulted by the apiserver: {deployment:#}"
    );
    let secret_volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|v| v["secret"]["secretName"].as_str());
    assert_eq!(secret_volume, Some(TLS_SECRET));

    // The Service selects the Deployment's Pods, and both webhooks call that Service.
    let service = find(objects, "Service", "helm-hooks-webhook");
    for (key, value) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(
            &pod["metadata"]["labels"][key], value,
            "Service selector {key}"
        );
    }
    let port = service["spec"]["ports"][0]["port"].clone();
    for configuration in webhook_configurations(objects) {
        for webhook in configuration["webhooks"].as_array().unwrap() {
            let service_ref = &webhook["clientConfig"]["service"];
            assert_eq!(service_ref["name"], "helm-hooks-webhook");
            assert_eq!(service_ref["namespace"], NAMESPACE);
            assert_eq!(service_ref["port"], port);
        }
    }
}

#[test]
fn base_passes_a_server_side_dry_run() {
    Cluster::get();
    let objects = server_dry_run(&repo_root().join("deploy/base"));
    assert_base_objects(&objects);
    assert_eq!(objects.len(), 8, "{:?}", kinds(&objects));
}

/// The README's self-signed install: `helm-hooks-webhook certs --out-dir
/// deploy/overlays/self-signed/generated`, then `kubectl apply -k deploy/overlays/self-signed`
/// (here on a copy of deploy/, so the repository stays clean).
#[test]
fn self_signed_overlay_passes_a_server_side_dry_run_with_certs_from_the_certs_command() {
    Cluster::get();
    let copy = TempCopy::of_deploy("self-signed");
    let generated = copy.path().join("overlays/self-signed/generated");
    e2e::Run::new(e2e::workspace_binary(
        "helm-hooks-webhook",
        "HELM_HOOKS_WEBHOOK_BIN",
    ))
    .arg("certs")
    .arg("--out-dir")
    .arg(&generated)
    .success();

    let objects = server_dry_run(&copy.path().join("overlays/self-signed"));
    assert_base_objects(&objects);
    let b64 = base64::engine::general_purpose::STANDARD;
    let read = |file: &str| std::fs::read(generated.join(file)).unwrap();

    let secret = find(&objects, "Secret", TLS_SECRET);
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(secret["data"]["tls.crt"], b64.encode(read("tls.crt")));
    assert_eq!(secret["data"]["tls.key"], b64.encode(read("tls.key")));
    let ca_bundle = b64.encode(read("ca.crt"));
    for configuration in webhook_configurations(&objects) {
        for webhook in configuration["webhooks"].as_array().unwrap() {
            assert_eq!(
                webhook["clientConfig"]["caBundle"], ca_bundle,
                "{}: caBundle is not generated/ca.crt",
                configuration["kind"]
            );
        }
    }
}

/// The README's cert-manager install, validated against cert-manager's own CRDs.
#[test]
fn cert_manager_overlay_passes_a_server_side_dry_run_against_cert_managers_crds() {
    let cluster = Cluster::get();
    let crds = cluster.dir().join("crds/cert-manager");
    kubectl()
        .args(["apply", "--server-side", "-f"])
        .arg(crds.join("issuers.yaml"))
        .args(["-f"])
        .arg(crds.join("certificates.yaml"))
        .success();
    kubectl()
        .args(["wait", "--for=condition=Established", "--timeout=30s"])
        .args([
            "crd/issuers.cert-manager.io",
            "crd/certificates.cert-manager.io",
        ])
        .success();

    let objects = server_dry_run(&repo_root().join("deploy/overlays/cert-manager"));
    assert_base_objects(&objects);
    let certificate = find(&objects, "Certificate", "helm-hooks-webhook");
    assert_eq!(certificate["spec"]["secretName"], TLS_SECRET);
    let dns_names = certificate["spec"]["dnsNames"].as_array().unwrap();
    assert!(
        dns_names.contains(&Value::from("helm-hooks-webhook.helm-hooks-system.svc")),
        "{dns_names:?}"
    );
    let issuer_name = certificate["spec"]["issuerRef"]["name"].as_str().unwrap();
    find(&objects, "Issuer", issuer_name);
    for configuration in webhook_configurations(&objects) {
        assert_eq!(
            configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            format!("{NAMESPACE}/helm-hooks-webhook"),
            "{}: cainjector annotation",
            configuration["kind"]
        );
    }
}

/// Every overlay in deploy/overlays has a dry-run test above.
#[test]
fn every_overlay_is_tested() {
    let overlays: BTreeSet<String> = std::fs::read_dir(repo_root().join("deploy/overlays"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        overlays,
        BTreeSet::from(["cert-manager".to_owned(), "self-signed".to_owned()]),
        "a new overlay needs a dry-run test in tests/e2e/tests/deploy.rs"
    );
}

/// A copy of deploy/ in a temporary directory, removed on drop.
struct TempCopy(PathBuf);

impl TempCopy {
    fn of_deploy(tag: &str) -> TempCopy {
        let dir = std::env::temp_dir().join(format!(
            "helm-hooks-e2e-deploy-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&repo_root().join("deploy"), &dir);
        // A generated/ left in the working tree by a manual install must not leak in.
        let _ = std::fs::remove_dir_all(dir.join("overlays/self-signed/generated"));
        TempCopy(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
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
