//! Policy evaluation (`helm_hooks::policy::evaluate`) under `Policy::builtin()` on arbitrary
//! JSON, with no request namespace, an ordinary one and an exempt one.
//!
//! Beyond "never panics": the patch applies to the object it was made for, an exempt namespace
//! gets neither patch nor violation, and a non-hook gets an empty verdict.

#![no_main]

use helm_hooks::policy::{Policy, Verdict, evaluate};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::LazyLock;

static POLICY: LazyLock<Policy> = LazyLock::new(Policy::builtin);

fuzz_target!(|data: &[u8]| {
    let Ok(object) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for namespace in [None, Some("shop"), Some("kube-system")] {
        let verdict = evaluate(&POLICY, &object, namespace);
        if !verdict.is_hook {
            assert_eq!(verdict, Verdict::default(), "a non-hook gets nothing");
            continue;
        }
        if verdict.exempt {
            assert!(verdict.patch.is_empty() && verdict.violations.is_empty());
            continue;
        }
        for violation in &verdict.violations {
            let _ = violation.to_string();
        }
        let _ = verdict.is_denied();
        let mut document = object.clone();
        if let Err(e) = json_patch::patch(&mut document, &verdict.json_patch()) {
            panic!("the patch does not apply to the object it was made for: {e}");
        }
        serde_json::to_vec(&verdict).expect("the verdict encodes");
    }
});
