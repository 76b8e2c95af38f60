//! `kubectl_complete-hooks`: kubectl runs it to complete `kubectl hooks …` (see the library's
//! `complete` module). Installed beside `kubectl-hooks` by `cargo install --path plugin`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    kubectl_hooks::complete_main(&args)
}
