//! Hook annotations → [`HookSpec`], exactly as Helm's manifest sorter parses them.

use super::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use super::{
    AnnotationTooLarge, DELETE_POLICY_ANNOTATION, DeletePolicy, HOOK_ANNOTATION, HookEvent,
    OUTPUT_LOG_POLICY_ANNOTATION, OutputLogPolicy, RESOURCE_POLICY_ANNOTATION, WEIGHT_ANNOTATION,
    did_you_mean, effective_delete_policies, go_atoi, split_annotation_value,
};
use crate::text::truncate;
use serde_json::Value;
use std::collections::BTreeMap;

/// An object's `metadata.annotations`.
pub type Annotations = BTreeMap<String, String>;

/// Reads `metadata.annotations` of a Kubernetes object; non-string values are skipped
/// (the apiserver never sends them; `lint` reports them separately).
pub fn annotations_of(object: &Value) -> Annotations {
    object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// What Helm makes of one hook's annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSpec {
    /// The events Helm recognised, in annotation order.
    pub events: Vec<HookEvent>,
    /// The weight as Helm computes it (0 when Atoi fails).
    pub weight: i64,
    /// The delete policies as written (normalised), unknown ones included.
    pub delete_policies: Vec<DeletePolicy>,
    /// The output-log policies as written (normalised).
    pub output_log_policies: Vec<OutputLogPolicy>,
    /// `helm.sh/resource-policy: keep`.
    pub keep: bool,
}

impl HookSpec {
    /// The delete policies Helm acts on: the written ones, or `before-hook-creation` when none.
    pub fn effective_delete_policies(&self) -> Vec<DeletePolicy> {
        effective_delete_policies(&self.delete_policies)
    }

    /// Whether Helm would apply `policy` to this hook.
    pub fn has_delete_policy(&self, policy: &DeletePolicy) -> bool {
        self.effective_delete_policies().contains(policy)
    }

    /// Whether the hook runs on `event`.
    pub fn runs_on(&self, event: HookEvent) -> bool {
        self.events.contains(&event)
    }
}

/// The result of parsing a hook's annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedHook {
    /// What Helm would record (events limited to the ones it knows).
    pub spec: HookSpec,
    /// True when Helm would drop the object from the release (`skipping unknown hook`).
    pub dropped: bool,
    /// Every silently-swallowed mistake, with its fix.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses hook annotations. `None` when the object is not a hook (no `helm.sh/hook` key).
pub fn parse_hook(annotations: &Annotations) -> Option<ParsedHook> {
    let hook_value = annotations.get(HOOK_ANNOTATION)?;
    let mut diagnostics = Vec::new();

    let (events, dropped) = parse_events(hook_value, &mut diagnostics);
    let weight = parse_weight(annotations.get(WEIGHT_ANNOTATION), &mut diagnostics);
    let delete_policies =
        parse_delete_policies(annotations.get(DELETE_POLICY_ANNOTATION), &mut diagnostics);
    let output_log_policies = parse_output_log_policies(
        annotations.get(OUTPUT_LOG_POLICY_ANNOTATION),
        &mut diagnostics,
    );
    let keep = parse_resource_policy(
        annotations.get(RESOURCE_POLICY_ANNOTATION),
        &mut diagnostics,
    );

    Some(ParsedHook {
        spec: HookSpec {
            events,
            weight,
            delete_policies,
            output_log_policies,
            keep,
        },
        dropped,
        diagnostics,
    })
}

fn parse_events(value: &str, diagnostics: &mut Vec<Diagnostic>) -> (Vec<HookEvent>, bool) {
    let mut events = Vec::new();
    let mut dropped = false;
    let parts = match split_annotation_value(value) {
        Ok(parts) => parts,
        Err(limit) => {
            diagnostics.push(too_large(HOOK_ANNOTATION, value, limit));
            return (events, true);
        }
    };
    for part in parts {
        if part.is_empty() {
            dropped = true;
            diagnostics.push(Diagnostic {
                severity: Severity::Error,
                kind: DiagnosticKind::EmptyEvent,
                annotation: HOOK_ANNOTATION,
                value: truncate(value, VALUE_ECHO_CHARS),
                message: "empty event in the list: Helm skips this object entirely; \
                          remove the stray comma"
                    .into(),
            });
            continue;
        }
        match HookEvent::parse(&part) {
            Some(event) if events.contains(&event) => {
                diagnostics.push(duplicate(HOOK_ANNOTATION, &part))
            }
            Some(event) => events.push(event),
            None => {
                dropped = true;
                let suggestion = did_you_mean(&part, HookEvent::accepted_spellings());
                diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    kind: DiagnosticKind::UnknownEvent {
                        suggestion: suggestion.map(str::to_string),
                    },
                    annotation: HOOK_ANNOTATION,
                    value: truncate(&part, VALUE_ECHO_CHARS),
                    message: format!(
                        "unknown hook event: Helm prints `skipping unknown hook` and never \
                         creates this object; {}",
                        fix_hint(suggestion, HookEvent::ALL.iter().map(|e| e.as_str()))
                    ),
                });
            }
        }
    }
    (events, dropped)
}

fn parse_weight(value: Option<&String>, diagnostics: &mut Vec<Diagnostic>) -> i64 {
    let Some(value) = value else { return 0 };
    match go_atoi(value) {
        Some(weight) => weight,
        None => {
            let fix = match value.trim().parse::<f64>() {
                Ok(number) if number.is_finite() => {
                    format!("write \"{}\"", number.trunc() as i64)
                }
                _ => "write a plain integer such as \"-5\" or \"10\"".to_string(),
            };
            diagnostics.push(Diagnostic {
                severity: Severity::Error,
                kind: DiagnosticKind::WeightNotInteger,
                annotation: super::WEIGHT_ANNOTATION,
                value: truncate(value, VALUE_ECHO_CHARS),
                message: format!(
                    "not an integer for Go's strconv.Atoi: Helm silently uses weight 0; {fix}"
                ),
            });
            0
        }
    }
}

fn parse_delete_policies(
    value: Option<&String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<DeletePolicy> {
    let Some(value) = value else {
        return Vec::new();
    };
    let mut policies: Vec<DeletePolicy> = Vec::new();
    let parts = match split_annotation_value(value) {
        Ok(parts) => parts,
        Err(limit) => {
            diagnostics.push(too_large(DELETE_POLICY_ANNOTATION, value, limit));
            return policies;
        }
    };
    for part in parts {
        if part.is_empty() {
            diagnostics.push(Diagnostic {
                severity: Severity::Error,
                kind: DiagnosticKind::EmptyDeletePolicy,
                annotation: DELETE_POLICY_ANNOTATION,
                value: truncate(value, VALUE_ECHO_CHARS),
                message: "empty delete policy: it matches nothing but still switches off \
                          Helm's before-hook-creation default; remove it or name a policy"
                    .into(),
            });
        } else if DeletePolicy::KNOWN.contains(&part.as_str()) {
            if policies.contains(&DeletePolicy::parse(&part)) {
                diagnostics.push(duplicate(DELETE_POLICY_ANNOTATION, &part));
            }
        } else {
            diagnostics.push(unknown_value(
                DELETE_POLICY_ANNOTATION,
                &part,
                &DeletePolicy::KNOWN,
                |suggestion| DiagnosticKind::UnknownDeletePolicy { suggestion },
                "unknown delete policy: Helm keeps it but it never matches",
            ));
        }
        policies.push(DeletePolicy::parse(&part));
    }
    if !effective_delete_policies(&policies).contains(&DeletePolicy::BeforeHookCreation) {
        diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            kind: DiagnosticKind::DefaultDeletePolicyOff,
            annotation: DELETE_POLICY_ANNOTATION,
            value: truncate(value, VALUE_ECHO_CHARS),
            message: "this list switches off Helm's before-hook-creation default: a hook left \
                      behind (e.g. after a failure) makes the next run fail with `already \
                      exists`; add before-hook-creation"
                .into(),
        });
    }
    policies
}

fn parse_output_log_policies(
    value: Option<&String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<OutputLogPolicy> {
    let Some(value) = value else {
        return Vec::new();
    };
    let mut policies = Vec::new();
    let parts = match split_annotation_value(value) {
        Ok(parts) => parts,
        Err(limit) => {
            diagnostics.push(too_large(OUTPUT_LOG_POLICY_ANNOTATION, value, limit));
            return policies;
        }
    };
    for part in parts {
        if !OutputLogPolicy::KNOWN.contains(&part.as_str()) {
            diagnostics.push(unknown_value(
                OUTPUT_LOG_POLICY_ANNOTATION,
                &part,
                &OutputLogPolicy::KNOWN,
                |suggestion| DiagnosticKind::UnknownOutputLogPolicy { suggestion },
                "unknown output-log policy: Helm never prints this hook's logs for it",
            ));
        }
        policies.push(OutputLogPolicy::parse(&part));
    }
    policies
}

fn parse_resource_policy(value: Option<&String>, diagnostics: &mut Vec<Diagnostic>) -> bool {
    let Some(value) = value else { return false };
    let keep = value.trim().eq_ignore_ascii_case("keep");
    if !keep {
        diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            kind: DiagnosticKind::UnknownResourcePolicy,
            annotation: RESOURCE_POLICY_ANNOTATION,
            value: truncate(value, VALUE_ECHO_CHARS),
            message: "Helm only knows `keep` and ignores any other value; write keep or \
                      remove the annotation"
                .into(),
        });
    }
    keep
}

/// How many characters of an offending value a diagnostic repeats.
const VALUE_ECHO_CHARS: usize = 64;

/// One error for a value over the size limit, which is not parsed further.
fn too_large(annotation: &'static str, value: &str, limit: AnnotationTooLarge) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        kind: DiagnosticKind::AnnotationTooLarge,
        annotation,
        value: truncate(value, VALUE_ECHO_CHARS),
        message: format!("{limit}: not read; write only the values Helm knows, once each"),
    }
}

fn duplicate(annotation: &'static str, value: &str) -> Diagnostic {
    Diagnostic {
        severity: Severity::Warning,
        kind: DiagnosticKind::DuplicateValue,
        annotation,
        value: truncate(value, VALUE_ECHO_CHARS),
        message: "listed twice; remove the duplicate".into(),
    }
}

/// An error for a list entry that is none of `known`, with a did-you-mean when one is close.
fn unknown_value(
    annotation: &'static str,
    part: &str,
    known: &[&'static str],
    kind: impl FnOnce(Option<String>) -> DiagnosticKind,
    what: &str,
) -> Diagnostic {
    let suggestion = did_you_mean(part, known.iter().copied());
    Diagnostic {
        severity: Severity::Error,
        kind: kind(suggestion.map(str::to_string)),
        annotation,
        value: truncate(part, VALUE_ECHO_CHARS),
        message: format!("{what}; {}", fix_hint(suggestion, known.iter().copied())),
    }
}

fn fix_hint<'a>(suggestion: Option<&str>, known: impl IntoIterator<Item = &'a str>) -> String {
    match suggestion {
        Some(s) => format!("did you mean {s:?}?"),
        None => format!(
            "use one of: {}",
            known.into_iter().collect::<Vec<_>>().join(", ")
        ),
    }
}
