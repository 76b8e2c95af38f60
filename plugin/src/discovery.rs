//! Hook kinds → API resources, by API discovery. Any kind works (ServiceAccount, ConfigMap,
//! Role, Job, Pod, custom resources): each distinct `apiVersion` + `kind` is resolved once per
//! run with kube's `pinned_kind` (one request per group version), concurrently.

use crate::error::{self, Error, Result};
use futures::future::join_all;
use kube::Client;
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Scope, pinned_kind};
use std::collections::{BTreeMap, BTreeSet};

/// `apiVersion` and `kind` as a manifest writes them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeKey {
    pub api_version: String,
    pub kind: String,
}

impl TypeKey {
    /// A key from `apiVersion` and `kind`.
    pub fn new(api_version: impl Into<String>, kind: impl Into<String>) -> TypeKey {
        TypeKey {
            api_version: api_version.into(),
            kind: kind.into(),
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        helm_hooks::manifest::api_group(&self.api_version)
    }

    /// The version part of `apiVersion`.
    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(_, v)| v)
            .unwrap_or(&self.api_version)
    }

    /// How kubectl names this kind in `-o name` output and delete messages: `job.batch`,
    /// `pod`, `role.rbac.authorization.k8s.io`.
    pub fn kubectl_kind(&self) -> String {
        let kind = self.kind.to_lowercase();
        match self.group() {
            "" => kind,
            group => format!("{kind}.{group}"),
        }
    }
}

/// A kind the API server serves.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

impl Resolved {
    /// The resource as RBAC names it, for error messages: `secrets`, `jobs.batch`.
    pub fn rbac_resource(&self) -> String {
        match self.resource.group.as_str() {
            "" => self.resource.plural.clone(),
            group => format!("{}.{group}", self.resource.plural),
        }
    }
}

/// The result of resolving a set of kinds: `None` for kinds the server does not serve
/// (a CRD that was removed, a typo in a chart).
pub type Resolution = BTreeMap<TypeKey, Option<Resolved>>;

/// Resolves every key concurrently. Unserved kinds map to `None`; other failures are errors.
pub async fn resolve(client: &Client, keys: &BTreeSet<TypeKey>) -> Result<Resolution> {
    let lookups = keys.iter().map(|key| async move {
        let gvk = GroupVersionKind::gvk(key.group(), key.version(), &key.kind);
        (key.clone(), pinned_kind(client, &gvk).await)
    });
    let mut resolution = Resolution::new();
    for (key, result) in join_all(lookups).await {
        let resolved = match result {
            Ok((resource, caps)) => Some(Resolved {
                resource,
                namespaced: caps.scope == Scope::Namespaced,
            }),
            Err(kube::Error::Discovery(_)) => None,
            Err(e) if error::status_code(&e) == Some(404) => None,
            Err(e) => {
                return Err(error::api(
                    error::Request::new(
                        "get",
                        &format!("API discovery of {}", key.api_version),
                        None,
                    ),
                    e,
                ));
            }
        };
        resolution.insert(key, resolved);
    }
    Ok(resolution)
}

/// A kind name that cannot be resolved, for a warning.
pub fn unserved_message(key: &TypeKey) -> String {
    format!(
        "warning: the API server does not serve {} in {}; such hooks are shown as Absent",
        key.kind, key.api_version
    )
}

/// An error for a hook whose kind the server does not serve (rerun cannot create it).
pub fn unserved_error(key: &TypeKey, hook: &str) -> Error {
    Error::Failed(format!(
        "hook {hook}: the API server does not serve {} in {}; install its CRD first",
        key.kind, key.api_version
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_and_version_are_split() {
        let job = TypeKey::new("batch/v1", "Job");
        assert_eq!((job.group(), job.version()), ("batch", "v1"));
        let pod = TypeKey::new("v1", "Pod");
        assert_eq!((pod.group(), pod.version()), ("", "v1"));
    }

    #[test]
    fn kubectl_kind_names() {
        assert_eq!(TypeKey::new("batch/v1", "Job").kubectl_kind(), "job.batch");
        assert_eq!(
            TypeKey::new("v1", "ServiceAccount").kubectl_kind(),
            "serviceaccount"
        );
        assert_eq!(
            TypeKey::new("rbac.authorization.k8s.io/v1", "Role").kubectl_kind(),
            "role.rbac.authorization.k8s.io"
        );
    }

    #[test]
    fn rbac_resource_names() {
        let r = Resolved {
            resource: ApiResource {
                group: "batch".into(),
                version: "v1".into(),
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                plural: "jobs".into(),
            },
            namespaced: true,
        };
        assert_eq!(r.rbac_resource(), "jobs.batch");
    }
}
