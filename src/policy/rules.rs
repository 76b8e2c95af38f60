//! The rules: each looks at the object as patched and reports findings with the field path
//! and the fix. Messages stay short: the apiserver truncates long warnings.

use super::containers::{ContainerRef, containers, normalize_capability};
use super::document::RuleId;
use super::effective::EffectivePolicy;
use super::verdict::Violation;
use crate::hook::{DiagnosticKind, ParsedHook};
use crate::workload::Workload;
use serde_json::Value;

/// One finding before the policy gives it a mode.
struct Finding {
    rule: RuleId,
    field: String,
    message: String,
}

fn finding(rule: RuleId, field: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        rule,
        field: field.into(),
        message: message.into(),
    }
}

/// Runs every rule that is not `off` in `policy`.
pub fn check(
    policy: &EffectivePolicy,
    object: &Value,
    hook: &ParsedHook,
    object_name: &str,
) -> Vec<Violation> {
    let workload = Workload::of(object);
    let mut findings = annotation_findings(hook);
    if let Some(tokens) = workload.pod_spec_tokens() {
        let spec = object
            .pointer(&super::patch::pointer(tokens))
            .unwrap_or(&Value::Null);
        pod_findings(policy, workload, object, spec, &mut findings);
    }
    findings
        .into_iter()
        .filter_map(|f| {
            let mode = policy.mode(f.rule);
            (mode != super::Mode::Off).then(|| Violation {
                rule: f.rule,
                mode,
                object: object_name.to_string(),
                field: f.field,
                message: f.message,
            })
        })
        .collect()
}

/// The rule that judges an annotation diagnostic, if any (the others are `lint`'s alone:
/// Helm drops an object with an unknown event before it reaches the cluster).
pub fn rule_of(kind: &DiagnosticKind) -> Option<RuleId> {
    match kind {
        DiagnosticKind::UnknownDeletePolicy { .. } | DiagnosticKind::EmptyDeletePolicy => {
            Some(RuleId::DeletePolicyValues)
        }
        DiagnosticKind::WeightNotInteger => Some(RuleId::HookWeight),
        DiagnosticKind::AnnotationTooLarge => Some(RuleId::AnnotationSize),
        _ => None,
    }
}

fn annotation_findings(hook: &ParsedHook) -> Vec<Finding> {
    let mut findings = Vec::new();
    for d in &hook.diagnostics {
        let Some(rule) = rule_of(&d.kind) else {
            continue;
        };
        let message = match &d.kind {
            DiagnosticKind::UnknownDeletePolicy {
                suggestion: Some(s),
            } => {
                format!("{:?} is unknown; did you mean {s:?}?", d.value)
            }
            DiagnosticKind::UnknownDeletePolicy { suggestion: None } => {
                format!(
                    "{:?} is unknown; use before-hook-creation, hook-succeeded, hook-failed",
                    d.value
                )
            }
            DiagnosticKind::EmptyDeletePolicy => {
                "\"\" turns off before-hook-creation; name a policy".into()
            }
            DiagnosticKind::AnnotationTooLarge => d.message.clone(),
            _ => format!("{:?} is read as 0; write an integer", d.value),
        };
        findings.push(finding(
            rule,
            crate::hook::annotation_field(d.annotation),
            message,
        ));
    }
    findings
}

fn pod_findings(
    policy: &EffectivePolicy,
    workload: Workload,
    object: &Value,
    spec: &Value,
    out: &mut Vec<Finding>,
) {
    let base = workload.pod_spec_path();
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field).and_then(Value::as_bool) == Some(true) {
            out.push(finding(
                RuleId::HostNamespaces,
                format!("{base}.{field}"),
                format!("shares the node's namespace; remove {field}: true"),
            ));
        }
    }
    for (i, volume) in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if volume.get("hostPath").is_some() {
            out.push(finding(
                RuleId::HostPath,
                format!("{base}.volumes[{i}].hostPath"),
                "mounts a node path; use emptyDir, a ConfigMap or a PVC",
            ));
        }
    }
    if workload == Workload::Pod {
        match spec.get("restartPolicy").and_then(Value::as_str) {
            None => out.push(finding(
                RuleId::RestartPolicyAlways,
                "spec.restartPolicy",
                "unset defaults to Always, Helm waits forever; set Never or OnFailure",
            )),
            Some("Always") => out.push(finding(
                RuleId::RestartPolicyAlways,
                "spec.restartPolicy",
                "Always never completes, Helm waits forever; set Never or OnFailure",
            )),
            Some(_) => {}
        }
    }
    match object
        .pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
    {
        None => out.push(finding(
            RuleId::Deadline,
            "spec.activeDeadlineSeconds",
            "unset: a hung hook runs forever after Helm gives up; set e.g. 600",
        )),
        Some(seconds) => {
            if let Some(max) = policy.rule(RuleId::Deadline).max_seconds
                && seconds > max
            {
                out.push(finding(
                    RuleId::Deadline,
                    "spec.activeDeadlineSeconds",
                    format!("{seconds}s is above the maximum {max}s; lower it"),
                ));
            }
        }
    }
    let allowed: Vec<String> = policy
        .rule(RuleId::Capabilities)
        .allowed
        .iter()
        .flatten()
        .map(|c| normalize_capability(c))
        .collect();
    for container in containers(spec) {
        container_findings(&container, workload, spec, &allowed, out);
    }
}

fn container_findings(
    container: &ContainerRef<'_>,
    workload: Workload,
    spec: &Value,
    allowed_caps: &[String],
    out: &mut Vec<Finding>,
) {
    let at = container.path(workload);
    let sc = |field: &str| format!("{at}.securityContext.{field}");
    if container.security("privileged").and_then(Value::as_bool) == Some(true) {
        out.push(finding(
            RuleId::Privileged,
            sc("privileged"),
            "privileged container; remove it",
        ));
    }
    if container
        .security("allowPrivilegeEscalation")
        .and_then(Value::as_bool)
        == Some(true)
    {
        out.push(finding(
            RuleId::PrivilegeEscalation,
            sc("allowPrivilegeEscalation"),
            "set it to false",
        ));
    }
    let added = container
        .security("capabilities")
        .and_then(|c| c.get("add"))
        .and_then(Value::as_array);
    for cap in added.into_iter().flatten().filter_map(Value::as_str) {
        if !allowed_caps.contains(&normalize_capability(cap)) {
            let allowed = if allowed_caps.is_empty() {
                "none".to_string()
            } else {
                allowed_caps.join(", ")
            };
            out.push(finding(
                RuleId::Capabilities,
                sc("capabilities.add"),
                format!("adds {cap}; allowed: {allowed}"),
            ));
        }
    }

    let pod = |f: &str| spec.pointer(&format!("/securityContext/{f}"));
    let uid = container
        .security("runAsUser")
        .or_else(|| pod("runAsUser"))
        .and_then(Value::as_i64);
    let non_root = container
        .security("runAsNonRoot")
        .or_else(|| pod("runAsNonRoot"))
        .and_then(Value::as_bool);
    match uid {
        Some(0) => out.push(finding(
            RuleId::RunAsRoot,
            sc("runAsUser"),
            "runs as root; set a UID > 0",
        )),
        None if non_root != Some(true) => out.push(finding(
            RuleId::RunAsRoot,
            sc("runAsNonRoot"),
            "may be root; set true",
        )),
        _ => {}
    }

    if container.list != "ephemeralContainers" {
        if let Some(image) = container.value.get("image").and_then(Value::as_str)
            && let Some(problem) = image_tag_problem(image)
        {
            out.push(finding(
                RuleId::ImageTag,
                format!("{at}.image"),
                format!("{image} {problem}; pin a version or digest"),
            ));
        }
        let limits = container
            .value
            .pointer("/resources/limits")
            .and_then(Value::as_object);
        if limits.is_none_or(|l| l.is_empty()) {
            out.push(finding(
                RuleId::Resources,
                format!("{at}.resources.limits"),
                "no limits; set cpu and memory limits",
            ));
        }
    }
}

/// `Some("has no tag")` / `Some("uses :latest")` for images that float.
fn image_tag_problem(image: &str) -> Option<&'static str> {
    if image.contains('@') {
        return None;
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    match last_segment.split_once(':') {
        None => Some("has no tag"),
        Some((_, "latest")) => Some("uses :latest"),
        Some(_) => None,
    }
}
