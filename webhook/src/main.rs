//! `helm-hooks-webhook`: admission webhook for Helm hooks. See the library crate for the modules.
#![forbid(unsafe_code)]

use clap::Parser as _;

/// mimalloc instead of the system allocator: the policy engine allocates many small JSON maps
/// per review, and mimalloc takes about a fifth off the in-process cost of one review (see
/// `benches/review.rs`, which uses the same allocator).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    helm_hooks_webhook::run(helm_hooks_webhook::cli::Cli::parse())
}
