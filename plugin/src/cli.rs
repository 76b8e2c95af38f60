//! The command line as clap parses it: flags and arguments only, no validation beyond what clap
//! does itself. [`crate::options`] turns a [`Cli`] into validated options.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `kubectl hooks`: list, rerun, clean up and lint Helm hooks per release.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-hooks",
    bin_name = "kubectl hooks",
    version,
    about = "List, rerun, clean up and lint Helm hooks per release",
    long_about = "List, rerun, clean up and lint Helm hooks per release.\n\n\
        Reads Helm's own release records (Secrets, or ConfigMaps with HELM_DRIVER=configmap) \
        and the live hook objects; never rewrites a release record.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: CliCommand,
}

/// kubectl's connection and namespace flags, accepted before or after the subcommand (listed
/// apart from each command's own flags in `--help`).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Kubectl flags (any command)")]
pub struct GlobalArgs {
    /// Path to the kubeconfig file to use (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The name of the kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The name of the kubeconfig cluster to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The name of the kubeconfig user to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// The namespace of the release (default: the kubeconfig context's namespace).
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Look for releases in all namespaces.
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// How long to wait for one API request before giving up, like kubectl (`0`: no limit;
    /// a bare number is seconds; units: ms, s, m, h).
    #[arg(long, global = true, value_name = "DURATION", default_value = "0")]
    pub request_timeout: String,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// List the hooks of a release (latest revision), or of every release.
    #[command(
        visible_alias = "ls",
        after_help = "DELETE in the table: bhc = before-hook-creation, \
            hs = hook-succeeded, hf = hook-failed; EVENTS: pre-{install,upgrade} is pre-install,pre-upgrade (-o wide prints both in full).\n\n\
            Examples:\n  kubectl hooks list demo -n team\n  \
            kubectl hooks list demo -o wide            # STARTED, DURATION, REVISION, PATH, REASON\n  \
            kubectl hooks list demo -w                 # follow the hooks while helm upgrade runs them\n  \
            kubectl hooks list -A -l app=db --sort-by=.weight\n  \
            kubectl hooks list demo -o jsonpath='{.items[*].name}'\n  \
            kubectl hooks list demo -o custom-columns=NAME:.name,PHASE:.lastRun.phase\n  \
            kubectl hooks list --orphans -A            # leftovers of uninstalled releases"
    )]
    List(ListArgs),
    /// Run the hooks of one event again, exactly as Helm would.
    Rerun(RerunArgs),
    /// Delete leftover hook objects that belong to a release.
    Cleanup(CleanupArgs),
    /// Show the logs of a release's hooks: kept lines of deleted ones, then the hook Pods'.
    #[command(after_help = "Examples:\n  \
        kubectl hooks logs demo -n team                       # every hook of the latest revision\n  \
        kubectl hooks logs demo --hook demo-db-migrate --tail 20\n  \
        kubectl hooks logs demo --event pre-upgrade -f       # follow while helm upgrade runs")]
    Logs(LogsArgs),
    /// Check a chart, or rendered manifests, offline: Helm's silent mistakes and the policy.
    #[command(after_help = "Examples:\n  \
        kubectl hooks lint ./mychart                          # renders it with helm template\n  \
        kubectl hooks lint ./mychart -- --set migrate.enabled=true -f prod.yaml\n  \
        helm template demo ./mychart | kubectl hooks lint -f -\n  \
        kubectl hooks lint rendered.yaml --strict -q          # CI: warnings fail, errors only\n\n\
        Check ids (`check` in -o json): annotation/<mistake> (unknown-event, empty-event, \
        unknown-delete-policy, empty-delete-policy, default-delete-policy-off, weight-not-integer, \
        unknown-output-log-policy, unknown-resource-policy, duplicate-value, annotation-too-large, \
        not-a-string), policy/<rule id>, schema/refused, schema/unknown-field, \
        order/dependency-runs-later, \
        order/regular-resource-not-yet-created, argocd/<rule>, flux/<rule> (see the README).")]
    Lint(LintArgs),
    /// Helm post-renderer: rendered manifests on stdin, the same with the policy's defaults on
    /// every hook on stdout (`helm template … | kubectl hooks post-render`).
    PostRender(PostRenderArgs),
    /// The cluster's hook policy: `show` the policy in force in a namespace, `export` it as
    /// in-apiserver admission policies.
    Policy(crate::policy_cmd::PolicyArgs),
    /// Print a shell completion script.
    Completion(CompletionArgs),
    /// Print the plugin's version.
    Version(VersionArgs),
}

/// Output formats of `lint` and `logs`: text or json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextOrJsonArg {
    Text,
    Json,
}

/// Tools `lint --target` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintTargetArg {
    /// The Helm CLI (`helm install|upgrade`).
    Helm,
    /// Argo CD (renders with `helm template`, runs hooks as its own sync phases).
    Argocd,
    /// Flux's helm-controller (Helm's SDK, driven by a HelmRelease).
    Flux,
}

/// `kubectl hooks list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The release; all releases of the namespace when omitted.
    #[arg(conflicts_with = "orphans")]
    pub release: Option<String>,
    /// The revision to read (default: the latest).
    #[arg(long, value_name = "N", conflicts_with = "orphans")]
    pub revision: Option<i64>,
    /// Only hooks that run on this event.
    #[arg(long, value_name = "EVENT", conflicts_with = "orphans")]
    pub event: Option<String>,
    /// List leftover hook objects of releases that are not installed (uninstalled, or
    /// installed again since), with the release each came from and the evidence.
    #[arg(long)]
    pub orphans: bool,
    /// Output format: table, wide, json, yaml, name, jsonpath=TEMPLATE or
    /// custom-columns=HEADER:.path,... (kubectl's JSONPath on the HookList document).
    #[arg(short = 'o', long, value_name = "FORMAT", default_value = "table",
          value_parser = crate::options::parse_output)]
    pub output: crate::options::Output,
    /// Do not print the header line of the table.
    #[arg(long)]
    pub no_headers: bool,
    /// Only hooks whose manifest labels match (kubectl's syntax: app=db,tier!=web,env in (a,b)).
    #[arg(short = 'l', long, value_name = "SELECTOR", conflicts_with = "orphans")]
    pub selector: Option<String>,
    /// Sort the rows by a JSONPath on each item (e.g. .weight, .lastRun.startedAt) instead of
    /// Helm's execution order.
    #[arg(long, value_name = "JSONPATH")]
    pub sort_by: Option<String>,
    /// After listing, watch for changes: a new line for every hook whose state changes (as
    /// `helm upgrade` runs them), until Ctrl-C.
    #[arg(short = 'w', long, conflicts_with = "orphans")]
    pub watch: bool,
}

/// `kubectl hooks rerun`.
#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The release whose hooks to run again.
    pub release: String,
    /// The event whose hooks to run (pre-install, post-upgrade, test, …).
    #[arg(long, value_name = "EVENT")]
    pub event: String,
    /// Run only these hooks (by name; repeatable or comma-separated), still in Helm's order.
    #[arg(long = "hook", value_name = "NAME", value_delimiter = ',')]
    pub hooks: Vec<String>,
    /// How long to wait for each hook (per hook, like Helm's --timeout).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub timeout: String,
    /// Stream the hooks' container logs, prefixed by hook name.
    #[arg(long)]
    pub logs: bool,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
}

/// `kubectl hooks cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// The release whose leftover hook objects to delete.
    #[arg(conflicts_with_all = ["all_releases", "orphans"])]
    pub release: Option<String>,
    /// Clean up every release of the namespace (or of all namespaces with -A).
    #[arg(long, conflicts_with = "orphans")]
    pub all_releases: bool,
    /// Delete the leftover hooks of releases that are not installed (what `list --orphans`
    /// shows).
    #[arg(long)]
    pub orphans: bool,
    /// Print what would be deleted and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only objects in these states (comma-separated: Complete, Failed, Succeeded, Running,
    /// Pending, Present).
    #[arg(long, value_name = "STATUS", value_delimiter = ',')]
    pub status: Vec<String>,
    /// Only objects created longer ago than this (e.g. 1h, 30m, 2d).
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// Also delete hooks that are still running.
    #[arg(long)]
    pub force: bool,
}

/// `kubectl hooks logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The release whose hooks' logs to show.
    pub release: String,
    /// Only these hooks (by name; repeatable or comma-separated).
    #[arg(long = "hook", value_name = "NAME", value_delimiter = ',')]
    pub hooks: Vec<String>,
    /// Only the hooks of this event.
    #[arg(long, value_name = "EVENT")]
    pub event: Option<String>,
    /// Follow the hook Pods' logs, and those of hook Pods that start later, until Ctrl-C.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Lines of each container's recent log to show (default: all).
    #[arg(long, value_name = "N")]
    pub tail: Option<i64>,
    /// Output format: text (default) or json (`kept`: the entries as the janitor wrote them;
    /// `live`: each hook Pod container's lines).
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: TextOrJsonArg,
}

/// `kubectl hooks version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format: text (default), json or yaml, like `kubectl version -o`.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: VersionOutputArg,
}

/// Output formats of `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VersionOutputArg {
    Text,
    Json,
    Yaml,
}

/// `kubectl hooks lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Rendered manifests to check (`-` for stdin), as with `-f`; or one chart directory,
    /// rendered with `helm template` (objects Helm would drop included).
    #[arg(value_name = "FILE|CHART_DIR", conflicts_with = "file")]
    pub files: Vec<PathBuf>,
    /// With a chart directory: flags for `helm template` (`-- --set key=value -f values.yaml`).
    #[arg(last = true, value_name = "HELM_TEMPLATE_FLAGS")]
    pub helm_args: Vec<String>,
    /// The rendered manifests to check (`-` for stdin).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        default_value = "-"
    )]
    pub file: PathBuf,
    /// Warnings fail the run too (exit 1), for CI.
    #[arg(long)]
    pub strict: bool,
    /// Text output: only errors and warnings, no patches, no `ok` lines.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// A policy document to check against (default: the built-in policy).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Check against the cluster's HookPolicy in force in the namespace (-n, else the
    /// context's namespace), as the webhook with --policy-source cluster would.
    #[arg(long, conflicts_with = "policy")]
    pub policy_from_cluster: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: TextOrJsonArg,
    /// The tool that will install the chart: also report what it does differently with the
    /// hooks (repeatable or comma-separated).
    #[arg(
        long = "target",
        value_enum,
        value_name = "TARGET",
        value_delimiter = ',',
        default_value = "helm"
    )]
    pub targets: Vec<LintTargetArg>,
    /// Skip the offline check of built-in kinds against Kubernetes' types (required fields,
    /// value types, unknown fields).
    #[arg(long)]
    pub no_schema: bool,
}

/// `kubectl hooks post-render`.
#[derive(Debug, Args)]
pub struct PostRenderArgs {
    /// A policy document (default: the built-in policy, as the webhook's default).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// `kubectl hooks completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "kubectl-hooks",
            "list",
            "demo",
            "-n",
            "team",
            "--context",
            "kind",
            "-o",
            "wide",
        ])
        .unwrap();
        assert_eq!(cli.global.namespace.as_deref(), Some("team"));
        assert_eq!(cli.global.context.as_deref(), Some("kind"));
        let CliCommand::List(list) = cli.command else {
            panic!("not list")
        };
        assert_eq!(list.output, crate::options::Output::Wide);
        assert_eq!(list.release.as_deref(), Some("demo"));
    }

    #[test]
    fn rerun_hooks_accept_repeats_and_commas() {
        let cli = Cli::try_parse_from([
            "kubectl-hooks",
            "rerun",
            "demo",
            "--event",
            "pre-upgrade",
            "--hook",
            "a,b",
            "--hook",
            "c",
        ])
        .unwrap();
        let CliCommand::Rerun(rerun) = cli.command else {
            panic!("not rerun")
        };
        assert_eq!(rerun.hooks, ["a", "b", "c"]);
        assert_eq!(rerun.timeout, "5m");
    }

    #[test]
    fn cleanup_release_conflicts_with_all_releases() {
        let err = Cli::try_parse_from(["kubectl-hooks", "cleanup", "demo", "--all-releases"])
            .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn orphans_conflict_with_a_release() {
        for args in [
            &["list", "demo", "--orphans"][..],
            &["list", "--event", "pre-install", "--orphans"],
            &["cleanup", "demo", "--orphans"],
            &["cleanup", "--all-releases", "--orphans"],
        ] {
            let err = Cli::try_parse_from(["kubectl-hooks"].iter().chain(args)).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{args:?}"
            );
        }
    }

    #[test]
    fn lint_targets_default_to_helm_and_accept_repeats_and_commas() {
        let lint = |args: &[&str]| {
            let cli = Cli::try_parse_from(["kubectl-hooks", "lint"].iter().chain(args)).unwrap();
            let CliCommand::Lint(lint) = cli.command else {
                panic!("not lint")
            };
            lint.targets
        };
        assert_eq!(lint(&[]), [LintTargetArg::Helm]);
        assert_eq!(
            lint(&["--target", "argocd,flux", "--target", "helm"]),
            [
                LintTargetArg::Argocd,
                LintTargetArg::Flux,
                LintTargetArg::Helm
            ]
        );
        assert!(Cli::try_parse_from(["kubectl-hooks", "lint", "--target", "spinnaker"]).is_err());
    }

    #[test]
    fn unknown_output_is_a_usage_error() {
        let err = Cli::try_parse_from(["kubectl-hooks", "list", "-o", "xml"]).unwrap_err();
        assert!(err.use_stderr());
    }
}
