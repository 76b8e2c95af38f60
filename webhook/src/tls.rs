//! TLS: the rustls server configuration (TLS 1.2 and 1.3 only, ring provider) and a
//! certificate resolver whose certificate can be swapped while connections stay open.
//!
//! cert-manager and kubelet secret volumes rotate certificates by replacing files (often an
//! atomic symlink swap of a `..data` directory). [`CertStore::reload_if_changed`] re-reads both
//! files by path, so it follows symlinks; a pair that does not load (a half-written file, a key
//! that does not match the certificate) is refused and the previous certificate stays in use.
//! So is a certificate that is expired or not valid yet, at start and on reload: serving it
//! would only make every TLS handshake of the apiserver fail.
//! New handshakes pick up the new certificate; established connections keep theirs.

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// Why a certificate/key pair could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[allow(missing_docs)] // the message names each field
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[allow(missing_docs)] // the message names each field
    #[error("{path}: no PEM certificate found ({reason})")]
    NoCertificate { path: PathBuf, reason: String },
    #[allow(missing_docs)] // the message names each field
    #[error("{path}: no PEM private key found ({reason})")]
    NoKey { path: PathBuf, reason: String },
    #[allow(missing_docs)] // the message names each field
    #[error("{path}: unsupported private key: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[allow(missing_docs)] // the message names each field
    #[error("{cert} and {key} do not belong together: {reason}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[allow(missing_docs)] // the message names each field
    #[error("{path}: cannot parse the certificate: {reason}")]
    BadCertificate { path: PathBuf, reason: String },
    #[allow(missing_docs)] // the message names each field
    #[error("{path}: the certificate is {state}: it is valid from {not_before} to {not_after}")]
    NotValidNow {
        path: PathBuf,
        state: Validity,
        not_before: String,
        not_after: String,
    },
    #[allow(missing_docs)] // the message names each field
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

/// Where the current time falls in a certificate's validity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Before notBefore.
    NotYetValid,
    /// Between notBefore and notAfter.
    Valid,
    /// After notAfter.
    Expired,
}

impl std::fmt::Display for Validity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Validity::NotYetValid => "not valid yet",
            Validity::Valid => "valid",
            Validity::Expired => "expired",
        })
    }
}

/// A Unix time as RFC 3339 (UTC), for messages; the number itself when out of range.
pub fn rfc3339(unix_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix_seconds.to_string())
}

/// The current Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A loaded certificate chain and key, with the leaf's validity window.
#[derive(Debug, Clone)]
pub struct LoadedCert {
    /// The chain and signing key rustls serves.
    pub key: Arc<CertifiedKey>,
    /// The leaf certificate's notBefore, Unix seconds.
    pub not_before: i64,
    /// The leaf certificate's notAfter, Unix seconds.
    pub not_after: i64,
}

impl LoadedCert {
    /// Where `now` (Unix seconds) falls in the leaf's validity window.
    pub fn validity_at(&self, now: i64) -> Validity {
        if now < self.not_before {
            Validity::NotYetValid
        } else if now > self.not_after {
            Validity::Expired
        } else {
            Validity::Valid
        }
    }

    /// `Ok` when the leaf is valid at `now`, else [`TlsError::NotValidNow`] naming `path`.
    fn check_valid_at(&self, path: &Path, now: i64) -> Result<(), TlsError> {
        match self.validity_at(now) {
            Validity::Valid => Ok(()),
            state => Err(TlsError::NotValidNow {
                path: path.to_path_buf(),
                state,
                not_before: rfc3339(self.not_before),
                not_after: rfc3339(self.not_after),
            }),
        }
    }
}

/// The raw bytes of the files, to notice changes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    cert: Vec<u8>,
    key: Vec<u8>,
}

/// The serving certificate, swappable at run time. Implements rustls's [`ResolvesServerCert`].
#[derive(Debug)]
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<LoadedCert>,
    /// Contents of the files last tried (loaded or refused), so a broken pair is reported once.
    last_seen: Mutex<Fingerprint>,
}

/// The crypto provider: ring, with its default cipher suites.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses a PEM certificate chain and private key and checks that they belong together.
pub fn load_pair(
    provider: &CryptoProvider,
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
) -> Result<LoadedCert, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::NoCertificate {
            path: cert_path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_path_buf(),
            reason: "the file holds no CERTIFICATE block".into(),
        });
    };
    let (not_before, not_after) = validity(leaf).map_err(|reason| TlsError::BadCertificate {
        path: cert_path.to_path_buf(),
        reason,
    })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::NoKey {
        path: key_path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let signing_key =
        provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::BadKey {
                path: key_path.to_path_buf(),
                reason: e.to_string(),
            })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|e| TlsError::Mismatch {
        cert: cert_path.to_path_buf(),
        key: key_path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(LoadedCert {
        key: Arc::new(certified),
        not_before,
        not_after,
    })
}

/// The certificate's notBefore and notAfter as Unix seconds.
fn validity(cert: &CertificateDer<'_>) -> Result<(i64, i64), String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| format!("invalid X.509: {e}"))?;
    let validity = parsed.validity();
    Ok((
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    ))
}

impl CertStore {
    /// Loads the pair; fails when it does not load or is not valid now (the server must not
    /// start without a certificate it can serve).
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<CertStore, TlsError> {
        let provider = provider();
        let fingerprint = Fingerprint {
            cert: read(cert_path)?,
            key: read(key_path)?,
        };
        let loaded = load_pair(
            &provider,
            cert_path,
            &fingerprint.cert,
            key_path,
            &fingerprint.key,
        )?;
        loaded.check_valid_at(cert_path, unix_now())?;
        Ok(CertStore {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            provider,
            current: RwLock::new(loaded),
            last_seen: Mutex::new(fingerprint),
        })
    }

    /// The certificate in use.
    pub fn current(&self) -> LoadedCert {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads both files; when their contents changed since the last attempt, loads them.
    /// `Ok(None)`: unchanged. `Ok(Some(cert))`: swapped in. `Err`: refused, the previous
    /// certificate stays in use (and the same broken contents are not reported again). A
    /// certificate refused because it is not valid now is checked again on the next call, so
    /// one issued a moment ahead of this clock is picked up once it becomes valid.
    pub fn reload_if_changed(&self) -> Result<Option<LoadedCert>, TlsError> {
        let fingerprint = Fingerprint {
            cert: read(&self.cert_path)?,
            key: read(&self.key_path)?,
        };
        {
            let mut last = self.last_seen.lock().unwrap_or_else(|e| e.into_inner());
            if *last == fingerprint {
                return Ok(None);
            }
            *last = fingerprint.clone();
        }
        let loaded = load_pair(
            &self.provider,
            &self.cert_path,
            &fingerprint.cert,
            &self.key_path,
            &fingerprint.key,
        )?;
        if let Err(e) = loaded.check_valid_at(&self.cert_path, unix_now()) {
            // Forget these contents so that the next call looks at them again.
            self.last_seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .cert
                .clear();
            return Err(e);
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = loaded.clone();
        Ok(Some(loaded))
    }

    /// The rustls configuration serving this store's certificate: TLS 1.3 and 1.2, no client
    /// authentication, ALPN `h2` and `http/1.1`.
    pub fn server_config(self: &Arc<Self>) -> Result<ServerConfig, TlsError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&version::TLS13, &version::TLS12])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .key
                .clone(),
        )
    }
}
