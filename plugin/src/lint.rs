//! `kubectl hooks lint`: (in progress).
use crate::error::{Error, Result};
use crate::options::LintOptions;

/// Runs `lint`.
pub fn run(_o: &LintOptions) -> Result<u8> {
    Err(Error::Failed("lint is not implemented yet".into()))
}
