//! `kubectl-hooks`: the kubectl plugin binary. Everything lives in the library; `main` only
//! turns its result into an exit code (0 ok, 1 failed operation, 2 bad usage).
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    kubectl_hooks::main_with_args(std::env::args_os())
}
