//! HTTP routes and the TLS accept loop.
//!
//! `POST /mutate`, `POST /validate` (AdmissionReview v1), `GET /healthz`, `GET /readyz`,
//! `GET /metrics`. Bodies above [`MAX_BODY_BYTES`] get 413; bodies that are not an
//! AdmissionReview get 400 with the reason as plain text. The accept loop does each TLS
//! handshake in its own task and serves HTTP/1.1 and HTTP/2; on shutdown it stops accepting,
//! lets requests in flight finish and closes idle connections.

use crate::admission::{self, Endpoint, Outcome, PatchEncoding, RequestMeta};
use crate::metrics::{DefaultLabels, EndpointLabels, Metrics, RequestLabels, ViolationLabels};
use crate::policy_store::PolicyStore;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

/// The largest request body accepted (the apiserver's own limit for an object is 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an HTTP/1 connection may sit between requests or take to send a request's headers.
/// hyper runs one timer for both, so it doubles as the keep-alive idle timeout: it must stay
/// above the apiserver's client idle timeout (Go's transport: 90 s), or the webhook could
/// close an idle connection just as the apiserver reuses it and fail that admission call.
const HEADER_TIMEOUT: Duration = Duration::from_secs(120);

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The policy in force.
    pub policy: Arc<PolicyStore>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// True once TLS and policy are loaded and the listener is bound; false again while
    /// draining on shutdown.
    pub ready: AtomicBool,
    /// Encoding of `patch` in responses.
    pub patch_encoding: PatchEncoding,
}

/// The routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/mutate", post(mutate))
        .route("/validate", post(validate))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn mutate(state: State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    handle(Endpoint::Mutate, &state, body)
}

async fn validate(state: State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    handle(Endpoint::Validate, &state, body)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        "ok\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

/// A non-AdmissionReview answer (400 or 413) with its reason as text.
fn reject(
    endpoint: Endpoint,
    metrics: &Metrics,
    started: Instant,
    status: StatusCode,
    reason: String,
) -> Response {
    metrics
        .requests
        .get_or_create(&RequestLabels {
            endpoint: endpoint.as_str(),
            operation: "",
            kind: "",
            decision: "invalid",
        })
        .inc();
    observe(metrics, endpoint, started);
    warn!(
        endpoint = endpoint.as_str(),
        status = status.as_u16(),
        reason = %reason,
        "rejected request"
    );
    (status, format!("{reason}\n")).into_response()
}

fn observe(metrics: &Metrics, endpoint: Endpoint, started: Instant) {
    metrics
        .duration
        .get_or_create(&EndpointLabels {
            endpoint: endpoint.as_str(),
        })
        .observe(started.elapsed().as_secs_f64());
}

fn handle(endpoint: Endpoint, state: &AppState, body: Result<Bytes, BytesRejection>) -> Response {
    let started = Instant::now();
    let metrics = &state.metrics;
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            return reject(endpoint, metrics, started, status, rejection.body_text());
        }
    };
    let request = match admission::parse_review(&body) {
        Ok(request) => request,
        Err(e) => {
            return reject(
                endpoint,
                metrics,
                started,
                StatusCode::BAD_REQUEST,
                e.to_string(),
            );
        }
    };
    let policy = state.policy.current();
    let outcome = admission::review(endpoint, &policy, &request, state.patch_encoding);
    let meta = request.meta();
    let body = match serde_json::to_vec(&outcome.review) {
        Ok(body) => body,
        Err(e) => {
            // Unreachable in practice (plain structs of strings); answer rather than panic.
            return reject(
                endpoint,
                metrics,
                started,
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode the response: {e}"),
            );
        }
    };
    record(endpoint, metrics, &meta, &outcome);
    observe(metrics, endpoint, started);
    log(endpoint, &meta, &outcome, started);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn record(endpoint: Endpoint, metrics: &Metrics, meta: &RequestMeta, outcome: &Outcome) {
    metrics
        .requests
        .get_or_create(&RequestLabels {
            endpoint: endpoint.as_str(),
            operation: crate::metrics::operation_label(&meta.operation),
            kind: crate::metrics::kind_label(&meta.kind),
            decision: outcome.decision.as_str(),
        })
        .inc();
    for v in &outcome.violations {
        metrics
            .violations
            .get_or_create(&ViolationLabels {
                rule: v.rule.as_str(),
                mode: v.mode.as_str(),
            })
            .inc();
    }
    for d in &outcome.applied_defaults {
        metrics
            .defaults
            .get_or_create(&DefaultLabels {
                default: d.as_str(),
            })
            .inc();
    }
}

/// Logs the decision. Never logs object contents: only kind, namespace, name, and for
/// violations the rule, mode and field path (the message may quote values from the object).
fn log(endpoint: Endpoint, meta: &RequestMeta, outcome: &Outcome, started: Instant) {
    let micros = started.elapsed().as_micros() as u64;
    for v in &outcome.violations {
        info!(
            endpoint = endpoint.as_str(),
            uid = %meta.uid,
            kind = %meta.kind,
            namespace = %meta.namespace,
            name = %meta.name,
            rule = v.rule.as_str(),
            mode = v.mode.as_str(),
            field = %v.field,
            dry_run = meta.dry_run,
            "policy violation"
        );
    }
    macro_rules! decision {
        ($level:ident) => {
            $level!(
                endpoint = endpoint.as_str(),
                uid = %meta.uid,
                operation = %meta.operation,
                kind = %meta.kind,
                namespace = %meta.namespace,
                name = %meta.name,
                decision = outcome.decision.as_str(),
                skipped = outcome.skipped.unwrap_or(""),
                defaults = outcome.applied_defaults.len(),
                dry_run = meta.dry_run,
                micros,
                "admission review"
            )
        };
    }
    if outcome.skipped.is_some() {
        decision!(debug);
    } else {
        decision!(info);
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves, then drains requests in
/// flight for at most `drain_timeout`. Returns whether every connection finished in time.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    shutdown: impl Future<Output = ()>,
    drain_timeout: Duration,
) -> bool {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A client that opens a connection and never finishes its headers is cut off eventually.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: back off a little instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    info!(
        connections = graceful.count(),
        "shutting down: draining requests in flight"
    );
    match tokio::time::timeout(drain_timeout, graceful.shutdown()).await {
        Ok(()) => true,
        Err(_) => {
            warn!(
                timeout_seconds = drain_timeout.as_secs_f64(),
                "drain timed out"
            );
            false
        }
    }
}
