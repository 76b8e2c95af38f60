//! The policy ConfigMap in deploy/ and the chart's default policy (charts/helm-hooks/files/
//! policy.yaml) must be exactly the built-in policy (`helm-hooks-webhook default-policy`
//! prints `Policy::builtin().to_yaml()`).
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p helm-hooks-webhook --test deploy_policy`.

use helm_hooks::policy::Policy;
use std::path::Path;

const CONFIGMAP: &str = "deploy/base/policy-configmap.yaml";
const CHART_POLICY: &str = "charts/helm-hooks/files/policy.yaml";

fn expected() -> String {
    let mut out = String::from(
        "# Generated from `helm-hooks-webhook default-policy`; checked by webhook/tests/deploy_policy.rs.\n\
         # Edit the policy in an overlay or replace this ConfigMap; do not edit it here.\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: helm-hooks-policy\ndata:\n  policy.yaml: |\n",
    );
    for line in Policy::builtin().to_yaml().lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn deploy_policy_configmap_matches_the_builtin_policy() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(CONFIGMAP);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, expected()).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual,
        expected(),
        "{CONFIGMAP} drifted from the built-in policy; regenerate it with \
         UPDATE_GOLDEN=1 cargo test -p helm-hooks-webhook --test deploy_policy"
    );
}

#[test]
fn chart_default_policy_matches_the_builtin_policy() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(CHART_POLICY);
    let expected = Policy::builtin().to_yaml();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual, expected,
        "{CHART_POLICY} drifted from the built-in policy; regenerate it with \
         UPDATE_GOLDEN=1 cargo test -p helm-hooks-webhook --test deploy_policy"
    );
}
