//! Loopback HTTPS load generator for the webhook binary, bounded in count and
//! time, 127.0.0.1 only. Run through `webhook/bench/load.sh` or
//! `cargo bench -p helm-hooks-webhook --bench load`.
//!
//! Measures, against the release build of `helm-hooks-webhook serve` (built-in policy, JSON
//! logs at info to /dev/null, a fresh rcgen certificate):
//! 1. start-up to ready: process spawn until the first `GET /readyz` answers 200 (median of
//!    several starts), next to the `startup_ms` the webhook logs itself;
//! 2. throughput: closed loop, keep-alive connections each with one review in flight;
//! 3. latency at a fixed rate (wrk2-style open loop: each request has a scheduled send time
//!    and latency is counted from it, so a stall is not hidden by coordinated omission);
//! 4. the webhook's peak RSS (`VmHWM` from /proc/PID/status) after all of it.
//!
//! Options (environment): `LOAD_SECONDS` (throughput phase, default 5), `LOAD_CONNECTIONS`
//! (default 16), `LOAD_RATE` (default 2000), `LOAD_RATE_SECONDS` (default 10),
//! `LOAD_STARTS` (default 10), `LOAD_ENDPOINT` (`mutate` or `validate`, default `mutate`).

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Hard limit on any one phase, whatever the options say.
const PHASE_LIMIT: Duration = Duration::from_secs(60);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Pki {
    ca_pem: String,
}

fn make_pki(dir: &Path) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "load CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    Pki { ca_pem }
}

fn connector(ca_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr, tls: &tokio_rustls::TlsConnector) -> Result<Sender, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let stream = tls
        .connect(ServerName::IpAddress(addr.ip().into()), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn send(sender: &mut Sender, method: &str, path: &str, body: Bytes) -> Result<u16, String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(status)
}

/// Whether `GET /readyz` on a new connection answers 200.
async fn ready(addr: SocketAddr, tls: &tokio_rustls::TlsConnector) -> bool {
    match connect(addr, tls).await {
        Ok(mut sender) => send(&mut sender, "GET", "/readyz", Bytes::new()).await == Ok(200),
        Err(_) => false,
    }
}

fn spawn(dir: &Path, port: u16, log: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_helm-hooks-webhook"))
        .arg("serve")
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .arg("--tls-cert")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn the webhook")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then do nothing.
    if std::env::args().any(|a| a == "--list") || !std::env::args().any(|a| a == "--bench") {
        println!("load: run with `cargo bench --bench load` or webhook/bench/load.sh");
        return;
    }
    let seconds: f64 = env_or("LOAD_SECONDS", 5.0);
    let connections: usize = env_or("LOAD_CONNECTIONS", 16);
    let rate: f64 = env_or("LOAD_RATE", 2000.0);
    let rate_seconds: f64 = env_or("LOAD_RATE_SECONDS", 10.0);
    let starts: usize = env_or("LOAD_STARTS", 10);
    let endpoint: String = env_or("LOAD_ENDPOINT", "mutate".to_string());
    let path = format!("/{endpoint}");

    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let tls = connector(&pki.ca_pem);
    let case: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/cases/default-apiserver-defaulted-job.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let body = Bytes::from(serde_json::to_vec(&case["review"]).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    println!(
        "helm-hooks-webhook load test (loopback, release build, {} CPUs)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "review: hook Job as the apiserver sends it, POST {path}, {} bytes",
        body.len()
    );

    // 1. Start-up to ready.
    let mut ready_ms = Vec::new();
    let mut logged_ms = Vec::new();
    for _ in 0..starts {
        let port = free_port();
        let log_path = dir.path().join("startup.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let started = Instant::now();
        let mut child = spawn(dir.path(), port, Stdio::from(log));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let ready = runtime.block_on(async {
            while started.elapsed() < Duration::from_secs(10) {
                if ready(addr, &tls).await {
                    return Some(started.elapsed());
                }
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            None
        });
        let _ = child.kill();
        let _ = child.wait();
        let ready = ready.expect("the webhook did not become ready within 10 s");
        ready_ms.push(ready.as_secs_f64() * 1000.0);
        if let Some(ms) = std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["message"] == "listening")
            .and_then(|l| l["startup_ms"].as_f64())
        {
            logged_ms.push(ms);
        }
    }
    ready_ms.sort_by(f64::total_cmp);
    logged_ms.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(f64::NAN);

    // The webhook under load.
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = spawn(dir.path(), port, Stdio::null());
    let pid = child.id();
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if ready(addr, &tls).await {
                break;
            }
            assert!(Instant::now() < deadline, "webhook not ready");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let rss_idle = status_field(pid, "VmRSS:").unwrap_or(0);

    // 2. Throughput, closed loop.
    let duration = Duration::from_secs_f64(seconds).min(PHASE_LIMIT);
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let elapsed = runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                let (tls, body, path, done, errors) = (
                    tls.clone(),
                    body.clone(),
                    path.clone(),
                    done.clone(),
                    errors.clone(),
                );
                tokio::spawn(async move {
                    let mut sender = connect(addr, &tls).await.unwrap();
                    while start.elapsed() < duration {
                        match send(&mut sender, "POST", &path, body.clone()).await {
                            Ok(200) => done.fetch_add(1, Ordering::Relaxed),
                            _ => errors.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        start.elapsed()
    });
    let throughput = done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64();
    let throughput_errors = errors.load(Ordering::Relaxed);

    // 3. Fixed rate, open loop, latency from the scheduled send time. A pacer thread (OS
    // sleep: ~0.1 ms precision, where tokio's timer wheel has 1 ms) releases each request at
    // its scheduled instant into a queue the connections take from; a request that waits in
    // the queue because every connection is busy counts its wait (no coordinated omission).
    let total = ((rate * rate_seconds) as u64).min(200_000);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let rate_errors = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let pacer = std::thread::spawn(move || {
        let start = Instant::now() + Duration::from_millis(100);
        for k in 0..total {
            let scheduled = start + interval.mul_f64(k as f64);
            if scheduled.duration_since(start) > PHASE_LIMIT {
                break;
            }
            if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if tx.send(scheduled).is_err() {
                break;
            }
        }
    });
    let (mut latencies, mut service): (Vec<u64>, Vec<u64>) = runtime.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                let (tls, body, path, errors, rx) = (
                    tls.clone(),
                    body.clone(),
                    path.clone(),
                    rate_errors.clone(),
                    rx.clone(),
                );
                tokio::spawn(async move {
                    let mut sender = connect(addr, &tls).await.unwrap();
                    let mut latencies = Vec::new();
                    let mut service = Vec::new();
                    loop {
                        let Some(scheduled) = rx.lock().await.recv().await else {
                            break;
                        };
                        let sent = Instant::now();
                        match send(&mut sender, "POST", &path, body.clone()).await {
                            Ok(200) => {
                                latencies.push(scheduled.elapsed().as_micros() as u64);
                                service.push(sent.elapsed().as_micros() as u64);
                            }
                            _ => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    (latencies, service)
                })
            })
            .collect();
        let (mut all, mut all_service) = (Vec::new(), Vec::new());
        for t in tasks {
            let (l, s) = t.await.unwrap();
            all.extend(l);
            all_service.extend(s);
        }
        (all, all_service)
    });
    pacer.join().unwrap();
    latencies.sort_unstable();
    service.sort_unstable();
    let hwm = status_field(pid, "VmHWM:").unwrap_or(0);
    let rss = status_field(pid, "VmRSS:").unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();

    let ms = |us: u64| us as f64 / 1000.0;
    println!();
    println!("| measure | result | target |");
    println!("|---|---|---|");
    println!(
        "| start-up to ready (spawn → first 200 on /readyz, median of {starts}) | {:.1} ms (min {:.1}, max {:.1}) | ≤ 100 ms |",
        median(&ready_ms),
        ready_ms.first().copied().unwrap_or(f64::NAN),
        ready_ms.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "| start-up as logged by the webhook (`startup_ms`, median) | {:.2} ms | |",
        median(&logged_ms)
    );
    println!(
        "| throughput, {connections} keep-alive connections, {:.0} s | {:.0} reviews/s ({} errors) | ≥ 10,000 reviews/s |",
        elapsed.as_secs_f64(),
        throughput,
        throughput_errors
    );
    println!(
        "| latency at {rate:.0} reviews/s for {rate_seconds:.0} s ({} answered, {} errors): p50 / p90 / p99 / p99.9 / max | {:.2} / {:.2} / {:.2} / {:.2} / {:.2} ms | p99 ≤ 2 ms |",
        latencies.len(),
        rate_errors.load(Ordering::Relaxed),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(percentile(&latencies, 99.9)),
        ms(latencies.last().copied().unwrap_or(0)),
    );
    println!(
        "| same, from the actual send (without queueing in the generator): p50 / p90 / p99 / p99.9 / max | {:.2} / {:.2} / {:.2} / {:.2} / {:.2} ms | |",
        ms(percentile(&service, 50.0)),
        ms(percentile(&service, 90.0)),
        ms(percentile(&service, 99.0)),
        ms(percentile(&service, 99.9)),
        ms(service.last().copied().unwrap_or(0)),
    );
    println!(
        "| webhook RSS: idle / after load / peak (VmHWM) | {:.1} / {:.1} / {:.1} MiB | ≤ 30 MiB |",
        rss_idle as f64 / 1024.0,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}
