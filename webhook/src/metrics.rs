//! Prometheus metrics (`GET /metrics`, text exposition format), all prefixed `helm_hooks_webhook_`.
//!
//! | metric | labels |
//! |---|---|
//! | `requests_total` | endpoint, decision, operation ([`operation_label`]), kind ([`kind_label`])|
//! | `request_duration_seconds` (histogram) | endpoint |
//! | `violations_total` | rule, mode (counted on `/validate` only, once per admission) |
//! | `defaults_applied_total` | default (per patch returned by `/mutate`) |
//! | `policy_reloads_total`, `certificate_reloads_total` | result = success, failure |
//! | `certificate_expiry_seconds` (gauge) | — seconds until the serving certificate's notAfter |
//! | `connections` (gauge) | — connections open now |
//! | `connections_shed_total` | action = displaced, refused (see [`ShedLabels`]) |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Labels of `requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `mutate` or `validate`.
    pub endpoint: &'static str,
    /// [`operation_label`] of the request (empty when the review could not be parsed).
    pub operation: &'static str,
    /// [`kind_label`] of the object (empty when the review could not be parsed).
    pub kind: &'static str,
    /// allowed, patched, warned, denied or invalid.
    pub decision: &'static str,
}

/// The label for anything outside a closed set of label values.
pub const OTHER: &str = "other";

/// The operations the apiserver sends; anything else is counted as [`OTHER`].
const OPERATIONS: &[&str] = &["CREATE", "UPDATE", "DELETE", "CONNECT"];

/// Kinds Helm charts commonly make hooks of; anything else is counted as [`OTHER`].
const KINDS: &[&str] = &[
    "Job",
    "Pod",
    "CronJob",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ConfigMap",
    "Secret",
    "Service",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolumeClaim",
    "Namespace",
    "CustomResourceDefinition",
    "NetworkPolicy",
    "Ingress",
];

fn closed(set: &'static [&'static str], value: &str) -> &'static str {
    set.iter()
        .find(|known| **known == value)
        .copied()
        .unwrap_or(OTHER)
}

/// The `operation` label of a request: one of CREATE, UPDATE, DELETE, CONNECT, or `other`.
/// Labels come from closed sets so that requests cannot grow `/metrics` without bound.
pub fn operation_label(operation: &str) -> &'static str {
    closed(OPERATIONS, operation)
}

/// The `kind` label of a request: a kind Helm hooks commonly are (Job, Pod, ConfigMap, …), or
/// `other`.
pub fn kind_label(kind: &str) -> &'static str {
    closed(KINDS, kind)
}

/// Labels of `request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// `mutate` or `validate`.
    pub endpoint: &'static str,
}

/// Labels of `violations_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ViolationLabels {
    /// Rule id.
    pub rule: &'static str,
    /// enforce, warn or audit.
    pub mode: &'static str,
}

/// Labels of `defaults_applied_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DefaultLabels {
    /// [`helm_hooks::policy::AppliedDefault::as_str`].
    pub default: &'static str,
}

/// Labels of the reload counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// success or failure.
    pub result: &'static str,
}

/// Labels of `connections_shed_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShedLabels {
    /// displaced or refused.
    pub action: &'static str,
}

impl ShedLabels {
    /// A connection without a request was closed to make room for a new one.
    pub const DISPLACED: ShedLabels = ShedLabels {
        action: "displaced",
    };
    /// A new connection was closed at once: the cap was reached and every connection had sent
    /// a request.
    pub const REFUSED: ShedLabels = ShedLabels { action: "refused" };
}

/// Every metric of the webhook, plus the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    /// `requests_total`.
    pub requests: Family<RequestLabels, Counter>,
    /// `request_duration_seconds`.
    pub duration: Family<EndpointLabels, Histogram>,
    /// `violations_total`.
    pub violations: Family<ViolationLabels, Counter>,
    /// `defaults_applied_total`.
    pub defaults: Family<DefaultLabels, Counter>,
    /// `policy_reloads_total`.
    pub policy_reloads: Family<ResultLabels, Counter>,
    /// `certificate_reloads_total`.
    pub certificate_reloads: Family<ResultLabels, Counter>,
    certificate_expiry: Gauge<f64, AtomicU64>,
    /// `connections`.
    pub connections_open: Gauge,
    /// `connections_shed_total`.
    pub connections_shed: Family<ShedLabels, Counter>,
    /// The serving certificate's notAfter, Unix seconds (`i64::MIN` until one is loaded).
    not_after: AtomicI64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("helm_hooks_webhook");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Admission reviews answered, by endpoint, operation, kind and decision",
            requests.clone(),
        );
        let duration = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            // 25 µs … ~0.4 s
            Histogram::new(exponential_buckets(0.000_025, 2.0, 15))
        });
        registry.register(
            "request_duration_seconds",
            "Time to answer an admission review, from body received to response built",
            duration.clone(),
        );
        let violations = Family::<ViolationLabels, Counter>::default();
        registry.register(
            "violations",
            "Policy violations found by /validate, by rule and mode",
            violations.clone(),
        );
        let defaults = Family::<DefaultLabels, Counter>::default();
        registry.register(
            "defaults_applied",
            "Defaults injected by /mutate patches, by default",
            defaults.clone(),
        );
        let policy_reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "policy_reloads",
            "Policy file reloads after a change, by result",
            policy_reloads.clone(),
        );
        let certificate_reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "certificate_reloads",
            "Serving certificate reloads after a change, by result",
            certificate_reloads.clone(),
        );
        let certificate_expiry = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "certificate_expiry_seconds",
            "Seconds until the serving certificate expires (negative once expired)",
            certificate_expiry.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections",
            "Connections open now",
            connections_open.clone(),
        );
        let connections_shed = Family::<ShedLabels, Counter>::default();
        registry.register(
            "connections_shed",
            "Connections closed at the connection cap, by action",
            connections_shed.clone(),
        );
        Metrics {
            registry,
            connections_open,
            connections_shed,
            requests,
            duration,
            violations,
            defaults,
            policy_reloads,
            certificate_reloads,
            certificate_expiry,
            not_after: AtomicI64::new(i64::MIN),
        }
    }

    /// Records the serving certificate's notAfter (Unix seconds).
    pub fn set_certificate_not_after(&self, unix_seconds: i64) {
        self.not_after.store(unix_seconds, Ordering::Relaxed);
    }

    /// Counts a connection shed at the cap.
    pub fn shed(&self, labels: ShedLabels) {
        self.connections_shed.get_or_create(&labels).inc();
    }

    /// A reload counter's labels.
    pub fn result(ok: bool) -> ResultLabels {
        ResultLabels {
            result: if ok { "success" } else { "failure" },
        }
    }

    /// The text exposition of every metric (OpenMetrics text, which Prometheus scrapes).
    pub fn encode(&self) -> String {
        let not_after = self.not_after.load(Ordering::Relaxed);
        if not_after != i64::MIN {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            self.certificate_expiry.set(not_after as f64 - now);
        }
        let mut out = String::with_capacity(4096);
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_closed_sets() {
        assert_eq!(operation_label("CREATE"), "CREATE");
        assert_eq!(operation_label("create"), OTHER);
        assert_eq!(operation_label(""), OTHER);
        assert_eq!(kind_label("Job"), "Job");
        assert_eq!(kind_label(&"k".repeat(100_000)), OTHER);
    }
}
