//! AdmissionReview `admission.k8s.io/v1` in and out: parsing a review, asking the core policy
//! engine for its verdict and turning the verdict into the response the apiserver expects.
//!
//! Pure and synchronous (no I/O, no metrics, no logging): the server wraps it, the golden tests
//! and the benchmark call it directly. The policy decisions themselves live in
//! [`helm_hooks::policy`]; this module only maps them onto the AdmissionReview wire format.

use crate::truncate::truncate;
use base64::Engine as _;
use helm_hooks::policy::{AppliedDefault, Mode, Policy, Verdict, Violation, evaluate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only AdmissionReview version the webhook speaks (registered as
/// `admissionReviewVersions: [v1]`).
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// The AdmissionReview kind.
pub const KIND: &str = "AdmissionReview";

/// How the `patch` field of a response is encoded.
///
/// Kubernetes declares `AdmissionResponse.Patch` as Go `[]byte`, which `encoding/json` writes as
/// a base64 string: that is what the API documentation shows and what the webhook sends. The
/// byte-array form (a JSON array of numbers, which is how kube-core serializes `Vec<u8>`) exists
/// only so the end-to-end test can show which forms a real apiserver accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PatchEncoding {
    /// base64 of the JSON patch, as documented by Kubernetes (the default).
    #[default]
    Base64,
    /// A JSON array of byte values (kube-core's serialization of `Vec<u8>`).
    ByteArray,
}

/// The two admission endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /mutate`: inject the policy's defaults as a JSON patch.
    Mutate,
    /// `POST /validate`: deny enforce-mode violations, warn on warn-mode ones.
    Validate,
    /// `POST /admit`: both in one call, for a registration with the mutating webhook only
    /// (one round trip instead of two; README "One call instead of two").
    Admit,
}

impl Endpoint {
    /// The metric and log label.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Mutate => "mutate",
            Endpoint::Validate => "validate",
            Endpoint::Admit => "admit",
        }
    }
}

/// A review the webhook cannot answer with an AdmissionReview: the HTTP layer returns 400 with
/// this as the reason (there is no `request.uid` to echo).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReviewError {
    /// The body is not JSON, or not shaped like an AdmissionReview (the parser's message, cut
    /// like every echoed value, see [`crate::truncate`]).
    #[error("malformed AdmissionReview: {0}")]
    Malformed(String),
    /// `apiVersion` or `kind` is not `admission.k8s.io/v1` / `AdmissionReview` (the value
    /// found is cut, see [`crate::truncate`]).
    #[error("unsupported {field} {found:?}: expected {expected:?}")]
    Unsupported {
        /// The field that is wrong.
        field: &'static str,
        /// Its value.
        found: String,
        /// The value the webhook speaks.
        expected: &'static str,
    },
    /// The review has no `request`.
    #[error("AdmissionReview has no request")]
    MissingRequest,
    /// The request has no `uid` to answer with.
    #[error("AdmissionReview request has no uid")]
    MissingUid,
}

/// An incoming AdmissionReview (only the fields the webhook reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview {
    #[serde(default)]
    /// `admission.k8s.io/v1` expected.
    pub api_version: String,
    #[serde(default)]
    /// `AdmissionReview` expected.
    pub kind: String,
    #[serde(default)]
    /// The request to review.
    pub request: Option<AdmissionRequest>,
}

/// Group, version and kind of the object under review.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct GroupVersionKind {
    #[serde(default)]
    /// API group (`""` for the core group).
    pub group: String,
    #[serde(default)]
    /// API version.
    pub version: String,
    #[serde(default)]
    /// Kind, e.g. `Job`.
    pub kind: String,
}

/// `AdmissionReview.request` (only the fields the webhook reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    #[serde(default)]
    /// Identifies this review; echoed in the response.
    pub uid: String,
    #[serde(default)]
    /// Kind of the object under review.
    pub kind: GroupVersionKind,
    #[serde(default)]
    /// The subresource (`status`, `scale`, …), if the request is for one.
    pub sub_resource: Option<String>,
    #[serde(default)]
    /// `request.name` (often empty on CREATE).
    pub name: Option<String>,
    #[serde(default)]
    /// The request's namespace.
    pub namespace: Option<String>,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    /// The object as the apiserver would store it (CREATE, UPDATE).
    pub object: Option<Value>,
    #[serde(default)]
    /// The stored object (UPDATE, DELETE).
    pub old_object: Option<Value>,
    #[serde(default)]
    /// Whether the request is a dry run (`--dry-run=server`).
    pub dry_run: Option<bool>,
}

/// `AdmissionReview.response.status` (a trimmed `metav1.Status`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    /// HTTP-like status code (400, 403).
    pub code: u16,
    /// Machine-readable reason (`Forbidden`, `BadRequest`).
    pub reason: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// `AdmissionReview.response`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's uid.
    pub uid: String,
    /// Whether the object is admitted.
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Why not, when denied.
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The JSON patch, base64 (or a byte array, see [`PatchEncoding`]).
    pub patch: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `JSONPatch` when there is a patch.
    pub patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    /// Admission warnings (warn-mode violations).
    pub warnings: Vec<String>,
}

/// The AdmissionReview the webhook answers with.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReviewResponse {
    /// Always `admission.k8s.io/v1`.
    pub api_version: &'static str,
    /// Always `AdmissionReview`.
    pub kind: &'static str,
    /// The answer.
    pub response: AdmissionResponse,
}

/// What happened to one request, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Allowed without a patch or a warning.
    Allowed,
    /// Allowed with a patch (mutate and admit), with or without warnings.
    Patched,
    /// Allowed with warnings and no patch (validate and admit).
    Warned,
    /// Denied by an enforce-mode rule.
    Denied,
    /// The request could not be reviewed (malformed request inside a well-formed review).
    Invalid,
}

impl Decision {
    /// The metric and log label.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Patched => "patched",
            Decision::Warned => "warned",
            Decision::Denied => "denied",
            Decision::Invalid => "invalid",
        }
    }
}

/// The answer to one review plus what the server needs for metrics and logs.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The AdmissionReview to send back.
    pub review: ReviewResponse,
    /// What happened, for metrics and logs.
    pub decision: Decision,
    /// Why the object was passed through untouched, when it was (for debug logs).
    pub skipped: Option<&'static str>,
    /// Defaults injected by the patch (mutate and admit).
    pub applied_defaults: Vec<AppliedDefault>,
    /// Every violation found (validate and admit; mutate never reports violations, so a
    /// violation is counted once per admission).
    pub violations: Vec<Violation>,
}

/// What the request is about, for logs and metric labels (never object contents).
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The request's uid.
    pub uid: String,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: String,
    /// Kind of the object.
    pub kind: String,
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Name, or `generateName*`.
    pub name: String,
    /// Whether the request is a dry run.
    pub dry_run: bool,
}

/// Parses an AdmissionReview body.
pub fn parse_review(body: &[u8]) -> Result<AdmissionRequest, ReviewError> {
    let review: AdmissionReview = serde_json::from_slice(body)
        .map_err(|e| ReviewError::Malformed(truncate(&e.to_string())))?;
    if review.api_version != API_VERSION {
        return Err(ReviewError::Unsupported {
            field: "apiVersion",
            found: truncate(&review.api_version),
            expected: API_VERSION,
        });
    }
    if review.kind != KIND {
        return Err(ReviewError::Unsupported {
            field: "kind",
            found: truncate(&review.kind),
            expected: KIND,
        });
    }
    let request = review.request.ok_or(ReviewError::MissingRequest)?;
    if request.uid.is_empty() {
        return Err(ReviewError::MissingUid);
    }
    Ok(request)
}

impl AdmissionRequest {
    /// Kind, namespace and name for logs and metrics; the name falls back to the object's
    /// `metadata.name` / `generateName` (a CREATE often carries no `request.name`).
    pub fn meta(&self) -> RequestMeta {
        let object = self.object.as_ref().or(self.old_object.as_ref());
        let text = |p: &str| object.and_then(|o| o.pointer(p)).and_then(Value::as_str);
        let name = self
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .or_else(|| text("/metadata/name").filter(|n| !n.is_empty()))
            .map(str::to_string)
            .or_else(|| text("/metadata/generateName").map(|p| format!("{p}*")))
            .unwrap_or_default();
        RequestMeta {
            uid: self.uid.clone(),
            operation: self.operation.clone(),
            kind: self.kind.kind.clone(),
            namespace: self.namespace.clone().unwrap_or_default(),
            name,
            dry_run: self.dry_run.unwrap_or(false),
        }
    }
}

/// Answers `request` on `endpoint` under `policy`.
pub fn review(
    endpoint: Endpoint,
    policy: &Policy,
    request: &AdmissionRequest,
    encoding: PatchEncoding,
) -> Outcome {
    match endpoint {
        Endpoint::Mutate => mutate(policy, request, encoding),
        Endpoint::Validate => validate(policy, request),
        Endpoint::Admit => admit(policy, request, encoding),
    }
}

/// Why a request is passed through without evaluation, if it is.
fn pass_through(request: &AdmissionRequest) -> Option<&'static str> {
    if request
        .sub_resource
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        // Subresources (status, scale, ephemeralcontainers, …) are not the hook Helm created.
        return Some("subresource");
    }
    match request.operation.as_str() {
        "CREATE" => None,
        // Helm creates hooks and never updates them. Mutating on UPDATE would also fight
        // controllers: a Job's pod template is immutable, so re-injecting a default into an
        // object admitted under an older policy would make every later update (finalizers,
        // labels) fail. Validation follows the same line: what was admitted stays admitted.
        "UPDATE" => Some("update"),
        // DELETE carries only oldObject; CONNECT carries options. Neither is a new hook.
        "DELETE" => Some("delete"),
        "CONNECT" => Some("connect"),
        _ => Some("unknown operation"),
    }
}

fn respond(response: AdmissionResponse) -> ReviewResponse {
    ReviewResponse {
        api_version: API_VERSION,
        kind: KIND,
        response,
    }
}

fn allow(request: &AdmissionRequest) -> AdmissionResponse {
    AdmissionResponse {
        uid: request.uid.clone(),
        allowed: true,
        status: None,
        patch: None,
        patch_type: None,
        warnings: Vec::new(),
    }
}

fn outcome(
    response: AdmissionResponse,
    decision: Decision,
    skipped: Option<&'static str>,
) -> Outcome {
    Outcome {
        review: respond(response),
        decision,
        skipped,
        applied_defaults: Vec::new(),
        violations: Vec::new(),
    }
}

/// The object of a CREATE, or the denial that answers a CREATE without one.
fn object_or_invalid(request: &AdmissionRequest) -> Result<&Value, Box<Outcome>> {
    match request.object.as_ref() {
        Some(object) if object.is_object() => Ok(object),
        Some(_) => Err(Box::new(invalid(
            request,
            "request.object is not an object",
        ))),
        None => Err(Box::new(invalid(
            request,
            "request.object is missing on a CREATE request",
        ))),
    }
}

/// A denial with code 400 for a request the webhook cannot review.
fn invalid(request: &AdmissionRequest, message: &str) -> Outcome {
    let response = AdmissionResponse {
        status: Some(Status {
            code: 400,
            reason: "BadRequest".into(),
            message: format!("helm-hooks webhook: {message}"),
        }),
        allowed: false,
        ..allow(request)
    };
    outcome(response, Decision::Invalid, None)
}

fn evaluate_request(policy: &Policy, request: &AdmissionRequest, object: &Value) -> Verdict {
    evaluate(
        policy,
        object,
        request.namespace.as_deref().filter(|n| !n.is_empty()),
    )
}

/// `/mutate`: the verdict's patch on CREATE of a hook; everything else passes untouched.
fn mutate(policy: &Policy, request: &AdmissionRequest, encoding: PatchEncoding) -> Outcome {
    let verdict = match hook_verdict(policy, request) {
        Ok(verdict) => verdict,
        Err(outcome) => return *outcome,
    };
    if verdict.patch.is_empty() {
        let why = verdict.exempt.then_some("exempt namespace");
        return outcome(allow(request), Decision::Allowed, why);
    }
    Outcome {
        review: respond(with_patch(allow(request), &verdict, encoding)),
        decision: Decision::Patched,
        skipped: None,
        applied_defaults: verdict.applied_defaults,
        violations: Vec::new(),
    }
}

/// The verdict on a hook created, or the outcome for anything else (passed through, not a
/// hook, or no object to review).
fn hook_verdict(policy: &Policy, request: &AdmissionRequest) -> Result<Verdict, Box<Outcome>> {
    if let Some(why) = pass_through(request) {
        return Err(Box::new(outcome(
            allow(request),
            Decision::Allowed,
            Some(why),
        )));
    }
    let object = object_or_invalid(request)?;
    let verdict = evaluate_request(policy, request, object);
    if !verdict.is_hook {
        return Err(Box::new(outcome(
            allow(request),
            Decision::Allowed,
            Some("not a hook"),
        )));
    }
    Ok(verdict)
}

/// `response` carrying the verdict's patch (which must not be empty).
fn with_patch(
    response: AdmissionResponse,
    verdict: &Verdict,
    encoding: PatchEncoding,
) -> AdmissionResponse {
    let patch_json =
        serde_json::to_vec(&verdict.patch).expect("a JSON patch always serializes to JSON");
    let patch = match encoding {
        PatchEncoding::Base64 => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(&patch_json))
        }
        PatchEncoding::ByteArray => Value::Array(patch_json.into_iter().map(Value::from).collect()),
    };
    AdmissionResponse {
        patch: Some(patch),
        patch_type: Some("JSONPatch"),
        ..response
    }
}

/// The policy's decision on the verdict: a denial (with the warnings), or an allow with the
/// warnings of warn-mode rules.
fn decide(request: &AdmissionRequest, verdict: &Verdict) -> (AdmissionResponse, Decision) {
    let warnings: Vec<String> = verdict
        .in_mode(Mode::Warn)
        .map(Violation::describe)
        .collect();
    if let Some(message) = verdict.denial_message() {
        let response = AdmissionResponse {
            allowed: false,
            status: Some(Status {
                code: 403,
                reason: "Forbidden".into(),
                message,
            }),
            warnings,
            ..allow(request)
        };
        (response, Decision::Denied)
    } else if !warnings.is_empty() {
        (
            AdmissionResponse {
                warnings,
                ..allow(request)
            },
            Decision::Warned,
        )
    } else {
        (allow(request), Decision::Allowed)
    }
}

/// `/admit`: `/mutate` and `/validate` in one answer. The verdict's findings are already those
/// of the object as patched, so the decision is the one `/validate` would give on the object
/// `/mutate` returns, as long as no later mutation changes it (the registration reinvokes
/// the webhook when one does).
fn admit(policy: &Policy, request: &AdmissionRequest, encoding: PatchEncoding) -> Outcome {
    let verdict = match hook_verdict(policy, request) {
        Ok(verdict) => verdict,
        Err(outcome) => return *outcome,
    };
    let (response, decision) = decide(request, &verdict);
    let skipped = verdict.exempt.then_some("exempt namespace");
    if decision == Decision::Denied || verdict.patch.is_empty() {
        return Outcome {
            review: respond(response),
            decision,
            skipped,
            applied_defaults: Vec::new(),
            violations: verdict.violations,
        };
    }
    Outcome {
        review: respond(with_patch(response, &verdict, encoding)),
        decision: Decision::Patched,
        skipped,
        applied_defaults: verdict.applied_defaults,
        violations: verdict.violations,
    }
}

/// `/validate`: deny on enforce-mode violations, warn on warn-mode ones; audit-mode ones are
/// only reported in [`Outcome::violations`] for logs and metrics.
fn validate(policy: &Policy, request: &AdmissionRequest) -> Outcome {
    let verdict = match hook_verdict(policy, request) {
        Ok(verdict) => verdict,
        Err(outcome) => return *outcome,
    };
    let (response, decision) = decide(request, &verdict);
    Outcome {
        review: respond(response),
        decision,
        skipped: verdict.exempt.then_some("exempt namespace"),
        applied_defaults: Vec::new(),
        violations: verdict.violations,
    }
}
