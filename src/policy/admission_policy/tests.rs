use super::*;

fn set(yaml: &str) -> PolicySet {
    PolicySet::from_yaml(yaml).unwrap()
}

fn kinds(export: &Export) -> Vec<(String, String)> {
    export
        .objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_string(),
                o["metadata"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn variable<'a>(object: &'a Value, name: &str) -> &'a str {
    object["spec"]["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .and_then(|v| v["expression"].as_str())
        .unwrap_or_else(|| panic!("no variable {name}"))
}

#[test]
fn one_mutating_and_three_validating_policies_per_hookpolicy_each_bound() {
    let export = export(&PolicySet::default(), "helm-hooks");
    assert!(export.gaps.is_empty());
    assert_eq!(
        kinds(&export),
        [
            ("MutatingAdmissionPolicy", "helm-hooks-default"),
            ("MutatingAdmissionPolicyBinding", "helm-hooks-default"),
            ("ValidatingAdmissionPolicy", "helm-hooks-default-enforce"),
            (
                "ValidatingAdmissionPolicyBinding",
                "helm-hooks-default-enforce"
            ),
            ("ValidatingAdmissionPolicy", "helm-hooks-default-warn"),
            (
                "ValidatingAdmissionPolicyBinding",
                "helm-hooks-default-warn"
            ),
            ("ValidatingAdmissionPolicy", "helm-hooks-default-audit"),
            (
                "ValidatingAdmissionPolicyBinding",
                "helm-hooks-default-audit"
            ),
        ]
        .map(|(k, n)| (k.to_string(), n.to_string()))
    );
    let actions: Vec<&Value> = export
        .objects
        .iter()
        .filter(|o| o["kind"] == "ValidatingAdmissionPolicyBinding")
        .map(|o| &o["spec"]["validationActions"])
        .collect();
    assert_eq!(
        actions,
        [&json!(["Deny"]), &json!(["Warn"]), &json!(["Audit"])]
    );
    for object in &export.objects {
        assert_eq!(object["apiVersion"], ADMISSION_API_VERSION);
        if object["kind"].as_str().unwrap().ends_with("Policy") {
            assert_eq!(
                object["spec"]["matchConditions"][0]["expression"],
                "has(object.metadata.annotations) && 'helm.sh/hook' in object.metadata.annotations"
            );
        }
    }
    let enforce = &export.objects[2];
    assert_eq!(
        enforce["spec"]["validations"].as_array().unwrap().len(),
        RuleId::ALL.len()
    );
    assert_eq!(variable(enforce, "mode_image_tag"), "'warn'");
    assert_eq!(variable(enforce, "maxSeconds"), "3600");
    assert_eq!(variable(enforce, "allowedCaps"), "['NET_BIND_SERVICE']");
    assert!(variable(enforce, "exempt").ends_with("in ['kube-system']"));
}

/// Overrides become conditionals on the namespace, first override first, like the core.
#[test]
fn namespace_overrides_become_per_namespace_conditionals() {
    let export = export(
        &set(
            "apiVersion: hooks.helm-hooks.io/v1alpha1\nkind: HookPolicy\n\
              namespaceOverrides:\n\
              - {namespaces: [legacy], rules: {run-as-root: audit}, defaults: {activeDeadlineSeconds: 0}}\n\
              - {namespaces: [legacy, ci], rules: {run-as-root: off}}\n",
        ),
        "hh",
    );
    let policy = &export.objects[0];
    assert_eq!(
        variable(policy, "mode_run_as_root"),
        "(variables.ns in ['legacy'] ? 'audit' : (variables.ns in ['legacy', 'ci'] ? 'off' : 'warn'))"
    );
    assert_eq!(
        variable(policy, "deadline"),
        "(variables.ns in ['legacy'] ? 0 : 600)"
    );
    assert_eq!(variable(policy, "mode_privileged"), "'enforce'");
}

/// Precedence between HookPolicies is the core's: an object is in force where it selects the
/// namespace and no object of higher precedence does.
#[test]
fn each_hookpolicy_is_in_force_only_where_no_higher_one_selects() {
    let export = export(
        &set(
            "apiVersion: hooks.helm-hooks.io/v1alpha1\nkind: HookPolicy\nmetadata: {name: base}\nspec: {}\n---\n\
              apiVersion: hooks.helm-hooks.io/v1alpha1\nkind: HookPolicy\nmetadata: {name: prod}\n\
              spec: {priority: 5, namespaceSelector: {matchLabels: {env: prod}, matchExpressions: [{key: tier, operator: NotIn, values: [batch]}]}}\n",
        ),
        "hh",
    );
    let prod = &export.objects[0];
    let base = &export.objects[8];
    assert_eq!(prod["metadata"]["name"], "hh-prod");
    let prod_selects = "('env' in variables.nsLabels && variables.nsLabels['env'] == 'prod') && (!('tier' in variables.nsLabels) || !(variables.nsLabels['tier'] in ['batch']))";
    assert_eq!(
        variable(prod, "active"),
        format!("(({prod_selects})) && !variables.exempt")
    );
    assert_eq!(
        variable(base, "active"),
        format!("((true) && !({prod_selects})) && !variables.exempt")
    );
}

#[test]
fn cel_string_literals_are_escaped() {
    assert_eq!(lit("it's"), "'it\\'s'");
    assert_eq!(lit("a\\b"), "'a\\\\b'");
}
