//! What a stored hook says about the object Helm created from it: its manifest parsed, and the
//! identity (apiVersion, kind, name, namespace) a live object must have to be that hook's.

use super::model::Hook;
use serde_json::Value;

/// The object a record's hook describes.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// The manifest as JSON; `Null` when it does not parse.
    pub manifest: Value,
    /// Why the manifest is unusable (invalid YAML, no `apiVersion`), if it is.
    pub problem: Option<String>,
    /// `apiVersion`; empty when the manifest is unusable.
    pub api_version: String,
    /// `kind` of the manifest, else the record's.
    pub kind: String,
    /// The record's name, else the manifest's `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, else the release namespace.
    pub namespace: String,
}

impl StoredObject {
    /// The API group of `api_version` (`""` for the core group).
    pub fn group(&self) -> &str {
        crate::manifest::api_group(&self.api_version)
    }
}

impl Hook {
    /// Reads the stored manifest of this hook of a release in `release_namespace`. A corrupt
    /// record's manifest may not parse: the kind and name then come from the record, the
    /// `apiVersion` stays empty and [`StoredObject::problem`] says why.
    pub fn stored_object(&self, release_namespace: &str) -> StoredObject {
        let (manifest, problem) = match serde_yaml_ng::from_str::<Value>(&self.manifest) {
            Ok(value) if value.get("apiVersion").and_then(Value::as_str).is_some() => (value, None),
            Ok(value) => (
                value,
                Some("not a Kubernetes object (no apiVersion)".to_string()),
            ),
            Err(e) => (Value::Null, Some(format!("invalid YAML: {e}"))),
        };
        let text = |p: &str| manifest.pointer(p).and_then(Value::as_str);
        let api_version = text("/apiVersion").unwrap_or("").to_string();
        let kind = text("/kind").unwrap_or(&self.kind).to_string();
        let name = if self.name.is_empty() {
            text("/metadata/name").unwrap_or("").to_string()
        } else {
            self.name.clone()
        };
        let namespace = text("/metadata/namespace")
            .filter(|ns| !ns.is_empty())
            .unwrap_or(release_namespace)
            .to_string();
        StoredObject {
            manifest,
            problem,
            api_version,
            kind,
            name,
            namespace,
        }
    }
}
