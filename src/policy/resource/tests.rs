use super::*;
use crate::policy::{Mode, RuleId};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn object(yaml: &str) -> Result<HookPolicyObject, PolicyError> {
    let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
    HookPolicyObject::from_object(&value)
}

const HEAD: &str = "apiVersion: hooks.helm-hooks.io/v1alpha1\nkind: HookPolicy\n";

#[test]
fn spec_is_the_policy_document_with_selector_and_priority() {
    let policy = object(&format!(
        "{HEAD}metadata: {{name: strict}}\nspec:\n  priority: 10\n  \
         namespaceSelector: {{matchLabels: {{tier: prod}}}}\n  \
         rules: {{image-tag: enforce, deadline: {{mode: enforce, maxSeconds: 7200}}}}\n  \
         exemptNamespaces: [break-glass]\n"
    ))
    .unwrap();
    assert_eq!(policy.name, "strict");
    assert_eq!(policy.priority, 10);
    assert_eq!(
        policy.policy.rule(RuleId::ImageTag, None).mode,
        Mode::Enforce
    );
    assert_eq!(
        policy.policy.rule(RuleId::Deadline, None).max_seconds,
        Some(7200)
    );
    assert!(policy.selects(&labels(&[("tier", "prod")])));
    assert!(!policy.selects(&labels(&[("tier", "dev")])));
    // Round trip through the manifest form.
    assert_eq!(
        HookPolicyObject::from_object(&policy.to_object()).unwrap(),
        policy
    );
}

#[test]
fn errors_name_the_field_under_spec_with_the_document_parsers_message() {
    for (spec, field, says) in [
        (
            "rules: {privilegd: enforce}",
            "spec",
            "did you mean \"privileged\"",
        ),
        (
            "rules: {privileged: enforc}",
            "spec",
            "did you mean \"enforce\"",
        ),
        ("rulez: {}", "spec", "unknown field `rulez`"),
        (
            "rules: {image-tag: {mode: warn, maxSeconds: 5}}",
            "spec.rules.image-tag.maxSeconds",
            "only the deadline rule",
        ),
        (
            "defaults: {deletePolicy: hook-succeeded}",
            "spec.defaults.deletePolicy",
            "include before-hook-creation",
        ),
        (
            "namespaceSelector: {matchExpressions: [{key: a, operator: In}]}",
            "spec.namespaceSelector.matchExpressions[0].values",
            "needs at least one value",
        ),
        (
            "namespaceSelector: {matchExpressions: [{key: a, operator: Inn, values: [x]}]}",
            "spec.namespaceSelector",
            "unknown variant `Inn`",
        ),
        ("priority: high", "spec.priority", "integer"),
        ("kind: HookPolicy", "spec.kind", "remove spec.kind"),
    ] {
        let err =
            object(&format!("{HEAD}metadata: {{name: p}}\nspec: {{{spec}}}\n")).expect_err(spec);
        assert_eq!(err.field, field, "{spec}: {err}");
        assert!(err.message.contains(says), "{spec}: {err}");
    }
    let err = object(&format!("{HEAD}metadata: {{}}\nspec: {{}}\n")).unwrap_err();
    assert_eq!(err.field, "metadata.name");
    let err = object("apiVersion: v1\nkind: HookPolicy\nmetadata: {name: p}\n").unwrap_err();
    assert_eq!(err.field, "apiVersion");
}

#[test]
fn label_selector_matches_like_the_apiserver() {
    let selector: LabelSelector = serde_yaml_ng::from_str(
        "matchLabels: {team: a}\nmatchExpressions:\n\
         - {key: env, operator: In, values: [prod, stage]}\n\
         - {key: legacy, operator: DoesNotExist}\n\
         - {key: tier, operator: NotIn, values: [batch]}\n\
         - {key: owner, operator: Exists}\n",
    )
    .unwrap();
    let base = [("team", "a"), ("env", "prod"), ("owner", "x")];
    assert!(selector.matches(&labels(&base)));
    assert!(selector.matches(&labels(&[
        ("team", "a"),
        ("env", "stage"),
        ("owner", "y"),
        ("tier", "web")
    ])));
    for (why, set) in [
        (
            "matchLabels value",
            vec![("team", "b"), ("env", "prod"), ("owner", "x")],
        ),
        ("In: absent", vec![("team", "a"), ("owner", "x")]),
        (
            "In: other value",
            vec![("team", "a"), ("env", "dev"), ("owner", "x")],
        ),
        (
            "DoesNotExist",
            vec![
                ("team", "a"),
                ("env", "prod"),
                ("owner", "x"),
                ("legacy", ""),
            ],
        ),
        (
            "NotIn",
            vec![
                ("team", "a"),
                ("env", "prod"),
                ("owner", "x"),
                ("tier", "batch"),
            ],
        ),
        ("Exists", vec![("team", "a"), ("env", "prod")]),
    ] {
        assert!(!selector.matches(&labels(&set)), "{why}");
    }
    assert!(LabelSelector::default().matches(&BTreeMap::new()));
}

/// The documented rule: the highest priority among the selecting objects applies, whole; equal
/// priorities go to the name that sorts first; nothing selecting means the built-in policy.
#[test]
fn overlapping_selectors_resolve_by_priority_then_name() {
    let policy = |name: &str, priority: i32, selector: &str, mode: &str| {
        object(&format!(
            "{HEAD}metadata: {{name: {name}}}\nspec:\n  priority: {priority}\n  \
             {selector}\n  rules: {{image-tag: {mode}}}\n"
        ))
        .unwrap()
    };
    let everywhere = policy("base", 0, "exemptNamespaces: []", "warn");
    let prod_b = policy(
        "prod-b",
        5,
        "namespaceSelector: {matchLabels: {env: prod}}",
        "audit",
    );
    let prod_a = policy(
        "prod-a",
        5,
        "namespaceSelector: {matchLabels: {env: prod}}",
        "off",
    );
    let pci = policy(
        "pci",
        9,
        "namespaceSelector: {matchLabels: {pci: 'true'}}",
        "enforce",
    );
    // Input order does not matter.
    for objects in [
        vec![
            everywhere.clone(),
            prod_b.clone(),
            prod_a.clone(),
            pci.clone(),
        ],
        vec![
            pci.clone(),
            prod_a.clone(),
            prod_b.clone(),
            everywhere.clone(),
        ],
    ] {
        let set = PolicySet::new(objects);
        let chosen = |l: &[(&str, &str)]| set.select(&labels(l)).map(|o| o.name.as_str());
        assert_eq!(chosen(&[]), Some("base"));
        assert_eq!(
            chosen(&[("env", "prod")]),
            Some("prod-a"),
            "equal priority: name order"
        );
        assert_eq!(chosen(&[("env", "prod"), ("pci", "true")]), Some("pci"));
        let mode = set
            .policy_for(&labels(&[("env", "prod")]))
            .rule(RuleId::ImageTag, None)
            .mode;
        assert_eq!(mode, Mode::Off, "the chosen object applies whole");
    }
    let only_prod = PolicySet::new(vec![prod_a]);
    assert_eq!(only_prod.select(&labels(&[("env", "dev")])), None);
    assert_eq!(only_prod.policy_for(&labels(&[])), Policy::builtin());
}

#[test]
fn a_file_holds_objects_or_one_plain_document() {
    let set = PolicySet::from_yaml(&format!(
        "{HEAD}metadata: {{name: b}}\nspec: {{}}\n---\n{HEAD}metadata: {{name: a}}\nspec: {{priority: 1}}\n"
    ))
    .unwrap();
    let names: Vec<&str> = set.objects().iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);

    let set = PolicySet::from_yaml(&format!("{HEAD}rules: {{image-tag: enforce}}\n")).unwrap();
    assert_eq!(set.objects().len(), 1);
    assert_eq!(set.objects()[0].name, DOCUMENT_NAME);
    assert!(set.select(&name_labels("anything")).is_some());

    let err = PolicySet::from_yaml(&format!(
        "{HEAD}metadata: {{name: ok}}\nspec: {{}}\n---\n{HEAD}metadata: {{name: bad}}\nspec: {{rules: {{x: on}}}}\n"
    ))
    .unwrap_err();
    assert!(err.field.starts_with("document at line 6: spec"), "{err}");
    assert!(PolicySet::from_yaml("").unwrap().is_empty());
}

/// `kubectl apply` drops a null, so the resource switches a default off with `0` / `""`.
#[test]
fn zero_switches_a_default_off_in_the_resource() {
    let policy = object(&format!(
        "{HEAD}metadata: {{name: p}}\nspec:\n  \
         defaults: {{deletePolicy: '', activeDeadlineSeconds: 0, ttlSecondsAfterFinished: 0}}\n"
    ))
    .unwrap();
    assert_eq!(policy.policy.defaults.delete_policy, None);
    assert_eq!(policy.policy.defaults.active_deadline_seconds, None);
    let manifest = policy.to_object();
    assert_eq!(manifest["spec"]["defaults"]["activeDeadlineSeconds"], 0);
    assert_eq!(manifest["spec"]["defaults"]["deletePolicy"], "");
    assert_eq!(HookPolicyObject::from_object(&manifest).unwrap(), policy);
}
