//! The baseline of `webhook/bench/load.sh`: the webhook's own TLS and HTTP stack (the same
//! certificate store, rustls configuration, connection handling, limits, runtime and allocator
//! as `helm-hooks-webhook serve`) answering every `POST /mutate`, `/validate` and `/admit` with
//! a fixed body, without decoding the review or running the policy.
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

/// The command line.
#[derive(Debug, clap::Parser)]
struct Options {
    /// Address to listen on, e.g. 127.0.0.1:8443.
    #[arg(long)]
    listen: std::net::SocketAddr,
    /// Serving certificate (PEM).
    #[arg(long)]
    tls_cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long)]
    tls_key: PathBuf,
    /// The body every review is answered with.
    #[arg(long)]
    answer: PathBuf,
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
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
    let app = ["/mutate", "/validate", "/admit"]
        .into_iter()
        .fold(Router::new(), |app, path| {
            app.route(path, post(fixed.clone()))
        })
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
