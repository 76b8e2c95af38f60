//! The order in which Helm runs the hooks of one event.
//!
//! Helm's manifest sorter walks template files sorted by path, sorts hooks stably by kind
//! (its install order, unknown kinds last and alphabetically), and at run time sorts stably
//! by weight, then by `metadata.name`. So the full key is weight, name, kind, file order —
//! not "weight, kind, name" as Helm's documentation says.

use std::cmp::Ordering;

/// Helm's `InstallOrder`: kinds earlier in this list are created first.
const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The position of `kind` in Helm's install order; unknown kinds share the last rank.
pub fn kind_install_rank(kind: &str) -> usize {
    INSTALL_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(INSTALL_ORDER.len())
}

/// What Helm sorts one hook by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey<'a> {
    /// `helm.sh/hook-weight`: lower runs first.
    pub weight: i64,
    /// `metadata.name`: the tie-breaker after weight and kind.
    pub name: &'a str,
    /// The object's `kind`, ranked by Helm's install order.
    pub kind: &'a str,
    /// The template file the hook came from (`# Source:` / the record's `path`).
    pub path: &'a str,
    /// The document's position within the rendered output or the release record.
    pub position: usize,
}

impl OrderKey<'_> {
    fn helm_cmp(&self, other: &Self) -> Ordering {
        self.weight
            .cmp(&other.weight)
            .then_with(|| self.name.cmp(other.name))
            .then_with(|| kind_install_rank(self.kind).cmp(&kind_install_rank(other.kind)))
            // Unknown kinds sort among themselves by kind name; known kinds compare equal here.
            .then_with(|| match kind_install_rank(self.kind) {
                rank if rank == INSTALL_ORDER.len() => self.kind.cmp(other.kind),
                _ => Ordering::Equal,
            })
            .then_with(|| self.path.cmp(other.path))
            .then_with(|| self.position.cmp(&other.position))
    }
}

/// Indices of `keys` in the order Helm executes them.
pub fn execution_order(keys: &[OrderKey<'_>]) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..keys.len()).collect();
    indices.sort_by(|&a, &b| keys[a].helm_cmp(&keys[b]));
    indices
}
