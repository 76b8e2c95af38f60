//! The admission webhook against the real control plane: the `helm-hooks-webhook` binary runs on
//! a free 127.0.0.1 port with a fresh CA (rcgen), registered with the Mutating and Validating
//! WebhookConfigurations of `deploy/base/webhooks.yaml` (the one source of the registration),
//! changed only where a test must: `clientConfig` becomes `url` + `caBundle`, the
//! `namespaceSelector` selects only the test's own namespace (so parallel tests don't see each
//! other's webhooks), and the configuration names get the namespace as suffix.
//!
//! Needs the webhook binary built (`cargo test --workspace` builds it; or `cargo build -p
//! helm-hooks-webhook`), and `curl` to read `/metrics`.

use e2e::{Helm, Output, TestNamespace, chart, kubectl, repo_root, wait_until};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The webhook binary next to this test's executable (`target/<profile>/helm-hooks-webhook`),
/// or `HELM_HOOKS_WEBHOOK_BIN`.
fn webhook_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("HELM_HOOKS_WEBHOOK_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir.join("helm-hooks-webhook");
    assert!(
        bin.is_file(),
        "{} not found: build it first (`cargo build -p helm-hooks-webhook`, which `cargo test \
         --workspace` does) or set HELM_HOOKS_WEBHOOK_BIN",
        bin.display()
    );
    bin
}

/// A CA and a serving certificate for 127.0.0.1, PEM.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(DnType::CommonName, "helm-hooks e2e CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "helm-hooks-webhook");
        let key = KeyPair::generate().unwrap();
        let cert_pem = leaf.signed_by(&key, &issuer).unwrap().pem();
        Pki {
            ca_pem,
            cert_pem,
            key_pem: key.serialize_pem(),
        }
    }
}

/// The webhook process plus its registration; both go away on drop.
struct LocalWebhook {
    child: Child,
    port: u16,
    dir: PathBuf,
    configurations: Vec<(String, String)>,
}

impl LocalWebhook {
    /// Starts the webhook and registers it for `ns` only. `patch_encoding` is the hidden
    /// compatibility flag; `mutating_failure_policy` overrides deploy's `Ignore` when a test
    /// needs the apiserver's verdict on a response to surface.
    fn start(
        ns: &TestNamespace,
        patch_encoding: &str,
        mutating_failure_policy: Option<&str>,
    ) -> LocalWebhook {
        let dir = std::env::temp_dir().join(format!("helm-hooks-e2e-webhook-{}", ns.name()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki::new();
        std::fs::write(dir.join("ca.crt"), &pki.ca_pem).unwrap();
        std::fs::write(dir.join("tls.crt"), &pki.cert_pem).unwrap();
        std::fs::write(dir.join("tls.key"), &pki.key_pem).unwrap();
        let log = std::fs::File::create(dir.join("webhook.log")).unwrap();
        let started = Instant::now();
        let child = Command::new(webhook_binary())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .arg("--tls-cert")
            .arg(dir.join("tls.crt"))
            .arg("--tls-key")
            .arg(dir.join("tls.key"))
            .args(["--patch-encoding", patch_encoding])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut webhook = LocalWebhook {
            child,
            port: 0,
            dir,
            configurations: Vec::new(),
        };
        wait_until(Duration::from_secs(20), "the webhook to listen", || {
            webhook.port = webhook
                .log_lines()
                .iter()
                .find(|l| l["message"] == "listening")
                .and_then(|l| l["addr"].as_str()?.rsplit(':').next()?.parse().ok())
                .unwrap_or(0);
            webhook.port != 0
        });
        eprintln!(
            "webhook for {} on 127.0.0.1:{} after {:?}",
            ns.name(),
            webhook.port,
            started.elapsed()
        );
        webhook.register(ns, &pki.ca_pem, mutating_failure_policy);
        webhook
    }

    fn log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("webhook.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Registers deploy/base/webhooks.yaml for this namespace and this webhook, then waits
    /// until the apiserver calls it.
    fn register(
        &mut self,
        ns: &TestNamespace,
        ca_pem: &str,
        mutating_failure_policy: Option<&str>,
    ) {
        use base64::Engine as _;
        let ca_bundle = base64::engine::general_purpose::STANDARD.encode(ca_pem);
        let base = format!("https://127.0.0.1:{}", self.port);
        let file = repo_root().join("deploy/base/webhooks.yaml");
        // kubectl prints one JSON document per object (or a List).
        let out = kubectl()
            .args(["create", "--dry-run=client", "-o", "json", "-f"])
            .arg(&file)
            .success();
        let mut items: Vec<Value> = Vec::new();
        for doc in serde_json::Deserializer::from_str(&out.stdout).into_iter::<Value>() {
            let doc = doc.unwrap();
            match doc["kind"].as_str() {
                Some("List") => items.extend(doc["items"].as_array().unwrap().iter().cloned()),
                _ => items.push(doc),
            }
        }
        assert_eq!(
            items.len(),
            2,
            "deploy/base/webhooks.yaml: expected 2 configurations"
        );
        for item in &mut items {
            let kind = item["kind"].as_str().unwrap().to_string();
            let name = format!(
                "{}-{}",
                item["metadata"]["name"].as_str().unwrap(),
                ns.name()
            );
            item["metadata"] = json!({"name": name});
            for webhook in item["webhooks"].as_array_mut().unwrap() {
                let path = webhook["clientConfig"]["service"]["path"]
                    .as_str()
                    .unwrap()
                    .to_string();
                webhook["clientConfig"] =
                    json!({"url": format!("{base}{path}"), "caBundle": ca_bundle});
                webhook["namespaceSelector"] =
                    json!({"matchLabels": {"kubernetes.io/metadata.name": ns.name()}});
                if let (true, Some(policy)) = (
                    kind == "MutatingWebhookConfiguration",
                    mutating_failure_policy,
                ) {
                    webhook["failurePolicy"] = json!(policy);
                }
            }
            self.configurations.push((kind.to_lowercase(), name));
        }
        kubectl()
            .args(["create", "-f", "-"])
            .stdin(
                serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "List", "items": items}))
                    .unwrap(),
            )
            .success();
        // The apiserver picks new configurations up asynchronously: wait until a server-side
        // dry run of a hook reaches both endpoints.
        let count = |endpoint: &str| self.requests(&[("endpoint", endpoint)]);
        wait_until(
            Duration::from_secs(30),
            "the webhook registration to take effect",
            || {
                let before = (count("mutate"), count("validate"));
                let _ = ns
                    .kubectl()
                    .args(["create", "--dry-run=server", "-o", "json", "-f", "-"])
                    .stdin(hook_configmap("probe").to_string())
                    .output();
                count("mutate") > before.0 && count("validate") > before.1
            },
        );
    }

    fn metrics(&self) -> String {
        let out = Command::new("curl")
            .args(["-fsS", "--cacert"])
            .arg(self.dir.join("ca.crt"))
            .arg(format!("https://127.0.0.1:{}/metrics", self.port))
            .output()
            .expect("curl is needed to read /metrics");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Sum of `requests_total` lines containing every `labels` pair.
    fn requests(&self, labels: &[(&str, &str)]) -> f64 {
        self.metrics()
            .lines()
            .filter(|l| l.starts_with("helm_hooks_webhook_requests_total{"))
            .filter(|l| {
                labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    }

    fn total_requests(&self) -> f64 {
        self.requests(&[])
    }
}

impl Drop for LocalWebhook {
    fn drop(&mut self) {
        for (kind, name) in &self.configurations {
            let _ = kubectl()
                .args(["delete", kind, name, "--ignore-not-found", "--wait=false"])
                .output();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "===== webhook log =====\n{}",
                std::fs::read_to_string(self.dir.join("webhook.log")).unwrap_or_default()
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn hook_configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "annotations": {"helm.sh/hook": "pre-install"}},
           "data": {"k": "v"}})
}

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
        let ns = TestNamespace::new(&format!("webhook-defaults-{helm}"));
        let webhook = LocalWebhook::start(&ns, "base64", None);
        let probes = webhook.requests(&[("kind", "ConfigMap")]);
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
        assert!(webhook.requests(&[("endpoint", "mutate"), ("decision", "patched")]) >= 5.0);
        assert_eq!(
            webhook.requests(&[("kind", "ConfigMap")]),
            probes,
            "the chart's ConfigMap (not a hook) reached the webhook"
        );
        assert_eq!(webhook.requests(&[("decision", "denied")]), 0.0);
    }
}

/// Unsafe hooks make `helm install` fail with the rule's message.
#[test]
fn unsafe_hooks_fail_helm_install_with_the_rule_message() {
    let ns = TestNamespace::new("webhook-unsafe");
    let _webhook = LocalWebhook::start(&ns, "base64", None);
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
}

/// A warn-mode rule's warning reaches kubectl's and helm's output; the object is admitted.
#[test]
fn warnings_reach_kubectl_and_helm() {
    let ns = TestNamespace::new("webhook-warn");
    let webhook = LocalWebhook::start(&ns, "base64", None);
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
    assert!(webhook.requests(&[("endpoint", "validate"), ("decision", "warned")]) >= 2.0);
}

/// Objects without `helm.sh/hook` never reach the webhook (matchConditions).
#[test]
fn non_hook_objects_never_reach_the_webhook() {
    let ns = TestNamespace::new("webhook-nonhook");
    let webhook = LocalWebhook::start(&ns, "base64", None);
    let before = webhook.total_requests();
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
    assert_eq!(
        webhook.total_requests(),
        before,
        "a non-hook object reached the webhook"
    );
    // Sanity: a hook object does reach it, twice (mutate and validate).
    assert!(create(&ns, &hook_configmap("hook")).ok());
    assert_eq!(webhook.total_requests(), before + 2.0);
    let live = ns.get_json("configmap", "hook");
    assert_eq!(
        annotation(&live, "helm.sh/hook-delete-policy"),
        Some("before-hook-creation,hook-succeeded")
    );
}

/// Which `patch` encodings the real apiserver accepts: base64 (what Kubernetes documents, and
/// what the webhook sends) and a JSON byte array (how kube-core serializes `Vec<u8>`). The
/// mutating webhook is registered with `failurePolicy: Fail` here so that a response the
/// apiserver cannot decode fails the create instead of being ignored.
#[test]
fn patch_encodings_the_apiserver_accepts() {
    let mut results = Vec::new();
    for encoding in ["base64", "byte-array"] {
        let ns = TestNamespace::new(&format!("webhook-patch-{encoding}"));
        let webhook = LocalWebhook::start(&ns, encoding, Some("Fail"));
        let out = create(&ns, &hook_configmap("encoded"));
        let applied = out.ok()
            && annotation(
                &ns.get_json("configmap", "encoded"),
                "helm.sh/hook-delete-policy",
            ) == Some("before-hook-creation,hook-succeeded");
        eprintln!("patch encoding {encoding}: applied={applied}\n{out}");
        assert!(webhook.requests(&[("endpoint", "mutate"), ("decision", "patched")]) >= 1.0);
        results.push((encoding, applied, out.combined()));
    }
    assert!(results[0].1, "base64 patch not applied: {}", results[0].2);
    // Observed with kube-apiserver v1.36.3: see the assertion message for the outcome.
    assert!(
        results[1].1,
        "the apiserver refused the byte-array patch: {}",
        results[1].2
    );
}
