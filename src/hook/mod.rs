//! Helm hooks as Helm itself sees them: the annotations, how Helm parses them (with a
//! diagnostic for every mistake Helm swallows), the effective delete policy, and the order in
//! which Helm runs the hooks of one event.

mod annotations;
mod diagnostic;
mod order;

pub use annotations::{Annotations, HookSpec, ParsedHook, annotations_of, parse_hook};
pub use diagnostic::{Diagnostic, DiagnosticKind, Severity};
pub use order::{OrderKey, execution_order, kind_install_rank};

use serde::{Deserialize, Serialize};
use std::fmt;

/// `helm.sh/hook`: the comma-separated events that make an object a hook.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
/// `helm.sh/hook-weight`: an integer, parsed with Go's `strconv.Atoi`.
pub const WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
/// `helm.sh/hook-delete-policy`: comma-separated delete policies.
pub const DELETE_POLICY_ANNOTATION: &str = "helm.sh/hook-delete-policy";
/// `helm.sh/hook-output-log-policy` (Helm ≥ 3.18): when Helm prints a hook's logs.
pub const OUTPUT_LOG_POLICY_ANNOTATION: &str = "helm.sh/hook-output-log-policy";
/// `helm.sh/resource-policy`: `keep` protects an object from deletion.
pub const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";

/// A point in a release's life at which Helm runs hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookEvent {
    /// `pre-install`: after templates render, before any resource is created.
    PreInstall,
    /// `post-install`: after every resource of a new release is created.
    PostInstall,
    /// `pre-delete`: before any resource of a release is deleted.
    PreDelete,
    /// `post-delete`: after every resource of a release is deleted.
    PostDelete,
    /// `pre-upgrade`: after templates render, before any resource is updated.
    PreUpgrade,
    /// `post-upgrade`: after every resource of an upgrade is updated.
    PostUpgrade,
    /// `pre-rollback`: after templates render, before any resource is rolled back.
    PreRollback,
    /// `post-rollback`: after every resource of a rollback is updated.
    PostRollback,
    /// `helm test`; `test-success` is an alias Helm still accepts.
    Test,
}

impl HookEvent {
    /// Every event, in the order Helm's documentation lists them.
    pub const ALL: [HookEvent; 9] = [
        HookEvent::PreInstall,
        HookEvent::PostInstall,
        HookEvent::PreDelete,
        HookEvent::PostDelete,
        HookEvent::PreUpgrade,
        HookEvent::PostUpgrade,
        HookEvent::PreRollback,
        HookEvent::PostRollback,
        HookEvent::Test,
    ];

    /// The spelling Helm writes into release records.
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::Test => "test",
        }
    }

    /// Parses one already-normalised (trimmed, lower-cased) value, accepting `test-success`.
    pub fn parse(value: &str) -> Option<HookEvent> {
        if value == "test-success" {
            return Some(HookEvent::Test);
        }
        HookEvent::ALL.into_iter().find(|e| e.as_str() == value)
    }

    /// Every spelling Helm accepts, for did-you-mean suggestions.
    pub fn accepted_spellings() -> impl Iterator<Item = &'static str> {
        HookEvent::ALL
            .into_iter()
            .map(HookEvent::as_str)
            .chain(["test-success"])
    }
}

impl fmt::Display for HookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for HookEvent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HookEvent::parse(&s.trim().to_ascii_lowercase()).ok_or_else(|| {
            let known: Vec<_> = HookEvent::ALL.iter().map(|e| e.as_str()).collect();
            format!(
                "unknown hook event {s:?}; expected one of {}",
                known.join(", ")
            )
        })
    }
}

/// When Helm deletes a hook object. Unknown values are kept (as Helm does) and never match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeletePolicy {
    /// `before-hook-creation`: delete the previous object before the hook runs again (Helm's default).
    BeforeHookCreation,
    /// `hook-succeeded`: delete the object once the hook succeeded.
    HookSucceeded,
    /// `hook-failed`: delete the object if the hook failed.
    HookFailed,
    /// A value Helm does not know; it silently never matches.
    Unknown(String),
}

impl DeletePolicy {
    /// The values Helm knows.
    pub const KNOWN: [&'static str; 3] = ["before-hook-creation", "hook-succeeded", "hook-failed"];

    /// Parses one already-normalised value.
    pub fn parse(value: &str) -> DeletePolicy {
        match value {
            "before-hook-creation" => DeletePolicy::BeforeHookCreation,
            "hook-succeeded" => DeletePolicy::HookSucceeded,
            "hook-failed" => DeletePolicy::HookFailed,
            other => DeletePolicy::Unknown(other.to_string()),
        }
    }

    /// The spelling Helm uses.
    pub fn as_str(&self) -> &str {
        match self {
            DeletePolicy::BeforeHookCreation => "before-hook-creation",
            DeletePolicy::HookSucceeded => "hook-succeeded",
            DeletePolicy::HookFailed => "hook-failed",
            DeletePolicy::Unknown(v) => v,
        }
    }
}

impl fmt::Display for DeletePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Helm's delete policies as written, with Helm's default applied: only when the list is
/// empty does Helm fall back to `before-hook-creation`.
pub fn effective_delete_policies(written: &[DeletePolicy]) -> Vec<DeletePolicy> {
    if written.is_empty() {
        vec![DeletePolicy::BeforeHookCreation]
    } else {
        written.to_vec()
    }
}

/// When Helm prints a hook's logs (Helm ≥ 3.18). Unknown values are kept and never match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OutputLogPolicy {
    /// `hook-succeeded`: print the logs when the hook succeeded.
    HookSucceeded,
    /// `hook-failed`: print the logs when the hook failed.
    HookFailed,
    /// A value Helm does not know; it never matches.
    Unknown(String),
}

impl OutputLogPolicy {
    /// The values Helm knows.
    pub const KNOWN: [&'static str; 2] = ["hook-succeeded", "hook-failed"];

    /// Parses one already-normalised value.
    pub fn parse(value: &str) -> OutputLogPolicy {
        match value {
            "hook-succeeded" => OutputLogPolicy::HookSucceeded,
            "hook-failed" => OutputLogPolicy::HookFailed,
            other => OutputLogPolicy::Unknown(other.to_string()),
        }
    }

    /// The spelling Helm uses.
    pub fn as_str(&self) -> &str {
        match self {
            OutputLogPolicy::HookSucceeded => "hook-succeeded",
            OutputLogPolicy::HookFailed => "hook-failed",
            OutputLogPolicy::Unknown(v) => v,
        }
    }
}

/// The most bytes helm-hooks reads of one hook annotation value. Real values are far smaller
/// (all nine events spelled out take 95 bytes); the bound keeps parsing linear and its output
/// small whatever an object carries.
pub const MAX_ANNOTATION_BYTES: usize = 1024;
/// The most comma-separated items helm-hooks reads of one hook annotation value.
pub const MAX_ANNOTATION_ITEMS: usize = 32;

/// A hook annotation value over [`MAX_ANNOTATION_BYTES`] or [`MAX_ANNOTATION_ITEMS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnotationTooLarge {
    /// The value's length in bytes.
    pub bytes: usize,
    /// How many comma-separated items it has.
    pub items: usize,
}

impl fmt::Display for AnnotationTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes in {} items, over the limit of {MAX_ANNOTATION_BYTES} bytes and \
             {MAX_ANNOTATION_ITEMS} items",
            self.bytes, self.items
        )
    }
}

impl std::error::Error for AnnotationTooLarge {}

/// The field path of annotation `key` in every message (webhook, post-renderer, lint):
/// `metadata.annotations[helm.sh/hook-weight]` (brackets, since keys contain dots).
pub fn annotation_field(key: &str) -> String {
    format!("metadata.annotations[{key}]")
}

/// Splits an annotation value the way Helm does: on `,`, each part trimmed and lower-cased.
/// Refuses values over [`MAX_ANNOTATION_BYTES`] or [`MAX_ANNOTATION_ITEMS`] before splitting.
pub fn split_annotation_value(value: &str) -> Result<Vec<String>, AnnotationTooLarge> {
    let items = value.bytes().filter(|b| *b == b',').count() + 1;
    if value.len() > MAX_ANNOTATION_BYTES || items > MAX_ANNOTATION_ITEMS {
        return Err(AnnotationTooLarge {
            bytes: value.len(),
            items,
        });
    }
    Ok(value
        .split(',')
        .map(|part| part.trim().to_lowercase())
        .collect())
}

/// Go's `strconv.Atoi` on a 64-bit platform: optional sign, ASCII digits, no spaces.
pub fn go_atoi(value: &str) -> Option<i64> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<i64>().ok()
}

/// The closest known spelling to `value`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(value: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(value, k), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests;
