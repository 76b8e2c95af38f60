//! Leftover hooks of releases that are not installed, for `kubectl hooks list --orphans` and
//! `kubectl hooks cleanup --orphans`. The core's [`classify`] decides from the records and the
//! stamps; this module gathers both: every release record in scope (and the records of
//! releases that stamps or cluster-scoped objects name elsewhere), and every live object of
//! the leftover kinds — plus the hook kinds of uninstalled releases — that carries
//! `helm.sh/hook`.

use crate::client::Cluster;
use crate::discovery::{self, Resolution, TypeKey};
use crate::error::{self, Result};
use crate::objects::{self, HookRef, LiveObject, LiveStatus};
use crate::options::Connection;
use crate::releases::{Record, RecordRef, Store};
use helm_hooks::hook::HOOK_ANNOTATION;
use helm_hooks::janitor_rules::{self, KeepReason, Outcome, ReleaseRef};
use helm_hooks::orphans::{LEFTOVER_KINDS, Orphan, classify, stamp_of};
use helm_hooks::ownership::ReleaseHooks;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What [`find`] found.
#[derive(Debug, Default)]
pub struct Found {
    /// The leftovers, sorted by namespace, release, kind and name.
    pub orphans: Vec<(LiveObject, Orphan)>,
    /// The kinds listed (for deleting through the same resources).
    pub resolution: Resolution,
    /// Errors reported on stderr on the way (corrupt records, forbidden lists).
    pub failures: usize,
}

/// Finds the leftover hooks in the namespace of `kube` (or every namespace with `-A`).
pub async fn find(kube: &Cluster, connection: &Connection) -> Result<Found> {
    let store = Store::new(kube.client.clone(), connection.driver);
    let search = kube.search_namespace();
    let mut records = Records::default();
    let mut found = Found::default();
    let in_scope = store.records(search, None).await?;
    found.failures += records.load(&store, in_scope, "error").await;

    // The leftover kinds, and every other kind the records name a hook of (an uninstalled
    // release's hook runs, a stamped object of a release installed again).
    let mut kinds: BTreeSet<TypeKey> = LEFTOVER_KINDS
        .iter()
        .map(|(api_version, kind)| TypeKey::new(*api_version, *kind))
        .collect();
    for record in records.decoded.values().flatten() {
        kinds.extend(
            record
                .release
                .hooks
                .iter()
                .map(|hook| HookRef::from_hook(hook, &record.reference.namespace).type_key)
                .filter(|key| !key.api_version.is_empty()),
        );
    }
    let resolution = discovery::resolve(&kube.client, &kinds).await?;
    let mut live: Vec<LiveObject> = Vec::new();
    for (type_key, resolved) in &resolution {
        let Some(resolved) = resolved else { continue };
        let namespace = if resolved.namespaced { search } else { None };
        live.extend(
            objects::list_matching(&kube.client, type_key, resolved, namespace, |meta| {
                meta.annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key(HOOK_ANNOTATION))
            })
            .await?,
        );
    }

    // Within one namespace, the records of releases elsewhere decide too: a cluster-scoped
    // object may be another namespace's release's hook, and a stamp may name a release in
    // another namespace (a hook with its own metadata.namespace).
    if let Some(namespace) = search {
        let cluster_scoped = live.iter().any(|o| o.key.namespace.is_none());
        let mut elsewhere: Vec<RecordRef> = Vec::new();
        let mut listed_everywhere = false;
        if cluster_scoped {
            match store.records(None, None).await {
                Ok(all) => {
                    elsewhere.extend(all.into_iter().filter(|r| r.namespace != namespace));
                    listed_everywhere = true;
                }
                Err(e) => {
                    eprintln!(
                        "warning: {}; cluster-scoped leftovers are not searched",
                        error::render(&e)
                    );
                    live.retain(|o| o.key.namespace.is_some());
                }
            }
        }
        let stamped: BTreeSet<ReleaseRef> = live
            .iter()
            .filter_map(|o| stamp_of(&o.annotations).map(|(release, _)| release))
            .filter(|r| r.namespace != namespace && !listed_everywhere)
            .collect();
        for release in stamped {
            match store
                .records(Some(&release.namespace), Some(&release.name))
                .await
            {
                Ok(refs) => elsewhere.extend(refs),
                Err(e) => {
                    eprintln!(
                        "warning: {}; objects stamped for release {release} are left out",
                        error::render(&e)
                    );
                    records.corrupt.insert(release);
                }
            }
        }
        elsewhere.retain(|r| !records.holds(r));
        // Another namespace's corrupt record is that namespace's problem: a warning here.
        records.load(&store, elsewhere, "warning").await;
    }

    let releases: BTreeMap<ReleaseRef, ReleaseHooks> = records
        .decoded
        .iter()
        .map(|(release, revisions)| {
            (
                release.clone(),
                ReleaseHooks::new(revisions.iter().map(|r| &r.release)),
            )
        })
        .collect();
    for object in live {
        // A release whose records cannot be read may own the object: leave it alone.
        if stamp_of(&object.annotations).is_some_and(|(r, _)| records.corrupt.contains(&r)) {
            continue;
        }
        let Some(orphan) = classify(&object.meta(), &releases) else {
            continue;
        };
        if records.corrupt.contains(&orphan.release) {
            continue;
        }
        // With -n, a cluster-scoped leftover is shown under its release's namespace only.
        if object.key.namespace.is_none() && search.is_some_and(|ns| orphan.release.namespace != ns)
        {
            continue;
        }
        found.orphans.push((object, orphan));
    }
    found.orphans.sort_by(|(a, ra), (b, rb)| {
        (&ra.release, &a.key.type_key.kind, &a.key.name).cmp(&(
            &rb.release,
            &b.key.type_key.kind,
            &b.key.name,
        ))
    });
    found.resolution = resolution;
    Ok(found)
}

/// One leftover as `list --orphans -o json|yaml` prints it (and the table shows).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrphanRow {
    /// The object's namespace; the release's for a cluster-scoped object.
    pub namespace: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `job.batch/NAME`, as kubectl names it.
    #[serde(skip)]
    pub kubectl_name: String,
    /// The object is cluster-scoped (a ClusterRole).
    pub cluster_scoped: bool,
    pub uid: String,
    /// The release it was a hook of: `NAMESPACE/NAME`.
    pub release: String,
    pub status: LiveStatus,
    pub creation_timestamp: Option<Timestamp>,
    /// Why it is that release's leftover.
    pub evidence: String,
}

impl OrphanRow {
    /// The row of one leftover.
    pub fn of(object: &LiveObject, orphan: &Orphan) -> OrphanRow {
        let key = &object.key;
        OrphanRow {
            namespace: key
                .namespace
                .clone()
                .unwrap_or_else(|| orphan.release.namespace.clone()),
            api_version: key.type_key.api_version.clone(),
            kind: key.type_key.kind.clone(),
            name: key.name.clone(),
            kubectl_name: key.kubectl_name(),
            cluster_scoped: key.namespace.is_none(),
            uid: object.uid.clone(),
            release: orphan.release.to_string(),
            status: object.status,
            creation_timestamp: object.created,
            evidence: orphan.evidence.to_string(),
        }
    }
}

/// The records loaded so far, per release, and the releases with a record that cannot be read.
#[derive(Default)]
struct Records {
    decoded: BTreeMap<ReleaseRef, Vec<Record>>,
    corrupt: BTreeSet<ReleaseRef>,
}

impl Records {
    /// Decodes `references`; a corrupt record is reported (as `severity`) and marks its
    /// release. Returns how many records failed.
    async fn load(&mut self, store: &Store, references: Vec<RecordRef>, severity: &str) -> usize {
        let mut failures = 0;
        for (reference, result) in references.iter().zip(store.fetch_each(&references).await) {
            let release = ReleaseRef {
                namespace: reference.namespace.clone(),
                name: reference.meta.release.clone(),
            };
            match result {
                Ok(record) => self.decoded.entry(release).or_default().push(record),
                Err(e) => {
                    eprintln!(
                        "{severity}: {}; leftovers of release {release} are not searched",
                        error::render(&e)
                    );
                    self.corrupt.insert(release);
                    failures += 1;
                }
            }
        }
        for release in &self.corrupt {
            self.decoded.remove(release);
        }
        failures
    }

    fn holds(&self, reference: &RecordRef) -> bool {
        let release = ReleaseRef {
            namespace: reference.namespace.clone(),
            name: reference.meta.release.clone(),
        };
        self.decoded.contains_key(&release) || self.corrupt.contains(&release)
    }
}

/// Why `cleanup --orphans` leaves a leftover alone, or `None` to delete it: the janitor's
/// protections (CRDs, `resource-policy: keep`, being deleted, owned by a controller, running
/// unless `force`).
pub fn kept(object: &LiveObject, force: bool) -> Option<String> {
    let outcome = match object.status {
        LiveStatus::Running | LiveStatus::Pending if !force => Outcome::Running,
        LiveStatus::Failed => Outcome::Failed(None),
        LiveStatus::Complete | LiveStatus::Succeeded => Outcome::Succeeded(None),
        _ => Outcome::NotWaited,
    };
    let candidate = janitor_rules::Candidate {
        kind: &object.key.type_key.kind,
        annotations: &object.annotations,
        created: object.created.map(|t| t.as_second()),
        deleting: object.deleting,
        controlled: object.controlled,
        outcome,
    };
    janitor_rules::protected(&candidate).map(|reason| match reason {
        KeepReason::Running => format!("still running ({}); --force deletes it", object.status),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests;
