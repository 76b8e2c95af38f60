//! Surprising order: what a hook Job or Pod needs (its ServiceAccount, ConfigMaps, Secrets,
//! claims) must exist when Helm creates it. A hook of the same event that Helm runs *after*
//! the workload (weight, then name!) is created too late: the Pod cannot start and Helm waits
//! until its timeout. A regular resource referenced by a pre-install hook does not exist yet
//! on the first install.

use helm_hooks::hook::{HookEvent, OrderKey, execution_order};
use helm_hooks::workload::Workload;
use serde_json::Value;

/// A kind + name an object references.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub kind: &'static str,
    pub name: String,
    /// Where: `spec.template.spec.serviceAccountName`.
    pub field: String,
}

/// The pod spec of a Job or Pod (the core's [`Workload`]) and its field path prefix.
fn pod_spec(object: &Value) -> Option<(&Value, &'static str)> {
    let workload = Workload::of(object);
    let pointer = format!("/{}", workload.pod_spec_tokens()?.join("/"));
    Some((object.pointer(&pointer)?, workload.pod_spec_path()))
}

/// The pod template's spec of any built-in workload (`v1` Pod, `batch/v1` Job and CronJob,
/// `apps/v1` Deployment, StatefulSet, DaemonSet, ReplicaSet) and its field path prefix.
fn workload_pod_spec(object: &Value) -> Option<(&Value, &'static str)> {
    let text = |field: &str| object.get(field).and_then(Value::as_str).unwrap_or("");
    match (text("apiVersion"), text("kind")) {
        ("apps/v1", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => {
            Some((object.pointer("/spec/template/spec")?, "spec.template.spec"))
        }
        ("batch/v1", "CronJob") => Some((
            object.pointer("/spec/jobTemplate/spec/template/spec")?,
            "spec.jobTemplate.spec.template.spec",
        )),
        _ => pod_spec(object),
    }
}

/// What a Job's or Pod's pod spec needs to exist before it can start (the kinds Helm waits
/// for as hooks).
pub fn references(object: &Value) -> Vec<Reference> {
    pod_spec(object).map_or_else(Vec::new, |(spec, prefix)| references_in(spec, prefix))
}

/// What the pods of any workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, CronJob,
/// Job, Pod) need to exist before they can start.
pub fn workload_references(object: &Value) -> Vec<Reference> {
    workload_pod_spec(object).map_or_else(Vec::new, |(spec, prefix)| references_in(spec, prefix))
}

/// The references of one pod spec found at `prefix`.
fn references_in(spec: &Value, prefix: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut add = |kind: &'static str, name: Option<&Value>, field: String| {
        if let Some(name) = name.and_then(Value::as_str).filter(|n| !n.is_empty()) {
            out.push(Reference {
                kind,
                name: name.to_string(),
                field,
            });
        }
    };
    let optional = |v: &Value| v.get("optional").and_then(Value::as_bool) == Some(true);
    for key in ["serviceAccountName", "serviceAccount"] {
        add("ServiceAccount", spec.get(key), format!("{prefix}.{key}"));
    }
    for (i, secret) in array(spec.get("imagePullSecrets")).iter().enumerate() {
        add(
            "Secret",
            secret.get("name"),
            format!("{prefix}.imagePullSecrets[{i}].name"),
        );
    }
    for (i, volume) in array(spec.get("volumes")).iter().enumerate() {
        let at = format!("{prefix}.volumes[{i}]");
        if let Some(cm) = volume.get("configMap").filter(|v| !optional(v)) {
            add("ConfigMap", cm.get("name"), format!("{at}.configMap.name"));
        }
        if let Some(secret) = volume.get("secret").filter(|v| !optional(v)) {
            add(
                "Secret",
                secret.get("secretName"),
                format!("{at}.secret.secretName"),
            );
        }
        if let Some(claim) = volume.get("persistentVolumeClaim") {
            add(
                "PersistentVolumeClaim",
                claim.get("claimName"),
                format!("{at}.persistentVolumeClaim.claimName"),
            );
        }
        for (j, source) in array(volume.pointer("/projected/sources"))
            .iter()
            .enumerate()
        {
            if let Some(cm) = source.get("configMap").filter(|v| !optional(v)) {
                add(
                    "ConfigMap",
                    cm.get("name"),
                    format!("{at}.projected.sources[{j}].configMap.name"),
                );
            }
            if let Some(secret) = source.get("secret").filter(|v| !optional(v)) {
                add(
                    "Secret",
                    secret.get("name"),
                    format!("{at}.projected.sources[{j}].secret.name"),
                );
            }
        }
    }
    for list in ["initContainers", "containers"] {
        for (i, container) in array(spec.get(list)).iter().enumerate() {
            let at = format!("{prefix}.{list}[{i}]");
            for (j, from) in array(container.get("envFrom")).iter().enumerate() {
                if let Some(cm) = from.get("configMapRef").filter(|v| !optional(v)) {
                    add(
                        "ConfigMap",
                        cm.get("name"),
                        format!("{at}.envFrom[{j}].configMapRef.name"),
                    );
                }
                if let Some(s) = from.get("secretRef").filter(|v| !optional(v)) {
                    add(
                        "Secret",
                        s.get("name"),
                        format!("{at}.envFrom[{j}].secretRef.name"),
                    );
                }
            }
            for (j, env) in array(container.get("env")).iter().enumerate() {
                let from = env.get("valueFrom");
                if let Some(cm) = from
                    .and_then(|f| f.get("configMapKeyRef"))
                    .filter(|v| !optional(v))
                {
                    add(
                        "ConfigMap",
                        cm.get("name"),
                        format!("{at}.env[{j}].valueFrom.configMapKeyRef.name"),
                    );
                }
                if let Some(s) = from
                    .and_then(|f| f.get("secretKeyRef"))
                    .filter(|v| !optional(v))
                {
                    add(
                        "Secret",
                        s.get("name"),
                        format!("{at}.env[{j}].valueFrom.secretKeyRef.name"),
                    );
                }
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.kind == b.kind && a.name == b.name);
    out
}

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// One hook as the order check sees it.
#[derive(Debug, Clone)]
pub struct OrderedHook<'a> {
    /// Index into the caller's object list.
    pub index: usize,
    pub kind: &'a str,
    pub name: &'a str,
    pub weight: i64,
    pub path: &'a str,
    pub events: Vec<HookEvent>,
    pub object: &'a Value,
}

/// A regular (non-hook) object of the stream.
#[derive(Debug, Clone)]
pub struct RegularObject<'a> {
    pub kind: &'a str,
    pub name: &'a str,
}

/// One order problem, attached to the workload at `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderProblem {
    pub index: usize,
    /// `true`: the workload cannot start as ordered (error); `false`: only on a first install.
    pub error: bool,
    pub field: String,
    pub message: String,
}

/// Finds hooks whose workload runs before something it needs.
pub fn check(hooks: &[OrderedHook<'_>], regular: &[RegularObject<'_>]) -> Vec<OrderProblem> {
    let mut problems = Vec::new();
    for event in HookEvent::ALL {
        let of_event: Vec<&OrderedHook> =
            hooks.iter().filter(|h| h.events.contains(&event)).collect();
        let keys: Vec<OrderKey> = of_event
            .iter()
            .map(|h| OrderKey {
                weight: h.weight,
                name: h.name,
                kind: h.kind,
                path: h.path,
                position: h.index,
            })
            .collect();
        let order = execution_order(&keys);
        let position = |i: usize| order.iter().position(|&o| o == i).unwrap_or(usize::MAX);
        for (i, workload) in of_event.iter().enumerate() {
            for reference in references(workload.object) {
                let needed = of_event
                    .iter()
                    .enumerate()
                    .find(|(_, h)| h.kind == reference.kind && h.name == reference.name);
                match needed {
                    Some((j, dependency)) if position(j) > position(i) => {
                        problems.push(OrderProblem {
                            index: workload.index,
                            error: true,
                            field: reference.field.clone(),
                            message: format!(
                                "{event}: Helm runs {}/{} (weight {}) after this {} (weight {}), \
                                 which needs it: Helm sorts by weight, then name; give {} a lower \
                                 weight",
                                dependency.kind,
                                dependency.name,
                                dependency.weight,
                                workload.kind,
                                workload.weight,
                                dependency.name
                            ),
                        });
                    }
                    Some(_) => {}
                    None if event == HookEvent::PreInstall
                        && regular
                            .iter()
                            .any(|r| r.kind == reference.kind && r.name == reference.name) =>
                    {
                        problems.push(OrderProblem {
                            index: workload.index,
                            error: false,
                            field: reference.field.clone(),
                            message: format!(
                                "pre-install: {}/{} is a regular resource of the chart, created \
                                 only after pre-install hooks: on the first install this {} \
                                 cannot start; make it a pre-install hook with a lower weight",
                                reference.kind, reference.name, workload.kind
                            ),
                        });
                    }
                    None => {}
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(sa: &str) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
            "serviceAccountName": sa,
            "volumes": [{"configMap": {"name": "cfg"}}, {"secret": {"secretName": "opt", "optional": true}}],
            "containers": [{"envFrom": [{"secretRef": {"name": "creds"}}]}]
        }}}})
    }

    #[test]
    fn references_of_a_job() {
        let refs: Vec<(&str, String)> = references(&job("demo"))
            .into_iter()
            .map(|r| (r.kind, r.name))
            .collect();
        assert_eq!(
            refs,
            [
                ("ConfigMap", "cfg".to_string()),
                ("Secret", "creds".to_string()),
                ("ServiceAccount", "demo".to_string())
            ]
        );
    }

    #[test]
    fn a_service_account_named_after_the_job_at_the_same_weight_runs_too_late() {
        let job = job("demo-migrate-sa");
        let sa = json!({"kind": "ServiceAccount"});
        let hooks = vec![
            OrderedHook {
                index: 0,
                kind: "Job",
                name: "demo-migrate",
                weight: 0,
                path: "a.yaml",
                events: vec![HookEvent::PreUpgrade],
                object: &job,
            },
            OrderedHook {
                index: 1,
                kind: "ServiceAccount",
                name: "demo-migrate-sa",
                weight: 0,
                path: "b.yaml",
                events: vec![HookEvent::PreUpgrade],
                object: &sa,
            },
        ];
        let problems = check(&hooks, &[]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].error);
        assert_eq!(problems[0].index, 0);
        assert_eq!(problems[0].field, "spec.template.spec.serviceAccountName");
        assert!(
            problems[0].message.contains("after this Job"),
            "{}",
            problems[0].message
        );

        // A lower weight fixes it.
        let mut fixed = hooks.clone();
        fixed[1].weight = -1;
        assert!(check(&fixed, &[]).is_empty());
    }

    #[test]
    fn pre_install_hook_needing_a_regular_resource_is_a_warning() {
        let job = job("default");
        let hooks = vec![OrderedHook {
            index: 0,
            kind: "Job",
            name: "x",
            weight: 0,
            path: "a",
            events: vec![HookEvent::PreInstall, HookEvent::PreUpgrade],
            object: &job,
        }];
        let problems = check(
            &hooks,
            &[RegularObject {
                kind: "ConfigMap",
                name: "cfg",
            }],
        );
        assert_eq!(problems.len(), 1);
        assert!(!problems[0].error);
        assert!(problems[0].message.starts_with("pre-install"));
    }
}
