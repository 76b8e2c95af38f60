//! The result of evaluating one object against the policy.

use super::document::{Mode, RuleId};
use crate::text::Truncated;
use json_patch::PatchOperation;
use serde::Serialize;
use std::fmt;

/// A default the engine injected (one label per kind, for metrics and lint output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppliedDefault {
    /// The `helm.sh/hook-delete-policy` annotation.
    DeletePolicy,
    /// `spec.activeDeadlineSeconds`.
    ActiveDeadlineSeconds,
    /// A Job's `spec.ttlSecondsAfterFinished`.
    TtlSecondsAfterFinished,
    /// The pod's `seccompProfile: RuntimeDefault`.
    SeccompProfile,
    /// The pod's `runAsNonRoot: true`.
    RunAsNonRoot,
    /// The pod's `runAsUser` (set with `runAsNonRoot`).
    RunAsUser,
    /// A container's `allowPrivilegeEscalation: false`.
    AllowPrivilegeEscalation,
    /// A container's `capabilities.drop: [ALL]`.
    DropCapabilities,
}

impl AppliedDefault {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            AppliedDefault::DeletePolicy => "delete-policy",
            AppliedDefault::ActiveDeadlineSeconds => "active-deadline-seconds",
            AppliedDefault::TtlSecondsAfterFinished => "ttl-seconds-after-finished",
            AppliedDefault::SeccompProfile => "seccomp-profile",
            AppliedDefault::RunAsNonRoot => "run-as-non-root",
            AppliedDefault::RunAsUser => "run-as-user",
            AppliedDefault::AllowPrivilegeEscalation => "allow-privilege-escalation",
            AppliedDefault::DropCapabilities => "drop-capabilities",
        }
    }
}

/// One rule finding on one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The rule that found it.
    pub rule: RuleId,
    /// The rule's mode where the object is.
    pub mode: Mode,
    /// `Kind/name` of the object.
    pub object: String,
    /// The field path, e.g. `spec.template.spec.containers[0].securityContext.privileged`.
    pub field: String,
    /// What is wrong and the fix, in one short sentence.
    pub message: String,
}

impl fmt::Display for Violation {
    /// `rule: Kind/name: field: message` — short enough for an admission warning.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}: {}",
            self.rule, self.object, self.field, self.message
        )
    }
}

/// What the policy says about one object.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verdict {
    /// False for objects without `helm.sh/hook`: they get no patch and no violation.
    pub is_hook: bool,
    /// True when the namespace is exempt.
    pub exempt: bool,
    /// RFC 6902 operations that inject the defaults.
    pub patch: Vec<PatchOperation>,
    /// Which defaults the patch injects, one entry per operation that sets a value.
    pub applied_defaults: Vec<AppliedDefault>,
    /// Every finding on the object as patched, in every mode but `off`.
    pub violations: Vec<Violation>,
}

impl Violation {
    /// `rule: Kind/name: field: message` with each part that can quote the object cut to
    /// [`ECHO_CHARS`] characters: the line the webhook and the post-renderer show.
    pub fn describe(&self) -> String {
        format!(
            "{}: {}: {}: {}",
            self.rule,
            Truncated(&self.object, ECHO_CHARS),
            Truncated(&self.field, ECHO_CHARS),
            Truncated(&self.message, ECHO_CHARS)
        )
    }
}

/// How many characters of a value from the object a violation line repeats.
pub const ECHO_CHARS: usize = 256;

impl Verdict {
    /// The message an `enforce` denial carries (`helm-hooks policy denied this hook: …`, the
    /// violations joined by `; `), or `None` when nothing denies the object.
    pub fn denial_message(&self) -> Option<String> {
        let denials: Vec<String> = self
            .in_mode(Mode::Enforce)
            .map(Violation::describe)
            .collect();
        (!denials.is_empty())
            .then(|| format!("helm-hooks policy denied this hook: {}", denials.join("; ")))
    }

    /// Findings of rules in `mode`.
    pub fn in_mode(&self, mode: Mode) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(move |v| v.mode == mode)
    }

    /// Whether an `enforce` rule denies the object.
    pub fn is_denied(&self) -> bool {
        self.in_mode(Mode::Enforce).next().is_some()
    }

    /// The patch as a `json_patch::Patch`.
    pub fn json_patch(&self) -> json_patch::Patch {
        json_patch::Patch(self.patch.clone())
    }
}
