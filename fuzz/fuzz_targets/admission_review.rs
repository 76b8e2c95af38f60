//! The webhook's AdmissionReview handler: request bytes in, response out, exactly as
//! `server::handle` chains it (`parse_review`, `review`, `meta`, JSON encoding), on both
//! endpoints and both patch encodings, under the built-in policy.
//!
//! Beyond "never panics": the response echoes the request's uid, always encodes, and a patch
//! the webhook sends applies to the object it was made for.

#![no_main]

use base64::Engine as _;
use helm_hooks::policy::Policy;
use helm_hooks_webhook::admission::{self, Endpoint, PatchEncoding};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::LazyLock;

static POLICY: LazyLock<Policy> = LazyLock::new(Policy::builtin);

fuzz_target!(|body: &[u8]| {
    let Ok(request) = admission::parse_review(body) else {
        return;
    };
    let _ = request.meta();
    for (endpoint, encoding) in [
        (Endpoint::Validate, PatchEncoding::Base64),
        (Endpoint::Mutate, PatchEncoding::Base64),
        (Endpoint::Mutate, PatchEncoding::ByteArray),
    ] {
        let outcome = admission::review(endpoint, &POLICY, &request, encoding);
        let response = &outcome.review.response;
        assert_eq!(response.uid, request.uid, "the response echoes the uid");
        serde_json::to_vec(&outcome.review).expect("the response encodes");
        let patch = match &response.patch {
            None => continue,
            Some(Value::String(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("the patch is base64"),
            Some(Value::Array(bytes)) => bytes
                .iter()
                .map(|b| {
                    b.as_u64()
                        .and_then(|b| u8::try_from(b).ok())
                        .expect("the patch is an array of bytes")
                })
                .collect(),
            Some(other) => panic!("unexpected patch encoding: {other}"),
        };
        assert!(
            response.allowed,
            "a patch comes only with an allowed response"
        );
        let patch: json_patch::Patch =
            serde_json::from_slice(&patch).expect("the patch is an RFC 6902 patch");
        let mut document = request.object.clone().expect("a patch needs an object");
        if let Err(e) = json_patch::patch(&mut document, &patch) {
            panic!("the patch does not apply to the object it was made for: {e}");
        }
    }
});
