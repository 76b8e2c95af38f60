//! Offline schema check of built-in kinds: would the API server accept this object at all?
//!
//! Each object whose `apiVersion` and `kind` name a built-in type is decoded into
//! [`k8s_openapi`]'s type for it (generated from the API server's own OpenAPI document) and
//! back: a value of the wrong type (`backoffLimit: "3"`) fails to decode; a required field
//! that is missing or `null` (`subjects[0].name: null`) comes back as its zero value; a field
//! the type does not have does not come back. Each problem names its field. The API server refuses such an object, and Helm fails mid-way (a pre-delete hook
//! refused leaves the release `uninstalling`). A field the type does not know is an unknown
//! field: the API server drops it (Helm prints a warning), so the chart's intent is lost.
//!
//! Kinds the table below does not list (custom resources, older API versions) are not
//! checked. `kubectl hooks lint --no-schema` skips the check.

use super::{Finding, Level, ObjectReport, Report};
use helm_hooks::manifest::ManifestObject;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What the check found on one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field path (`subjects[0].name`).
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
    /// The API server refuses the object (else it drops the field).
    pub refused: bool,
}

/// Decodes `object` into `T` and back: the problem of the first field that fails to decode,
/// or the unknown and the missing required fields.
fn check_as<T: DeserializeOwned + Serialize>(object: &Value) -> Vec<Problem> {
    let mut input = object.clone();
    // Each round fixes one YAML 1.1 scalar (below); an object has finitely many.
    let typed: T = loop {
        match serde_path_to_error::deserialize(&input) {
            Ok(typed) => break typed,
            Err(e) => {
                let pointer = pointer_of(e.path());
                let inner = e.inner().to_string();
                if let Some(fixed) = input.pointer(&pointer).and_then(|v| yaml11(v, &inner))
                    && let Some(slot) = input.pointer_mut(&pointer)
                {
                    *slot = fixed;
                    continue;
                }
                return vec![decode_problem(&e.path().to_string(), &inner)];
            }
        }
    };
    let Ok(back) = serde_json::to_value(&typed) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    compare(&input, &back, "", &mut out);
    out
}

/// The JSON pointer of a serde path.
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } => pointer.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => pointer.push_str(variant),
            Segment::Unknown => pointer.push('?'),
        }
    }
    pointer
}

/// Helm reads manifests as YAML 1.1, this tool as YAML 1.2: `defaultMode: 0444` is the
/// number 292 for Helm and the API server but the string `"0444"` here, and `yes`/`on` are
/// booleans there. Where the type wants a number or a boolean and the string is one in YAML
/// 1.1, this is the value Helm sends.
fn yaml11(value: &Value, error: &str) -> Option<Value> {
    let text = value.as_str()?;
    let wants_integer = [
        "expected i32",
        "expected i64",
        "expected u32",
        "expected u64",
    ]
    .iter()
    .any(|e| error.contains(e));
    // Only what YAML 1.2 reads as a string and YAML 1.1 as a number: leading-zero octal
    // (`0444`) and digits with `_`. A plain `"3"` was quoted in the chart: a string to Helm too.
    if wants_integer {
        let (sign, digits) = match text.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text),
        };
        let n = if digits.len() > 1 && digits.starts_with('0') {
            i64::from_str_radix(&digits[1..], 8).ok()?
        } else if digits.contains('_') {
            digits.replace('_', "").parse::<i64>().ok()?
        } else {
            return None;
        };
        return Some(Value::from(sign * n));
    }
    if error.contains("expected a boolean") {
        return match text {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(Value::Bool(true)),
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(Value::Bool(false)),
            _ => None,
        };
    }
    None
}

/// The problem for a decoding error `inner` at `path` (serde's path: `.` for the root): a value
/// of the wrong type.
fn decode_problem(path: &str, inner: &str) -> Problem {
    Problem {
        field: if path == "." { "" } else { path }.to_string(),
        // serde's own words ("invalid type: string \"3\", expected i32"), cut to bounds.
        message: format!(
            "{}: the API server refuses the object; fix the value's type",
            helm_hooks::text::truncate(inner, 200)
        ),
        refused: true,
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// Compares `input` with its typed round trip `back`. A key of `input` that `back` lost is a
/// field the type does not have: unknown (`null` values are absent values, not unknown). A
/// key `back` has that `input` lacks or sets to `null` is a required field: k8s-openapi
/// serializes required fields always, filled with their zero value when absent. Where that
/// zero value is one the API server refuses (`""`, `0`, `[]`: a subject without a name, a
/// port 0, a rule without verbs), the field is reported; a required object is not (the API
/// server accepts an empty one, e.g. a NetworkPolicy's `podSelector`).
fn compare(input: &Value, back: &Value, path: &str, out: &mut Vec<Problem>) {
    match (input, back) {
        (Value::Object(i), Value::Object(b)) => {
            for (key, value) in i {
                let sub = join(path, key);
                match b.get(key) {
                    Some(bv) => compare(value, bv, &sub, out),
                    None if value.is_null() => {}
                    // A field whose every value is empty (`{}`, `[]`) may be dropped by the
                    // type's serializer: not unknown.
                    None if is_empty(value) => {}
                    None => out.push(Problem {
                        message: format!(
                            "unknown field: the API server drops it (Helm prints a warning); \
                             check its spelling and indentation ({key:?})"
                        ),
                        field: sub,
                        refused: false,
                    }),
                }
            }
            for (key, zero) in b {
                let given = i.get(key);
                if given.is_some_and(|v| !v.is_null()) || !refused_zero(zero) {
                    continue;
                }
                let sub = join(path, key);
                let how = if given.is_some() { "null" } else { "missing" };
                out.push(Problem {
                    message: format!(
                        "required field {how}: the API server refuses the object (a value the \
                         template left empty?); set {sub}"
                    ),
                    field: sub,
                    refused: true,
                });
            }
        }
        (Value::Array(i), Value::Array(b)) => {
            for (index, (iv, bv)) in i.iter().zip(b).enumerate() {
                compare(iv, bv, &format!("{path}[{index}]"), out);
            }
        }
        _ => {}
    }
}

/// A zero value the API server refuses for a required field.
fn refused_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

macro_rules! built_in {
    ($object:expr, $api_version:expr, $kind:expr; $($av:literal $k:literal => $ty:ty,)*) => {
        match ($api_version, $kind) {
            $(($av, $k) => Some(check_as::<$ty>($object)),)*
            _ => None,
        }
    };
}

/// The schema problems of one object, or `None` when its kind is not a built-in one this
/// check knows (custom resources).
pub fn check(object: &Value) -> Option<Vec<Problem>> {
    use k8s_openapi::api::{
        admissionregistration, apps, autoscaling, batch, core, networking, policy, rbac,
        scheduling, storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
    let api_version = object.get("apiVersion")?.as_str()?;
    let kind = object.get("kind")?.as_str()?;
    built_in!(object, api_version, kind;
        "v1" "Pod" => core::v1::Pod,
        "v1" "ServiceAccount" => core::v1::ServiceAccount,
        "v1" "ConfigMap" => core::v1::ConfigMap,
        "v1" "Secret" => core::v1::Secret,
        "v1" "Service" => core::v1::Service,
        "v1" "Namespace" => core::v1::Namespace,
        "v1" "PersistentVolumeClaim" => core::v1::PersistentVolumeClaim,
        "v1" "LimitRange" => core::v1::LimitRange,
        "v1" "ResourceQuota" => core::v1::ResourceQuota,
        "apps/v1" "Deployment" => apps::v1::Deployment,
        "apps/v1" "StatefulSet" => apps::v1::StatefulSet,
        "apps/v1" "DaemonSet" => apps::v1::DaemonSet,
        "apps/v1" "ReplicaSet" => apps::v1::ReplicaSet,
        "batch/v1" "Job" => batch::v1::Job,
        "batch/v1" "CronJob" => batch::v1::CronJob,
        "rbac.authorization.k8s.io/v1" "Role" => rbac::v1::Role,
        "rbac.authorization.k8s.io/v1" "RoleBinding" => rbac::v1::RoleBinding,
        "rbac.authorization.k8s.io/v1" "ClusterRole" => rbac::v1::ClusterRole,
        "rbac.authorization.k8s.io/v1" "ClusterRoleBinding" => rbac::v1::ClusterRoleBinding,
        "networking.k8s.io/v1" "NetworkPolicy" => networking::v1::NetworkPolicy,
        "networking.k8s.io/v1" "Ingress" => networking::v1::Ingress,
        "networking.k8s.io/v1" "IngressClass" => networking::v1::IngressClass,
        "policy/v1" "PodDisruptionBudget" => policy::v1::PodDisruptionBudget,
        "autoscaling/v2" "HorizontalPodAutoscaler" => autoscaling::v2::HorizontalPodAutoscaler,
        "scheduling.k8s.io/v1" "PriorityClass" => scheduling::v1::PriorityClass,
        "storage.k8s.io/v1" "StorageClass" => storage::v1::StorageClass,
        "admissionregistration.k8s.io/v1" "ValidatingWebhookConfiguration" =>
            admissionregistration::v1::ValidatingWebhookConfiguration,
        "admissionregistration.k8s.io/v1" "MutatingWebhookConfiguration" =>
            admissionregistration::v1::MutatingWebhookConfiguration,
        "apiextensions.k8s.io/v1" "CustomResourceDefinition" =>
            apiextensions::v1::CustomResourceDefinition,
    )
}

/// Adds the schema problems of `objects` to `report` as findings (`schema/refused` errors,
/// `schema/unknown-field` warnings), on the object's report or on a new one for an object
/// without findings so far. Annotations are left to lint's own `annotation/not-a-string`.
pub fn add_findings(report: &mut Report, objects: &[ManifestObject]) {
    for object in objects {
        let Some(problems) = check(&object.value) else {
            continue;
        };
        let findings: Vec<Finding> = problems
            .into_iter()
            .filter(|p| !p.field.starts_with("metadata.annotations"))
            .map(|p| Finding {
                severity: if p.refused {
                    Level::Error
                } else {
                    Level::Warning
                },
                check: if p.refused {
                    "schema/refused".into()
                } else {
                    "schema/unknown-field".into()
                },
                field: p.field,
                message: p.message,
                rule: None,
                mode: None,
                target: None,
                fix: None,
                webhook: None,
                file: None,
                line: None,
            })
            .collect();
        if findings.is_empty() {
            continue;
        }
        for f in &findings {
            match f.severity {
                Level::Error => report.summary.errors += 1,
                Level::Warning => report.summary.warnings += 1,
                Level::Info => {}
            }
        }
        let same = |r: &ObjectReport| {
            r.line == object.line && r.kind == object.kind() && r.name == object.name()
        };
        match report.objects.iter_mut().find(|r| same(r)) {
            Some(existing) => existing.findings.extend(findings),
            None => {
                let at = report
                    .objects
                    .iter()
                    .position(|r| r.line > object.line)
                    .unwrap_or(report.objects.len());
                report.objects.insert(
                    at,
                    ObjectReport {
                        kind: object.kind().to_string(),
                        name: object.name().to_string(),
                        source: object.source.clone(),
                        line: object.line,
                        events: Vec::new(),
                        weight: 0,
                        dropped: false,
                        findings,
                        patch: Vec::new(),
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
