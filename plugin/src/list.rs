//! `kubectl hooks list [RELEASE]`: every hook of a release revision (or of every release), in
//! Helm's execution order per event, with its last run from the record and the state of its
//! live object.

use crate::client::Cluster;
use crate::error::{self, Error, Result};
use crate::objects::{self, HookRef};
use crate::options::{Connection, ListOptions, Output};
use crate::orphans::{self, OrphanRow};
use crate::printers::{self, PrintOptions};
use crate::releases::{self, Record, Store};
use crate::rows::{HookRow, attach_live, manifest_errors, rows_of};
use helm_hooks::release::{Status, recovery_advice};
use jiff::Timestamp;
use std::io::Write;

mod watch;

/// Runs `list`.
pub async fn run(kube: &Cluster, connection: &Connection, options: &ListOptions) -> Result<u8> {
    if options.orphans {
        return run_orphans(kube, connection, options).await;
    }
    let store = Store::new(kube.client.clone(), connection.driver);
    let search = kube.search_namespace();
    let listed = collect(kube, &store, options, true).await?;
    let mut status = if listed.failures > 0 {
        crate::EXIT_FAILED
    } else {
        crate::EXIT_OK
    };
    let rows = &listed.rows;
    let human = matches!(options.output, Output::Table | Output::Wide | Output::Name);
    if rows.is_empty() && human && !options.watch {
        eprintln!("{}", empty_message(options, search, &listed.decoded));
        return Ok(status);
    }
    let print = print_options(kube, options);
    let mut stdout = std::io::stdout().lock();
    // One release in a table: its revision and status first, as `helm status` heads its output.
    if let ([record], Output::Table | Output::Wide, false, Some(_)) = (
        &listed.decoded[..],
        &options.output,
        options.no_headers,
        &options.release,
    ) {
        writeln!(stdout, "{}\n", release_line(record)).map_err(Error::Io)?;
    }
    printers::print_hooks(rows, &print, &mut stdout).map_err(Error::Io)?;
    stdout.flush().map_err(Error::Io)?;
    drop(stdout);
    if options.watch {
        status = watch::follow(kube, &store, options, &print, &listed).await?;
    }
    Ok(status)
}

/// `RELEASE: demo   NAMESPACE: team   REVISION: 2   STATUS: deployed`.
fn release_line(record: &Record) -> String {
    format!(
        "RELEASE: {}   NAMESPACE: {}   REVISION: {}   STATUS: {}",
        record.reference.meta.release,
        record.reference.namespace,
        record.reference.meta.revision,
        record.release.status()
    )
}

fn print_options(kube: &Cluster, options: &ListOptions) -> PrintOptions {
    PrintOptions {
        output: options.output.clone(),
        no_headers: options.no_headers,
        show_namespace: kube.all_namespaces,
        show_release: options.release.is_none(),
        now: Timestamp::now(),
    }
}

/// What one listing found.
struct Listed {
    /// The records whose hooks are listed.
    decoded: Vec<Record>,
    /// Their hooks (after `-l`, in Helm's order or `--sort-by`'s), with live state.
    rows: Vec<HookRow>,
    /// Records or hooks that could not be read (each reported on stderr).
    failures: usize,
}

/// Reads the records in scope, their hooks and the hooks' live objects. `warn`: print the
/// release-state warnings (the first listing does, a watch's later ones do not repeat them).
async fn collect(
    kube: &Cluster,
    store: &Store,
    options: &ListOptions,
    warn: bool,
) -> Result<Listed> {
    let search = kube.search_namespace();
    let records = store.records(search, options.release.as_deref()).await?;
    let chosen = match &options.release {
        Some(release) => vec![
            store
                .select_or_locate(&records, release, options.revision, search)
                .await?,
        ],
        None => releases::latest_per_release(&records),
    };
    // One corrupt record is reported (naming its Secret or ConfigMap); the others still list.
    let mut failures = 0usize;
    let mut decoded = Vec::new();
    for result in store.fetch_each(&chosen).await {
        match result {
            Ok(record) => decoded.push(record),
            Err(e) if options.release.is_none() => {
                if warn {
                    eprintln!("error: {}; its hooks are not listed", error::render(&e));
                }
                failures += 1;
            }
            Err(e) => return Err(e),
        }
    }
    // A stuck or failed release says so, with Helm's own recovery command.
    for record in decoded.iter().filter(|_| warn) {
        let meta = &record.reference.meta;
        let history: Vec<(i64, Status)> = records
            .iter()
            .filter(|r| r.namespace == record.reference.namespace && r.meta.release == meta.release)
            .map(|r| (r.meta.revision, Status::parse(&r.meta.status)))
            .collect();
        if let Some(advice) = recovery_advice(&meta.release, &record.reference.namespace, &history)
        {
            eprintln!("Warning: {advice}");
        }
    }
    let mut rows: Vec<(HookRef, HookRow)> = Vec::new();
    for record in &decoded {
        let mut of_record = rows_of(record, options.event);
        for problem in manifest_errors(record, &of_record) {
            if warn {
                eprintln!("error: {problem}");
            }
            failures += 1;
        }
        if let Some(selector) = &options.selector {
            of_record.retain(|(_, row)| selector.matches(&row.labels));
        }
        rows.extend(of_record);
    }
    let lookup = objects::lookup(&kube.client, rows.iter().map(|(r, _)| r)).await?;
    attach_live(&mut rows, &lookup);
    let mut rows: Vec<HookRow> = rows.into_iter().map(|(_, row)| row).collect();
    if let Some(sort_by) = &options.sort_by {
        printers::sort_rows(&mut rows, sort_by);
    }
    Ok(Listed {
        decoded,
        rows,
        failures,
    })
}

/// `list --orphans`: leftover hooks of releases that are not installed.
async fn run_orphans(kube: &Cluster, connection: &Connection, options: &ListOptions) -> Result<u8> {
    let found = orphans::find(kube, connection).await?;
    let status = if found.failures > 0 {
        crate::EXIT_FAILED
    } else {
        crate::EXIT_OK
    };
    let rows: Vec<OrphanRow> = found
        .orphans
        .iter()
        .map(|(object, orphan)| OrphanRow::of(object, orphan))
        .collect();
    let mut rows = rows;
    if let Some(sort_by) = &options.sort_by {
        printers::sort_rows(&mut rows, sort_by);
    }
    let human = matches!(options.output, Output::Table | Output::Wide | Output::Name);
    if rows.is_empty() && human {
        eprintln!("No leftover hooks found in {}.", kube.scope());
        return Ok(status);
    }
    let print = PrintOptions {
        show_release: true,
        ..print_options(kube, options)
    };
    let mut stdout = std::io::stdout().lock();
    printers::print_orphans(&rows, &print, &mut stdout).map_err(Error::Io)?;
    stdout.flush().map_err(Error::Io)?;
    Ok(status)
}

fn empty_message(options: &ListOptions, search: Option<&str>, decoded: &[Record]) -> String {
    let scope = match search {
        Some(ns) => format!("namespace {ns}"),
        None => "any namespace".to_string(),
    };
    let event = options
        .event
        .map(|e| format!(" for event {e}"))
        .unwrap_or_default();
    match &options.release {
        Some(release) => {
            let namespace = decoded
                .first()
                .map(|r| format!("namespace {}", r.reference.namespace))
                .unwrap_or(scope);
            format!("No hooks found{event} for release {release} in {namespace}.")
        }
        None if decoded.is_empty() => format!("No releases found in {scope}."),
        None => format!("No hooks found{event} in {scope}."),
    }
}
