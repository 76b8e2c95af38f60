//! Helm's payload encoding: `base64( gzip( JSON ) )`, plain JSON accepted when the gzip magic
//! is absent. Decoding is bounded so a decompression bomb cannot exhaust memory.

use super::model::Release;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use std::io::{Read, Write};

/// The gzip magic Helm checks for (`1f 8b 08`: gzip, deflate).
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// The largest decompressed release JSON accepted by default (64 MiB). Helm's own records
/// are bounded by etcd's 1.5 MiB object limit, so real ones stay far below.
pub const DEFAULT_MAX_DECODED_BYTES: u64 = 64 * 1024 * 1024;

/// Why a release payload could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The payload is not standard base64.
    #[error("payload is not valid base64")]
    Base64(#[source] base64::DecodeError),
    /// The gzip stream is truncated or corrupt.
    #[error("payload is not a valid gzip stream (truncated or corrupt)")]
    Gzip(#[source] std::io::Error),
    /// The payload decompresses to more than the limit.
    #[error(
        "payload decompresses to more than {limit} bytes; refusing it as a likely decompression bomb"
    )]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The JSON is not a Helm release.
    #[error("payload is not valid Helm release JSON")]
    Json(#[source] serde_json::Error),
}

/// Why a release could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The release could not be written as JSON.
    #[error("failed to serialize the release as JSON")]
    Json(#[source] serde_json::Error),
    /// The JSON could not be compressed.
    #[error("failed to gzip the release JSON")]
    Gzip(#[source] std::io::Error),
}

/// Decodes Helm's payload (the base64 text stored under `release`) with the default limit.
pub fn decode_payload(payload: &[u8]) -> Result<Release, DecodeError> {
    decode_payload_with_limit(payload, DEFAULT_MAX_DECODED_BYTES)
}

/// Decodes Helm's payload, refusing more than `limit` decompressed bytes.
pub fn decode_payload_with_limit(payload: &[u8], limit: u64) -> Result<Release, DecodeError> {
    let trimmed = payload.trim_ascii();
    let bytes = STANDARD.decode(trimmed).map_err(DecodeError::Base64)?;
    let json = if bytes.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        GzDecoder::new(bytes.as_slice())
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(DecodeError::Gzip)?;
        if out.len() as u64 > limit {
            return Err(DecodeError::TooLarge { limit });
        }
        out
    } else {
        if bytes.len() as u64 > limit {
            return Err(DecodeError::TooLarge { limit });
        }
        bytes
    };
    serde_json::from_slice(&json).map_err(DecodeError::Json)
}

/// Encodes a release the way Helm does: JSON, gzip, base64.
pub fn encode_payload(release: &Release) -> Result<String, EncodeError> {
    let json = serde_json::to_vec(release).map_err(EncodeError::Json)?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&json).map_err(EncodeError::Gzip)?;
    let compressed = gz.finish().map_err(EncodeError::Gzip)?;
    Ok(STANDARD.encode(compressed))
}
