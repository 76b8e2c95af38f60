use super::*;

fn annotations(pairs: &[(&str, &str)]) -> Annotations {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn hook(pairs: &[(&str, &str)]) -> ParsedHook {
    let mut all = vec![(HOOK_ANNOTATION, "pre-install")];
    all.extend_from_slice(pairs);
    parse_hook(&annotations(&all)).expect("a hook")
}

#[test]
fn object_without_hook_annotation_is_not_a_hook() {
    assert_eq!(parse_hook(&annotations(&[(WEIGHT_ANNOTATION, "5")])), None);
}

#[test]
fn events_are_split_trimmed_and_lower_cased() {
    let parsed = parse_hook(&annotations(&[(
        HOOK_ANNOTATION,
        " Pre-Install , POST-upgrade",
    )]))
    .unwrap();
    assert_eq!(
        parsed.spec.events,
        vec![HookEvent::PreInstall, HookEvent::PostUpgrade]
    );
    assert!(!parsed.dropped);
    assert!(parsed.diagnostics.is_empty());
}

#[test]
fn test_success_is_an_alias_of_test() {
    let parsed = parse_hook(&annotations(&[(HOOK_ANNOTATION, "test-success")])).unwrap();
    assert_eq!(parsed.spec.events, vec![HookEvent::Test]);
    assert!(parsed.diagnostics.is_empty());
}

#[test]
fn weight_follows_go_atoi() {
    for (value, expected) in [
        ("5", 5),
        ("+5", 5),
        ("-5", -5),
        ("-0", 0),
        ("0010", 10),
        ("5.0", 0),
        (" 5", 0),
        ("5 ", 0),
        ("abc", 0),
        ("", 0),
        ("+", 0),
        ("1_000", 0),
        ("99999999999999999999", 0),
    ] {
        assert_eq!(
            hook(&[(WEIGHT_ANNOTATION, value)]).spec.weight,
            expected,
            "weight {value:?}"
        );
    }
}

#[test]
fn default_delete_policy_applies_only_when_the_list_is_empty() {
    let none = hook(&[]);
    assert!(none.spec.delete_policies.is_empty());
    assert_eq!(
        none.spec.effective_delete_policies(),
        vec![DeletePolicy::BeforeHookCreation]
    );

    let succeeded = hook(&[(DELETE_POLICY_ANNOTATION, "hook-succeeded")]);
    assert_eq!(
        succeeded.spec.effective_delete_policies(),
        vec![DeletePolicy::HookSucceeded]
    );
    assert!(
        !succeeded
            .spec
            .has_delete_policy(&DeletePolicy::BeforeHookCreation)
    );

    let empty = hook(&[(DELETE_POLICY_ANNOTATION, "")]);
    assert_eq!(
        empty.spec.delete_policies,
        vec![DeletePolicy::Unknown(String::new())]
    );
    assert!(
        !empty
            .spec
            .has_delete_policy(&DeletePolicy::BeforeHookCreation)
    );
}

#[test]
fn unknown_delete_policies_are_kept_and_never_match() {
    let parsed = hook(&[(
        DELETE_POLICY_ANNOTATION,
        "hook-succeed,before-hook-creation",
    )]);
    assert_eq!(
        parsed.spec.delete_policies,
        vec![
            DeletePolicy::Unknown("hook-succeed".into()),
            DeletePolicy::BeforeHookCreation
        ]
    );
    assert!(!parsed.spec.has_delete_policy(&DeletePolicy::HookSucceeded));
}

#[test]
fn output_log_policy_and_keep_are_parsed() {
    let parsed = hook(&[
        (OUTPUT_LOG_POLICY_ANNOTATION, "hook-failed, Hook-Succeeded"),
        (RESOURCE_POLICY_ANNOTATION, " Keep"),
    ]);
    assert_eq!(
        parsed.spec.output_log_policies,
        vec![OutputLogPolicy::HookFailed, OutputLogPolicy::HookSucceeded]
    );
    assert!(parsed.spec.keep);
    assert!(parsed.diagnostics.is_empty());
}

/// (annotations, diagnostic kind, annotation, value, fix fragment, dropped)
type MistakeCase<'a> = (
    Vec<(&'a str, &'a str)>,
    DiagnosticKind,
    &'a str,
    &'a str,
    &'a str,
    bool,
);

/// Every annotation mistake Helm swallows: (annotations, expected diagnostic kind, annotation
/// named, bad value named, a fragment of the fix, whether Helm drops the object).
#[test]
fn every_silent_annotation_mistake_gets_a_diagnostic() {
    use DiagnosticKind::*;
    let s = |v: &str| Some(v.to_string());
    let cases: Vec<MistakeCase> = vec![
        (
            vec![(HOOK_ANNOTATION, "pre-instal")],
            UnknownEvent {
                suggestion: s("pre-install"),
            },
            HOOK_ANNOTATION,
            "pre-instal",
            "did you mean \"pre-install\"",
            true,
        ),
        (
            vec![(HOOK_ANNOTATION, "pre-install,post-upgarde")],
            UnknownEvent {
                suggestion: s("post-upgrade"),
            },
            HOOK_ANNOTATION,
            "post-upgarde",
            "skipping unknown hook",
            true,
        ),
        (
            vec![(HOOK_ANNOTATION, "always")],
            UnknownEvent { suggestion: None },
            HOOK_ANNOTATION,
            "always",
            "use one of: pre-install",
            true,
        ),
        (
            vec![(HOOK_ANNOTATION, "")],
            EmptyEvent,
            HOOK_ANNOTATION,
            "",
            "skips this object",
            true,
        ),
        (
            vec![(HOOK_ANNOTATION, "pre-install,")],
            EmptyEvent,
            HOOK_ANNOTATION,
            "pre-install,",
            "stray comma",
            true,
        ),
        (
            vec![
                (HOOK_ANNOTATION, "pre-install"),
                (DELETE_POLICY_ANNOTATION, "hook-succeed"),
            ],
            UnknownDeletePolicy {
                suggestion: s("hook-succeeded"),
            },
            DELETE_POLICY_ANNOTATION,
            "hook-succeed",
            "did you mean \"hook-succeeded\"",
            false,
        ),
        (
            vec![
                (HOOK_ANNOTATION, "pre-install"),
                (DELETE_POLICY_ANNOTATION, "before-hook-create"),
            ],
            UnknownDeletePolicy {
                suggestion: s("before-hook-creation"),
            },
            DELETE_POLICY_ANNOTATION,
            "before-hook-create",
            "never matches",
            false,
        ),
        (
            vec![
                (HOOK_ANNOTATION, "pre-install"),
                (DELETE_POLICY_ANNOTATION, "delete-always"),
            ],
            UnknownDeletePolicy { suggestion: None },
            DELETE_POLICY_ANNOTATION,
            "delete-always",
            "use one of: before-hook-creation",
            false,
        ),
        (
            vec![
                (HOOK_ANNOTATION, "pre-install"),
                (DELETE_POLICY_ANNOTATION, ""),
            ],
            EmptyDeletePolicy,
            DELETE_POLICY_ANNOTATION,
            "",
            "switches off",
            false,
        ),
        (
            vec![
                (HOOK_ANNOTATION, "pre-install"),
                (DELETE_POLICY_ANNOTATION, "hook-succeeded"),
            ],
            DefaultDeletePolicyOff,
            DELETE_POLICY_ANNOTATION,
            "hook-succeeded",
            "add before-hook-creation",
            false,
        ),
        (
            vec![(HOOK_ANNOTATION, "pre-install"), (WEIGHT_ANNOTATION, "5.0")],
            WeightNotInteger,
            WEIGHT_ANNOTATION,
            "5.0",
            "write \"5\"",
            false,
        ),
        (
            vec![(HOOK_ANNOTATION, "pre-install"), (WEIGHT_ANNOTATION, " 5")],
            WeightNotInteger,
            WEIGHT_ANNOTATION,
            " 5",
            "write \"5\"",
            false,
        ),
        (
            vec![(HOOK_ANNOTATION, "pre-install"), (WEIGHT_ANNOTATION, "abc")],
            WeightNotInteger,
            WEIGHT_ANNOTATION,
            "abc",
            "plain integer",
            false,
        ),
        (
            vec![(HOOK_ANNOTATION, "pre-install"), (WEIGHT_ANNOTATION, "")],
            WeightNotInteger,
            WEIGHT_ANNOTATION,
            "",
            "weight 0",
            false,
        ),
        (
            vec![
                (HOOK_ANNOTATION, "pre-install"),
                (OUTPUT_LOG_POLICY_ANNOTATION, "hook-fail"),
            ],
            UnknownOutputLogPolicy {
                suggestion: s("hook-failed"),
            },
            OUTPUT_LOG_POLICY_ANNOTATION,
            "hook-fail",
            "did you mean \"hook-failed\"",
            false,
        ),
        (
            vec![
                (HOOK_ANNOTATION, "pre-install"),
                (RESOURCE_POLICY_ANNOTATION, "keeps"),
            ],
            UnknownResourcePolicy,
            RESOURCE_POLICY_ANNOTATION,
            "keeps",
            "write keep",
            false,
        ),
        (
            vec![(HOOK_ANNOTATION, "pre-install,pre-install")],
            DuplicateValue,
            HOOK_ANNOTATION,
            "pre-install",
            "duplicate",
            false,
        ),
    ];
    for (pairs, kind, annotation, value, fix, dropped) in cases {
        let parsed = parse_hook(&annotations(&pairs)).unwrap();
        let diagnostic = parsed
            .diagnostics
            .iter()
            .find(|d| d.kind == kind)
            .unwrap_or_else(|| panic!("{pairs:?}: no {kind:?} in {:#?}", parsed.diagnostics));
        assert_eq!(diagnostic.annotation, annotation, "{pairs:?}");
        assert_eq!(diagnostic.value, value, "{pairs:?}");
        assert!(
            diagnostic.message.contains(fix),
            "{pairs:?}: {:?} lacks {fix:?}",
            diagnostic.message
        );
        assert_eq!(parsed.dropped, dropped, "{pairs:?}");
    }
}

#[test]
fn correct_annotations_produce_no_diagnostics() {
    let parsed = hook(&[
        (WEIGHT_ANNOTATION, "-5"),
        (
            DELETE_POLICY_ANNOTATION,
            "before-hook-creation,hook-succeeded",
        ),
    ]);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
}

#[test]
fn execution_order_is_weight_then_name_then_kind_then_file() {
    // The case users trip on: a ServiceAccount named after the Job that needs it, same weight.
    let keys = [
        OrderKey {
            weight: 0,
            name: "migrate",
            kind: "Job",
            path: "a.yaml",
            position: 0,
        },
        OrderKey {
            weight: 0,
            name: "migrate-sa",
            kind: "ServiceAccount",
            path: "a.yaml",
            position: 1,
        },
        OrderKey {
            weight: -5,
            name: "zz-first",
            kind: "Pod",
            path: "b.yaml",
            position: 2,
        },
        OrderKey {
            weight: 0,
            name: "migrate",
            kind: "ConfigMap",
            path: "c.yaml",
            position: 3,
        },
        OrderKey {
            weight: 0,
            name: "migrate",
            kind: "Job",
            path: "b.yaml",
            position: 4,
        },
        OrderKey {
            weight: 0,
            name: "migrate",
            kind: "Widget",
            path: "a.yaml",
            position: 5,
        },
        OrderKey {
            weight: 0,
            name: "migrate",
            kind: "Gadget",
            path: "a.yaml",
            position: 6,
        },
    ];
    let names: Vec<_> = execution_order(&keys)
        .into_iter()
        .map(|i| format!("{}/{}@{}", keys[i].kind, keys[i].name, keys[i].path))
        .collect();
    assert_eq!(
        names,
        [
            "Pod/zz-first@b.yaml",
            "ConfigMap/migrate@c.yaml",
            "Job/migrate@a.yaml",
            "Job/migrate@b.yaml",
            "Gadget/migrate@a.yaml",
            "Widget/migrate@a.yaml",
            "ServiceAccount/migrate-sa@a.yaml",
        ]
    );
}

#[test]
fn did_you_mean_ignores_distant_values() {
    assert_eq!(
        did_you_mean("hook-succeed", DeletePolicy::KNOWN),
        Some("hook-succeeded")
    );
    assert_eq!(did_you_mean("xyz", DeletePolicy::KNOWN), None);
}

/// Issue 10, defect 3: each empty item of a comma-heavy annotation copied the whole value into
/// its diagnostic, so memory grew with the square of the commas (20 KB → 458 MB in the
/// webhook). Parsing stays linear and its output bounded, whatever the input.
#[test]
fn comma_heavy_annotations_do_not_grow_memory_quadratically() {
    let commas = ",".repeat(5_000);
    for annotation in [
        HOOK_ANNOTATION,
        DELETE_POLICY_ANNOTATION,
        OUTPUT_LOG_POLICY_ANNOTATION,
    ] {
        let mut pairs = vec![(HOOK_ANNOTATION, "pre-install")];
        pairs.retain(|(k, _)| *k != annotation);
        pairs.push((annotation, commas.as_str()));
        let parsed = parse_hook(&annotations(&pairs)).expect("a hook");
        let bytes: usize = parsed
            .diagnostics
            .iter()
            .map(|d| d.value.len() + d.message.len())
            .sum();
        assert!(
            parsed.diagnostics.len() <= 3 && bytes <= 2_048,
            "{annotation}: {} diagnostics, {bytes} bytes",
            parsed.diagnostics.len()
        );
        assert!(
            parsed
                .diagnostics
                .iter()
                .any(|d| d.message.contains("1024 bytes")),
            "{annotation}: the diagnostic names the limit: {:?}",
            parsed.diagnostics
        );
    }
}

/// `DiagnosticKind::id` is the `kind` serde writes, for every variant.
#[test]
fn diagnostic_ids_agree_with_the_json_kind() {
    let suggestion = || Some("x".to_string());
    let kinds = [
        DiagnosticKind::UnknownEvent {
            suggestion: suggestion(),
        },
        DiagnosticKind::EmptyEvent,
        DiagnosticKind::UnknownDeletePolicy {
            suggestion: suggestion(),
        },
        DiagnosticKind::EmptyDeletePolicy,
        DiagnosticKind::DefaultDeletePolicyOff,
        DiagnosticKind::WeightNotInteger,
        DiagnosticKind::UnknownOutputLogPolicy {
            suggestion: suggestion(),
        },
        DiagnosticKind::UnknownResourcePolicy,
        DiagnosticKind::DuplicateValue,
        DiagnosticKind::AnnotationTooLarge,
    ];
    // A new variant stops this match compiling: add it here and to the list above.
    for kind in &kinds {
        match kind {
            DiagnosticKind::UnknownEvent { .. }
            | DiagnosticKind::EmptyEvent
            | DiagnosticKind::UnknownDeletePolicy { .. }
            | DiagnosticKind::EmptyDeletePolicy
            | DiagnosticKind::DefaultDeletePolicyOff
            | DiagnosticKind::WeightNotInteger
            | DiagnosticKind::UnknownOutputLogPolicy { .. }
            | DiagnosticKind::UnknownResourcePolicy
            | DiagnosticKind::DuplicateValue
            | DiagnosticKind::AnnotationTooLarge => {}
        }
        let json = serde_json::to_value(kind).unwrap();
        assert_eq!(json["kind"], kind.id(), "{kind:?}");
    }
    let ids: std::collections::BTreeSet<_> = kinds.iter().map(DiagnosticKind::id).collect();
    assert_eq!(ids.len(), kinds.len(), "ids are distinct");
}
