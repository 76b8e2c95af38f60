//! The admission webhook of a test run: one `helm-hooks-webhook` process per test binary, on a
//! free 127.0.0.1 port with a certificate from its own `certs` command, registered by
//! `scripts/register-local-webhook` (as the demo does) with exactly the Mutating and
//! ValidatingWebhookConfiguration of `deploy/base/webhooks.yaml`: same names, rules,
//! matchConditions, namespaceSelector, failure policies and timeouts; only `clientConfig`
//! becomes `url` + `caBundle`. What is tested is what users install.
//!
//! The registration is cluster-wide, as in production: tests that want reviews use
//! [`TestNamespace::reviewed`] namespaces, every other e2e test opts its namespace out with the
//! `helm-hooks.io/webhook=skip` label. Tests share the webhook, so they count the reviews of
//! their own namespace (or of their own cluster-scoped objects, by name) in its JSON log rather
//! than in the process-wide `/metrics`. When the test process exits, a watchdog stops the
//! webhook and deletes the registration it made (a uid precondition: never the one the next
//! test binary registered under the same names).
//!
//! A test binary may instead register the one-call variant ([`Registration::OneCall`]:
//! deploy/components/one-call over the same file), through [`SharedWebhook::get_with`].
//!
//! Needs the webhook binary built (`cargo build --workspace --bins`).

use crate::{Run, TestNamespace, kubectl, repo_root, wait_until};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How the webhook is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// deploy/base/webhooks.yaml: `/mutate` (defaults) and `/validate` (policy).
    TwoCalls,
    /// deploy/components/one-call over it: the mutating webhook alone, on `/admit`.
    OneCall,
}

/// The webhook of this test run, registered with deploy/'s configurations.
pub struct SharedWebhook {
    dir: PathBuf,
    registration: Registration,
    /// The watchdog and its stdin: the pipe closes when this process exits, which makes the
    /// watchdog stop the webhook and delete the registration.
    _watchdog: Mutex<(Child, ChildStdin)>,
}

/// One review the webhook logged (`"admission review"` lines of its JSON log).
#[derive(Debug, Clone)]
pub struct Review {
    /// `mutate` or `validate`.
    pub endpoint: String,
    pub kind: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
    /// `patched`, `allowed`, `denied`, …
    pub decision: String,
    /// Whether the request was a server-side dry run.
    pub dry_run: bool,
}

/// One policy violation the webhook logged (`"policy violation"` lines).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoggedViolation {
    pub endpoint: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub rule: String,
    pub mode: String,
    pub field: String,
}

impl SharedWebhook {
    /// The running webhook; the first call starts and registers it (two calls).
    pub fn get() -> &'static SharedWebhook {
        SharedWebhook::get_with(Registration::TwoCalls)
    }

    /// The running webhook, registered as `registration` by the first call; a test binary uses
    /// one registration only.
    pub fn get_with(registration: Registration) -> &'static SharedWebhook {
        static WEBHOOK: OnceLock<SharedWebhook> = OnceLock::new();
        let webhook = WEBHOOK.get_or_init(|| SharedWebhook::start(registration));
        assert_eq!(
            webhook.registration, registration,
            "one registration per test binary"
        );
        webhook
    }

    fn start(registration: Registration) -> SharedWebhook {
        let dir =
            std::env::temp_dir().join(format!("helm-hooks-e2e-webhook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let binary = crate::workspace_binary("helm-hooks-webhook", "HELM_HOOKS_WEBHOOK_BIN");
        Run::new(&binary)
            .args(["certs", "--ip", "127.0.0.1", "--out-dir"])
            .arg(&dir)
            .success();
        let started = Instant::now();
        // The watchdog runs the webhook and waits for EOF on its stdin, i.e. for this test
        // process to exit (statics are never dropped), then cleans up.
        let script = r#"
            RUST_LOG=info,helm_hooks_webhook::review=debug \
            "$WEBHOOK" serve --listen 127.0.0.1:0 --log-format json \
              --tls-cert "$DIR/tls.crt" --tls-key "$DIR/tls.key" 2>"$DIR/webhook.log" &
            webhook=$!
            read -r _ || true
            for kind in mutating validating; do
              [ -s "$DIR/$kind.uid" ] || continue
              printf '{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"%s"}}' \
                "$(cat "$DIR/$kind.uid")" >"$DIR/$kind.delete.json"
              kubectl delete --raw \
                "/apis/admissionregistration.k8s.io/v1/${kind}webhookconfigurations/helm-hooks" \
                -f "$DIR/$kind.delete.json" >/dev/null 2>&1 || true
            done
            kill "$webhook" 2>/dev/null || true
            wait "$webhook" 2>/dev/null || true
            rm -rf "$DIR"
        "#;
        let mut watchdog = Command::new("bash")
            .args(["-c", script])
            .env("WEBHOOK", &binary)
            .env("DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("bash runs the webhook's watchdog");
        let stdin = watchdog.stdin.take().unwrap();
        let webhook = SharedWebhook {
            dir,
            registration,
            _watchdog: Mutex::new((watchdog, stdin)),
        };
        let mut port = 0u16;
        wait_until(Duration::from_secs(20), "the webhook to listen", || {
            port = webhook
                .log_lines()
                .iter()
                .find(|l| l["message"] == "listening")
                .and_then(|l| l["addr"].as_str()?.rsplit(':').next()?.parse().ok())
                .unwrap_or(0);
            port != 0
        });
        eprintln!("webhook on 127.0.0.1:{port} after {:?}", started.elapsed());
        webhook.register(port);
        webhook
    }

    pub fn log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("webhook.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The reviews of objects in namespace `ns`, in the order the webhook made them.
    pub fn reviews(&self, ns: &str) -> Vec<Review> {
        self.all_reviews()
            .into_iter()
            .filter(|r| r.namespace == ns)
            .collect()
    }

    /// Every review the webhook made, in order (all namespaces and cluster-scoped objects).
    pub fn all_reviews(&self) -> Vec<Review> {
        let text = |l: &Value, key: &str| l[key].as_str().unwrap_or_default().to_string();
        self.log_lines()
            .iter()
            .filter(|l| l["message"] == "admission review")
            .map(|l| Review {
                endpoint: text(l, "endpoint"),
                kind: text(l, "kind"),
                namespace: text(l, "namespace"),
                name: text(l, "name"),
                decision: text(l, "decision"),
                dry_run: l["dry_run"] == true,
            })
            .collect()
    }

    /// Every policy violation the webhook logged, in order.
    pub fn violations(&self) -> Vec<LoggedViolation> {
        let text = |l: &Value, key: &str| l[key].as_str().unwrap_or_default().to_string();
        self.log_lines()
            .iter()
            .filter(|l| l["message"] == "policy violation" && l["dry_run"] != true)
            .map(|l| LoggedViolation {
                endpoint: text(l, "endpoint"),
                kind: text(l, "kind"),
                namespace: text(l, "namespace"),
                name: text(l, "name"),
                rule: text(l, "rule"),
                mode: text(l, "mode"),
                field: text(l, "field"),
            })
            .collect()
    }

    /// How many reviews in `ns` were made at `endpoint` with `decision`.
    pub fn count(&self, ns: &str, endpoint: &str, decision: &str) -> usize {
        self.reviews(ns)
            .iter()
            .filter(|r| r.endpoint == endpoint && r.decision == decision)
            .count()
    }

    /// Registers deploy/base/webhooks.yaml (with deploy/components/one-call for
    /// [`Registration::OneCall`]) with only clientConfig changed, then waits until the
    /// apiserver calls every endpoint.
    fn register(&self, port: u16) {
        let mut script = Run::new(repo_root().join("scripts/register-local-webhook"));
        if self.registration == Registration::OneCall {
            script = script.arg("--one-call");
        }
        script
            .arg(format!("https://127.0.0.1:{port}"))
            .arg(self.dir.join("ca.crt"))
            .success();
        // What the apiserver now holds is deploy's configuration, clientConfig aside.
        let (deploy, endpoints, kinds): (Vec<Value>, &[&str], &[&str]) = match self.registration {
            Registration::TwoCalls => (
                kubectl()
                    .args(["create", "--dry-run=client", "-o", "json", "-f"])
                    .arg(repo_root().join("deploy/base/webhooks.yaml"))
                    .success()
                    .objects(),
                &["mutate", "validate"],
                &[
                    "MutatingWebhookConfiguration",
                    "ValidatingWebhookConfiguration",
                ],
            ),
            Registration::OneCall => (
                one_call_configurations(),
                &["admit"],
                &["MutatingWebhookConfiguration"],
            ),
        };
        let rendered: Vec<&str> = deploy.iter().filter_map(|i| i["kind"].as_str()).collect();
        assert_eq!(rendered, kinds, "deploy's webhook configurations");
        if self.registration == Registration::OneCall {
            let left = kubectl()
                .args(["get", "validatingwebhookconfiguration", "helm-hooks"])
                .output();
            assert!(!left.ok(), "a two-call registration was left behind");
        }
        for expected in &deploy {
            let kind = expected["kind"].as_str().unwrap();
            let name = expected["metadata"]["name"].as_str().unwrap();
            let live = kubectl()
                .args(["get", kind, name, "-o", "json"])
                .success()
                .json();
            let live_webhooks = live["webhooks"].as_array().unwrap();
            let expected_webhooks = expected["webhooks"].as_array().unwrap();
            assert_eq!(live_webhooks.len(), expected_webhooks.len(), "{kind}");
            for (live, expected) in live_webhooks.iter().zip(expected_webhooks) {
                for (key, value) in expected.as_object().unwrap() {
                    if key != "clientConfig" {
                        assert_eq!(&live[key], value, "{kind}/{name}: {key}");
                    }
                }
                let path = expected["clientConfig"]["service"]["path"]
                    .as_str()
                    .unwrap();
                assert_eq!(
                    live["clientConfig"]["url"],
                    format!("https://127.0.0.1:{port}{path}")
                );
            }
        }
        // The watchdog deletes exactly these (uid precondition).
        for kind in kinds {
            // MutatingWebhookConfiguration -> mutating.uid
            let short = kind
                .trim_end_matches("WebhookConfiguration")
                .to_ascii_lowercase();
            let uid = kubectl()
                .args(["get", kind, "helm-hooks", "-o", "jsonpath={.metadata.uid}"])
                .success()
                .stdout;
            std::fs::write(self.dir.join(format!("{short}.uid")), uid.trim()).unwrap();
        }
        // The apiserver picks new configurations up asynchronously: wait until a server-side
        // dry run of a hook reaches both endpoints.
        let probe = TestNamespace::reviewed("webhook-probe");
        let reviewed = |endpoint: &str| {
            self.reviews(probe.name())
                .iter()
                .filter(|r| r.endpoint == endpoint)
                .count()
        };
        wait_until(
            Duration::from_secs(30),
            "the webhook registration to take effect",
            || {
                let _ = probe
                    .kubectl()
                    .args(["create", "--dry-run=server", "-o", "json", "-f", "-"])
                    .stdin(hook_configmap("probe").to_string())
                    .output();
                endpoints.iter().all(|e| reviewed(e) > 0)
            },
        );
    }
}

/// deploy/base/webhooks.yaml with deploy/components/one-call applied, rendered by kustomize
/// from a copy of both (kustomize loads nothing outside its root).
fn one_call_configurations() -> Vec<Value> {
    let dir = std::env::temp_dir().join(format!("helm-hooks-e2e-one-call-{}", std::process::id()));
    let component = dir.join("one-call");
    std::fs::create_dir_all(&component).unwrap();
    std::fs::copy(
        repo_root().join("deploy/base/webhooks.yaml"),
        dir.join("webhooks.yaml"),
    )
    .unwrap();
    std::fs::copy(
        repo_root().join("deploy/components/one-call/kustomization.yaml"),
        component.join("kustomization.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources: [webhooks.yaml]\ncomponents: [one-call]\n",
    )
    .unwrap();
    let yaml = kubectl().arg("kustomize").arg(&dir).success().stdout;
    let _ = std::fs::remove_dir_all(&dir);
    kubectl()
        .args(["create", "--dry-run=client", "-o", "json", "-f", "-"])
        .stdin(yaml)
        .success()
        .objects()
}

/// The webhook, registered; on a failing test, prints the namespace's reviews.
pub fn webhook_for(ns: &TestNamespace) -> WebhookView<'_> {
    webhook_registered_as(Registration::TwoCalls, ns)
}

/// [`webhook_for`] with the webhook registered as `registration`.
pub fn webhook_registered_as(registration: Registration, ns: &TestNamespace) -> WebhookView<'_> {
    WebhookView {
        webhook: SharedWebhook::get_with(registration),
        ns,
    }
}

/// The shared webhook seen from one test's namespace.
pub struct WebhookView<'a> {
    /// The webhook of the test run.
    pub webhook: &'static SharedWebhook,
    ns: &'a TestNamespace,
}

impl WebhookView<'_> {
    /// The reviews of the test's namespace.
    pub fn reviews(&self) -> Vec<Review> {
        self.webhook.reviews(self.ns.name())
    }

    /// How many reviews in the test's namespace were made at `endpoint` with `decision`.
    pub fn count(&self, endpoint: &str, decision: &str) -> usize {
        self.webhook.count(self.ns.name(), endpoint, decision)
    }
}

impl Drop for WebhookView<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "===== webhook reviews in {} =====\n{:#?}",
                self.ns.name(),
                self.reviews()
            );
        }
    }
}

/// A ConfigMap hook (`pre-install`) named `name`.
pub fn hook_configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "annotations": {"helm.sh/hook": "pre-install"}},
           "data": {"k": "v"}})
}
