//! The post-renderer: rendered manifests in, the same manifests out with the policy's defaults
//! applied to hook objects — exactly the patch the webhook's `/mutate` would send for each, so
//! Helm's own release record carries the defaults and Helm itself honours them.
//!
//! Documents that are not hooks (and hooks that need no default) are written back byte for
//! byte. A hook that an `enforce` rule denies is reported with the webhook's message; the
//! caller must then write nothing, so Helm stops before it touches the cluster.

use crate::hook::{annotations_of, parse_hook};
use crate::manifest::split_documents;
use crate::policy::{Mode, Policy, evaluate};
use serde_json::Value;

/// The outcome of post-rendering a stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostRendered {
    /// The stream to hand to Helm (meaningful only when `denials` is empty).
    pub manifests: String,
    /// One line per hook an `enforce` rule denies, as the webhook words it.
    pub denials: Vec<String>,
    /// Warn-mode findings, one line each, as the webhook's admission warnings.
    pub warnings: Vec<String>,
    /// How many hook objects got defaults.
    pub patched: usize,
}

/// A document that cannot be read as YAML; the stream is refused whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PostRenderError {
    /// 1-based line of the stream where the document starts.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Applies `policy`'s defaults to every hook of `stream`. `namespace` is the release
/// namespace (a hook's own `metadata.namespace` wins, as for the webhook's request).
pub fn post_render(
    policy: &Policy,
    stream: &str,
    namespace: Option<&str>,
) -> Result<PostRendered, PostRenderError> {
    let mut out = PostRendered::default();
    let mut documents = Vec::new();
    for document in split_documents(stream) {
        let value: Option<Value> =
            serde_yaml_ng::from_str(&document.text).map_err(|e| PostRenderError {
                line: document.line,
                message: format!("invalid YAML: {e}"),
            })?;
        let Some(object) = value.filter(|v| v.is_object()) else {
            documents.push(document.text);
            continue;
        };
        if parse_hook(&annotations_of(&object)).is_none() {
            documents.push(document.text);
            continue;
        }
        let own_namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|ns| !ns.is_empty());
        let verdict = evaluate(policy, &object, own_namespace.or(namespace));
        out.warnings
            .extend(verdict.in_mode(Mode::Warn).map(|v| v.describe()));
        if let Some(denial) = verdict.denial_message() {
            out.denials.push(denial);
        }
        if verdict.patch.is_empty() {
            documents.push(document.text);
            continue;
        }
        let mut patched = object;
        json_patch::patch(&mut patched, &verdict.json_patch()).map_err(|e| PostRenderError {
            line: document.line,
            message: format!("the policy's patch does not apply: {e}"),
        })?;
        let yaml = serde_yaml_ng::to_string(&patched).map_err(|e| PostRenderError {
            line: document.line,
            message: format!("cannot write the patched object: {e}"),
        })?;
        let source = document
            .source
            .map(|s| format!("# Source: {s}\n"))
            .unwrap_or_default();
        documents.push(format!("{source}{yaml}"));
        out.patched += 1;
    }
    let kept: Vec<String> = documents
        .into_iter()
        .filter(|d| !d.trim().is_empty())
        .collect();
    out.manifests = kept.iter().map(|d| format!("---\n{d}")).collect::<String>();
    Ok(out)
}

#[cfg(test)]
mod tests;
