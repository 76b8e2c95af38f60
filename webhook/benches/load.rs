//! Loopback HTTPS load generator for the webhook binary, bounded in count and
//! time, 127.0.0.1 only. Run through `webhook/bench/load.sh`, which also builds the baseline.
//!
//! Measures the release build of `helm-hooks-webhook serve` (built-in policy, JSON logs at
//! info to /dev/null, a fresh rcgen certificate) next to a baseline measured in the same run:
//! the webhook's own TLS and HTTP stack answering the same bytes without doing the work
//! (`webhook/examples/fixed_answer.rs`, path in `LOAD_BASELINE_BIN`). Rounds alternate between
//! the two, and the report gives each measure as a ratio to the baseline, with the load
//! average before and after, so that a busy machine shows as a busy machine:
//! 1. start-up to ready: process spawn until the first `GET /readyz` answers 200 (median of
//!    several starts), next to the `startup_ms` the webhook logs itself (webhook only);
//! 2. throughput: closed loop, keep-alive connections each with one review in flight;
//! 3. latency at a fixed rate (wrk2-style open loop: each request has a scheduled send time
//!    and latency is counted from it, so a stall is not hidden by coordinated omission);
//! 4. peak RSS (`VmHWM` from /proc/PID/status) after all of it.
//!
//! Options (environment): `LOAD_SECONDS` (throughput phase per round, default 5),
//! `LOAD_CONNECTIONS` (default 16), `LOAD_RATE` (default 2000), `LOAD_RATE_SECONDS` (default
//! 10), `LOAD_ROUNDS` (default 2), `LOAD_STARTS` (default 10), `LOAD_ENDPOINT` (`mutate`,
//! `validate` or `admit`, default `mutate`). Exits non-zero when any request failed.

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
    exchange(sender, method, path, body)
        .await
        .map(|(status, _)| status)
}

/// Sends one request on `sender` and reads the whole answer: status and body.
async fn exchange(
    sender: &mut Sender,
    method: &str,
    path: &str,
    body: Bytes,
) -> Result<(u16, Bytes), String> {
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
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, bytes))
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
    let rounds: usize = env_or("LOAD_ROUNDS", 2).max(1);
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
        "helm-hooks-webhook load test (loopback, {} build, {} CPUs)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "optimised"
        },
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

    // The webhook's answer to the review: the baseline answers every request with it, so both
    // servers send the same bytes.
    let answer_path = dir.path().join("answer.json");
    let (webhook_pid, mut webhook) = start_server(&runtime, &tls, |port| {
        spawn(dir.path(), port, Stdio::null())
    });
    let rss_idle = status_field(webhook_pid.0, "VmRSS:").unwrap_or(0);
    let answer = runtime
        .block_on(async {
            let mut sender = connect(webhook_pid.1, &tls).await?;
            send_for_body(&mut sender, &path, body.clone()).await
        })
        .expect("the webhook answers the review");
    std::fs::write(&answer_path, &answer).unwrap();
    let (baseline_pid, mut baseline) = start_server(&runtime, &tls, |port| {
        spawn_baseline(dir.path(), port, &answer_path)
    });

    // Interleaved rounds (webhook, baseline, webhook, …): a burst of load on the shared machine
    // falls on both, not on one.
    let load_before = load_average();
    let mut webhook_runs = Vec::new();
    let mut baseline_runs = Vec::new();
    for _ in 0..rounds {
        for (addr, runs) in [
            (webhook_pid.1, &mut webhook_runs),
            (baseline_pid.1, &mut baseline_runs),
        ] {
            runs.push(measure(
                &runtime,
                addr,
                &tls,
                &body,
                &path,
                Phases {
                    connections,
                    duration: Duration::from_secs_f64(seconds).min(PHASE_LIMIT),
                    rate,
                    rate_seconds,
                },
            ));
        }
    }
    let load_after = load_average();
    let hwm = status_field(webhook_pid.0, "VmHWM:").unwrap_or(0);
    let rss = status_field(webhook_pid.0, "VmRSS:").unwrap_or(0);
    let baseline_hwm = status_field(baseline_pid.0, "VmHWM:").unwrap_or(0);
    for child in [&mut webhook, &mut baseline] {
        let _ = child.kill();
        let _ = child.wait();
    }
    let webhook = Measured::pool(webhook_runs);
    let baseline = Measured::pool(baseline_runs);

    let ms = |us: u64| us as f64 / 1000.0;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let p = |m: &Measured, q: f64| ms(percentile(&m.latencies, q));
    println!();
    println!(
        "baseline: the same TLS and HTTP stack answering the same bytes without doing the work \
         (webhook/examples/fixed_answer.rs); {rounds} interleaved round(s); load average {} before, {} after",
        load_before, load_after
    );
    println!();
    println!("| measure | webhook | baseline | webhook / baseline | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| start-up to ready (spawn → first 200 on /readyz, median of {starts}) | {:.1} ms (min {:.1}, max {:.1}) | | | ≤ 100 ms |",
        median(&ready_ms),
        ready_ms.first().copied().unwrap_or(f64::NAN),
        ready_ms.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "| start-up as logged by the webhook (`startup_ms`, median) | {:.2} ms | | | |",
        median(&logged_ms)
    );
    println!(
        "| throughput, {connections} keep-alive connections, {seconds:.0} s per round | {:.0} reviews/s ({} errors) | {:.0} reviews/s ({} errors) | {:.2} | ≥ 0.2 |",
        webhook.throughput,
        webhook.throughput_errors,
        baseline.throughput,
        baseline.throughput_errors,
        ratio(webhook.throughput, baseline.throughput),
    );
    for (label, q) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9)] {
        let target = match label {
            "p99" => "added ≤ 1 ms",
            _ => "",
        };
        println!(
            "| latency at {rate:.0} reviews/s, {label} ({} + {} answered, {} + {} errors) | {:.2} ms | {:.2} ms | {:.2} (added {:+.2} ms) | {target} |",
            webhook.latencies.len(),
            baseline.latencies.len(),
            webhook.rate_errors,
            baseline.rate_errors,
            p(&webhook, q),
            p(&baseline, q),
            ratio(p(&webhook, q), p(&baseline, q)),
            p(&webhook, q) - p(&baseline, q),
        );
    }
    println!(
        "| same p50 / p99, from the actual send (without queueing in the generator) | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.2} / {:.2} | |",
        ms(percentile(&webhook.service, 50.0)),
        ms(percentile(&webhook.service, 99.0)),
        ms(percentile(&baseline.service, 50.0)),
        ms(percentile(&baseline.service, 99.0)),
        ratio(
            ms(percentile(&webhook.service, 50.0)),
            ms(percentile(&baseline.service, 50.0))
        ),
        ratio(
            ms(percentile(&webhook.service, 99.0)),
            ms(percentile(&baseline.service, 99.0))
        ),
    );
    println!(
        "| RSS: idle / after load / peak (VmHWM) | {:.1} / {:.1} / {:.1} MiB | peak {:.1} MiB | {:.2} (peak) | ≤ 30 MiB peak |",
        rss_idle as f64 / 1024.0,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        baseline_hwm as f64 / 1024.0,
        ratio(hwm as f64, baseline_hwm as f64),
    );
    let errors = webhook.throughput_errors
        + webhook.rate_errors
        + baseline.throughput_errors
        + baseline.rate_errors;
    if errors > 0 {
        eprintln!("load: {errors} request(s) failed (see the table)");
        std::process::exit(1);
    }
}

/// The load phases of one round against one server.
#[derive(Clone, Copy)]
struct Phases {
    connections: usize,
    duration: Duration,
    rate: f64,
    rate_seconds: f64,
}

/// What one or more rounds against one server measured.
#[derive(Default)]
struct Measured {
    /// Reviews per second in the closed-loop phase (mean over rounds).
    throughput: f64,
    throughput_errors: u64,
    /// Latency from the scheduled send time, µs, sorted once pooled.
    latencies: Vec<u64>,
    /// Latency from the actual send, µs, sorted once pooled.
    service: Vec<u64>,
    rate_errors: u64,
}

impl Measured {
    fn pool(runs: Vec<Measured>) -> Measured {
        let count = runs.len().max(1) as f64;
        let mut pooled = Measured::default();
        for run in runs {
            pooled.throughput += run.throughput / count;
            pooled.throughput_errors += run.throughput_errors;
            pooled.latencies.extend(run.latencies);
            pooled.service.extend(run.service);
            pooled.rate_errors += run.rate_errors;
        }
        pooled.latencies.sort_unstable();
        pooled.service.sort_unstable();
        pooled
    }
}

/// `/proc/loadavg`'s 1-minute figure, or `?`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

/// Starts a server on a free port with `spawn` and waits until `/readyz` answers 200.
fn start_server(
    runtime: &tokio::runtime::Runtime,
    tls: &tokio_rustls::TlsConnector,
    spawn: impl FnOnce(u16) -> Child,
) -> ((u32, SocketAddr), Child) {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = spawn(port);
    let up = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ready(addr, tls).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    });
    if !up {
        let _ = child.kill();
        panic!("a server under test did not become ready within 10 s");
    }
    ((child.id(), addr), child)
}

/// The baseline server: webhook/examples/fixed_answer.rs, built by webhook/bench/load.sh.
fn spawn_baseline(dir: &Path, port: u16, answer: &Path) -> Child {
    let Some(bin) = std::env::var_os("LOAD_BASELINE_BIN") else {
        eprintln!(
            "load: LOAD_BASELINE_BIN is not set: run the load test through webhook/bench/load.sh, \
             which builds the baseline server (webhook/examples/fixed_answer.rs)"
        );
        std::process::exit(2);
    };
    Command::new(bin)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .arg("--answer")
        .arg(answer)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the baseline server (LOAD_BASELINE_BIN)")
}

/// POSTs `body` and returns the response body of a 200.
async fn send_for_body(sender: &mut Sender, path: &str, body: Bytes) -> Result<Bytes, String> {
    match exchange(sender, "POST", path, body).await? {
        (200, bytes) => Ok(bytes),
        (status, _) => Err(format!("HTTP {status}")),
    }
}

/// One round against the server at `addr`: throughput (closed loop), then latency at a fixed
/// rate (open loop).
fn measure(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    tls: &tokio_rustls::TlsConnector,
    body: &Bytes,
    path: &str,
    phases: Phases,
) -> Measured {
    let Phases {
        connections,
        duration,
        rate,
        rate_seconds,
    } = phases;
    // Throughput, closed loop: each connection keeps one review in flight.
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let elapsed = runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                let (tls, body, path, done, errors) = (
                    tls.clone(),
                    body.clone(),
                    path.to_string(),
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

    // Fixed rate, open loop, latency from the scheduled send time. A pacer thread (OS sleep:
    // ~0.1 ms precision, where tokio's timer wheel has 1 ms) releases each request at its
    // scheduled instant into a queue the connections take from; a request that waits in the
    // queue because every connection is busy counts its wait (no coordinated omission).
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
    let (latencies, service) = runtime.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                let (tls, body, path, errors, rx) = (
                    tls.clone(),
                    body.clone(),
                    path.to_string(),
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
    Measured {
        throughput,
        throughput_errors: errors.load(Ordering::Relaxed),
        latencies,
        service,
        rate_errors: rate_errors.load(Ordering::Relaxed),
    }
}
