//! `kubectl hooks`: list, rerun, clean up and lint Helm hooks per release.
//!
//! The core library ([`helm_hooks`]) decides what a hook is, how Helm orders and deletes it and
//! what the policy says; this crate only moves bytes between the API server, the user and the
//! core. Layout:
//!
//! - [`cli`]: clap's view of the command line; [`options`]: the validated options built from it.
//! - [`client`]: kubeconfig flags → a kube [`kube::Client`]; [`error`]: errors and exit codes.
//! - [`releases`]: finding Helm release records by label and decoding only the revisions needed.
//! - [`discovery`]: hook kinds → API resources; [`objects`]: live hook objects by kind.
//! - [`list`], [`rerun`], [`cleanup`], [`logs`], [`lint`], [`completion`], [`policy_cmd`]:
//!   one module per subcommand;
//!   [`orphans`]: leftover hooks of releases that are not installed (`--orphans`).
//! - [`rows`]: the rows `list` shows; [`printers`]: table, wide, json, yaml and name output;
//!   [`table`]: kubectl's column layout; [`duration`]: kubectl's durations.
#![forbid(unsafe_code)]

pub(crate) mod cleanup;
pub(crate) mod cli;
pub(crate) mod client;
pub(crate) mod complete;
pub(crate) mod completion;
pub(crate) mod discovery;
pub(crate) mod duration;
pub(crate) mod error;
pub(crate) mod jsonpath;
pub(crate) mod lint;
pub(crate) mod list;
pub(crate) mod logs;
pub(crate) mod objects;
pub(crate) mod options;
pub(crate) mod orphans;
pub(crate) mod pod_logs;
pub(crate) mod policy_cmd;
pub(crate) mod policy_file;
pub(crate) mod post_render;
pub(crate) mod printers;
pub(crate) mod releases;
pub(crate) mod rerun;
pub(crate) mod rows;
pub(crate) mod selector;
pub(crate) mod table;
#[cfg(test)]
mod testdata;

use clap::Parser;
use error::Error;
use options::{Command, Options};
use std::ffi::OsString;
use std::process::ExitCode;

/// Exit code of a successful run.
pub const EXIT_OK: u8 = 0;
/// Exit code of a failed operation (API error, failed hook, lint errors).
pub const EXIT_FAILED: u8 = 1;
/// Exit code of bad usage (unknown flag, invalid value, missing confirmation).
pub const EXIT_USAGE: u8 = 2;
/// Interrupted by Ctrl-C (SIGINT), as a shell reports it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// The executable name kubectl looks for to complete `kubectl hooks` (`kubectl_complete-hooks`).
pub const COMPLETION_EXECUTABLE: &str = "kubectl_complete-hooks";

/// Answers kubectl's completion request for the words in `args` (after `kubectl hooks`).
pub fn complete_main(args: &[OsString]) -> ExitCode {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut stdout = std::io::stdout().lock();
    match complete::run(&words, &mut stdout) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(_) => ExitCode::from(EXIT_FAILED),
    }
}

/// Parses `args`, runs the command and returns the process exit code. Errors are printed on
/// stderr as `error: …`, like kubectl.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    // Called as `kubectl_complete-hooks` (kubectl's plugin completion): answer and exit.
    let called_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if called_as.starts_with(COMPLETION_EXECUTABLE) {
        return complete_main(&args[1..]);
    }
    // `kubectl-hooks __complete WORDS…`: the same answer, for Helm's `plugin.complete` and
    // anything else that cannot call the binary by another name.
    if args.get(1).is_some_and(|a| a == "__complete") {
        return complete_main(&args[2..]);
    }
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version on stdout (exit 0) and usage errors on stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let result = Options::from_cli(cli).and_then(run);
    match result {
        Ok(code) => ExitCode::from(code),
        // `kubectl hooks list | head`: the reader went away; that is not an error.
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("error: {}", error::render(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs validated options; returns the exit code for outcomes that are not errors (lint
/// findings, for instance).
pub fn run(options: Options) -> Result<u8, Error> {
    match options.command {
        Command::Completion(shell) => {
            completion::write(shell, &mut std::io::stdout()).map_err(Error::Io)?;
            Ok(EXIT_OK)
        }
        Command::Version(output) => {
            let version = env!("CARGO_PKG_VERSION");
            let text = match output {
                cli::VersionOutputArg::Text => format!("kubectl-hooks {version}"),
                cli::VersionOutputArg::Json => serde_json::json!(
                    {"clientVersion": {"name": "kubectl-hooks", "version": version}}
                )
                .to_string(),
                cli::VersionOutputArg::Yaml => {
                    format!("clientVersion:\n  name: kubectl-hooks\n  version: {version}")
                }
            };
            use std::io::Write;
            writeln!(std::io::stdout().lock(), "{text}").map_err(Error::Io)?;
            Ok(EXIT_OK)
        }
        Command::Lint(mut lint) => {
            if lint.policy_from_cluster {
                lint.cluster_policy = Some(policy_cmd::policy_in_force(&options.connection)?);
            }
            lint::run(&lint)
        }
        Command::PostRender(o) => post_render::run(&o),
        Command::Policy(o) => policy_cmd::run(&options.connection, &o),
        command => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(Error::Io)?;
            runtime.block_on(async {
                let kube = client::connect(&options.connection).await?;
                match command {
                    Command::List(o) => list::run(&kube, &options.connection, &o).await,
                    Command::Rerun(o) => rerun::run(&kube, &options.connection, &o).await,
                    Command::Cleanup(o) => cleanup::run(&kube, &options.connection, &o).await,
                    Command::Logs(o) => logs::run(&kube, &options.connection, &o).await,
                    Command::Lint(_)
                    | Command::PostRender(_)
                    | Command::Policy(_)
                    | Command::Completion(_)
                    | Command::Version(_) => {
                        unreachable!("handled without a cluster")
                    }
                }
            })
        }
    }
}
