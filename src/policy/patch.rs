//! Builds an RFC 6902 patch while applying it to a working copy, so later steps see the
//! parents earlier steps created and the final document is exactly `original + patch`.

use json_patch::{AddOperation, PatchOperation, jsonptr::PointerBuf};
use serde_json::Value;
use std::borrow::Cow;

/// A JSON pointer from unescaped tokens (`helm.sh/hook` becomes `helm.sh~1hook`).
pub fn pointer(tokens: &[&str]) -> String {
    let mut ptr = String::with_capacity(tokens.iter().map(|t| t.len() + 1).sum());
    for token in tokens {
        ptr.push('/');
        if token.contains(['~', '/']) {
            ptr.push_str(&token.replace('~', "~0").replace('/', "~1"));
        } else {
            ptr.push_str(token);
        }
    }
    ptr
}

/// One reference token of a pointer, unescaped (allocates only when it holds `~`).
fn unescape(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// An array index as RFC 6901 (and `serde_json`) spell it: no sign, no leading zero.
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() > 1) {
        return None;
    }
    token.parse().ok()
}

/// `Value::pointer` without its two `String` allocations per token (the hot path of an
/// admission review: every default and rule looks fields up by pointer).
pub fn lookup<'a>(document: &'a Value, ptr: &str) -> Option<&'a Value> {
    if ptr.is_empty() {
        return Some(document);
    }
    let mut target = document;
    for token in ptr.strip_prefix('/')?.split('/') {
        let token = unescape(token);
        target = match target {
            Value::Object(map) => map.get(token.as_ref())?,
            Value::Array(list) => list.get(index(&token)?)?,
            _ => return None,
        };
    }
    Some(target)
}

/// `Value::pointer_mut`, likewise.
fn lookup_mut<'a>(document: &'a mut Value, ptr: &str) -> Option<&'a mut Value> {
    if ptr.is_empty() {
        return Some(document);
    }
    let mut target = document;
    for token in ptr.strip_prefix('/')?.split('/') {
        let token = unescape(token);
        target = match target {
            Value::Object(map) => map.get_mut(token.as_ref())?,
            Value::Array(list) => list.get_mut(index(&token)?)?,
            _ => return None,
        };
    }
    Some(target)
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
        lookup(&self.document, ptr)
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
        if let Some(Value::Object(map)) = lookup_mut(&mut self.document, parent) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointer_escapes_like_jsonptr() {
        for tokens in [
            &["metadata", "annotations", "helm.sh/hook-delete-policy"][..],
            &["a~b", "~1", "/", ""][..],
            &[][..],
        ] {
            assert_eq!(
                pointer(tokens),
                PointerBuf::from_tokens(tokens.iter().copied()).to_string()
            );
        }
    }

    #[test]
    fn lookup_agrees_with_serde_json() {
        let mut doc = json!({
            "metadata": {"annotations": {"helm.sh/hook": "x", "a~b": 1, "": 2}},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "n": null
        });
        for ptr in [
            "",
            "/",
            "/metadata",
            "/metadata/annotations/helm.sh~1hook",
            "/metadata/annotations/a~0b",
            "/metadata/annotations/",
            "/spec/containers/1/name",
            "/spec/containers/01",
            "/spec/containers/+1",
            "/spec/containers/2",
            "/spec/containers/x",
            "/n",
            "/n/x",
            "missing-slash",
            "/metadata/annotations/helm.sh~1hook/deeper",
        ] {
            assert_eq!(lookup(&doc, ptr), doc.pointer(ptr), "{ptr:?}");
            let expected = doc.clone().pointer_mut(ptr).cloned();
            assert_eq!(lookup_mut(&mut doc, ptr).cloned(), expected, "{ptr:?}");
        }
    }
}
