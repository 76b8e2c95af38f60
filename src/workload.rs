//! Which hook objects run a pod: a `v1` Pod or a `batch/v1` Job. They are the only objects Helm
//! waits for, and the only ones whose pod spec the policy looks inside.

use serde_json::Value;

/// The kinds of hook object that run a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// A `v1` Pod: its pod spec is `spec`.
    Pod,
    /// A `batch/v1` Job: its pod spec is `spec.template.spec`.
    Job,
    /// Any other kind: only annotation defaults and annotation rules apply.
    Other,
}

impl Workload {
    /// Classifies an object by its `apiVersion` and `kind` (a CRD that happens to be named `Job`
    /// is not one).
    pub fn of(object: &Value) -> Workload {
        let text = |field: &str| object.get(field).and_then(Value::as_str).unwrap_or("");
        Workload::of_type(text("apiVersion"), text("kind"))
    }

    /// Classifies a type by its `apiVersion` and `kind`.
    pub fn of_type(api_version: &str, kind: &str) -> Workload {
        match (api_version, kind) {
            ("v1", "Pod") => Workload::Pod,
            ("batch/v1", "Job") => Workload::Job,
            _ => Workload::Other,
        }
    }

    /// JSON pointer tokens of the pod spec.
    pub fn pod_spec_tokens(self) -> Option<&'static [&'static str]> {
        match self {
            Workload::Pod => Some(&["spec"]),
            Workload::Job => Some(&["spec", "template", "spec"]),
            Workload::Other => None,
        }
    }

    /// The pod spec's field path as kubectl and the apiserver print it (empty for `Other`).
    pub fn pod_spec_path(self) -> &'static str {
        match self {
            Workload::Pod => "spec",
            Workload::Job => "spec.template.spec",
            Workload::Other => "",
        }
    }
}

/// Whether Helm waits for a hook of this type to finish: only a `batch/v1` Job and a `v1` Pod.
/// The group counts, not the kind alone: a custom resource named `Job` is not waited for.
pub fn is_waited_kind(api_version: &str, kind: &str) -> bool {
    Workload::of_type(api_version, kind) != Workload::Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_core_pods_and_batch_jobs_are_workloads() {
        assert_eq!(
            Workload::of(&json!({"apiVersion": "v1", "kind": "Pod"})),
            Workload::Pod
        );
        assert_eq!(
            Workload::of(&json!({"apiVersion": "batch/v1", "kind": "Job"})),
            Workload::Job
        );
        for (api_version, kind) in [
            ("example.com/v1", "Job"),
            ("example.com/v1", "Pod"),
            ("v1", "Job"),
            ("batch/v1", "Pod"),
            ("batch/v1", "CronJob"),
            ("v1", "ConfigMap"),
            ("", "Job"),
        ] {
            assert_eq!(
                Workload::of_type(api_version, kind),
                Workload::Other,
                "{api_version} {kind}"
            );
            assert!(!is_waited_kind(api_version, kind), "{api_version} {kind}");
        }
        assert!(is_waited_kind("batch/v1", "Job"));
        assert!(is_waited_kind("v1", "Pod"));
        assert_eq!(Workload::of(&json!({"kind": "Job"})), Workload::Other);
        assert_eq!(Workload::of(&json!("Job")), Workload::Other);
    }
}
