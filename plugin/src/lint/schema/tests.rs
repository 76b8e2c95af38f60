use super::*;
use serde_json::json;

fn crb(subject: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "c-cleanup", "annotations": {"helm.sh/hook": "pre-delete"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "c"},
        "subjects": [subject],
    })
}

#[test]
fn null_subject_name_is_refused_naming_the_field() {
    let problems = check(&crb(
        json!({"kind": "ServiceAccount", "name": null, "namespace": "default"}),
    ))
    .expect("a built-in kind");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "subjects[0].name");
    assert!(problems[0].refused);
    assert!(
        problems[0].message.contains("required field null"),
        "{problems:?}"
    );
}

#[test]
fn a_valid_object_has_no_problems() {
    let ok = check(&crb(
        json!({"kind": "ServiceAccount", "name": "sa", "namespace": "default"}),
    ));
    assert_eq!(ok, Some(Vec::new()));
}

#[test]
fn missing_required_field_is_named_with_its_parent() {
    let problems = check(&crb(
        json!({"kind": "ServiceAccount", "namespace": "default"}),
    ))
    .unwrap();
    assert_eq!(problems[0].field, "subjects[0].name");
    assert!(
        problems[0].message.contains("required field missing"),
        "{problems:?}"
    );
}

#[test]
fn wrong_value_type_is_refused() {
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"backoffLimit": "3", "template": {"spec": {"containers": [{"name": "c"}]}}}});
    let problems = check(&job).unwrap();
    assert_eq!(problems[0].field, "spec.backoffLimit");
    assert!(problems[0].message.contains("invalid type"), "{problems:?}");
}

#[test]
fn unknown_fields_are_warnings_naming_the_path() {
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"activeDeadLineSeconds": 60, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "x:1", "securityContex": {}, "imagePullPolicy": "IfNotPresent", "resource": {"limits": {"cpu": 1}}}]}}}});
    let problems = check(&job).unwrap();
    let fields: Vec<(&str, bool)> = problems
        .iter()
        .map(|p| (p.field.as_str(), p.refused))
        .collect();
    assert_eq!(
        fields,
        [
            ("spec.activeDeadLineSeconds", false),
            ("spec.template.spec.containers[0].resource", false)
        ],
        "an empty unknown map is not reported; {problems:?}"
    );
}

#[test]
fn numbers_for_quantities_nulls_for_optional_fields_and_int_or_string_pass() {
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "labels": null, "creationTimestamp": null},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{
                "name": "c", "image": "x:1", "resources": {"limits": {"cpu": 1, "memory": "64Mi"}},
                "ports": [{"containerPort": 80}]}]}}}});
    assert_eq!(check(&deploy), Some(Vec::new()));
}

#[test]
fn custom_resources_and_unknown_versions_are_not_checked() {
    assert_eq!(
        check(
            &json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "spec": {"x": null}})
        ),
        None
    );
    assert_eq!(
        check(&json!({"apiVersion": "batch/v1beta1", "kind": "CronJob"})),
        None
    );
}

#[test]
fn findings_go_on_the_objects_report_and_count_in_the_summary() {
    let text = "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n\
                datas:\n  k: v\n---\n# Source: c/templates/b.yaml\n\
                apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: c\n  \
                annotations:\n    helm.sh/hook: pre-delete\n    helm.sh/hook-delete-policy: before-hook-creation\n\
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}\n\
                subjects:\n- kind: ServiceAccount\n  name: null\n  namespace: default\n";
    let objects = helm_hooks::manifest::parse_manifests(text).unwrap();
    let mut report = super::super::lint(
        &objects,
        &helm_hooks::policy::Policy::builtin(),
        &[super::super::targets::Target::Helm],
    );
    assert_eq!(report.summary.errors, 0, "lint alone passes it");
    add_findings(&mut report, &objects);
    assert_eq!(report.summary.errors, 1);
    assert_eq!(report.summary.warnings, 1);
    assert_eq!(report.exit_code(), 1);
    let names: Vec<&str> = report.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["plain", "c"], "in stream order");
    assert_eq!(report.objects[0].findings[0].check, "schema/unknown-field");
    assert_eq!(report.objects[0].findings[0].field, "datas");
    let hook = &report.objects[1];
    assert_eq!(
        hook.events,
        ["pre-delete"],
        "the hook's own report got the finding"
    );
    let refused = hook
        .findings
        .iter()
        .find(|f| f.check == "schema/refused")
        .expect("a refused finding");
    assert_eq!(refused.field, "subjects[0].name");
    assert_eq!(refused.severity, Level::Error);
}

/// Helm reads YAML 1.1: `defaultMode: 0444` (kyverno's chart) is octal 292 to Helm and the API
/// server, a string to a YAML 1.2 reader; `yes` is a boolean. Neither is a problem.
#[test]
fn yaml_1_1_octal_and_booleans_are_what_helm_sends() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostNetwork: no\n  \
                containers:\n  - name: c\n    image: x:1\n    stdin: yes\n  volumes:\n  - name: v\n    \
                projected:\n      defaultMode: 0444\n      sources: []\n";
    let objects = helm_hooks::manifest::parse_manifests(text).unwrap();
    assert_eq!(check(&objects[0].value), Some(Vec::new()));
    let bad = text.replace("defaultMode: 0444", "defaultMode: \"rw\"");
    let objects = helm_hooks::manifest::parse_manifests(&bad).unwrap();
    let problems = check(&objects[0].value).unwrap();
    assert_eq!(problems[0].field, "spec.volumes[0].projected.defaultMode");
}
