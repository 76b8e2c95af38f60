//! What to tell a user whose release is stuck or failed: Helm's own recovery command, with the
//! right revision, worked out from the release's history (each revision's status).

use super::model::Status;

/// Advice for a release whose latest revision is `pending-*` or `failed`; `None` otherwise.
/// `history` is every stored revision with its status, in any order.
pub fn recovery_advice(
    release: &str,
    namespace: &str,
    history: &[(i64, Status)],
) -> Option<String> {
    let (latest, status) = history.iter().max_by_key(|(revision, _)| *revision)?;
    // The revision to go back to: the newest one that was deployed (now superseded or deployed).
    let good = history
        .iter()
        .filter(|(revision, s)| {
            revision < latest && matches!(s, Status::Deployed | Status::Superseded)
        })
        .map(|(revision, _)| *revision)
        .max();
    let history_hint = format!("helm history {release} -n {namespace} shows every revision");
    let back = |what: &str| match good {
        Some(good) => format!(
            "{what}; to go back to the last good revision: helm rollback {release} {good} -n \
             {namespace} ({history_hint})"
        ),
        None => format!("{what}; there is no earlier good revision ({history_hint})"),
    };
    match status {
        Status::PendingUpgrade | Status::PendingRollback => Some(back(&format!(
            "release {release} is {status} at revision {latest}: Helm is still working on it, \
             or was killed mid-operation (then it stays so and blocks every helm upgrade)"
        ))),
        Status::PendingInstall => Some(format!(
            "release {release} is pending-install at revision {latest}: Helm is still installing \
             it, or was killed; if no helm command is running, remove it with helm uninstall \
             {release} -n {namespace} and install again ({history_hint})"
        )),
        Status::Failed => Some(back(&format!(
            "release {release} failed at revision {latest} (a hook or a resource failed: \
             helm status {release} -n {namespace} says which); fix and upgrade again"
        ))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(statuses: &[&str]) -> Vec<(i64, Status)> {
        statuses
            .iter()
            .enumerate()
            .map(|(i, s)| (i as i64 + 1, Status::parse(s)))
            .collect()
    }

    #[test]
    fn a_stuck_upgrade_names_the_rollback_to_the_last_good_revision() {
        let advice = recovery_advice(
            "demo",
            "team",
            &history(&["superseded", "deployed", "failed", "pending-upgrade"]),
        )
        .unwrap();
        assert!(advice.contains("pending-upgrade at revision 4"), "{advice}");
        assert!(advice.contains("helm rollback demo 2 -n team"), "{advice}");
        assert!(advice.contains("helm history demo -n team"), "{advice}");
    }

    #[test]
    fn a_failed_release_and_a_stuck_install_get_their_own_advice() {
        let failed = recovery_advice("demo", "team", &history(&["deployed", "failed"])).unwrap();
        assert!(failed.contains("helm rollback demo 1 -n team"), "{failed}");
        let install = recovery_advice("demo", "team", &history(&["pending-install"])).unwrap();
        assert!(install.contains("helm uninstall demo -n team"), "{install}");
        let first_failed = recovery_advice("demo", "team", &history(&["failed"])).unwrap();
        assert!(
            first_failed.contains("no earlier good revision"),
            "{first_failed}"
        );
    }

    #[test]
    fn healthy_releases_need_no_advice() {
        for status in ["deployed", "superseded", "uninstalled", "uninstalling"] {
            assert_eq!(
                recovery_advice("demo", "team", &history(&["superseded", status])),
                None
            );
        }
        assert_eq!(recovery_advice("demo", "team", &[]), None);
    }
}
