//! Hot reload: polls the policy file and the certificate/key files every interval and swaps
//! in what changed.
//!
//! Polling file contents (not inotify) is deliberate: it follows the symlink swaps that
//! kubelet secret volumes and cert-manager use, works on every filesystem, and costs a few
//! small reads every couple of seconds. A change that does not load is refused with one
//! error log line and a `failure` count; the previous policy or certificate stays in force.
//! A serving certificate that expires within [`EXPIRY_WARNING`] is warned about once.

use crate::metrics::Metrics;
use crate::policy_store::PolicyStore;
use crate::tls::{self, CertStore, LoadedCert};
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info, warn};

/// How long before its notAfter the serving certificate is warned about.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(7 * 24 * 3600);

/// The last error of each kind, so a file that stays unreadable is reported once, not on
/// every poll (contents that do not parse are already reported once by the stores).
#[derive(Debug, Default)]
pub struct LastErrors {
    policy: Option<String>,
    certificate: Option<String>,
    /// The notAfter of the certificate last warned about as expiring soon.
    expiry_warned: Option<i64>,
}

/// Warns once per certificate when `cert` expires within [`EXPIRY_WARNING`] of `now`.
pub fn warn_if_expiring(cert: &LoadedCert, now: i64, last: &mut LastErrors) {
    let left = cert.not_after - now;
    if left >= EXPIRY_WARNING.as_secs() as i64 || last.expiry_warned == Some(cert.not_after) {
        return;
    }
    last.expiry_warned = Some(cert.not_after);
    warn!(
        not_after = tls::rfc3339(cert.not_after),
        days_left = left as f64 / 86_400.0,
        "serving certificate expires soon"
    );
}

/// Whether `error` is one to report: present and unlike the last one (which it replaces).
fn is_new(last: &mut Option<String>, error: Option<String>) -> bool {
    let new = error.is_some() && *last != error;
    *last = error;
    new
}

/// Checks once for changes, logging and counting the result.
pub fn check_once(
    policy: &PolicyStore,
    certs: &CertStore,
    metrics: &Metrics,
    last: &mut LastErrors,
) {
    if let Some(path) = policy.path() {
        let result = policy.reload_if_changed();
        let error = result.as_ref().err().map(ToString::to_string);
        if matches!(result, Ok(true)) {
            metrics
                .policy_reloads
                .get_or_create(&Metrics::result(true))
                .inc();
            info!(path = %path.display(), "policy reloaded");
        }
        if is_new(&mut last.policy, error.clone()) {
            metrics
                .policy_reloads
                .get_or_create(&Metrics::result(false))
                .inc();
            error!(
                error = error.unwrap_or_default(),
                "policy reload refused; the previous policy stays in force"
            );
        }
    }
    let result = certs.reload_if_changed();
    let error = result.as_ref().err().map(ToString::to_string);
    if let Ok(Some(cert)) = result {
        metrics
            .certificate_reloads
            .get_or_create(&Metrics::result(true))
            .inc();
        metrics.set_certificate_not_after(cert.not_after);
        info!(not_after = cert.not_after, "serving certificate reloaded");
    }
    if is_new(&mut last.certificate, error.clone()) {
        metrics
            .certificate_reloads
            .get_or_create(&Metrics::result(false))
            .inc();
        error!(
            error = error.unwrap_or_default(),
            "certificate reload refused; the previous certificate stays in use"
        );
    }
    warn_if_expiring(&certs.current(), tls::unix_now(), last);
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
    let mut last = LastErrors::default();
    warn_if_expiring(&certs.current(), tls::unix_now(), &mut last);
    loop {
        ticker.tick().await;
        let (p, c, m) = (policy.clone(), certs.clone(), metrics.clone());
        // File reads are blocking; keep them off the request workers.
        match tokio::task::spawn_blocking(move || {
            check_once(&p, &c, &m, &mut last);
            last
        })
        .await
        {
            Ok(returned) => last = returned,
            Err(_) => last = LastErrors::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_error_is_reported_once() {
        let mut last = None;
        assert!(!is_new(&mut last, None));
        assert!(is_new(&mut last, Some("gone".into())));
        assert!(!is_new(&mut last, Some("gone".into())));
        assert!(is_new(&mut last, Some("other".into())));
        assert!(!is_new(&mut last, None));
        assert!(is_new(&mut last, Some("other".into())));
    }
}
