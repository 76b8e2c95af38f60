//! Serving certificates without openssl: a CA and a serving certificate for
//! `<service>.<namespace>.svc` (plus IP SANs for local use), and the caBundle patch for the
//! `deploy/overlays/self-signed` overlay.
//!
//! Rotation: when the output directory already holds `ca.crt` and `ca.key`, the CA is reused
//! and only the serving certificate is renewed, so the registered caBundle stays valid and the
//! running webhook picks the new files up without a restart.

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// What to put in the serving certificate.
#[derive(Debug, Clone)]
pub struct CertRequest {
    /// The webhook's Service name.
    pub service: String,
    /// The webhook's namespace.
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
    /// rcgen could not make a key or certificate.
    #[error("failed to generate a certificate or key")]
    Generate(#[from] rcgen::Error),
    /// `ca.crt`/`ca.key` exist but cannot be used.
    #[error(
        "failed to read the existing CA in {dir}: {reason}; delete ca.crt and ca.key there or pass --new-ca"
    )]
    ExistingCa {
        /// The output directory.
        dir: PathBuf,
        /// What is wrong with them.
        reason: String,
    },
    /// A file could not be written.
    #[error("failed to write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The files `certs` writes.
#[derive(Debug)]
pub struct CertFiles {
    /// `ca.crt`: the caBundle to register.
    pub ca_cert: PathBuf,
    /// `tls.crt`: the serving certificate.
    pub cert: PathBuf,
    /// `tls.key`: its key (mode 0600).
    pub key: PathBuf,
    /// `cabundle-patch.yaml` for deploy/overlays/self-signed.
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
    std::fs::create_dir_all(dir).map_err(|source| CertError::Write {
        path: dir.into(),
        source,
    })?;
    let (ca_cert_path, ca_key_path) = (dir.join("ca.crt"), dir.join("ca.key"));
    let now = OffsetDateTime::now_utc();

    let reuse = !request.new_ca && ca_cert_path.exists() && ca_key_path.exists();
    let existing_ca = |reason: String| CertError::ExistingCa {
        dir: dir.into(),
        reason,
    };
    let (ca_pem, issuer) = if reuse {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| existing_ca(e.to_string()));
        let ca_pem = read(&ca_cert_path)?;
        let key =
            KeyPair::from_pem(&read(&ca_key_path)?).map_err(|e| existing_ca(e.to_string()))?;
        let issuer =
            Issuer::from_ca_cert_pem(&ca_pem, key).map_err(|e| existing_ca(e.to_string()))?;
        (ca_pem, issuer)
    } else {
        let key = KeyPair::generate()?;
        let params = ca_params(now)?;
        let cert = params.self_signed(&key)?;
        (cert.pem(), Issuer::new(params, key))
    };

    let mut names = service_names(&request.service, &request.namespace);
    names.extend(request.dns_names.iter().cloned());
    names.extend(request.ips.iter().map(IpAddr::to_string));
    let mut leaf = CertificateParams::new(names)?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        format!("{}.{}.svc", request.service, request.namespace),
    );
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
    params
        .distinguished_name
        .push(DnType::CommonName, "helm-hooks webhook CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(3650);
    Ok(params)
}

/// Writes atomically (temp file + rename), keys with mode 0600.
fn write(path: &Path, contents: &str, secret: bool) -> Result<(), CertError> {
    let err = |source| CertError::Write {
        path: path.into(),
        source,
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::GeneralName;
    use x509_parser::pem::parse_x509_pem;

    fn request() -> CertRequest {
        CertRequest {
            service: "helm-hooks-webhook".into(),
            namespace: "helm-hooks-system".into(),
            dns_names: vec!["localhost".into()],
            ips: vec!["127.0.0.1".parse().unwrap()],
            days: 30,
            new_ca: false,
        }
    }

    fn der(path: &Path) -> Vec<u8> {
        let pem = std::fs::read(path).unwrap();
        parse_x509_pem(&pem).unwrap().1.contents
    }

    fn leaf_verifies_under_ca(files: &CertFiles) {
        let (ca_der, leaf_der) = (der(&files.ca_cert), der(&files.cert));
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        let (_, leaf) = x509_parser::parse_x509_certificate(&leaf_der).unwrap();
        leaf.verify_signature(Some(ca.public_key()))
            .expect("signed by the CA");
        assert!(ca.is_ca());
    }

    #[test]
    fn makes_a_ca_and_a_serving_certificate_for_the_service_and_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let files = make(&request(), dir.path()).unwrap();
        assert!(!files.reused_ca);
        leaf_verifies_under_ca(&files);

        let leaf_der = der(&files.cert);
        let (_, leaf) = x509_parser::parse_x509_certificate(&leaf_der).unwrap();
        let sans: Vec<String> = leaf
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(ip) => format!("{ip:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert!(
            sans.contains(&"helm-hooks-webhook.helm-hooks-system.svc".to_string()),
            "{sans:?}"
        );
        assert!(sans.contains(&"localhost".to_string()), "{sans:?}");
        assert!(sans.contains(&"[127, 0, 0, 1]".to_string()), "{sans:?}");

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let patch = std::fs::read_to_string(&files.cabundle_patch).unwrap();
        assert!(
            patch.contains("path: /webhooks/0/clientConfig/caBundle"),
            "{patch}"
        );
    }

    #[test]
    fn rerunning_rotates_the_serving_certificate_under_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = make(&request(), dir.path()).unwrap();
        let (ca_before, leaf_before) = (der(&first.ca_cert), der(&first.cert));
        let second = make(&request(), dir.path()).unwrap();
        assert!(second.reused_ca);
        assert_eq!(der(&second.ca_cert), ca_before, "same caBundle");
        assert_ne!(der(&second.cert), leaf_before, "new serving certificate");
        leaf_verifies_under_ca(&second);

        let third = make(
            &CertRequest {
                new_ca: true,
                ..request()
            },
            dir.path(),
        )
        .unwrap();
        assert!(!third.reused_ca);
        assert_ne!(der(&third.ca_cert), ca_before);
    }

    #[test]
    fn a_corrupt_existing_ca_is_reported_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "not a certificate").unwrap();
        std::fs::write(dir.path().join("ca.key"), "not a key").unwrap();
        let message = make(&request(), dir.path()).unwrap_err().to_string();
        assert!(message.contains("--new-ca"), "{message}");
    }
}
