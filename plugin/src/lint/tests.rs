use super::*;

fn run(text: &str) -> Report {
    lint(
        &parse_manifests(text).unwrap(),
        &Policy::builtin(),
        &[Target::Helm],
    )
}

fn job(name: &str, annotations: &str, extra_spec: &str) -> String {
    format!(
        "---\n# Source: demo/templates/{name}.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  \
         name: {name}\n  annotations:\n{annotations}spec:\n  activeDeadlineSeconds: 300\n  \
         template:\n    spec:\n      restartPolicy: Never\n{extra_spec}      containers:\n      \
         - name: main\n        image: tool:1.0\n        resources:\n          limits: {{cpu: 100m, memory: 64Mi}}\n        \
         securityContext:\n          allowPrivilegeEscalation: false\n          capabilities: {{drop: [ALL]}}\n"
    )
}

const GOOD: &str = "    helm.sh/hook: pre-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n";

fn checks(report: &Report) -> Vec<(String, Level)> {
    report
        .objects
        .iter()
        .flat_map(|o| o.findings.iter().map(|f| (f.check.clone(), f.severity)))
        .collect()
}

#[test]
fn unknown_event_is_an_error_and_the_object_is_dropped() {
    let report = run(&job("x", "    helm.sh/hook: pre-upgade\n", ""));
    assert!(report.objects[0].dropped);
    assert!(checks(&report).contains(&("annotation/unknown-event".into(), Level::Error)));
    assert_eq!(report.exit_code(), 1);
    let text = {
        let mut out = Vec::new();
        write_text(&report, false, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert!(
        text.contains("did you mean \\\"pre-upgrade\\\"") || text.contains("pre-upgrade"),
        "{text}"
    );
    assert!(text.contains("Helm drops this object"), "{text}");
}

#[test]
fn non_integer_weight_is_an_error_with_the_rule_attached() {
    let report = run(&job(
        "x",
        &format!("{GOOD}    helm.sh/hook-weight: \"5.0\"\n"),
        "",
    ));
    let f = report.objects[0]
        .findings
        .iter()
        .find(|f| f.check == "annotation/weight-not-integer")
        .expect("weight finding");
    assert_eq!(f.severity, Level::Error);
    assert_eq!(f.rule.as_deref(), Some("hook-weight"));
    // Not repeated as a separate policy finding.
    assert!(
        !checks(&report)
            .iter()
            .any(|(c, _)| c == "policy/hook-weight")
    );
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn delete_policy_typo_is_an_error() {
    let report = run(&job(
        "x",
        "    helm.sh/hook: pre-upgrade\n    helm.sh/hook-delete-policy: hook-succeed\n",
        "",
    ));
    let c = checks(&report);
    assert!(
        c.contains(&("annotation/unknown-delete-policy".into(), Level::Error)),
        "{c:?}"
    );
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn privileged_hook_is_denied_by_the_policy() {
    let text =
        job("x", GOOD, "").replace("allowPrivilegeEscalation: false\n", "privileged: true\n");
    let report = run(&text);
    let c = checks(&report);
    assert!(
        c.contains(&("policy/privileged".into(), Level::Error)),
        "{c:?}"
    );
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn clean_hook_exits_zero_and_shows_the_patch() {
    let report = run(&job("x", GOOD, ""));
    assert_eq!(report.summary.errors, 0, "{:?}", checks(&report));
    assert_eq!(report.exit_code(), 0);
    // The webhook still injects its securityContext defaults.
    assert!(!report.objects[0].patch.is_empty());
}

#[test]
fn warnings_only_exit_zero() {
    let report = run(&job(
        "x",
        "    helm.sh/hook: pre-upgrade\n    helm.sh/hook-delete-policy: hook-succeeded\n",
        "",
    ));
    assert!(report.summary.warnings > 0);
    assert_eq!(report.summary.errors, 0, "{:?}", checks(&report));
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn service_account_named_after_the_job_runs_too_late() {
    let sa = "---\n# Source: demo/templates/sa.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: migrate-sa\n  annotations:\n    helm.sh/hook: pre-upgrade\n";
    let text = format!(
        "{}{sa}",
        job("migrate", GOOD, "      serviceAccountName: migrate-sa\n")
    );
    let report = run(&text);
    let f = report.objects[0]
        .findings
        .iter()
        .find(|f| f.check == "order/dependency-runs-later")
        .expect("order finding");
    assert_eq!(f.severity, Level::Error);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn non_hooks_are_not_reported() {
    let report = run("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n");
    assert_eq!(report.summary.objects, 1);
    assert_eq!(report.summary.hooks, 0);
    assert!(report.objects.is_empty());
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn json_report_shape() {
    let report = run(&job("x", "    helm.sh/hook: pre-upgade\n", ""));
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(v["summary"]["errors"], 1);
    assert_eq!(v["objects"][0]["source"], "demo/templates/x.yaml");
    assert_eq!(v["objects"][0]["findings"][0]["severity"], "error");
}

/// Issue 14: lint's text had 14 of 35 lines over 100 columns; findings wrap at 100.
#[test]
fn text_findings_wrap_at_100_columns() {
    let line = format!("  warning  metadata.annotations.x: {}", "word ".repeat(40));
    let parts = super::wrap(line.trim_end(), 100, "           ");
    assert!(parts.len() > 1);
    assert!(parts.iter().all(|p| p.chars().count() <= 100), "{parts:#?}");
    assert!(parts[0].starts_with("  warning  metadata"));
    assert!(parts[1].starts_with("           word"));
    assert_eq!(
        parts.join(" ").split_whitespace().count(),
        line.split_whitespace().count()
    );
}

/// Regression: lint reported only the first violation of each rule on an object (the second
/// container's missing limits, found by the webhook on gatekeeper's namespace-label Job, was
/// dropped as "already covered"), so lint did not predict the webhook's findings.
#[test]
fn every_violation_of_a_rule_is_reported_not_only_the_first() {
    let init = "      initContainers:\n      - name: probe\n        image: curl:8.0\n        \
                securityContext:\n          allowPrivilegeEscalation: false\n          \
                capabilities: {drop: [ALL]}\n";
    let report = run(&job("x", GOOD, init));
    let fields: Vec<&str> = report.objects[0]
        .findings
        .iter()
        .filter(|f| f.rule.as_deref() == Some("resources"))
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(
        fields,
        ["spec.template.spec.initContainers[0].resources.limits"],
        "the main container has limits, the init container none"
    );
    let two = job("y", GOOD, init).replace(
        "        resources:\n          limits: {cpu: 100m, memory: 64Mi}\n",
        "",
    );
    let report = run(&two);
    let fields: Vec<&str> = report.objects[0]
        .findings
        .iter()
        .filter(|f| f.rule.as_deref() == Some("resources"))
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.template.spec.containers[0].resources.limits",
            "spec.template.spec.initContainers[0].resources.limits"
        ]
    );
}
