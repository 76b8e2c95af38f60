//! `--policy FILE` of `lint` and `post-render`: the same document the webhook reads.

use crate::error::{Error, Result};
use helm_hooks::policy::Policy;
use std::path::Path;

/// The policy in `path`, or the built-in policy (the webhook's default) when `None`.
pub fn load(path: Option<&Path>) -> Result<Policy> {
    let Some(path) = path else {
        return Ok(Policy::builtin());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Failed(format!("cannot read policy {}: {e}", path.display())))?;
    Policy::from_yaml(&text).map_err(|e| {
        Error::Failed(format!(
            "invalid policy {}: {}: {}",
            path.display(),
            e.field,
            e.message
        ))
    })
}
