//! The rerun planner: which hooks of an event run, in which order, and which deletions Helm
//! would apply around each. Pure: no cluster access.

use crate::error::{Error, Result};
use crate::objects::HookRef;
use crate::releases::Record;
use crate::table::write_table;
use helm_hooks::hook::{DeletePolicy, HookEvent, OutputLogPolicy};
use helm_hooks::ownership::{RERUN_ANNOTATION, is_never_deleted, rerun_stamp};
use helm_hooks::workload::is_waited_kind;
use serde_json::Value;
use std::io::{self, Write};

/// One hook to run.
#[derive(Debug, Clone)]
pub struct Step {
    pub hook: HookRef,
    pub weight: i64,
    /// The effective delete policies (Helm's default applied).
    pub policies: Vec<DeletePolicy>,
    /// No policy was written: Helm's `before-hook-creation` default applies.
    pub defaulted: bool,
    /// `before-hook-creation`: delete the previous object and wait until it is gone.
    pub delete_before: bool,
    /// Helm waits for Jobs and Pods only.
    pub wait: bool,
    /// `hook-succeeded`: deleted (in reverse order) once every hook succeeded, or when a later
    /// hook fails.
    pub delete_on_success: bool,
    /// `hook-failed`: deleted when this hook fails.
    pub delete_on_failure: bool,
    /// `helm.sh/hook-output-log-policy`: print the Pods' logs when the hook succeeded or
    /// failed, as Helm does.
    pub output_logs: Vec<OutputLogPolicy>,
}

/// What `rerun` will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub release: String,
    pub namespace: String,
    pub revision: i64,
    pub event: HookEvent,
    pub steps: Vec<Step>,
}

/// Plans a rerun of `event`'s hooks of `record`, restricted to `only` (names) when not empty.
/// The order is Helm's (weight, name, kind, file order) over the whole event, so a subset
/// keeps its relative order.
pub fn plan(record: &Record, event: HookEvent, only: &[String]) -> Result<Plan> {
    let release = &record.release;
    let namespace = &record.reference.namespace;
    let hooks = release.hooks_for(event);
    let name = &record.reference.meta.release;
    if hooks.is_empty() {
        return Err(Error::Failed(format!(
            "release {name} (revision {}) has no {event} hooks",
            record.reference.meta.revision
        )));
    }
    let unknown: Vec<&String> = only
        .iter()
        .filter(|n| !hooks.iter().any(|h| &h.name == *n))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = hooks.iter().map(|h| h.name.as_str()).collect();
        return Err(Error::Usage(format!(
            "release {name} has no {event} hook named {}; its {event} hooks are: {}",
            unknown
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            known.join(", ")
        )));
    }
    let mut steps = Vec::new();
    for hook in hooks {
        if !only.is_empty() && !only.contains(&hook.name) {
            continue;
        }
        let reference = HookRef::from_hook(hook, namespace);
        if !reference.manifest.is_object() || reference.type_key.api_version.is_empty() {
            let why = match serde_yaml_ng::from_str::<Value>(&hook.manifest) {
                Err(e) => format!("invalid YAML: {e}"),
                Ok(_) => "not a Kubernetes object (no apiVersion or kind)".to_string(),
            };
            return Err(Error::Failed(format!(
                "hook {} ({}) has no usable stored manifest in release record {} (revision \
                 {}): {why}; cannot recreate it (a helm upgrade stores a fresh one)",
                hook.name, hook.path, record.reference.object_name, record.reference.meta.revision
            )));
        }
        let policies = hook.effective_delete_policies();
        let deletable = !is_never_deleted(&reference.type_key.kind);
        let has = |p: DeletePolicy| deletable && policies.contains(&p);
        steps.push(Step {
            delete_before: has(DeletePolicy::BeforeHookCreation),
            delete_on_success: has(DeletePolicy::HookSucceeded),
            delete_on_failure: has(DeletePolicy::HookFailed),
            output_logs: hook.output_log_policies(),
            wait: is_waited_kind(&reference.type_key.api_version, &reference.type_key.kind),
            defaulted: hook.delete_policy_names.is_empty(),
            policies,
            weight: hook.weight,
            hook: reference,
        });
    }
    Ok(Plan {
        release: name.clone(),
        namespace: namespace.clone(),
        revision: record.reference.meta.revision,
        event,
        steps,
    })
}

impl Plan {
    /// The [`RERUN_ANNOTATION`] value stamped on every object this rerun creates.
    pub fn rerun_stamp(&self) -> String {
        rerun_stamp(&self.namespace, &self.release, self.revision)
    }
}

impl Step {
    /// The object to create: the stored manifest, in the hook's namespace when namespaced,
    /// stamped with [`RERUN_ANNOTATION`] = `stamp` so it stays recognisable as a hook run.
    pub fn object(&self, namespaced: bool, stamp: &str) -> Value {
        let mut object = self.hook.manifest.clone();
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if !annotations.is_object() {
                *annotations = Value::Object(Default::default());
            }
            annotations
                .as_object_mut()
                .expect("made an object above")
                .insert(RERUN_ANNOTATION.into(), Value::String(stamp.to_string()));
            for server_field in [
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "managedFields",
            ] {
                metadata.remove(server_field);
            }
            if namespaced {
                metadata.insert(
                    "namespace".into(),
                    Value::String(self.hook.namespace.clone()),
                );
            } else {
                metadata.remove("namespace");
            }
        }
        if let Some(map) = object.as_object_mut() {
            map.remove("status");
        }
        object
    }
}

impl Plan {
    /// Writes the plan as a table (no manifests, no values).
    pub fn write<W: Write>(&self, out: &mut W) -> io::Result<()> {
        writeln!(
            out,
            "Plan: run {} {} hook{} of release {} (revision {}) in namespace {}, in Helm's order:",
            self.steps.len(),
            self.event,
            if self.steps.len() == 1 { "" } else { "s" },
            self.release,
            self.revision,
            self.namespace
        )?;
        let yes_no = |b: bool, yes: &str, no: &str| if b { yes } else { no }.to_string();
        let rows: Vec<Vec<String>> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                vec![
                    (i + 1).to_string(),
                    s.hook.kubectl_name(),
                    s.weight.to_string(),
                    format!(
                        "{}{}",
                        s.policies
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        if s.defaulted { " (default)" } else { "" }
                    ),
                    yes_no(s.delete_before, "delete, wait", "-"),
                    yes_no(s.wait, "yes", "no"),
                    yes_no(s.delete_on_success, "delete", "keep"),
                    yes_no(s.delete_on_failure, "delete", "keep"),
                ]
            })
            .collect();
        write_table(
            out,
            &[
                "STEP",
                "HOOK",
                "WEIGHT",
                "DELETE-POLICY",
                "BEFORE-CREATE",
                "WAIT",
                "ON-SUCCESS",
                "ON-FAILURE",
            ],
            &rows,
            false,
        )
    }
}

#[cfg(test)]
mod tests;
