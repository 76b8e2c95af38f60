//! HTTP routes and the TLS accept loop.
//!
//! `POST /mutate`, `POST /validate` (AdmissionReview v1), `GET /healthz`, `GET /readyz`,
//! `GET /metrics`. Bodies above [`MAX_BODY_BYTES`] get 413, on HTTP/1.1 with
//! `Connection: close`; the rest of the body is read and discarded, within bounds, so that the
//! client sees the 413 and not a connection or stream reset in the middle of its upload. Bodies
//! that are not an AdmissionReview get 400 with the reason as plain text. Values echoed from a request are cut (see
//! [`crate::truncate`]). The accept loop does each TLS
//! handshake in its own task and serves HTTP/1.1 and HTTP/2; on shutdown it stops accepting,
//! lets requests in flight finish and closes idle connections.

use crate::admission::{self, Endpoint, Outcome, PatchEncoding, RequestMeta};
use crate::metrics::{DefaultLabels, EndpointLabels, Metrics, RequestLabels, ViolationLabels};
use crate::policy_store::PolicyStore;
use crate::truncate::Truncated;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt as _;
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

/// After a 413, how much more of the body is read and discarded so that the request ends
/// normally; a client that sends more gets its connection (HTTP/1.1) or stream reset.
const MAX_DISCARDED_BYTES: u64 = 64 * 1024 * 1024;

/// How long, after a 413, the rest of the body may take to arrive.
const DISCARD_TIMEOUT: Duration = Duration::from_secs(10);

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
        .with_state(state)
}

async fn mutate(state: State<Arc<AppState>>, request: Request) -> Response {
    let body = read_body(request).await;
    handle(Endpoint::Mutate, &state, body)
}

async fn validate(state: State<Arc<AppState>>, request: Request) -> Response {
    let body = read_body(request).await;
    handle(Endpoint::Validate, &state, body)
}

/// Why a request body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Above [`MAX_BODY_BYTES`] (by its Content-Length, or as it arrived).
    #[error("request body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// The connection failed while the body was read.
    #[error("cannot read the request body: {0}")]
    Read(String),
}

impl BodyError {
    fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Read(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// A request body that failed to read, with what the answer needs to know.
#[derive(Debug)]
pub struct BodyFailure {
    error: BodyError,
    /// HTTP/1.x: answer with `Connection: close` (the connection cannot carry another request).
    close: bool,
}

/// Reads the whole body, up to [`MAX_BODY_BYTES`]. After a 413 the rest of the body is
/// discarded in the background (see [`discard`]).
async fn read_body(request: Request) -> Result<Bytes, BodyFailure> {
    let version = request.version();
    let fail = |error| BodyFailure {
        error,
        close: version < Version::HTTP_2,
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = request.into_body();
    let result = if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        Err(BodyError::TooLarge)
    } else {
        collect_limited(&mut body).await
    };
    if matches!(result, Err(BodyError::TooLarge)) {
        tokio::spawn(discard(body));
    }
    result.map_err(fail)
}

async fn collect_limited(body: &mut Body) -> Result<Bytes, BodyError> {
    let mut buffer = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > MAX_BODY_BYTES {
                return Err(BodyError::TooLarge);
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer.into())
}

/// Reads and drops what is left of a request body after a 413, so that the client's upload
/// ends normally: clients report a reset that arrives during their upload (a TCP reset on
/// HTTP/1.1, an RST_STREAM, even `NO_ERROR`, on HTTP/2) as an error instead of the response.
/// Bounded by [`MAX_DISCARDED_BYTES`] and [`DISCARD_TIMEOUT`]; past either the connection or
/// stream is reset.
async fn discard(mut body: Body) {
    let _ = tokio::time::timeout(DISCARD_TIMEOUT, async move {
        let mut discarded = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                discarded += data.len() as u64;
                if discarded > MAX_DISCARDED_BYTES {
                    break;
                }
            }
        }
    })
    .await;
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

/// A non-AdmissionReview answer (400 or 413) with its reason as text (built from values
/// already cut, see [`crate::truncate`]); `close` adds
/// `Connection: close` (HTTP/1.x only).
fn reject(
    endpoint: Endpoint,
    metrics: &Metrics,
    started: Instant,
    status: StatusCode,
    reason: String,
    close: bool,
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
    let mut response = (status, format!("{reason}\n")).into_response();
    if close {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn observe(metrics: &Metrics, endpoint: Endpoint, started: Instant) {
    metrics
        .duration
        .get_or_create(&EndpointLabels {
            endpoint: endpoint.as_str(),
        })
        .observe(started.elapsed().as_secs_f64());
}

fn handle(endpoint: Endpoint, state: &AppState, body: Result<Bytes, BodyFailure>) -> Response {
    let started = Instant::now();
    let metrics = &state.metrics;
    let body = match body {
        Ok(body) => body,
        Err(failure) => {
            let status = failure.error.status();
            let reason = failure.error.to_string();
            return reject(endpoint, metrics, started, status, reason, failure.close);
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
                false,
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
                false,
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
/// Every value from the request is cut (see [`crate::truncate`]).
fn log(endpoint: Endpoint, meta: &RequestMeta, outcome: &Outcome, started: Instant) {
    let micros = started.elapsed().as_micros() as u64;
    for v in &outcome.violations {
        info!(
            endpoint = endpoint.as_str(),
            uid = %Truncated(&meta.uid),
            kind = %Truncated(&meta.kind),
            namespace = %Truncated(&meta.namespace),
            name = %Truncated(&meta.name),
            rule = v.rule.as_str(),
            mode = v.mode.as_str(),
            field = %Truncated(&v.field),
            dry_run = meta.dry_run,
            "policy violation"
        );
    }
    macro_rules! decision {
        ($level:ident) => {
            $level!(
                endpoint = endpoint.as_str(),
                uid = %Truncated(&meta.uid),
                operation = %Truncated(&meta.operation),
                kind = %Truncated(&meta.kind),
                namespace = %Truncated(&meta.namespace),
                name = %Truncated(&meta.name),
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
