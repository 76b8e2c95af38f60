//! `kubectl hooks rerun`: (in progress).
use crate::client::Kube;
use crate::error::{Error, Result};
use crate::options::{Connection, RerunOptions};

/// Runs `rerun`.
pub async fn run(_kube: &Kube, _c: &Connection, _o: &RerunOptions) -> Result<u8> {
    Err(Error::Failed("rerun is not implemented yet".into()))
}
