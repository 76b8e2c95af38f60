use super::*;
use serde_json::{Value, json};

fn job(annotations: Value, pod_spec: Value) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "db-migrate", "annotations": annotations},
        "spec": {"template": {"spec": pod_spec}}
    })
}

fn pod(annotations: Value, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "check", "annotations": annotations}, "spec": spec})
}

fn hook_annotations() -> Value {
    json!({"helm.sh/hook": "pre-upgrade"})
}

fn container() -> Value {
    json!({"name": "main", "image": "registry.example/app:1.2.3", "resources": {"limits": {"cpu": "1"}}})
}

fn patched(object: &Value, verdict: &Verdict) -> Value {
    let mut doc = object.clone();
    json_patch::patch(&mut doc, &verdict.patch).expect("patch applies");
    doc
}

fn rules_found(verdict: &Verdict) -> Vec<(RuleId, Mode, String)> {
    verdict
        .violations
        .iter()
        .map(|v| (v.rule, v.mode, v.field.clone()))
        .collect()
}

#[test]
fn non_hooks_are_untouched() {
    let object = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"}, "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "busybox", "securityContext": {"privileged": true}}]}}}});
    assert_eq!(
        evaluate(&Policy::builtin(), &object, Some("default")),
        Verdict::default()
    );
}

#[test]
fn a_raw_job_gets_every_default() {
    let object = job(
        hook_annotations(),
        json!({"restartPolicy": "Never", "containers": [container()], "initContainers": [container()]}),
    );
    let verdict = evaluate(&Policy::builtin(), &object, Some("shop"));
    let out = patched(&object, &verdict);
    assert_eq!(
        out["metadata"]["annotations"]["helm.sh/hook-delete-policy"],
        "before-hook-creation,hook-succeeded"
    );
    assert_eq!(out["spec"]["activeDeadlineSeconds"], 600);
    assert!(
        out["spec"].get("ttlSecondsAfterFinished").is_none(),
        "TTL is off by default"
    );
    let sc = &out["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(
        sc,
        &json!({"seccompProfile": {"type": "RuntimeDefault"}, "runAsNonRoot": true, "runAsUser": 65532})
    );
    for list in ["containers", "initContainers"] {
        assert_eq!(
            out["spec"]["template"]["spec"][list][0]["securityContext"],
            json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}})
        );
    }
    assert!(verdict.violations.is_empty(), "{:?}", verdict.violations);
    assert!(
        verdict
            .applied_defaults
            .contains(&AppliedDefault::DropCapabilities)
    );
}

#[test]
fn delete_policy_pointer_is_escaped() {
    let verdict = evaluate(
        &Policy::builtin(),
        &job(hook_annotations(), json!({"containers": [container()]})),
        None,
    );
    let first = serde_json::to_value(&verdict.patch[0]).unwrap();
    assert_eq!(
        first["path"],
        "/metadata/annotations/helm.sh~1hook-delete-policy"
    );
}

#[test]
fn explicit_values_are_never_changed() {
    let object = job(
        json!({"helm.sh/hook": "pre-upgrade", "helm.sh/hook-delete-policy": "hook-failed"}),
        json!({
            "securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "a", "image": "a:1", "securityContext": {"allowPrivilegeEscalation": true, "capabilities": {"drop": ["NET_RAW"]}}}]
        }),
    );
    let mut object = object;
    object["spec"]["activeDeadlineSeconds"] = json!(30);
    let out = patched(&object, &evaluate(&Policy::builtin(), &object, None));
    assert_eq!(
        out["metadata"]["annotations"]["helm.sh/hook-delete-policy"],
        "hook-failed"
    );
    assert_eq!(out["spec"]["activeDeadlineSeconds"], 30);
    let spec = &out["spec"]["template"]["spec"];
    assert_eq!(
        spec["securityContext"],
        json!({"runAsNonRoot": false, "seccompProfile": {"type": "Unconfined"}})
    );
    assert_eq!(
        spec["containers"][0]["securityContext"],
        json!({"allowPrivilegeEscalation": true, "capabilities": {"drop": ["NET_RAW"]}})
    );
}

#[test]
fn privileged_and_sys_admin_containers_never_get_allow_privilege_escalation_false() {
    let object = job(
        hook_annotations(),
        json!({"containers": [
            {"name": "p", "image": "a:1", "securityContext": {"privileged": true}},
            {"name": "s", "image": "a:1", "securityContext": {"capabilities": {"add": ["CAP_SYS_ADMIN"]}}}
        ]}),
    );
    let out = patched(&object, &evaluate(&Policy::builtin(), &object, None));
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers[0]["securityContext"],
        json!({"privileged": true})
    );
    assert!(
        containers[1]["securityContext"]
            .get("allowPrivilegeEscalation")
            .is_none()
    );
    assert_eq!(
        containers[1]["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
}

#[test]
fn run_as_non_root_is_not_added_where_anything_runs_as_root() {
    for spec in [
        json!({"securityContext": {"runAsUser": 0}, "containers": [container()]}),
        json!({"containers": [container(), {"name": "b", "image": "b:1", "securityContext": {"runAsUser": 0}}]}),
        json!({"initContainers": [{"name": "i", "image": "i:1", "securityContext": {"runAsUser": 0}}], "containers": [container()]}),
    ] {
        let object = job(hook_annotations(), spec);
        let out = patched(&object, &evaluate(&Policy::builtin(), &object, None));
        let sc = &out["spec"]["template"]["spec"]["securityContext"];
        assert!(sc.get("runAsNonRoot").is_none(), "{sc}");
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    }
}

#[test]
fn an_explicit_run_as_user_is_kept_and_non_root_added() {
    let object = pod(
        hook_annotations(),
        json!({"restartPolicy": "Never", "securityContext": {"runAsUser": 1000}, "containers": [container()]}),
    );
    let out = patched(&object, &evaluate(&Policy::builtin(), &object, None));
    assert_eq!(out["spec"]["securityContext"]["runAsUser"], 1000);
    assert_eq!(out["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(out["spec"]["activeDeadlineSeconds"], 600);
}

/// Issue 13: a chart's container set `runAsNonRoot: true` without `runAsUser`; the webhook
/// added pod-level `runAsUser: 65532`, so the container no longer ran as its image's own
/// non-root user. A container the chart already made non-root keeps its effective user.
#[test]
fn a_container_the_chart_made_non_root_keeps_its_image_user() {
    let non_root =
        json!({"name": "main", "image": "app:1", "securityContext": {"runAsNonRoot": true}});
    for spec in [
        json!({"containers": [non_root.clone()]}),
        json!({"initContainers": [non_root.clone()], "containers": [container()]}),
    ] {
        let object = job(hook_annotations(), spec);
        let out = patched(&object, &evaluate(&Policy::builtin(), &object, None));
        let sc = &out["spec"]["template"]["spec"]["securityContext"];
        assert!(
            sc.get("runAsUser").is_none(),
            "runAsUser changed the effective user: {sc}"
        );
        assert_eq!(sc["runAsNonRoot"], true, "{sc}");
    }
    // A container with its own runAsUser is unaffected by the pod's: the default still applies.
    let own_user = json!({"name": "main", "image": "app:1", "securityContext": {"runAsNonRoot": true, "runAsUser": 1001}});
    let object = job(
        hook_annotations(),
        json!({"containers": [own_user, container()]}),
    );
    let out = patched(&object, &evaluate(&Policy::builtin(), &object, None));
    assert_eq!(
        out["spec"]["template"]["spec"]["securityContext"]["runAsUser"],
        65532
    );
}

#[test]
fn ephemeral_containers_get_container_defaults() {
    let object = pod(
        hook_annotations(),
        json!({"restartPolicy": "Never", "containers": [container()], "ephemeralContainers": [{"name": "debug", "image": "busybox:1"}]}),
    );
    let out = patched(&object, &evaluate(&Policy::builtin(), &object, None));
    assert_eq!(
        out["spec"]["ephemeralContainers"][0]["securityContext"]["allowPrivilegeEscalation"],
        false
    );
}

#[test]
fn other_kinds_get_only_the_delete_policy() {
    let object = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "annotations": hook_annotations()}});
    let verdict = evaluate(&Policy::builtin(), &object, None);
    assert_eq!(verdict.applied_defaults, vec![AppliedDefault::DeletePolicy]);
    assert!(verdict.violations.is_empty());
}

#[test]
fn ttl_is_injected_when_configured() {
    let mut policy = Policy::builtin();
    policy.defaults.ttl_seconds_after_finished = Some(3600);
    let object = job(hook_annotations(), json!({"containers": [container()]}));
    assert_eq!(
        patched(&object, &evaluate(&policy, &object, None))["spec"]["ttlSecondsAfterFinished"],
        3600
    );
}

/// A Job hook on which every rule fires.
fn unsafe_job() -> Value {
    let mut object = job(
        json!({"helm.sh/hook": "pre-upgrade", "helm.sh/hook-delete-policy": "hook-succeed", "helm.sh/hook-weight": "5.0"}),
        json!({
            "hostNetwork": true, "hostPID": true,
            "volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}],
            "containers": [
                {"name": "a", "image": "busybox", "securityContext": {"privileged": true, "runAsUser": 0}},
                {"name": "b", "image": "app:latest", "resources": {"limits": {"memory": "1Gi"}}, "securityContext": {"allowPrivilegeEscalation": true, "capabilities": {"add": ["NET_BIND_SERVICE", "NET_ADMIN"]}}}
            ]
        }),
    );
    object["spec"]["activeDeadlineSeconds"] = json!(7200);
    object
}

#[test]
fn every_rule_reports_its_field_in_its_default_mode() {
    let object = unsafe_job();
    let verdict = evaluate(&Policy::builtin(), &object, Some("shop"));
    let found = rules_found(&verdict);
    let c = "spec.template.spec.containers";
    for expected in [
        (
            RuleId::DeletePolicyValues,
            Mode::Enforce,
            "metadata.annotations[helm.sh/hook-delete-policy]".to_string(),
        ),
        (
            RuleId::HookWeight,
            Mode::Enforce,
            "metadata.annotations[helm.sh/hook-weight]".to_string(),
        ),
        (
            RuleId::HostNamespaces,
            Mode::Enforce,
            "spec.template.spec.hostNetwork".to_string(),
        ),
        (
            RuleId::HostNamespaces,
            Mode::Enforce,
            "spec.template.spec.hostPID".to_string(),
        ),
        (
            RuleId::HostPath,
            Mode::Enforce,
            "spec.template.spec.volumes[0].hostPath".to_string(),
        ),
        (
            RuleId::Deadline,
            Mode::Enforce,
            "spec.activeDeadlineSeconds".to_string(),
        ),
        (
            RuleId::Privileged,
            Mode::Enforce,
            format!("{c}[0].securityContext.privileged"),
        ),
        (
            RuleId::RunAsRoot,
            Mode::Warn,
            format!("{c}[0].securityContext.runAsUser"),
        ),
        (RuleId::ImageTag, Mode::Warn, format!("{c}[0].image")),
        (
            RuleId::Resources,
            Mode::Audit,
            format!("{c}[0].resources.limits"),
        ),
        (
            RuleId::PrivilegeEscalation,
            Mode::Enforce,
            format!("{c}[1].securityContext.allowPrivilegeEscalation"),
        ),
        (
            RuleId::Capabilities,
            Mode::Enforce,
            format!("{c}[1].securityContext.capabilities.add"),
        ),
        (RuleId::ImageTag, Mode::Warn, format!("{c}[1].image")),
    ] {
        assert!(
            found.contains(&expected),
            "missing {expected:?} in {found:#?}"
        );
    }
    assert_eq!(
        found.iter().filter(|f| f.0 == RuleId::Capabilities).count(),
        1,
        "NET_BIND_SERVICE is allowed"
    );
    assert!(verdict.is_denied());
    let weight = verdict
        .violations
        .iter()
        .find(|v| v.rule == RuleId::DeletePolicyValues)
        .unwrap();
    assert!(
        weight.message.contains("did you mean \"hook-succeeded\""),
        "{weight}"
    );
    let deadline = verdict
        .violations
        .iter()
        .find(|v| v.rule == RuleId::Deadline)
        .unwrap();
    assert!(
        deadline
            .message
            .contains("7200s is above the maximum 3600s"),
        "{deadline}"
    );
}

#[test]
fn violation_lines_fit_an_admission_warning() {
    let mut objects = vec![unsafe_job()];
    let mut init = unsafe_job();
    init["spec"]["template"]["spec"]["initContainers"] =
        init["spec"]["template"]["spec"]["containers"].clone();
    objects.push(init);
    objects.push(pod(
        hook_annotations(),
        json!({"containers": [{"name": "a", "image": "busybox"}]}),
    ));
    for object in objects {
        for v in evaluate(&Policy::builtin(), &object, None).violations {
            let line = v.to_string();
            assert!(
                line.starts_with(&format!("{}: {}: ", v.rule, v.object)),
                "{line}"
            );
            // Warnings must fit the apiserver's display; denials may run a little longer.
            let limit = if v.mode == Mode::Warn { 120 } else { 150 };
            assert!(line.len() <= limit, "{} chars: {line}", line.len());
        }
    }
}

#[test]
fn pod_hooks_must_not_restart_forever() {
    for (spec, fragment) in [
        (
            json!({"containers": [container()]}),
            "unset defaults to Always",
        ),
        (
            json!({"restartPolicy": "Always", "containers": [container()]}),
            "Always never completes",
        ),
    ] {
        let verdict = evaluate(&Policy::builtin(), &pod(hook_annotations(), spec), None);
        let v = verdict
            .violations
            .iter()
            .find(|v| v.rule == RuleId::RestartPolicyAlways)
            .expect("flagged");
        assert_eq!(
            (v.mode, v.field.as_str()),
            (Mode::Enforce, "spec.restartPolicy")
        );
        assert!(v.message.contains(fragment));
    }
    let ok = evaluate(
        &Policy::builtin(),
        &pod(
            hook_annotations(),
            json!({"restartPolicy": "Never", "containers": [container()]}),
        ),
        None,
    );
    assert!(ok.violations.is_empty(), "{:?}", ok.violations);
}

#[test]
fn modes_exemptions_and_overrides_apply() {
    let policy = Policy::from_yaml(
        r#"
apiVersion: hooks.helm-hooks.io/v1alpha1
kind: HookPolicy
rules:
  privileged: warn
  image-tag: off
exemptNamespaces: [kube-system, break-glass]
namespaceOverrides:
  - namespaces: [legacy]
    rules:
      privileged: audit
      deadline: {mode: enforce, maxSeconds: 86400}
    defaults:
      activeDeadlineSeconds: 7200
"#,
    )
    .unwrap();
    let object = job(
        hook_annotations(),
        json!({"containers": [{"name": "a", "image": "busybox", "securityContext": {"privileged": true}}]}),
    );

    let shop = evaluate(&policy, &object, Some("shop"));
    assert_eq!(
        shop.violations
            .iter()
            .find(|v| v.rule == RuleId::Privileged)
            .unwrap()
            .mode,
        Mode::Warn
    );
    assert!(!shop.violations.iter().any(|v| v.rule == RuleId::ImageTag));
    assert!(!shop.is_denied());

    let legacy = evaluate(&policy, &object, Some("legacy"));
    assert_eq!(
        legacy
            .violations
            .iter()
            .find(|v| v.rule == RuleId::Privileged)
            .unwrap()
            .mode,
        Mode::Audit
    );
    assert_eq!(
        patched(&object, &legacy)["spec"]["activeDeadlineSeconds"],
        7200
    );

    let exempt = evaluate(&policy, &object, Some("break-glass"));
    assert!(
        exempt.is_hook && exempt.exempt && exempt.patch.is_empty() && exempt.violations.is_empty()
    );
}

#[test]
fn policy_errors_name_the_field_and_the_fix() {
    for (yaml, field, fragment) in [
        (
            "rules: {privilegd: enforce}",
            "line",
            "did you mean \"privileged\"",
        ),
        (
            "rules: {privileged: enfroce}",
            "line",
            "did you mean \"enforce\"",
        ),
        (
            "rules: {privileged: {mode: warn, maxSeconds: 5}}",
            "rules.privileged.maxSeconds",
            "only the deadline rule",
        ),
        (
            "defaults: {deletePolicy: hook-succeed, activeDeadlineSeconds: 600, securityContext: {profile: restricted, runAsUser: 1}}",
            "defaults.deletePolicy",
            "did you mean",
        ),
        (
            "defaults: {deletePolicy: hook-succeeded, activeDeadlineSeconds: 600, securityContext: {profile: restricted, runAsUser: 1}}",
            "defaults.deletePolicy",
            "before-hook-creation",
        ),
        (
            "defaults: {deletePolicy: null, activeDeadlineSeconds: 9000, securityContext: {profile: restricted, runAsUser: 1}}",
            "defaults.activeDeadlineSeconds",
            "maxSeconds",
        ),
        ("kind: Policy", "kind", "HookPolicy"),
        ("exemptNamespace: [a]", "line", "unknown field"),
    ] {
        let error = Policy::from_yaml(yaml).unwrap_err();
        assert!(error.field.starts_with(field), "{yaml}: {error}");
        assert!(error.to_string().contains(fragment), "{yaml}: {error}");
    }
}

#[test]
fn the_builtin_policy_round_trips_through_yaml() {
    let yaml = Policy::builtin().to_yaml();
    assert_eq!(Policy::from_yaml(&yaml).unwrap(), Policy::builtin());
    assert!(
        yaml.contains("deadline:\n    mode: enforce\n    maxSeconds: 3600"),
        "{yaml}"
    );
    assert_eq!(Policy::from_yaml("{}").unwrap(), Policy::builtin());
}

#[test]
fn patch_is_accepted_on_apiserver_defaulted_objects() {
    // What the webhook receives: Kubernetes defaults applied, securityContext present but empty.
    let object = pod(
        hook_annotations(),
        json!({"restartPolicy": "Never", "dnsPolicy": "ClusterFirst", "securityContext": {},
               "containers": [{"name": "a", "image": "a:1", "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log", "resources": {}}]}),
    );
    let verdict = evaluate(&Policy::builtin(), &object, Some("ns"));
    let out = patched(&object, &verdict);
    assert_eq!(out["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(evaluate(&Policy::builtin(), &out, Some("ns")).patch, vec![]);
}

#[test]
fn partial_defaults_keep_the_builtin_values_and_null_switches_off() {
    let policy = Policy::from_yaml("defaults: {activeDeadlineSeconds: 300}").unwrap();
    let builtin = Policy::builtin().defaults;
    assert_eq!(policy.defaults.active_deadline_seconds, Some(300));
    assert_eq!(policy.defaults.delete_policy, builtin.delete_policy);
    assert_eq!(policy.defaults.security_context, builtin.security_context);

    let policy =
        Policy::from_yaml("defaults: {deletePolicy: null, securityContext: {profile: none}}")
            .unwrap();
    assert_eq!(policy.defaults.delete_policy, None);
    assert_eq!(policy.defaults.active_deadline_seconds, Some(600));
    assert_eq!(
        policy.defaults.security_context.profile,
        SecurityProfile::None
    );
    assert_eq!(policy.defaults.security_context.run_as_user, 65532);
}
