//! The one-call registration (`deploy/components/one-call`) against the real control plane:
//! the mutating webhook alone, on `/admit`, injects the defaults, denies and warns, and the
//! apiserver calls it again (`reinvocationPolicy: IfNeeded`) when a later mutation turns an
//! admitted hook into one the policy denies.
//!
//! A test binary of its own: the registration is cluster-wide and a test binary registers the
//! shared webhook one way only (see `e2e::webhook`).

use e2e::webhook::{Registration, webhook_registered_as};
use e2e::{Helm, Output, TestNamespace, chart, kubectl, wait_until};
use serde_json::{Value, json};
use std::time::Duration;

fn hook_job(name: &str, containers: Value, labels: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": name, "labels": labels,
                        "annotations": {"helm.sh/hook": "pre-install"}},
           "spec": {"backoffLimit": 0,
                    "template": {"spec": {"restartPolicy": "Never", "containers": containers}}}})
}

/// One container with a pinned image and nothing the policy objects to.
fn safe_containers() -> Value {
    json!([{"name": "main", "image": "registry.example.invalid/tool:1.0.0"}])
}

fn create(ns: &TestNamespace, object: &Value, dry_run: bool) -> Output {
    let mut run = ns.kubectl().arg("create");
    if dry_run {
        run = run.args(["--dry-run=server", "-o", "json"]);
    }
    run.args(["-f", "-"]).stdin(object.to_string()).output()
}

/// Defaults, denials and warnings come from the one `/admit` call; nothing calls `/validate`.
#[test]
fn one_call_injects_the_defaults_denies_and_warns() {
    let ns = TestNamespace::reviewed("one-call");
    let webhook = webhook_registered_as(Registration::OneCall, &ns);

    let plain = hook_job("plain", safe_containers(), json!({}));
    let out = create(&ns, &plain, false);
    assert!(out.ok(), "{out}");
    let live = ns.get_json("job", "plain");
    assert_eq!(
        live["metadata"]["annotations"]["helm.sh/hook-delete-policy"],
        "before-hook-creation,hook-succeeded",
        "{live:#}"
    );
    assert!(live["spec"]["activeDeadlineSeconds"].is_u64(), "{live:#}");
    assert_eq!(
        live["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"], true,
        "{live:#}"
    );

    let privileged = hook_job(
        "direct",
        json!([{"name": "main", "image": "registry.example.invalid/tool:1.0.0",
                "securityContext": {"privileged": true}}]),
        json!({}),
    );
    for dry_run in [false, true] {
        let out = create(&ns, &privileged, dry_run);
        assert!(!out.ok(), "{out}");
        assert!(
            out.stderr.contains(
                "denied the request: helm-hooks policy denied this hook: privileged: Job/direct"
            ),
            "{out}"
        );
    }

    let latest = hook_job(
        "latest",
        json!([{"name": "main", "image": "busybox"}]),
        json!({}),
    );
    let out = create(&ns, &latest, false);
    assert!(out.ok(), "{out}");
    assert!(
        out.stderr.contains(
            "Warning: image-tag: Job/latest: spec.template.spec.containers[0].image: busybox has no tag"
        ),
        "{out}"
    );

    // A real helm install of a chart whose hook is privileged fails on the same denial.
    let out = ns
        .helm(Helm::V4)
        .args(["install", "bad"])
        .arg(chart("webhook-unsafe"))
        .args(["--set", "unsafe=privileged", "--timeout", "60s"])
        .output();
    assert!(!out.ok(), "{out}");
    assert!(
        out.combined()
            .contains("helm-hooks policy denied this hook: privileged"),
        "{out}"
    );

    let reviews = webhook.reviews();
    assert!(
        reviews.iter().all(|r| r.endpoint == "admit"),
        "{reviews:#?}"
    );
    // plain and latest patched; direct (twice) and the chart's hook denied.
    assert_eq!(webhook.count("admit", "patched"), 2, "{reviews:#?}");
    assert_eq!(webhook.count("admit", "denied"), 3, "{reviews:#?}");
}

/// Deletes the cluster-scoped MutatingAdmissionPolicy and binding of a test.
struct EscalatingPolicy(String);

impl Drop for EscalatingPolicy {
    fn drop(&mut self) {
        let _ = kubectl()
            .args([
                "delete",
                "--ignore-not-found",
                "mutatingadmissionpolicybinding,mutatingadmissionpolicy",
                &self.0,
            ])
            .output();
    }
}

/// A MutatingAdmissionPolicy that adds `hostNetwork: true` to labelled Jobs once they carry
/// `activeDeadlineSeconds` (which only the webhook adds here): the webhook's first call admits
/// and patches the hook, the policy's reinvocation escalates it, and the webhook's reinvocation
/// denies it. The policy also labels every Job it matches, so that the test can tell when the
/// apiserver has picked it up.
#[test]
fn later_mutation_that_escalates_a_hook_is_denied_on_reinvocation() {
    let ns = TestNamespace::reviewed("one-call-reinvoke");
    let webhook = webhook_registered_as(Registration::OneCall, &ns);
    let name = ns.name().to_string();
    let guard = EscalatingPolicy(name.clone());
    let policy = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "reinvocationPolicy": "IfNeeded",
            "matchConstraints": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}},
                "objectSelector": {"matchLabels": {"e2e.helm-hooks.io/escalate": "true"}},
                "resourceRules": [{"apiGroups": ["batch"], "apiVersions": ["v1"],
                                   "resources": ["jobs"], "operations": ["CREATE"]}],
            },
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression":
                "[JSONPatch{op: 'add', path: '/metadata/labels/e2e.helm-hooks.io~1seen', value: 'true'}] + \
                 (has(object.spec.activeDeadlineSeconds) \
                    ? [JSONPatch{op: 'add', path: '/spec/template/spec/hostNetwork', value: true}] \
                    : [])"}}],
        },
    });
    let binding = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name},
    });
    for object in [&policy, &binding] {
        kubectl()
            .args(["create", "-f", "-"])
            .stdin(object.to_string())
            .success();
    }
    // Not a hook (the webhook never sees it): labelled once the apiserver applies the policy.
    let probe = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "probe", "labels": {"e2e.helm-hooks.io/escalate": "true"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                 "containers": [{"name": "c", "image": "busybox:1.36"}]}}}});
    wait_until(
        Duration::from_secs(30),
        "the MutatingAdmissionPolicy to apply",
        || {
            let out = create(&ns, &probe, true);
            out.ok() && out.json()["metadata"]["labels"]["e2e.helm-hooks.io/seen"] == "true"
        },
    );

    let escalated = hook_job(
        "escalated",
        safe_containers(),
        json!({"e2e.helm-hooks.io/escalate": "true"}),
    );
    let out = create(&ns, &escalated, false);
    assert!(!out.ok(), "{out}");
    assert!(
        out.stderr.contains(
            "helm-hooks policy denied this hook: host-namespaces: Job/escalated: spec.template.spec.hostNetwork"
        ),
        "{out}"
    );
    assert!(
        ns.try_get_json("job", "escalated").is_none(),
        "the escalated hook was stored"
    );
    // The first call patched it (the deadline that triggers the policy), the second denied it.
    let reviews: Vec<_> = webhook
        .reviews()
        .into_iter()
        .filter(|r| r.name == "escalated")
        .map(|r| (r.endpoint, r.decision))
        .collect();
    assert_eq!(
        reviews,
        [
            ("admit".to_string(), "patched".to_string()),
            ("admit".to_string(), "denied".to_string())
        ]
    );

    // Without the label the policy leaves it alone and the hook is admitted.
    let plain = hook_job("plain", safe_containers(), json!({}));
    let out = create(&ns, &plain, false);
    assert!(out.ok(), "{out}");
    drop(guard);
}
