//! Invariants of the engine over many generated hook objects.

use super::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn maybe<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![Just(None), s.prop_map(Some)].boxed()
}

/// Builds a map from optional fields; `Some(Value::Null)` becomes an explicit null.
fn object_of(fields: Vec<(&'static str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    Value::Object(map)
}

fn capabilities() -> impl Strategy<Value = Value> {
    (
        maybe(proptest::sample::subsequence(
            vec![
                "NET_BIND_SERVICE",
                "SYS_ADMIN",
                "cap_sys_admin",
                "NET_ADMIN",
            ],
            0..3,
        )),
        maybe(proptest::sample::subsequence(vec!["ALL", "NET_RAW"], 0..2)),
    )
        .prop_map(|(add, drop)| {
            object_of(vec![
                ("add", add.map(|a| json!(a))),
                ("drop", drop.map(|d| json!(d))),
            ])
        })
}

fn container_security_context() -> impl Strategy<Value = Value> {
    (
        maybe(any::<bool>()),
        maybe(any::<bool>()),
        maybe(prop_oneof![Just(0i64), Just(1000i64)]),
        maybe(any::<bool>()),
        maybe(capabilities()),
        maybe(Just(Value::Null)),
    )
        .prop_map(
            |(privileged, escalation, uid, non_root, caps, null_field)| {
                object_of(vec![
                    ("privileged", privileged.map(Value::Bool)),
                    ("allowPrivilegeEscalation", escalation.map(Value::Bool)),
                    ("runAsUser", uid.map(|u| json!(u))),
                    ("runAsNonRoot", non_root.map(Value::Bool)),
                    ("capabilities", caps),
                    ("seccompProfile", null_field),
                ])
            },
        )
}

fn container() -> impl Strategy<Value = Value> {
    (
        maybe(container_security_context()),
        prop_oneof![
            Just("busybox"),
            Just("app:1.0"),
            Just("app:latest"),
            Just("app@sha256:abc")
        ],
    )
        .prop_map(|(sc, image)| {
            object_of(vec![
                ("name", Some(json!("c"))),
                ("image", Some(json!(image))),
                ("securityContext", sc),
            ])
        })
}

fn pod_spec() -> impl Strategy<Value = Value> {
    (
        maybe(
            (
                maybe(any::<bool>()),
                maybe(prop_oneof![Just(0i64), Just(1000i64)]),
                maybe(Just(json!({"type": "Localhost", "localhostProfile": "p"}))),
            )
                .prop_map(|(non_root, uid, seccomp)| {
                    object_of(vec![
                        ("runAsNonRoot", non_root.map(Value::Bool)),
                        ("runAsUser", uid.map(|u| json!(u))),
                        ("seccompProfile", seccomp),
                    ])
                }),
        ),
        proptest::collection::vec(container(), 1..3),
        maybe(proptest::collection::vec(container(), 1..2)),
        maybe(prop_oneof![
            Just("Never"),
            Just("Always"),
            Just("OnFailure")
        ]),
    )
        .prop_map(|(sc, containers, init, restart)| {
            object_of(vec![
                ("securityContext", sc),
                ("containers", Some(json!(containers))),
                ("initContainers", init.map(|i| json!(i))),
                ("restartPolicy", restart.map(|r| json!(r))),
            ])
        })
}

fn annotations(hook: bool) -> impl Strategy<Value = Value> {
    (
        maybe(prop_oneof![
            Just("hook-succeeded"),
            Just(""),
            Just("before-hook-creation,hook-failed"),
            Just("hook-succeed")
        ]),
        maybe(prop_oneof![Just("5"), Just("5.0"), Just("-3")]),
    )
        .prop_map(move |(policy, weight)| {
            object_of(vec![
                (
                    "helm.sh/hook",
                    hook.then(|| json!("pre-install,pre-upgrade")),
                ),
                ("helm.sh/hook-delete-policy", policy.map(|p| json!(p))),
                ("helm.sh/hook-weight", weight.map(|w| json!(w))),
                ("app", Some(json!("x"))),
            ])
        })
}

fn hook_object(hook: bool) -> impl Strategy<Value = Value> {
    (annotations(hook), pod_spec(), 0..3u8, maybe(prop_oneof![Just(json!(30)), Just(Value::Null), Just(json!(99999))]))
        .prop_map(|(annotations, spec, kind, deadline)| {
            let metadata = json!({"name": "h", "annotations": annotations});
            match kind {
                0 => {
                    let mut spec = spec;
                    if let Some(d) = deadline { spec["activeDeadlineSeconds"] = d; }
                    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
                }
                1 => {
                    let mut job_spec = json!({"template": {"spec": spec}});
                    if let Some(d) = deadline { job_spec["activeDeadlineSeconds"] = d; }
                    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": job_spec})
                }
                _ => json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": "v"}}),
            }
        })
}

/// Every non-null scalar and every array length, by JSON pointer.
fn explicit_values(value: &Value, at: String, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                explicit_values(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            out.push((format!("{at}#len"), json!(items.len())));
            for (i, v) in items.iter().enumerate() {
                explicit_values(v, format!("{at}/{i}"), out);
            }
        }
        Value::Null => {}
        scalar => out.push((at, scalar.clone())),
    }
}

fn lookup(doc: &Value, key: &str) -> Option<Value> {
    match key.strip_suffix("#len") {
        Some(ptr) => doc
            .pointer(ptr)
            .and_then(Value::as_array)
            .map(|a| json!(a.len())),
        None => doc.pointer(key).cloned(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn patch_applies_keeps_explicit_values_and_is_idempotent(object in hook_object(true)) {
        let policy = Policy::builtin();
        let verdict = evaluate(&policy, &object, Some("ns"));
        let mut patched = object.clone();
        json_patch::patch(&mut patched, &verdict.patch).expect("the patch applies cleanly");

        let mut explicit = Vec::new();
        explicit_values(&object, String::new(), &mut explicit);
        for (ptr, value) in explicit {
            prop_assert_eq!(lookup(&patched, &ptr), Some(value), "{} changed", ptr);
        }

        let again = evaluate(&policy, &patched, Some("ns"));
        prop_assert!(again.patch.is_empty(), "second patch: {:?}", again.patch);
        prop_assert_eq!(again.violations, verdict.violations);
    }

    #[test]
    fn patch_never_creates_a_pair_the_apiserver_rejects(object in hook_object(true)) {
        let verdict = evaluate(&Policy::builtin(), &object, Some("ns"));
        let mut patched = object.clone();
        json_patch::patch(&mut patched, &verdict.patch).unwrap();
        let spec_of = |doc: &Value| doc.pointer("/spec/template/spec").or_else(|| doc.pointer("/spec")).cloned().unwrap_or_default();
        let (before, spec) = (spec_of(&object), spec_of(&patched));
        for list in ["containers", "initContainers"] {
            for (i, c) in spec.get(list).and_then(Value::as_array).into_iter().flatten().enumerate() {
                let sc = &c["securityContext"];
                let original = &before[list][i]["securityContext"];
                if sc["allowPrivilegeEscalation"] == json!(false) && sc["privileged"] == json!(true) {
                    prop_assert_eq!(original.get("allowPrivilegeEscalation"), Some(&json!(false)), "added beside privileged");
                }
            }
        }
        let injected_non_root = verdict.applied_defaults.contains(&AppliedDefault::RunAsNonRoot);
        let anything_root = serde_json::to_string(&spec).unwrap().contains("\"runAsUser\":0");
        prop_assert!(!(injected_non_root && anything_root), "runAsNonRoot added beside runAsUser 0");
    }

    #[test]
    fn objects_without_the_hook_annotation_get_nothing(object in hook_object(false)) {
        prop_assert_eq!(evaluate(&Policy::builtin(), &object, Some("ns")), Verdict::default());
    }
}
