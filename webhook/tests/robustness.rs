//! Never a panic: arbitrary bytes and arbitrary JSON in every field of a review get an
//! answer (an AdmissionReview or a parse error), on both endpoints.

use helm_hooks::policy::Policy;
use helm_hooks_webhook::admission::{self, Endpoint, PatchEncoding};
use proptest::prelude::*;
use serde_json::{Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-zA-Z0-9~/._:-]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("helm.sh/hook"),
            Just("pre-install"),
            Just("hook-succeeded,bogus"),
            Just("Always"),
            Just("ALL"),
            Just("0"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z]{1,8}".boxed(),
                    prop_oneof![
                        Just("metadata".to_string()),
                        Just("annotations".to_string()),
                        Just("helm.sh/hook".to_string()),
                        Just("spec".to_string()),
                        Just("template".to_string()),
                        Just("containers".to_string()),
                        Just("securityContext".to_string()),
                        Just("kind".to_string()),
                    ]
                    .boxed(),
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A Job whose every part may be replaced by arbitrary JSON.
fn arb_object() -> impl Strategy<Value = Value> {
    (arb_json(), arb_json(), arb_json(), arb_json(), any::<u8>()).prop_map(
        |(annotations, spec, container, sc, pick)| {
            let mut object = json!({
                "apiVersion": "batch/v1", "kind": if pick % 2 == 0 { "Job" } else { "Pod" },
                "metadata": {"name": "x", "annotations": {"helm.sh/hook": "pre-install"}},
                "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "i"}]}}}
            });
            match pick % 5 {
                0 => object["metadata"]["annotations"] = annotations,
                1 => object["spec"] = spec,
                2 => object["spec"]["template"]["spec"]["containers"][0] = container,
                3 => object["spec"]["template"]["spec"]["securityContext"] = sc,
                _ => {
                    object["spec"]["template"]["spec"]["containers"] = container;
                    object["spec"]["securityContext"] = sc;
                    object["metadata"]["annotations"]["helm.sh/hook-delete-policy"] = annotations;
                }
            }
            object
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_objects_get_an_answer(object in arb_object(), op in prop_oneof![Just("CREATE"), Just("UPDATE"), Just("DELETE"), Just("X")]) {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "operation": op, "namespace": "ns",
                        "kind": {"group": "batch", "version": "v1", "kind": "Job"},
                        "object": object.clone(), "oldObject": object}});
        let request = admission::parse_review(&serde_json::to_vec(&review).unwrap()).unwrap();
        let policy = Policy::builtin();
        for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
            let outcome = admission::review(endpoint, &policy, &request, PatchEncoding::Base64);
            prop_assert_eq!(outcome.review.response.uid.as_str(), "u");
            serde_json::to_vec(&outcome.review).unwrap();
            // A patch the webhook sends always applies to the object it was made for.
            if let Some(Value::String(b64)) = &outcome.review.response.patch {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
                let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
                let mut doc = request.object.clone().unwrap();
                prop_assert!(json_patch::patch(&mut doc, &patch).is_ok(), "patch does not apply");
            }
        }
    }

    #[test]
    fn arbitrary_reviews_parse_or_fail_cleanly(review in arb_json(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = admission::parse_review(&serde_json::to_vec(&review).unwrap());
        let _ = admission::parse_review(&bytes);
        let wrapped = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": review});
        if let Ok(request) = admission::parse_review(&serde_json::to_vec(&wrapped).unwrap()) {
            for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
                admission::review(endpoint, &Policy::builtin(), &request, PatchEncoding::Base64);
            }
        }
    }
}
