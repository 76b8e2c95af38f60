//! `kubectl hooks cleanup [RELEASE | --all-releases]`: deletes leftover hook objects that
//! provably belong to a release — their kind + name + namespace match a hook of one of its
//! stored revisions ([`select`] decides). Deletes with `preconditions.uid` (never a re-created
//! object) and background propagation (a Job's Pods go with it), and prints kubectl's lines.
//! `cleanup --orphans` deletes the leftovers of releases that are not installed
//! ([`crate::orphans`] finds them) the same way.

pub(crate) mod select;

#[cfg(test)]
mod proptests;

use crate::client::Cluster;
use crate::discovery::Resolution;
use crate::error::{self, Error, Result};
use crate::objects::{self, Lookup, ObjectKey};
use crate::options::{CleanupOptions, CleanupTarget, Connection};
use crate::orphans;
use crate::releases::{Record, Store};
use jiff::Timestamp;
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use select::Criteria;
use std::collections::{BTreeMap, BTreeSet};

/// Runs `cleanup`.
pub async fn run(kube: &Cluster, connection: &Connection, options: &CleanupOptions) -> Result<u8> {
    let store = Store::new(kube.client.clone(), connection.driver);
    let search = kube.search_namespace();
    let release = match &options.target {
        CleanupTarget::Release(name) => Some(name.as_str()),
        CleanupTarget::AllReleases => None,
        CleanupTarget::Orphans => return run_orphans(kube, connection, options).await,
    };
    let references = store.records(search, release).await?;
    if references.is_empty() {
        let scope = kube.scope();
        return match release {
            Some(name) => Err(Error::NotFound(format!(
                "release {name:?} not found in {scope} (no Helm release records labelled \
                 owner=helm,name={name}; check -n and HELM_DRIVER)"
            ))),
            None => {
                eprintln!("No releases found in {scope}.");
                Ok(crate::EXIT_OK)
            }
        };
    }
    // Every stored revision: a leftover of revision 1 is named by revision 1 only.
    // A release with a corrupt record is skipped whole (the record is named); others go on.
    let mut records = Vec::new();
    let mut corrupt = BTreeSet::new();
    let mut failures = 0usize;
    for (reference, result) in references.iter().zip(store.fetch_each(&references).await) {
        match result {
            Ok(record) => records.push(record),
            Err(e) => {
                eprintln!(
                    "error: {}; release {} skipped",
                    error::render(&e),
                    reference.meta.release
                );
                corrupt.insert((reference.namespace.clone(), reference.meta.release.clone()));
                failures += 1;
            }
        }
    }
    records.retain(|r| {
        !corrupt.contains(&(
            r.reference.namespace.clone(),
            r.reference.meta.release.clone(),
        ))
    });
    let mut by_release: BTreeMap<(&str, &str), Vec<&Record>> = BTreeMap::new();
    for record in &records {
        by_release
            .entry((&record.reference.namespace, &record.reference.meta.release))
            .or_default()
            .push(record);
    }
    let all_hooks: Vec<_> = by_release
        .values()
        .flat_map(|records| select::hooks_of_release(records))
        .map(|(hook, _)| hook)
        .collect();
    let lookup: Lookup = objects::lookup(&kube.client, all_hooks.iter()).await?;
    let criteria = Criteria::of(options);
    let now = Timestamp::now();
    let mut deleted = 0usize;
    for ((namespace, name), records) in &by_release {
        let selection = select::select(records, &lookup, &criteria, now);
        if let Some(refusal) = &selection.refused {
            eprintln!("skipped release {name} (namespace {namespace}): {refusal}");
            if release.is_some() {
                failures += 1;
            }
            continue;
        }
        for skipped in &selection.skipped {
            eprintln!(
                "skipped {} (release {name}, namespace {namespace}): {}",
                skipped.kubectl_name, skipped.reason
            );
        }
        for candidate in &selection.delete {
            let target = Target {
                key: &candidate.key,
                uid: &candidate.uid,
                kubectl_name: &candidate.kubectl_name,
            };
            let (done, failed) = delete_counted(kube, &lookup.resolution, target, options).await;
            deleted += done;
            failures += failed;
        }
    }
    if deleted == 0 && failures == 0 {
        let scope = kube.scope();
        match release {
            Some(name) => eprintln!("No leftover hooks to delete for release {name} in {scope}."),
            None => eprintln!("No leftover hooks to delete in {scope}."),
        }
    }
    Ok(if failures > 0 {
        crate::EXIT_FAILED
    } else {
        crate::EXIT_OK
    })
}

/// `cleanup --orphans`: deletes the leftovers `list --orphans` shows, under the janitor's
/// protections (never a CRD, `resource-policy: keep`, a controlled Pod, or a running hook
/// without `--force`).
async fn run_orphans(
    kube: &Cluster,
    connection: &Connection,
    options: &CleanupOptions,
) -> Result<u8> {
    let found = orphans::find(kube, connection).await?;
    let mut failures = found.failures;
    let criteria = Criteria::of(options);
    let now = Timestamp::now();
    let mut deleted = 0usize;
    for (object, orphan) in &found.orphans {
        if !criteria.admits(object, now) {
            continue;
        }
        let kubectl_name = object.key.kubectl_name();
        if let Some(reason) = orphans::kept(object, options.force) {
            eprintln!(
                "skipped {kubectl_name} (leftover of release {}): {reason}",
                orphan.release
            );
            continue;
        }
        let target = Target {
            key: &object.key,
            uid: &object.uid,
            kubectl_name: &kubectl_name,
        };
        let (done, failed) = delete_counted(kube, &found.resolution, target, options).await;
        deleted += done;
        failures += failed;
    }
    if deleted == 0 && failures == 0 {
        eprintln!("No leftover hooks to delete in {}.", kube.scope());
    }
    Ok(if failures > 0 {
        crate::EXIT_FAILED
    } else {
        crate::EXIT_OK
    })
}

/// One object to delete: which, the uid it must still have, and its kubectl name.
#[derive(Clone, Copy)]
struct Target<'a> {
    key: &'a ObjectKey,
    uid: &'a str,
    kubectl_name: &'a str,
}

/// One line on stdout; a closed stdout (`| head`) is not an error: the deletions go on.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Deletes `target` (with `--dry-run`, only says it would) and prints kubectl's line. Returns
/// (deleted, failed) as 0 or 1 each.
async fn delete_counted(
    kube: &Cluster,
    resolution: &Resolution,
    target: Target<'_>,
    options: &CleanupOptions,
) -> (usize, usize) {
    if options.dry_run {
        say(&format!("{} deleted (dry run)", target.kubectl_name));
        return (1, 0);
    }
    match delete(kube, resolution, target).await {
        Ok(true) => {
            say(&format!("{} deleted", target.kubectl_name));
            (1, 0)
        }
        Ok(false) => (0, 0),
        Err(e) => {
            eprintln!("error: {}", error::render(&e));
            (0, 1)
        }
    }
}

/// Deletes one object if it is still the one listed (`uid`). `Ok(false)`: gone or re-created
/// meanwhile (reported on stderr, not an error).
async fn delete(kube: &Cluster, resolution: &Resolution, target: Target<'_>) -> Result<bool> {
    let Target {
        key,
        uid,
        kubectl_name,
    } = target;
    let resolved = resolution
        .get(&key.type_key)
        .and_then(Option::as_ref)
        .expect("selected objects were listed through a resolved kind");
    let api = objects::api(&kube.client, resolved, key.namespace.as_deref());
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&key.name, &params).await {
        Ok(_) => Ok(true),
        Err(e) if error::status_code(&e) == Some(404) => {
            eprintln!("{kubectl_name} already gone");
            Ok(false)
        }
        Err(e) if error::status_code(&e) == Some(409) => {
            eprintln!(
                "skipped {kubectl_name}: it was re-created since it was listed (uid precondition)"
            );
            Ok(false)
        }
        Err(e) => {
            let resource = resolved.rbac_resource();
            Err(error::api(
                error::Request::new("delete", &resource, key.namespace.as_deref()).named(&key.name),
                e,
            ))
        }
    }
}
