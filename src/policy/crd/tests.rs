use super::*;
use serde::Deserialize as _;
use std::path::Path;

/// `deploy/crds/hookpolicies.yaml` is what the code generates (regenerate it with
/// `UPDATE_GOLDEN=1 cargo test -p helm-hooks crd`).
#[test]
fn deploy_crd_is_the_generated_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/crds/hookpolicies.yaml");
    let generated = custom_resource_definition();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text = format!(
            "# Generated from src/policy/crd.rs: UPDATE_GOLDEN=1 cargo test -p helm-hooks crd\n{}",
            crate::policy::resource::to_kubectl_yaml(std::slice::from_ref(&generated))
        );
        std::fs::write(&path, text).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let committed: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(committed, generated, "{} is stale", path.display());
    assert!(
        text.contains("- 'off'"),
        "kubectl would read a bare off as false"
    );
}

/// `deploy/crds/hookpolicy-summary.yaml` is the generated summary policy.
#[test]
fn deploy_summary_policy_is_the_generated_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/crds/hookpolicy-summary.yaml");
    let generated = summary_policy();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text = format!(
            "# Writes each HookPolicy's rule counts per mode into its status (kubectl get hookpolicies).\n\
             # Generated from src/policy/crd.rs: UPDATE_GOLDEN=1 cargo test -p helm-hooks crd\n{}",
            crate::policy::resource::to_kubectl_yaml(&generated)
        );
        std::fs::write(&path, text).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let committed: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect();
    assert_eq!(committed, generated, "{} is stale", path.display());
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

/// `deploy/policy/default-hookpolicy.yaml` is the built-in policy as a `HookPolicy` named
/// `default` selecting every namespace.
#[test]
fn deploy_default_hookpolicy_is_the_builtin_policy() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/policy/default-hookpolicy.yaml");
    let object = crate::policy::HookPolicyObject {
        name: "default".into(),
        priority: 0,
        namespace_selector: None,
        policy: crate::policy::Policy::builtin(),
    };
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text = format!(
            "# The built-in policy as a HookPolicy selecting every namespace; edit and apply.\n\
             # Generated from src/policy/crd.rs: UPDATE_GOLDEN=1 cargo test -p helm-hooks crd\n{}",
            crate::policy::resource::to_kubectl_yaml(&[object.to_object()])
        );
        std::fs::write(&path, text).unwrap();
    }
    let set =
        crate::policy::PolicySet::from_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
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
