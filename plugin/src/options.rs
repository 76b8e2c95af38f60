//! Validated options: what the subcommands run with, built from clap's [`Cli`] with every value
//! parsed and every combination checked. A mistake here is bad usage (exit code 2).

use crate::cli::{CliCommand, LintTargetArg, TextOrJsonArg};
use crate::duration;
use crate::error::{Error, Result};
use crate::jsonpath::Template;
use crate::objects::LiveStatus;
use crate::selector::Selector;
use helm_hooks::hook::HookEvent;
use helm_hooks::release::StorageDriver;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::cli::Cli;

/// Everything a run needs.
#[derive(Debug)]
pub struct Options {
    pub connection: Connection,
    pub command: Command,
}

/// How to reach the cluster and where to look.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    /// `-n`; `None` means the kubeconfig context's namespace.
    pub namespace: Option<String>,
    /// `-A`.
    pub all_namespaces: bool,
    /// `--request-timeout`; `None` for no limit.
    pub request_timeout: Option<Duration>,
    /// `HELM_DRIVER`.
    pub driver: StorageDriver,
}

/// The subcommand with its validated options.
#[derive(Debug)]
pub enum Command {
    List(ListOptions),
    Rerun(RerunOptions),
    Cleanup(CleanupOptions),
    Logs(LogsOptions),
    Lint(LintOptions),
    PostRender(PostRenderOptions),
    Policy(crate::policy_cmd::PolicyArgs),
    Completion(clap_complete::Shell),
    Version(crate::cli::VersionOutputArg),
}

/// `post-render`'s options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRenderOptions {
    /// `--policy`; `None`: the built-in policy.
    pub policy: Option<PathBuf>,
    /// The release namespace: `-n`, else `HELM_NAMESPACE` (set by Helm for plugins).
    pub namespace: Option<String>,
}

/// Output formats of `list`.
#[derive(Debug, Clone)]
pub enum Output {
    Table,
    Wide,
    Json,
    Yaml,
    Name,
    /// `-o jsonpath=TEMPLATE` on the list document.
    JsonPath(Template),
    /// `-o custom-columns=HEADER:.path,...` on each item.
    CustomColumns(Vec<CustomColumn>),
}

impl PartialEq for Output {
    /// Formats compare by kind (two templates are never compared).
    fn eq(&self, other: &Output) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// One column of `-o custom-columns`.
#[derive(Debug, Clone)]
pub struct CustomColumn {
    pub header: String,
    pub path: Template,
}

/// Parses `-o` of `list` as kubectl does: a fixed format, `jsonpath=…` or
/// `custom-columns=…`.
pub fn parse_output(text: &str) -> std::result::Result<Output, String> {
    let (format, argument) = match text.split_once('=') {
        Some((format, argument)) => (format, Some(argument)),
        None => (text, None),
    };
    match (format, argument) {
        ("table", None) => Ok(Output::Table),
        ("wide", None) => Ok(Output::Wide),
        ("json", None) => Ok(Output::Json),
        ("yaml", None) => Ok(Output::Yaml),
        ("name", None) => Ok(Output::Name),
        ("jsonpath", Some(template)) => Template::parse(template)
            .map(Output::JsonPath)
            .map_err(|e| format!("jsonpath template: {e}")),
        ("custom-columns", Some(spec)) => {
            let mut columns = Vec::new();
            for column in spec.split(',') {
                let (header, path) = column.split_once(':').ok_or_else(|| {
                    format!(
                        "custom-columns: {column:?} must be HEADER:JSONPATH, \
                         e.g. NAME:.name,PHASE:.lastRun.phase"
                    )
                })?;
                let path = Template::parse_relaxed(path)
                    .map_err(|e| format!("custom-columns {header}: {e}"))?;
                columns.push(CustomColumn {
                    header: header.to_string(),
                    path,
                });
            }
            Ok(Output::CustomColumns(columns))
        }
        ("jsonpath" | "custom-columns", None) => Err(format!(
            "{format} needs a value: -o {format}=..., e.g. -o jsonpath='{{.items[*].name}}' or \
             -o custom-columns=NAME:.name,PHASE:.lastRun.phase"
        )),
        _ => Err(format!(
            "unknown output format {text:?}: use table, wide, json, yaml, name, \
             jsonpath=TEMPLATE or custom-columns=SPEC"
        )),
    }
}
/// `list`.
#[derive(Debug, Clone)]
pub struct ListOptions {
    pub release: Option<String>,
    pub revision: Option<i64>,
    pub event: Option<HookEvent>,
    pub output: Output,
    pub no_headers: bool,
    /// `--orphans`: leftovers of releases that are not installed instead of hooks.
    pub orphans: bool,
    /// `-l`: only hooks whose manifest labels match.
    pub selector: Option<Selector>,
    /// `--sort-by`: rows ordered by this expression on each item.
    pub sort_by: Option<Template>,
    /// `-w`: keep watching after the first listing.
    pub watch: bool,
}

/// `rerun`.
#[derive(Debug, Clone)]
pub struct RerunOptions {
    pub release: String,
    pub event: HookEvent,
    pub hooks: Vec<String>,
    pub timeout: Duration,
    pub logs: bool,
    pub dry_run: bool,
    pub yes: bool,
}

/// Which releases `cleanup` looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupTarget {
    Release(String),
    AllReleases,
    /// `--orphans`: leftovers of releases that are not installed.
    Orphans,
}

/// `cleanup`.
#[derive(Debug, Clone)]
pub struct CleanupOptions {
    pub target: CleanupTarget,
    pub dry_run: bool,
    /// Empty: every status (running ones only with `force`).
    pub statuses: Vec<LiveStatus>,
    pub older_than: Option<Duration>,
    pub force: bool,
}

/// `logs`.
#[derive(Debug, Clone)]
pub struct LogsOptions {
    pub release: String,
    /// Only these hooks; empty: all.
    pub hooks: Vec<String>,
    /// `--event`: only this event's hooks.
    pub event: Option<HookEvent>,
    /// `-f`.
    pub follow: bool,
    /// `--tail N`: the last N lines of each container; `None`: all.
    pub tail: Option<i64>,
    /// `-o json`.
    pub json: bool,
}

/// Output formats of `lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LintOutput {
    Text,
    Json,
}

/// `lint`.
#[derive(Debug, Clone)]
pub struct LintOptions {
    /// The inputs in order; `None` for stdin.
    pub files: Vec<Option<PathBuf>>,
    /// `lint CHART_DIR`: render this chart with helm instead of reading `files`.
    pub chart: Option<PathBuf>,
    /// Flags for `helm template` after `--` (with a chart).
    pub helm_args: Vec<String>,
    /// `--strict`: warnings fail too.
    pub strict: bool,
    /// `--quiet`: errors and warnings only.
    pub quiet: bool,
    pub policy: Option<PathBuf>,
    /// `--policy-from-cluster`: the policy is read from the cluster before linting.
    pub policy_from_cluster: bool,
    /// The policy read from the cluster (set by the caller for `--policy-from-cluster`).
    pub cluster_policy: Option<helm_hooks::policy::Policy>,
    pub output: LintOutput,
    /// The tools the chart is checked for, without repeats, in the order given.
    pub targets: Vec<crate::lint::targets::Target>,
    /// Check built-in kinds against Kubernetes' types (off with `--no-schema`).
    pub schema: bool,
}

impl Options {
    /// Validates `cli`, reading `HELM_DRIVER` from the environment.
    pub fn from_cli(cli: Cli) -> Result<Options> {
        let driver = std::env::var("HELM_DRIVER").ok();
        Options::from_cli_with_driver(cli, driver.as_deref())
    }

    /// Validates `cli` with an explicit `HELM_DRIVER` value (for tests).
    pub fn from_cli_with_driver(cli: Cli, helm_driver: Option<&str>) -> Result<Options> {
        let g = cli.global;
        let request_timeout = duration::parse(&g.request_timeout, true)
            .map_err(|e| Error::Usage(format!("--request-timeout: {e}")))?;
        let needs_cluster = matches!(
            cli.command,
            CliCommand::List(_)
                | CliCommand::Rerun(_)
                | CliCommand::Cleanup(_)
                | CliCommand::Logs(_)
        );
        let driver = if needs_cluster {
            StorageDriver::from_helm_driver(helm_driver).map_err(Error::Usage)?
        } else {
            StorageDriver::Secret
        };
        if let Some(ns) = &g.namespace {
            validate_dns_label("namespace", ns)?;
        }
        let connection = Connection {
            kubeconfig: g.kubeconfig,
            context: g.context,
            cluster: g.cluster,
            user: g.user,
            namespace: g.namespace,
            all_namespaces: g.all_namespaces,
            request_timeout: (!request_timeout.is_zero()).then_some(request_timeout),
            driver,
        };
        let command = match cli.command {
            CliCommand::List(a) => {
                if let Some(r) = &a.release {
                    validate_release_name(r)?;
                }
                if a.revision.is_some() && a.release.is_none() {
                    return Err(Error::Usage(
                        "--revision needs a RELEASE: kubectl hooks list RELEASE --revision N"
                            .into(),
                    ));
                }
                if let Some(rev) = a.revision
                    && rev < 1
                {
                    return Err(Error::Usage(format!(
                        "--revision {rev}: revisions start at 1"
                    )));
                }
                if a.watch && !matches!(a.output, Output::Table | Output::Wide | Output::Json) {
                    return Err(Error::Usage(
                        "-w prints a line (table, wide) or a JSON object (json) per change: use \
                         -o table, -o wide or -o json with --watch"
                            .into(),
                    ));
                }
                Command::List(ListOptions {
                    release: a.release,
                    revision: a.revision,
                    event: a.event.as_deref().map(parse_event).transpose()?,
                    output: a.output,
                    no_headers: a.no_headers,
                    orphans: a.orphans,
                    selector: a
                        .selector
                        .as_deref()
                        .map(Selector::parse)
                        .transpose()
                        .map_err(|e| Error::Usage(format!("-l: {e}")))?,
                    sort_by: a
                        .sort_by
                        .as_deref()
                        .map(Template::parse_relaxed)
                        .transpose()
                        .map_err(|e| Error::Usage(format!("--sort-by: {e}")))?,
                    watch: a.watch,
                })
            }
            CliCommand::Rerun(a) => {
                if connection.all_namespaces {
                    return Err(Error::Usage(
                        "rerun works on one release: use -n NAMESPACE, not -A".into(),
                    ));
                }
                validate_release_name(&a.release)?;
                let timeout = duration::parse(&a.timeout, false)
                    .map_err(|e| Error::Usage(format!("--timeout: {e}")))?;
                if timeout.is_zero() {
                    return Err(Error::Usage(
                        "--timeout must be more than 0 (Helm's default is 5m)".into(),
                    ));
                }
                let mut hooks: Vec<String> = Vec::new();
                for h in a.hooks.iter().map(|h| h.trim()).filter(|h| !h.is_empty()) {
                    if !hooks.iter().any(|x| x == h) {
                        hooks.push(h.to_string());
                    }
                }
                Command::Rerun(RerunOptions {
                    release: a.release,
                    event: parse_event(&a.event)?,
                    hooks,
                    timeout,
                    logs: a.logs,
                    dry_run: a.dry_run,
                    yes: a.yes,
                })
            }
            CliCommand::Cleanup(a) => {
                let target = match (a.release, a.all_releases, a.orphans) {
                    (Some(r), false, false) => {
                        validate_release_name(&r)?;
                        CleanupTarget::Release(r)
                    }
                    (None, true, false) => CleanupTarget::AllReleases,
                    (None, false, true) => CleanupTarget::Orphans,
                    _ => {
                        return Err(Error::Usage(
                            "cleanup needs a RELEASE, --all-releases or --orphans".into(),
                        ));
                    }
                };
                let statuses = a
                    .status
                    .iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        LiveStatus::parse(s).ok_or_else(|| {
                            Error::Usage(format!(
                                "--status {s:?}: use one of {}",
                                LiveStatus::SELECTABLE
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let older_than = a
                    .older_than
                    .as_deref()
                    .map(|d| {
                        duration::parse(d, false)
                            .map_err(|e| Error::Usage(format!("--older-than: {e}")))
                    })
                    .transpose()?;
                Command::Cleanup(CleanupOptions {
                    target,
                    dry_run: a.dry_run,
                    statuses,
                    older_than,
                    force: a.force,
                })
            }
            CliCommand::Logs(a) => {
                validate_release_name(&a.release)?;
                if a.follow && a.output == TextOrJsonArg::Json {
                    return Err(Error::Usage(
                        "-f prints lines as they come: use it with -o text".into(),
                    ));
                }
                if let Some(tail) = a.tail
                    && tail < 0
                {
                    return Err(Error::Usage(format!(
                        "--tail {tail}: give a number of lines, 0 or more (omit it for all)"
                    )));
                }
                Command::Logs(LogsOptions {
                    event: a.event.as_deref().map(parse_event).transpose()?,
                    follow: a.follow,
                    tail: a.tail,
                    release: a.release,
                    hooks: a
                        .hooks
                        .iter()
                        .map(|h| h.trim().to_string())
                        .filter(|h| !h.is_empty())
                        .collect(),
                    json: a.output == TextOrJsonArg::Json,
                })
            }
            CliCommand::Lint(a) => Command::Lint(LintOptions {
                chart: match &a.files[..] {
                    [one] if crate::lint::chart::is_chart(one) => Some(one.clone()),
                    many if many.iter().any(|f| f.is_dir()) => {
                        return Err(Error::Usage(
                            "lint takes one chart directory (with Chart.yaml), or rendered \
                             manifest files"
                                .into(),
                        ));
                    }
                    _ => None,
                },
                helm_args: {
                    let chart = matches!(&a.files[..], [one] if crate::lint::chart::is_chart(one));
                    if !a.helm_args.is_empty() && !chart {
                        return Err(Error::Usage(
                            "flags after -- go to helm template: give a chart directory \
                             (kubectl hooks lint ./chart -- --set key=value)"
                                .into(),
                        ));
                    }
                    a.helm_args
                },
                files: if a.files.is_empty() {
                    vec![a.file]
                } else {
                    a.files
                }
                .into_iter()
                .map(|f| (f.as_os_str() != "-").then_some(f))
                .collect(),
                strict: a.strict,
                schema: !a.no_schema,
                quiet: a.quiet,
                policy: a.policy,
                policy_from_cluster: a.policy_from_cluster,
                cluster_policy: None,
                output: match a.output {
                    TextOrJsonArg::Text => LintOutput::Text,
                    TextOrJsonArg::Json => LintOutput::Json,
                },
                targets: {
                    use crate::lint::targets::Target;
                    let mut targets: Vec<Target> = Vec::new();
                    for t in a.targets {
                        let t = match t {
                            LintTargetArg::Helm => Target::Helm,
                            LintTargetArg::Argocd => Target::Argocd,
                            LintTargetArg::Flux => Target::Flux,
                        };
                        if !targets.contains(&t) {
                            targets.push(t);
                        }
                    }
                    targets
                },
            }),
            CliCommand::PostRender(a) => Command::PostRender(PostRenderOptions {
                policy: a.policy,
                // Helm passes the release namespace to plugins as HELM_NAMESPACE.
                namespace: connection
                    .namespace
                    .clone()
                    .or_else(|| std::env::var("HELM_NAMESPACE").ok())
                    .filter(|ns| !ns.is_empty()),
            }),
            CliCommand::Completion(a) => Command::Completion(a.shell),
            CliCommand::Version(a) => Command::Version(a.output),
            CliCommand::Policy(a) => Command::Policy(a),
        };
        Ok(Options {
            connection,
            command,
        })
    }
}

fn parse_event(text: &str) -> Result<HookEvent> {
    text.parse::<HookEvent>()
        .map_err(|e| Error::Usage(format!("--event: {e}")))
}

/// Release names are DNS-1123 labels of at most 53 characters (Helm's rule).
fn validate_release_name(name: &str) -> Result<()> {
    validate_dns_label("release name", name)?;
    if name.len() > 53 {
        return Err(Error::Usage(format!(
            "release name {name:?} is longer than 53 characters, which Helm never allows"
        )));
    }
    Ok(())
}

fn validate_dns_label(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid {what} {name:?}: lower-case letters, digits and '-', starting and ending \
             with a letter or digit"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn options(args: &[&str]) -> Result<Options> {
        let mut all = vec!["kubectl-hooks"];
        all.extend_from_slice(args);
        Options::from_cli_with_driver(Cli::try_parse_from(all).unwrap(), None)
    }

    #[test]
    fn list_defaults() {
        let o = options(&["list", "demo"]).unwrap();
        let Command::List(list) = o.command else {
            panic!()
        };
        assert_eq!(list.output, Output::Table);
        assert_eq!(list.revision, None);
        assert_eq!(o.connection.request_timeout, None);
        assert_eq!(o.connection.driver, StorageDriver::Secret);
    }

    #[test]
    fn helm_driver_configmap_is_read() {
        let cli = Cli::try_parse_from(["kubectl-hooks", "list"]).unwrap();
        let o = Options::from_cli_with_driver(cli, Some("configmap")).unwrap();
        assert_eq!(o.connection.driver, StorageDriver::ConfigMap);
        let cli = Cli::try_parse_from(["kubectl-hooks", "list"]).unwrap();
        let e = Options::from_cli_with_driver(cli, Some("sql")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["rerun", "demo", "--event", "pre-upgade"][..],
            &["rerun", "demo", "--event", "pre-upgrade", "--timeout", "5"],
            &["rerun", "demo", "--event", "pre-upgrade", "-A"],
            &["rerun", "Demo", "--event", "pre-upgrade"],
            &["list", "--revision", "3"],
            &["list", "demo", "--revision", "0"],
            &["list", "demo", "--request-timeout", "abc"],
            &["cleanup"],
            &["cleanup", "demo", "--status", "Done"],
            &["cleanup", "demo", "--older-than", "yesterday"],
            &["list", "-n", "Bad_NS"],
        ] {
            let e = options(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        }
    }

    #[test]
    fn rerun_options_are_parsed() {
        let o = options(&[
            "rerun",
            "demo",
            "--event",
            "PRE-UPGRADE",
            "--hook",
            "b,a,b",
            "--timeout",
            "90s",
            "--request-timeout",
            "10",
        ])
        .unwrap();
        assert_eq!(o.connection.request_timeout, Some(Duration::from_secs(10)));
        let Command::Rerun(r) = o.command else {
            panic!()
        };
        assert_eq!(r.event, HookEvent::PreUpgrade);
        assert_eq!(r.hooks, ["b", "a"]);
        assert_eq!(r.timeout, Duration::from_secs(90));
    }

    #[test]
    fn cleanup_statuses_are_case_insensitive() {
        let o = options(&[
            "cleanup",
            "--all-releases",
            "--status",
            "failed,Complete",
            "--older-than",
            "1h",
        ])
        .unwrap();
        let Command::Cleanup(c) = o.command else {
            panic!()
        };
        assert_eq!(c.target, CleanupTarget::AllReleases);
        assert_eq!(c.statuses, [LiveStatus::Failed, LiveStatus::Complete]);
        assert_eq!(c.older_than, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn lint_reads_stdin_by_default() {
        let o = options(&["lint"]).unwrap();
        let Command::Lint(l) = o.command else {
            panic!()
        };
        assert_eq!(l.files, [None]);
        let o = options(&["lint", "-f", "out.yaml", "-o", "json"]).unwrap();
        let Command::Lint(l) = o.command else {
            panic!()
        };
        assert_eq!(l.files, [Some(std::path::PathBuf::from("out.yaml"))]);
        // Positional files, as `kubectl apply` takes -f: several, in order.
        let o = options(&["lint", "a.yaml", "-", "--strict", "-q"]).unwrap();
        let Command::Lint(p) = o.command else {
            panic!()
        };
        assert_eq!(p.files, [Some(std::path::PathBuf::from("a.yaml")), None]);
        assert!(p.strict && p.quiet);
        assert_eq!(l.output, LintOutput::Json);
        assert_eq!(l.targets, [crate::lint::targets::Target::Helm]);
        let o = options(&["lint", "--target", "flux,argocd", "--target", "flux"]).unwrap();
        let Command::Lint(l) = o.command else {
            panic!()
        };
        use crate::lint::targets::Target;
        assert_eq!(l.targets, [Target::Flux, Target::Argocd]);
    }
}
