//! The manifest reader (`helm_hooks::manifest::parse_manifests`) on arbitrary text, and what
//! lint and rerun do with each object it returns.

#![no_main]

use helm_hooks::hook::{annotations_of, parse_hook};
use helm_hooks::manifest::parse_manifests;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_manifests(text) {
        Ok(objects) => {
            for (index, object) in objects.iter().enumerate() {
                assert_eq!(object.index, index, "indexes count the returned objects");
                assert!(object.line >= 1, "lines are 1-based");
                assert!(object.value.is_object(), "every object is a mapping");
                let _ = (object.kind(), object.name());
                let _ = object.non_string_annotations();
                let _ = parse_hook(&annotations_of(&object.value));
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
