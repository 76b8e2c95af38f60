//! Leftover hooks: live hook objects that belong to no installed release, with the release they
//! came from and the evidence for it. `kubectl hooks list --orphans` shows them and
//! `kubectl hooks cleanup --orphans` deletes them.
//!
//! Only evidence counts, never a guess from names or labels:
//! - **the records**: the release's latest record is `uninstalled` (`helm uninstall
//!   --keep-history`) and the ownership rule confirms the object as a hook run of one of its
//!   revisions;
//! - **a stamp**: the janitor's release stamp ([`RELEASE_STAMP_ANNOTATION`], written while the
//!   release was installed) or a `kubectl hooks rerun` stamp ([`RERUN_ANNOTATION`]) naming a
//!   release that has no records any more (`helm uninstall`), whose latest record is
//!   `uninstalled`, or that was installed again after the object was created.
//!
//! An object carrying `helm.sh/hook` with neither (made by hand, or applied by Argo CD, which
//! renders charts without release records) is never an orphan, and neither is a hook run of an
//! installed release.
//!
//! [`RELEASE_STAMP_ANNOTATION`]: crate::janitor_rules::RELEASE_STAMP_ANNOTATION
//! [`RERUN_ANNOTATION`]: crate::ownership::RERUN_ANNOTATION

use crate::hook::HOOK_ANNOTATION;
use crate::janitor_rules::{ReleaseRef, stamped_release};
use crate::ownership::{LiveMeta, Ownership, RERUN_ANNOTATION, ReleaseHooks, parse_rerun_stamp};
use std::collections::BTreeMap;
use std::fmt;

/// The kinds searched for leftovers by label or annotation, as `(apiVersion, kind)`: what
/// hooks leave behind (Jobs and their Pods, and the RBAC and configuration objects made for
/// them). Leftovers of other kinds are found through the records of uninstalled releases.
pub const LEFTOVER_KINDS: [(&str, &str); 10] = [
    ("batch/v1", "Job"),
    ("v1", "Pod"),
    ("v1", "ServiceAccount"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
];

/// Who stamped an object with its release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamper {
    /// The janitor, while the release was installed.
    Janitor,
    /// `kubectl hooks rerun`, when it created the object.
    Rerun,
}

/// Why an object is a leftover of its release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// The latest record is `uninstalled` and these revisions' hook runs created the object.
    UninstalledRecord {
        /// Revisions whose hook run created it, ascending.
        revisions: Vec<i64>,
    },
    /// Stamped for a release that has no records any more.
    StampedReleaseGone(Stamper),
    /// Stamped for a release whose latest record is `uninstalled`.
    StampedReleaseUninstalled(Stamper),
    /// Stamped for a release that was installed again after the object was created: a
    /// leftover of the earlier install of the same name.
    StampedBeforeReinstall(Stamper),
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = |s: &Stamper| match s {
            Stamper::Janitor => "stamped by the janitor",
            Stamper::Rerun => "created by kubectl hooks rerun",
        };
        match self {
            Evidence::UninstalledRecord { revisions } => {
                let list: Vec<String> = revisions.iter().map(i64::to_string).collect();
                write!(
                    f,
                    "hook run of revision {} of an uninstalled release (--keep-history record)",
                    list.join(",")
                )
            }
            Evidence::StampedReleaseGone(s) => {
                write!(f, "{}; the release has no records (uninstalled)", by(s))
            }
            Evidence::StampedReleaseUninstalled(s) => {
                write!(f, "{}; the release's latest record is uninstalled", by(s))
            }
            Evidence::StampedBeforeReinstall(s) => write!(
                f,
                "{}; created before the release was installed again",
                by(s)
            ),
        }
    }
}

/// A leftover hook object: the release it came from and the evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The release it was a hook of.
    pub release: ReleaseRef,
    /// Why it is that release's leftover.
    pub evidence: Evidence,
}

/// The release a stamp on `annotations` names, and who stamped it (the janitor's stamp first).
pub fn stamp_of(annotations: &BTreeMap<String, String>) -> Option<(ReleaseRef, Stamper)> {
    if let Some(release) = stamped_release(annotations) {
        return Some((release, Stamper::Janitor));
    }
    let (namespace, name, _) = parse_rerun_stamp(annotations.get(RERUN_ANNOTATION)?)?;
    Some((
        ReleaseRef {
            namespace: namespace.to_string(),
            name: name.to_string(),
        },
        Stamper::Rerun,
    ))
}

/// Whether `live` is a leftover hook of a release that is not installed. `releases` must hold
/// every stored revision of every release in the object's namespace and of the release its
/// stamp names (a release missing from it counts as having no records).
pub fn classify(
    live: &LiveMeta<'_>,
    releases: &BTreeMap<ReleaseRef, ReleaseHooks>,
) -> Option<Orphan> {
    if !live.annotations.contains_key(HOOK_ANNOTATION) {
        return None;
    }
    // A hook run of an installed release is that release's; of an uninstalled one, a leftover.
    let mut uninstalled_owner = None;
    for (release, hooks) in releases {
        if let Ownership::HookRun { revisions } = hooks.ownership(live) {
            if hooks.is_live() {
                return None;
            }
            uninstalled_owner.get_or_insert((release, revisions));
        }
    }
    if let Some((release, revisions)) = uninstalled_owner {
        return Some(Orphan {
            release: release.clone(),
            evidence: Evidence::UninstalledRecord { revisions },
        });
    }
    let (release, stamper) = stamp_of(live.annotations)?;
    let evidence = match releases.get(&release) {
        None => Evidence::StampedReleaseGone(stamper),
        Some(hooks) if !hooks.is_live() => Evidence::StampedReleaseUninstalled(stamper),
        Some(hooks) if live.created.is_some_and(|c| hooks.predates(c)) => {
            Evidence::StampedBeforeReinstall(stamper)
        }
        // Stamped for an installed release that created it: a hook of that release (perhaps
        // of a revision no longer stored), which `kubectl hooks cleanup RELEASE` judges.
        Some(_) => return None,
    };
    Some(Orphan { release, evidence })
}

#[cfg(test)]
mod tests;
