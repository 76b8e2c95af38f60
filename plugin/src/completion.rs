//! `kubectl hooks completion bash|zsh|fish|powershell`: shell completion scripts (clap_complete).

use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::{self, Write};

/// Writes the completion script for `shell`. The command is named `kubectl-hooks`, the name
/// kubectl's plugin completion (`kubectl_complete-hooks`) and direct invocation both use.
pub fn write<W: Write>(shell: Shell, out: &mut W) -> io::Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "kubectl-hooks", out);
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell] {
            let mut out = Vec::new();
            write(shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("kubectl-hooks"), "{shell}");
            assert!(text.contains("cleanup"), "{shell}");
        }
    }
}
