//! Diagnostics for hook annotation mistakes that Helm swallows silently.

use serde::Serialize;
use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Helm does something the author almost certainly did not mean.
    Warning,
    /// Helm drops or misreads the hook.
    Error,
}

/// What kind of mistake a diagnostic reports; stable identifiers for `-o json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum DiagnosticKind {
    /// An event Helm does not know: Helm prints `skipping unknown hook` and drops the object.
    UnknownEvent {
        /// The closest known value, if one is close.
        suggestion: Option<String>,
    },
    /// An empty entry in the `helm.sh/hook` list: Helm drops the object too.
    EmptyEvent,
    /// A delete policy Helm does not know: kept, never matches.
    UnknownDeletePolicy {
        /// The closest known value, if one is close.
        suggestion: Option<String>,
    },
    /// An empty delete policy entry: it still switches off Helm's default.
    EmptyDeletePolicy,
    /// The written list does not contain `before-hook-creation`, so Helm's default is off and
    /// a leftover object makes the next run fail with `already exists`.
    DefaultDeletePolicyOff,
    /// A weight Go's `strconv.Atoi` rejects: Helm silently uses 0.
    WeightNotInteger,
    /// An output-log policy Helm does not know.
    UnknownOutputLogPolicy {
        /// The closest known value, if one is close.
        suggestion: Option<String>,
    },
    /// A resource policy other than `keep`: Helm ignores it.
    UnknownResourcePolicy,
    /// The same value twice in one list.
    DuplicateValue,
    /// A value over helm-hooks' size limit ([`super::MAX_ANNOTATION_BYTES`],
    /// [`super::MAX_ANNOTATION_ITEMS`]): not parsed further.
    AnnotationTooLarge,
}

impl DiagnosticKind {
    /// The stable check id, e.g. `unknown-delete-policy`: the `kind` field of the JSON form.
    pub fn id(&self) -> &'static str {
        match self {
            DiagnosticKind::UnknownEvent { .. } => "unknown-event",
            DiagnosticKind::EmptyEvent => "empty-event",
            DiagnosticKind::UnknownDeletePolicy { .. } => "unknown-delete-policy",
            DiagnosticKind::EmptyDeletePolicy => "empty-delete-policy",
            DiagnosticKind::DefaultDeletePolicyOff => "default-delete-policy-off",
            DiagnosticKind::WeightNotInteger => "weight-not-integer",
            DiagnosticKind::UnknownOutputLogPolicy { .. } => "unknown-output-log-policy",
            DiagnosticKind::UnknownResourcePolicy => "unknown-resource-policy",
            DiagnosticKind::DuplicateValue => "duplicate-value",
            DiagnosticKind::AnnotationTooLarge => "annotation-too-large",
        }
    }
}

/// One mistake in one annotation, with the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// Which mistake, with its stable id (flattened into the JSON object as `kind`).
    #[serde(flatten)]
    pub kind: DiagnosticKind,
    /// The annotation key, e.g. `helm.sh/hook-delete-policy`.
    pub annotation: &'static str,
    /// The offending value (one list entry, or the whole value).
    pub value: String,
    /// A sentence saying what Helm does with it and how to fix it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.annotation, self.value, self.message)
    }
}
