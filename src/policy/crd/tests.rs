use super::*;
use serde::Deserialize as _;
use std::path::Path;

/// Writes `text` to every path under `UPDATE_GOLDEN=1`; asserts each file holds exactly it.
fn golden(paths: &[&str], text: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for path in paths {
        let path = root.join(path);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} is stale: UPDATE_GOLDEN=1 cargo test -p helm-hooks crd",
            path.display()
        );
    }
}

const GENERATED: &str =
    "# Generated from src/policy/crd.rs: UPDATE_GOLDEN=1 cargo test -p helm-hooks crd\n";

/// `deploy/crds/hookpolicies.yaml` (and the chart's copy) is what the code generates.
#[test]
fn deploy_crd_is_the_generated_one() {
    let generated = custom_resource_definition();
    let text = format!(
        "{GENERATED}{}",
        crate::policy::resource::to_kubectl_yaml(std::slice::from_ref(&generated))
    );
    golden(
        &[
            "deploy/crds/hookpolicies.yaml",
            "charts/helm-hooks/crds/hookpolicies.yaml",
        ],
        &text,
    );
    let committed: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(committed, generated);
    assert!(
        text.contains("- 'off'"),
        "kubectl would read a bare off as false"
    );
}

/// `deploy/crds/hookpolicy-summary.yaml` (and the chart's copy) is the generated summary
/// policy.
#[test]
fn deploy_summary_policy_is_the_generated_one() {
    let generated = summary_policy();
    let text = format!(
        "# Writes each HookPolicy's rule counts per mode into its status (kubectl get hookpolicies).\n{GENERATED}{}",
        crate::policy::resource::to_kubectl_yaml(&generated)
    );
    golden(
        &[
            "deploy/crds/hookpolicy-summary.yaml",
            "charts/helm-hooks/files/hookpolicy-summary.yaml",
        ],
        &text,
    );
    let committed: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect();
    assert_eq!(committed, generated);
    let builtin = generated[0]["spec"]["variables"][0]["expression"]
        .as_str()
        .unwrap();
    for rule in RuleId::ALL {
        assert!(
            builtin.contains(&format!("'{rule}': '{}'", rule.default_mode())),
            "{rule}"
        );
    }
}

/// `deploy/policy/default-hookpolicy.yaml` (and the chart's copy) is the built-in policy as a
/// `HookPolicy` named `default` selecting every namespace.
#[test]
fn deploy_default_hookpolicy_is_the_builtin_policy() {
    let object = crate::policy::HookPolicyObject {
        name: "default".into(),
        priority: 0,
        namespace_selector: None,
        policy: crate::policy::Policy::builtin(),
    };
    let mut manifest = object.to_object();
    manifest["metadata"]["labels"] = labels();
    let text = format!(
        "# The built-in policy as a HookPolicy selecting every namespace; edit and apply.\n{GENERATED}{}",
        crate::policy::resource::to_kubectl_yaml(&[manifest])
    );
    golden(
        &[
            "deploy/policy/default-hookpolicy.yaml",
            "charts/helm-hooks/files/default-hookpolicy.yaml",
        ],
        &text,
    );
    let set = crate::policy::PolicySet::from_yaml(&text).unwrap();
    assert_eq!(set.objects(), [object]);
}

#[test]
fn enums_and_rule_ids_come_from_the_parser() {
    let crd = custom_resource_definition();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let rules = spec["properties"]["rules"]["properties"]
        .as_object()
        .unwrap();
    let ids: Vec<&str> = rules.keys().map(String::as_str).collect();
    let mut expected = RuleId::ALL.map(RuleId::as_str).to_vec();
    expected.sort();
    assert_eq!(ids, expected);
    for (id, setting) in rules {
        assert_eq!(
            setting["properties"]["mode"]["enum"],
            json!(Mode::ALL.map(Mode::as_str)),
            "{id}"
        );
        assert_eq!(
            setting["properties"].get("maxSeconds").is_some(),
            id == "deadline"
        );
        assert_eq!(
            setting["properties"].get("allowed").is_some(),
            id == "capabilities"
        );
    }
    assert_eq!(
        spec["properties"]["namespaceOverrides"]["items"]["properties"]["rules"],
        spec["properties"]["rules"]
    );
}

/// What the resource's manifest form holds, the parser reads back (and the schema's map
/// form of a rule setting is one the parser takes).
#[test]
fn builtin_policy_as_an_object_round_trips() {
    let object = crate::policy::HookPolicyObject {
        name: "default".into(),
        priority: 0,
        namespace_selector: None,
        policy: crate::policy::Policy::builtin(),
    };
    let manifest = object.to_object();
    assert_eq!(
        manifest["spec"]["rules"]["image-tag"],
        json!({"mode": "warn"})
    );
    assert_eq!(
        crate::policy::HookPolicyObject::from_object(&manifest).unwrap(),
        object
    );
}
