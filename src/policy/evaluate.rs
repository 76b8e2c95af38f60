//! Evaluation of one object: the policy resolved for its namespace, then defaults first, then
//! every rule on the object as patched.

use super::defaults;
use super::document::Policy;
use super::patch::PatchBuilder;
use super::rules;
use super::verdict::Verdict;
use crate::hook::{annotations_of, parse_hook};
use crate::workload::Workload;
use serde_json::Value;

/// Evaluates `object` under `policy`. `namespace` is the request's namespace (the object's
/// own `metadata.namespace` is used when it is `None`; a create often leaves it unset).
pub fn evaluate(policy: &Policy, object: &Value, namespace: Option<&str>) -> Verdict {
    let Some(hook) = parse_hook(&annotations_of(object)) else {
        return Verdict::default();
    };
    let namespace = namespace.or_else(|| {
        object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
    });
    let effective = policy.resolve(namespace);
    if effective.is_exempt() {
        return Verdict {
            is_hook: true,
            exempt: true,
            ..Verdict::default()
        };
    }
    let workload = Workload::of(object);
    let mut builder = PatchBuilder::new(object.clone());
    let mut applied_defaults = Vec::new();
    defaults::apply(
        effective.defaults(),
        workload,
        &mut builder,
        &mut applied_defaults,
    );
    let violations = rules::check(&effective, builder.document(), &hook, &object_name(object));
    Verdict {
        is_hook: true,
        exempt: false,
        patch: builder.into_operations(),
        applied_defaults,
        violations,
    }
}

/// `Kind/name` (or `Kind/generateName*`) for messages.
fn object_name(object: &Value) -> String {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str);
    let kind = text("/kind").unwrap_or("Object");
    match (text("/metadata/name"), text("/metadata/generateName")) {
        (Some(name), _) if !name.is_empty() => format!("{kind}/{name}"),
        (_, Some(prefix)) => format!("{kind}/{prefix}*"),
        _ => format!("{kind}/<unnamed>"),
    }
}
