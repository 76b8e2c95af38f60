//! TLS: the rustls server configuration (TLS 1.2 and 1.3 only, ring provider) and a
//! certificate resolver whose certificate can be swapped while connections stay open.
//!
//! cert-manager and kubelet secret volumes rotate certificates by replacing files (often an
//! atomic symlink swap of a `..data` directory). [`CertStore::reload_if_changed`] re-reads both
//! files by path, so it follows symlinks; a pair that does not load (a half-written file, a key
//! that does not match the certificate) is refused and the previous certificate stays in use.
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
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

/// A loaded certificate chain and key, with the leaf's notAfter.
#[derive(Debug, Clone)]
pub struct LoadedCert {
    /// The chain and signing key rustls serves.
    pub key: Arc<CertifiedKey>,
    /// The leaf certificate's notAfter, Unix seconds.
    pub not_after: i64,
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
    let not_after = not_after(leaf).map_err(|reason| TlsError::BadCertificate {
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
        not_after,
    })
}

/// The certificate's notAfter as Unix seconds.
fn not_after(cert: &CertificateDer<'_>) -> Result<i64, String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| format!("invalid X.509: {e}"))?;
    Ok(parsed.validity().not_after.timestamp())
}

impl CertStore {
    /// Loads the pair; fails when it does not load (the server must not start without one).
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
    /// certificate stays in use (and the same broken contents are not reported again).
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
