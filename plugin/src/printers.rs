//! Output as kubectl prints it: aligned tables with upper-case headers (`table`, `wide`),
//! `json` and `yaml` lists, and `name` (`job.batch/NAME`).

use crate::duration;
use crate::jsonpath;
use crate::options::{CustomColumn, Output};
use crate::orphans::OrphanRow;
use crate::rows::HookRow;
use crate::table::{NONE, write_table};
use helm_hooks::release::HookPhase;
use jiff::Timestamp;
use serde::Serialize;
use std::io::{self, Write};

/// What `print_hooks` needs besides the rows.
#[derive(Debug, Clone)]
pub struct PrintOptions {
    pub output: Output,
    pub no_headers: bool,
    /// `-A`: a NAMESPACE column first.
    pub show_namespace: bool,
    /// All releases: a RELEASE column.
    pub show_release: bool,
    /// The time AGE and DURATION are computed against.
    pub now: Timestamp,
}

/// The list document `-o json` and `-o yaml` print: `HookList`, `OrphanList`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct List<'a, T> {
    api_version: &'static str,
    kind: &'static str,
    items: &'a [T],
}

/// Writes `items` as a `kind` list document in JSON (`json`) or YAML.
fn write_list<T: Serialize, W: Write>(
    kind: &'static str,
    items: &[T],
    json: bool,
    out: &mut W,
) -> io::Result<()> {
    let list = List {
        api_version: helm_hooks::policy::API_VERSION,
        kind,
        items,
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &list).map_err(io::Error::other)?;
        writeln!(out)
    } else {
        let text = serde_yaml_ng::to_string(&list).map_err(io::Error::other)?;
        out.write_all(text.as_bytes())
    }
}

/// The list document as JSON, the input of `-o jsonpath`.
fn list_value<T: Serialize>(kind: &'static str, items: &[T]) -> io::Result<serde_json::Value> {
    serde_json::to_value(List {
        api_version: helm_hooks::policy::API_VERSION,
        kind,
        items,
    })
    .map_err(io::Error::other)
}

/// `-o jsonpath=` and `-o custom-columns=`, for any list; `false` for the other formats.
fn write_templated<T: Serialize, W: Write>(
    kind: &'static str,
    items: &[T],
    options: &PrintOptions,
    out: &mut W,
) -> io::Result<bool> {
    match &options.output {
        Output::JsonPath(template) => {
            let text = template.render(&list_value(kind, items)?);
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
            Ok(true)
        }
        Output::CustomColumns(columns) => {
            let headers: Vec<&str> = columns.iter().map(|c| c.header.as_str()).collect();
            let mut table = Vec::new();
            for item in items {
                let item = serde_json::to_value(item).map_err(io::Error::other)?;
                table.push(columns.iter().map(|c| custom_cell(c, &item)).collect());
            }
            write_table(out, &headers, &table, options.no_headers)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// A custom column's cell: its values joined by `,`, `<none>` when there are none.
fn custom_cell(column: &CustomColumn, item: &serde_json::Value) -> String {
    let values: Vec<String> = column
        .path
        .values(item)
        .into_iter()
        .map(jsonpath::value_text)
        .collect();
    or_none(values.join(","))
}

/// Orders `rows` by the values `sort_by` selects in each (numbers by value, then the rest as
/// text; rows without a value first, as kubectl sorts them). Stable: ties keep Helm's order.
pub fn sort_rows<T: Serialize>(rows: &mut Vec<T>, sort_by: &jsonpath::Template) {
    let mut keyed: Vec<(SortKey, T)> = rows
        .drain(..)
        .map(|row| {
            let value = serde_json::to_value(&row).unwrap_or_default();
            let key = match sort_by.values(&value).first() {
                None => SortKey::Missing,
                Some(serde_json::Value::Number(n)) => SortKey::Number(n.as_f64().unwrap_or(0.0)),
                Some(other) => SortKey::Text(jsonpath::value_text(other)),
            };
            (key, row)
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    rows.extend(keyed.into_iter().map(|(_, row)| row));
}

#[derive(Debug, PartialEq, PartialOrd)]
enum SortKey {
    Missing,
    Number(f64),
    Text(String),
}

/// Prints hook rows in the chosen format.
pub fn print_hooks<W: Write>(
    rows: &[HookRow],
    options: &PrintOptions,
    out: &mut W,
) -> io::Result<()> {
    if write_templated("HookList", rows, options, out)? {
        return Ok(());
    }
    match options.output {
        Output::Json | Output::Yaml => {
            write_list("HookList", rows, options.output == Output::Json, out)
        }
        // Only objects that exist and are the hook's: `kubectl delete $(… -o name)` must never
        // name a missing object or another release's leftover.
        Output::Name => {
            for row in rows.iter().filter(|r| r.status.is_live_hook()) {
                writeln!(out, "{}/{}", row.kubectl_kind, row.name)?;
            }
            Ok(())
        }
        Output::Table | Output::Wide | Output::JsonPath(_) | Output::CustomColumns(_) => {
            let wide = options.output == Output::Wide;
            let mut headers: Vec<&str> = Vec::new();
            if options.show_namespace {
                headers.push("NAMESPACE");
            }
            if options.show_release {
                headers.push("RELEASE");
            }
            headers.extend(["NAME", "EVENTS", "WEIGHT"]);
            headers.push(if wide { "DELETE-POLICY" } else { "DELETE" });
            headers.extend(["LAST-RUN", "STATUS", "AGE"]);
            if wide {
                headers.extend(["STARTED", "DURATION", "REVISION", "PATH", "REASON"]);
            }
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|row| table_row(row, options, wide))
                .collect();
            write_table(out, &headers, &table, options.no_headers)
        }
    }
}

/// One table row. NAME is `kind/name` as kubectl prints mixed kinds (`job/demo-seed`, a name
/// `kubectl get` accepts); the default table shortens events and delete policies so that a
/// release's hooks fit in 100 columns, `wide` prints them in full.
fn table_row(row: &HookRow, options: &PrintOptions, wide: bool) -> Vec<String> {
    let mut cells = Vec::new();
    if options.show_namespace {
        cells.push(row.namespace.clone());
    }
    if options.show_release {
        cells.push(row.release.clone());
    }
    let events = if wide {
        row.events.join(",")
    } else {
        compact_events(&row.events)
    };
    cells.extend([
        format!("{}/{}", row.kind.to_ascii_lowercase(), row.name),
        or_none(events),
        row.weight.to_string(),
        delete_policy_cell(&row.effective_delete_policies, wide),
        last_run_phase(row),
        row.status.to_string(),
        // No live object, no age: `-` rather than `<none>` keeps the table within 100 columns.
        row.creation_timestamp
            .map_or_else(|| "-".to_string(), |t| age(t, options.now)),
    ]);
    if wide {
        cells.extend([
            row.last_run
                .started_at
                .map_or_else(|| NONE.to_string(), timestamp),
            run_duration(row, options.now),
            row.revision.to_string(),
            or_none(row.path.clone()),
            row.reason.clone().unwrap_or_else(|| NONE.to_string()),
        ]);
    }
    cells
}

/// Events of one hook, with a shared `pre-`/`post-` written once, as a shell brace expansion
/// reads: `pre-{install,upgrade}`, `post-{install,upgrade},test`.
fn compact_events(events: &[String]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for event in events {
        let (prefix, verb) = match event.split_once('-') {
            Some((p @ ("pre" | "post"), verb)) => (p, verb),
            _ => ("", event.as_str()),
        };
        match groups
            .iter_mut()
            .find(|(p, _)| !p.is_empty() && *p == prefix)
        {
            Some((_, verbs)) => verbs.push(verb),
            None => groups.push((prefix, vec![verb])),
        }
    }
    groups
        .iter()
        .map(|(prefix, verbs)| match (prefix.is_empty(), &verbs[..]) {
            (true, _) => verbs.join(","),
            (false, [one]) => format!("{prefix}-{one}"),
            (false, many) => format!("{prefix}-{{{}}}", many.join(",")),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The short names of delete policies in the default table (`list --help` has the legend);
/// `wide` keeps Helm's names. An unknown policy (kept by Helm, never matching) stays as written.
pub const DELETE_POLICY_ABBREVIATIONS: [(&str, &str); 3] = [
    ("before-hook-creation", "bhc"),
    ("hook-succeeded", "hs"),
    ("hook-failed", "hf"),
];

fn delete_policy_cell(policies: &[String], wide: bool) -> String {
    let names: Vec<&str> = policies
        .iter()
        .map(|p| {
            let short = DELETE_POLICY_ABBREVIATIONS
                .iter()
                .find(|(long, _)| *long == p.as_str())
                .map(|(_, short)| *short);
            match short {
                Some(short) if !wide => short,
                _ => p.as_str(),
            }
        })
        .collect();
    or_none(names.join(","))
}

/// LAST-RUN: the phase from the record, `<none>` for a hook that never ran.
fn last_run_phase(row: &HookRow) -> String {
    if row.last_run.ever_ran() {
        row.last_run.phase.to_string()
    } else {
        NONE.to_string()
    }
}

/// DURATION: completed − started; for a run in flight, the time since it started.
fn run_duration(row: &HookRow, now: Timestamp) -> String {
    match (row.last_run.started_at, row.last_run.completed_at) {
        (Some(start), Some(end)) => duration::human_elapsed(end.duration_since(start)),
        (Some(start), None) if row.last_run.phase == HookPhase::Running => {
            duration::human_elapsed(now.duration_since(start))
        }
        _ => NONE.to_string(),
    }
}

/// Prints `list --orphans` rows: NAMESPACE (with -A), NAME (as kubectl names it), RELEASE,
/// STATUS, AGE, EVIDENCE; `wide` adds the uid.
pub fn print_orphans<W: Write>(
    rows: &[OrphanRow],
    options: &PrintOptions,
    out: &mut W,
) -> io::Result<()> {
    if write_templated("OrphanList", rows, options, out)? {
        return Ok(());
    }
    match options.output {
        Output::Json | Output::Yaml => {
            write_list("OrphanList", rows, options.output == Output::Json, out)
        }
        Output::Name => {
            for row in rows {
                writeln!(out, "{}", row.kubectl_name)?;
            }
            Ok(())
        }
        Output::Table | Output::Wide | Output::JsonPath(_) | Output::CustomColumns(_) => {
            let wide = options.output == Output::Wide;
            let mut headers: Vec<&str> = Vec::new();
            if options.show_namespace {
                headers.push("NAMESPACE");
            }
            headers.extend(["NAME", "RELEASE", "STATUS", "AGE", "EVIDENCE"]);
            if wide {
                headers.push("UID");
            }
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|row| {
                    let mut cells = Vec::new();
                    if options.show_namespace {
                        cells.push(row.namespace.clone());
                    }
                    cells.extend([
                        row.kubectl_name.clone(),
                        row.release.clone(),
                        row.status.to_string(),
                        row.creation_timestamp
                            .map_or_else(|| NONE.to_string(), |t| age(t, options.now)),
                        row.evidence.clone(),
                    ]);
                    if wide {
                        cells.push(row.uid.clone());
                    }
                    cells
                })
                .collect();
            write_table(out, &headers, &table, options.no_headers)
        }
    }
}

/// AGE of an object created at `created`, as kubectl prints it.
pub fn age(created: Timestamp, now: Timestamp) -> String {
    duration::human_seconds(now.as_second() - created.as_second())
}

/// A timestamp as kubectl prints one in wide output: RFC 3339, seconds, UTC.
pub fn timestamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn or_none(text: String) -> String {
    if text.is_empty() {
        NONE.to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests;
