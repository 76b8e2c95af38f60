use super::*;

const HEAD: &str = "apiVersion: hooks.helm-hooks.io/v1alpha1\nkind: HookPolicy\n";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn show_names_the_policy_in_force_and_the_others_that_select() {
    let set = PolicySet::from_yaml(&format!(
        "{HEAD}metadata: {{name: base}}\nspec: {{}}\n---\n\
         {HEAD}metadata: {{name: prod}}\nspec:\n  priority: 5\n  \
         namespaceSelector: {{matchLabels: {{env: prod}}}}\n  rules: {{image-tag: {{mode: enforce}}}}\n  \
         namespaceOverrides: [{{namespaces: [shop], rules: {{resources: {{mode: warn}}}}, defaults: {{activeDeadlineSeconds: 0}}}}]\n"
    ))
    .unwrap();
    let shown = effective(&set, "shop", &labels(&[("env", "prod")]));
    assert_eq!(shown["hookPolicy"], json!({"name": "prod", "priority": 5}));
    assert_eq!(
        shown["otherCandidates"],
        json!([{"name": "base", "priority": 0}])
    );
    assert_eq!(shown["rules"]["image-tag"], "enforce");
    assert_eq!(shown["rules"]["resources"], "warn");
    assert_eq!(shown["namespaceOverride"], 0);
    assert_eq!(shown["defaults"]["activeDeadlineSeconds"], Value::Null);
    assert_eq!(shown["exempt"], false);

    let dev = effective(&set, "dev", &labels(&[]));
    assert_eq!(dev["hookPolicy"]["name"], "base");
    assert_eq!(dev["rules"]["image-tag"], "warn");

    let none = effective(&PolicySet::default(), "kube-system", &labels(&[]));
    assert_eq!(none["hookPolicy"], json!({"name": null, "builtIn": true}));
    assert_eq!(none["exempt"], true);
}

/// A gap (none exists today: every rule has a CEL form) fails the export unless
/// `--allow-partial`, and is named either way.
#[test]
fn a_rule_export_cannot_express_fails_unless_allow_partial() {
    let mut export = admission_policy::export(&PolicySet::default(), "helm-hooks");
    let (text, gaps) = render_export(&export, false);
    assert!(gaps.is_empty());
    assert!(text.unwrap().contains("kind: ValidatingAdmissionPolicy"));
    export.gaps.push(admission_policy::Gap {
        policy: "default".into(),
        what: "image-tag".into(),
        reason: "for the test".into(),
    });
    let (text, gaps) = render_export(&export, false);
    assert_eq!(
        gaps,
        ["HookPolicy default: image-tag cannot be expressed as an admission policy: for the test"]
    );
    assert!(text.unwrap_err().to_string().contains("--allow-partial"));
    let (text, gaps) = render_export(&export, true);
    assert_eq!(gaps.len(), 1);
    assert!(text.is_ok());
}
