//! Test support: certificates made with rcgen, the webhook binary started on a free loopback
//! port, and a small HTTPS client (hyper over tokio-rustls) that trusts the test CA.
#![allow(dead_code)]

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A throw-away CA.
pub struct Ca {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A serving certificate and its key, PEM.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for 127.0.0.1 and localhost, valid for `days`.
    pub fn leaf(&self, days: i64) -> Leaf {
        let now = time::OffsetDateTime::now_utc();
        self.leaf_between(
            now - time::Duration::hours(1),
            now + time::Duration::days(days),
        )
    }

    /// A leaf for 127.0.0.1 and localhost, valid from `not_before` to `not_after`.
    pub fn leaf_between(
        &self,
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    ) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "helm-hooks-webhook");
        params.not_before = not_before;
        params.not_after = not_after;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// Writes a file atomically (write to a temporary name, then rename), like a secret volume.
pub fn write_atomic(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Writes `..<version>/tls.{crt,key}` and points `..data` at it with an atomic symlink swap
/// (a new symlink renamed over the old one), as kubelet and cert-manager do.
pub fn install_cert_version(dir: &Path, version: &str, leaf: &Leaf) {
    let versioned = dir.join(format!("..{version}"));
    std::fs::create_dir_all(&versioned).unwrap();
    std::fs::write(versioned.join("tls.crt"), &leaf.cert_pem).unwrap();
    std::fs::write(versioned.join("tls.key"), &leaf.key_pem).unwrap();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
}

/// The DER of the first certificate in a PEM text.
pub fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// A golden case's review (`tests/golden/cases/NAME.json`).
pub fn case(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/cases")
        .join(format!("{name}.json"));
    let file: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    file["review"].clone()
}

/// A running `helm-hooks-webhook serve`.
pub struct Webhook {
    pub child: Child,
    pub addr: std::net::SocketAddr,
    pub dir: tempfile::TempDir,
    pub ca: Ca,
    /// Every log line so far (JSON).
    pub logs: Arc<Mutex<Vec<Value>>>,
    pub startup: Duration,
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_helm-hooks-webhook"))
}

/// How to start a [`Webhook`] (see [`Webhook::launch`]).
pub struct Launch<'a> {
    /// Written to `policy.yaml` and passed with --policy when given.
    pub policy: Option<&'a str>,
    /// More flags of `serve`.
    pub extra: &'a [&'a str],
    /// Validity of the serving certificate, in days.
    pub cert_days: i64,
    /// `--log-format text` instead of json (lines are then kept as JSON strings).
    pub text_logs: bool,
    /// The open-file limit (`ulimit -n`) of the webhook process, when given.
    pub open_files: Option<u32>,
    /// `RUST_LOG` (default `debug`: every line, for the tests that read them).
    pub log_filter: &'a str,
}

impl Default for Launch<'_> {
    fn default() -> Self {
        Launch {
            policy: None,
            extra: &[],
            cert_days: 30,
            text_logs: false,
            open_files: None,
            log_filter: "debug",
        }
    }
}

impl Webhook {
    /// Starts the webhook with a fresh CA and certificate; `policy` is written to a file and
    /// passed with --policy when given. Waits until it logs `listening`.
    pub fn start(policy: Option<&str>, extra: &[&str]) -> Webhook {
        Webhook::launch(Launch {
            policy,
            extra,
            ..Launch::default()
        })
    }

    /// Starts the webhook as `launch` says. Waits until it logs `listening`.
    pub fn launch(launch: Launch<'_>) -> Webhook {
        let Launch {
            policy,
            extra,
            cert_days,
            text_logs,
            open_files,
            log_filter,
        } = launch;
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("helm-hooks test CA");
        let leaf = ca.leaf(cert_days);
        // Laid out like a kubelet secret volume: tls.crt -> ..data/tls.crt, ..data -> ..v1.
        install_cert_version(dir.path(), "v1", &leaf);
        std::os::unix::fs::symlink("..data/tls.crt", dir.path().join("tls.crt")).unwrap();
        std::os::unix::fs::symlink("..data/tls.key", dir.path().join("tls.key")).unwrap();
        let mut cmd = match open_files {
            // `ulimit` is a shell builtin; `exec` keeps the webhook's pid the child's pid.
            Some(limit) => {
                let mut cmd = Command::new("sh");
                cmd.arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(binary());
                cmd
            }
            None => Command::new(binary()),
        };
        let format = if text_logs { "text" } else { "json" };
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0", "--log-format", format])
            .arg("--tls-cert")
            .arg(dir.path().join("tls.crt"))
            .arg("--tls-key")
            .arg(dir.path().join("tls.key"))
            .args(["--reload-interval", "0.2"])
            .args(extra)
            .env("RUST_LOG", log_filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(policy) = policy {
            std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
            cmd.arg("--policy").arg(dir.path().join("policy.yaml"));
        }
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let value: Value =
                        serde_json::from_str(&line).unwrap_or_else(|_| Value::String(line.clone()));
                    if value["message"] == "listening" {
                        let _ = tx.send(value["addr"].as_str().unwrap().to_string());
                    } else if let Some(addr) = line
                        .contains(" listening")
                        .then(|| line.split_once("addr=").map(|(_, rest)| rest))
                        .flatten()
                        .and_then(|rest| rest.split_whitespace().next())
                    {
                        let _ = tx.send(addr.to_string());
                    }
                    logs.lock().unwrap().push(value);
                }
            });
        }
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("webhook did not start: {:?}", logs.lock().unwrap()));
        Webhook {
            child,
            addr: addr.parse().unwrap(),
            dir,
            ca,
            logs,
            startup: started.elapsed(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr, &self.ca.cert_pem)
    }

    /// Log lines whose `message` is `message`.
    pub fn logs_with(&self, message: &str) -> Vec<Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["message"] == message)
            .cloned()
            .collect()
    }

    pub fn all_logs(&self) -> String {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends SIGTERM (via `kill`, no unsafe code) and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.wait(Duration::from_secs(30))
    }

    pub fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "webhook did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTPS response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client of one webhook: one TLS connection per [`Client::connect`], keep-alive on it.
#[derive(Clone)]
pub struct Client {
    addr: std::net::SocketAddr,
    connector: tokio_rustls::TlsConnector,
    /// The same, offering only `h2` by ALPN.
    h2_connector: tokio_rustls::TlsConnector,
}

/// One keep-alive HTTP/1.1 connection.
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    /// The leaf certificate the server presented.
    pub peer_cert: Vec<u8>,
}

impl Client {
    pub fn new(addr: std::net::SocketAddr, ca_pem: &str) -> Client {
        Client::with_versions(addr, ca_pem, rustls::DEFAULT_VERSIONS)
    }

    /// A client limited to some TLS versions.
    pub fn with_versions(
        addr: std::net::SocketAddr,
        ca_pem: &str,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        // No session resumption: every connection is a full handshake, so the test sees the
        // certificate the server serves now (a resumed session reports the original one).
        config.resumption = rustls::client::Resumption::disabled();
        let mut h2 = config.clone();
        h2.alpn_protocols = vec![b"h2".to_vec()];
        Client {
            addr,
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            h2_connector: tokio_rustls::TlsConnector::from(Arc::new(h2)),
        }
    }

    /// A TLS stream to the webhook that negotiated `h2` by ALPN.
    pub async fn h2_tls(
        &self,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let tls = self
            .h2_connector
            .connect(ServerName::IpAddress(self.addr.ip().into()), tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        Ok(tls)
    }

    /// One request over HTTP/2 on a fresh connection, as the apiserver sends them.
    pub async fn h2_request(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Response, String> {
        use http_body_util::BodyExt as _;
        let tls = self.h2_tls().await?;
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tls),
        )
        .await
        .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("https://{}{path}", self.addr))
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap();
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok(Response { status, body })
    }

    /// A TLS stream to the webhook.
    pub async fn tls(
        &self,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        self.connector
            .connect(ServerName::IpAddress(self.addr.ip().into()), tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))
    }

    pub async fn connect(&self) -> Result<Connection, String> {
        let tls = self.tls().await?;
        let peer_cert = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(Connection { sender, peer_cert })
    }

    /// One request on a fresh connection.
    pub async fn request(&self, method: &str, path: &str, body: Vec<u8>) -> Response {
        let mut conn = self.connect().await.unwrap();
        conn.request(method, path, body).await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request("POST", path, serde_json::to_vec(body).unwrap())
            .await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request("GET", path, Vec::new()).await
    }
}

impl Connection {
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Response, String> {
        use http_body_util::BodyExt as _;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap();
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok(Response { status, body })
    }
}

/// Reads a value of a metric line `name{labels} value` from the exposition text; the labels
/// must all appear (any order) in the line.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.split(['{', ' ']).next() == Some(name)
                && labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}
