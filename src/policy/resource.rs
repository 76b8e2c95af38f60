//! The `HookPolicy` custom resource (`hookpolicies.hooks.helm-hooks.io`, cluster scoped) and
//! how several of them share the cluster.
//!
//! An object's `spec` is the policy document without its `apiVersion`/`kind` (those are the
//! object's own), plus two fields: `namespaceSelector` (a Kubernetes label selector; absent
//! selects every namespace) and `priority` (an integer, 0 when absent). The spec is read by the
//! same parser as the document ([`Policy`]), so it gets the same messages, with field paths
//! under `spec.`. Two spellings differ from the file, because the apiserver and `kubectl apply`
//! need them: a rule setting is a map (`image-tag: {mode: warn}`), and a default is switched
//! off with `0` / `""` (as in `namespaceOverrides`), since `kubectl apply` drops a `null`.
//!
//! **Which policy applies in a namespace** ([`PolicySet::select`]): among the objects whose
//! selector matches the namespace's labels, the one with the highest `priority`; on equal
//! priorities, the one whose name sorts first (byte order). The chosen object applies whole:
//! policies are not merged field by field, so what is in force can always be read in one
//! object. Inside it, `exemptNamespaces` and `namespaceOverrides` work as in the document.
//! When no object selects a namespace, the built-in policy applies there.

use super::document::{API_VERSION, KIND, Policy, PolicyError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The API group of the custom resource.
pub const GROUP: &str = "hooks.helm-hooks.io";
/// The served version of the custom resource.
pub const VERSION: &str = "v1alpha1";
/// The resource's plural name.
pub const PLURAL: &str = "hookpolicies";
/// The label every namespace carries with its own name (set by the apiserver).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The operator of one label selector requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectorOperator {
    /// The label's value is one of `values`.
    In,
    /// The label is absent, or its value is none of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// One requirement of a label selector's `matchExpressions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorRequirement {
    /// The label key.
    pub key: String,
    /// How the label is compared.
    pub operator: SelectorOperator,
    /// The values of `In` / `NotIn` (empty for `Exists` / `DoesNotExist`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`, all must hold). An empty
/// selector selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must have exactly these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorRequirement>,
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector, as the apiserver decides it.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator {
                    SelectorOperator::In => value.is_some_and(|v| r.values.contains(v)),
                    SelectorOperator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                    SelectorOperator::Exists => value.is_some(),
                    SelectorOperator::DoesNotExist => value.is_none(),
                }
            })
    }

    fn validate(&self, field: &str) -> Result<(), PolicyError> {
        for (i, r) in self.match_expressions.iter().enumerate() {
            let at = format!("{field}.matchExpressions[{i}].values");
            match r.operator {
                SelectorOperator::In | SelectorOperator::NotIn if r.values.is_empty() => {
                    return Err(PolicyError::new(
                        at,
                        format!("{:?} needs at least one value", r.operator),
                    ));
                }
                SelectorOperator::Exists | SelectorOperator::DoesNotExist
                    if !r.values.is_empty() =>
                {
                    return Err(PolicyError::new(
                        at,
                        format!("{:?} takes no values; remove them", r.operator),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Makes the zero value of one default.
type ZeroValue = fn() -> Value;

/// The defaults a resource switches off with a zero value instead of the document's `null`.
const SWITCHED_OFF: [(&str, ZeroValue); 3] = [
    ("deletePolicy", || json!("")),
    ("activeDeadlineSeconds", || json!(0)),
    ("ttlSecondsAfterFinished", || json!(0)),
];

/// One `HookPolicy` object: its name, which namespaces it selects, its priority and its policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookPolicyObject {
    /// `metadata.name`.
    pub name: String,
    /// `spec.priority`: the higher wins where several objects select a namespace.
    pub priority: i32,
    /// `spec.namespaceSelector`; `None` selects every namespace.
    pub namespace_selector: Option<LabelSelector>,
    /// The rest of the spec: the policy document.
    pub policy: Policy,
}

impl HookPolicyObject {
    /// Reads an object as the apiserver returns it (or as written in a manifest) and validates
    /// its spec with the document's parser; errors name the field under `spec.`.
    pub fn from_object(object: &Value) -> Result<HookPolicyObject, PolicyError> {
        let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
        if text("/apiVersion") != Some(API_VERSION) {
            return Err(PolicyError::new(
                "apiVersion",
                format!("must be {API_VERSION}, not {:?}", text("/apiVersion")),
            ));
        }
        if text("/kind") != Some(KIND) {
            return Err(PolicyError::new(
                "kind",
                format!("must be {KIND}, not {:?}", text("/kind")),
            ));
        }
        let name = text("/metadata/name")
            .filter(|n| !n.is_empty())
            .ok_or_else(|| PolicyError::new("metadata.name", "give the HookPolicy a name"))?
            .to_string();
        let mut spec = match object.get("spec") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(spec)) => spec.clone(),
            Some(_) => return Err(PolicyError::new("spec", "must be a map")),
        };
        let namespace_selector = match spec.remove("namespaceSelector") {
            None | Some(Value::Null) => None,
            Some(value) => {
                let selector: LabelSelector = serde_json::from_value(value)
                    .map_err(|e| PolicyError::new("spec.namespaceSelector", e.to_string()))?;
                selector.validate("spec.namespaceSelector")?;
                Some(selector)
            }
        };
        let priority = match spec.remove("priority") {
            None | Some(Value::Null) => 0,
            Some(value) => value
                .as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(|| PolicyError::new("spec.priority", "must be an integer (32-bit)"))?,
        };
        // `kubectl apply` drops a null (it means "remove the field"), so the resource switches a
        // default off with `0` / `""`, as namespace overrides do.
        if let Some(defaults) = spec.get_mut("defaults").and_then(Value::as_object_mut) {
            for (key, off) in SWITCHED_OFF {
                if defaults.get(key) == Some(&off()) {
                    defaults.insert(key.into(), Value::Null);
                }
            }
        }
        for (key, value) in [("apiVersion", API_VERSION), ("kind", KIND)] {
            if spec.contains_key(key) {
                return Err(PolicyError::new(
                    format!("spec.{key}"),
                    format!("belongs to the object, not its spec; remove spec.{key}"),
                ));
            }
            spec.insert(key.into(), value.into());
        }
        let policy: Policy = serde_json::from_value(Value::Object(spec))
            .map_err(|e| PolicyError::new("spec", e.to_string()))?;
        policy.validate().map_err(|e| PolicyError {
            field: format!("spec.{}", e.field),
            message: e.message,
        })?;
        Ok(HookPolicyObject {
            name,
            priority,
            namespace_selector,
            policy,
        })
    }

    /// The object as a manifest (what `kubectl apply` takes), every rule setting in the map
    /// form the resource's schema takes.
    pub fn to_object(&self) -> Value {
        let mut spec = match serde_json::to_value(&self.policy) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        spec.remove("apiVersion");
        spec.remove("kind");
        if let Some(defaults) = spec.get_mut("defaults").and_then(Value::as_object_mut) {
            for (key, off) in SWITCHED_OFF {
                if defaults.get(key) == Some(&Value::Null) {
                    defaults.insert(key.into(), off());
                }
            }
        }
        // The resource's schema takes rule settings in the map form only.
        let in_form = |rules: Option<&mut Value>| {
            for setting in rules
                .and_then(Value::as_object_mut)
                .into_iter()
                .flat_map(|r| r.values_mut())
            {
                if setting.is_string() {
                    *setting = json!({"mode": setting.take()});
                }
            }
        };
        in_form(spec.get_mut("rules"));
        for over in spec
            .get_mut("namespaceOverrides")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            in_form(over.get_mut("rules"));
        }
        if self.priority != 0 {
            spec.insert("priority".into(), self.priority.into());
        }
        if let Some(selector) = &self.namespace_selector {
            spec.insert(
                "namespaceSelector".into(),
                serde_json::to_value(selector).unwrap_or_default(),
            );
        }
        json!({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name},
            "spec": spec,
        })
    }

    /// Whether this object selects a namespace with these labels.
    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.namespace_selector
            .as_ref()
            .is_none_or(|s| s.matches(labels))
    }
}

/// Every `HookPolicy` of the cluster (or of a file), ordered by precedence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySet {
    /// Highest priority first, then by name.
    objects: Vec<HookPolicyObject>,
}

/// The name a plain policy document (no `spec`) gets when read as a [`PolicySet`].
pub const DOCUMENT_NAME: &str = "document";

impl PolicySet {
    /// The set of `objects`, ordered by precedence.
    pub fn new(mut objects: Vec<HookPolicyObject>) -> PolicySet {
        objects.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.name.cmp(&b.name)));
        PolicySet { objects }
    }

    /// Reads a file: `HookPolicy` objects (documents with a `spec`, several separated by
    /// `---`), or one plain policy document, which selects every namespace and is named
    /// [`DOCUMENT_NAME`]. An error names the document's first line and the field.
    pub fn from_yaml(text: &str) -> Result<PolicySet, PolicyError> {
        let mut objects = Vec::new();
        for document in crate::manifest::split_documents(text) {
            let line = document.line;
            let at = |e: PolicyError| PolicyError {
                field: format!("document at line {line}: {}", e.field),
                message: e.message,
            };
            let value: Value = serde_yaml_ng::from_str::<Option<Value>>(&document.text)
                .map_err(|e| at(PolicyError::new("document", e.to_string())))?
                .unwrap_or(Value::Null);
            if value.is_null() {
                continue;
            }
            if value.get("spec").is_some() {
                objects.push(HookPolicyObject::from_object(&value).map_err(at)?);
            } else {
                objects.push(HookPolicyObject {
                    name: DOCUMENT_NAME.into(),
                    priority: 0,
                    namespace_selector: None,
                    policy: Policy::from_yaml(&document.text).map_err(at)?,
                });
            }
        }
        Ok(PolicySet::new(objects))
    }

    /// The objects, highest precedence first.
    pub fn objects(&self) -> &[HookPolicyObject] {
        &self.objects
    }

    /// Whether the set holds no object (the built-in policy applies everywhere).
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The object in force in a namespace with these labels (see the module's rule), or `None`
    /// when no object selects it.
    pub fn select(&self, labels: &BTreeMap<String, String>) -> Option<&HookPolicyObject> {
        self.objects.iter().find(|o| o.selects(labels))
    }

    /// The policy in force in a namespace with these labels: the selected object's, or the
    /// built-in policy.
    pub fn policy_for(&self, labels: &BTreeMap<String, String>) -> Policy {
        self.select(labels)
            .map(|o| o.policy.clone())
            .unwrap_or_else(Policy::builtin)
    }
}

/// Objects as a YAML stream that kubectl reads back unchanged: `off`, `on`, `yes`, `no`, `y`
/// and `n` (any case) are quoted, since kubectl's YAML 1.1 reader would turn them into
/// booleans (`mode: off` becomes `false`).
pub fn to_kubectl_yaml(objects: &[Value]) -> String {
    const YAML11_BOOLS: [&str; 6] = ["y", "n", "yes", "no", "on", "off"];
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        let text = serde_yaml_ng::to_string(object).unwrap_or_default();
        for line in text.lines() {
            let quoted = [": ", "- "].into_iter().find_map(|sep| {
                let (head, scalar) = line.rsplit_once(sep)?;
                YAML11_BOOLS
                    .contains(&scalar.to_ascii_lowercase().as_str())
                    .then(|| format!("{head}{sep}'{scalar}'"))
            });
            out.push_str(quoted.as_deref().unwrap_or(line));
            out.push('\n');
        }
    }
    out
}

/// The labels of a namespace known only by name: the one label the apiserver always sets.
pub fn name_labels(namespace: &str) -> BTreeMap<String, String> {
    [(NAMESPACE_NAME_LABEL.to_string(), namespace.to_string())].into()
}

#[cfg(test)]
mod tests;
