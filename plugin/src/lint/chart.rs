//! `kubectl hooks lint CHART_DIR [-- helm template flags…]`: renders the chart with helm
//! itself, so that lint also sees the objects Helm drops (an unknown event in `helm.sh/hook`
//! makes Helm print `skipping unknown hook` and leave the object out of `helm template`'s output
//! on helm 3 and 4 alike, before any post-renderer).
//!
//! How: the chart is copied to a temporary directory with every `helm.sh/hook` in its
//! templates written as [`MASKED_PREFIX`], so Helm treats hooks as ordinary objects and drops
//! nothing; the rendered objects get their annotation keys back before lint reads them. Charts
//! in `charts/` are masked too when unpacked (a packaged `.tgz` dependency is rendered as it is).
//! Then each finding is located in its template file ([`locate`]).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `helm.sh/hook` is written as while helm renders the copy.
pub const MASKED_PREFIX: &str = "lint.helm-hooks.io/hook";
const HOOK_PREFIX: &str = "helm.sh/hook";

/// Whether `path` is a chart directory (has `Chart.yaml`).
pub fn is_chart(path: &Path) -> bool {
    path.is_dir() && path.join("Chart.yaml").is_file()
}

/// Renders `chart` with `helm template` (the `helm` of `HELM_BIN`, as Helm sets for plugins,
/// else `helm` on `PATH`) and `helm_args`; returns the stream with hook annotations restored.
pub fn render(chart: &Path, helm_args: &[String]) -> Result<String> {
    let copy = TempDir::new()?;
    let masked = copy.path.join(
        chart
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("chart")),
    );
    copy_masked(chart, &masked).map_err(|e| {
        Error::Failed(format!(
            "cannot copy chart {} to a temporary directory: {e}",
            chart.display()
        ))
    })?;
    let helm = std::env::var("HELM_BIN").unwrap_or_else(|_| "helm".to_string());
    let output = Command::new(&helm)
        .arg("template")
        .arg(&masked)
        .args(helm_args)
        .output()
        .map_err(|e| {
            Error::Failed(format!(
                "cannot run {helm} template: {e}; install helm or set HELM_BIN"
            ))
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::Failed(format!(
            "helm template {} failed: {}",
            chart.display(),
            stderr
                .trim()
                .replace(&masked.display().to_string(), &chart.display().to_string())
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(unmask(&text))
}

/// Writes the masked annotation keys back: only where a key is written (`…hook…:`), so that a
/// value the chart happens to contain is never changed.
pub fn unmask(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let key_like = trimmed
                .strip_prefix(MASKED_PREFIX)
                .or_else(|| {
                    trimmed
                        .strip_prefix('"')
                        .and_then(|t| t.strip_prefix(MASKED_PREFIX))
                })
                .is_some();
            if key_like {
                line.replacen(MASKED_PREFIX, HOOK_PREFIX, 1)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Copies `from` to `to`, masking `helm.sh/hook` in template files.
fn copy_masked(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_masked(&source, &target)?;
        } else if is_template(&source) {
            let text = std::fs::read_to_string(&source)?;
            std::fs::write(&target, text.replace(HOOK_PREFIX, MASKED_PREFIX))?;
        } else {
            std::fs::copy(&source, &target)?;
        }
    }
    Ok(())
}

/// A file under a `templates/` directory (`.yaml`, `.yml`, `.tpl`, `.txt`, `.json`).
fn is_template(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "templates")
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "tpl" | "txt" | "json"))
}

/// The file (relative to the chart) and 1-based line in the chart's own template where a
/// finding on `field` of the object `kind`/`name` is written. `source` is the `# Source:` path
/// Helm writes (`CHART/templates/x.yaml`). The line is the first line, within the template
/// document that declares `kind: KIND`, naming the field's last key (an annotation key, or
/// e.g. `privileged`); else that document's `kind:` line.
pub fn locate(chart: &Path, source: &str, kind: &str, field: &str) -> Option<(String, usize)> {
    let relative = source.split_once('/').map(|(_, rest)| rest)?;
    let text = std::fs::read_to_string(chart.join(relative)).ok()?;
    let key = field_key(field);
    let mut document_start = 0usize;
    let mut found_kind: Option<usize> = None;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("---") {
            if found_kind.is_some() {
                break;
            }
            document_start = i + 1;
            continue;
        }
        if found_kind.is_none() && line.trim() == format!("kind: {kind}") {
            found_kind = Some(i);
        }
    }
    let kind_line = found_kind?;
    let end = lines[kind_line..]
        .iter()
        .position(|l| l.starts_with("---"))
        .map_or(lines.len(), |p| kind_line + p);
    let keyed = lines[document_start..end]
        .iter()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            t.starts_with(&format!("{key}:")) || t.starts_with(&format!("\"{key}\":"))
        })
        .map(|p| document_start + p);
    Some((relative.to_string(), keyed.unwrap_or(kind_line) + 1))
}

/// The last key of a field path: `metadata.annotations[helm.sh/hook-weight]` → the annotation
/// key `helm.sh/hook-weight`; `spec.template.spec.containers[0].securityContext.privileged` →
/// `privileged`.
fn field_key(field: &str) -> String {
    if let Some(annotation) = field
        .strip_prefix("metadata.annotations[")
        .and_then(|f| f.strip_suffix(']'))
    {
        return annotation.to_string();
    }
    let last = field.rsplit('.').next().unwrap_or(field);
    last.split('[').next().unwrap_or(last).to_string()
}

/// A directory removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<TempDir> {
        let path = std::env::temp_dir().join(format!(
            "kubectl-hooks-lint-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| Error::Failed(format!("cannot create {}: {e}", path.display())))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmask_restores_keys_only() {
        let text = format!(
            "metadata:\n  annotations:\n    {MASKED_PREFIX}: pre-instal\n    \"{MASKED_PREFIX}-weight\": \"1\"\n    note: {MASKED_PREFIX} stays in a value\n"
        );
        assert_eq!(
            unmask(&text),
            format!(
                "metadata:\n  annotations:\n    helm.sh/hook: pre-instal\n    \"helm.sh/hook-weight\": \"1\"\n    note: {MASKED_PREFIX} stays in a value\n"
            )
        );
    }

    #[test]
    fn field_keys() {
        assert_eq!(
            field_key("metadata.annotations[helm.sh/hook-delete-policy]"),
            "helm.sh/hook-delete-policy"
        );
        assert_eq!(
            field_key("spec.template.spec.containers[0].securityContext.privileged"),
            "privileged"
        );
        assert_eq!(field_key("spec.template.spec.containers[0]"), "containers");
    }

    #[test]
    fn findings_are_located_in_the_template_file() {
        let chart = std::env::temp_dir().join(format!("lint-locate-{}", std::process::id()));
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::write(
            chart.join("templates/hooks.yaml"),
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  annotations:\n    \
             helm.sh/hook: pre-install\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  \
             name: b\n  annotations:\n    helm.sh/hook: pre-instal\n    \
             helm.sh/hook-weight: \"1.5\"\nspec:\n  template:\n    spec:\n      containers:\n      \
             - name: x\n        securityContext:\n          privileged: true\n",
        )
        .unwrap();
        let at = |kind: &str, field: &str| locate(&chart, "demo/templates/hooks.yaml", kind, field);
        assert_eq!(
            at("Job", "metadata.annotations[helm.sh/hook-weight]"),
            Some(("templates/hooks.yaml".to_string(), 14))
        );
        assert_eq!(
            at(
                "Job",
                "spec.template.spec.containers[0].securityContext.privileged"
            ),
            Some(("templates/hooks.yaml".to_string(), 21))
        );
        assert_eq!(
            at("ServiceAccount", "metadata.annotations[helm.sh/hook]"),
            Some(("templates/hooks.yaml".to_string(), 6))
        );
        assert_eq!(
            at("Job", "spec.nope"),
            Some(("templates/hooks.yaml".to_string(), 9))
        );
        std::fs::remove_dir_all(&chart).unwrap();
    }
}
