//! One pass of the janitor: read Helm's release records, list the hook objects they name (one
//! list per kind and namespace), stamp confirmed hook runs with their release, enforce live
//! delete policies once Helm recorded the outcome, remove orphans (with `--orphans`), and expire
//! kept logs. Every decision is the core's (`helm_hooks::janitor_rules`, `ownership`).

use crate::metrics::{DeletionLabels, Metrics};
use helm_hooks::hook::HOOK_ANNOTATION;
use helm_hooks::janitor_rules::{
    self as rules, Candidate, DeleteReason, KeptContainerLog, KeptLog, Outcome, RecordEvidence,
    ReleaseRef, Timing, Verdict,
};
use helm_hooks::orphans::LEFTOVER_KINDS;
use helm_hooks::ownership::{LiveMeta, Ownership, ReleaseHooks};
use helm_hooks::release::{RecordMeta, StorageDriver, decode_record, release_label_selector};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ObjectReference, Pod, Secret};
use kube::Client;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams, Preconditions,
    PropagationPolicy,
};
use kube::core::ObjectMeta;
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::runtime::events::{Event, EventType, Recorder};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What a pass is allowed to do.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Timing of deletions.
    pub timing: Timing,
    /// Remove hooks of releases that are gone.
    pub orphans: bool,
    /// Report only.
    pub dry_run: bool,
    /// Namespaces never touched.
    pub exempt_namespaces: Vec<String>,
    /// When not empty, the only namespaces touched (every other one counts as exempt, and so
    /// do cluster-scoped hooks of releases outside them).
    pub only_namespaces: Vec<String>,
    /// Helm's storage driver.
    pub driver: StorageDriver,
    /// How long kept logs stay, in seconds.
    pub keep_logs: i64,
}

/// A pass's failure.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// An API request failed.
    #[error("{what}: {source}")]
    Api {
        /// The request.
        what: String,
        /// The error.
        #[source]
        source: kube::Error,
    },
}

fn api_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> PassError {
    let what = what.into();
    move |source| PassError::Api { what, source }
}

/// One live object as the pass sees it.
struct Live {
    resource: ApiResource,
    namespaced: bool,
    group: String,
    kind: String,
    namespace: Option<String>,
    name: String,
    uid: String,
    resource_version: String,
    created: Option<i64>,
    deleting: bool,
    controlled: bool,
    annotations: BTreeMap<String, String>,
    outcome: Outcome,
}

impl Live {
    fn from(resource: &ApiResource, namespaced: bool, object: &DynamicObject) -> Live {
        let m: &ObjectMeta = &object.metadata;
        let kind = resource.kind.clone();
        let value = serde_json::to_value(object).unwrap_or(Value::Null);
        Live {
            resource: resource.clone(),
            namespaced,
            group: resource.group.clone(),
            outcome: Outcome::of(&kind, &value),
            kind,
            namespace: m.namespace.clone(),
            name: m.name.clone().unwrap_or_default(),
            uid: m.uid.clone().unwrap_or_default(),
            resource_version: m.resource_version.clone().unwrap_or_default(),
            created: m.creation_timestamp.as_ref().map(|t| t.0.as_second()),
            deleting: m.deletion_timestamp.is_some(),
            controlled: m
                .owner_references
                .as_ref()
                .is_some_and(|o| o.iter().any(|r| r.controller == Some(true))),
            annotations: m.annotations.clone().unwrap_or_default(),
        }
    }

    fn meta(&self) -> LiveMeta<'_> {
        LiveMeta {
            group: &self.group,
            kind: &self.kind,
            namespace: self.namespace.as_deref(),
            name: &self.name,
            created: self.created,
            annotations: &self.annotations,
        }
    }

    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            kind: &self.kind,
            annotations: &self.annotations,
            created: self.created,
            deleting: self.deleting,
            controlled: self.controlled,
            outcome: self.outcome,
        }
    }

    fn api(&self, client: &Client) -> Api<DynamicObject> {
        match (&self.namespace, self.namespaced) {
            (Some(ns), true) => Api::namespaced_with(client.clone(), ns, &self.resource),
            _ => Api::all_with(client.clone(), &self.resource),
        }
    }

    fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{} -n {ns}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    fn reference(&self) -> ObjectReference {
        ObjectReference {
            api_version: Some(self.resource.api_version.clone()),
            kind: Some(self.kind.clone()),
            name: Some(self.name.clone()),
            namespace: self.namespace.clone(),
            uid: Some(self.uid.clone()),
            ..ObjectReference::default()
        }
    }
}

/// Each release's record names and resourceVersions, sorted, with the hooks decoded from them.
pub type RecordCache = BTreeMap<ReleaseRef, (Vec<(String, String)>, ReleaseHooks)>;

/// The janitor's clients and settings for passes.
pub struct Janitor {
    /// The API client.
    pub client: Client,
    /// Publishes an Event on every deleted object.
    pub recorder: Recorder,
    /// What passes may do.
    pub settings: Settings,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Each release's decoded hooks, keyed by its records' names and resourceVersions: a
    /// release whose records did not change since the last pass is not fetched again.
    pub cache: tokio::sync::Mutex<RecordCache>,
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct Report {
    /// Deleted (or reported under `--dry-run`) objects, `Kind/name -n ns`.
    pub deleted: Vec<String>,
    /// Objects stamped with their release.
    pub stamped: usize,
}

impl Janitor {
    /// Runs one pass.
    pub async fn pass(&self) -> Result<Report, PassError> {
        let now = jiff::Timestamp::now().as_second();
        let mut report = Report::default();
        let exempt = self.exempt_namespaces().await?;
        let (releases, unreadable) = self.read_releases(&exempt).await?;
        let discovery = Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(api_err("discover the API"))?;
        let resolve = |group: &str, kind: &str| {
            discovery
                .get(group)
                .and_then(|g| g.recommended_kind(kind))
                .map(|(r, caps)| (r, caps.scope == Scope::Namespaced))
        };

        // Hook objects the records name, listed once per kind and namespace.
        let mut locations: BTreeSet<(String, String, Option<String>)> = BTreeSet::new();
        for hooks in releases.values() {
            for (group, kind, namespace) in hooks.hook_locations() {
                if let Some((_, namespaced)) = resolve(&group, &kind) {
                    let ns = namespaced.then_some(namespace);
                    if ns.as_ref().is_none_or(|ns| !exempt.contains(ns)) {
                        locations.insert((group, kind, ns));
                    }
                }
            }
        }
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for (group, kind, namespace) in &locations {
            let Some((resource, namespaced)) = resolve(group, kind) else {
                continue;
            };
            for mut live in self
                .list(&resource, namespaced, namespace.as_deref(), None)
                .await?
            {
                if !live.annotations.contains_key(HOOK_ANNOTATION) || !seen.insert(live.uid.clone())
                {
                    continue;
                }
                // The release whose records confirm this object as a hook run, if any.
                let owner =
                    releases
                        .iter()
                        .find_map(|(key, hooks)| match hooks.ownership(&live.meta()) {
                            Ownership::HookRun { revisions } => {
                                Some((key, hooks, *revisions.last().expect("not empty")))
                            }
                            Ownership::NotOwned(_) => None,
                        });
                let Some((release, hooks, revision)) = owner else {
                    continue;
                };
                if hooks.is_live()
                    && rules::stamped_release(&live.annotations).as_ref() != Some(release)
                {
                    self.stamp(&mut live, release).await?;
                    report.stamped += 1;
                }
                let verdict = if hooks.is_live() {
                    let evidence = RecordEvidence::Read {
                        run: hooks.recorded_run(&live.meta(), revision),
                        busy: hooks.is_busy(),
                    };
                    rules::policy_verdict(&live.candidate(), evidence, now, self.settings.timing)
                } else if self.settings.orphans {
                    let since = match hooks
                        .uninstalled_at()
                        .or(rules::orphaned_since(&live.annotations))
                    {
                        Some(since) => since,
                        None => {
                            self.mark_orphaned(&mut live, now).await?;
                            now
                        }
                    };
                    rules::orphan_verdict(&live.candidate(), Some(since), now, self.settings.timing)
                } else {
                    continue;
                };
                self.act(&live, release, verdict, now, &mut report).await?;
            }
        }

        // Stamped objects whose release has no readable records.
        if self.settings.orphans || !unreadable.is_empty() {
            let selector = format!("{}=true", rules::STAMPED_LABEL);
            for (api_version, kind) in LEFTOVER_KINDS {
                let group = helm_hooks::manifest::api_group(api_version);
                let Some((resource, namespaced)) = resolve(group, kind) else {
                    continue;
                };
                for mut live in self
                    .list(&resource, namespaced, None, Some(&selector))
                    .await?
                {
                    if seen.contains(&live.uid)
                        || live
                            .namespace
                            .as_ref()
                            .is_some_and(|ns| exempt.contains(ns))
                    {
                        continue;
                    }
                    let Some(release) = rules::stamped_release(&live.annotations) else {
                        continue;
                    };
                    if exempt.contains(&release.namespace) {
                        continue;
                    }
                    let verdict = if unreadable.contains(&release) {
                        rules::policy_verdict(
                            &live.candidate(),
                            RecordEvidence::Unreadable,
                            now,
                            self.settings.timing,
                        )
                    } else if releases.contains_key(&release) || !self.settings.orphans {
                        // Records exist (the object is no run of them): not an orphan.
                        continue;
                    } else {
                        let since = match rules::orphaned_since(&live.annotations) {
                            Some(since) => since,
                            None => {
                                self.mark_orphaned(&mut live, now).await?;
                                now
                            }
                        };
                        rules::orphan_verdict(
                            &live.candidate(),
                            Some(since),
                            now,
                            self.settings.timing,
                        )
                    };
                    self.act(&live, &release, verdict, now, &mut report).await?;
                }
            }
        }
        self.expire_kept_logs(now, &exempt, &mut report).await?;
        self.metrics.stamped.inc_by(report.stamped as u64);
        Ok(report)
    }

    async fn exempt_namespaces(&self) -> Result<BTreeSet<String>, PassError> {
        let list = Api::<Namespace>::all(self.client.clone())
            .list_metadata(&ListParams::default())
            .await
            .map_err(api_err("list namespaces"))?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|n| {
                let name = n.metadata.name.unwrap_or_default();
                let labels = n.metadata.labels.unwrap_or_default();
                let outside = !self.settings.only_namespaces.is_empty()
                    && !self.settings.only_namespaces.contains(&name);
                (outside
                    || rules::namespace_exempt(&name, &labels, &self.settings.exempt_namespaces))
                .then_some(name)
            })
            .collect())
    }

    /// Every release's stored revisions, decoded; releases whose records cannot be read.
    async fn read_releases(
        &self,
        exempt: &BTreeSet<String>,
    ) -> Result<(BTreeMap<ReleaseRef, ReleaseHooks>, BTreeSet<ReleaseRef>), PassError> {
        let resource = match self.settings.driver {
            StorageDriver::Secret => ApiResource::erase::<Secret>(&()),
            StorageDriver::ConfigMap => ApiResource::erase::<ConfigMap>(&()),
        };
        let all: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
        let params = ListParams::default().labels(&release_label_selector(None));
        let list = all.list_metadata(&params).await.map_err(api_err(format!(
            "list {} labelled owner=helm",
            resource.plural
        )))?;
        let mut by_release: BTreeMap<ReleaseRef, Vec<(String, String)>> = BTreeMap::new();
        for item in list.items {
            let labels = item.metadata.labels.unwrap_or_default();
            let (Some(meta), Some(namespace), Some(name)) = (
                RecordMeta::from_labels(&labels),
                item.metadata.namespace,
                item.metadata.name,
            ) else {
                continue;
            };
            let release = ReleaseRef {
                namespace,
                name: meta.release,
            };
            let version = item.metadata.resource_version.unwrap_or_default();
            by_release.entry(release).or_default().push((name, version));
        }
        let mut cache = self.cache.lock().await;
        cache.retain(|release, _| by_release.contains_key(release));
        let mut releases = BTreeMap::new();
        let mut unreadable = BTreeSet::new();
        for (release, mut objects) in by_release {
            if exempt.contains(&release.namespace) {
                continue;
            }
            objects.sort();
            if let Some((key, hooks)) = cache.get(&release)
                && *key == objects
            {
                releases.insert(release, hooks.clone());
                continue;
            }
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), &release.namespace, &resource);
            let mut revisions = Vec::new();
            let mut ok = true;
            for (name, _) in &objects {
                let name = name.as_str();
                let decoded = match api.get(name).await {
                    Ok(object) => serde_json::to_value(&object)
                        .ok()
                        .and_then(|v| decode_record(self.settings.driver, &v).ok()),
                    Err(kube::Error::Api(e)) if e.code == 404 => continue,
                    Err(_) => None,
                };
                match decoded {
                    Some(r) => revisions.push(r),
                    None => {
                        tracing::warn!(release = %release, record = %name, "cannot read release record");
                        ok = false;
                    }
                }
            }
            if ok && !revisions.is_empty() {
                let hooks = ReleaseHooks::new(revisions.iter());
                cache.insert(release.clone(), (objects, hooks.clone()));
                releases.insert(release, hooks);
            } else if !ok {
                unreadable.insert(release);
            }
        }
        Ok((releases, unreadable))
    }

    async fn list(
        &self,
        resource: &ApiResource,
        namespaced: bool,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Live>, PassError> {
        let api: Api<DynamicObject> = match namespace {
            Some(ns) if namespaced => Api::namespaced_with(self.client.clone(), ns, resource),
            _ => Api::all_with(self.client.clone(), resource),
        };
        let mut params = ListParams::default();
        if let Some(s) = selector {
            params = params.labels(s);
        }
        let what = format!(
            "list {} in {}",
            resource.plural,
            namespace.unwrap_or("all namespaces")
        );
        // Jobs and Pods need their status; every other kind is listed metadata-only.
        let forbidden = |e: &kube::Error| matches!(e, kube::Error::Api(s) if s.code == 403);
        let items: Vec<DynamicObject> = if matches!(resource.kind.as_str(), "Job" | "Pod") {
            match api.list(&params).await {
                Ok(list) => list.items,
                // A hook kind the janitor's RBAC does not cover: skipped, said once a pass.
                Err(e) if forbidden(&e) => {
                    tracing::warn!(%what, "forbidden: grant list on it to the janitor to clean it");
                    return Ok(Vec::new());
                }
                Err(e) => return Err(api_err(what)(e)),
            }
        } else {
            let list = match api.list_metadata(&params).await {
                Ok(list) => list,
                Err(e) if forbidden(&e) => {
                    tracing::warn!(%what, "forbidden: grant list on it to the janitor to clean it");
                    return Ok(Vec::new());
                }
                Err(e) => return Err(api_err(what)(e)),
            };
            list.items
                .into_iter()
                .map(|m| DynamicObject {
                    types: None,
                    metadata: m.metadata,
                    data: Value::Null,
                })
                .collect()
        };
        Ok(items
            .iter()
            .map(|o| Live::from(resource, namespaced, o))
            .collect())
    }

    async fn stamp(&self, live: &mut Live, release: &ReleaseRef) -> Result<(), PassError> {
        if self.settings.dry_run {
            return Ok(());
        }
        let patch = json!({"metadata": {
            "labels": {rules::STAMPED_LABEL: "true"},
            "annotations": {rules::RELEASE_STAMP_ANNOTATION:
                rules::stamp_value(&release.namespace, &release.name)},
            "resourceVersion": live.resource_version,
        }});
        self.patch(live, patch, "stamp").await
    }

    async fn mark_orphaned(&self, live: &mut Live, now: i64) -> Result<(), PassError> {
        if self.settings.dry_run {
            return Ok(());
        }
        let at = jiff::Timestamp::from_second(now)
            .unwrap_or_default()
            .to_string();
        let patch = json!({"metadata": {"annotations": {rules::ORPHANED_SINCE_ANNOTATION: at}}});
        self.patch(live, patch, "mark orphaned").await
    }

    async fn patch(&self, live: &mut Live, patch: Value, what: &str) -> Result<(), PassError> {
        match live
            .api(&self.client)
            .patch(&live.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(patched) => {
                // Later preconditions must name the version this patch made.
                if let Some(rv) = patched.metadata.resource_version {
                    live.resource_version = rv;
                }
                Ok(())
            }
            // Changed or gone since the list: the next pass sees it again.
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
            // E.g. a Role or ClusterRole without the `escalate` verb: not stamped, said.
            Err(kube::Error::Api(e)) if e.code == 403 => {
                tracing::warn!(object = %live.display(), "cannot {what}: {}", e.message);
                Ok(())
            }
            Err(e) => Err(api_err(format!("{what} {}", live.display()))(e)),
        }
    }

    async fn act(
        &self,
        live: &Live,
        release: &ReleaseRef,
        verdict: Verdict,
        now: i64,
        report: &mut Report,
    ) -> Result<(), PassError> {
        let Verdict::Delete(reason) = verdict else {
            tracing::debug!(object = %live.display(), release = %release, ?verdict, "kept");
            return Ok(());
        };
        let failed = matches!(live.outcome, Outcome::Failed(_));
        if failed && !self.settings.dry_run {
            self.keep_logs(live, release, reason, now).await?;
        }
        self.delete(live, reason.as_str(), release, report).await
    }

    async fn delete(
        &self,
        live: &Live,
        reason: &str,
        release: &ReleaseRef,
        report: &mut Report,
    ) -> Result<(), PassError> {
        let dry_run = self.settings.dry_run;
        tracing::info!(object = %live.display(), release = %release, reason, dry_run, "delete");
        if !dry_run {
            let params = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                preconditions: Some(Preconditions {
                    uid: Some(live.uid.clone()),
                    resource_version: Some(live.resource_version.clone()),
                }),
                ..DeleteParams::default()
            };
            match live.api(&self.client).delete(&live.name, &params).await {
                Ok(_) => {}
                // Gone, or changed since the list (precondition failed): nothing deleted now.
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
                    tracing::info!(object = %live.display(), "changed or gone since listed; left for the next pass");
                    return Ok(());
                }
                Err(e) => return Err(api_err(format!("delete {}", live.display()))(e)),
            }
            let event = Event {
                type_: EventType::Normal,
                reason: "HookDeleted".into(),
                note: Some(format!(
                    "helm-hooks-janitor deleted this hook of release {release}: {reason}"
                )),
                action: "Delete".into(),
                secondary: None,
            };
            if let Err(e) = self.recorder.publish(&event, &live.reference()).await {
                tracing::warn!(object = %live.display(), error = %e, "cannot publish the Event");
            }
        }
        self.metrics
            .deletions
            .get_or_create(&DeletionLabels {
                reason: reason.to_string(),
                dry_run: dry_run.to_string(),
            })
            .inc();
        report.deleted.push(live.display());
        Ok(())
    }

    /// Keeps the last lines of a failed Job's (or Pod's) containers in the release's kept-logs
    /// ConfigMap in the hook's namespace.
    async fn keep_logs(
        &self,
        live: &Live,
        release: &ReleaseRef,
        reason: DeleteReason,
        now: i64,
    ) -> Result<(), PassError> {
        let Some(ns) = live.namespace.as_deref() else {
            return Ok(());
        };
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let mut targets: Vec<Pod> = if live.kind == "Pod" {
            pods.get_opt(&live.name)
                .await
                .ok()
                .flatten()
                .into_iter()
                .collect()
        } else {
            let params = ListParams::default().labels(&format!("controller-uid={}", live.uid));
            pods.list(&params)
                .await
                .map(|l| l.items)
                .unwrap_or_default()
        };
        targets.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
        let mut containers = Vec::new();
        for pod in targets.iter().rev() {
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            let names: Vec<String> = pod
                .spec
                .as_ref()
                .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default();
            for container in names {
                if containers.len() == rules::MAX_KEPT_CONTAINERS {
                    break;
                }
                let params = LogParams {
                    container: Some(container.clone()),
                    tail_lines: Some(rules::MAX_KEPT_LINES as i64),
                    limit_bytes: Some(rules::MAX_KEPT_BYTES as i64 * 2),
                    ..LogParams::default()
                };
                let text = match pods.logs(&pod_name, &params).await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(pod = %pod_name, error = %e, "cannot read logs");
                        continue;
                    }
                };
                let (lines, truncated) =
                    rules::bound_log(&text, rules::MAX_KEPT_LINES, rules::MAX_KEPT_BYTES);
                containers.push(KeptContainerLog {
                    pod: pod_name.clone(),
                    container,
                    lines,
                    truncated,
                });
            }
        }
        let at = jiff::Timestamp::from_second(now).unwrap_or_default();
        let expires = jiff::Timestamp::from_second(now.saturating_add(self.settings.keep_logs))
            .unwrap_or_default();
        let entry = KeptLog {
            kind: live.kind.clone(),
            name: live.name.clone(),
            uid: live.uid.clone(),
            release: release.to_string(),
            reason: reason.as_str().to_string(),
            captured_at: at.to_string(),
            containers,
        };
        let key = rules::kept_log_key(&live.kind, &live.name);
        let name = rules::kept_logs_configmap_name(&release.name);
        let cms: Api<ConfigMap> = Api::namespaced(self.client.clone(), ns);
        let existing = cms
            .get_opt(&name)
            .await
            .map_err(api_err(format!("get configmap {name} -n {ns}")))?;
        let data = existing
            .as_ref()
            .and_then(|c| c.data.clone())
            .unwrap_or_default();
        let mut changes: serde_json::Map<String, Value> =
            rules::keys_to_evict(&data, &key, rules::MAX_KEPT_ENTRIES)
                .into_iter()
                .map(|k| (k, Value::Null))
                .collect();
        changes.insert(
            key,
            Value::String(serde_json::to_string(&entry).unwrap_or_default()),
        );
        let body = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": name, "namespace": ns,
                "labels": {rules::KEPT_LOGS_LABEL: "true", rules::KEPT_LOGS_RELEASE_LABEL: release.name,
                           "app.kubernetes.io/managed-by": "helm-hooks-janitor"},
                "annotations": {rules::EXPIRES_AT_ANNOTATION: expires.to_string()},
            },
            "data": changes,
        });
        let result = if existing.is_some() {
            cms.patch(&name, &PatchParams::default(), &Patch::Merge(&body))
                .await
        } else {
            let mut body = body;
            body["data"]
                .as_object_mut()
                .expect("object")
                .retain(|_, v| !v.is_null());
            let cm: ConfigMap = serde_json::from_value(body).expect("a ConfigMap");
            cms.create(&Default::default(), &cm).await
        };
        result.map_err(api_err(format!("keep logs in configmap {name} -n {ns}")))?;
        Ok(())
    }

    async fn expire_kept_logs(
        &self,
        now: i64,
        exempt: &BTreeSet<String>,
        report: &mut Report,
    ) -> Result<(), PassError> {
        let cms: Api<ConfigMap> = Api::all(self.client.clone());
        let params = ListParams::default().labels(&format!("{}=true", rules::KEPT_LOGS_LABEL));
        let list = cms
            .list_metadata(&params)
            .await
            .map_err(api_err("list kept-logs configmaps"))?;
        let resource = ApiResource::erase::<ConfigMap>(&());
        for item in list.items {
            let annotations = item.metadata.annotations.clone().unwrap_or_default();
            let ns = item.metadata.namespace.clone().unwrap_or_default();
            if exempt.contains(&ns) || !rules::is_expired(&annotations, now) {
                continue;
            }
            let release = ReleaseRef {
                namespace: ns.clone(),
                name: item
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(rules::KEPT_LOGS_RELEASE_LABEL).cloned())
                    .unwrap_or_default(),
            };
            let object = DynamicObject {
                types: None,
                metadata: item.metadata,
                data: Value::Null,
            };
            let live = Live::from(&resource, true, &object);
            self.delete(&live, "expired-logs", &release, report).await?;
        }
        Ok(())
    }
}
