//! Public charts under the webhook: ingress-nginx, cert-manager, kyverno and gatekeeper, as
//! `tests/cluster/build` fetched them from the Go modules that ship them (hash pinned), each
//! installed, upgraded, tested (`helm test`), rolled back and uninstalled by real helm 4 and
//! helm 3 in a namespace the webhook reviews (deploy/'s registration, see [`e2e::webhook`]).
//!
//! For each chart and helm, every lifecycle step must succeed, and:
//! - every hook Helm created (seen by watching the hook kinds' API from before the step) was
//!   reviewed by the webhook once per creation (counted by kind, namespace and name), never
//!   denied, in the order `kubectl hooks list --event` shows;
//! - each created hook contains `helm template`'s object with the patch `kubectl hooks lint`
//!   predicts applied (no explicit value changed, every missing default added), and where the
//!   webhook writes (annotations, deadlines, securityContexts) it has exactly that;
//! - the webhook's policy findings on each hook are exactly lint's (rule, mode, field);
//! - `kubectl hooks list -o json` agrees with `helm get hooks` and `helm status -o json` (names,
//!   kinds, events, weights, delete policies, last-run phases);
//! - `kubectl hooks rerun --dry-run` and `cleanup --dry-run` name only the release's hooks and
//!   change nothing;
//! - no object of the release that is not a hook is replaced (same uids from install through
//!   the rollback), and the dry runs change no object in the namespace, of the release's
//!   cluster-scoped objects or of the chart's cluster-scoped hooks (same uid, and generation or
//!   resourceVersion).
//!
//! Values: each chart's [`Case`] says which values make its hooks run and which of the chart's
//! own admission webhooks are turned off because nothing serves them under kwok (no container
//! runs): a registered webhook nobody answers with `failurePolicy: Fail` would block the
//! objects it matches.
//!
//! The README's compatibility table ("Public charts") is checked against what the suite saw;
//! `UPDATE_GOLDEN=1` rewrites its rows.

use e2e::webhook::{LoggedViolation, Review, SharedWebhook};
use e2e::{Cluster, Helm, Run, TestNamespace, kubectl, repo_root, wait_until};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One public chart and the values the suite installs it with.
struct Case {
    /// Its directory under `$HELM_HOOKS_CLUSTER_DIR/charts/`.
    chart: &'static str,
    /// `--set` values for install, upgrade and `helm template`.
    values: &'static [&'static str],
    /// Added for the upgrade (a change Helm must roll out).
    upgrade: &'static [&'static str],
    /// The event `kubectl hooks rerun --dry-run` plans.
    rerun_event: &'static str,
    /// The chart names cluster-scoped objects without the release name: its helm 4 and
    /// helm 3 runs take turns.
    serial: bool,
}

const INGRESS_NGINX: Case = Case {
    chart: "ingress-nginx",
    values: &[
        // The admission webhook stays on: its certgen Jobs are the chart's hooks. Its
        // ValidatingWebhookConfiguration matches only Ingresses, which the suite never creates.
        "controller.admissionWebhooks.enabled=true",
        "controller.service.type=ClusterIP",
        // IngressClass is cluster-scoped: one per release (helm 4 and 3 run side by side).
        "controller.ingressClassResource.name={release}",
        "controller.ingressClassResource.controllerValue=k8s.io/{release}",
    ],
    upgrade: &["controller.replicaCount=2"],
    rerun_event: "pre-upgrade",
    serial: false,
};

const CERT_MANAGER: Case = Case {
    chart: "cert-manager",
    values: &[
        // The startupapicheck Job and its RBAC are the post-install hooks (on by default).
        "startupapicheck.enabled=true",
        // CRDs stay out (the default): cluster-scoped, shared by both helms' runs. The chart's
        // own webhook configurations match only cert-manager's resources, never created here,
        // so the webhook nobody serves under kwok blocks nothing.
        "crds.enabled=false",
        // Its leader-election Role lives in kube-system by default: keep it in the release's
        // namespace.
        "global.leaderElection.namespace={namespace}",
    ],
    upgrade: &["replicaCount=2"],
    rerun_event: "post-install",
    serial: false,
};

const KYVERNO: Case = Case {
    chart: "kyverno",
    values: &[
        // CRDs (cluster-scoped, shared by both helms' runs) stay out; the post-upgrade
        // migration hooks run without them (kwok completes the Job). Kyverno registers its
        // admission webhooks from its running controller, which never runs under kwok: the
        // chart renders none.
        "crds.install=false",
        "crds.migration.enabled=true",
        // pre-delete hooks: scale to zero, remove the webhooks.
        "webhooksCleanup.enabled=true",
        "admissionController.replicas=1",
    ],
    upgrade: &["backgroundController.replicas=2"],
    rerun_event: "test",
    serial: false,
};

const GATEKEEPER: Case = Case {
    chart: "gatekeeper",
    values: &[
        // Gatekeeper's own webhooks are off: nothing serves them under kwok, and its
        // check-ignore-label webhook (failurePolicy Fail on every Namespace) would block
        // other tests' namespaces. Its post-install probe of that webhook goes with it.
        "disableValidatingWebhook=true",
        "disableMutation=true",
        // CRD upgrade hook (pre-install, pre-upgrade) is on by default; the namespace-label
        // hooks after install and upgrade too.
        "postInstall.labelNamespace.enabled=true",
        "postUpgrade.labelNamespace.enabled=true",
    ],
    upgrade: &["replicas=2"],
    rerun_event: "pre-upgrade",
    // gatekeeper-admin-upgrade-crds, gatekeeper-manager-role, its CRDs: fixed names.
    serial: true,
};

/// The webhook of this test binary.
fn webhook() -> &'static SharedWebhook {
    SharedWebhook::get()
}

fn plugin() -> Run {
    Run::new(e2e::workspace_binary("kubectl-hooks", "KUBECTL_HOOKS_BIN"))
}

fn chart_dir(case: &Case) -> PathBuf {
    let dir = Cluster::get().dir().join("charts").join(case.chart);
    assert!(
        dir.join("Chart.yaml").is_file(),
        "{}: no chart; tests/cluster/build fetches it and tests/cluster/with-cluster links it",
        dir.display()
    );
    dir
}

fn set_args(case: &Case, release: &str, namespace: &str, upgrade: bool) -> Vec<String> {
    let mut args = Vec::new();
    let extra: &[&str] = if upgrade { case.upgrade } else { &[] };
    for v in case.values.iter().chain(extra) {
        args.push("--set".to_string());
        args.push(
            v.replace("{release}", release)
                .replace("{namespace}", namespace),
        );
    }
    args
}

/// Cluster-scoped kinds these charts render.
const CLUSTER_SCOPED: &[&str] = &[
    "ClusterRole",
    "ClusterRoleBinding",
    "IngressClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "CustomResourceDefinition",
    "PriorityClass",
    "APIService",
    "Namespace",
];

/// `apiVersion` prefix path, plural, namespaced: where to list and watch a hook kind.
fn resource(kind: &str) -> (&'static str, &'static str, bool) {
    match kind {
        "ServiceAccount" => ("/api/v1", "serviceaccounts", true),
        "ConfigMap" => ("/api/v1", "configmaps", true),
        "Secret" => ("/api/v1", "secrets", true),
        "Service" => ("/api/v1", "services", true),
        "Pod" => ("/api/v1", "pods", true),
        "Job" => ("/apis/batch/v1", "jobs", true),
        "Role" => ("/apis/rbac.authorization.k8s.io/v1", "roles", true),
        "RoleBinding" => ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", true),
        "ClusterRole" => ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", false),
        "ClusterRoleBinding" => (
            "/apis/rbac.authorization.k8s.io/v1",
            "clusterrolebindings",
            false,
        ),
        "NetworkPolicy" => ("/apis/networking.k8s.io/v1", "networkpolicies", true),
        "CustomResourceDefinition" => (
            "/apis/apiextensions.k8s.io/v1",
            "customresourcedefinitions",
            false,
        ),
        other => panic!("public_charts.rs: add the API path of hook kind {other} to resource()"),
    }
}

fn collection_path(kind: &str, ns: &str) -> String {
    let (prefix, plural, namespaced) = resource(kind);
    if namespaced {
        format!("{prefix}/namespaces/{ns}/{plural}")
    } else {
        format!("{prefix}/{plural}")
    }
}

/// Objects of a YAML stream (`helm template`, `helm get hooks|manifest`).
fn parse_stream(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let value: Value = match serde::Deserialize::deserialize(doc) {
            Ok(v) => v,
            Err(e) => panic!("YAML stream: {e}\n{text}"),
        };
        if value.is_object() {
            out.push(value);
        }
    }
    out
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

fn is_hook(object: &Value) -> bool {
    annotation(object, "helm.sh/hook").is_some()
}

fn kind_of(object: &Value) -> &str {
    object["kind"].as_str().unwrap_or_default()
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

/// A hook's events as Helm parses them (`test-success` is `test`).
fn events_of(object: &Value) -> Vec<String> {
    annotation(object, "helm.sh/hook")
        .unwrap_or_default()
        .split(',')
        .map(|e| match e.trim() {
            "test-success" => "test".to_string(),
            e => e.to_string(),
        })
        .collect()
}

/// What `helm template` renders for a step, with lint's findings and patch per hook.
struct Rendered {
    hooks: Vec<Value>,
    /// (kind, name) -> lint's object report.
    lint: BTreeMap<(String, String), Value>,
}

impl Rendered {
    fn new(case: &Case, helm: Helm, ns: &TestNamespace, release: &str, upgrade: bool) -> Rendered {
        let mut run = ns
            .helm(helm)
            .args(["template", release])
            .arg(chart_dir(case))
            .args(set_args(case, release, ns.name(), upgrade));
        if upgrade {
            run = run.arg("--is-upgrade");
        }
        let text = run.success().stdout;
        let hooks: Vec<Value> = parse_stream(&text).into_iter().filter(is_hook).collect();
        let out = plugin()
            .args(["lint", "-o", "json", "-f", "-"])
            .stdin(text.into_bytes())
            .output();
        assert!(
            out.code == Some(0),
            "lint predicts the webhook denies nothing: {out}"
        );
        let lint = out.json()["objects"]
            .as_array()
            .expect("lint objects")
            .iter()
            .map(|o| {
                let key = (
                    o["kind"].as_str().unwrap().to_string(),
                    o["name"].as_str().unwrap().to_string(),
                );
                (key, o.clone())
            })
            .collect();
        Rendered { hooks, lint }
    }

    fn hook(&self, kind: &str, name: &str) -> Option<&Value> {
        self.hooks
            .iter()
            .find(|h| kind_of(h) == kind && name_of(h) == name)
    }

    /// How many times Helm creates each hook (kind, name) for these events.
    fn expected_creations(&self, events: &[&str]) -> BTreeMap<(String, String), usize> {
        let mut out = BTreeMap::new();
        for h in &self.hooks {
            let n = events_of(h)
                .iter()
                .filter(|e| events.contains(&e.as_str()))
                .count();
            if n > 0 {
                *out.entry((kind_of(h).to_string(), name_of(h).to_string()))
                    .or_default() += n;
            }
        }
        out
    }
}

/// Watches the hook kinds' collections from a resource version taken before a step, so every
/// creation during the step is seen, with the object as the apiserver stored it (after the
/// webhook's patch).
struct Watch {
    children: Vec<Child>,
    files: Vec<PathBuf>,
}

impl Watch {
    fn start(ns: &TestNamespace, kinds: &BTreeSet<String>, dir: &Path, step: &str) -> Watch {
        let mut children = Vec::new();
        let mut files = Vec::new();
        for kind in kinds {
            let path = collection_path(kind, ns.name());
            let list = kubectl()
                .args(["get", "--raw", &format!("{path}?limit=1")])
                .success()
                .json();
            let rv = list["metadata"]["resourceVersion"].as_str().unwrap();
            let file = dir.join(format!("{step}-{kind}.jsonl"));
            let child = std::process::Command::new("kubectl")
                .args([
                    "get",
                    "--raw",
                    &format!("{path}?watch=1&resourceVersion={rv}"),
                ])
                .stdout(File::create(&file).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .expect("kubectl watch");
            children.push(child);
            files.push(file);
        }
        Watch { children, files }
    }

    /// Objects created since the start, in the order of each kind's watch (deduplicated by uid).
    fn created(&self) -> Vec<Value> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for file in &self.files {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            for line in text.lines() {
                let Ok(event) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                if event["type"] != "ADDED" {
                    continue;
                }
                let object = &event["object"];
                let uid = object["metadata"]["uid"].as_str().unwrap_or_default();
                if seen.insert(uid.to_string()) {
                    out.push(object.clone());
                }
            }
        }
        out
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Is `part` contained in `whole`: every key of every object present with an equal value,
/// arrays of the same length and element-wise contained. A `null` in `part` (a value the
/// chart left empty, `imagePullPolicy:`) is unset: the apiserver may default it; an empty map
/// or list may be dropped. Returns the first difference.
fn contained(part: &Value, whole: &Value, path: &str) -> Result<(), String> {
    match (part, whole) {
        (Value::Null, _) => Ok(()),
        (Value::Object(p), Value::Object(w)) => {
            for (k, v) in p {
                let sub = format!("{path}.{k}");
                match w.get(k) {
                    Some(wv) => contained(v, wv, &sub)?,
                    None if v.is_null() || is_empty(v) => {}
                    None => return Err(format!("{sub}: missing (expected {v})")),
                }
            }
            Ok(())
        }
        (Value::Array(p), Value::Array(w)) => {
            if p.len() != w.len() {
                return Err(format!("{path}: {} items, expected {}", w.len(), p.len()));
            }
            for (i, (pv, wv)) in p.iter().zip(w).enumerate() {
                contained(pv, wv, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ if part == whole => Ok(()),
        _ => Err(format!("{path}: {whole}, expected {part}")),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The fields the webhook's defaults write, which the API server leaves alone on create:
/// annotations, `activeDeadlineSeconds` and `ttlSecondsAfterFinished`, the pod's and each
/// container's `securityContext` (Jobs and Pods; the annotations only for other kinds).
/// `null` and empty values count as absent.
fn webhook_fields(object: &Value) -> Value {
    fn present(v: Option<&Value>) -> Value {
        match v {
            None | Some(Value::Null) => Value::Null,
            Some(v) if is_empty(v) => Value::Null,
            Some(v) => v.clone(),
        }
    }
    let (job_spec, pod_spec) = match kind_of(object) {
        "Job" => (
            object.pointer("/spec"),
            object.pointer("/spec/template/spec"),
        ),
        "Pod" => (object.pointer("/spec"), object.pointer("/spec")),
        _ => (None, None),
    };
    let containers: Vec<Value> = ["containers", "initContainers"]
        .iter()
        .flat_map(|list| {
            pod_spec
                .and_then(|p| p[list].as_array())
                .into_iter()
                .flatten()
                .map(|c| json!([c["name"], present(c.get("securityContext"))]))
        })
        .collect();
    json!({
        "annotations": present(object.pointer("/metadata/annotations")),
        "activeDeadlineSeconds": present(job_spec.and_then(|s| s.get("activeDeadlineSeconds"))),
        "ttlSecondsAfterFinished": present(job_spec.and_then(|s| s.get("ttlSecondsAfterFinished"))),
        "podSecurityContext": present(pod_spec.and_then(|s| s.get("securityContext"))),
        "containers": containers,
    })
}

/// The template object with lint's predicted patch applied: what the apiserver must store.
fn predicted(template: &Value, lint: Option<&Value>) -> Value {
    let mut object = template.clone();
    if let Some(ops) = lint.map(|l| l["patch"].clone()) {
        let patch: json_patch::Patch = serde_json::from_value(ops.clone())
            .unwrap_or_else(|e| panic!("lint's patch is RFC 6902: {e}: {ops}"));
        json_patch::patch(&mut object, &patch)
            .unwrap_or_else(|e| panic!("lint's patch applies to the template: {e}: {ops}"));
    }
    object
}

/// Every policy finding lint makes on a hook, as the webhook logs them: (rule, mode, field).
fn lint_findings(lint: Option<&Value>) -> BTreeSet<(String, String, String)> {
    lint.and_then(|l| l["findings"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some((
                f["rule"].as_str()?.to_string(),
                f["mode"].as_str()?.to_string(),
                f["field"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// A short name for one patch operation of the webhook's, for the README table: `delete
/// policy`, `activeDeadlineSeconds`, `pod securityContext.runAsUser`, `container
/// securityContext.capabilities.drop`; `None` for the empty objects a patch adds to hold
/// fields.
fn default_label(op: &Value) -> Option<String> {
    if op["value"].as_object().is_some_and(|o| o.is_empty()) {
        return None;
    }
    let path = op["path"].as_str()?.replace("~1", "/");
    if path.ends_with("helm.sh/hook-delete-policy") {
        return Some("delete policy".into());
    }
    let segments: Vec<&str> = path
        .trim_start_matches("/spec/template")
        .trim_start_matches("/spec")
        .split('/')
        .filter(|s| !s.is_empty() && s.parse::<u32>().is_err())
        .collect();
    Some(match segments.as_slice() {
        ["containers" | "initContainers", rest @ ..] => format!("container {}", rest.join(".")),
        [field] => field.to_string(),
        rest => format!("pod {}", rest.join(".")),
    })
}

/// What one chart did under one helm: the README table row's content.
#[derive(Default)]
struct Observed {
    steps: Vec<String>,
    /// Default ([`default_label`]) -> how many hook creations got it.
    injected: BTreeMap<String, usize>,
    /// rule:mode -> how many findings on created hooks.
    findings: BTreeMap<String, usize>,
    hooks_created: usize,
}

/// The state of one lifecycle run.
struct Lifecycle<'a> {
    case: &'a Case,
    helm: Helm,
    ns: TestNamespace,
    release: String,
    dir: PathBuf,
    kinds: BTreeSet<String>,
    observed: Observed,
    /// Names of every hook of the chart, install and upgrade (cluster-scoped ones are matched
    /// by name in the webhook's log).
    hook_names: BTreeSet<String>,
    /// Webhook reviews already accounted for by earlier steps (by kind/ns/name).
    reviewed: BTreeMap<(String, String, String), usize>,
}

impl Lifecycle<'_> {
    fn reviews_by_object(&self, endpoint: &str) -> BTreeMap<(String, String, String), usize> {
        let mut out = BTreeMap::new();
        let names = &self.hook_names;
        for r in webhook().all_reviews() {
            let Review {
                endpoint: e,
                kind,
                namespace,
                name,
                dry_run,
                ..
            } = r;
            if e != endpoint || dry_run {
                continue;
            }
            if namespace == self.ns.name() || (namespace.is_empty() && names.contains(&name)) {
                *out.entry((kind, namespace, name)).or_default() += 1;
            }
        }
        out
    }

    /// Runs one helm step under a watch and checks every hook it created.
    fn step(&mut self, label: &str, events: &[&str], rendered: &Rendered, args: &[String]) {
        let started = Instant::now();
        let watch = Watch::start(&self.ns, &self.kinds, &self.dir, label);
        let first_review = webhook().all_reviews().len();
        // Helm's order for these events, from `kubectl hooks list --event` (before an
        // uninstall, which removes the release; after the other steps, which make it).
        let uninstall = events.contains(&"pre-delete");
        let mut order = if uninstall {
            self.hooks_order(events)
        } else {
            Vec::new()
        };
        self.ns.helm(self.helm).args(args).success();
        if !uninstall {
            order = self.hooks_order(events);
        }
        let expected = rendered.expected_creations(events);
        let total: usize = expected.values().sum();
        let mut created = Vec::new();
        wait_until(
            Duration::from_secs(20),
            &format!("{label}: the watch to see {total} hook creations"),
            || {
                created = watch
                    .created()
                    .into_iter()
                    .filter(is_hook)
                    .filter(|o| rendered.hook(kind_of(o), name_of(o)).is_some())
                    .collect();
                created.len() >= total
            },
        );
        drop(watch);
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for o in &created {
            *seen
                .entry((kind_of(o).to_string(), name_of(o).to_string()))
                .or_default() += 1;
        }
        assert_eq!(
            seen, expected,
            "{} {}: {label}: the hooks Helm created (kind, name) -> count",
            self.case.chart, self.helm
        );

        // The hooks were created in the order `kubectl hooks list --event` shows (the
        // webhook's log has the creations in order, across kinds).
        let created_order: Vec<(String, String)> = webhook().all_reviews()[first_review..]
            .iter()
            .filter(|r| r.endpoint == "mutate" && !r.dry_run)
            .filter(|r| {
                r.namespace == self.ns.name()
                    || (r.namespace.is_empty() && self.hook_names.contains(&r.name))
            })
            .map(|r| (r.kind.clone(), r.name.clone()))
            .collect();
        assert_eq!(
            created_order, order,
            "{} {}: {label}: creation order (left) vs kubectl hooks list --event (right)",
            self.case.chart, self.helm
        );

        // Every creation reviewed by both endpoints, never denied.
        for endpoint in ["mutate", "validate"] {
            let now = self.reviews_by_object(endpoint);
            let mut delta: BTreeMap<(String, String), usize> = BTreeMap::new();
            for (key, n) in &now {
                let before = self
                    .reviewed
                    .get(&(
                        format!("{endpoint}/{}", key.0),
                        key.1.clone(),
                        key.2.clone(),
                    ))
                    .copied()
                    .unwrap_or(0);
                if *n > before {
                    *delta.entry((key.0.clone(), key.2.clone())).or_default() += n - before;
                }
            }
            assert_eq!(
                delta, expected,
                "{} {}: {label}: {endpoint} reviews per hook (kind, name) -> count",
                self.case.chart, self.helm
            );
            for (key, n) in now {
                self.reviewed
                    .insert((format!("{endpoint}/{}", key.0), key.1, key.2), n);
            }
        }
        let denied: Vec<Review> = webhook()
            .all_reviews()
            .into_iter()
            .filter(|r| r.namespace == self.ns.name() && r.decision == "denied")
            .collect();
        assert!(denied.is_empty(), "{label}: denied: {denied:#?}");

        // Each created hook is the template's object with exactly lint's patch applied.
        let violations = webhook().violations();
        for o in &created {
            let (kind, name) = (kind_of(o), name_of(o));
            let template = rendered.hook(kind, name).unwrap();
            let lint = rendered.lint.get(&(kind.to_string(), name.to_string()));
            let mut expected = predicted(template, lint);
            // helm sets the namespace of namespaced objects it creates.
            if let Some(m) = expected["metadata"].as_object_mut() {
                m.remove("namespace");
            }
            if let Err(diff) = contained(&expected, o, "") {
                panic!(
                    "{} {}: {label}: {kind}/{name} as created differs from helm template + \
                     lint's patch: {diff}\nlint: {lint:#?}\ncreated: {o:#}",
                    self.case.chart, self.helm
                );
            }
            // Exactly: where the webhook writes (fields the API server does not default),
            // the created object has what the template and lint's patch say, nothing more.
            assert_eq!(
                webhook_fields(o),
                webhook_fields(&expected),
                "{} {}: {label}: {kind}/{name}: the fields the webhook writes, as created \
                 (left) vs helm template + lint's patch (right)",
                self.case.chart,
                self.helm
            );
            for op in lint
                .and_then(|l| l["patch"].as_array())
                .into_iter()
                .flatten()
            {
                if let Some(label) = default_label(op) {
                    *self.observed.injected.entry(label).or_default() += 1;
                }
            }
            // The webhook's findings on this hook are lint's.
            let logged: BTreeSet<(String, String, String)> = violations
                .iter()
                .filter(|v| {
                    v.kind == kind
                        && v.name == name
                        && (v.namespace == self.ns.name() || v.namespace.is_empty())
                })
                .map(|v: &LoggedViolation| (v.rule.clone(), v.mode.clone(), v.field.clone()))
                .collect();
            let predicted_findings = lint_findings(lint);
            assert_eq!(
                logged, predicted_findings,
                "{} {}: {label}: {kind}/{name}: webhook findings (left) vs lint's (right)",
                self.case.chart, self.helm
            );
            for (rule, mode, _) in predicted_findings {
                *self
                    .observed
                    .findings
                    .entry(format!("{rule}:{mode}"))
                    .or_default() += 1;
            }
        }
        self.observed.hooks_created += created.len();
        self.observed.steps.push(label.to_string());
        eprintln!(
            "{} {}: {label}: {} hooks created and checked in {:?}",
            self.case.chart,
            self.helm,
            created.len(),
            started.elapsed()
        );
    }

    /// (kind, name) of the hooks of `events`, event after event, in the order `kubectl hooks
    /// list --event` prints them (Helm's execution order).
    fn hooks_order(&self, events: &[&str]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for event in events {
            let items = plugin()
                .args([
                    "-n",
                    self.ns.name(),
                    "list",
                    &self.release,
                    "--event",
                    event,
                ])
                .args(["-o", "json"])
                .success()
                .json();
            for item in items["items"].as_array().into_iter().flatten() {
                out.push((
                    item["kind"].as_str().unwrap_or_default().to_string(),
                    item["name"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        out
    }

    fn status(&self) -> Value {
        self.ns
            .helm(self.helm)
            .args(["status", &self.release, "-o", "json"])
            .success()
            .json()
    }

    /// uid of every object of the release's manifest (hooks are not in it).
    fn manifest_uids(&self) -> BTreeMap<String, String> {
        let manifest = self
            .ns
            .helm(self.helm)
            .args(["get", "manifest", &self.release])
            .success()
            .stdout;
        let refs: Vec<String> = parse_stream(&manifest)
            .iter()
            .map(|o| format!("{}/{}", kind_of(o), name_of(o)))
            .collect();
        let list = self
            .ns
            .kubectl()
            .args(["get", "-o", "json"])
            .args(&refs)
            .success()
            .json();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    format!("{}/{}", kind_of(o), name_of(o)),
                    o["metadata"]["uid"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// uid and generation (resourceVersion where there is none) of every object in the
    /// namespace (common kinds and the hook kinds) and of the release's cluster-scoped
    /// objects. Pods that are not hooks and ReplicaSets are left out: controllers change them on their own (a
    /// rollout settling after the rollback); generation rather than resourceVersion for the
    /// same reason (status updates).
    fn snapshot(&self) -> BTreeMap<String, (String, String)> {
        let mut kinds: BTreeSet<String> = [
            "serviceaccounts",
            "configmaps",
            "secrets",
            "services",
            "deployments",
            "daemonsets",
            "statefulsets",
            "jobs",
            "roles",
            "rolebindings",
            "networkpolicies",
            "poddisruptionbudgets",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        kinds.extend(
            self.kinds
                .iter()
                .filter(|k| resource(k).2)
                .map(|k| resource(k).1.to_string()),
        );
        let list = self
            .ns
            .kubectl()
            .args([
                "get",
                "-o",
                "json",
                &kinds.into_iter().collect::<Vec<_>>().join(","),
            ])
            .success()
            .json();
        let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut add = |o: &Value| {
            out.insert(
                format!("{}/{}", kind_of(o), name_of(o)),
                (
                    o["metadata"]["uid"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    match &o["metadata"]["generation"] {
                        Value::Number(g) => format!("generation {g}"),
                        _ => format!(
                            "resourceVersion {}",
                            o["metadata"]["resourceVersion"]
                                .as_str()
                                .unwrap_or_default()
                        ),
                    },
                ),
            );
        };
        for o in list["items"].as_array().unwrap() {
            // Hook Pods only: a Deployment's Pods are its controller's business.
            if kind_of(o) != "Pod" || is_hook(o) {
                add(o);
            }
        }
        let manifest = self
            .ns
            .helm(self.helm)
            .args([
                "get",
                "all",
                &self.release,
                "--template",
                "{{.Release.Manifest}}",
            ])
            .output();
        if manifest.ok() {
            for o in parse_stream(&manifest.stdout) {
                if CLUSTER_SCOPED.contains(&kind_of(&o)) {
                    let got = self
                        .ns
                        .kubectl()
                        .args(["get", kind_of(&o), name_of(&o), "-o", "json"])
                        .output();
                    if got.ok() {
                        add(&got.json());
                    }
                }
            }
        }
        // Cluster-scoped hooks of the chart, by name.
        for kind in self.kinds.iter().filter(|k| !resource(k).2) {
            let list = kubectl()
                .args(["get", resource(kind).1, "-o", "json"])
                .success()
                .json();
            for o in list["items"].as_array().unwrap() {
                if self.hook_names.contains(name_of(o)) {
                    add(o);
                }
            }
        }
        out
    }

    /// `kubectl hooks list -o json` against `helm get hooks` and `helm status -o json`.
    fn list_agrees_with_helm(&self) {
        let items = plugin()
            .args(["-n", self.ns.name(), "list", &self.release, "-o", "json"])
            .success()
            .json()["items"]
            .as_array()
            .unwrap()
            .clone();
        let status = self.status();
        let hooks = status["hooks"].as_array().cloned().unwrap_or_default();
        let got_hooks = parse_stream(
            &self
                .ns
                .helm(self.helm)
                .args(["get", "hooks", &self.release])
                .success()
                .stdout,
        );
        let mut from_get: Vec<(String, String)> = got_hooks
            .iter()
            .map(|o| (kind_of(o).to_string(), name_of(o).to_string()))
            .collect();
        from_get.sort();
        let mut from_status: Vec<(String, String)> = hooks
            .iter()
            .map(|h| {
                (
                    h["kind"].as_str().unwrap().to_string(),
                    h["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        from_status.sort();
        let mut ours: Vec<(String, String)> = items
            .iter()
            .map(|i| {
                (
                    i["kind"].as_str().unwrap().to_string(),
                    i["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        ours.sort();
        let label = format!("{} {}", self.case.chart, self.helm);
        assert_eq!(ours, from_get, "{label}: list vs helm get hooks");
        assert_eq!(ours, from_status, "{label}: list vs helm status");
        for item in &items {
            let h = hooks
                .iter()
                .find(|h| h["kind"] == item["kind"] && h["name"] == item["name"])
                .unwrap();
            let name = &item["name"];
            assert_eq!(item["events"], h["events"], "{label}: events of {name}");
            // Helm's JSON leaves a zero weight out.
            let weight = h["weight"].as_i64().unwrap_or(0);
            assert_eq!(item["weight"], weight, "{label}: weight of {name}");
            assert_eq!(
                item["deletePolicies"],
                h.get("delete_policies").cloned().unwrap_or(json!([])),
                "{label}: delete policies of {name}"
            );
            let phase = match h["last_run"]["phase"].as_str().unwrap_or("") {
                "" => "Unknown",
                p => p,
            };
            assert_eq!(item["lastRun"]["phase"], phase, "{label}: phase of {name}");
            assert_eq!(item["revision"], status["version"], "{label}: {name}");
        }
    }

    /// `rerun --dry-run` and `cleanup --dry-run` name only hooks and change nothing.
    fn dry_runs_plan_only_hooks(&self) {
        let hook_names = &self.hook_names;
        let before = self.snapshot();
        let label = format!("{} {}", self.case.chart, self.helm);
        let rerun = plugin()
            .args(["-n", self.ns.name(), "rerun", &self.release])
            .args(["--event", self.case.rerun_event, "--dry-run"])
            .output();
        assert_eq!(rerun.code, Some(0), "{label}: rerun --dry-run: {rerun}");
        assert!(
            rerun.stdout.contains("Dry run: nothing was changed."),
            "{rerun}"
        );
        let cleanup = plugin()
            .args(["-n", self.ns.name(), "cleanup", &self.release, "--dry-run"])
            .output();
        assert_eq!(
            cleanup.code,
            Some(0),
            "{label}: cleanup --dry-run: {cleanup}"
        );
        for line in cleanup.stdout.lines() {
            if let Some(object) = line.strip_suffix(" deleted (dry run)") {
                let name = object.rsplit('/').next().unwrap_or_default();
                assert!(
                    hook_names.contains(name),
                    "{label}: cleanup --dry-run plans a non-hook: {line}"
                );
            }
        }
        // The plan's steps (`STEP HOOK …` rows): exactly the hooks of the event, in order.
        let planned: Vec<String> = rerun
            .stdout
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|w| w.parse::<u32>().is_ok())
            })
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|o| o.rsplit('/').next().unwrap_or_default().to_string())
            .collect();
        let mut expected: Vec<String> = self.status()["hooks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| {
                h["events"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e == self.case.rerun_event))
            })
            .map(|h| h["name"].as_str().unwrap_or_default().to_string())
            .collect();
        expected.sort();
        let mut sorted = planned.clone();
        sorted.sort();
        assert!(!planned.is_empty(), "{label}: rerun plans nothing: {rerun}");
        assert_eq!(
            sorted, expected,
            "{label}: rerun --dry-run plans the event's hooks: {rerun}"
        );
        assert!(planned.iter().all(|n| hook_names.contains(n)), "{rerun}");
        let after = self.snapshot();
        let changed: Vec<String> = before
            .keys()
            .chain(after.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|k| before.get(*k) != after.get(*k))
            .map(|k| format!("{k}: {:?} -> {:?}", before.get(k), after.get(k)))
            .collect();
        assert!(
            changed.is_empty(),
            "{label}: the dry runs changed objects:\n{}",
            changed.join("\n")
        );
    }
}

impl Drop for Lifecycle<'_> {
    /// A failed run uninstalls its release, so the chart's cluster-scoped objects do not make
    /// the other helm's run fail too (the namespace goes with [`TestNamespace`]).
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self
                .ns
                .helm(self.helm)
                .args(["uninstall", &self.release, "--no-hooks", "--timeout", "60s"])
                .output();
        }
    }
}

fn lifecycle(case: &Case, helm: Helm) -> Observed {
    let short: String = case
        .chart
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(6)
        .collect();
    let ns = TestNamespace::reviewed(&format!("pc-{short}-{helm}"));
    let release = format!("{short}{}", helm.major());
    webhook();
    let dir = std::env::temp_dir().join(format!("helm-hooks-pc-{}", ns.name()));
    std::fs::create_dir_all(&dir).unwrap();
    let install = Rendered::new(case, helm, &ns, &release, false);
    let upgrade = Rendered::new(case, helm, &ns, &release, true);
    let kinds: BTreeSet<String> = install
        .hooks
        .iter()
        .chain(&upgrade.hooks)
        .map(|h| kind_of(h).to_string())
        .collect();
    let mut run = Lifecycle {
        case,
        helm,
        ns,
        release: release.clone(),
        dir: dir.clone(),
        kinds,
        hook_names: install
            .hooks
            .iter()
            .chain(&upgrade.hooks)
            .map(|h| name_of(h).to_string())
            .collect(),
        observed: Observed::default(),
        reviewed: BTreeMap::new(),
    };
    // Reviews made before this run (the other helm's run of a chart with fixed cluster-scoped
    // names) are not this run's.
    for endpoint in ["mutate", "validate"] {
        for (key, n) in run.reviews_by_object(endpoint) {
            run.reviewed
                .insert((format!("{endpoint}/{}", key.0), key.1, key.2), n);
        }
    }
    let chart = chart_dir(case).display().to_string();
    let timeout = ["--timeout".to_string(), "120s".to_string()];
    let with = |v: Vec<&str>, more: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(str::to_string)
            .chain(more)
            .chain(timeout.clone())
            .collect()
    };

    run.step(
        "install",
        &["pre-install", "post-install"],
        &install,
        &with(
            vec!["install", &release, &chart],
            set_args(case, &release, run.ns.name(), false),
        ),
    );
    assert_eq!(run.status()["info"]["status"], "deployed");
    let uids = run.manifest_uids();

    run.step(
        "upgrade",
        &["pre-upgrade", "post-upgrade"],
        &upgrade,
        &with(
            vec!["upgrade", &release, &chart],
            set_args(case, &release, run.ns.name(), true),
        ),
    );
    assert_eq!(run.status()["info"]["status"], "deployed");
    assert_eq!(run.status()["version"], 2);

    run.step(
        "test",
        &["test"],
        &upgrade,
        &with(vec!["test", &release], vec![]),
    );

    run.step(
        "rollback",
        &["pre-rollback", "post-rollback"],
        &install,
        &with(vec!["rollback", &release, "1"], vec![]),
    );
    let status = run.status();
    assert_eq!(status["info"]["status"], "deployed");
    assert_eq!(status["version"], 3);

    // No object of the release was replaced from install to here.
    let after = run.manifest_uids();
    for (object, uid) in &uids {
        if let Some(now) = after.get(object) {
            assert_eq!(now, uid, "{} {helm}: {object} was replaced", case.chart);
        }
    }
    run.list_agrees_with_helm();
    run.dry_runs_plan_only_hooks();

    run.step(
        "uninstall",
        &["pre-delete", "post-delete"],
        &install,
        &with(vec!["uninstall", &release], vec![]),
    );
    let gone = run.ns.helm(helm).args(["status", &release]).output();
    assert!(
        !gone.ok(),
        "{} {helm}: release still there: {gone}",
        case.chart
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::mem::take(&mut run.observed)
}

// ---- README table ----

const TABLE_START: &str =
    "<!-- public-charts table: regenerated by e2e/tests/public_charts.rs (UPDATE_GOLDEN=1) -->";
const TABLE_END: &str = "<!-- end of public-charts table -->";

fn chart_version(case: &Case) -> String {
    let text = std::fs::read_to_string(chart_dir(case).join("Chart.yaml")).unwrap();
    let chart: Value = serde_yaml_ng::from_str(&text).unwrap();
    format!(
        "{} (app {})",
        chart["version"].as_str().unwrap_or("?"),
        chart["appVersion"].as_str().unwrap_or("?")
    )
}

fn helm_version(helm: Helm) -> String {
    e2e::helm(helm)
        .args(["version", "--template", "{{.Version}}"])
        .success()
        .stdout
        .trim()
        .to_string()
}

fn row(case: &Case, helm: Helm, observed: &Observed) -> String {
    let list = |m: &BTreeMap<String, usize>| {
        if m.is_empty() {
            "none".to_string()
        } else {
            m.iter()
                .map(|(k, n)| format!("`{k}` ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} |",
        case.chart,
        chart_version(case),
        helm_version(helm),
        observed.steps.join(", "),
        observed.hooks_created,
        list(&observed.injected),
        list(&observed.findings)
    )
}

/// Checks (or, with `UPDATE_GOLDEN=1`, rewrites) this chart's row for this helm in the README.
fn check_table_row(case: &Case, helm: Helm, observed: &Observed) {
    static README: Mutex<()> = Mutex::new(());
    let _lock = README.lock().unwrap_or_else(|e| e.into_inner());
    let path = repo_root().join("README.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = text
        .split_once(TABLE_START)
        .expect("README.md has the public-charts table markers");
    let (table, tail) = rest.split_once(TABLE_END).expect("table end marker");
    let want = row(case, helm, observed);
    let key = format!(
        "| {} | {} | {} |",
        case.chart,
        chart_version(case),
        helm_version(helm)
    );
    let mut rows: Vec<String> = table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| chart ") && !l.starts_with("|--"))
        .map(str::to_string)
        .collect();
    let current = rows.iter().find(|r| r.starts_with(&key)).cloned();
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        rows.retain(|r| {
            !r.starts_with(&format!("| {} |", case.chart))
                || !r.contains(&format!("| {} |", helm_version(helm)))
        });
        rows.push(want);
        rows.sort();
        let new = format!(
            "{head}{TABLE_START}\n| chart | version | helm | steps passed | hooks created | defaults injected (hook creations) | findings (rule:mode, hook creations) |\n|---|---|---|---|---|---|---|\n{}\n{TABLE_END}{tail}",
            rows.join("\n")
        );
        std::fs::write(&path, new).unwrap();
        return;
    }
    assert_eq!(
        current.as_deref(),
        Some(want.as_str()),
        "README.md's public-charts table is stale for {} under {helm}: run \
         `UPDATE_GOLDEN=1 tests/cluster/with-cluster cargo test -p e2e --test public_charts` and review the diff",
        case.chart
    );
}

fn check(case: &Case, helm: Helm) {
    static SERIAL: Mutex<()> = Mutex::new(());
    let _turn = case
        .serial
        .then(|| SERIAL.lock().unwrap_or_else(|e| e.into_inner()));
    let observed = lifecycle(case, helm);
    check_table_row(case, helm, &observed);
}

#[test]
fn ingress_nginx_helm4() {
    check(&INGRESS_NGINX, Helm::V4);
}

#[test]
fn ingress_nginx_helm3() {
    check(&INGRESS_NGINX, Helm::V3);
}

#[test]
fn cert_manager_helm4() {
    check(&CERT_MANAGER, Helm::V4);
}

#[test]
fn cert_manager_helm3() {
    check(&CERT_MANAGER, Helm::V3);
}

#[test]
fn kyverno_helm4() {
    check(&KYVERNO, Helm::V4);
}

#[test]
fn kyverno_helm3() {
    check(&KYVERNO, Helm::V3);
}

#[test]
fn gatekeeper_helm4() {
    check(&GATEKEEPER, Helm::V4);
}

#[test]
fn gatekeeper_helm3() {
    check(&GATEKEEPER, Helm::V3);
}
