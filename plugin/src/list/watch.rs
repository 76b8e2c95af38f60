//! `list -w`: after the first listing, follows the release as Helm runs its hooks. It watches
//! (never polls) the release records and the Jobs and Pods of the namespace; after each burst of
//! events it lists again and prints one line per hook whose row changed, and a release line
//! when a new revision or status appears, until Ctrl-C.

use super::{Listed, collect, release_line};
use crate::client::Cluster;
use crate::error::{Error, Result};
use crate::options::{ListOptions, Output};
use crate::printers::{self, PrintOptions};
use crate::releases::Store;
use crate::rows::HookRow;
use futures::stream::{BoxStream, SelectAll};
use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Resource;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

/// Events closer together than this are one burst: one listing after it.
const SETTLE: Duration = Duration::from_millis(300);

/// Identifies a row across listings: a hook of a release.
type RowKey = (String, String, String, String);

fn key(row: &HookRow) -> RowKey {
    (
        row.namespace.clone(),
        row.release.clone(),
        row.kind.clone(),
        row.name.clone(),
    )
}

/// What a row showed last (its JSON, which has no time-dependent field such as AGE).
fn fingerprint(row: &HookRow) -> String {
    serde_json::to_string(row).unwrap_or_default()
}

/// Watches until Ctrl-C (exit 0, as `kubectl get -w`), or until every watch ends.
pub async fn follow(
    kube: &Cluster,
    store: &Store,
    options: &ListOptions,
    print: &PrintOptions,
    first: &Listed,
) -> Result<u8> {
    let mut shown: HashMap<RowKey, String> = first
        .rows
        .iter()
        .map(|r| (key(r), fingerprint(r)))
        .collect();
    let mut release_shown: Option<String> = match (&first.decoded[..], &options.release) {
        ([record], Some(_)) => Some(release_line(record)),
        _ => None,
    };
    let mut changes = change_streams(kube, store, options);
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let mut warned = false;
    loop {
        tokio::select! {
            _ = &mut interrupted => return Ok(crate::EXIT_OK),
            event = changes.next() => match event {
                None => return Ok(crate::EXIT_OK),
                Some(Err(e)) => {
                    if !warned {
                        eprintln!("warning: watch interrupted ({e}); resuming");
                        warned = true;
                    }
                    continue;
                }
                Some(Ok(())) => {}
            },
        }
        // Let the burst settle: Helm creates a hook, the Job controller a Pod, kwok or the
        // kubelet update both within moments.
        while let Ok(Some(_)) = tokio::time::timeout(SETTLE, changes.next()).await {}
        let listed = match collect(kube, store, options, false).await {
            Ok(listed) => listed,
            Err(e) => {
                eprintln!("warning: {}", crate::error::render(&e));
                continue;
            }
        };
        let print = PrintOptions {
            now: Timestamp::now(),
            no_headers: true,
            ..print.clone()
        };
        print_changes(&listed, options, &print, &mut shown, &mut release_shown)?;
    }
}

/// Prints the release line (one release, when its revision or status changed) and the rows
/// that changed since they were last shown.
fn print_changes(
    listed: &Listed,
    options: &ListOptions,
    print: &PrintOptions,
    shown: &mut HashMap<RowKey, String>,
    release_shown: &mut Option<String>,
) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if let ([record], Some(_)) = (&listed.decoded[..], &options.release) {
        let line = release_line(record);
        if release_shown.as_ref() != Some(&line) {
            if matches!(options.output, Output::Table | Output::Wide) {
                writeln!(stdout, "{line}").map_err(Error::Io)?;
            }
            *release_shown = Some(line);
        }
    }
    let changed: Vec<HookRow> = listed
        .rows
        .iter()
        .filter(|row| shown.get(&key(row)) != Some(&fingerprint(row)))
        .cloned()
        .collect();
    for row in &changed {
        shown.insert(key(row), fingerprint(row));
    }
    if changed.is_empty() {
        return Ok(());
    }
    match print.output {
        // One JSON object per line, ready for `jq`, as `kubectl get -w -o json` streams objects.
        Output::Json => {
            for row in &changed {
                let line = serde_json::to_string(row).map_err(|e| Error::Io(e.into()))?;
                writeln!(stdout, "{line}").map_err(Error::Io)?;
            }
        }
        _ => printers::print_hooks(&changed, print, &mut stdout).map_err(Error::Io)?,
    }
    stdout.flush().map_err(Error::Io)
}

/// One stream of "something changed" from the release records and the Jobs and Pods in scope.
fn change_streams(
    kube: &Cluster,
    store: &Store,
    options: &ListOptions,
) -> SelectAll<BoxStream<'static, std::result::Result<(), watcher::Error>>> {
    let namespace = kube.search_namespace();
    let (records, selector) = store.watch_target(
        kube.watch_client.clone(),
        namespace,
        options.release.as_deref(),
    );
    let mut all = SelectAll::new();
    all.push(changes_of(
        records,
        watcher::Config::default().labels(&selector),
    ));
    all.push(changes_of(
        typed_api::<Job>(kube, namespace),
        watcher::Config::default(),
    ));
    all.push(changes_of(
        typed_api::<Pod>(kube, namespace),
        watcher::Config::default(),
    ));
    all
}

fn typed_api<K>(kube: &Cluster, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(kube.watch_client.clone(), ns),
        None => Api::all(kube.watch_client.clone()),
    }
}

fn changes_of<K>(
    api: Api<K>,
    config: watcher::Config,
) -> BoxStream<'static, std::result::Result<(), watcher::Error>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(api, config)
        .default_backoff()
        .map_ok(|_| ())
        .boxed()
}
