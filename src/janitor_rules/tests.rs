use super::*;
use serde_json::json;

const NOW: i64 = 1_800_000_000;

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn candidate<'a>(
    kind: &'a str,
    a: &'a BTreeMap<String, String>,
    outcome: Outcome,
) -> Candidate<'a> {
    Candidate {
        kind,
        annotations: a,
        created: Some(NOW - 3600),
        deleting: false,
        controlled: false,
        outcome,
    }
}

fn recorded(phase: HookPhase) -> RecordEvidence {
    RecordEvidence::Read {
        run: Some(RecordedRun {
            phase,
            completed: Some(NOW - 10),
        }),
        busy: false,
    }
}

const TIMING: Timing = Timing {
    grace: 120,
    keep_failed: 86_400,
    orphan_grace: 600,
};

#[test]
fn stamp_round_trips_and_rejects_malformed_values() {
    let a = annotations(&[(RELEASE_STAMP_ANNOTATION, &stamp_value("team", "demo"))]);
    assert_eq!(
        stamped_release(&a),
        Some(ReleaseRef {
            namespace: "team".into(),
            name: "demo".into()
        })
    );
    for bad in ["demo", "/demo", "team/", "a/b/c", ""] {
        let a = annotations(&[(RELEASE_STAMP_ANNOTATION, bad)]);
        assert_eq!(stamped_release(&a), None, "{bad:?}");
    }
    assert_eq!(stamped_release(&BTreeMap::new()), None);
}

#[test]
fn exempt_namespaces_and_the_opt_out_label() {
    let exempt = vec!["kube-system".to_string()];
    assert!(namespace_exempt("kube-system", &BTreeMap::new(), &exempt));
    assert!(!namespace_exempt("team", &BTreeMap::new(), &exempt));
    let skip = annotations(&[(NAMESPACE_OPT_OUT_LABEL, "skip")]);
    assert!(namespace_exempt("team", &skip, &exempt));
    let other = annotations(&[(NAMESPACE_OPT_OUT_LABEL, "audit")]);
    assert!(!namespace_exempt("team", &other, &exempt));
}

#[test]
fn outcomes_of_jobs_and_pods() {
    let job = |t: &str| {
        json!({"status": {"conditions": [
            {"type": t, "status": "True", "lastTransitionTime": "2027-01-15T08:00:00Z"}
        ]}})
    };
    let at = "2027-01-15T08:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_second();
    assert_eq!(
        Outcome::of("Job", &job("Complete")),
        Outcome::Succeeded(Some(at))
    );
    assert_eq!(
        Outcome::of("Job", &job("Failed")),
        Outcome::Failed(Some(at))
    );
    assert_eq!(Outcome::of("Job", &job("Suspended")), Outcome::Running);
    assert_eq!(Outcome::of("Job", &json!({})), Outcome::Running);
    let pod = json!({"status": {"phase": "Failed", "containerStatuses": [
        {"state": {"terminated": {"finishedAt": "2027-01-15T08:00:00Z"}}}
    ]}});
    assert_eq!(Outcome::of("Pod", &pod), Outcome::Failed(Some(at)));
    assert_eq!(
        Outcome::of("Pod", &json!({"status": {"phase": "Running"}})),
        Outcome::Running
    );
    assert_eq!(
        Outcome::of("ServiceAccount", &json!({})),
        Outcome::NotWaited
    );
}

#[test]
fn succeeded_hook_is_deleted_only_once_helm_recorded_the_final_phase() {
    let a = annotations(&[
        ("helm.sh/hook", "post-install"),
        ("helm.sh/hook-delete-policy", "hook-succeeded"),
    ]);
    let c = candidate("Job", &a, Outcome::Succeeded(Some(NOW - 5)));
    assert_eq!(
        policy_verdict(&c, recorded(HookPhase::Succeeded), NOW, TIMING),
        Verdict::Delete(DeleteReason::HookSucceeded)
    );
    // Helm still watching (phase Running, release pending): never.
    let watching = RecordEvidence::Read {
        run: Some(RecordedRun {
            phase: HookPhase::Running,
            completed: None,
        }),
        busy: true,
    };
    assert_eq!(
        policy_verdict(&c, watching, NOW, TIMING),
        Verdict::Keep(KeepReason::ReleaseBusy)
    );
    // Phase not final and Helm done with the release: only after the grace.
    let not_final = RecordEvidence::Read {
        run: Some(RecordedRun {
            phase: HookPhase::Running,
            completed: None,
        }),
        busy: false,
    };
    assert_eq!(
        policy_verdict(&c, not_final, NOW, TIMING),
        Verdict::Wait {
            reason: DeleteReason::HookSucceeded,
            at: Some(NOW - 5 + 120)
        }
    );
    // Records unreadable: the grace after it finished.
    assert_eq!(
        policy_verdict(&c, RecordEvidence::Unreadable, NOW, TIMING),
        Verdict::Wait {
            reason: DeleteReason::HookSucceeded,
            at: Some(NOW + 115)
        }
    );
    assert_eq!(
        policy_verdict(&c, RecordEvidence::Unreadable, NOW + 115, TIMING),
        Verdict::Delete(DeleteReason::HookSucceeded)
    );
}

#[test]
fn no_live_policy_or_default_policy_never_deletes() {
    // Absent: Helm's default before-hook-creation, which only Helm acts on.
    let a = annotations(&[("helm.sh/hook", "post-install")]);
    let c = candidate("Job", &a, Outcome::Succeeded(Some(NOW - 5)));
    assert_eq!(
        policy_verdict(&c, recorded(HookPhase::Succeeded), NOW, TIMING),
        Verdict::Keep(KeepReason::NoPolicyForOutcome)
    );
    // hook-succeeded does not apply to a failed hook.
    let a = annotations(&[
        ("helm.sh/hook", "post-install"),
        ("helm.sh/hook-delete-policy", "hook-succeeded"),
    ]);
    let c = candidate("Job", &a, Outcome::Failed(Some(NOW - 100_000)));
    assert_eq!(
        policy_verdict(&c, recorded(HookPhase::Failed), NOW, TIMING),
        Verdict::Keep(KeepReason::NoPolicyForOutcome)
    );
}

#[test]
fn failed_hook_is_kept_for_keep_failed() {
    let a = annotations(&[
        ("helm.sh/hook", "pre-upgrade"),
        (
            "helm.sh/hook-delete-policy",
            "before-hook-creation,hook-failed",
        ),
    ]);
    let finished = NOW - 60;
    let c = candidate("Job", &a, Outcome::Failed(Some(finished)));
    assert_eq!(
        policy_verdict(&c, recorded(HookPhase::Failed), NOW, TIMING),
        Verdict::Wait {
            reason: DeleteReason::HookFailed,
            at: Some(finished + 86_400)
        }
    );
    assert_eq!(
        policy_verdict(&c, recorded(HookPhase::Failed), finished + 86_400, TIMING),
        Verdict::Delete(DeleteReason::HookFailed)
    );
}

#[test]
fn running_kept_crd_controlled_and_non_hooks_are_never_deleted() {
    let hook = annotations(&[
        ("helm.sh/hook", "post-install"),
        ("helm.sh/hook-delete-policy", "hook-succeeded,hook-failed"),
    ]);
    let running = candidate("Job", &hook, Outcome::Running);
    assert_eq!(
        policy_verdict(&running, recorded(HookPhase::Succeeded), NOW, TIMING),
        Verdict::Keep(KeepReason::Running)
    );
    assert_eq!(
        orphan_verdict(&running, Some(0), NOW, TIMING),
        Verdict::Keep(KeepReason::Running)
    );
    let mut kept = hook.clone();
    kept.insert("helm.sh/resource-policy".into(), " Keep ".into());
    let c = candidate("Job", &kept, Outcome::Succeeded(None));
    assert_eq!(
        orphan_verdict(&c, Some(0), NOW, TIMING),
        Verdict::Keep(KeepReason::ResourcePolicyKeep)
    );
    let crd = candidate("CustomResourceDefinition", &hook, Outcome::NotWaited);
    assert_eq!(
        orphan_verdict(&crd, Some(0), NOW, TIMING),
        Verdict::Keep(KeepReason::NeverDeletedKind)
    );
    let plain = annotations(&[("helm.sh/hook-delete-policy", "hook-succeeded")]);
    let c = candidate("Job", &plain, Outcome::Succeeded(None));
    assert_eq!(
        orphan_verdict(&c, Some(0), NOW, TIMING),
        Verdict::Keep(KeepReason::NotAHook)
    );
    let mut pod = candidate("Pod", &hook, Outcome::Succeeded(None));
    pod.controlled = true;
    assert_eq!(
        orphan_verdict(&pod, Some(0), NOW, TIMING),
        Verdict::Keep(KeepReason::Controlled)
    );
}

#[test]
fn not_waited_kinds_take_their_outcome_from_the_record() {
    let a = annotations(&[
        ("helm.sh/hook", "pre-install"),
        ("helm.sh/hook-delete-policy", "hook-succeeded"),
    ]);
    let c = candidate("ServiceAccount", &a, Outcome::NotWaited);
    assert_eq!(
        policy_verdict(&c, recorded(HookPhase::Succeeded), NOW, TIMING),
        Verdict::Delete(DeleteReason::HookSucceeded)
    );
    assert_eq!(
        policy_verdict(&c, RecordEvidence::Unreadable, NOW, TIMING),
        Verdict::Keep(KeepReason::NoOutcome)
    );
}

#[test]
fn orphans_wait_for_the_orphan_grace() {
    let a = annotations(&[("helm.sh/hook", "pre-install")]);
    let c = candidate("ServiceAccount", &a, Outcome::NotWaited);
    assert_eq!(
        orphan_verdict(&c, None, NOW, TIMING),
        Verdict::Wait {
            reason: DeleteReason::Orphan,
            at: None
        }
    );
    assert_eq!(
        orphan_verdict(&c, Some(NOW - 10), NOW, TIMING),
        Verdict::Wait {
            reason: DeleteReason::Orphan,
            at: Some(NOW + 590)
        }
    );
    assert_eq!(
        orphan_verdict(&c, Some(NOW - 600), NOW, TIMING),
        Verdict::Delete(DeleteReason::Orphan)
    );
    let since = annotations(&[(ORPHANED_SINCE_ANNOTATION, "2027-01-15T08:00:00Z")]);
    assert!(orphaned_since(&since).is_some());
}

#[test]
fn logs_are_bounded_to_the_last_lines_and_bytes() {
    let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
    let (lines, truncated) = bound_log(&text, 50, 8192);
    assert_eq!(lines.len(), 50);
    assert_eq!(lines[0], "line 50");
    assert_eq!(lines[49], "line 99");
    assert!(truncated);
    let (lines, truncated) = bound_log("a\nb\n", 50, 8192);
    assert_eq!(lines, ["a", "b"]);
    assert!(!truncated);
    let (lines, truncated) = bound_log(&text, 50, 20);
    assert_eq!(lines, ["line 98", "line 99"]);
    assert!(truncated);
    // One line longer than the budget: its end, cut at a character boundary.
    let long = "é".repeat(100);
    let (lines, truncated) = bound_log(&long, 50, 11);
    assert!(truncated);
    assert!(lines[0].len() <= 10 && !lines[0].is_empty(), "{lines:?}");
}

#[test]
fn kept_logs_evict_the_oldest_entries() {
    let entry = |at: &str| {
        serde_json::to_string(&KeptLog {
            kind: "Job".into(),
            name: "x".into(),
            uid: "u".into(),
            release: "team/demo".into(),
            reason: "hook-failed".into(),
            captured_at: at.into(),
            containers: vec![],
        })
        .unwrap()
    };
    let mut data = BTreeMap::new();
    data.insert("job.a.json".to_string(), entry("2027-01-01T00:00:03Z"));
    data.insert("job.b.json".to_string(), entry("2027-01-01T00:00:01Z"));
    data.insert("job.c.json".to_string(), entry("2027-01-01T00:00:02Z"));
    assert_eq!(keys_to_evict(&data, "job.d.json", 3), ["job.b.json"]);
    assert_eq!(keys_to_evict(&data, "job.a.json", 3), Vec::<String>::new());
    assert_eq!(keys_to_evict(&data, "job.d.json", 4), Vec::<String>::new());
    assert_eq!(kept_log_key("Job", "demo-migrate"), "job.demo-migrate.json");
    assert_eq!(kept_logs_configmap_name("demo"), "helm-hooks-logs.demo");
    let round: KeptLog = serde_json::from_str(&entry("t")).unwrap();
    assert_eq!(round.captured_at, "t");
    assert!(entry("t").contains("\"capturedAt\""));
}

#[test]
fn expiry_needs_a_readable_time() {
    let a = annotations(&[(EXPIRES_AT_ANNOTATION, "2027-01-15T08:00:00Z")]);
    let at = "2027-01-15T08:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_second();
    assert!(is_expired(&a, at));
    assert!(!is_expired(&a, at - 1));
    assert!(!is_expired(&BTreeMap::new(), i64::MAX));
    let bad = annotations(&[(EXPIRES_AT_ANNOTATION, "soon")]);
    assert!(!is_expired(&bad, i64::MAX));
}
