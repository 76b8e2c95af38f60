//! `kubectl hooks post-render`: a Helm post-renderer (and a plain filter for `helm template`
//! pipelines). Reads the rendered stream on stdin and writes it to stdout with the policy's
//! defaults on every hook ([`helm_hooks::post_render`] decides). On an `enforce` violation it
//! writes nothing on stdout and exits 1 with the webhook's message, so Helm stops before it
//! touches the cluster; warnings go to stderr.

use crate::error::{Error, Result};
use crate::options::PostRenderOptions;
use helm_hooks::post_render::post_render;
use std::io::{Read, Write};

/// Runs `post-render`.
pub fn run(options: &PostRenderOptions) -> Result<u8> {
    let policy = crate::policy_file::load(options.policy.as_deref())?;
    let mut stream = String::new();
    std::io::stdin()
        .read_to_string(&mut stream)
        .map_err(|e| Error::Failed(format!("cannot read the rendered manifests on stdin: {e}")))?;
    let out = post_render(&policy, &stream, options.namespace.as_deref())
        .map_err(|e| Error::Failed(format!("stdin: {e}")))?;
    for warning in &out.warnings {
        eprintln!("Warning: {warning}");
    }
    if !out.denials.is_empty() {
        return Err(Error::Failed(out.denials.join("\n")));
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.manifests.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Error::Io)?;
    Ok(crate::EXIT_OK)
}
