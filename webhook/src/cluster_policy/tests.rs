use super::*;
use serde_json::json;

fn object(
    name: &str,
    priority: i32,
    selector: Option<serde_json::Value>,
    image_tag: &str,
) -> serde_json::Value {
    let mut spec = json!({"priority": priority, "rules": {"image-tag": {"mode": image_tag}}});
    if let Some(selector) = selector {
        spec["namespaceSelector"] = selector;
    }
    json!({
        "apiVersion": "hooks.helm-hooks.io/v1alpha1",
        "kind": "HookPolicy",
        "metadata": {"name": name},
        "spec": spec,
    })
}

fn image_tag_mode(store: &ClusterPolicies, ns: Option<&str>) -> helm_hooks::policy::Mode {
    store
        .select(ns)
        .rule(helm_hooks::policy::RuleId::ImageTag, ns)
        .mode
}

#[test]
fn selects_by_the_namespace_labels_with_the_cores_precedence() {
    use helm_hooks::policy::Mode;
    let store = ClusterPolicies::default();
    let metrics = Metrics::new();
    let mut state = PolicyState::default();
    assert_eq!(image_tag_mode(&store, Some("shop")), Mode::Warn, "built-in");
    for o in [
        object("base", 0, None, "audit"),
        object(
            "prod",
            5,
            Some(json!({"matchLabels": {"env": "prod"}})),
            "enforce",
        ),
    ] {
        state
            .objects
            .insert(o["metadata"]["name"].as_str().unwrap().into(), o);
    }
    state.rebuild(&store, &metrics);
    store.namespaces.write().unwrap().insert(
        "shop".into(),
        [("env".to_string(), "prod".to_string())].into(),
    );
    assert_eq!(image_tag_mode(&store, Some("shop")), Mode::Enforce);
    assert_eq!(image_tag_mode(&store, Some("unknown-yet")), Mode::Audit);
    assert_eq!(image_tag_mode(&store, None), Mode::Audit);

    // An object that does not parse keeps its last good version.
    state.objects.insert(
        "prod".into(),
        object(
            "prod",
            5,
            Some(json!({"matchLabels": {"env": "prod"}})),
            "sometimes",
        ),
    );
    state.rebuild(&store, &metrics);
    assert_eq!(image_tag_mode(&store, Some("shop")), Mode::Enforce);

    // Deleting every object brings the built-in policy back.
    state.objects.clear();
    state.rebuild(&store, &metrics);
    assert_eq!(image_tag_mode(&store, Some("shop")), Mode::Warn);
}

#[test]
fn not_ready_until_listed_then_ready_with_a_note_while_a_watch_is_down() {
    let store = ClusterPolicies::default();
    let why = store.readiness().unwrap_err();
    assert!(why.contains("first list of hookpolicies"), "{why}");
    assert!(store.down("hookpolicies", "connection refused".into()));
    assert!(
        !store.down("hookpolicies", "connection refused".into()),
        "reported once"
    );
    assert!(
        store
            .readiness()
            .unwrap_err()
            .contains("connection refused")
    );
    store.up("hookpolicies");
    store.listed("hookpolicies");
    store.listed("namespaces");
    assert_eq!(store.readiness(), Ok(None));
    store.down("namespaces", "403".into());
    let note = store.readiness().unwrap().unwrap();
    assert!(
        note.contains("last good policy stays in force") && note.contains("namespaces: since"),
        "{note}"
    );
    assert!(store.up("namespaces"));
    assert_eq!(store.readiness(), Ok(None));
}
