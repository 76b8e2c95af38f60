//! `kubectl hooks cleanup`: (in progress).
use crate::client::Kube;
use crate::error::{Error, Result};
use crate::options::{CleanupOptions, Connection};

/// Runs `cleanup`.
pub async fn run(_kube: &Kube, _c: &Connection, _o: &CleanupOptions) -> Result<u8> {
    Err(Error::Failed("cleanup is not implemented yet".into()))
}
