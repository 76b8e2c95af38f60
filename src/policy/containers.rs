//! Where the pod spec and containers of a hook live: `spec` of a Pod, `spec.template.spec`
//! of a Job; other kinds have none.

use serde_json::Value;

/// The kinds of hook object the policy looks inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Pod,
    Job,
    /// Any other kind: only annotation defaults and annotation rules apply.
    Other,
}

/// The three container lists of a pod spec.
pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

impl Workload {
    /// Classifies by `apiVersion` and `kind` (a CRD that happens to be named `Job` is not one).
    pub fn of(object: &Value) -> Workload {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        match (api_version, object.get("kind").and_then(Value::as_str)) {
            ("v1", Some("Pod")) => Workload::Pod,
            ("batch/v1", Some("Job")) => Workload::Job,
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

    /// The pod spec's field path as kubectl and the apiserver print it.
    pub fn pod_spec_path(self) -> &'static str {
        match self {
            Workload::Pod => "spec",
            Workload::Job => "spec.template.spec",
            Workload::Other => "",
        }
    }
}

/// One container of a pod spec, with its position.
pub struct ContainerRef<'a> {
    /// `containers`, `initContainers` or `ephemeralContainers`.
    pub list: &'static str,
    pub index: usize,
    pub value: &'a Value,
}

impl ContainerRef<'_> {
    /// `spec.template.spec.containers[0]`.
    pub fn path(&self, workload: Workload) -> String {
        format!("{}.{}[{}]", workload.pod_spec_path(), self.list, self.index)
    }

    /// The container's `securityContext` field `name`.
    pub fn security(&self, name: &str) -> Option<&Value> {
        self.value
            .get("securityContext")
            .and_then(|sc| sc.get(name))
    }
}

/// Every container of every list, in order.
pub fn containers(pod_spec: &Value) -> Vec<ContainerRef<'_>> {
    CONTAINER_LISTS
        .into_iter()
        .flat_map(|list| {
            pod_spec
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .map(move |(index, value)| ContainerRef { list, index, value })
        })
        .collect()
}

/// Whether a capability list entry names `cap` (`SYS_ADMIN` and `CAP_SYS_ADMIN` alike).
pub fn is_capability(entry: &Value, cap: &str) -> bool {
    entry
        .as_str()
        .map(normalize_capability)
        .is_some_and(|c| c == cap)
}

/// `cap_sys_admin` → `SYS_ADMIN`.
pub fn normalize_capability(cap: &str) -> String {
    let upper = cap.trim().to_ascii_uppercase();
    upper
        .strip_prefix("CAP_")
        .map(str::to_string)
        .unwrap_or(upper)
}
