//! Serving certificates without openssl: a CA and a serving certificate for
//! `<service>.<namespace>.svc` (plus IP SANs for local use), and the caBundle patch for the
//! `deploy/overlays/self-signed` overlay.
//!
//! Rotation: when the output directory already holds `ca.crt` and `ca.key`, the CA is reused
//! and only the serving certificate is renewed, so the registered caBundle stays valid and the
//! running webhook picks the new files up without a restart.

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// What to put in the serving certificate.
#[derive(Debug, Clone)]
pub struct CertRequest {
    pub service: String,
    pub namespace: String,
    /// Extra DNS names (e.g. `localhost`).
    pub dns_names: Vec<String>,
    /// IP SANs (e.g. `127.0.0.1` for a webhook registered by url on loopback).
    pub ips: Vec<IpAddr>,
    /// Validity of the serving certificate.
    pub days: u32,
    /// Make a new CA even when the output directory holds one.
    pub new_ca: bool,
}

/// Why certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("failed to generate a certificate or key")]
    Generate(#[from] rcgen::Error),
    #[error("failed to read the existing CA in {dir}: {reason}; delete ca.crt and ca.key there or pass --new-ca")]
    ExistingCa { dir: PathBuf, reason: String },
    #[error("failed to write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The files `certs` writes.
#[derive(Debug)]
pub struct CertFiles {
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cabundle_patch: PathBuf,
    /// Whether the CA was reused from an earlier run.
    pub reused_ca: bool,
}

/// The DNS names of a Service, as the apiserver calls it.
fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// Makes (or reuses) the CA and makes a serving certificate, writing PEM files to `dir`.
pub fn make(request: &CertRequest, dir: &Path) -> Result<CertFiles, CertError> {
    std::fs::create_dir_all(dir).map_err(|source| CertError::Write { path: dir.into(), source })?;
    let (ca_cert_path, ca_key_path) = (dir.join("ca.crt"), dir.join("ca.key"));
    let now = OffsetDateTime::now_utc();

    let reuse = !request.new_ca && ca_cert_path.exists() && ca_key_path.exists();
    let (ca_pem, ca_key) = if reuse {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| CertError::ExistingCa { dir: dir.into(), reason: e.to_string() })
        };
        let key = KeyPair::from_pem(&read(&ca_key_path)?)
            .map_err(|e| CertError::ExistingCa { dir: dir.into(), reason: e.to_string() })?;
        (read(&ca_cert_path)?, key)
    } else {
        let key = KeyPair::generate()?;
        let cert = ca_params(now)?.self_signed(&key)?;
        (cert.pem(), key)
    };
    let ca_params = if reuse {
        CertificateParams::from_ca_cert_pem(&ca_pem)
            .map_err(|e| CertError::ExistingCa { dir: dir.into(), reason: e.to_string() })?
    } else {
        ca_params(now)?
    };
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = service_names(&request.service, &request.namespace);
    names.extend(request.dns_names.iter().cloned());
    names.extend(request.ips.iter().map(IpAddr::to_string));
    let mut leaf = CertificateParams::new(names)?;
    leaf.distinguished_name
        .push(DnType::CommonName, format!("{}.{}.svc", request.service, request.namespace));
    leaf.not_before = now - Duration::hours(1);
    leaf.not_after = now + Duration::days(i64::from(request.days));
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    let files = CertFiles {
        ca_cert: ca_cert_path,
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
        cabundle_patch: dir.join("cabundle-patch.yaml"),
        reused_ca: reuse,
    };
    let ca_bundle = base64::engine::general_purpose::STANDARD.encode(&ca_pem);
    let patch = format!(
        "# caBundle for deploy/overlays/self-signed, made by `helm-hooks-webhook certs`.\n\
         - op: add\n  path: /webhooks/0/clientConfig/caBundle\n  value: {ca_bundle}\n"
    );
    if !reuse {
        write(&files.ca_cert, &ca_pem, false)?;
        write(&ca_key_path, &issuer.key().serialize_pem(), true)?;
    }
    // Key first, then certificate: a webhook polling the pair never sees a new cert with an
    // old key for long, and reloads retry on mismatch.
    write(&files.key, &leaf_key.serialize_pem(), true)?;
    write(&files.cert, &leaf_cert.pem(), false)?;
    write(&files.cabundle_patch, &patch, false)?;
    Ok(files)
}

fn ca_params(now: OffsetDateTime) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, "helm-hooks webhook CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(3650);
    Ok(params)
}

/// Writes atomically (temp file + rename), keys with mode 0600.
fn write(path: &Path, contents: &str, secret: bool) -> Result<(), CertError> {
    let err = |source| CertError::Write { path: path.into(), source };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).map_err(err)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    std::fs::rename(&tmp, path).map_err(err)
}
