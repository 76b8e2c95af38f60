//! The cluster-wide policy as a custom resource, on the real apiserver: `deploy/crds/`'s
//! CustomResourceDefinition refuses a `HookPolicy` with a typo naming the field, takes
//! `deploy/policy/`'s default; `kubectl hooks policy export --format admission-policy` gives
//! admission policies that decide like the webhook.

use e2e::{Run, kubectl, repo_root, wait_until};
use std::time::Duration;

const HEAD: &str = "apiVersion: hooks.helm-hooks.io/v1alpha1\nkind: HookPolicy\n";

/// Applies `deploy/crds` (the CRD and the summary admission policy) and waits until HookPolicies
/// are served and get their status counts (idempotent). `--force-conflicts`: the chart's tests,
/// earlier in the same run, may have installed the CRD with Helm (another field manager).
fn install_crd() {
    kubectl()
        .args(["apply", "--server-side", "--force-conflicts", "-k"])
        .arg(repo_root().join("deploy/crds"))
        .success();
    wait_until(
        Duration::from_secs(30),
        "the HookPolicy CRD and its summary policy",
        || {
            let out = kubectl()
                .args(["create", "--dry-run=server", "-o", "json", "-f", "-"])
                .stdin(format!("{HEAD}metadata: {{name: e2e-probe}}\nspec: {{}}\n"))
                .output();
            out.ok() && out.json()["status"]["enforce"].is_number()
        },
    );
}

/// `kubectl apply -f -` of `yaml` (default client: strict field validation).
fn apply(yaml: &str) -> Run {
    kubectl().args(["apply", "-f", "-"]).stdin(yaml)
}

/// Deletes the named HookPolicies when dropped.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = kubectl()
                .args(["delete", "hookpolicy", name, "--ignore-not-found"])
                .output();
        }
    }
}

#[test]
fn hookpolicy_with_a_typo_is_refused_by_the_apiserver_naming_the_field() {
    install_crd();
    let _cleanup = Cleanup(vec!["e2e-typo".into(), "e2e-valid".into()]);
    for (spec, field, says) in [
        (
            "rules: {privilegd: {mode: enforce}}",
            "spec.rules.privilegd",
            "unknown field",
        ),
        (
            "rulez: {privileged: {mode: enforce}}",
            "spec.rulez",
            "unknown field",
        ),
        (
            "rules: {privileged: {mode: enforc}}",
            "spec.rules.privileged.mode",
            "Unsupported value: \"enforc\"",
        ),
        (
            "rules: {image-tag: {mode: warn, maxSeconds: 60}}",
            "spec.rules.image-tag.maxSeconds",
            "unknown field",
        ),
        (
            "defaults: {deletePolicy: hook-succeded}",
            "spec.defaults.deletePolicy",
            "before-hook-creation, hook-succeeded or hook-failed",
        ),
        (
            "defaults: {deletePolicy: hook-succeeded}",
            "spec.defaults.deletePolicy",
            "include before-hook-creation",
        ),
        (
            "rules: {deadline: {mode: enforce, maxSeconds: 100}}\n  defaults: {activeDeadlineSeconds: 200}",
            "spec.defaults.activeDeadlineSeconds",
            "above rules.deadline.maxSeconds",
        ),
        (
            "rules: {deadline: {mode: enforce, maxSeconds: 300}}",
            "spec.defaults.activeDeadlineSeconds",
            "(600 when not set) is above rules.deadline.maxSeconds",
        ),
        (
            "priority: 3000000000",
            "spec.priority",
            "should be less than or equal to 2147483647",
        ),
        (
            "namespaceSelector: {matchExpressions: [{key: team, operator: Inn, values: [a]}]}",
            "spec.namespaceSelector.matchExpressions[0].operator",
            "Unsupported value: \"Inn\"",
        ),
        (
            "namespaceSelector: {matchExpressions: [{key: team, operator: In}]}",
            "spec.namespaceSelector.matchExpressions[0].values",
            "In and NotIn need values",
        ),
        (
            "namespaceOverrides: [{rules: {}}]",
            "spec.namespaceOverrides[0].namespaces",
            "Required value",
        ),
    ] {
        let out = apply(&format!(
            "{HEAD}metadata: {{name: e2e-typo}}\nspec:\n  {spec}\n"
        ))
        .failure();
        let text = out.combined();
        assert!(
            text.contains(field),
            "{spec}: field {field} not named:\n{out}"
        );
        assert!(text.contains(says), "{spec}: {says:?} not said:\n{out}");
    }
    assert!(
        !kubectl()
            .args(["get", "hookpolicy", "e2e-typo"])
            .output()
            .ok(),
        "nothing was stored"
    );

    // The same content, spelled right, is accepted, and `off` (quoted) stays a mode.
    apply(&format!(
        "{HEAD}metadata: {{name: e2e-valid}}\nspec:\n  priority: 3\n  \
         namespaceSelector: {{matchLabels: {{e2e-policy: valid}}}}\n  \
         rules: {{privileged: {{mode: enforce}}, image-tag: {{mode: 'off'}}, deadline: {{mode: enforce, maxSeconds: 7200}}}}\n  \
         defaults: {{deletePolicy: 'before-hook-creation, hook-succeeded', activeDeadlineSeconds: 0}}\n  \
         exemptNamespaces: [break-glass]\n"
    ))
    .success();
    let table = kubectl()
        .args(["get", "hookpolicy", "e2e-valid"])
        .success()
        .stdout;
    for column in [
        "PRIORITY",
        "SELECTOR",
        "EXEMPT",
        "AGE",
        "break-glass",
        "e2e-policy",
    ] {
        assert!(table.contains(column), "{column} missing:\n{table}");
    }
    // `off` (quoted) stays a string, and a default switched off with 0 is kept (a null would
    // be dropped by kubectl apply).
    let stored = kubectl()
        .args(["get", "hookpolicy", "e2e-valid", "-o", "json"])
        .success()
        .json();
    let spec = &stored["spec"];
    assert_eq!(spec["rules"]["image-tag"]["mode"], "off", "{stored}");
    // The summary policy counted the modes, rules left out with their built-in mode.
    assert_eq!(
        stored["status"],
        serde_json::json!({"enforce": 10, "warn": 1, "audit": 1, "off": 1}),
        "{stored}"
    );
    let defaults = spec["defaults"].as_object().unwrap();
    assert_eq!(
        defaults.get("activeDeadlineSeconds"),
        Some(&serde_json::json!(0)),
        "{stored}"
    );
}

#[test]
fn deploy_default_hookpolicy_applies_and_is_the_builtin_policy() {
    install_crd();
    let _cleanup = Cleanup(vec!["default".into()]);
    kubectl()
        .args(["apply", "--dry-run=server", "-f"])
        .arg(repo_root().join("deploy/policy/default-hookpolicy.yaml"))
        .success();
}

/// The rule ids, as both the webhook's and the exported policies' warnings spell them.
const RULES: [&str; 13] = [
    "privileged",
    "host-namespaces",
    "host-path",
    "capabilities",
    "privilege-escalation",
    "run-as-root",
    "restart-policy-always",
    "deadline",
    "delete-policy-values",
    "hook-weight",
    "annotation-size",
    "image-tag",
    "resources",
];

/// What the apiserver did with one object: denied by admission, refused by its own
/// validation (after mutation), failed otherwise (kubectl's message), or admitted with these warned rules and this resulting object
/// (normalised: nothing random).
#[derive(Debug, PartialEq)]
enum Decision {
    Denied,
    Invalid,
    Failed(String),
    Admitted {
        warned: std::collections::BTreeSet<String>,
        object: serde_json::Value,
    },
}

/// The rules named by kubectl's `Warning:` lines: `rule: Kind/name: …` (the webhook) or
/// `… helm-hooks rule RULE (warn): …` (the exported policies).
fn warned_rules(stderr: &str) -> std::collections::BTreeSet<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("Warning: "))
        .flat_map(|l| {
            RULES.into_iter().filter(move |r| {
                l.starts_with(&format!("{r}: ")) || l.contains(&format!("helm-hooks rule {r} ("))
            })
        })
        .map(str::to_string)
        .collect()
}

/// Replaces what differs between two dry runs of the same object: its uid (also in Job
/// labels and selectors) and the random suffix of the ServiceAccount token volume.
fn normalise(object: &mut serde_json::Value, uid: &str) {
    use serde_json::Value;
    match object {
        Value::String(s) if !uid.is_empty() && s == uid => *s = "<uid>".into(),
        Value::String(s) if s.starts_with("kube-api-access-") => *s = "kube-api-access".into(),
        Value::Array(items) => items.iter_mut().for_each(|i| normalise(i, uid)),
        Value::Object(map) => {
            for key in [
                "uid",
                "creationTimestamp",
                "managedFields",
                "resourceVersion",
            ] {
                map.remove(key);
            }
            map.values_mut().for_each(|v| normalise(v, uid));
        }
        _ => {}
    }
}

fn decide(ns: &str, object: &serde_json::Value) -> Decision {
    let out = kubectl()
        .args([
            "-n",
            ns,
            "create",
            "--dry-run=server",
            "-o",
            "json",
            "-f",
            "-",
        ])
        .stdin(object.to_string())
        .output();
    if !out.ok() {
        if out.stderr.contains(" is invalid: ") {
            return Decision::Invalid;
        }
        if out.stderr.contains("denied") || out.stderr.contains("forbidden") {
            return Decision::Denied;
        }
        // Anything else (a webhook that cannot be called, …) never matches a real decision.
        return Decision::Failed(out.stderr);
    }
    let mut created = out.json();
    let uid = created["metadata"]["uid"]
        .as_str()
        .unwrap_or("")
        .to_string();
    normalise(&mut created, &uid);
    // The apiserver copies a Job's pod template labels to a Job without labels of its own, as
    // one shared map, so the selector labels it then adds to the template also appear on the
    // Job, unless an admission step (any webhook patch, any MutatingAdmissionPolicy, even
    // with nothing to change) re-encoded the object in between. The webhook sends no patch
    // where nothing applies; a MutatingAdmissionPolicy always re-encodes. Only this copy is
    // left out of the comparison (README, "Without a webhook").
    if created["kind"] == "Job"
        && let Some(labels) = created["metadata"]["labels"].as_object_mut()
    {
        for key in [
            "batch.kubernetes.io/controller-uid",
            "controller-uid",
            "batch.kubernetes.io/job-name",
            "job-name",
        ] {
            labels.remove(key);
        }
    }
    Decision::Admitted {
        warned: warned_rules(&out.stderr),
        object: created,
    }
}

/// Every object of the corpus decided in `ns`, four at a time.
fn decide_all(ns: &str, corpus: &[serde_json::Value]) -> Vec<Decision> {
    let chunk = corpus.len().div_ceil(4).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = corpus
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|o| decide(ns, o)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a deciding thread panicked"))
            .collect()
    })
}

/// A small deterministic generator (the e2e crate has no proptest): a linear congruential
/// sequence picks every field independently.
struct Gen(u64);

impl Gen {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        &items[((self.0 >> 33) as usize) % items.len()]
    }
}

/// `n` hook Jobs and Pods with every field a rule or a default looks at varied.
fn generated(n: usize) -> Vec<serde_json::Value> {
    use serde_json::{Value, json};
    let mut g = Gen(0x5eed);
    (0..n)
        .map(|i| {
            let mut annotations = json!({"helm.sh/hook": g.pick(&["pre-install", "post-upgrade,pre-install", "test"])});
            for (key, values) in [
                ("helm.sh/hook-delete-policy", &["-", "-", "-", "-", "-", "hook-succeeded", "before-hook-creation,hook-succeded", "", " Before-Hook-Creation ", "hook-failed,before-hook-creation"][..]),
                ("helm.sh/hook-weight", &["-", "-", "5", "5.0", " 5", "-3", "+7", "99999999999999999999", "9223372036854775807", "abc"][..]),
            ] {
                let v = *g.pick(values);
                if v != "-" {
                    annotations[key] = json!(v);
                }
            }
            if *g.pick(&[false; 15].iter().chain([&true]).copied().collect::<Vec<_>>()) {
                annotations["helm.sh/hook-delete-policy"] = json!(vec!["hook-succeeded"; 40].join(","));
            }
            let sc = |g: &mut Gen| -> Value {
                let mut sc = json!({});
                for (field, values) in [
                    ("privileged", &[json!(null), json!(null), json!(null), json!(null), json!(null), json!(null), json!(true), json!(false)][..]),
                    ("allowPrivilegeEscalation", &[json!(null), json!(null), json!(null), json!(null), json!(null), json!(true), json!(false)][..]),
                    ("runAsUser", &[json!(null), json!(null), json!(0), json!(1000)][..]),
                    ("runAsNonRoot", &[json!(null), json!(null), json!(true), json!(false)][..]),
                    ("capabilities", &[json!(null), json!(null), json!(null), json!(null), json!({"add": ["NET_ADMIN"]}), json!({"add": ["cap_net_bind_service", " chown"]}), json!({"add": ["SYS_ADMIN"]}), json!({"drop": ["NET_RAW"]}), json!({})][..]),
                ] {
                    let v = g.pick(values);
                    if !v.is_null() {
                        sc[field] = v.clone();
                    }
                }
                sc
            };
            let container = |g: &mut Gen, name: &str| -> Value {
                let mut c = json!({"name": name, "image": g.pick(&["busybox", "busybox:latest", "busybox:1.36", "registry.example:5000/tools/app", "registry.example:5000/app:2", "app@sha256:0123456789012345678901234567890123456789012345678901234567890123"]), "command": ["true"]});
                if *g.pick(&[true, false]) {
                    c["resources"] = json!({"limits": {"cpu": "100m", "memory": "64Mi"}});
                }
                if *g.pick(&[true, true, false]) {
                    c["securityContext"] = sc(g);
                }
                c
            };
            let mut pod = json!({"containers": [container(&mut g, "main")]});
            if *g.pick(&[false, false, true]) {
                pod["initContainers"] = json!([container(&mut g, "init")]);
            }
            if *g.pick(&[false, false, true]) {
                pod["containers"].as_array_mut().unwrap().push(container(&mut g, "side"));
            }
            if *g.pick(&[true, true, false]) {
                let mut psc = json!({});
                for (field, values) in [
                    ("runAsUser", &[json!(null), json!(0), json!(2000)][..]),
                    ("runAsNonRoot", &[json!(null), json!(true), json!(false)][..]),
                    ("seccompProfile", &[json!(null), json!({"type": "Unconfined"})][..]),
                ] {
                    let v = g.pick(values);
                    if !v.is_null() {
                        psc[field] = v.clone();
                    }
                }
                pod["securityContext"] = psc;
            }
            for field in ["hostNetwork", "hostPID", "hostIPC"] {
                if *g.pick(&[false, false, false, false, false, false, false, false, false, true]) {
                    pod[field] = json!(true);
                }
            }
            if *g.pick(&[false, false, false, false, false, true]) {
                pod["volumes"] = json!([{"name": "host", "hostPath": {"path": "/var/log"}}]);
            }
            let is_pod = *g.pick(&[false, true]);
            let restart = *g.pick(&[None, Some("Never"), Some("Never"), Some("Never"), Some("OnFailure"), Some("Always")]);
            let deadline = *g.pick(&[None, None, None, Some(100), Some(99_999)]);
            let name = format!("gen-{i}");
            if is_pod {
                if let Some(r) = restart {
                    pod["restartPolicy"] = json!(r);
                }
                if let Some(d) = deadline {
                    pod["activeDeadlineSeconds"] = json!(d);
                }
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "annotations": annotations}, "spec": pod})
            } else {
                pod["restartPolicy"] = json!(if restart == Some("OnFailure") { "OnFailure" } else { "Never" });
                let mut spec = json!({"backoffLimit": 0, "template": {"spec": pod}});
                if let Some(d) = deadline {
                    spec["activeDeadlineSeconds"] = json!(d);
                }
                if *g.pick(&[false, false, true]) {
                    spec["ttlSecondsAfterFinished"] = json!(60);
                }
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "annotations": annotations}, "spec": spec})
            }
        })
        .collect()
}

/// The webhook golden cases' CREATE objects and the example chart's hooks.
fn fixed_corpus() -> Vec<serde_json::Value> {
    use serde_json::{Value, json};
    let mut corpus = Vec::new();
    let dir = repo_root().join("webhook/tests/golden/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let request = &case["review"]["request"];
        let mut object = request["object"].clone();
        if request["operation"] != "CREATE"
            || !object.is_object()
            || request["subResource"].is_string()
        {
            continue;
        }
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let meta = object["metadata"].as_object_mut().unwrap();
        meta.remove("namespace");
        meta.remove("generateName");
        meta.insert("name".into(), json!(format!("golden-{stem}")));
        corpus.push(object);
    }
    let rendered = e2e::helm(e2e::Helm::V4)
        .args(["template", "demo"])
        .arg(e2e::chart("hooks-demo"))
        .success()
        .stdout;
    for doc in rendered.split("\n---") {
        let Ok(Some(mut object)) = serde_yaml_ng::from_str::<Option<Value>>(doc) else {
            continue;
        };
        if object
            .pointer("/metadata/annotations/helm.sh~1hook")
            .is_some()
        {
            if let Some(meta) = object["metadata"].as_object_mut() {
                meta.remove("namespace");
            }
            corpus.push(object);
        }
    }
    corpus
}

/// The webhook binary serving on a free loopback port with its own certificate; stopped (and
/// unregistered, if [`LocalWebhook::register`]ed) when dropped.
struct LocalWebhook {
    child: std::process::Child,
    dir: std::path::PathBuf,
    port: String,
    registered: std::cell::Cell<bool>,
}

impl LocalWebhook {
    /// Starts `helm-hooks-webhook serve` with `policy_args` (`--policy FILE` or
    /// `--policy-source cluster`).
    fn start(tag: &str, policy_args: &[&std::ffi::OsStr]) -> LocalWebhook {
        LocalWebhook::start_with_kubeconfig(tag, policy_args, None)
    }

    /// [`LocalWebhook::start`] with `KUBECONFIG` set to `kubeconfig` when given.
    fn start_with_kubeconfig(
        tag: &str,
        policy_args: &[&std::ffi::OsStr],
        kubeconfig: Option<&std::path::Path>,
    ) -> LocalWebhook {
        let dir = std::env::temp_dir().join(format!(
            "helm-hooks-e2e-policy-{}-{tag}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let binary = e2e::workspace_binary("helm-hooks-webhook", "HELM_HOOKS_WEBHOOK_BIN");
        Run::new(&binary)
            .args(["certs", "--ip", "127.0.0.1", "--out-dir"])
            .arg(&dir)
            .success();
        let log = std::fs::File::create(dir.join("webhook.log")).unwrap();
        let mut command = std::process::Command::new(&binary);
        if let Some(kubeconfig) = kubeconfig {
            command.env("KUBECONFIG", kubeconfig);
        }
        let child = command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--tls-cert",
            ])
            .arg(dir.join("tls.crt"))
            .arg("--tls-key")
            .arg(dir.join("tls.key"))
            .args(policy_args)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the webhook starts");
        let mut webhook = LocalWebhook {
            child,
            dir,
            port: String::new(),
            registered: std::cell::Cell::new(false),
        };
        let mut port = String::new();
        wait_until(Duration::from_secs(20), "the webhook to listen", || {
            port = webhook
                .log()
                .into_iter()
                .find(|l| l["message"] == "listening")
                .and_then(|l| Some(l["addr"].as_str()?.rsplit(':').next()?.to_string()))
                .unwrap_or_default();
            !port.is_empty()
        });
        webhook.port = port;
        webhook
    }

    fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("webhook.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Registers deploy/'s webhook configurations for this webhook (only one at a time).
    fn register(&self) {
        self.registered.set(true);
        Run::new(repo_root().join("scripts/register-local-webhook"))
            .arg(format!("https://127.0.0.1:{}", self.port))
            .arg(self.dir.join("ca.crt"))
            .success();
    }

    /// `curl` to this webhook: `GET path`, or `POST path` with `body`.
    fn curl(&self, path: &str, body: Option<&str>) -> e2e::Output {
        let mut run = Run::new("curl")
            .args(["-sS", "--max-time", "5", "--cacert"])
            .arg(self.dir.join("ca.crt"))
            .args(["-w", "\n%{http_code}"]);
        if let Some(body) = body {
            run = run
                .args([
                    "-H",
                    "Content-Type: application/json",
                    "--data-binary",
                    "@-",
                ])
                .stdin(body);
        }
        run.arg(format!("https://127.0.0.1:{}{path}", self.port))
            .output()
    }

    /// `/validate` of a CREATE of `object` in `ns`: `(allowed, warnings)`.
    fn validate(&self, ns: &str, object: &serde_json::Value) -> (bool, Vec<String>) {
        let (group, version) = match object["apiVersion"].as_str().unwrap().split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", object["apiVersion"].as_str().unwrap()),
        };
        let review = serde_json::json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "00000000-0000-4000-8000-000000000001",
                "kind": {"group": group, "version": version, "kind": object["kind"]},
                "resource": {"group": group, "version": version, "resource": "jobs"},
                "name": object["metadata"]["name"],
                "namespace": ns,
                "operation": "CREATE",
                "userInfo": {"username": "e2e"},
                "object": object,
                "dryRun": true,
            },
        });
        let out = self.curl("/validate", Some(&review.to_string()));
        let body = out.stdout.rsplit_once('\n').map_or("", |(b, _)| b);
        let answer: serde_json::Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("no AdmissionReview from the webhook ({e}):\n{out}"));
        let warnings = answer["response"]["warnings"]
            .as_array()
            .map(|w| {
                w.iter()
                    .filter_map(|w| w.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        (answer["response"]["allowed"] == true, warnings)
    }

    fn unregister() {
        kubectl()
            .args([
                "delete",
                "mutatingwebhookconfiguration,validatingwebhookconfiguration",
                "helm-hooks",
                "--ignore-not-found",
            ])
            .success();
    }
}

impl Drop for LocalWebhook {
    fn drop(&mut self) {
        if self.registered.get() {
            let _ = kubectl()
                .args([
                    "delete",
                    "mutatingwebhookconfiguration,validatingwebhookconfiguration",
                    "helm-hooks",
                    "--ignore-not-found",
                ])
                .output();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Deletes the exported admission policies when dropped.
struct ExportedPolicies(std::path::PathBuf);

impl Drop for ExportedPolicies {
    fn drop(&mut self) {
        let _ = kubectl()
            .args(["delete", "--ignore-not-found", "-f"])
            .arg(&self.0)
            .output();
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Serializes the differential tests: each registers deploy/'s webhook configurations (one
/// name, cluster-wide) and binds admission policies to every namespace not opted out.
fn differential_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits until every part of the admission configuration decides in `ns`: a Pod hook that
/// restarts Always is denied (enforce), and a Job hook with an untagged image is admitted with a
/// warning (warn) and the delete policy injected (mutation). The apiserver picks up each
/// configuration, policy and binding on its own schedule.
fn wait_for_admission(ns: &str, what: &str) {
    let denied = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "probe", "annotations": {"helm.sh/hook": "pre-install"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    });
    let warned = serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "probe", "annotations": {"helm.sh/hook": "pre-install"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}},
    });
    wait_until(Duration::from_secs(30), what, || {
        decide(ns, &denied) == Decision::Denied
            && match decide(ns, &warned) {
                Decision::Admitted { warned, object } => {
                    warned.contains("image-tag")
                        && object
                            .pointer("/metadata/annotations/helm.sh~1hook-delete-policy")
                            .is_some()
                }
                _ => false,
            }
    });
}

/// The differential test: the same corpus (every golden case, the example chart's hooks and
/// generated Jobs and Pods) created through the real apiserver once with the webhook and once
/// with `kubectl hooks policy export --format admission-policy` applied instead: the same
/// decision, the same warned rules and the same resulting object for every case.
#[test]
fn exported_admission_policies_decide_like_the_webhook() {
    let _turn = differential_turn();
    let ns = e2e::TestNamespace::reviewed("policy-export");
    let generated_count = std::env::var("HELM_HOOKS_E2E_POLICY_CORPUS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(160);
    let mut corpus = fixed_corpus();
    corpus.extend(generated(generated_count));

    // A policy with every mode in use, parameters and an override for the test namespace.
    let policy_file =
        std::env::temp_dir().join(format!("helm-hooks-e2e-policy-{}.yaml", std::process::id()));
    std::fs::write(
        &policy_file,
        format!(
            "{HEAD}rules:\n  hook-weight: warn\n  resources: audit\n  \
             deadline: {{mode: enforce, maxSeconds: 1800}}\n  \
             capabilities: {{mode: enforce, allowed: [NET_BIND_SERVICE, CHOWN]}}\n\
             exemptNamespaces: [kube-system, break-glass]\n\
             namespaceOverrides:\n\
             - namespaces: [{ns}]\n  rules: {{resources: warn, run-as-root: audit, host-path: warn}}\n  \
               defaults: {{ttlSecondsAfterFinished: 300}}\n",
            ns = ns.name()
        ),
    )
    .unwrap();

    let with_webhook = {
        let webhook = LocalWebhook::start(
            "differential",
            &["--policy".as_ref(), policy_file.as_os_str()],
        );
        webhook.register();
        wait_for_admission(ns.name(), "the webhook registration to take effect");
        let decisions = decide_all(ns.name(), &corpus);
        LocalWebhook::unregister();
        decisions
    };

    let exported = e2e::kubectl_hooks()
        .args([
            "policy",
            "export",
            "--format",
            "admission-policy",
            "--policy",
        ])
        .arg(&policy_file)
        .success()
        .stdout;
    let export_file = policy_file.with_extension("export.yaml");
    std::fs::write(&export_file, &exported).unwrap();
    let _exported = ExportedPolicies(export_file.clone());
    // No webhook is registered any more: what decides now is the apiserver alone.
    assert!(
        kubectl()
            .args(["get", "validatingwebhookconfiguration", "helm-hooks"])
            .output()
            .stderr
            .contains("NotFound")
    );
    kubectl().args(["apply", "-f"]).arg(&export_file).success();
    wait_for_admission(ns.name(), "the exported admission policies to take effect");
    let with_policies = decide_all(ns.name(), &corpus);
    let _ = std::fs::remove_file(&policy_file);

    assert_same_decisions(&corpus, &with_webhook, &with_policies);
}

/// Asserts the webhook and the exported policies decided every case alike, and that the cases
/// exercise every outcome (so the comparison cannot pass vacuously).
fn assert_same_decisions(
    corpus: &[serde_json::Value],
    with_webhook: &[Decision],
    with_policies: &[Decision],
) {
    let failed: Vec<&Decision> = with_webhook
        .iter()
        .chain(with_policies)
        .filter(|d| matches!(d, Decision::Failed(_)))
        .collect();
    assert!(failed.is_empty(), "requests failed: {failed:?}");
    let mut differences = Vec::new();
    for (i, (webhook, policies)) in with_webhook.iter().zip(with_policies).enumerate() {
        if webhook != policies {
            differences.push(format!(
                "case {i} ({}):\n  object: {}\n  webhook:  {webhook:?}\n  policies: {policies:?}",
                corpus[i]["metadata"]["name"], corpus[i]
            ));
        }
    }
    let count = |f: &dyn Fn(&Decision) -> bool| with_webhook.iter().filter(|d| f(d)).count();
    let denied = count(&|d| *d == Decision::Denied);
    let invalid = count(&|d| *d == Decision::Invalid);
    let warned = count(&|d| matches!(d, Decision::Admitted { warned, .. } if !warned.is_empty()));
    eprintln!(
        "{} cases: {denied} denied, {warned} warned, {invalid} invalid",
        corpus.len()
    );
    assert!(
        differences.is_empty(),
        "{} of {} cases differ:\n{}",
        differences.len(),
        corpus.len(),
        differences.join("\n")
    );
    assert!(
        denied > 10 && warned > 10 && denied + warned + invalid + 10 < corpus.len(),
        "{denied} denied, {warned} warned, {invalid} invalid"
    );
}

/// A HookPolicy selecting namespace `ns` by name, with `image-tag` in `mode`.
fn hookpolicy_for(name: &str, ns: &str, priority: i32, mode: &str) -> String {
    format!(
        "{HEAD}metadata: {{name: {name}}}\nspec:\n  priority: {priority}\n  \
         namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}\n  \
         rules: {{image-tag: {{mode: '{mode}'}}}}\n"
    )
}

/// Polls both replicas until `expect(allowed, warnings)` holds on each; the time it took from
/// `since` (when `kubectl apply` returned).
fn in_force_on(
    replicas: &[&LocalWebhook],
    ns: &str,
    job: &serde_json::Value,
    since: std::time::Instant,
    what: &str,
    expect: impl Fn(bool, &[String]) -> bool,
) -> Duration {
    let mut took = Duration::ZERO;
    for (i, replica) in replicas.iter().enumerate() {
        wait_until(
            Duration::from_secs(10),
            &format!("{what} on replica {i}"),
            || {
                let (allowed, warnings) = replica.validate(ns, job);
                expect(allowed, &warnings)
            },
        );
        took = took.max(since.elapsed());
    }
    took
}

/// `--policy-source cluster` on two replicas: a HookPolicy applied with kubectl is in force on
/// both within 2 s, overlapping selectors resolve by priority then name, deleting the objects
/// brings back the built-in policy; `kubectl hooks policy show` agrees.
#[test]
fn webhook_with_cluster_source_enforces_an_applied_hookpolicy_within_2s_on_two_replicas() {
    install_crd();
    let ns = e2e::TestNamespace::new("policy-watch");
    let (first, second, third) = (
        format!("w-{}", ns.name()),
        format!("a-{}", ns.name()),
        format!("z-{}", ns.name()),
    );
    let _cleanup = Cleanup(vec![first.clone(), second.clone(), third.clone()]);
    let source: [&std::ffi::OsStr; 2] = ["--policy-source".as_ref(), "cluster".as_ref()];
    let replicas = [
        LocalWebhook::start("watch-a", &source),
        LocalWebhook::start("watch-b", &source),
    ];
    let replicas: Vec<&LocalWebhook> = replicas.iter().collect();
    for replica in &replicas {
        wait_until(
            Duration::from_secs(20),
            "the first list of hookpolicies",
            || replica.curl("/readyz", None).stdout.ends_with("\n200"),
        );
        assert_eq!(replica.curl("/readyz", None).stdout, "ok\n\n200");
    }
    let job = serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "namespace": ns.name(), "annotations": {"helm.sh/hook": "pre-install"}},
        "spec": {"activeDeadlineSeconds": 600, "template": {"spec": {"restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": true, "runAsUser": 1000},
            "containers": [{"name": "m", "image": "busybox:latest",
                "resources": {"limits": {"cpu": "1", "memory": "64Mi"}},
                "securityContext": {"allowPrivilegeEscalation": false}}]}}},
    });
    let warns_image_tag =
        |allowed: bool, w: &[String]| allowed && w.iter().any(|w| w.starts_with("image-tag: "));
    let denies = |allowed: bool, _: &[String]| !allowed;
    let silent = |allowed: bool, w: &[String]| allowed && w.is_empty();
    // No HookPolicy selects the namespace: the built-in policy (image-tag warns).
    in_force_on(
        &replicas,
        ns.name(),
        &job,
        std::time::Instant::now(),
        "the built-in policy",
        warns_image_tag,
    );

    // Timed from when `kubectl apply` returns, i.e. the object is stored (kubectl's own
    // discovery of the new resource type can take seconds before that).
    let started = std::time::Instant::now();
    apply(&hookpolicy_for(&first, ns.name(), 10, "enforce")).success();
    let since = std::time::Instant::now();
    let took = in_force_on(
        &replicas,
        ns.name(),
        &job,
        since,
        "an applied HookPolicy",
        denies,
    );
    eprintln!(
        "HookPolicy in force on both replicas {took:?} after kubectl apply returned ({:?} after it started)",
        started.elapsed()
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // Same priority, name first in order wins: "a-…" (off) over "w-…" (enforce).
    apply(&hookpolicy_for(&second, ns.name(), 10, "off")).success();
    let since = std::time::Instant::now();
    let took = in_force_on(&replicas, ns.name(), &job, since, "the name rule", silent);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // A higher priority wins over the name: "z-…" (enforce, 20).
    apply(&hookpolicy_for(&third, ns.name(), 20, "enforce")).success();
    in_force_on(
        &replicas,
        ns.name(),
        &job,
        std::time::Instant::now(),
        "the priority rule",
        denies,
    );

    // kubectl hooks policy show reads the same objects and labels and agrees.
    let shown = e2e::kubectl_hooks()
        .args(["policy", "show", "-n", ns.name(), "-o", "json"])
        .success()
        .json();
    assert_eq!(shown["hookPolicy"]["name"], third.as_str(), "{shown}");
    assert_eq!(shown["rules"]["image-tag"], "enforce", "{shown}");
    let others: Vec<&str> = shown["otherCandidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert!(
        others.contains(&first.as_str()) && others.contains(&second.as_str()),
        "{shown}"
    );

    // So does kubectl hooks lint --policy-from-cluster: image-tag is an error there, a warning
    // under the built-in policy.
    let manifest = serde_yaml_ng::to_string(&job).unwrap();
    let lint = |from_cluster: bool| {
        let mut run = e2e::kubectl_hooks().args(["lint", "-f", "-", "-n", ns.name(), "-o", "json"]);
        if from_cluster {
            run = run.arg("--policy-from-cluster");
        }
        run.stdin(manifest.clone()).output()
    };
    let image_tag_severity = |out: &e2e::Output| {
        out.json()["objects"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "policy/image-tag")
            .map(|f| f["severity"].as_str().unwrap_or("").to_string())
    };
    let from_cluster = lint(true);
    assert_eq!(from_cluster.code, Some(1), "{from_cluster}");
    assert_eq!(
        image_tag_severity(&from_cluster).as_deref(),
        Some("error"),
        "{from_cluster}"
    );
    let builtin = lint(false);
    assert_eq!(
        image_tag_severity(&builtin).as_deref(),
        Some("warning"),
        "{builtin}"
    );

    // Deleting the objects brings the built-in policy back.
    kubectl()
        .args(["delete", "hookpolicy", &first, &second, &third])
        .success();
    in_force_on(
        &replicas,
        ns.name(),
        &job,
        std::time::Instant::now(),
        "the built-in policy again",
        warns_image_tag,
    );
    let log = replicas[0].log();
    assert!(
        log.iter()
            .any(|l| l["message"] == "policy from the cluster in force"),
        "no policy change logged"
    );
}

/// `deploy/components/cluster-policy` on the base: the webhook runs with
/// `--policy-source=cluster` and a service-account token instead of the ConfigMap, may read
/// hookpolicies and namespaces and nothing else, and the component's cluster-scoped objects
/// pass a server-side dry run.
#[test]
fn cluster_policy_component_switches_the_webhook_to_the_cluster_source() {
    use serde_json::Value;
    install_crd();
    // A kustomization outside the repository, pointing back at it by a relative path (kustomize
    // refuses absolute ones).
    let dir = std::env::temp_dir().join(format!("helm-hooks-e2e-kustomize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let up = "../".repeat(dir.components().count() - 1);
    let repo = repo_root();
    let repo = repo.to_string_lossy();
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             resources: [{up}{repo}/deploy/base]\ncomponents: [{up}{repo}/deploy/components/cluster-policy]\n",
            repo = repo.trim_start_matches('/')
        ),
    )
    .unwrap();
    let rendered = kubectl().arg("kustomize").arg(&dir).success().stdout;
    let _ = std::fs::remove_dir_all(&dir);
    let objects: Vec<Value> = rendered
        .split("\n---\n")
        .filter_map(|d| serde_yaml_ng::from_str(d).ok())
        .collect();
    let find = |kind: &'static str| objects.iter().filter(move |o| o["kind"] == kind);
    let deployment = find("Deployment").next().expect("the webhook's Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(args.contains(&"--policy-source=cluster"), "{args:?}");
    assert!(!args.iter().any(|a| a.starts_with("--policy=")), "{args:?}");
    assert_eq!(pod["automountServiceAccountToken"], true);
    assert!(
        !rendered.contains("helm-hooks-policy"),
        "the ConfigMap and its volume are gone"
    );
    let role = find("ClusterRole").next().expect("a ClusterRole");
    assert_eq!(
        role["rules"],
        serde_json::json!([
            {"apiGroups": ["hooks.helm-hooks.io"], "resources": ["hookpolicies"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
        ])
    );
    let cluster_scoped: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            [
                "CustomResourceDefinition",
                "HookPolicy",
                "ClusterRole",
                "ClusterRoleBinding",
            ]
            .contains(&o["kind"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(cluster_scoped.len(), 4, "{cluster_scoped:?}");
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": cluster_scoped});
    kubectl()
        .args(["apply", "--server-side", "--dry-run=server", "-f", "-"])
        .stdin(list.to_string())
        .success();
}

/// Specs mixing valid and invalid settings of every field the parser checks.
fn generated_specs(n: usize) -> Vec<String> {
    let mut g = Gen(0xc4d);
    let rule_ids = [
        "privileged",
        "deadline",
        "capabilities",
        "image-tag",
        "run-as-root",
        "privilegd",
    ];
    let settings = [
        "{mode: enforce}",
        "{mode: 'off'}",
        "{mode: warn}",
        "{mode: enforc}",
        "{mode: warn, maxSeconds: 100}",
        "{mode: enforce, maxSeconds: 7200}",
        "{mode: enforce, maxSeconds: 0}",
        "{mode: audit, allowed: [CHOWN]}",
        "{maxSeconds: 100}",
    ];
    (0..n)
        .map(|_| {
            let mut spec = String::new();
            if *g.pick(&[true, false]) {
                let mut rules = Vec::new();
                for _ in 0..*g.pick(&[1, 2, 3]) {
                    rules.push(format!("{}: {}", g.pick(&rule_ids), g.pick(&settings)));
                }
                rules.dedup_by(|a, b| a.split(':').next() == b.split(':').next());
                spec.push_str(&format!("  rules: {{{}}}\n", rules.join(", ")));
            }
            if *g.pick(&[true, false]) {
                let mut defaults = Vec::new();
                if *g.pick(&[true, false]) {
                    defaults.push(format!(
                        "deletePolicy: '{}'",
                        g.pick(&["before-hook-creation", "hook-succeeded", "before-hook-creation,hook-succeded", "", " Before-Hook-Creation , hook-failed"])
                    ));
                }
                if *g.pick(&[true, false]) {
                    defaults.push(format!("activeDeadlineSeconds: {}", g.pick(&[0, 300, 600, 5000, -1])));
                }
                if *g.pick(&[true, false]) {
                    defaults.push(format!(
                        "securityContext: {{runAsUser: {}, profile: {}}}",
                        g.pick(&[1000, 0]),
                        g.pick(&["restricted", "none", "strict"])
                    ));
                }
                spec.push_str(&format!("  defaults: {{{}}}\n", defaults.join(", ")));
            }
            if *g.pick(&[true, false, false]) {
                spec.push_str(&format!(
                    "  namespaceOverrides: [{}]\n",
                    g.pick(&[
                        "{namespaces: [a]}",
                        "{namespaces: []}",
                        "{namespaces: [a], rules: {image-tag: {mode: 'off'}}, defaults: {activeDeadlineSeconds: 0, deletePolicy: '', securityProfile: none}}",
                        "{namespaces: [a], defaults: {deletePolicy: hook-failed}}",
                        "{namespaces: [a], rules: {image-tag: {mode: warn, allowed: [X]}}}",
                    ])
                ));
            }
            if *g.pick(&[true, false, false]) {
                spec.push_str(&format!(
                    "  namespaceSelector: {}\n",
                    g.pick(&[
                        "{matchLabels: {env: prod}}",
                        "{matchExpressions: [{key: env, operator: NotIn, values: [dev]}]}",
                        "{matchExpressions: [{key: env, operator: Exists, values: [dev]}]}",
                        "{matchExpressions: [{key: env, operator: In}]}",
                    ])
                ));
            }
            if *g.pick(&[true, false, false]) {
                spec.push_str(&format!("  priority: {}\n", g.pick(&["5", "-3", "high"])));
            }
            spec
        })
        .collect()
}

/// The apiserver (the CRD's schema and CEL) and the core's parser (`kubectl hooks policy show
/// --policy`) accept and refuse the same HookPolicies: the schema expresses every check the
/// parser makes, so no typo gets past `kubectl apply` that the webhook would then refuse.
#[test]
fn the_apiserver_and_the_parser_accept_the_same_hookpolicies() {
    install_crd();
    let dir = std::env::temp_dir().join(format!("helm-hooks-e2e-specs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let count = std::env::var("HELM_HOOKS_E2E_POLICY_SPECS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(90);
    let specs = generated_specs(count);
    let verdicts: Vec<(String, bool, bool, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = specs
            .chunks(specs.len().div_ceil(4))
            .enumerate()
            .map(|(t, part)| {
                let dir = &dir;
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, spec)| {
                            let manifest =
                                format!("{HEAD}metadata: {{name: e2e-spec}}\nspec:\n{spec}");
                            let file = dir.join(format!("{t}-{i}.yaml"));
                            std::fs::write(&file, &manifest).unwrap();
                            let server = kubectl()
                                .args(["create", "--dry-run=server", "-f"])
                                .arg(&file)
                                .output();
                            let parser = e2e::kubectl_hooks()
                                .args(["policy", "show", "--policy"])
                                .arg(&file)
                                .output();
                            (
                                manifest,
                                server.ok(),
                                parser.ok(),
                                format!("{}{}", server.stderr, parser.stderr),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let disagree: Vec<String> = verdicts
        .iter()
        .filter(|(_, server, parser, _)| server != parser)
        .map(|(m, server, parser, why)| {
            format!("apiserver accepts: {server}, parser accepts: {parser}\n{m}{why}")
        })
        .collect();
    let accepted = verdicts.iter().filter(|v| v.1 && v.2).count();
    eprintln!("{} specs: {accepted} accepted by both", verdicts.len());
    assert!(
        disagree.is_empty(),
        "{} disagree:\n{}",
        disagree.len(),
        disagree.join("\n---\n")
    );
    assert!(
        accepted > 10 && accepted + 10 < verdicts.len(),
        "{accepted} accepted"
    );
}

/// With `--policy-source cluster` the webhook needs exactly the component's RBAC: run as the
/// webhook's ServiceAccount (impersonated), it is not ready, saying why, until
/// `deploy/components/cluster-policy/rbac.yaml` is applied; then it is ready and selects by a
/// namespace label (read through the namespaces watch).
#[test]
fn webhook_with_cluster_source_needs_only_the_components_rbac() {
    install_crd();
    let ns = e2e::TestNamespace::new("policy-rbac");
    let policy = format!("rbac-{}", ns.name());
    let _cleanup = Cleanup(vec![policy.clone()]);
    let rbac = repo_root().join("deploy/components/cluster-policy/rbac.yaml");
    struct Unbind(std::path::PathBuf);
    impl Drop for Unbind {
        fn drop(&mut self) {
            let _ = kubectl()
                .args(["delete", "--ignore-not-found", "-f"])
                .arg(&self.0)
                .output();
        }
    }
    let _unbind = Unbind(rbac.clone());
    kubectl()
        .args(["delete", "--ignore-not-found", "-f"])
        .arg(&rbac)
        .success();

    // The admin kubeconfig, impersonating the webhook's ServiceAccount.
    let mut config = kubectl()
        .args(["config", "view", "--raw", "--flatten", "-o", "json"])
        .success()
        .json();
    for user in config["users"].as_array_mut().unwrap() {
        user["user"]["as"] = "system:serviceaccount:helm-hooks-system:helm-hooks-webhook".into();
    }
    let kubeconfig =
        std::env::temp_dir().join(format!("helm-hooks-e2e-sa-{}.json", std::process::id()));
    std::fs::write(&kubeconfig, config.to_string()).unwrap();
    let source: [&std::ffi::OsStr; 2] = ["--policy-source".as_ref(), "cluster".as_ref()];
    let webhook = LocalWebhook::start_with_kubeconfig("rbac", &source, Some(&kubeconfig));
    let mut readyz = String::new();
    wait_until(
        Duration::from_secs(20),
        "/readyz to say the list is forbidden",
        || {
            readyz = webhook.curl("/readyz", None).stdout;
            readyz.contains("forbidden")
        },
    );
    assert!(
        readyz.starts_with("not ready: waiting for the first list of hookpolicies")
            && readyz.ends_with("\n503"),
        "{readyz}"
    );

    kubectl().args(["apply", "-f"]).arg(&rbac).success();
    kubectl()
        .args(["label", "namespace", ns.name(), "e2e-policy-rbac=yes"])
        .success();
    wait_until(
        Duration::from_secs(60),
        "the webhook to become ready with the RBAC",
        || webhook.curl("/readyz", None).stdout == "ok\n\n200",
    );
    apply(&format!(
        "{HEAD}metadata: {{name: {policy}}}\nspec:\n  priority: 50\n  \
         namespaceSelector: {{matchLabels: {{e2e-policy-rbac: 'yes'}}}}\n  rules: {{image-tag: {{mode: enforce}}}}\n"
    ))
    .success();
    let job = serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "m", "annotations": {"helm.sh/hook": "pre-install"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}}},
    });
    wait_until(
        Duration::from_secs(10),
        "the label-selected HookPolicy to deny",
        || !webhook.validate(ns.name(), &job).0,
    );
    let _ = std::fs::remove_file(&kubeconfig);
}

/// The differential test again with HookPolicy objects from the cluster: overlapping selectors
/// (a winner by priority, a loser by name), a namespace override and the securityContext
/// profile `none`, across two namespaces told apart by labels only. Phase one: the webhook with
/// `--policy-source cluster`; phase two: `kubectl hooks policy export` of the cluster's
/// HookPolicies instead. Same decision, warned rules and resulting object for every case.
#[test]
fn exported_hookpolicies_with_selectors_decide_like_the_cluster_source_webhook() {
    install_crd();
    let _turn = differential_turn();
    let prod = e2e::TestNamespace::reviewed("diff-prod");
    let dev = e2e::TestNamespace::reviewed("diff-dev");
    let id = prod.name().to_string();
    for (ns, tier) in [(&prod, "prod"), (&dev, "dev")] {
        kubectl()
            .args([
                "label",
                "namespace",
                ns.name(),
                &format!("e2e-diff={id}"),
                &format!("tier={tier}"),
            ])
            .success();
    }
    let names = [
        format!("base-{id}"),
        format!("prod-{id}"),
        format!("zprod-{id}"),
    ];
    let _cleanup = Cleanup(names.to_vec());
    let selector = |tier: &str| {
        let mut s = format!("{{matchLabels: {{e2e-diff: {id}}}");
        if !tier.is_empty() {
            s.push_str(&format!(
                ", matchExpressions: [{{key: tier, operator: In, values: [{tier}]}}]"
            ));
        }
        s + "}"
    };
    apply(&format!(
        "{HEAD}metadata: {{name: {base}}}\nspec:\n  namespaceSelector: {sel}\n  \
         rules: {{hook-weight: {{mode: warn}}, resources: {{mode: audit}}, deadline: {{mode: enforce, maxSeconds: 1800}}, \
         capabilities: {{mode: enforce, allowed: [NET_BIND_SERVICE, CHOWN]}}}}\n  \
         namespaceOverrides: [{{namespaces: [{dev}], rules: {{resources: {{mode: warn}}, host-path: {{mode: warn}}}}, defaults: {{ttlSecondsAfterFinished: 300}}}}]\n\
         ---\n{HEAD}metadata: {{name: {prod_name}}}\nspec:\n  priority: 5\n  namespaceSelector: {prod_sel}\n  \
         rules: {{run-as-root: {{mode: 'off'}}, resources: {{mode: warn}}, privileged: {{mode: warn}}}}\n  \
         defaults: {{activeDeadlineSeconds: 900, securityContext: {{profile: none}}}}\n\
         ---\n{HEAD}metadata: {{name: {zprod}}}\nspec:\n  priority: 5\n  namespaceSelector: {prod_sel}\n  \
         rules: {{image-tag: {{mode: enforce}}, resources: {{mode: enforce}}}}\n",
        base = names[0],
        prod_name = names[1],
        zprod = names[2],
        sel = selector(""),
        prod_sel = selector("prod"),
        dev = dev.name(),
    ))
    .success();

    let generated_count = std::env::var("HELM_HOOKS_E2E_POLICY_CORPUS")
        .ok()
        .and_then(|n: String| n.parse::<usize>().ok())
        .map_or(100, |n| n * 5 / 8);
    let mut corpus = fixed_corpus();
    corpus.extend(generated(generated_count));
    let both = |decide: &dyn Fn(&str) -> Vec<Decision>| {
        let mut decisions = decide(prod.name());
        decisions.extend(decide(dev.name()));
        decisions
    };

    let with_webhook = {
        let source: [&std::ffi::OsStr; 2] = ["--policy-source".as_ref(), "cluster".as_ref()];
        let webhook = LocalWebhook::start("diff-cluster", &source);
        wait_until(
            Duration::from_secs(20),
            "the webhook to list the HookPolicies",
            || webhook.curl("/readyz", None).stdout.ends_with("\n200"),
        );
        webhook.register();
        for ns in [&prod, &dev] {
            wait_for_admission(ns.name(), "the webhook registration to take effect");
        }
        let decisions = both(&|ns| decide_all(ns, &corpus));
        LocalWebhook::unregister();
        decisions
    };

    let exported = e2e::kubectl_hooks()
        .args([
            "policy",
            "export",
            "--format",
            "admission-policy",
            "--name-prefix",
        ])
        .arg(format!("e2e-{}", &id[id.len() - 8..]))
        .success()
        .stdout;
    let export_file = std::env::temp_dir().join(format!("helm-hooks-e2e-export-{id}.yaml"));
    std::fs::write(&export_file, &exported).unwrap();
    let _exported = ExportedPolicies(export_file.clone());
    kubectl().args(["apply", "-f"]).arg(&export_file).success();
    for ns in [&prod, &dev] {
        wait_for_admission(ns.name(), "the exported admission policies to take effect");
    }
    let with_policies = both(&|ns| decide_all(ns, &corpus));

    let mut cases = corpus.clone();
    cases.extend(corpus.iter().cloned());
    assert_same_decisions(&cases, &with_webhook, &with_policies);
    // The namespaces really got different policies: prod injects no securityContext, dev does.
    let sc = |d: &Decision| match d {
        Decision::Admitted { object, .. } if object["kind"] == "Job" => Some(
            object["spec"]["template"]["spec"]
                .get("securityContext")
                .cloned(),
        ),
        _ => None,
    };
    let n = corpus.len();
    let differs = (0..n).any(|i| {
        let (in_prod, in_dev) = (sc(&with_webhook[i]), sc(&with_webhook[n + i]));
        in_prod.is_some() && in_dev.is_some() && in_prod != in_dev
    });
    assert!(
        differs,
        "no admitted Job shows the two namespaces' different defaults"
    );
}

/// A TCP proxy to the apiserver that a test can cut and restore, to take the webhook's watch
/// down without touching the shared cluster.
struct Outage {
    port: u16,
    target: String,
    state: std::sync::Arc<OutageState>,
}

#[derive(Default)]
struct OutageState {
    up: std::sync::atomic::AtomicBool,
    connections: std::sync::Mutex<Vec<std::net::TcpStream>>,
}

impl Outage {
    /// Proxies 127.0.0.1:PORT to `target` (`host:port`).
    fn start(target: &str) -> Outage {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let outage = Outage {
            port,
            target: target.to_string(),
            state: Default::default(),
        };
        outage.restore();
        outage
    }

    /// Accepts and forwards connections until [`Outage::cut`].
    fn restore(&self) {
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        self.state
            .up
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let (state, target) = (self.state.clone(), self.target.clone());
        std::thread::spawn(move || {
            while state.up.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = std::net::TcpStream::connect(&target) else {
                            continue;
                        };
                        let mut open = state.connections.lock().unwrap();
                        for stream in [&client, &server] {
                            open.push(stream.try_clone().unwrap());
                        }
                        for (mut from, mut to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(std::net::Shutdown::Both);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
    }

    /// Closes the port and every open connection: the apiserver is unreachable.
    fn cut(&self) {
        self.state
            .up
            .store(false, std::sync::atomic::Ordering::SeqCst);
        for stream in self.state.connections.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.cut();
    }
}

/// While the watch is down (the apiserver unreachable), the last good policy stays in force and
/// `/readyz` says why (still 200); once the apiserver is back the watch resumes, picks up what
/// changed meanwhile, and `/readyz` is plain `ok` again.
#[test]
fn webhook_keeps_the_last_good_policy_while_its_watch_is_down() {
    install_crd();
    let ns = e2e::TestNamespace::new("policy-outage");
    let policy = format!("outage-{}", ns.name());
    let _cleanup = Cleanup(vec![policy.clone()]);
    apply(&hookpolicy_for(&policy, ns.name(), 40, "enforce")).success();

    // The admin kubeconfig, through the proxy.
    let mut config = kubectl()
        .args([
            "config",
            "view",
            "--raw",
            "--flatten",
            "--minify",
            "-o",
            "json",
        ])
        .success()
        .json();
    let server = config["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_string();
    let target = server.trim_start_matches("https://").to_string();
    let outage = Outage::start(&target);
    config["clusters"][0]["cluster"]["server"] =
        format!("https://127.0.0.1:{}", outage.port).into();
    let kubeconfig =
        std::env::temp_dir().join(format!("helm-hooks-e2e-outage-{}.json", std::process::id()));
    std::fs::write(&kubeconfig, config.to_string()).unwrap();
    let source: [&std::ffi::OsStr; 2] = ["--policy-source".as_ref(), "cluster".as_ref()];
    let webhook = LocalWebhook::start_with_kubeconfig("outage", &source, Some(&kubeconfig));
    wait_until(
        Duration::from_secs(20),
        "the webhook to list the HookPolicies",
        || webhook.curl("/readyz", None).stdout == "ok\n\n200",
    );
    let job = serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "m", "annotations": {"helm.sh/hook": "pre-install"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}}},
    });
    wait_until(Duration::from_secs(10), "the HookPolicy to deny", || {
        !webhook.validate(ns.name(), &job).0
    });

    outage.cut();
    // Changed while the webhook cannot see it: the last good policy stays in force.
    apply(&hookpolicy_for(&policy, ns.name(), 40, "off")).success();
    let mut readyz = String::new();
    wait_until(
        Duration::from_secs(30),
        "/readyz to report the watch down",
        || {
            readyz = webhook.curl("/readyz", None).stdout;
            readyz.contains("policy watch down")
        },
    );
    assert!(
        readyz.starts_with(
            "ok: policy watch down, the last good policy stays in force: hookpolicies: since "
        ) && readyz.ends_with("\n200"),
        "{readyz}"
    );
    assert!(
        !webhook.validate(ns.name(), &job).0,
        "the last good policy stays in force"
    );
    let down_logged = webhook
        .log()
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("watch down"))
        })
        .count();
    assert!(down_logged >= 1, "the outage is logged");

    outage.restore();
    let resumed = std::time::Instant::now();
    while webhook.curl("/readyz", None).stdout != "ok\n\n200" {
        assert!(
            resumed.elapsed() < Duration::from_secs(60),
            "the watch did not resume: {}\n{:#?}",
            webhook.curl("/readyz", None).stdout,
            webhook.log().iter().rev().take(8).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_until(
        Duration::from_secs(10),
        "the change made during the outage",
        || webhook.validate(ns.name(), &job).0,
    );
    assert!(
        webhook
            .log()
            .iter()
            .any(|l| l["message"] == "watch resumed")
    );
    let _ = std::fs::remove_file(&kubeconfig);
}
