//! The policy as in-apiserver admission policies (`admissionregistration.k8s.io/v1`), for
//! clusters without admission webhooks: per `HookPolicy`, a MutatingAdmissionPolicy that
//! injects the defaults (JSONPatch built in CEL, each default only where the field is absent,
//! exactly as [`super::evaluate`] does), and three ValidatingAdmissionPolicies holding every
//! rule, bound with `validationActions` `[Deny]`, `[Warn]` and `[Audit]`: a rule's check fires
//! in the one whose mode is the rule's mode in the request's namespace (`off`: in none).
//!
//! Everything is guarded by what the webhook decides before the rules: the object carries
//! `helm.sh/hook` (`matchConditions`), the `HookPolicy` is the one in force in the namespace
//! (its selector matches the namespace's labels and no policy of higher precedence does; see
//! [`super::resource`]), and the namespace is not exempt. Namespace overrides become CEL
//! conditionals on the namespace's name, first override first. The bindings carry the same
//! `namespaceSelector` as `deploy/`'s webhook configurations.
//!
//! Each rule and default of the document has a CEL counterpart today; [`Export::gaps`] lists
//! what a policy asks for that has none (empty unless a later rule cannot be expressed).

use super::document::{Mode, Policy, RuleId};
use super::resource::{HookPolicyObject, LabelSelector, PolicySet, SelectorOperator};
use crate::hook::{
    DELETE_POLICY_ANNOTATION, DeletePolicy, HOOK_ANNOTATION, MAX_ANNOTATION_BYTES,
    MAX_ANNOTATION_ITEMS, OUTPUT_LOG_POLICY_ANNOTATION, WEIGHT_ANNOTATION,
};
use serde_json::{Value, json};

/// The API version of the exported objects.
pub const ADMISSION_API_VERSION: &str = "admissionregistration.k8s.io/v1";

/// A rule or default that the exported policies cannot enforce as the webhook does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The `HookPolicy` it belongs to.
    pub policy: String,
    /// The rule id or default (`defaults.deletePolicy`).
    pub what: String,
    /// Why, and what happens instead.
    pub reason: String,
}

/// The exported objects, and what they cannot express.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// Policies and their bindings, in apply order (each policy before its bindings).
    pub objects: Vec<Value>,
    /// What is not expressed; an empty list means the export decides as the webhook does.
    pub gaps: Vec<Gap>,
}

/// Exports `set` (an empty set exports the built-in policy as `default`). `prefix` starts
/// every object's name (e.g. `helm-hooks`).
pub fn export(set: &PolicySet, prefix: &str) -> Export {
    let builtin;
    let objects: &[HookPolicyObject] = if set.is_empty() {
        builtin = [HookPolicyObject {
            name: "default".into(),
            priority: 0,
            namespace_selector: None,
            policy: Policy::builtin(),
        }];
        &builtin
    } else {
        set.objects()
    };
    let mut out = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        let in_force = in_force(object, &objects[..i]);
        let name = format!("{prefix}-{}", object.name);
        let variables = variables(&object.policy, &in_force);
        out.push(mutating_policy(&name, &variables, &object.policy));
        out.push(binding("MutatingAdmissionPolicyBinding", &name, None));
        for (mode, action) in [
            (Mode::Enforce, "Deny"),
            (Mode::Warn, "Warn"),
            (Mode::Audit, "Audit"),
        ] {
            let vname = format!("{name}-{mode}");
            out.push(validating_policy(&vname, &variables, mode));
            out.push(binding(
                "ValidatingAdmissionPolicyBinding",
                &vname,
                Some(action),
            ));
        }
    }
    Export {
        objects: out,
        gaps: Vec::new(),
    }
}

/// A CEL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn list_lit<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(lit).collect();
    format!("[{}]", items.join(", "))
}

/// CEL: whether `selector` matches `variables.nsLabels`.
fn selector_cel(selector: &Option<LabelSelector>) -> String {
    let Some(selector) = selector else {
        return "true".into();
    };
    let mut terms: Vec<String> = selector
        .match_labels
        .iter()
        .map(|(k, v)| {
            format!(
                "({k} in variables.nsLabels && variables.nsLabels[{k}] == {v})",
                k = lit(k),
                v = lit(v)
            )
        })
        .collect();
    for r in &selector.match_expressions {
        let k = lit(&r.key);
        let values = list_lit(r.values.iter().map(String::as_str));
        terms.push(match r.operator {
            SelectorOperator::In => {
                format!("({k} in variables.nsLabels && variables.nsLabels[{k}] in {values})")
            }
            SelectorOperator::NotIn => {
                format!("(!({k} in variables.nsLabels) || !(variables.nsLabels[{k}] in {values}))")
            }
            SelectorOperator::Exists => format!("({k} in variables.nsLabels)"),
            SelectorOperator::DoesNotExist => format!("!({k} in variables.nsLabels)"),
        });
    }
    if terms.is_empty() {
        "true".into()
    } else {
        terms.join(" && ")
    }
}

/// CEL: `object` is the policy in force: it selects the namespace and none of `higher` does.
fn in_force(object: &HookPolicyObject, higher: &[HookPolicyObject]) -> String {
    let mut cel = format!("({})", selector_cel(&object.namespace_selector));
    for h in higher {
        cel.push_str(&format!(" && !({})", selector_cel(&h.namespace_selector)));
    }
    cel
}

/// CEL: `value_of(setting)` per namespace: the first override naming the namespace, else the
/// document's.
fn per_namespace(policy: &Policy, value: impl Fn(Option<usize>) -> String) -> String {
    let mut cel = value(None);
    for (i, over) in policy.namespace_overrides.iter().enumerate().rev() {
        let names = list_lit(over.namespaces.iter().map(String::as_str));
        let here = value(Some(i));
        if here != cel {
            cel = format!("(variables.ns in {names} ? {here} : {cel})");
        }
    }
    cel
}

fn mode_var(rule: RuleId) -> String {
    format!("mode_{}", rule.as_str().replace('-', "_"))
}

/// The variables every exported policy of one `HookPolicy` shares.
fn variables(policy: &Policy, in_force: &str) -> Vec<Value> {
    let over = |i: Option<usize>| i.map(|i| &policy.namespace_overrides[i]);
    let mut vars = vec![
        ("nsLabels", "namespaceObject == null ? {} : (has(namespaceObject.metadata.labels) ? namespaceObject.metadata.labels : {})".to_string()),
        ("ns", "request.namespace != '' ? request.namespace : (has(object.metadata.namespace) ? object.metadata.namespace : '')".to_string()),
        ("exempt", format!("variables.ns != '' && variables.ns in {}", list_lit(policy.exempt_namespaces.iter().map(String::as_str)))),
        ("active", format!("({in_force}) && !variables.exempt")),
        ("annotations", "object.metadata.annotations".to_string()),
        ("workload", "object.apiVersion == 'v1' && object.kind == 'Pod' ? 'Pod' : (object.apiVersion == 'batch/v1' && object.kind == 'Job' ? 'Job' : '')".to_string()),
        ("podPath", "variables.workload == 'Pod' ? '/spec' : '/spec/template/spec'".to_string()),
        ("spec", "variables.workload == 'Pod' && has(object.spec) ? object.spec : (variables.workload == 'Job' && has(object.spec) && has(object.spec.template) && has(object.spec.template.spec) ? object.spec.template.spec : {})".to_string()),
        ("podSC", "has(variables.spec.securityContext) ? variables.spec.securityContext : {}".to_string()),
        ("containers", "(has(variables.spec.containers) ? variables.spec.containers : []) + (has(variables.spec.initContainers) ? variables.spec.initContainers : [])".to_string()),
        ("allContainers", "variables.containers + (has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers : [])".to_string()),
    ];
    let mut owned: Vec<(String, String)> =
        vars.drain(..).map(|(n, e)| (n.to_string(), e)).collect();
    for rule in RuleId::ALL {
        owned.push((
            mode_var(rule),
            per_namespace(policy, |i| {
                lit(policy.rule_with(rule, over(i)).mode.as_str())
            }),
        ));
    }
    owned.push((
        "maxSeconds".into(),
        per_namespace(policy, |i| {
            policy
                .rule_with(RuleId::Deadline, over(i))
                .max_seconds
                .unwrap_or(0)
                .to_string()
        }),
    ));
    owned.push((
        "allowedCaps".into(),
        per_namespace(policy, |i| {
            let allowed: Vec<String> = policy
                .rule_with(RuleId::Capabilities, over(i))
                .allowed
                .iter()
                .flatten()
                .map(|c| super::containers::normalize_capability(c))
                .collect();
            list_lit(allowed.iter().map(String::as_str))
        }),
    ));
    let defaults = |i: Option<usize>| policy.defaults_with(over(i));
    owned.push((
        "deletePolicy".into(),
        per_namespace(policy, |i| {
            lit(defaults(i).delete_policy.as_deref().unwrap_or(""))
        }),
    ));
    owned.push((
        "deadline".into(),
        per_namespace(policy, |i| {
            defaults(i).active_deadline_seconds.unwrap_or(0).to_string()
        }),
    ));
    owned.push((
        "ttl".into(),
        per_namespace(policy, |i| {
            defaults(i)
                .ttl_seconds_after_finished
                .unwrap_or(0)
                .to_string()
        }),
    ));
    owned.push((
        "restricted".into(),
        per_namespace(policy, |i| {
            (defaults(i).security_context.profile == super::SecurityProfile::Restricted).to_string()
        }),
    ));
    owned
        .into_iter()
        .map(|(name, expression)| json!({"name": name, "expression": expression}))
        .collect()
}

/// CEL: a capability entry normalised as the core does (`cap_sys_admin` → `SYS_ADMIN`).
fn normalized(cap: &str) -> String {
    let up = format!("{cap}.trim().upperAscii()");
    format!("({up}.startsWith('CAP_') ? {up}.substring(4) : {up})")
}

/// CEL: a container's securityContext field, or absent.
fn sc_has(c: &str, field: &str) -> String {
    format!("(has({c}.securityContext) && has({c}.securityContext.{field}))")
}

/// CEL: whether an annotation value is over the size limit (not parsed further).
fn too_large(value: &str) -> String {
    format!(
        "(size(bytes({value})) > {MAX_ANNOTATION_BYTES} || size({value}.split(',')) > {MAX_ANNOTATION_ITEMS})"
    )
}

/// CEL that is true when `rule` finds something on the (patched) object, and its message.
fn violation(rule: RuleId) -> (String, &'static str) {
    let a = "variables.annotations";
    let pod = "variables.workload != ''";
    match rule {
        RuleId::Privileged => (
            format!("{pod} && variables.allContainers.exists(c, {} && c.securityContext.privileged == true)", sc_has("c", "privileged")),
            "privileged container; remove securityContext.privileged",
        ),
        RuleId::HostNamespaces => (
            format!("{pod} && ['hostNetwork', 'hostPID', 'hostIPC'].exists(f, f in variables.spec && variables.spec[f] == true)"),
            "shares the node's network, PID or IPC namespace; remove hostNetwork/hostPID/hostIPC",
        ),
        RuleId::HostPath => (
            format!("{pod} && has(variables.spec.volumes) && variables.spec.volumes.exists(v, has(v.hostPath))"),
            "mounts a node path (hostPath); use emptyDir, a ConfigMap or a PVC",
        ),
        RuleId::Capabilities => (
            format!(
                "{pod} && variables.allContainers.exists(c, {} && has(c.securityContext.capabilities.add) && c.securityContext.capabilities.add.exists(cap, !({} in variables.allowedCaps)))",
                sc_has("c", "capabilities"),
                normalized("cap")
            ),
            "adds a capability that is not allowed; remove it from capabilities.add",
        ),
        RuleId::PrivilegeEscalation => (
            format!("{pod} && variables.allContainers.exists(c, {} && c.securityContext.allowPrivilegeEscalation == true)", sc_has("c", "allowPrivilegeEscalation")),
            "allowPrivilegeEscalation: true; set it to false",
        ),
        RuleId::RunAsRoot => (
            format!(
                "{pod} && variables.allContainers.exists(c, {uid} ? c.securityContext.runAsUser == 0 : (has(variables.podSC.runAsUser) ? variables.podSC.runAsUser == 0 : !({nonroot} ? c.securityContext.runAsNonRoot == true : (has(variables.podSC.runAsNonRoot) && variables.podSC.runAsNonRoot == true))))",
                uid = sc_has("c", "runAsUser"),
                nonroot = sc_has("c", "runAsNonRoot"),
            ),
            "a container runs, or may run, as root; set runAsNonRoot: true or a UID > 0",
        ),
        RuleId::RestartPolicyAlways => (
            "variables.workload == 'Pod' && (!has(variables.spec.restartPolicy) || variables.spec.restartPolicy == 'Always')".into(),
            "a Pod hook that restarts Always never completes, Helm waits forever; set restartPolicy Never or OnFailure",
        ),
        RuleId::Deadline => (
            format!("{pod} && (!has(object.spec.activeDeadlineSeconds) || (variables.maxSeconds > 0 && object.spec.activeDeadlineSeconds > variables.maxSeconds))"),
            "spec.activeDeadlineSeconds unset or above the maximum; set one within it",
        ),
        RuleId::DeletePolicyValues => (
            format!(
                "{k} in {a} && !{large} && {a}[{k}].split(',').exists(p, !(p.trim().lowerAscii() in {known}))",
                k = lit(DELETE_POLICY_ANNOTATION),
                large = too_large(&format!("{a}[{}]", lit(DELETE_POLICY_ANNOTATION))),
                known = list_lit(DeletePolicy::KNOWN),
            ),
            "unknown or empty helm.sh/hook-delete-policy; use before-hook-creation, hook-succeeded, hook-failed",
        ),
        RuleId::HookWeight => {
            let w = format!("{a}[{}]", lit(WEIGHT_ANNOTATION));
            let digits = format!("({w}.matches('^[+-]') ? {w}.substring(1) : {w})");
            let significant = format!("{digits}.find('[1-9][0-9]*')");
            let limit = format!("({w}.startsWith('-') ? '9223372036854775808' : '9223372036854775807')");
            (
                format!(
                    "{k} in {a} && (!{w}.matches('^[+-]?[0-9]+$') || size({significant}) > 19 || (size({significant}) == 19 && {significant} > {limit}))",
                    k = lit(WEIGHT_ANNOTATION),
                ),
                "helm.sh/hook-weight is not an integer, Helm reads it as 0; write an integer",
            )
        }
        RuleId::AnnotationSize => (
            [HOOK_ANNOTATION, DELETE_POLICY_ANNOTATION, OUTPUT_LOG_POLICY_ANNOTATION]
                .map(|k| format!("({} in {a} && {})", lit(k), too_large(&format!("{a}[{}]", lit(k)))))
                .join(" || "),
            "a hook annotation is over 1024 bytes or 32 items; write only the values Helm knows, once each",
        ),
        RuleId::ImageTag => (
            format!("{pod} && variables.containers.exists(c, has(c.image) && !c.image.contains('@') && (!c.image.find('[^/]*$').contains(':') || c.image.find('[^/]*$').matches('^[^:]*:latest$')))"),
            "an image without a tag, or with :latest; pin a version or digest",
        ),
        RuleId::Resources => (
            format!("{pod} && variables.containers.exists(c, !has(c.resources) || !has(c.resources.limits) || size(c.resources.limits) == 0)"),
            "a container without resource limits; set cpu and memory limits",
        ),
    }
}

fn match_constraints() -> Value {
    json!({
        "resourceRules": [{
            "apiGroups": ["*"],
            "apiVersions": ["*"],
            "resources": ["*"],
            "operations": ["CREATE"],
            "scope": "*",
        }],
    })
}

fn match_conditions() -> Value {
    json!([{
        "name": "is-helm-hook",
        "expression": "has(object.metadata.annotations) && 'helm.sh/hook' in object.metadata.annotations",
    }])
}

fn validating_policy(name: &str, variables: &[Value], mode: Mode) -> Value {
    let validations: Vec<Value> = RuleId::ALL
        .into_iter()
        .map(|rule| {
            let (finds, message) = violation(rule);
            json!({
                "expression": format!(
                    "!variables.active || variables.{} != {} || !({finds})",
                    mode_var(rule),
                    lit(mode.as_str())
                ),
                "message": format!("helm-hooks rule {rule} ({mode}): {message}"),
                "reason": "Forbidden",
            })
        })
        .collect();
    json!({
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "helm-hooks"}},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": match_constraints(),
            "matchConditions": match_conditions(),
            "variables": variables,
            "validations": validations,
        },
    })
}

/// One JSONPatch `add` when `condition` holds, as a CEL list of zero or one operation.
fn add_if(condition: &str, path: &str, value: &str) -> String {
    format!("({condition} ? [JSONPatch{{op: 'add', path: {path}, value: {value}}}] : [])")
}

/// The per-container defaults of one container list (JSONPatch paths need each index).
fn container_patches(list: &str) -> Vec<String> {
    let at = format!("variables.podPath + '/{list}/' + string(i) + '/securityContext'");
    let eligible = format!(
        "!({} && c.securityContext.privileged == true)",
        sc_has("c", "privileged")
    );
    let sys_admin = format!(
        "({} && has(c.securityContext.capabilities.add) && c.securityContext.capabilities.add.exists(cap, {} == 'SYS_ADMIN'))",
        sc_has("c", "capabilities"),
        normalized("cap")
    );
    let no_sc = "!has(c.securityContext)";
    let steps = [
        (
            format!("{eligible} && {no_sc}"),
            at.clone(),
            "{}".to_string(),
        ),
        (
            format!(
                "{eligible} && !{sys_admin} && ({no_sc} || !has(c.securityContext.allowPrivilegeEscalation))"
            ),
            format!("{at} + '/allowPrivilegeEscalation'"),
            "false".into(),
        ),
        (
            format!("{eligible} && ({no_sc} || !has(c.securityContext.capabilities))"),
            format!("{at} + '/capabilities'"),
            "{}".into(),
        ),
        (
            format!(
                "{eligible} && ({no_sc} || !has(c.securityContext.capabilities) || !has(c.securityContext.capabilities.drop))"
            ),
            format!("{at} + '/capabilities/drop'"),
            "['ALL']".into(),
        ),
    ];
    steps
        .into_iter()
        .map(|(condition, path, value)| {
            format!(
                "(has(variables.spec.{list}) ? variables.spec.{list}.transformList(i, c, {condition}, JSONPatch{{op: 'add', path: {path}, value: {value}}}) : [])"
            )
        })
        .collect()
}

fn mutating_policy(name: &str, variables: &[Value], policy: &Policy) -> Value {
    let dp_key = format!(
        "'/metadata/annotations/{}'",
        DELETE_POLICY_ANNOTATION.replace('/', "~1")
    );
    let pod = "variables.workload != ''";
    let security =
        "variables.restricted && variables.workload != '' && has(variables.spec.containers)";
    let sc_path = "variables.podPath + '/securityContext'";
    let runs_as_root = format!(
        "((has(variables.podSC.runAsUser) && variables.podSC.runAsUser == 0) || variables.allContainers.exists(c, {} && c.securityContext.runAsUser == 0))",
        sc_has("c", "runAsUser")
    );
    let opts_out = format!(
        "variables.allContainers.exists(c, {} && c.securityContext.runAsNonRoot == false)",
        sc_has("c", "runAsNonRoot")
    );
    let add_non_root = format!(
        "{security} && !{runs_as_root} && !{opts_out} && !has(variables.podSC.runAsNonRoot)"
    );
    let already_non_root = format!(
        "variables.allContainers.exists(c, !{} && {} && c.securityContext.runAsNonRoot == true)",
        sc_has("c", "runAsUser"),
        sc_has("c", "runAsNonRoot")
    );
    let mut parts = vec![
        add_if(
            &format!(
                "variables.deletePolicy != '' && !({} in variables.annotations)",
                lit(DELETE_POLICY_ANNOTATION)
            ),
            &dp_key,
            "variables.deletePolicy",
        ),
        add_if(
            &format!("{pod} && variables.deadline > 0 && !has(object.spec.activeDeadlineSeconds)"),
            "'/spec/activeDeadlineSeconds'",
            "variables.deadline",
        ),
        add_if(
            "variables.workload == 'Job' && variables.ttl > 0 && !has(object.spec.ttlSecondsAfterFinished)",
            "'/spec/ttlSecondsAfterFinished'",
            "variables.ttl",
        ),
        add_if(
            &format!("{security} && !has(variables.spec.securityContext)"),
            sc_path,
            "{}",
        ),
        add_if(
            &format!("{security} && !has(variables.podSC.seccompProfile)"),
            &format!("{sc_path} + '/seccompProfile'"),
            "{'type': 'RuntimeDefault'}",
        ),
        add_if(
            &add_non_root,
            &format!("{sc_path} + '/runAsNonRoot'"),
            "true",
        ),
        add_if(
            &format!("{add_non_root} && !{already_non_root} && !has(variables.podSC.runAsUser)"),
            &format!("{sc_path} + '/runAsUser'"),
            &policy.defaults.security_context.run_as_user.to_string(),
        ),
    ];
    for list in super::containers::CONTAINER_LISTS {
        for patch in container_patches(list) {
            parts.push(format!("({security} ? {patch} : [])"));
        }
    }
    let expression = format!("!variables.active ? [] : {}", parts.join(" + "));
    json!({
        "apiVersion": ADMISSION_API_VERSION,
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "helm-hooks"}},
        "spec": {
            "failurePolicy": "Ignore",
            "reinvocationPolicy": "IfNeeded",
            "matchConstraints": match_constraints(),
            "matchConditions": match_conditions(),
            "variables": variables,
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": expression}}],
        },
    })
}

/// A binding with the webhook configurations' `namespaceSelector` (kube-system, the
/// webhook's own namespace and namespaces labelled `helm-hooks.io/webhook=skip` are left out).
fn binding(kind: &str, policy: &str, action: Option<&str>) -> Value {
    let mut spec = json!({
        "policyName": policy,
        "matchResources": {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "helm-hooks-system"]},
                    {"key": "helm-hooks.io/webhook", "operator": "NotIn", "values": ["skip"]},
                ],
            },
        },
    });
    if let Some(action) = action {
        spec["validationActions"] = json!([action]);
    }
    json!({
        "apiVersion": ADMISSION_API_VERSION,
        "kind": kind,
        "metadata": {"name": policy, "labels": {"app.kubernetes.io/part-of": "helm-hooks"}},
        "spec": spec,
    })
}

#[cfg(test)]
mod tests;
