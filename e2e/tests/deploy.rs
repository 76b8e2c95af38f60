//! deploy/ against the real control plane: `kubectl apply --dry-run=server -k` of the base and
//! of every overlay, exactly as the README tells users to apply them. The apiserver validates
//! and defaults every object (the cert-manager overlay against cert-manager's own CRDs, fetched
//! by tests/cluster/build) without storing them; only the `helm-hooks-system` Namespace (and
//! the two CRDs) are really created: a namespaced dry run needs its namespace to exist.
//!
//! One test really installs the self-signed overlay as the README says, with kwok standing in
//! for the Deployment's Pods: nothing serves behind the Service, which is exactly the "webhook
//! is down" case the README's recovery steps are for. It uninstalls at the end. The tests of
//! this file take turns (they share `helm-hooks-system`); every other e2e namespace opts out
//! of the webhook, so the real registration never reaches them.

use base64::Engine as _;
use e2e::{Cluster, Run, TestNamespace, kubectl, repo_root, wait_until};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const NAMESPACE: &str = "helm-hooks-system";
const TLS_SECRET: &str = "helm-hooks-webhook-tls";

/// The objects of `kubectl apply --dry-run=server -k DIR -o json`, as the apiserver returned
/// them. Panics with kubectl's message when the apiserver refuses any of them.
fn server_dry_run(kustomization: &Path) -> Vec<Value> {
    wait_while_namespace_terminates();
    kubectl()
        .args(["apply", "-f"])
        .arg(repo_root().join("deploy/base/namespace.yaml"))
        .success();
    kubectl()
        .args(["apply", "--dry-run=server", "-o", "json", "-k"])
        .arg(kustomization)
        .success()
        .objects()
}

/// Serializes the tests of this file: they share namespace `helm-hooks-system`, and one of them
/// installs and uninstalls it for real.
fn take_turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits until namespace `helm-hooks-system` is not terminating (an uninstall before, also of
/// an install test that stopped half way, deletes it in the background).
fn wait_while_namespace_terminates() {
    wait_until(
        Duration::from_secs(60),
        "helm-hooks-system to finish terminating",
        || {
            let phase = kubectl()
                .args(["get", "namespace", NAMESPACE, "--ignore-not-found"])
                .args(["-o", "jsonpath={.status.phase}"])
                .success()
                .stdout;
            phase.trim() != "Terminating"
        },
    );
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
            Some(
                "Namespace"
                    | "MutatingWebhookConfiguration"
                    | "ValidatingWebhookConfiguration"
                    | "ClusterRole"
                    | "ClusterRoleBinding"
            )
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

/// What both overlays add: the janitor component (deploy/components/janitor), its Deployment
/// running as its own ServiceAccount, bound to its ClusterRole and to the Lease's Role.
fn assert_janitor_objects(objects: &[Value]) {
    let deployment = find(objects, "Deployment", "helm-hooks-janitor");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"],
        "helm-hooks-janitor"
    );
    find(objects, "ServiceAccount", "helm-hooks-janitor");
    let role = find(objects, "ClusterRole", "helm-hooks-janitor");
    let rules = role["rules"].to_string();
    assert!(!rules.contains("\"*\""), "no wildcard: {rules}");
    assert!(!rules.contains("escalate"), "no escalate: {rules}");
    let binding = find(objects, "ClusterRoleBinding", "helm-hooks-janitor");
    assert_eq!(binding["subjects"][0]["namespace"], NAMESPACE);
    let lease = find(objects, "Role", "helm-hooks-janitor-lease");
    assert_eq!(lease["rules"][0]["resources"][0], "leases");
    find(objects, "RoleBinding", "helm-hooks-janitor-lease");
}

#[test]
fn base_passes_a_server_side_dry_run() {
    Cluster::get();
    let _turn = take_turn();
    let objects = server_dry_run(&repo_root().join("deploy/base"));
    assert_base_objects(&objects);
    assert_eq!(objects.len(), 8, "{:?}", kinds(&objects));
}

/// The README's self-signed install: `certs/generate` (which runs `helm-hooks-webhook certs`),
/// then `kubectl apply -k deploy/overlays/self-signed` (here on a copy of deploy/, so the
/// repository stays clean).
#[test]
fn self_signed_overlay_passes_a_server_side_dry_run_with_certs_from_certs_generate() {
    Cluster::get();
    let _turn = take_turn();
    let copy = TempCopy::of_install_files("self-signed");
    copy.certs_generate().success();
    let generated = copy.path().join("deploy/overlays/self-signed/generated");

    let objects = server_dry_run(&copy.path().join("deploy/overlays/self-signed"));
    assert_base_objects(&objects);
    assert_janitor_objects(&objects);
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
    let _turn = take_turn();
    cluster.install_cert_manager_crds();

    let objects = server_dry_run(&repo_root().join("deploy/overlays/cert-manager"));
    assert_base_objects(&objects);
    assert_janitor_objects(&objects);
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
        "a new overlay needs a dry-run test in e2e/tests/deploy.rs"
    );
}

/// The README's install steps on the local control plane, as a new user runs them: make the
/// certificates, apply the self-signed overlay, wait for the rollout (kwok runs the Pods), see
/// the caBundle registered; then, with nothing actually serving, the README's "When the webhook
/// is down": hooks are refused, other objects are not, deleting the validating configuration
/// lets hooks through; re-apply (the upgrade path) and rotate; uninstall leaves nothing behind.
#[test]
fn readme_install_webhook_down_recovery_rotation_and_uninstall() {
    Cluster::get();
    let _turn = take_turn();
    let copy = TempCopy::of_install_files("install");
    let overlay = "deploy/overlays/self-signed";
    let generated = copy.path().join(overlay).join("generated");
    let apply = || {
        kubectl()
            .current_dir(copy.path())
            .args(["apply", "-k", overlay])
            .success()
    };
    let registered_ca = |kind: &str| -> String {
        kubectl()
            .args(["get", kind, "helm-hooks", "-o"])
            .arg("jsonpath={.webhooks[0].clientConfig.caBundle}")
            .success()
            .stdout
    };
    let b64 = base64::engine::general_purpose::STANDARD;

    copy.certs_generate().success();
    wait_while_namespace_terminates();
    let _uninstall = Uninstall(copy.path().to_owned());
    let out = apply();
    for object in [
        "namespace/helm-hooks-system",
        "secret/helm-hooks-webhook-tls",
        "deployment.apps/helm-hooks-webhook",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/helm-hooks",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/helm-hooks",
    ] {
        assert!(out.stdout.contains(object), "{object} not applied:\n{out}");
    }
    kubectl()
        .args([
            "-n",
            NAMESPACE,
            "rollout",
            "status",
            "deployment/helm-hooks-webhook",
        ])
        .arg("--timeout=60s")
        .success();
    let ca_bundle = b64.encode(std::fs::read(generated.join("ca.crt")).unwrap());
    for kind in [
        "mutatingwebhookconfiguration",
        "validatingwebhookconfiguration",
    ] {
        assert_eq!(registered_ca(kind), ca_bundle, "{kind}: caBundle");
    }

    // Nothing serves behind the Service: hooks are refused (validating, failurePolicy Fail),
    // everything else is admitted (matchConditions keep it from the webhook).
    let ns = TestNamespace::reviewed("install-down");
    let hook = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "hook", "annotations": {"helm.sh/hook": "pre-install"}}});
    let create = |object: &Value| {
        ns.kubectl()
            .args(["create", "-f", "-"])
            .stdin(object.to_string())
            .output()
    };
    wait_until(
        Duration::from_secs(30),
        "the apiserver to call the registered webhook",
        || {
            // Until the apiserver has loaded the new configurations, hooks are still admitted.
            if create(&hook).ok() {
                ns.kubectl().args(["delete", "configmap", "hook"]).success();
                return false;
            }
            true
        },
    );
    let out = create(&hook);
    assert!(
        !out.ok()
            && out
                .stderr
                .contains("failed calling webhook \"validate.hooks.helm-hooks.io\""),
        "a hook was not refused with the webhook down: {out}"
    );
    let plain = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}});
    let out = create(&plain);
    assert!(out.ok(), "a non-hook object was refused: {out}");

    // The README's recovery: delete the validating configuration; hooks go through, without
    // defaults (the mutating webhook fails open).
    kubectl()
        .args(["delete", "validatingwebhookconfiguration", "helm-hooks"])
        .success();
    wait_until(
        Duration::from_secs(30),
        "hooks to be admitted again",
        || create(&hook).ok(),
    );
    let live = ns.get_json("configmap", "hook");
    assert!(live["metadata"]["annotations"]["helm.sh/hook-delete-policy"].is_null());

    // Re-apply (the same as an upgrade) brings the validating configuration back; rerunning
    // certs/generate rotates the serving certificate under the same CA.
    let old_cert = std::fs::read(generated.join("tls.crt")).unwrap();
    copy.certs_generate().success();
    assert_ne!(std::fs::read(generated.join("tls.crt")).unwrap(), old_cert);
    let out = apply();
    assert!(
        out.stdout.contains(
            "validatingwebhookconfiguration.admissionregistration.k8s.io/helm-hooks created"
        ),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("secret/helm-hooks-webhook-tls configured"),
        "{out}"
    );
    assert_eq!(registered_ca("validatingwebhookconfiguration"), ca_bundle);

    // Uninstall: nothing of helm-hooks is left.
    kubectl()
        .current_dir(copy.path())
        .args(["delete", "-k", overlay, "--ignore-not-found"])
        .success();
    kubectl()
        .args([
            "wait",
            "--for=delete",
            "namespace/helm-hooks-system",
            "--timeout=60s",
        ])
        .success();
    let left = kubectl()
        .args([
            "get",
            "mutatingwebhookconfiguration,validatingwebhookconfiguration",
        ])
        .args(["-o", "name"])
        .success();
    assert!(!left.stdout.contains("helm-hooks"), "{left}");
}

/// Uninstalls the overlay in a copy of the install files if a test stops half way, so a
/// failing-closed registration never outlives it.
struct Uninstall(PathBuf);

impl Drop for Uninstall {
    fn drop(&mut self) {
        let _ = kubectl()
            .current_dir(&self.0)
            .args(["delete", "-k", "deploy/overlays/self-signed"])
            .args(["--ignore-not-found", "--wait=false"])
            .output();
    }
}

/// A copy of deploy/ and certs/ in a temporary directory (so generated certificates never
/// land in the working tree), removed on drop.
struct TempCopy(PathBuf);

impl TempCopy {
    fn of_install_files(tag: &str) -> TempCopy {
        let dir = std::env::temp_dir().join(format!(
            "helm-hooks-e2e-deploy-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["deploy", "certs"] {
            copy_dir(&repo_root().join(sub), &dir.join(sub));
        }
        // A generated/ left in the working tree by a manual install must not leak in.
        let _ = std::fs::remove_dir_all(dir.join("deploy/overlays/self-signed/generated"));
        TempCopy(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// `certs/generate` as the README runs it (no arguments), with the workspace's webhook.
    fn certs_generate(&self) -> Run {
        Run::new(self.0.join("certs/generate")).env(
            "HELM_HOOKS_WEBHOOK",
            e2e::workspace_binary("helm-hooks-webhook", "HELM_HOOKS_WEBHOOK_BIN"),
        )
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
