//! Table tests of the target rules over one rendered stream that covers every mapping, and
//! objects that must not be flagged.

use super::super::{Level, Report, lint, write_text};
use super::Target;
use helm_hooks::manifest::parse_manifests;
use helm_hooks::policy::Policy;

const CLEAN: &str = "before-hook-creation,hook-succeeded";

/// A Job hook; `sa` is its ServiceAccount (or empty).
fn job(name: &str, annotations: &[(&str, &str)], sa: &str) -> String {
    let sa = if sa.is_empty() {
        String::new()
    } else {
        format!("      serviceAccountName: {sa}\n")
    };
    format!(
        "---\n# Source: t/templates/{name}.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  \
         name: {name}\n  annotations:\n{}spec:\n  template:\n    spec:\n      restartPolicy: \
         Never\n{sa}      containers:\n      - name: main\n        image: tool:1.0\n",
        annotations_yaml(annotations)
    )
}

/// Any other object (Secret, ServiceAccount, ConfigMap, Pod) with annotations.
fn object(kind: &str, name: &str, annotations: &[(&str, &str)]) -> String {
    let meta = if annotations.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n{}", annotations_yaml(annotations))
    };
    let api = if kind == "Deployment" {
        "apps/v1"
    } else {
        "v1"
    };
    format!(
        "---\n# Source: t/templates/{name}.yaml\napiVersion: {api}\nkind: {kind}\nmetadata:\n  \
         name: {name}\n{meta}"
    )
}

fn annotations_yaml(annotations: &[(&str, &str)]) -> String {
    annotations
        .iter()
        .map(|(k, v)| format!("    {k}: {v:?}\n"))
        .collect()
}

/// Every mapping of issue 20, and objects that must not be flagged.
fn stream() -> String {
    let h = |events| ("helm.sh/hook", events);
    let policy = |p| ("helm.sh/hook-delete-policy", p);
    [
        job("install-only", &[h("pre-install"), policy(CLEAN)], ""),
        job("post-install-only", &[h("post-install"), policy(CLEAN)], ""),
        job("upgrade-only", &[h("pre-upgrade"), policy(CLEAN)], ""),
        job(
            "install-and-upgrade",
            &[h("pre-install,pre-upgrade"), policy(CLEAN)],
            "hook-sa",
        ),
        job(
            "post-both",
            &[h("post-install,post-upgrade"), policy(CLEAN)],
            "",
        ),
        job("rollback-only", &[h("pre-rollback"), policy(CLEAN)], ""),
        job(
            "upgrade-and-rollback",
            &[h("pre-install,pre-upgrade,post-rollback"), policy(CLEAN)],
            "",
        ),
        object(
            "Pod",
            "smoke-test",
            &[h("test"), policy("before-hook-creation")],
        ),
        job(
            "mixed-case",
            &[h("Pre-Install,Pre-Upgrade"), policy(CLEAN)],
            "",
        ),
        job(
            "argo-agrees",
            &[
                h("pre-install,pre-upgrade"),
                ("argocd.argoproj.io/hook", "PreSync"),
                policy(CLEAN),
            ],
            "",
        ),
        job(
            "argo-disagrees",
            &[
                h("post-install,post-upgrade"),
                ("argocd.argoproj.io/hook", "PreSync"),
                policy(CLEAN),
            ],
            "",
        ),
        job(
            "argo-misspelt",
            &[
                h("pre-install"),
                ("argocd.argoproj.io/hook", "Presync"),
                policy(CLEAN),
            ],
            "",
        ),
        job(
            "weight-vs-wave",
            &[
                h("pre-install,pre-upgrade"),
                ("helm.sh/hook-weight", "5"),
                ("argocd.argoproj.io/sync-wave", "-1"),
                policy(CLEAN),
            ],
            "",
        ),
        job(
            "weight-equals-wave",
            &[
                h("pre-install,pre-upgrade"),
                ("helm.sh/hook-weight", "5"),
                ("argocd.argoproj.io/sync-wave", "5"),
                policy(CLEAN),
            ],
            "",
        ),
        job("pre-delete", &[h("pre-delete"), policy(CLEAN)], ""),
        job("post-delete", &[h("post-delete")], ""),
        object("Secret", "certs", &[h("post-install,post-upgrade")]),
        format!(
            "{}spec:\n  template:\n    spec:\n      containers:\n      - name: app\n        \
             image: app:1.0\n      volumes:\n      - name: certs\n        secret:\n          \
             secretName: certs\n",
            object("Deployment", "app", &[])
        ),
        job(
            "migrate",
            &[
                h("pre-upgrade"),
                ("helm.sh/hook-weight", "1"),
                policy(CLEAN),
            ],
            "app-sa",
        ),
        object("ServiceAccount", "app-sa", &[]),
        object("Secret", "password", &[h("pre-install")]),
        object(
            "ServiceAccount",
            "hook-sa",
            &[h("pre-install,pre-upgrade"), ("helm.sh/hook-weight", "-5")],
        ),
        object("ConfigMap", "plain", &[]),
    ]
    .concat()
}

fn run(targets: &[Target]) -> Report {
    lint(
        &parse_manifests(&stream()).unwrap(),
        &Policy::builtin(),
        targets,
    )
}

/// The target findings of one object: (check, severity), sorted.
fn found(report: &Report, name: &str) -> Vec<(String, Level)> {
    let mut out: Vec<(String, Level)> = report
        .objects
        .iter()
        .filter(|o| o.name == name)
        .flat_map(|o| &o.findings)
        .filter(|f| f.target.is_some())
        .map(|f| (f.check.clone(), f.severity))
        .collect();
    out.sort();
    out
}

use Level::{Error as E, Warning as W};

#[test]
fn argocd_table() {
    let report = run(&[Target::Argocd]);
    let table: &[(&str, &[(&str, Level)])] = &[
        ("install-only", &[("argocd/runs-every-sync", W)]),
        ("post-install-only", &[("argocd/runs-every-sync", W)]),
        ("upgrade-only", &[("argocd/runs-at-first-sync", W)]),
        ("install-and-upgrade", &[]),
        ("post-both", &[]),
        ("rollback-only", &[("argocd/hook-ignored", E)]),
        ("upgrade-and-rollback", &[("argocd/hook-ignored", W)]),
        ("smoke-test", &[("argocd/test-hook-ignored", W)]),
        ("mixed-case", &[("argocd/hook-ignored", E)]),
        ("argo-agrees", &[]),
        ("argo-disagrees", &[("argocd/helm-hook-overridden", W)]),
        ("argo-misspelt", &[("argocd/runs-every-sync", W)]),
        ("weight-vs-wave", &[("argocd/weight-overridden", W)]),
        ("weight-equals-wave", &[]),
        ("pre-delete", &[("argocd/delete-hook-version", W)]),
        ("post-delete", &[("argocd/delete-hook-version", W)]),
        ("certs", &[("argocd/post-sync-deadlock", E)]),
        ("app", &[]),
        (
            "migrate",
            &[
                ("argocd/presync-before-resources", W),
                ("argocd/runs-at-first-sync", W),
            ],
        ),
        ("app-sa", &[]),
        ("password", &[("argocd/runs-every-sync", W)]),
        ("hook-sa", &[]),
        ("plain", &[]),
    ];
    check_table(&report, table);
    assert_eq!(report.targets, [Target::Argocd]);
    assert_eq!(report.exit_code(), 1, "the errors fail the run");
}

#[test]
fn flux_table() {
    let report = run(&[Target::Flux]);
    let table: &[(&str, &[(&str, Level)])] = &[
        ("install-only", &[]),
        ("install-and-upgrade", &[]),
        ("rollback-only", &[]),
        ("smoke-test", &[("flux/not-in-inventory", W)]),
        ("pre-delete", &[("flux/pre-delete-retried", W)]),
        (
            "post-delete",
            &[
                ("flux/delete-hook-left-behind", W),
                ("flux/post-delete-not-retried", W),
            ],
        ),
        ("certs", &[("flux/not-in-inventory", W)]),
        ("password", &[("flux/not-in-inventory", W)]),
        ("hook-sa", &[("flux/not-in-inventory", W)]),
        ("app", &[]),
        ("plain", &[]),
    ];
    check_table(&report, table);
}

#[test]
fn helm_target_adds_nothing() {
    let report = run(&[Target::Helm]);
    for object in &report.objects {
        assert_eq!(found(&report, &object.name), [], "{}", object.name);
    }
}

fn check_table(report: &Report, table: &[(&str, &[(&str, Level)])]) {
    let names: Vec<&str> = report.objects.iter().map(|o| o.name.as_str()).collect();
    for (name, expected) in table {
        let mut expected: Vec<(String, Level)> =
            expected.iter().map(|(c, l)| (c.to_string(), *l)).collect();
        expected.sort();
        assert!(
            names.contains(name) || expected.is_empty(),
            "{name} not reported"
        );
        assert_eq!(found(report, name), expected, "{name}");
    }
}

#[test]
fn findings_name_the_annotation_and_the_fix() {
    let report = run(&[Target::Argocd, Target::Flux]);
    let finding = |name: &str, check: &str| {
        report
            .objects
            .iter()
            .filter(|o| o.name == name)
            .flat_map(|o| &o.findings)
            .find(|f| f.check == check)
            .unwrap_or_else(|| panic!("{name}: no {check}"))
            .clone()
    };
    let f = finding("install-only", "argocd/runs-every-sync");
    assert_eq!(f.field, "metadata.annotations[helm.sh/hook]");
    assert_eq!(f.target, Some(Target::Argocd));
    assert!(
        f.message.contains("pre-install as PreSync"),
        "{}",
        f.message
    );
    assert!(f.fix.as_deref().unwrap().contains("idempotent"));
    let f = finding("password", "argocd/runs-every-sync");
    assert!(f.message.contains("generated password"), "{}", f.message);
    let f = finding("certs", "argocd/post-sync-deadlock");
    assert!(
        f.message
            .contains("Deployment/app needs it (spec.template.spec.volumes[0].secret.secretName)"),
        "{}",
        f.message
    );
    let f = finding("mixed-case", "argocd/hook-ignored");
    assert_eq!(f.fix.as_deref(), Some("write pre-install,pre-upgrade"));
    let f = finding("weight-vs-wave", "argocd/weight-overridden");
    assert_eq!(f.field, "metadata.annotations[helm.sh/hook-weight]");
    let f = finding("post-delete", "flux/delete-hook-left-behind");
    assert_eq!(f.field, "metadata.annotations[helm.sh/hook-delete-policy]");
    assert_eq!(f.target, Some(Target::Flux));
}

#[test]
fn helm_order_checks_only_for_targets_running_helm() {
    // A ServiceAccount named after the Job at the same weight: Helm runs it after the Job
    // (weight, then name); Argo CD orders by kind first, so only Helm and Flux are flagged.
    let text = [
        job("m", &[("helm.sh/hook", "pre-upgrade")], "m-sa"),
        object("ServiceAccount", "m-sa", &[("helm.sh/hook", "pre-upgrade")]),
    ]
    .concat();
    let objects = parse_manifests(&text).unwrap();
    let has_order = |targets: &[Target]| {
        lint(&objects, &Policy::builtin(), targets)
            .objects
            .iter()
            .flat_map(|o| &o.findings)
            .any(|f| f.check == "order/dependency-runs-later")
    };
    assert!(has_order(&[Target::Helm]));
    assert!(has_order(&[Target::Flux]));
    assert!(!has_order(&[Target::Argocd]));
    assert!(has_order(&[Target::Argocd, Target::Helm]));
}

#[test]
fn text_names_the_rule_and_json_the_target() {
    let report = run(&[Target::Argocd]);
    let mut out = Vec::new();
    write_text(&report, false, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(
            "  warning  metadata.annotations[helm.sh/hook]: Argo CD runs pre-install as PreSync"
        ),
        "{text}"
    );
    assert!(text.contains("[argocd/runs-every-sync]\n"), "{text}");
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(v["targets"], serde_json::json!(["argocd"]));
    let finding = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["findings"].as_array().unwrap())
        .find(|f| f["check"] == "argocd/runs-every-sync")
        .unwrap();
    assert_eq!(finding["target"], "argocd");
    assert!(finding["fix"].as_str().unwrap().contains("idempotent"));
    // Findings of the other checks carry neither.
    let policy = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["findings"].as_array().unwrap())
        .find(|f| f.get("target").is_none())
        .expect("a non-target finding");
    assert!(policy.get("fix").is_none());
}
