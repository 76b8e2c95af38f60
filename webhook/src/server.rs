//! HTTP routes and the TLS accept loop.
//!
//! `POST /mutate`, `POST /validate` (AdmissionReview v1), `GET /healthz`, `GET /readyz`,
//! `GET /metrics`. Bodies above [`MAX_BODY_BYTES`] get 413, on HTTP/1.1 with
//! `Connection: close`; the rest of the body is read and discarded, within bounds, so that the
//! client sees the 413 and not a connection or stream reset in the middle of its upload. Bodies
//! that are not an AdmissionReview get 400 with the reason as plain text. Values echoed from a
//! request are cut (see [`crate::truncate`]).
//!
//! The accept loop does each TLS handshake in its own task and serves HTTP/1.1 and HTTP/2, with
//! a deadline on every phase and a cap on open connections (see [`serve`], [`Limits`]); on
//! shutdown it stops accepting, lets requests in flight finish and closes idle connections.

use crate::admission::{self, Decision, Endpoint, Outcome, PatchEncoding, RequestMeta};
use crate::connections::{Admission, Slot, Tracker};
use crate::metrics::{
    DefaultLabels, EndpointLabels, Metrics, RequestLabels, ShedLabels, ViolationLabels,
};
use crate::policy_store::PolicyStore;
use crate::truncate::echo;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use helm_hooks::policy::Mode;
use http_body_util::BodyExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::time::Instant as TokioInstant;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

/// The largest request body accepted (the apiserver's own limit for an object is 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// After a 413, how much more of the body is read and discarded so that the request ends
/// normally; a client that sends more gets its connection (HTTP/1.1) or stream reset.
const MAX_DISCARDED_BYTES: u64 = 64 * 1024 * 1024;

/// How long, after a 413, the rest of the body may take to arrive.
const DISCARD_TIMEOUT: Duration = Duration::from_secs(10);

/// Timeouts on every phase of a connection, and the connection cap (`serve` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to finish the TLS handshake.
    pub handshake_timeout: Duration,
    /// How long an HTTP/1 connection may sit between requests or take to send a request's
    /// headers. hyper runs one timer for both, so it doubles as the keep-alive idle timeout: it
    /// must stay above the apiserver's client idle timeout (Go's transport: 90 s), or the
    /// webhook could close an idle connection just as the apiserver reuses it and fail that
    /// admission call.
    pub header_timeout: Duration,
    /// How long a request body may take to arrive once the headers are in (then 408).
    pub body_timeout: Duration,
    /// How long a connection may go without a request in flight or a new one (then it is shut
    /// down gracefully: HTTP/2 gets a GOAWAY). Same constraint as `header_timeout`.
    pub idle_timeout: Duration,
    /// The most connections open at once (see [`serve`]).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(120),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: 512,
        }
    }
}

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
    /// How long a request body may take to arrive ([`Limits::body_timeout`]).
    pub body_timeout: Duration,
    /// Audit-mode findings since the last summary line.
    pub audit: Arc<crate::audit_summary::AuditTally>,
}

/// The routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/mutate", post(mutate))
        .route("/validate", post(validate))
        .route("/admit", post(admit))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn mutate(state: State<Arc<AppState>>, request: Request) -> Response {
    let body = read_body(request, state.body_timeout).await;
    handle(Endpoint::Mutate, &state, body)
}

async fn validate(state: State<Arc<AppState>>, request: Request) -> Response {
    let body = read_body(request, state.body_timeout).await;
    handle(Endpoint::Validate, &state, body)
}

async fn admit(state: State<Arc<AppState>>, request: Request) -> Response {
    let body = read_body(request, state.body_timeout).await;
    handle(Endpoint::Admit, &state, body)
}

/// Why a request body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Above [`MAX_BODY_BYTES`] (by its Content-Length, or as it arrived).
    #[error("request body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// The body did not arrive within the body timeout.
    #[error("request body not received within {0:?}")]
    TimedOut(Duration),
    /// The connection failed while the body was read.
    #[error("cannot read the request body: {0}")]
    Read(String),
}

impl BodyError {
    fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
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

/// Reads the whole body, up to [`MAX_BODY_BYTES`] and within `timeout`. After a 413 the rest
/// of the body is discarded in the background (see [`discard`]).
async fn read_body(request: Request, timeout: Duration) -> Result<Bytes, BodyFailure> {
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
        tokio::time::timeout(timeout, collect_limited(&mut body))
            .await
            .unwrap_or(Err(BodyError::TimedOut(timeout)))
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
    if !state.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response();
    }
    match state.policy.readiness() {
        Ok(None) => "ok\n".into_response(),
        Ok(Some(note)) => format!("ok: {note}\n").into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
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

/// A non-AdmissionReview answer (400, 408, 413) with its reason as text (built from values
/// already cut, see [`crate::truncate`]); `close` adds `Connection: close` (HTTP/1.x only).
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
    let policy = state
        .policy
        .for_namespace(request.namespace.as_deref().filter(|n| !n.is_empty()));
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
    for v in outcome.violations.iter().filter(|v| v.mode == Mode::Audit) {
        state.audit.add(v.rule.as_str());
    }
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

/// The tracing target of decision lines: `RUST_LOG=info,helm_hooks_webhook::review=debug`
/// also logs the reviews that changed nothing.
pub const REVIEW_TARGET: &str = "helm_hooks_webhook::review";

/// Logs the decision: one line at INFO when the review changed something (patched, warned,
/// denied, invalid), with the enforce- and warn-mode findings (rule, mode, field) in it; at
/// DEBUG when it changed nothing (allowed, skipped). Audit-mode findings are counted for the
/// periodic summary instead ([`crate::audit_summary`]); each finding also gets a line of its
/// own at DEBUG. Never logs object contents: only kind,
/// namespace, name, and the rule, mode and field path of findings (the message may quote
/// values from the object). Every value from the request is cut (see [`crate::truncate`]).
fn log(endpoint: Endpoint, meta: &RequestMeta, outcome: &Outcome, started: Instant) {
    let micros = started.elapsed().as_micros() as u64;
    let findings: Vec<String> = outcome
        .violations
        .iter()
        .filter(|v| v.mode != Mode::Audit)
        .map(|v| format!("{}({}) {}", v.rule.as_str(), v.mode.as_str(), v.field))
        .collect();
    let findings = findings.join("; ");
    // Every finding, audit ones included, one line each at DEBUG (what tests and debugging
    // compare with `kubectl hooks lint`).
    for v in &outcome.violations {
        debug!(
            target: REVIEW_TARGET,
            endpoint = endpoint.as_str(),
            uid = %echo(&meta.uid),
            kind = %echo(&meta.kind),
            namespace = %echo(&meta.namespace),
            name = %echo(&meta.name),
            rule = v.rule.as_str(),
            mode = v.mode.as_str(),
            field = %echo(&v.field),
            dry_run = meta.dry_run,
            "policy violation"
        );
    }
    macro_rules! decision {
        ($level:ident) => {
            $level!(
                target: REVIEW_TARGET,
                endpoint = endpoint.as_str(),
                uid = %echo(&meta.uid),
                operation = %echo(&meta.operation),
                kind = %echo(&meta.kind),
                namespace = %echo(&meta.namespace),
                name = %echo(&meta.name),
                decision = outcome.decision.as_str(),
                skipped = outcome.skipped.unwrap_or(""),
                defaults = outcome.applied_defaults.len(),
                findings = %echo(&findings),
                dry_run = meta.dry_run,
                micros,
                "admission review"
            )
        };
    }
    let changed = outcome.skipped.is_none() && outcome.decision != Decision::Allowed;
    if changed {
        decision!(info);
    } else {
        decision!(debug);
    }
}

/// After a connection is shut down for being idle, how long it may take to close (a client
/// that does not read its last response); then it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// How often the accept loop may log the same kind of trouble (accept errors, shed
/// connections); the lines in between are counted and the count is logged with the next one.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The longest pause after a failed accept (it doubles from 10 ms while accepts keep failing).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// A log line allowed at most once per [`LOG_INTERVAL`].
#[derive(Debug, Default)]
struct Throttle {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// `Some(lines suppressed since the last one)` when a line may be logged now.
    fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|last| now - last < LOG_INTERVAL) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Whether an accept error means the process or the system is out of file descriptors
/// (EMFILE, ENFILE: the same numbers on Linux and the BSDs).
fn out_of_files(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves, then drains requests in
/// flight for at most `drain_timeout`. Returns whether every connection finished in time.
///
/// Every phase of a connection has a deadline from `limits`: the TLS handshake, the headers
/// of each HTTP/1.1 request (and the wait for the next one), each request body, and the time
/// without any request. The protocol is the one negotiated by ALPN (`h2`, else HTTP/1.1), so no
/// read happens outside those deadlines. At most `limits.max_connections` are open at once
/// (see [`crate::connections`]). When accepting fails for lack of file descriptors, the
/// oldest connection without a request is closed and the loop pauses (10 ms, doubling to 1 s)
/// instead of spinning; accept errors are logged at most once per 10 s.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
    drain_timeout: Duration,
) -> bool {
    let tracker = Tracker::new(limits.max_connections, metrics.connections_open.clone());
    let mut h1 = auto::Builder::new(TokioExecutor::new()).http1_only();
    // A client that opens a connection and never finishes its headers is cut off.
    h1.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut h2 = auto::Builder::new(TokioExecutor::new()).http2_only();
    h2.http2().timer(TokioTimer::new());
    let builders = Arc::new((h1, h2));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut accept_errors = Throttle::default();
    let mut displaced_log = Throttle::default();
    let mut refused_log = Throttle::default();
    let mut backoff = Duration::ZERO;
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    let freed = out_of_files(&e) && tracker.displace_one();
                    if freed {
                        metrics.shed(ShedLabels::DISPLACED);
                    }
                    if let Some(suppressed) = accept_errors.allow() {
                        warn!(error = %e, suppressed, freed, "accept failed");
                    }
                    backoff = (backoff * 2).clamp(Duration::from_millis(10), MAX_ACCEPT_BACKOFF);
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        backoff = Duration::ZERO;
        let slot = match tracker.admit() {
            Admission::Admitted(slot) => slot,
            Admission::Displaced(slot) => {
                metrics.shed(ShedLabels::DISPLACED);
                if let Some(suppressed) = displaced_log.allow() {
                    warn!(
                        max_connections = limits.max_connections,
                        suppressed,
                        "connection cap reached: closing the oldest connection without a request"
                    );
                }
                slot
            }
            Admission::Refused => {
                metrics.shed(ShedLabels::REFUSED);
                if let Some(suppressed) = refused_log.allow() {
                    warn!(
                        max_connections = limits.max_connections,
                        suppressed, "connection cap reached: refusing a new connection"
                    );
                }
                drop(tcp);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(
            tcp,
            peer,
            acceptor.clone(),
            app.clone(),
            builders.clone(),
            limits,
            slot,
            stopping.clone(),
        ));
    }
    drop(listener);
    info!(
        connections = tracker.open(),
        "shutting down: draining requests in flight"
    );
    let _ = stop.send(true);
    let drained = tokio::time::timeout(drain_timeout, async {
        while tracker.open() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    match drained {
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

/// Serves one connection: TLS handshake, then HTTP/1.1 or HTTP/2 by ALPN, until the client
/// closes it, it is displaced, it stays idle past `limits.idle_timeout` or the server stops.
#[allow(clippy::too_many_arguments)] // one call site; the pieces of the accept loop
async fn connection(
    tcp: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    builders: Arc<(auto::Builder<TokioExecutor>, auto::Builder<TokioExecutor>)>,
    limits: Limits,
    slot: Slot,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp));
    let tls = tokio::select! {
        tls = handshake => match tls {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        () = slot.displaced() => {
            debug!(%peer, "displaced during the TLS handshake");
            return;
        }
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(&b"h2"[..]);
    let builder = if h2 { &builders.1 } else { &builders.0 };
    let requests = slot.requests();
    let service = hyper::service::service_fn(move |request| {
        let in_flight = requests.started();
        let app = app.clone();
        async move {
            let response = tower::ServiceExt::oneshot(app, request).await;
            drop(in_flight);
            response
        }
    });
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    // Set once the connection was asked to shut down gracefully: until when it may take.
    let mut closing: Option<TokioInstant> = None;
    let far = || TokioInstant::now() + Duration::from_secs(3600);
    loop {
        let deadline = match closing {
            Some(deadline) => deadline,
            None => slot
                .idle_deadline(limits.idle_timeout)
                // A request in flight: look again later (its body has its own deadline).
                .unwrap_or_else(|| TokioInstant::now() + limits.idle_timeout),
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = slot.displaced() => {
                debug!(%peer, "displaced before its first request");
                return;
            }
            // A change, or the accept loop gone: either way the server is stopping.
            _ = stopping.changed(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                // Bounded by the server's drain timeout.
                closing = Some(far());
            }
            () = tokio::time::sleep_until(deadline) => {
                if closing.is_some() {
                    debug!(%peer, "connection did not close in time after going idle");
                    return;
                }
                if slot
                    .idle_deadline(limits.idle_timeout)
                    .is_some_and(|d| d <= TokioInstant::now())
                {
                    if !slot.established() {
                        // Nothing to finish (an h2 client that never sent its preface).
                        debug!(%peer, "no request within the idle timeout");
                        return;
                    }
                    debug!(%peer, "idle: shutting the connection down");
                    conn.as_mut().graceful_shutdown();
                    closing = Some(TokioInstant::now() + CLOSE_GRACE);
                }
            }
        }
    }
}
