//! `kubectl hooks lint [-f FILE | -]`: offline check of rendered manifests (`helm template … |
//! kubectl hooks lint -f -`). Reports every mistake Helm swallows (unknown events drop the
//! object, weights Atoi rejects, delete-policy typos), surprising order ([`order`]), and every
//! rule of the hook policy with the patch the webhook would apply; with `--target argocd` or
//! `flux`, also what those tools do differently with the hooks ([`targets`]). Exit 1 on errors,
//! 0 when clean or only warnings. No cluster access.

pub mod chart;
pub(crate) mod prerequisites;
pub mod schema;
pub mod targets;

use crate::error::{Error, Result};
use crate::options::{LintOptions, LintOutput};
use helm_hooks::hook::{HookEvent, Severity as HookSeverity, annotations_of, parse_hook};
use helm_hooks::manifest::{ManifestObject, parse_manifests};
use helm_hooks::policy::{Mode, Policy, evaluate, rule_of};
use serde::Serialize;
use serde_json::Value;
use std::io::{IsTerminal, Read, Write};
use targets::{Target, TargetObject};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// An `audit` rule: logged by the webhook, not shown to the chart's user.
    Info,
    /// Helm or the webhook lets it through, but probably not as meant.
    Warning,
    /// Helm drops or misreads it, the webhook denies it, or it cannot run.
    Error,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One finding on one object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub severity: Level,
    /// A stable id: `annotation/unknown-event`, `policy/privileged`, `order/runs-after-workload`.
    pub check: String,
    /// The annotation or field path.
    pub field: String,
    pub message: String,
    /// The policy rule and its mode, when the webhook checks this too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The tool a target rule is about (`argocd`, `flux`); absent for Helm's and the
    /// policy's checks, which hold everywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// What to do, for target rules (the other checks say it in `message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// For a policy rule: the exact line the webhook (and the post-renderer) would show for
    /// it, `rule: Kind/name: field: message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// The template file the object comes from (`# Source:`; relative to the chart with
    /// `lint CHART_DIR`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// With `lint CHART_DIR`: the 1-based line of `file` where the field is written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// The findings and the webhook's patch for one hook object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReport {
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub line: usize,
    pub events: Vec<String>,
    pub weight: i64,
    /// Helm drops the object (`skipping unknown hook`): it never reaches the cluster.
    pub dropped: bool,
    pub findings: Vec<Finding>,
    /// The RFC 6902 operations the webhook would apply (its defaults).
    pub patch: Vec<Value>,
}

/// Counts for the summary line and CI.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub objects: usize,
    pub hooks: usize,
    pub errors: usize,
    pub warnings: usize,
}

/// The whole result: `-o json` prints it as a `LintReport` document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `hooks.helm-hooks.io/v1alpha1`, like every document the plugin prints.
    pub api_version: &'static str,
    /// `LintReport`.
    pub kind: &'static str,
    /// The tools the chart was checked for (`--target`).
    pub targets: Vec<Target>,
    pub summary: Summary,
    /// Hook objects (and non-hook objects with findings).
    pub objects: Vec<ObjectReport>,
}

impl Report {
    /// Exit code: 1 with errors, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.summary.errors > 0 {
            crate::EXIT_FAILED
        } else {
            crate::EXIT_OK
        }
    }
}

/// Appends one file's YAML stream, its documents kept apart from the previous file's (the
/// first file is taken as it is, so its line numbers stay right).
fn append_stream(text: &mut String, content: &str) {
    if !text.is_empty() {
        text.push_str("\n---\n");
    }
    text.push_str(content);
}

/// Runs `lint`.
pub fn run(options: &LintOptions) -> Result<u8> {
    let mut text = String::new();
    let mut names = Vec::new();
    if let Some(chart) = &options.chart {
        text = chart::render(chart, &options.helm_args)?;
        names.push(chart.display().to_string());
    }
    for file in options.files.iter().filter(|_| options.chart.is_none()) {
        match file {
            Some(path) => {
                let content = std::fs::read_to_string(path)
                    .map_err(|e| Error::Failed(format!("cannot read {}: {e}", path.display())))?;
                append_stream(&mut text, &content);
                names.push(path.display().to_string());
            }
            None => {
                if std::io::stdin().is_terminal() {
                    return Err(Error::Usage(
                        "kubectl hooks lint reads rendered manifests: give a file (`lint \
                         rendered.yaml`) or pipe them in (`helm template … | kubectl hooks lint -f \
                         -`); stdin is a terminal"
                            .into(),
                    ));
                }
                let mut content = String::new();
                std::io::stdin()
                    .read_to_string(&mut content)
                    .map_err(|e| Error::Failed(format!("cannot read stdin: {e}")))?;
                append_stream(&mut text, &content);
                names.push("stdin".to_string());
            }
        }
    }
    let name = names.join(", ");
    let policy = match &options.cluster_policy {
        Some(policy) => policy.clone(),
        None => crate::policy_file::load(options.policy.as_deref())?,
    };
    let objects = parse_manifests(&text).map_err(|e| Error::Failed(format!("{name}: {e}")))?;
    let mut report = lint(&objects, &policy, &options.targets);
    if options.schema {
        schema::add_findings(&mut report, &objects);
    }
    attach_locations(&mut report, options.chart.as_deref());
    let mut stdout = std::io::stdout().lock();
    match options.output {
        LintOutput::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)
                .map_err(|e| Error::Io(std::io::Error::other(e)))?;
            writeln!(stdout).map_err(Error::Io)?;
        }
        LintOutput::Text => write_text(&report, options.quiet, &mut stdout).map_err(Error::Io)?,
    }
    stdout.flush().map_err(Error::Io)?;
    if options.strict && report.summary.warnings > 0 {
        return Ok(crate::EXIT_FAILED);
    }
    Ok(report.exit_code())
}

/// The policy's severity for a rule mode (`off` never reaches here).
fn severity_of(mode: Mode) -> Level {
    match mode {
        Mode::Enforce => Level::Error,
        Mode::Warn => Level::Warning,
        Mode::Audit | Mode::Off => Level::Info,
    }
}

/// Checks every object of a rendered stream for the given targets: the annotation and policy
/// checks always (Helm renders the chart and the webhook sees every client), Helm's order
/// checks for `helm` and `flux`, and the rules of [`targets`].
pub fn lint(objects: &[ManifestObject], policy: &Policy, targets: &[Target]) -> Report {
    let mut reports: Vec<(usize, ObjectReport)> = Vec::new();
    let mut summary = Summary {
        objects: objects.len(),
        ..Summary::default()
    };
    let mut ordered = Vec::new();
    let mut regular = Vec::new();
    // What reaches the targets: regular objects (None) and hooks Helm keeps.
    let mut kept: Vec<(usize, Option<helm_hooks::hook::HookSpec>)> = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        let mut findings = Vec::new();
        for key in object.non_string_annotations() {
            findings.push(Finding {
                severity: Level::Error,
                check: "annotation/not-a-string".into(),
                field: helm_hooks::hook::annotation_field(&key),
                message: "annotation values must be strings: Helm fails to read the manifest \
                          and the API server rejects it; quote the value"
                    .into(),
                rule: None,
                mode: None,
                target: None,
                fix: None,
                webhook: None,
                file: None,
                line: None,
            });
        }
        let Some(parsed) = parse_hook(&annotations_of(&object.value)) else {
            regular.push(prerequisites::RegularObject {
                kind: object.kind(),
                name: object.name(),
            });
            kept.push((index, None));
            if !findings.is_empty() {
                reports.push((
                    index,
                    report_of(object, Vec::new(), 0, false, findings, Vec::new()),
                ));
            }
            continue;
        };
        summary.hooks += 1;
        let verdict = evaluate(policy, &object.value, object_namespace(&object.value));
        // Annotation diagnostics; the rules derived from them (hook-weight,
        // delete-policy-values) are attached instead of repeated.
        for d in &parsed.diagnostics {
            let rule =
                rule_of(&d.kind).and_then(|r| verdict.violations.iter().find(|v| v.rule == r));
            let kind = d.kind.id();
            let mut severity = match d.severity {
                HookSeverity::Error => Level::Error,
                HookSeverity::Warning => Level::Warning,
            };
            if let Some(v) = rule {
                severity = severity.max(severity_of(v.mode));
            }
            findings.push(Finding {
                severity,
                check: format!("annotation/{kind}"),
                field: helm_hooks::hook::annotation_field(d.annotation),
                message: format!("{:?}: {}", d.value, d.message),
                rule: rule.map(|v| v.rule.as_str().to_string()),
                mode: rule.map(|v| v.mode.as_str().to_string()),
                target: None,
                fix: None,
                webhook: rule.map(|v| v.describe()),
                file: None,
                line: None,
            });
        }
        for v in &verdict.violations {
            // Only the annotation diagnostics above stand for a violation: every other one is
            // reported, also the second of the same rule (two containers without limits).
            let covered = findings.iter().any(|f| {
                f.check.starts_with("annotation/") && f.rule.as_deref() == Some(v.rule.as_str())
            });
            if covered {
                continue;
            }
            findings.push(Finding {
                severity: severity_of(v.mode),
                check: format!("policy/{}", v.rule),
                field: v.field.clone(),
                message: v.message.clone(),
                rule: Some(v.rule.as_str().to_string()),
                mode: Some(v.mode.as_str().to_string()),
                target: None,
                fix: None,
                webhook: Some(v.describe()),
                file: None,
                line: None,
            });
        }
        let patch: Vec<Value> = verdict
            .patch
            .iter()
            .filter_map(|op| serde_json::to_value(op).ok())
            .collect();
        if !parsed.dropped {
            kept.push((index, Some(parsed.spec.clone())));
            ordered.push(prerequisites::OrderedHook {
                index,
                kind: object.kind(),
                name: object.name(),
                weight: parsed.spec.weight,
                path: object.source.as_deref().unwrap_or(""),
                events: parsed.spec.events.clone(),
                object: &object.value,
            });
        }
        reports.push((
            index,
            report_of(
                object,
                parsed.spec.events.clone(),
                parsed.spec.weight,
                parsed.dropped,
                findings,
                patch,
            ),
        ));
    }
    let helm_order = targets.iter().any(|t| t.runs_helm());
    let problems = if helm_order {
        prerequisites::check(&ordered, &regular)
    } else {
        Vec::new()
    };
    for problem in problems {
        if let Some((_, report)) = reports.iter_mut().find(|(i, _)| *i == problem.index) {
            report.findings.push(Finding {
                severity: if problem.error {
                    Level::Error
                } else {
                    Level::Warning
                },
                check: if problem.error {
                    "order/dependency-runs-later".into()
                } else {
                    "order/regular-resource-not-yet-created".into()
                },
                field: problem.field,
                message: problem.message,
                rule: None,
                mode: None,
                target: None,
                fix: None,
                webhook: None,
                file: None,
                line: None,
            });
        }
    }
    let target_objects: Vec<TargetObject> = kept
        .iter()
        .map(|(index, spec)| TargetObject {
            index: *index,
            kind: objects[*index].kind(),
            name: objects[*index].name(),
            object: &objects[*index].value,
            hook: spec.as_ref(),
        })
        .collect();
    for found in targets::check(targets, &target_objects) {
        let finding = Finding {
            severity: found.severity,
            check: found.check.to_string(),
            field: found.field,
            message: found.message,
            rule: None,
            mode: None,
            target: Some(found.target),
            fix: Some(found.fix),
            webhook: None,
            file: None,
            line: None,
        };
        match reports.iter_mut().find(|(i, _)| *i == found.index) {
            Some((_, report)) => report.findings.push(finding),
            None => {
                let object = &objects[found.index];
                reports.push((
                    found.index,
                    report_of(object, Vec::new(), 0, false, vec![finding], Vec::new()),
                ));
                reports.sort_by_key(|(i, _)| *i);
            }
        }
    }
    let mut targets_checked = targets.to_vec();
    targets_checked.sort();
    targets_checked.dedup();
    let objects: Vec<ObjectReport> = reports.into_iter().map(|(_, r)| r).collect();
    for report in &objects {
        for finding in &report.findings {
            match finding.severity {
                Level::Error => summary.errors += 1,
                Level::Warning => summary.warnings += 1,
                Level::Info => {}
            }
        }
    }
    Report {
        api_version: helm_hooks::policy::API_VERSION,
        kind: "LintReport",
        targets: targets_checked,
        summary,
        objects,
    }
}

/// Names each finding's template file: the `# Source:` path, or with a chart directory the
/// path in the chart and the line where the field is written.
fn attach_locations(report: &mut Report, chart: Option<&std::path::Path>) {
    for object in &mut report.objects {
        let Some(source) = object.source.clone() else {
            continue;
        };
        for finding in &mut object.findings {
            match chart.and_then(|c| chart::locate(c, &source, &object.kind, &finding.field)) {
                Some((file, line)) => {
                    finding.file = Some(file);
                    finding.line = Some(line);
                }
                None => finding.file = Some(source.clone()),
            }
        }
    }
}

fn object_namespace(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
}

fn report_of(
    object: &ManifestObject,
    events: Vec<HookEvent>,
    weight: i64,
    dropped: bool,
    findings: Vec<Finding>,
    patch: Vec<Value>,
) -> ObjectReport {
    ObjectReport {
        kind: object.kind().to_string(),
        name: object.name().to_string(),
        source: object.source.clone(),
        line: object.line,
        events: events.iter().map(|e| e.as_str().to_string()).collect(),
        weight,
        dropped,
        findings,
        patch,
    }
}

/// The human-readable report.
pub fn write_text<W: Write>(report: &Report, quiet: bool, out: &mut W) -> std::io::Result<()> {
    for object in &report.objects {
        let shown = |f: &&Finding| !quiet || f.severity >= Level::Warning;
        if quiet && !object.dropped && !object.findings.iter().any(|f| shown(&f)) {
            continue;
        }
        let location = object
            .source
            .clone()
            .unwrap_or_else(|| format!("line {}", object.line));
        let events = if object.events.is_empty() {
            String::new()
        } else {
            format!(" ({}, weight {})", object.events.join(","), object.weight)
        };
        writeln!(out, "{location}: {}/{}{events}", object.kind, object.name)?;
        if object.dropped {
            writeln!(
                out,
                "  error    Helm drops this object (`skipping unknown hook`): it never reaches \
                 the cluster"
            )?;
        }
        for f in object.findings.iter().filter(shown) {
            let rule = match (&f.rule, &f.mode, &f.target) {
                (Some(rule), Some(mode), _) => format!(" [{rule}: {mode}]"),
                (_, _, Some(_)) => format!(" [{}]", f.check),
                _ => String::new(),
            };
            let fix = f
                .fix
                .as_ref()
                .map(|fix| format!("; {fix}"))
                .unwrap_or_default();
            let line = format!(
                "  {:<8} {}: {}{fix}{rule}",
                f.severity.label(),
                f.field,
                f.message
            );
            for part in wrap(&line, TEXT_WIDTH, "           ") {
                writeln!(out, "{part}")?;
            }
        }
        if !quiet && !object.patch.is_empty() && !object.dropped {
            writeln!(out, "  patch    the webhook would apply:")?;
            for op in &object.patch {
                let verb = op.get("op").and_then(Value::as_str).unwrap_or("?");
                let path = op.get("path").and_then(Value::as_str).unwrap_or("?");
                let value = op.get("value").map(Value::to_string).unwrap_or_default();
                writeln!(out, "             {verb} {path} {value}")?;
            }
        }
        if !quiet && object.findings.is_empty() && !object.dropped && object.patch.is_empty() {
            writeln!(out, "  ok")?;
        }
    }
    let s = &report.summary;
    writeln!(
        out,
        "{} object{} checked, {} hook{}: {} error{}, {} warning{}.",
        s.objects,
        plural(s.objects),
        s.hooks,
        plural(s.hooks),
        s.errors,
        plural(s.errors),
        s.warnings,
        plural(s.warnings)
    )
}

/// Text output wraps findings at this many columns.
const TEXT_WIDTH: usize = 100;

/// Splits `line` at spaces into lines of at most `width` columns (a longer word stays whole),
/// continuing with `indent`; spacing inside a line is kept.
fn wrap(line: &str, width: usize, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = line.to_string();
    while rest.chars().count() > width {
        let chars: Vec<char> = rest.chars().collect();
        let start = indent.len().min(chars.len());
        let cut = (start + 1..=width)
            .rev()
            .find(|&i| chars[i] == ' ')
            .or_else(|| (width..chars.len()).find(|&i| chars[i] == ' '));
        let Some(cut) = cut else { break };
        let head: String = chars[..cut].iter().collect();
        let tail: String = chars[cut..].iter().collect();
        lines.push(head.trim_end().to_string());
        rest = format!("{indent}{}", tail.trim_start());
    }
    lines.push(rest);
    lines
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests;
