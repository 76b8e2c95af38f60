//! Rendered chart output (`helm template`, a release's `manifest`) → objects, each with the
//! template file it came from (`# Source:` comment) and its position, for lint and rerun.

use serde_json::Value;

/// The API group of an `apiVersion` (`""` for the core group: `v1`).
pub fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// One object of a multi-document YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestObject {
    /// The `# Source: chart/templates/x.yaml` path Helm writes above each document.
    pub source: Option<String>,
    /// 0-based position among the non-empty documents.
    pub index: usize,
    /// 1-based line where the document starts, for messages.
    pub line: usize,
    /// The object itself.
    pub value: Value,
}

impl ManifestObject {
    /// `kind`, or `""`.
    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    /// `metadata.name`, or `""`.
    pub fn name(&self) -> &str {
        self.value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Annotation keys whose value is not a string (Helm fails to read such a manifest; the
    /// apiserver rejects it). The fix is to quote the value.
    pub fn non_string_annotations(&self) -> Vec<String> {
        self.value
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| !v.is_string())
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A document that is not valid YAML, or not a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ManifestError {
    /// `file.yaml line 12` (the `# Source:` path when known, else the stream line).
    pub location: String,
    /// What is wrong with the document.
    pub message: String,
}

/// Parses a multi-document YAML stream. Empty documents are skipped; a document that is not
/// a mapping with `kind` and `metadata` is an error naming its location.
pub fn parse_manifests(text: &str) -> Result<Vec<ManifestObject>, ManifestError> {
    let mut objects = Vec::new();
    for document in split_documents(text) {
        let location = |line: usize| match &document.source {
            Some(source) => format!("{source} (line {line} of the stream)"),
            None => format!("line {line}"),
        };
        let value: Value = match serde_yaml_ng::from_str::<Option<Value>>(&document.text) {
            Ok(Some(value)) => value,
            Ok(None) => continue,
            Err(e) => {
                let line = document.line + e.location().map(|l| l.line()).unwrap_or(1) - 1;
                return Err(ManifestError {
                    location: location(line),
                    message: format!("invalid YAML: {e}"),
                });
            }
        };
        if value.is_null() {
            continue;
        }
        if !value.is_object() || value.get("kind").is_none() || value.get("metadata").is_none() {
            return Err(ManifestError {
                location: location(document.line),
                message: "not a Kubernetes object: expected a mapping with kind and metadata"
                    .into(),
            });
        }
        objects.push(ManifestObject {
            source: document.source,
            index: objects.len(),
            line: document.line,
            value,
        });
    }
    Ok(objects)
}

/// One document of a multi-document YAML stream, as written.
pub(crate) struct Document {
    /// The document's lines, each ending in `\n`, markers excluded.
    pub(crate) text: String,
    /// Its `# Source:` path, if any.
    pub(crate) source: Option<String>,
    /// 1-based line of the stream where it starts.
    pub(crate) line: usize,
}

/// Splits on `---` lines (a marker may carry a trailing comment) and `...` end markers.
pub(crate) fn split_documents(text: &str) -> Vec<Document> {
    let mut documents = Vec::new();
    let mut current = Document {
        text: String::new(),
        source: None,
        line: 1,
    };
    for (i, line) in text.lines().enumerate() {
        let is_marker =
            line == "---" || line.starts_with("--- ") || line.starts_with("---\t") || line == "...";
        if is_marker {
            documents.push(std::mem::replace(
                &mut current,
                Document {
                    text: String::new(),
                    source: None,
                    line: i + 2,
                },
            ));
            continue;
        }
        if current.source.is_none()
            && let Some(source) = line.strip_prefix("# Source: ")
        {
            current.source = Some(source.trim().to_string());
        }
        current.text.push_str(line);
        current.text.push('\n');
    }
    documents.push(current);
    documents
}

#[cfg(test)]
mod tests {
    use super::*;

    const RENDERED: &str = "---
# Source: shop/templates/sa.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: migrate
  annotations:
    \"helm.sh/hook\": pre-upgrade
    \"helm.sh/hook-weight\": 5
---
# Source: shop/templates/empty.yaml
# nothing rendered here
--- # a marker with a comment
# Source: shop/templates/job.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      containers:
        - name: m
          image: app:1
          args: [\"---\"]
";

    #[test]
    fn parses_documents_with_their_source_and_position() {
        let objects = parse_manifests(RENDERED).unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(
            (objects[0].kind(), objects[0].name()),
            ("ServiceAccount", "migrate")
        );
        assert_eq!(objects[0].source.as_deref(), Some("shop/templates/sa.yaml"));
        assert_eq!((objects[1].index, objects[1].line), (1, 14));
        assert_eq!(
            objects[1].source.as_deref(),
            Some("shop/templates/job.yaml")
        );
        assert_eq!(
            objects[1]
                .value
                .pointer("/spec/template/spec/containers/0/args/0")
                .unwrap(),
            "---"
        );
    }

    #[test]
    fn reports_unquoted_annotation_values() {
        let objects = parse_manifests(RENDERED).unwrap();
        assert_eq!(
            objects[0].non_string_annotations(),
            vec!["helm.sh/hook-weight".to_string()]
        );
    }

    #[test]
    fn invalid_yaml_names_the_source_and_line() {
        let text = "---\n# Source: shop/templates/bad.yaml\nkind: Job\nmetadata: {name: x\n";
        let error = parse_manifests(text).unwrap_err();
        assert!(
            error.location.starts_with("shop/templates/bad.yaml"),
            "{error}"
        );
        assert!(error.message.contains("invalid YAML"), "{error}");
    }

    #[test]
    fn non_objects_are_refused() {
        let error = parse_manifests("just a string\n").unwrap_err();
        assert!(error.message.contains("not a Kubernetes object"), "{error}");
    }

    #[test]
    fn empty_input_has_no_objects() {
        assert_eq!(parse_manifests("").unwrap(), vec![]);
        assert_eq!(parse_manifests("---\n---\n").unwrap(), vec![]);
    }
}
