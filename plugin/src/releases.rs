//! Finding and decoding Helm release records. Records are found with one metadata-only list by
//! label (`owner=helm[,name=RELEASE]`); revisions are picked from the labels; only the chosen
//! revisions are fetched (GET, concurrently) and decoded.

use crate::error::{self, Error, Result};
use futures::stream::{self, StreamExt, TryStreamExt};
use helm_hooks::release::{
    RecordMeta, Release, StorageDriver, decode_record, release_label_selector,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use std::collections::BTreeMap;

/// How many records are fetched at once.
const FETCH_CONCURRENCY: usize = 8;

/// One stored revision, known from its labels only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef {
    /// The namespace of the record: the release namespace.
    pub namespace: String,
    /// The Secret's or ConfigMap's name (`sh.helm.release.v1.NAME.vN`).
    pub object_name: String,
    pub meta: RecordMeta,
}

/// A decoded revision with where it came from.
#[derive(Debug, Clone)]
pub struct Record {
    pub reference: RecordRef,
    pub release: Release,
}

/// Helm's release storage in the cluster.
pub struct Store {
    client: Client,
    driver: StorageDriver,
    resource: ApiResource,
}

impl Store {
    /// Storage read through `client` with `driver` (from `HELM_DRIVER`).
    pub fn new(client: Client, driver: StorageDriver) -> Store {
        let resource = match driver {
            StorageDriver::Secret => ApiResource::erase::<Secret>(&()),
            StorageDriver::ConfigMap => ApiResource::erase::<ConfigMap>(&()),
        };
        Store {
            client,
            driver,
            resource,
        }
    }

    /// The plural resource name, for messages (`secrets`, `configmaps`).
    pub fn resource(&self) -> &str {
        &self.resource.plural
    }

    fn api(&self, namespace: Option<&str>) -> Api<DynamicObject> {
        self.api_with(self.client.clone(), namespace)
    }

    fn api_with(&self, client: Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(client, ns, &self.resource),
            None => Api::all_with(client, &self.resource),
        }
    }

    /// What to watch for new and updated records of `release` (or of every release) in
    /// `namespace`: the API through `client` (a watch client) and the label selector.
    pub fn watch_target(
        &self,
        client: Client,
        namespace: Option<&str>,
        release: Option<&str>,
    ) -> (Api<DynamicObject>, String) {
        (
            self.api_with(client, namespace),
            release_label_selector(release),
        )
    }

    /// Every stored revision (of `release`, or of every release) in `namespace` (`None`: all
    /// namespaces), from one metadata-only list. Sorted by namespace, release, revision.
    pub async fn records(
        &self,
        namespace: Option<&str>,
        release: Option<&str>,
    ) -> Result<Vec<RecordRef>> {
        let params = ListParams::default().labels(&release_label_selector(release));
        let list = self
            .api(namespace)
            .list_metadata(&params)
            .await
            .map_err(|e| error::api(error::Request::new("list", self.resource(), namespace), e))?;
        let mut records: Vec<RecordRef> = list
            .items
            .into_iter()
            .filter_map(|item| {
                let labels = item.metadata.labels.unwrap_or_default();
                Some(RecordRef {
                    namespace: item.metadata.namespace.unwrap_or_default(),
                    object_name: item.metadata.name.unwrap_or_default(),
                    meta: RecordMeta::from_labels(&labels)?,
                })
            })
            .filter(|r| release.is_none_or(|name| r.meta.release == name))
            .collect();
        records.sort_by(|a, b| {
            (&a.namespace, &a.meta.release, a.meta.revision).cmp(&(
                &b.namespace,
                &b.meta.release,
                b.meta.revision,
            ))
        });
        Ok(records)
    }

    /// [`select_revision`] among `records` (of `namespace`); when the release is not there,
    /// looks in every namespace (one metadata list) and names where it is, with the flag to use.
    pub async fn select_or_locate(
        &self,
        records: &[RecordRef],
        release: &str,
        revision: Option<i64>,
        namespace: Option<&str>,
    ) -> Result<RecordRef> {
        match select_revision(records, release, revision, namespace) {
            Err(Error::NotFound(message))
                if namespace.is_some() && !records.iter().any(|r| r.meta.release == release) =>
            {
                let elsewhere: std::collections::BTreeSet<String> = self
                    .records(None, Some(release))
                    .await
                    .map(|all| all.into_iter().map(|r| r.namespace).collect())
                    .unwrap_or_default();
                if elsewhere.is_empty() {
                    return Err(Error::NotFound(message));
                }
                let list: Vec<&str> = elsewhere.iter().map(String::as_str).collect();
                Err(Error::NotFound(format!(
                    "release {release:?} not found in namespace {}, but it exists in namespace {}: \
                     add -n {}",
                    namespace.unwrap_or_default(),
                    list.join(", "),
                    list[0]
                )))
            }
            other => other,
        }
    }

    /// Fetches and decodes one revision.
    pub async fn fetch(&self, reference: &RecordRef) -> Result<Record> {
        let ns = reference.namespace.as_str();
        let object = self
            .api(Some(ns))
            .get(&reference.object_name)
            .await
            .map_err(|e| {
                error::api(
                    error::Request::new("get", self.resource(), Some(ns))
                        .named(&reference.object_name),
                    e,
                )
            })?;
        let value = serde_json::to_value(&object)
            .map_err(|e| Error::Failed(format!("cannot read {}: {e}", reference.object_name)))?;
        // The decode error already names the record and the fix.
        let release = decode_record(self.driver, &value)?;
        Ok(Record {
            reference: reference.clone(),
            release,
        })
    }

    /// Fetches and decodes `references` concurrently, one result each (a corrupt record does
    /// not hide the others); the result keeps their order.
    pub async fn fetch_each(&self, references: &[RecordRef]) -> Vec<Result<Record>> {
        stream::iter(references.iter().map(|r| self.fetch(r)))
            .buffered(FETCH_CONCURRENCY)
            .collect()
            .await
    }

    /// Fetches and decodes `references` concurrently; the result keeps their order.
    pub async fn fetch_all(&self, references: &[RecordRef]) -> Result<Vec<Record>> {
        stream::iter(references.iter().map(|r| self.fetch(r)))
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await
    }
}

/// The latest revision of each release (by namespace and name), in input order.
pub fn latest_per_release(records: &[RecordRef]) -> Vec<RecordRef> {
    let mut latest: BTreeMap<(&str, &str), &RecordRef> = BTreeMap::new();
    for record in records {
        let key = (record.namespace.as_str(), record.meta.release.as_str());
        match latest.get(&key) {
            Some(current) if current.meta.revision >= record.meta.revision => {}
            _ => {
                latest.insert(key, record);
            }
        }
    }
    latest.into_values().cloned().collect()
}

/// The revision to read for one release: `revision`, or the latest. Errors name what exists.
/// With `-A` the release may exist in several namespaces: that is an error asking for `-n`.
pub fn select_revision(
    records: &[RecordRef],
    release: &str,
    revision: Option<i64>,
    namespace: Option<&str>,
) -> Result<RecordRef> {
    let scope = namespace.map_or_else(
        || "any namespace".to_string(),
        |ns| format!("namespace {ns}"),
    );
    let candidates: Vec<&RecordRef> = records
        .iter()
        .filter(|r| r.meta.release == release)
        .collect();
    if candidates.is_empty() {
        return Err(Error::NotFound(format!(
            "release {release:?} not found in {scope} (no Helm release records labelled \
             owner=helm,name={release}; check -n and HELM_DRIVER)"
        )));
    }
    let namespaces: std::collections::BTreeSet<&str> =
        candidates.iter().map(|r| r.namespace.as_str()).collect();
    if namespaces.len() > 1 {
        return Err(Error::Usage(format!(
            "release {release:?} exists in several namespaces ({}): choose one with -n",
            namespaces.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    match revision {
        None => Ok(candidates
            .iter()
            .max_by_key(|r| r.meta.revision)
            .map(|r| (*r).clone())
            .expect("not empty")),
        Some(rev) => candidates
            .iter()
            .find(|r| r.meta.revision == rev)
            .map(|r| (*r).clone())
            .ok_or_else(|| {
                let revisions: Vec<String> = candidates
                    .iter()
                    .map(|r| r.meta.revision.to_string())
                    .collect();
                Error::NotFound(format!(
                    "release {release:?} has no revision {rev} in {scope}; stored revisions: {}",
                    revisions.join(", ")
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ns: &str, release: &str, revision: i64) -> RecordRef {
        RecordRef {
            namespace: ns.into(),
            object_name: format!("sh.helm.release.v1.{release}.v{revision}"),
            meta: RecordMeta {
                release: release.into(),
                revision,
                status: "superseded".into(),
            },
        }
    }

    #[test]
    fn latest_per_release_picks_the_highest_revision() {
        let records = vec![
            rec("a", "x", 2),
            rec("a", "x", 10),
            rec("a", "x", 9),
            rec("a", "y", 1),
            rec("b", "x", 3),
        ];
        let latest: Vec<_> = latest_per_release(&records)
            .into_iter()
            .map(|r| (r.namespace, r.meta.release, r.meta.revision))
            .collect();
        assert_eq!(
            latest,
            [
                ("a".into(), "x".into(), 10),
                ("a".into(), "y".into(), 1),
                ("b".into(), "x".into(), 3)
            ]
        );
    }

    #[test]
    fn select_revision_latest_or_explicit() {
        let records = vec![rec("a", "x", 1), rec("a", "x", 12), rec("a", "x", 3)];
        assert_eq!(
            select_revision(&records, "x", None, Some("a"))
                .unwrap()
                .meta
                .revision,
            12
        );
        assert_eq!(
            select_revision(&records, "x", Some(3), Some("a"))
                .unwrap()
                .meta
                .revision,
            3
        );
        let e = select_revision(&records, "x", Some(7), Some("a")).unwrap_err();
        assert!(e.to_string().contains("stored revisions: 1, 12, 3"), "{e}");
        let e = select_revision(&records, "nope", None, Some("a")).unwrap_err();
        assert!(e.to_string().contains("not found in namespace a"), "{e}");
    }

    #[test]
    fn a_release_in_two_namespaces_needs_n() {
        let records = vec![rec("a", "x", 1), rec("b", "x", 1)];
        let e = select_revision(&records, "x", None, None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
