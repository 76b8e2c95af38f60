//! The baseline of `webhook/bench/load.sh`: the webhook's own TLS and HTTP stack (the same
//! certificate store, rustls configuration, connection handling, limits, runtime and allocator
//! as `helm-hooks-webhook serve`) answering every `POST /mutate` and `POST /validate` with a
//! fixed body, without decoding the review or running the policy.
//!
//! What the load test measures against it is therefore the cost of the webhook's own work per
//! review, as a ratio that survives a noisy machine: both servers run in the same run, on the
//! same cores, under the same load generator.
//!
//! ```text
//! fixed_answer --listen 127.0.0.1:PORT --tls-cert tls.crt --tls-key tls.key --answer body.json
//! ```
#![forbid(unsafe_code)]

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use helm_hooks_webhook::{metrics::Metrics, server, tls::CertStore};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Same allocator as the webhook binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Validated command line.
struct Options {
    listen: std::net::SocketAddr,
    tls_cert: PathBuf,
    tls_key: PathBuf,
    answer: PathBuf,
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let (mut listen, mut tls_cert, mut tls_key, mut answer) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => {
                listen = Some(
                    value
                        .parse()
                        .map_err(|e| format!("--listen {value}: {e}"))?,
                )
            }
            "--tls-cert" => tls_cert = Some(PathBuf::from(value)),
            "--tls-key" => tls_key = Some(PathBuf::from(value)),
            "--answer" => answer = Some(PathBuf::from(value)),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let missing = |name: &str| format!("{name} is required");
    Ok(Options {
        listen: listen.ok_or_else(|| missing("--listen"))?,
        tls_cert: tls_cert.ok_or_else(|| missing("--tls-cert"))?,
        tls_key: tls_key.ok_or_else(|| missing("--tls-key"))?,
        answer: answer.ok_or_else(|| missing("--answer"))?,
    })
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("fixed_answer: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fixed_answer: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixed_answer: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(options: Options) -> anyhow::Result<()> {
    let answer = Bytes::from(std::fs::read(&options.answer)?);
    let certs = Arc::new(CertStore::load(&options.tls_cert, &options.tls_key)?);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(certs.server_config()?));
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    // The body is read to the end, as the webhook does, and dropped undecoded.
    let fixed = move |_body: Bytes| {
        let answer = answer.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], answer) }
    };
    let app = Router::new()
        .route("/mutate", post(fixed.clone()))
        .route("/validate", post(fixed))
        .route("/readyz", get(|| async { StatusCode::OK.into_response() }));
    server::serve(
        listener,
        acceptor,
        app,
        server::Limits::default(),
        Arc::new(Metrics::new()),
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
        Duration::from_secs(1),
    )
    .await;
    Ok(())
}
