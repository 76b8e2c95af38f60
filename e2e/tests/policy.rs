//! The cluster-wide policy as a custom resource, on the real apiserver: `deploy/crds/`'s
//! CustomResourceDefinition refuses a `HookPolicy` with a typo naming the field, takes
//! `deploy/policy/`'s default; `kubectl hooks policy export --format admission-policy` gives
//! admission policies that decide like the webhook.

use e2e::{Run, kubectl, repo_root, wait_until};
use std::time::Duration;

const HEAD: &str = "apiVersion: hooks.helm-hooks.io/v1alpha1\nkind: HookPolicy\n";

/// Applies `deploy/crds/hookpolicies.yaml` and waits until it is served (idempotent).
fn install_crd() {
    kubectl()
        .args(["apply", "--server-side", "-f"])
        .arg(repo_root().join("deploy/crds/hookpolicies.yaml"))
        .success();
    wait_until(Duration::from_secs(30), "the HookPolicy CRD", || {
        kubectl()
            .args(["get", "crd", "hookpolicies.hooks.helm-hooks.io", "-o"])
            .arg("jsonpath={.status.conditions[?(@.type==\"Established\")].status}")
            .output()
            .stdout
            == "True"
            && kubectl().args(["get", "hookpolicies"]).output().ok()
    });
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
