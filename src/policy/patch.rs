//! Builds an RFC 6902 patch while applying it to a working copy, so later steps see the
//! parents earlier steps created and the final document is exactly `original + patch`.

use json_patch::{AddOperation, PatchOperation, jsonptr::PointerBuf};
use serde_json::Value;

/// A JSON pointer from unescaped tokens (`helm.sh/hook` becomes `helm.sh~1hook`).
pub fn pointer(tokens: &[&str]) -> String {
    PointerBuf::from_tokens(tokens.iter().copied()).to_string()
}

/// Whether `value` counts as absent: missing or an explicit `null`.
pub fn is_absent(value: Option<&Value>) -> bool {
    matches!(value, None | Some(Value::Null))
}

/// Patch operations and the document they produce.
pub struct PatchBuilder {
    document: Value,
    operations: Vec<PatchOperation>,
}

impl PatchBuilder {
    pub fn new(document: Value) -> PatchBuilder {
        PatchBuilder {
            document,
            operations: Vec::new(),
        }
    }

    /// The working document (original plus every operation so far).
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The value at `ptr` in the working document.
    pub fn get(&self, ptr: &str) -> Option<&Value> {
        self.document.pointer(ptr)
    }

    /// Whether the field at `ptr` is absent (missing or null).
    pub fn is_absent(&self, ptr: &str) -> bool {
        is_absent(self.get(ptr))
    }

    /// Adds `{}` at `tokens` and at every missing parent, so a later `add` inside it works.
    /// Existing arrays may be walked through (`containers/0`); any other non-object stops it
    /// and returns false (nothing more is added then).
    pub fn ensure_object(&mut self, tokens: &[&str]) -> bool {
        for depth in 1..=tokens.len() {
            let ptr = pointer(&tokens[..depth]);
            match self.get(&ptr) {
                Some(Value::Object(_)) => {}
                Some(Value::Array(_)) if depth < tokens.len() => {}
                None | Some(Value::Null) => self.add(&ptr, Value::Object(Default::default())),
                Some(_) => return false,
            }
        }
        true
    }

    /// Adds (or replaces a `null` with) `value` at `ptr`; the parent must be an object.
    pub fn add(&mut self, ptr: &str, value: Value) {
        let path: PointerBuf = PointerBuf::parse(ptr).expect("pointers are built by pointer()");
        let (parent, key) = split_last(ptr);
        if let Some(Value::Object(map)) = self.document.pointer_mut(parent) {
            map.insert(key, value.clone());
            self.operations
                .push(PatchOperation::Add(AddOperation { path, value }));
        }
    }

    /// The operations, in order.
    pub fn into_operations(self) -> Vec<PatchOperation> {
        self.operations
    }
}

fn split_last(ptr: &str) -> (&str, String) {
    let at = ptr.rfind('/').expect("pointers start with /");
    let key = ptr[at + 1..].replace("~1", "/").replace("~0", "~");
    (&ptr[..at], key)
}
