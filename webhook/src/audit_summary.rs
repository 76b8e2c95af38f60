//! Audit-mode findings are not logged per object (a busy cluster would log one line per hook
//! for the default policy's `resources` rule): they are counted here, and in the metrics, and
//! one summary line per interval says how many each rule found.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tracing::info;

/// Audit-mode findings per rule since the last summary.
#[derive(Debug, Default)]
pub struct AuditTally {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl AuditTally {
    /// Counts one finding of `rule`.
    pub fn add(&self, rule: &'static str) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(rule).or_default() += 1;
        }
    }

    /// The counts so far, reset.
    pub fn take(&self) -> BTreeMap<&'static str, u64> {
        self.counts
            .lock()
            .map(|mut counts| std::mem::take(&mut *counts))
            .unwrap_or_default()
    }
}

/// `rule=count` pairs, comma-separated, in rule order.
pub fn format_counts(counts: &BTreeMap<&'static str, u64>) -> String {
    counts
        .iter()
        .map(|(rule, n)| format!("{rule}={n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Logs a summary every `interval` when something was found (forever; abort the task to stop).
pub async fn run(tally: std::sync::Arc<AuditTally>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        log(&tally, interval);
    }
}

/// Logs what `tally` counted, if anything (also called once at shutdown).
pub fn log(tally: &AuditTally, interval: Duration) {
    let counts = tally.take();
    if counts.is_empty() {
        return;
    }
    info!(
        findings = counts.values().sum::<u64>(),
        rules = %format_counts(&counts),
        interval_seconds = interval.as_secs_f64(),
        "audit-mode findings (not enforced; per rule in helm_hooks_webhook_violations_total)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_rule_and_resets() {
        let tally = AuditTally::default();
        tally.add("resources");
        tally.add("resources");
        tally.add("image-tag");
        assert_eq!(format_counts(&tally.take()), "image-tag=1,resources=2");
        assert!(tally.take().is_empty());
    }
}
