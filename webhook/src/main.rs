//! `helm-hooks-webhook`: admission webhook for Helm hooks. See the library crate for the modules.
#![forbid(unsafe_code)]

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    helm_hooks_webhook::run(helm_hooks_webhook::cli::Cli::parse())
}
