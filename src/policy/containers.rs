//! The containers of a hook's pod spec (where the pod spec lives: [`crate::workload`]).

use crate::workload::Workload;
use serde_json::Value;

/// The three container lists of a pod spec.
pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

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
