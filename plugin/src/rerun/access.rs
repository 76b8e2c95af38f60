//! Before a rerun deletes anything, ask the API server (SelfSubjectAccessReview) whether every
//! request the rerun will make is allowed, so a missing permission stops it before the first
//! deletion instead of halfway through.

use super::plan::Plan;
use crate::discovery::Resolution;
use crate::error::{self, Error, Result};
use futures::future::try_join_all;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};
use std::collections::BTreeSet;

/// One request the rerun will make: verb, group, plural resource (with subresource), namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    /// `create`, `delete`, `get`, `watch`.
    pub verb: &'static str,
    /// API group (`""`: core).
    pub group: String,
    /// Plural resource, e.g. `jobs` or `pods/log`.
    pub resource: String,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
}

impl Need {
    fn describe(&self) -> String {
        let resource = match self.group.as_str() {
            "" => self.resource.clone(),
            group => format!("{}.{group}", self.resource),
        };
        match &self.namespace {
            Some(ns) => format!("{} {resource} in namespace {ns}", self.verb),
            None => format!("{} {resource} (cluster-wide)", self.verb),
        }
    }
}

/// Every request `plan` will make. Pure: the planner's view, no cluster access.
pub fn needs(plan: &Plan, resolution: &Resolution, logs: bool) -> BTreeSet<Need> {
    let mut out = BTreeSet::new();
    for step in &plan.steps {
        let Some(Some(resolved)) = resolution.get(&step.hook.type_key) else {
            continue;
        };
        let need = |verb, resource: &str| Need {
            verb,
            group: resolved.resource.group.clone(),
            resource: resource.to_string(),
            namespace: resolved.namespaced.then(|| step.hook.namespace.clone()),
        };
        let plural = resolved.resource.plural.as_str();
        out.insert(need("create", plural));
        // Before deleting, the object is read to check it is a hook run of the release.
        if step.delete_before || step.delete_on_success || step.delete_on_failure {
            out.insert(need("get", plural));
            out.insert(need("delete", plural));
        }
        if step.wait {
            out.insert(need("get", plural));
            out.insert(need("watch", plural));
        }
        if logs && step.wait {
            for (verb, resource) in [("list", "pods"), ("get", "pods/log")] {
                out.insert(Need {
                    verb,
                    group: String::new(),
                    resource: resource.to_string(),
                    namespace: Some(step.hook.namespace.clone()),
                });
            }
        }
    }
    out
}

/// Asks the API server about every need at once; `Err` names each denied one and the fix.
pub async fn check(client: &Client, needs: &BTreeSet<Need>) -> Result<()> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let reviews = needs.iter().map(|need| {
        let api = api.clone();
        async move {
            let (resource, subresource) = match need.resource.split_once('/') {
                Some((r, s)) => (r.to_string(), Some(s.to_string())),
                None => (need.resource.clone(), None),
            };
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some(need.verb.to_string()),
                        group: Some(need.group.clone()),
                        resource: Some(resource),
                        subresource,
                        namespace: need.namespace.clone(),
                        ..ResourceAttributes::default()
                    }),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            let answer = api
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| {
                    error::api(
                        error::Request::new(
                            "create",
                            "selfsubjectaccessreviews.authorization.k8s.io",
                            None,
                        ),
                        e,
                    )
                })?;
            let allowed = answer.status.is_some_and(|s| s.allowed);
            Ok::<_, Error>((need, allowed))
        }
    });
    let denied: Vec<String> = try_join_all(reviews)
        .await?
        .into_iter()
        .filter(|(_, allowed)| !allowed)
        .map(|(need, _)| need.describe())
        .collect();
    if denied.is_empty() {
        return Ok(());
    }
    Err(Error::Failed(format!(
        "nothing was changed: the rerun would need permissions you do not have: {}; ask your \
         cluster admin for a Role granting them (kubectl auth can-i shows each)",
        denied.join(", ")
    )))
}
