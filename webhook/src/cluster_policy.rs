//! `--policy-source cluster`: the policy comes from the cluster's `HookPolicy` objects, kept
//! current by a watch (kube-runtime), and the namespaces' labels their selectors read (a
//! metadata-only watch on namespaces).
//!
//! Each object is read by the core's parser ([`HookPolicyObject::from_object`]); an object that
//! does not parse (the CRD's schema makes that rare) keeps its last good version, with one
//! error log. While a watch is down the last good policy stays in force and `/readyz` says why;
//! before the first complete list the webhook is not ready. No object at all means the
//! built-in policy, which is logged once each time it becomes so.

use crate::metrics::Metrics;
use futures::StreamExt as _;
use helm_hooks::policy::resource::{self, GROUP, PLURAL, VERSION};
use helm_hooks::policy::{HookPolicyObject, Policy, PolicySet};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::discovery::ApiResource;
use kube::runtime::watcher::{self, Event};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tracing::{error, info, warn};

type Labels = BTreeMap<String, String>;

/// The HookPolicies in force and the namespaces' labels.
#[derive(Debug)]
pub struct ClusterPolicies {
    /// The objects in precedence order, and each one's policy ready to share.
    current: RwLock<Arc<(PolicySet, Vec<Arc<Policy>>)>>,
    namespaces: RwLock<HashMap<String, Labels>>,
    builtin: Arc<Policy>,
    status: Mutex<Status>,
}

#[derive(Debug, Default)]
struct Status {
    policies_listed: bool,
    namespaces_listed: bool,
    /// `hookpolicies` / `namespaces` → why its watch is down, and since when.
    down: BTreeMap<&'static str, String>,
}

impl Default for ClusterPolicies {
    fn default() -> Self {
        ClusterPolicies {
            current: RwLock::new(Arc::new((PolicySet::default(), Vec::new()))),
            namespaces: RwLock::default(),
            builtin: Arc::new(Policy::builtin()),
            status: Mutex::default(),
        }
    }
}

impl ClusterPolicies {
    /// The policy in force in `namespace` (cluster-scoped objects: the one selecting a
    /// namespace without labels). A namespace not seen yet is known by its name label.
    pub fn select(&self, namespace: Option<&str>) -> Arc<Policy> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let labels = match namespace {
            Some(ns) => self
                .namespaces
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(ns)
                .cloned()
                .unwrap_or_else(|| resource::name_labels(ns)),
            None => Labels::new(),
        };
        let (set, policies) = &*current;
        set.objects()
            .iter()
            .position(|o| o.selects(&labels))
            .and_then(|i| policies.get(i).cloned())
            .unwrap_or_else(|| self.builtin.clone())
    }

    /// Puts `set` in force.
    pub fn replace(&self, set: PolicySet) {
        let policies = set
            .objects()
            .iter()
            .map(|o| Arc::new(o.policy.clone()))
            .collect();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new((set, policies));
    }

    /// `Err(why)` until both watches listed once; then `Ok(None)`, or `Ok(Some(why))` while a
    /// watch is down (the last good policy stays in force).
    pub fn readiness(&self) -> Result<Option<String>, String> {
        let status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let down = || {
            status
                .down
                .iter()
                .map(|(what, why)| format!("{what}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if !status.policies_listed || !status.namespaces_listed {
            let waiting = if status.policies_listed {
                "namespaces"
            } else {
                "hookpolicies"
            };
            let mut why = format!("waiting for the first list of {waiting}");
            if !status.down.is_empty() {
                why.push_str(&format!(" ({})", down()));
            }
            return Err(why);
        }
        Ok((!status.down.is_empty()).then(|| {
            format!(
                "policy watch down, the last good policy stays in force: {}",
                down()
            )
        }))
    }

    fn listed(&self, what: &'static str) {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        match what {
            "hookpolicies" => status.policies_listed = true,
            _ => status.namespaces_listed = true,
        }
    }

    /// Records a watch error; `true` when the watch was up until now.
    fn down(&self, what: &'static str, why: String) -> bool {
        let since = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let was_up = !status.down.contains_key(what);
        if was_up {
            status.down.insert(what, format!("since {since}: {why}"));
        }
        was_up
    }

    /// Records a watch event; `true` when the watch was down until now.
    fn up(&self, what: &'static str) -> bool {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        status.down.remove(what).is_some()
    }
}

/// The HookPolicy resource for kube's dynamic API.
fn hookpolicy_resource() -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: VERSION.into(),
        api_version: helm_hooks::policy::API_VERSION.into(),
        kind: helm_hooks::policy::KIND.into(),
        plural: PLURAL.into(),
    }
}

/// Runs both watches until the task is aborted.
pub async fn run(client: kube::Client, store: Arc<ClusterPolicies>, metrics: Arc<Metrics>) {
    tokio::join!(
        watch_policies(client.clone(), store.clone(), metrics),
        watch_namespaces(client, store),
    );
}

/// Logs a watch error once per outage.
fn report_down(store: &ClusterPolicies, what: &'static str, e: &watcher::Error) {
    let why = e.to_string();
    if store.down(what, why.clone()) {
        error!(
            watch = what,
            error = why,
            "watch down; retrying with backoff, the last good policy stays in force"
        );
    }
}

fn report_up(store: &ClusterPolicies, what: &'static str) {
    if store.up(what) {
        info!(watch = what, "watch resumed");
    }
}

/// What the policy watch keeps between events.
#[derive(Default)]
struct PolicyState {
    objects: BTreeMap<String, serde_json::Value>,
    buffer: BTreeMap<String, serde_json::Value>,
    last_good: BTreeMap<String, HookPolicyObject>,
    errors: BTreeMap<String, String>,
    /// The names in force, to log changes only.
    in_force: Option<Vec<(String, i32)>>,
}

impl PolicyState {
    /// Parses every object (an invalid one keeps its last good version) and puts the set in
    /// force; logs what changed.
    fn rebuild(&mut self, store: &ClusterPolicies, metrics: &Metrics) {
        let mut objects = Vec::new();
        let mut errors = BTreeMap::new();
        for (name, value) in &self.objects {
            match HookPolicyObject::from_object(value) {
                Ok(object) => {
                    self.last_good.insert(name.clone(), object.clone());
                    objects.push(object);
                }
                Err(e) => {
                    let message = format!("{}: {}", e.field, e.message);
                    if self.errors.get(name) != Some(&message) {
                        metrics
                            .policy_reloads
                            .get_or_create(&Metrics::result(false))
                            .inc();
                        error!(
                            hookpolicy = name.as_str(),
                            error = message.as_str(),
                            kept_last_good = self.last_good.contains_key(name),
                            "invalid HookPolicy; its last good version stays in force \
                             (fix it with kubectl edit hookpolicy)"
                        );
                    }
                    errors.insert(name.clone(), message);
                    objects.extend(self.last_good.get(name).cloned());
                }
            }
        }
        self.last_good
            .retain(|name, _| self.objects.contains_key(name));
        self.errors = errors;
        let set = PolicySet::new(objects);
        let names: Vec<(String, i32)> = set
            .objects()
            .iter()
            .map(|o| (o.name.clone(), o.priority))
            .collect();
        let changed = self.in_force.as_ref() != Some(&names);
        store.replace(set);
        if changed {
            metrics
                .policy_reloads
                .get_or_create(&Metrics::result(true))
                .inc();
            if names.is_empty() {
                warn!("no HookPolicy in the cluster: the built-in policy applies");
            } else {
                let listed: Vec<String> = names
                    .iter()
                    .map(|(n, p)| format!("{n} (priority {p})"))
                    .collect();
                info!(
                    hookpolicies = listed.join(", "),
                    "policy from the cluster in force"
                );
            }
        } else {
            info!("policy from the cluster updated");
        }
        self.in_force = Some(names);
    }
}

fn name_of(object: &DynamicObject) -> String {
    object.metadata.name.clone().unwrap_or_default()
}

/// The first pause before a watch is started again after an error; it doubles up to
/// [`MAX_BACKOFF`] and is reset by a complete list.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest pause between two attempts to start a watch.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Watches `api` until the task is aborted, handing every event to `handle`. After an error the
/// watch is dropped and started again with a fresh list, after a backoff: a watch kube restarts
/// on its own from a resource version yields nothing until an object changes, so its recovery
/// could not be seen; a fresh list ends with `InitDone`, which marks the watch up again.
async fn watch_forever<K>(
    api: Api<K>,
    what: &'static str,
    store: &ClusterPolicies,
    mut handle: impl FnMut(Event<K>),
) where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut delay = FIRST_BACKOFF;
    loop {
        let mut events = std::pin::pin!(watcher::watcher(api.clone(), watcher::Config::default()));
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    if !matches!(event, Event::Init | Event::InitApply(_)) {
                        report_up(store, what);
                    }
                    if matches!(event, Event::InitDone) {
                        delay = FIRST_BACKOFF;
                    }
                    handle(event);
                }
                Err(e) => {
                    report_down(store, what, &e);
                    break;
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_BACKOFF);
    }
}

async fn watch_policies(client: kube::Client, store: Arc<ClusterPolicies>, metrics: Arc<Metrics>) {
    let api: Api<DynamicObject> = Api::all_with(client, &hookpolicy_resource());
    let mut state = PolicyState::default();
    let value = |o: &DynamicObject| serde_json::to_value(o).unwrap_or_default();
    watch_forever(api, "hookpolicies", &store, |event| match event {
        Event::Init => state.buffer.clear(),
        Event::InitApply(o) => {
            state.buffer.insert(name_of(&o), value(&o));
        }
        Event::InitDone => {
            state.objects = std::mem::take(&mut state.buffer);
            state.rebuild(&store, &metrics);
            store.listed("hookpolicies");
        }
        Event::Apply(o) => {
            state.objects.insert(name_of(&o), value(&o));
            state.rebuild(&store, &metrics);
        }
        Event::Delete(o) => {
            state.objects.remove(&name_of(&o));
            state.rebuild(&store, &metrics);
        }
    })
    .await;
}

async fn watch_namespaces(client: kube::Client, store: Arc<ClusterPolicies>) {
    let api: Api<PartialObjectMeta<Namespace>> = Api::all(client);
    let mut buffer = HashMap::new();
    let labels = |o: &PartialObjectMeta<Namespace>| {
        (
            o.metadata.name.clone().unwrap_or_default(),
            o.metadata.labels.clone().unwrap_or_default(),
        )
    };
    let namespaces = || store.namespaces.write().unwrap_or_else(|e| e.into_inner());
    watch_forever(api, "namespaces", &store, |event| match event {
        Event::Init => buffer.clear(),
        Event::InitApply(o) => {
            let (name, labels) = labels(&o);
            buffer.insert(name, labels);
        }
        Event::InitDone => {
            *namespaces() = std::mem::take(&mut buffer);
            store.listed("namespaces");
        }
        Event::Apply(o) => {
            let (name, labels) = labels(&o);
            namespaces().insert(name, labels);
        }
        Event::Delete(o) => {
            namespaces().remove(&labels(&o).0);
        }
    })
    .await;
}

#[cfg(test)]
mod tests;
