use super::*;
use serde_json::json;

fn list() -> Value {
    json!({
        "apiVersion": "hooks.helm-hooks.io/v1alpha1",
        "kind": "HookList",
        "items": [
            {"name": "demo-seed", "weight": 5, "lastRun": {"phase": "Succeeded"},
             "labels": {"app-name": "db", "app.kubernetes.io/name": "demo"}},
            {"name": "demo-migrate", "weight": -5, "lastRun": {"phase": "Failed"}, "labels": {}}
        ]
    })
}

fn render(template: &str) -> String {
    Template::parse(template).unwrap().render(&list())
}

#[test]
fn expressions_print_space_separated_like_kubectl() {
    assert_eq!(render("{.items[*].name}"), "demo-seed demo-migrate");
    assert_eq!(render("{.items[0].weight}"), "5");
    assert_eq!(render("kind={.kind}"), "kind=HookList");
    assert_eq!(render("{.items[1].lastRun}"), r#"{"phase":"Failed"}"#);
}

#[test]
fn range_and_string_literals() {
    assert_eq!(
        render(r#"{range .items[*]}{.name}{"\t"}{.lastRun.phase}{"\n"}{end}"#),
        "demo-seed\tSucceeded\ndemo-migrate\tFailed\n"
    );
}

#[test]
fn filters_and_awkward_member_names() {
    assert_eq!(
        render(r#"{.items[?(@.lastRun.phase=="Failed")].name}"#),
        "demo-migrate"
    );
    assert_eq!(render("{.items[0].labels.app-name}"), "db");
    assert_eq!(
        render(r"{.items[0].labels.app\.kubernetes\.io/name}"),
        "demo"
    );
    assert_eq!(render("{.items[0].labels['app-name']}"), "db");
}

#[test]
fn a_missing_field_prints_nothing() {
    assert_eq!(render("[{.items[0].nope}]"), "[]");
}

#[test]
fn relaxed_expressions_take_braces_or_not() {
    let item = &list()["items"][0];
    for text in [".name", "{.name}", "name"] {
        let t = Template::parse_relaxed(text).unwrap();
        assert_eq!(t.values(item), [&json!("demo-seed")], "{text}");
    }
}

#[test]
fn bad_templates_say_what_is_wrong() {
    let err = |t: &str| Template::parse(t).unwrap_err().to_string();
    assert!(
        err("{.items[}").contains("cannot parse"),
        "{}",
        err("{.items[}")
    );
    assert!(err("{range .items[*]}{.name}").contains("add {end}"));
    assert!(err("{.name").contains("needs a }"));
    assert!(err("{end}").contains("without a {range"));
    assert!(
        err(r#"{"abc}"#).contains("needs a }"),
        "{}",
        err(r#"{"abc}"#)
    );
}
