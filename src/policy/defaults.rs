//! Injects the policy's defaults, each only where the field is absent: never raising or
//! lowering an explicit value, and never producing a pair the apiserver rejects.

use super::containers::{containers, is_capability};
use super::document::{HookDefaults, SecurityProfile};
use super::patch::{PatchBuilder, pointer};
use super::verdict::AppliedDefault;
use crate::hook::DELETE_POLICY_ANNOTATION;
use crate::workload::Workload;
use serde_json::{Value, json};

/// Adds every applicable default to `builder`, recording which ones in `applied`.
pub fn apply(
    defaults: &HookDefaults,
    workload: Workload,
    builder: &mut PatchBuilder,
    applied: &mut Vec<AppliedDefault>,
) {
    let mut set =
        |builder: &mut PatchBuilder, tokens: &[&str], value: Value, what: AppliedDefault| {
            let ptr = pointer(tokens);
            if builder.is_absent(&ptr) && builder.ensure_object(&tokens[..tokens.len() - 1]) {
                builder.add(&ptr, value);
                applied.push(what);
            }
        };

    if let Some(policy) = &defaults.delete_policy {
        set(
            builder,
            &["metadata", "annotations", DELETE_POLICY_ANNOTATION],
            json!(policy),
            AppliedDefault::DeletePolicy,
        );
    }
    let Some(pod_spec) = workload.pod_spec_tokens() else {
        return;
    };

    if let Some(seconds) = defaults.active_deadline_seconds {
        set(
            builder,
            &["spec", "activeDeadlineSeconds"],
            json!(seconds),
            AppliedDefault::ActiveDeadlineSeconds,
        );
    }
    if let (Workload::Job, Some(seconds)) = (workload, defaults.ttl_seconds_after_finished) {
        set(
            builder,
            &["spec", "ttlSecondsAfterFinished"],
            json!(seconds),
            AppliedDefault::TtlSecondsAfterFinished,
        );
    }
    if defaults.security_context.profile == SecurityProfile::None {
        return;
    }
    let Some(spec) = builder.get(&pointer(pod_spec)).cloned() else {
        return;
    };
    if !spec.is_object() {
        return;
    }

    let pod_sc = |field: &'static str| -> Vec<&str> {
        let mut tokens = pod_spec.to_vec();
        tokens.extend(["securityContext", field]);
        tokens
    };
    set(
        builder,
        &pod_sc("seccompProfile"),
        json!({"type": "RuntimeDefault"}),
        AppliedDefault::SeccompProfile,
    );

    // runAsNonRoot: true would stop a container that anything runs as UID 0, or that opted
    // out with runAsNonRoot: false, from starting at all.
    let all = containers(&spec);
    let is_zero = |v: Option<&Value>| v.and_then(Value::as_i64) == Some(0);
    let runs_as_root = is_zero(spec.pointer("/securityContext/runAsUser"))
        || all.iter().any(|c| is_zero(c.security("runAsUser")));
    let opts_out = all
        .iter()
        .any(|c| c.security("runAsNonRoot").and_then(Value::as_bool) == Some(false));
    if !runs_as_root && !opts_out && builder.is_absent(&pointer(&pod_sc("runAsNonRoot"))) {
        set(
            builder,
            &pod_sc("runAsNonRoot"),
            json!(true),
            AppliedDefault::RunAsNonRoot,
        );
        set(
            builder,
            &pod_sc("runAsUser"),
            json!(defaults.security_context.run_as_user),
            AppliedDefault::RunAsUser,
        );
    }

    for container in &all {
        // The apiserver rejects allowPrivilegeEscalation: false beside privileged: true or
        // CAP_SYS_ADMIN; a privileged container is the privileged rule's business.
        if container.security("privileged").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let index = container.index.to_string();
        let sc = |field: &'static str| -> Vec<&str> {
            let mut tokens = pod_spec.to_vec();
            tokens.extend([container.list, index.as_str(), "securityContext", field]);
            tokens
        };
        let adds_sys_admin = container
            .security("capabilities")
            .and_then(|c| c.get("add"))
            .and_then(Value::as_array)
            .is_some_and(|add| add.iter().any(|cap| is_capability(cap, "SYS_ADMIN")));
        if !adds_sys_admin {
            set(
                builder,
                &sc("allowPrivilegeEscalation"),
                json!(false),
                AppliedDefault::AllowPrivilegeEscalation,
            );
        }
        let mut drop = sc("capabilities");
        drop.push("drop");
        set(
            builder,
            &drop,
            json!(["ALL"]),
            AppliedDefault::DropCapabilities,
        );
    }
}
