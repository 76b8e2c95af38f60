//! `kubectl hooks list [RELEASE]`: every hook of a release revision (or of every release), in
//! Helm's execution order per event, with its last run from the record and the state of its
//! live object.

use crate::client::Kube;
use crate::error::{self, Error, Result};
use crate::objects::{self, HookRef, LiveStatus};
use crate::options::{Connection, ListOptions, Output};
use crate::printers::{self, PrintOptions};
use crate::releases::{self, Record, Store};
use helm_hooks::hook::HookEvent;
use helm_hooks::release::{Hook, HookPhase};
use jiff::Timestamp;
use serde::Serialize;
use std::io::Write;

/// One line of `list`: a hook of one revision, with its live object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRow {
    pub release: String,
    /// The release namespace.
    pub namespace: String,
    pub revision: i64,
    pub name: String,
    pub kind: String,
    pub api_version: String,
    /// The template file.
    pub path: String,
    pub events: Vec<String>,
    pub weight: i64,
    /// As written in the chart (empty: Helm's default applies).
    pub delete_policies: Vec<String>,
    /// What Helm acts on.
    pub effective_delete_policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output_log_policies: Vec<String>,
    pub last_run: LastRun,
    /// The live object's state.
    pub status: LiveStatus,
    /// The live object's namespace (`None`: cluster-scoped, or absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Timestamp>,
    /// `job.batch`, for `-o name`.
    #[serde(skip)]
    pub kubectl_kind: String,
}

/// `last_run` of the record.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    /// `Unknown` (never run, or in flight when Helm died), `Running`, `Succeeded`, `Failed`.
    pub phase: HookPhase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
}

impl LastRun {
    fn of(hook: &Hook) -> LastRun {
        let parse = |t: Option<&str>| t.and_then(|t| t.parse::<Timestamp>().ok());
        LastRun {
            phase: hook.last_run.phase,
            started_at: parse(hook.last_run.started()),
            completed_at: parse(hook.last_run.completed()),
        }
    }

    /// Whether the record says the hook ever ran.
    pub fn ever_ran(&self) -> bool {
        self.started_at.is_some() || self.phase != HookPhase::Unknown
    }
}

/// The hooks of one revision in the order `list` shows them: for each event (in Helm's list of
/// events), its hooks in Helm's execution order; a hook with several events appears once, under
/// its first. With `event`, only that event's hooks.
pub fn ordered_hooks(record: &Record, event: Option<HookEvent>) -> Vec<&Hook> {
    let release = &record.release;
    let events: Vec<HookEvent> = match event {
        Some(e) => vec![e],
        None => HookEvent::ALL.to_vec(),
    };
    let mut out: Vec<&Hook> = Vec::new();
    for e in events {
        for hook in release.hooks_for(e) {
            if !out.iter().any(|h| std::ptr::eq(*h, hook)) {
                out.push(hook);
            }
        }
    }
    if event.is_none() {
        // Hooks without a known event (Helm never stores such, but a record may be edited).
        for hook in &release.hooks {
            if !out.iter().any(|h| std::ptr::eq(*h, hook)) {
                out.push(hook);
            }
        }
    }
    out
}

/// Rows (without live state yet) and the hook references to look up, in display order.
pub fn rows_of(record: &Record, event: Option<HookEvent>) -> Vec<(HookRef, HookRow)> {
    let namespace = &record.reference.namespace;
    ordered_hooks(record, event)
        .into_iter()
        .map(|hook| {
            let reference = HookRef::from_hook(hook, namespace);
            let row = HookRow {
                release: record.reference.meta.release.clone(),
                namespace: namespace.clone(),
                revision: record.reference.meta.revision,
                name: reference.name.clone(),
                kind: reference.type_key.kind.clone(),
                api_version: reference.type_key.api_version.clone(),
                path: hook.path.clone(),
                events: hook.event_names.clone(),
                weight: hook.weight,
                delete_policies: hook.delete_policy_names.clone(),
                effective_delete_policies: hook
                    .effective_delete_policies()
                    .iter()
                    .map(|p| p.as_str().to_string())
                    .collect(),
                output_log_policies: hook.output_log_policy_names.clone(),
                last_run: LastRun::of(hook),
                status: if reference.manifest_error.is_some() {
                    LiveStatus::Unknown
                } else {
                    LiveStatus::Absent
                },
                object_namespace: None,
                uid: None,
                creation_timestamp: None,
                kubectl_kind: reference.type_key.kubectl_kind(),
            };
            (reference, row)
        })
        .collect()
}

/// One error line per hook of `record` whose stored manifest is unusable, naming the record
/// and the parser's error (such hooks list as `Unknown`, never as `Absent`).
pub fn manifest_errors(record: &Record, rows: &[(HookRef, HookRow)]) -> Vec<String> {
    rows.iter()
        .filter_map(|(reference, row)| {
            let why = reference.manifest_error.as_ref()?;
            Some(format!(
                "hook {} of release {} (revision {}): the stored manifest in release record {} \
                 is unusable: {why}; its live state is unknown",
                row.name, row.release, row.revision, record.reference.object_name
            ))
        })
        .collect()
}

/// Fills the live columns of `rows` from `lookup`.
pub fn attach_live(rows: &mut [(HookRef, HookRow)], lookup: &objects::Lookup) {
    for (reference, row) in rows.iter_mut() {
        if let Some(live) = lookup.get(reference) {
            row.status = live.status;
            row.object_namespace = live.key.namespace.clone();
            row.uid = Some(live.uid.clone());
            row.creation_timestamp = live.created;
        }
    }
}

/// Runs `list`.
pub async fn run(kube: &Kube, connection: &Connection, options: &ListOptions) -> Result<u8> {
    let store = Store::new(kube.client.clone(), connection.driver.0);
    let search = kube.search_namespace();
    let records = store.records(search, options.release.as_deref()).await?;
    let chosen = match &options.release {
        Some(release) => vec![releases::select_revision(
            &records,
            release,
            options.revision,
            search,
        )?],
        None => releases::latest_per_release(&records),
    };
    // One corrupt record is reported (naming its Secret or ConfigMap); the others still list.
    let mut failures = 0usize;
    let mut decoded = Vec::new();
    for result in store.fetch_each(&chosen).await {
        match result {
            Ok(record) => decoded.push(record),
            Err(e) if options.release.is_none() => {
                eprintln!("error: {}; its hooks are not listed", error::render(&e));
                failures += 1;
            }
            Err(e) => return Err(e),
        }
    }
    let mut rows: Vec<(HookRef, HookRow)> = Vec::new();
    for record in &decoded {
        let of_record = rows_of(record, options.event);
        for problem in manifest_errors(record, &of_record) {
            eprintln!("error: {problem}");
            failures += 1;
        }
        rows.extend(of_record);
    }
    let status = if failures > 0 {
        crate::EXIT_FAILED
    } else {
        crate::EXIT_OK
    };
    let lookup = objects::lookup(&kube.client, rows.iter().map(|(r, _)| r)).await?;
    attach_live(&mut rows, &lookup);
    let rows: Vec<HookRow> = rows.into_iter().map(|(_, row)| row).collect();

    let human = matches!(options.output, Output::Table | Output::Wide | Output::Name);
    if rows.is_empty() && human {
        eprintln!("{}", empty_message(options, search, &decoded));
        return Ok(status);
    }
    let print = PrintOptions {
        output: options.output,
        no_headers: options.no_headers,
        show_namespace: kube.all_namespaces,
        show_release: options.release.is_none(),
        now: Timestamp::now(),
    };
    let mut stdout = std::io::stdout().lock();
    printers::print_hooks(&rows, &print, &mut stdout).map_err(Error::Io)?;
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::releases::RecordRef;
    use helm_hooks::release::{RecordMeta, Release};

    pub(crate) fn record(json: &str) -> Record {
        let release: Release = serde_json::from_str(json).unwrap();
        Record {
            reference: RecordRef {
                namespace: release.namespace.clone(),
                object_name: format!("sh.helm.release.v1.{}.v{}", release.name, release.version),
                meta: RecordMeta {
                    release: release.name.clone(),
                    revision: release.version,
                    status: release.status().to_string(),
                },
            },
            release,
        }
    }

    fn hook(name: &str, kind: &str, events: &[&str], weight: i64) -> serde_json::Value {
        let api = if kind == "Job" { "batch/v1" } else { "v1" };
        serde_json::json!({
            "name": name, "kind": kind, "path": format!("demo/templates/{name}.yaml"),
            "manifest": format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n"),
            "events": events, "weight": weight,
            "last_run": {"started_at": "", "completed_at": "", "phase": ""}
        })
    }

    fn demo() -> Record {
        let release = serde_json::json!({
            "name": "demo", "namespace": "team", "version": 3,
            "info": {"status": "deployed"},
            "config": {"dbPassword": "s3cr3t"},
            "hooks": [
                hook("z-job", "Job", &["pre-upgrade"], 0),
                hook("a-job", "Job", &["pre-upgrade", "pre-install"], 0),
                hook("sa", "ServiceAccount", &["pre-upgrade", "pre-install"], -10),
                hook("late", "Job", &["post-install"], 5),
                hook("early", "Job", &["post-install"], -5),
            ]
        });
        record(&release.to_string())
    }

    /// Issue 10, defect 10: a hook whose stored manifest is invalid YAML listed as `Absent`
    /// (it exists) with exit 0. It lists as `Unknown`, with an error naming the record.
    #[test]
    fn invalid_stored_yaml_is_reported_not_listed_as_absent() {
        let record = record(
            &serde_json::json!({
                "name": "demo", "namespace": "team", "version": 2,
                "info": {"status": "deployed"},
                "hooks": [{
                    "name": "demo-migrate", "kind": "Job", "path": "demo/templates/job.yaml",
                    "manifest": "apiVersion: batch/v1\nkind: Job\nmetadata: {name: [unclosed\n",
                    "events": ["pre-upgrade"],
                }],
            })
            .to_string(),
        );
        let rows = rows_of(&record, None);
        assert_ne!(rows[0].1.status, LiveStatus::Absent);
        let errors = manifest_errors(&record, &rows);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("sh.helm.release.v1.demo.v2") && errors[0].contains("invalid YAML"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn rows_follow_helm_order_per_event() {
        let names: Vec<String> = rows_of(&demo(), None)
            .into_iter()
            .map(|(_, r)| r.name)
            .collect();
        // pre-install: sa (-10), a-job; post-install: early, late; pre-upgrade adds z-job.
        assert_eq!(names, ["sa", "a-job", "early", "late", "z-job"]);
    }

    #[test]
    fn event_filter_shows_that_event_in_order() {
        let names: Vec<String> = rows_of(&demo(), Some(HookEvent::PreUpgrade))
            .into_iter()
            .map(|(_, r)| r.name)
            .collect();
        assert_eq!(names, ["sa", "a-job", "z-job"]);
    }

    #[test]
    fn rows_carry_default_delete_policy_and_never_values() {
        let rows = rows_of(&demo(), None);
        let (_, row) = &rows[0];
        assert!(row.delete_policies.is_empty());
        assert_eq!(row.effective_delete_policies, ["before-hook-creation"]);
        assert!(!row.last_run.ever_ran());
        let json = serde_json::to_string(&rows.iter().map(|(_, r)| r).collect::<Vec<_>>()).unwrap();
        assert!(!json.contains("s3cr3t"));
    }
}
