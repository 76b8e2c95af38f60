//! The hook annotation parser (`helm_hooks::hook::parse_hook`) over arbitrary annotation maps.
//!
//! Input: one annotation per line, `key=value` (split at the first `=`; a line without one is a
//! key with an empty value). Text, so the seeds are readable and the fuzzer's dictionary of
//! annotation keys and hook names splices in directly.

#![no_main]

use helm_hooks::hook::{self, Annotations, DeletePolicy, HOOK_ANNOTATION, HookEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let annotations: Annotations = text
        .split('\n')
        .map(|line| match line.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (line.to_string(), String::new()),
        })
        .collect();
    let parsed = hook::parse_hook(&annotations);
    assert_eq!(
        parsed.is_some(),
        annotations.contains_key(HOOK_ANNOTATION),
        "a hook is exactly an object with {HOOK_ANNOTATION}"
    );
    let Some(parsed) = parsed else {
        return;
    };
    for diagnostic in &parsed.diagnostics {
        let _ = diagnostic.to_string();
    }
    let spec = &parsed.spec;
    let effective = spec.effective_delete_policies();
    assert!(!effective.is_empty(), "Helm always acts on a delete policy");
    for policy in DeletePolicy::KNOWN {
        let _ = spec.has_delete_policy(&DeletePolicy::parse(policy));
    }
    for event in HookEvent::ALL {
        let _ = spec.runs_on(event);
    }
    if spec.events.is_empty() {
        // Helm drops a hook with no event it knows.
        assert!(parsed.dropped, "a hook without a known event is dropped");
    }
});
