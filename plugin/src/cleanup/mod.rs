//! `kubectl hooks cleanup [RELEASE | --all-releases]`: deletes leftover hook objects that
//! provably belong to a release — their kind + name + namespace match a hook of one of its
//! stored revisions ([`select`] decides). Deletes with `preconditions.uid` (never a re-created
//! object) and background propagation (a Job's Pods go with it), and prints kubectl's lines.

pub(crate) mod select;

#[cfg(test)]
mod proptests;

use crate::client::Cluster;
use crate::error::{self, Error, Result};
use crate::objects::{self, Lookup};
use crate::options::{CleanupOptions, CleanupTarget, Connection};
use crate::releases::{Record, Store};
use jiff::Timestamp;
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use select::{Candidate, Criteria};
use std::collections::{BTreeMap, BTreeSet};

/// Runs `cleanup`.
pub async fn run(kube: &Cluster, connection: &Connection, options: &CleanupOptions) -> Result<u8> {
    let store = Store::new(kube.client.clone(), connection.driver);
    let search = kube.search_namespace();
    let release = match &options.target {
        CleanupTarget::Release(name) => Some(name.as_str()),
        CleanupTarget::AllReleases => None,
    };
    let references = store.records(search, release).await?;
    if references.is_empty() {
        let scope = search.map_or("any namespace".to_string(), |ns| format!("namespace {ns}"));
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
    let criteria = Criteria {
        statuses: options.statuses.clone(),
        older_than: options.older_than,
        force: options.force,
    };
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
            if options.dry_run {
                println!("{} deleted (dry run)", candidate.kubectl_name);
                deleted += 1;
                continue;
            }
            match delete(kube, &lookup, candidate).await {
                Ok(true) => {
                    println!("{} deleted", candidate.kubectl_name);
                    deleted += 1;
                }
                Ok(false) => {}
                Err(e) => {
                    eprintln!("error: {}", error::render(&e));
                    failures += 1;
                }
            }
        }
    }
    if deleted == 0 && failures == 0 {
        let scope = search.map_or("any namespace".to_string(), |ns| format!("namespace {ns}"));
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

/// Deletes one object if it is still the one selected. `Ok(false)`: gone or re-created
/// meanwhile (reported on stderr, not an error).
async fn delete(kube: &Cluster, lookup: &Lookup, candidate: &Candidate) -> Result<bool> {
    let resolved = lookup
        .resolution
        .get(&candidate.key.type_key)
        .and_then(Option::as_ref)
        .expect("selected objects were listed through a resolved kind");
    let api = objects::api(&kube.client, resolved, candidate.key.namespace.as_deref());
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: Some(candidate.uid.clone()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&candidate.key.name, &params).await {
        Ok(_) => Ok(true),
        Err(e) if error::status_code(&e) == Some(404) => {
            eprintln!("{} already gone", candidate.kubectl_name);
            Ok(false)
        }
        Err(e) if error::status_code(&e) == Some(409) => {
            eprintln!(
                "skipped {}: it was re-created since it was listed (uid precondition)",
                candidate.kubectl_name
            );
            Ok(false)
        }
        Err(e) => {
            let resource = resolved.rbac_resource();
            Err(error::api(
                error::Request::new("delete", &resource, candidate.key.namespace.as_deref())
                    .named(&candidate.key.name),
                e,
            ))
        }
    }
}
