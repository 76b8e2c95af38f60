//! Hot reload: polls the policy file and the certificate/key files every interval and swaps
//! in what changed.
//!
//! Polling file contents (not inotify) is deliberate: it follows the symlink swaps that
//! kubelet secret volumes and cert-manager use, works on every filesystem, and costs a few
//! small reads every couple of seconds. A change that does not load is refused with one
//! error log line and a `failure` count; the previous policy or certificate stays in force.

use crate::metrics::Metrics;
use crate::policy_store::PolicyStore;
use crate::tls::CertStore;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info};

/// Checks once for changes, logging and counting the result.
pub fn check_once(policy: &PolicyStore, certs: &CertStore, metrics: &Metrics) {
    if let Some(path) = policy.path() {
        match policy.reload_if_changed() {
            Ok(false) => {}
            Ok(true) => {
                metrics
                    .policy_reloads
                    .get_or_create(&Metrics::result(true))
                    .inc();
                info!(path = %path.display(), "policy reloaded");
            }
            Err(e) => {
                metrics
                    .policy_reloads
                    .get_or_create(&Metrics::result(false))
                    .inc();
                error!(error = %e, "policy reload refused; the previous policy stays in force");
            }
        }
    }
    match certs.reload_if_changed() {
        Ok(None) => {}
        Ok(Some(cert)) => {
            metrics
                .certificate_reloads
                .get_or_create(&Metrics::result(true))
                .inc();
            metrics.set_certificate_not_after(cert.not_after);
            info!(not_after = cert.not_after, "serving certificate reloaded");
        }
        Err(e) => {
            metrics
                .certificate_reloads
                .get_or_create(&Metrics::result(false))
                .inc();
            error!(error = %e, "certificate reload refused; the previous certificate stays in use");
        }
    }
}

/// Polls every `interval` until the task is dropped or aborted.
pub async fn watch(
    policy: Arc<PolicyStore>,
    certs: Arc<CertStore>,
    metrics: Arc<Metrics>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate: everything was just loaded
    loop {
        ticker.tick().await;
        let (p, c, m) = (policy.clone(), certs.clone(), metrics.clone());
        // File reads are blocking; keep them off the request workers.
        let _ = tokio::task::spawn_blocking(move || check_once(&p, &c, &m)).await;
    }
}
