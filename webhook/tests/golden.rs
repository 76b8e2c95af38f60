//! Golden tests: AdmissionReview in (`tests/golden/cases/*.json`) → response out
//! (`tests/golden/expected/*.json`), for every default and every rule in each mode.
//!
//! A case file is `{"review": AdmissionReview, "policy": optional YAML}`. Each case is answered
//! by `/mutate` and `/validate`; `rule-<id>` cases are validated once per mode of that rule.
//! The expected file holds the AdmissionReview response plus, for review, the decoded patch and
//! what goes to logs and metrics only (decision, violations with their modes, defaults).
//!
//! Regenerate after a deliberate change with `UPDATE_GOLDEN=1 cargo test -p
//! helm-hooks-webhook --test golden`, then review the diff.

use base64::Engine as _;
use helm_hooks::policy::{Mode, Policy, RuleId};
use helm_hooks_webhook::admission::{self, Decision, Endpoint, Outcome, PatchEncoding};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const MODES: [Mode; 4] = [Mode::Enforce, Mode::Warn, Mode::Audit, Mode::Off];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

struct Case {
    name: String,
    review: Value,
    policy: Policy,
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = std::fs::read_dir(golden_dir().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let policy = match file["policy"].as_str() {
                Some(yaml) => Policy::from_yaml(yaml).unwrap(),
                None => Policy::builtin(),
            };
            Case {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                review: file["review"].clone(),
                policy,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(cases.len() >= 28, "golden cases missing");
    cases
}

fn answer(endpoint: Endpoint, policy: &Policy, review: &Value) -> Outcome {
    let request = admission::parse_review(&serde_json::to_vec(review).unwrap()).unwrap();
    admission::review(endpoint, policy, &request, PatchEncoding::Base64)
}

fn decoded_patch(outcome: &Outcome) -> Value {
    match &outcome.review.response.patch {
        Some(Value::String(b64)) => serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap(),
        Some(other) => panic!("patch is not base64: {other}"),
        None => Value::Null,
    }
}

fn record(outcome: &Outcome) -> Value {
    json!({
        "response": outcome.review,
        "decodedPatch": decoded_patch(outcome),
        "decision": outcome.decision.as_str(),
        "violations": outcome.violations.iter().map(|v| json!({
            "rule": v.rule.as_str(), "mode": v.mode.as_str(), "field": v.field, "line": v.to_string(),
        })).collect::<Vec<_>>(),
        "appliedDefaults": outcome.applied_defaults.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
    })
}

/// Semantic checks that hold whatever the golden files say.
fn check_invariants(case: &Case, endpoint: Endpoint, outcome: &Outcome) {
    let request = &case.review["request"];
    let response = &outcome.review.response;
    assert_eq!(
        response.uid,
        request["uid"].as_str().unwrap(),
        "{}",
        case.name
    );
    assert_eq!(outcome.review.api_version, "admission.k8s.io/v1");
    assert_eq!(outcome.review.kind, "AdmissionReview");
    match endpoint {
        Endpoint::Mutate => {
            assert!(
                response.allowed || outcome.decision == Decision::Invalid,
                "{}",
                case.name
            );
            if response.patch.is_some() {
                assert_eq!(response.patch_type, Some("JSONPatch"));
                assert_eq!(request["operation"], "CREATE", "mutates only on CREATE");
                // Applying the patch gives an object that needs no further patch.
                let patch: json_patch::Patch =
                    serde_json::from_value(decoded_patch(outcome)).unwrap();
                let mut object = request["object"].clone();
                json_patch::patch(&mut object, &patch).unwrap();
                let mut again = case.review.clone();
                again["request"]["object"] = object;
                let second = answer(Endpoint::Mutate, &case.policy, &again);
                assert!(
                    second.review.response.patch.is_none(),
                    "{}: not idempotent",
                    case.name
                );
            }
        }
        Endpoint::Validate => {
            assert!(response.patch.is_none());
            let enforce: Vec<_> = outcome
                .violations
                .iter()
                .filter(|v| v.mode == Mode::Enforce)
                .collect();
            if enforce.is_empty() {
                assert!(
                    response.allowed || outcome.decision == Decision::Invalid,
                    "{}",
                    case.name
                );
            } else {
                assert!(!response.allowed, "{}", case.name);
                let status = response.status.as_ref().unwrap();
                assert_eq!(status.code, 403);
                for v in enforce {
                    assert!(status.message.contains(&v.to_string()), "{}", case.name);
                }
            }
            let warn: Vec<String> = outcome
                .violations
                .iter()
                .filter(|v| v.mode == Mode::Warn)
                .map(|v| v.to_string())
                .collect();
            assert_eq!(response.warnings, warn, "{}", case.name);
            for w in &response.warnings {
                // The design aims at 120 characters (the core's `Display`); the apiserver
                // truncates warnings above 256. The webhook passes the core's line unchanged.
                assert!(
                    w.chars().count() <= 256,
                    "{}: warning too long: {w}",
                    case.name
                );
            }
        }
        // Checked against the other two in `admit_is_mutate_then_validate`.
        Endpoint::Admit => {}
    }
}

#[test]
fn golden() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let expected_dir = golden_dir().join("expected");
    std::fs::create_dir_all(&expected_dir).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for case in cases() {
        let mut runs: Vec<(String, Endpoint, Policy)> = vec![(
            format!("{}.mutate", case.name),
            Endpoint::Mutate,
            case.policy.clone(),
        )];
        if let Some(rule) = case.name.strip_prefix("rule-") {
            let rule: RuleId = rule.parse().unwrap();
            for mode in MODES {
                let mut policy = case.policy.clone();
                let mut setting = policy.rule(rule, None);
                setting.mode = mode;
                policy.rules.insert(rule, setting);
                runs.push((
                    format!("{}.validate.{mode}", case.name),
                    Endpoint::Validate,
                    policy,
                ));
            }
        } else {
            runs.push((
                format!("{}.validate", case.name),
                Endpoint::Validate,
                case.policy.clone(),
            ));
        }
        for (name, endpoint, policy) in runs {
            count += 1;
            let outcome = answer(endpoint, &policy, &case.review);
            check_invariants(&case, endpoint, &outcome);
            let actual = record(&outcome);
            let path = expected_dir.join(format!("{name}.json"));
            let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
            if update {
                std::fs::write(&path, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(expected) if expected == text => {}
                Ok(expected) => failures.push(format!(
                    "{name}: differs\n--- expected\n{expected}\n+++ actual\n{text}"
                )),
                Err(_) => failures.push(format!("{name}: missing {}", path.display())),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} golden outputs differ (UPDATE_GOLDEN=1 to regenerate, then review):\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{count} golden outputs match");
}

/// The rule-mode matrix says what it should: enforce denies, warn warns, audit only reports,
/// off is silent — for every rule.
#[test]
fn every_rule_in_every_mode() {
    for rule in RuleId::ALL {
        let case = cases()
            .into_iter()
            .find(|c| c.name == format!("rule-{rule}"))
            .unwrap_or_else(|| panic!("no golden case for rule {rule}"));
        for mode in MODES {
            let mut policy = case.policy.clone();
            let mut setting = policy.rule(rule, None);
            setting.mode = mode;
            policy.rules.insert(rule, setting);
            let outcome = answer(Endpoint::Validate, &policy, &case.review);
            let mine: Vec<_> = outcome
                .violations
                .iter()
                .filter(|v| v.rule == rule)
                .collect();
            let response = &outcome.review.response;
            let mentions = |s: &str| s.starts_with(&format!("{rule}: "));
            match mode {
                Mode::Off => assert!(mine.is_empty(), "{rule} off"),
                Mode::Enforce => {
                    assert!(!mine.is_empty(), "{rule} enforce found nothing");
                    assert!(!response.allowed);
                    let message = &response.status.as_ref().unwrap().message;
                    assert!(message.contains(&format!("{rule}: ")), "{message}");
                    assert!(message.contains(&mine[0].field), "{message}");
                }
                Mode::Warn => {
                    assert!(response.allowed, "{rule} warn");
                    assert!(response.warnings.iter().any(|w| mentions(w)), "{rule}");
                }
                Mode::Audit => {
                    assert!(response.allowed, "{rule} audit");
                    assert!(!mine.is_empty());
                    assert!(!response.warnings.iter().any(|w| mentions(w)), "{rule}");
                }
            }
        }
    }
}

#[test]
fn reviews_that_cannot_be_answered_are_errors() {
    use admission::ReviewError;
    let ok = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u", "operation": "CREATE", "object": {}}});
    let parse = |v: &Value| admission::parse_review(&serde_json::to_vec(v).unwrap());
    assert!(parse(&ok).is_ok());
    assert!(matches!(
        admission::parse_review(b"{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\""),
        Err(ReviewError::Malformed(_))
    ));
    assert!(matches!(
        admission::parse_review(b"not json"),
        Err(ReviewError::Malformed(_))
    ));
    assert!(matches!(
        admission::parse_review(b"[1,2]"),
        Err(ReviewError::Malformed(_))
    ));
    let mut v1beta1 = ok.clone();
    v1beta1["apiVersion"] = json!("admission.k8s.io/v1beta1");
    assert!(matches!(
        parse(&v1beta1),
        Err(ReviewError::Unsupported {
            field: "apiVersion",
            ..
        })
    ));
    let mut pod = ok.clone();
    pod["kind"] = json!("Pod");
    assert!(matches!(
        parse(&pod),
        Err(ReviewError::Unsupported { field: "kind", .. })
    ));
    let mut no_request = ok.clone();
    no_request.as_object_mut().unwrap().remove("request");
    assert_eq!(parse(&no_request).unwrap_err(), ReviewError::MissingRequest);
    let mut no_uid = ok.clone();
    no_uid["request"]["uid"] = json!("");
    assert_eq!(parse(&no_uid).unwrap_err(), ReviewError::MissingUid);
    let mut wrong_type = ok.clone();
    wrong_type["request"]["object"] = json!("a string");
    let request = parse(&wrong_type).unwrap();
    for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
        let outcome = admission::review(endpoint, &Policy::builtin(), &request, Default::default());
        assert_eq!(outcome.decision, Decision::Invalid);
        assert_eq!(outcome.review.response.status.as_ref().unwrap().code, 400);
    }
}

#[test]
fn byte_array_patch_encoding_carries_the_same_patch() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "default-raw-job")
        .unwrap();
    let request = admission::parse_review(&serde_json::to_vec(&case.review).unwrap()).unwrap();
    let b64 = admission::review(
        Endpoint::Mutate,
        &case.policy,
        &request,
        PatchEncoding::Base64,
    );
    let bytes = admission::review(
        Endpoint::Mutate,
        &case.policy,
        &request,
        PatchEncoding::ByteArray,
    );
    let array: Vec<u8> = serde_json::from_value(bytes.review.response.patch.unwrap()).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&array).unwrap(),
        decoded_patch(&b64)
    );
}

/// The post-renderer (`kubectl hooks post-render`) gives every hook of every case exactly the
/// object `/mutate`'s patch makes, and denies with `/validate`'s message: one engine, one patch.
#[test]
fn post_render_matches_mutate_and_validate_for_every_case() {
    let mut compared = 0;
    for mut case in cases() {
        // The apiserver sends an object in the request's namespace; some cases leave the
        // object's own namespace out or different, and the post-renderer reads only the object.
        if let Some(ns) = case.review["request"]["namespace"]
            .as_str()
            .map(str::to_string)
            && case.review["request"]["object"]["metadata"].is_object()
        {
            case.review["request"]["object"]["metadata"]["namespace"] = json!(ns);
        }
        let request = &case.review["request"];
        let object = &request["object"];
        // What Helm renders is created: updates, deletes and subresources never reach a
        // post-renderer (the webhook passes them through).
        let created = request["operation"] == "CREATE"
            && request["subResource"].as_str().is_none_or(str::is_empty);
        if !created
            || !object.is_object()
            || object
                .pointer("/metadata/annotations/helm.sh~1hook")
                .is_none()
        {
            continue;
        }
        let namespace = request["namespace"].as_str();
        let yaml = serde_yaml_ng::to_string(object).unwrap();
        let rendered =
            helm_hooks::post_render::post_render(&case.policy, &yaml, namespace).unwrap();

        let mutate = answer(Endpoint::Mutate, &case.policy, &case.review);
        let mut expected = object.clone();
        if let Value::Array(_) = decoded_patch(&mutate) {
            let patch: json_patch::Patch = serde_json::from_value(decoded_patch(&mutate)).unwrap();
            json_patch::patch(&mut expected, &patch).unwrap();
        }
        let got: Vec<Value> = helm_hooks::manifest::parse_manifests(&rendered.manifests)
            .unwrap()
            .into_iter()
            .map(|o| o.value)
            .collect();
        assert_eq!(
            got,
            [expected],
            "{}: post-render differs from /mutate",
            case.name
        );

        let validate = answer(Endpoint::Validate, &case.policy, &case.review);
        let denial = validate
            .review
            .response
            .status
            .as_ref()
            .map(|s| s.message.clone());
        assert_eq!(
            rendered.denials.first().cloned(),
            denial,
            "{}: post-render's denial differs from /validate's",
            case.name
        );
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} hook cases compared");
}

/// `/admit` answers what the two-call registration would: `/mutate`'s patch, then `/validate`'s
/// decision on the object as patched — for every golden case, each rule case in every mode.
#[test]
fn admit_is_mutate_then_validate() {
    let mut count = 0;
    for case in cases() {
        let mut policies = vec![case.policy.clone()];
        if let Some(rule) = case.name.strip_prefix("rule-") {
            let rule: RuleId = rule.parse().unwrap();
            policies = MODES
                .iter()
                .map(|&mode| {
                    let mut policy = case.policy.clone();
                    let mut setting = policy.rule(rule, None);
                    setting.mode = mode;
                    policy.rules.insert(rule, setting);
                    policy
                })
                .collect();
        }
        for policy in policies {
            count += 1;
            let mutated = answer(Endpoint::Mutate, &policy, &case.review);
            let mut patched = case.review.clone();
            if mutated.review.response.patch.is_some() {
                let patch: json_patch::Patch =
                    serde_json::from_value(decoded_patch(&mutated)).unwrap();
                json_patch::patch(&mut patched["request"]["object"], &patch).unwrap();
            }
            let validated = answer(Endpoint::Validate, &policy, &patched);
            let admitted = answer(Endpoint::Admit, &policy, &case.review);
            let (two, one) = (&validated.review.response, &admitted.review.response);
            let name = &case.name;
            assert_eq!(one.allowed, two.allowed, "{name}: allowed");
            assert_eq!(one.status, two.status, "{name}: status");
            assert_eq!(one.warnings, two.warnings, "{name}: warnings");
            let lines = |o: &Outcome| {
                o.violations
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
            };
            assert_eq!(lines(&admitted), lines(&validated), "{name}: findings");
            if one.allowed {
                assert_eq!(
                    decoded_patch(&admitted),
                    decoded_patch(&mutated),
                    "{name}: patch"
                );
                assert_eq!(one.patch_type, mutated.review.response.patch_type, "{name}");
            } else {
                assert!(one.patch.is_none(), "{name}: a denial carries no patch");
            }
        }
    }
    assert!(count >= 60, "only {count} comparisons");
    println!("{count} cases: /admit = /mutate then /validate");
}
