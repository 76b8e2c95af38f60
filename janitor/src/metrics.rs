//! The janitor's Prometheus metrics (`helm_hooks_janitor_`), served on `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of a deletion: why, and whether it was only reported (`--dry-run`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeletionLabels {
    /// `hook-succeeded`, `hook-failed`, `orphan` or `expired-logs`.
    pub reason: String,
    /// `true` under `--dry-run`.
    pub dry_run: String,
}

/// Every metric the janitor exports.
#[derive(Default)]
pub struct Metrics {
    /// Objects deleted (or reported under `--dry-run`), by reason.
    pub deletions: Family<DeletionLabels, Counter>,
    /// Passes run, by result (`ok`, `error`).
    pub passes: Family<ResultLabels, Counter>,
    /// Objects stamped with their release.
    pub stamped: Counter,
    /// 1 while this process holds the lease.
    pub leader: Gauge,
}

/// Labels of a pass.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `ok` or `error`.
    pub result: String,
}

impl Metrics {
    /// Registers the metrics.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("helm_hooks_janitor");
        r.register(
            "deletions",
            "Objects deleted (or reported under --dry-run), by reason",
            self.deletions.clone(),
        );
        r.register("passes", "Passes run, by result", self.passes.clone());
        r.register(
            "stamped",
            "Objects stamped with their release",
            self.stamped.clone(),
        );
        r.register(
            "leader",
            "1 while this process holds the lease",
            self.leader.clone(),
        );
    }
}
