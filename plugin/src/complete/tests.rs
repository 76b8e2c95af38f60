use super::*;

fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = text.split(' ').map(str::to_string).collect();
    if text.is_empty() {
        words = vec![String::new()];
    }
    words
}

fn fixed(want: &Want) -> Vec<&str> {
    match want {
        Want::Fixed(values) => values.iter().map(String::as_str).collect(),
        other => panic!("not a fixed set: {other:?}"),
    }
}

#[test]
fn the_first_word_is_a_subcommand() {
    let (first, current) = want(&words(""));
    assert!(fixed(&first).contains(&"rerun"));
    assert_eq!(current, "");
    let (after_flags, current) = want(&words("-n demo li"));
    assert!(fixed(&after_flags).contains(&"list"));
    assert_eq!(current, "li");
}

#[test]
fn release_names_follow_list_rerun_and_cleanup() {
    for sub in ["list", "rerun", "cleanup"] {
        assert_eq!(want(&words(&format!("{sub} "))).0, Want::Releases, "{sub}");
        assert_eq!(want(&words(&format!("-n demo {sub} de"))).0, Want::Releases);
    }
    assert_eq!(want(&words("list demo ")).0, Want::Nothing);
}

/// Issue 14: `--event <TAB>` completed file names although events are a fixed set.
#[test]
fn events_namespaces_contexts_and_outputs_are_completed_as_values() {
    let (w, _) = want(&words("rerun demo --event "));
    assert_eq!(fixed(&w).len(), HookEvent::ALL.len());
    assert!(fixed(&w).contains(&"pre-upgrade"));
    let (w, current) = want(&words("rerun demo --event=pre"));
    assert!(fixed(&w).contains(&"--event=pre-upgrade"));
    assert_eq!(current, "--event=pre");
    assert_eq!(want(&words("list -n ")).0, Want::Namespaces);
    assert_eq!(want(&words("--context ")).0, Want::Contexts);
    assert!(fixed(&want(&words("list demo -o ")).0).contains(&"wide"));
    assert_eq!(fixed(&want(&words("lint -o ")).0), ["text", "json"]);
    assert_eq!(want(&words("lint -f ")).0, Want::Files);
}

#[test]
fn hook_names_follow_rerun_hook_and_flags_follow_a_dash() {
    assert_eq!(
        want(&words("rerun demo --event pre-upgrade --hook ")).0,
        Want::Hooks {
            release: "demo".into()
        }
    );
    let flags = want(&words("cleanup demo --")).0;
    assert!(fixed(&flags).contains(&"--dry-run"));
    assert!(fixed(&flags).contains(&"--namespace"));
}

#[test]
fn connection_flags_are_read_from_the_words() {
    let c = connection_of(&words("-n team --context=kind list "));
    assert_eq!(c.namespace.as_deref(), Some("team"));
    assert_eq!(c.context.as_deref(), Some("kind"));
}

#[tokio::test(flavor = "current_thread")]
async fn fixed_sets_are_filtered_by_the_prefix_and_never_offer_files() {
    let (values, directive) =
        candidates(&want(&words("rerun demo --event post-")).0, &[], "post-").await;
    assert_eq!(
        values,
        [
            "post-install",
            "post-delete",
            "post-upgrade",
            "post-rollback"
        ]
    );
    assert_eq!(directive, NO_FILE_COMPLETION);
}

#[test]
fn policy_offers_show_and_export_and_its_flags() {
    assert_eq!(fixed(&want(&words("policy ")).0), ["show", "export"]);
    assert!(fixed(&want(&words("")).0).contains(&"policy"));
    assert!(fixed(&want(&words("policy export --")).0).contains(&"--allow-partial"));
    assert!(fixed(&want(&words("lint --")).0).contains(&"--policy-from-cluster"));
}
