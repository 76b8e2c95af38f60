//! The CustomResourceDefinition of `hookpolicies.hooks.helm-hooks.io`, built from the same
//! rule ids and modes as the parser, so the apiserver refuses at `kubectl apply` what the
//! parser refuses: unknown rule ids and fields (structural schema: `kubectl apply`, which asks
//! for strict field validation, is refused naming the field), modes and selector operators
//! (enums), delete policies and the cross-field rules (CEL `x-kubernetes-validations`). A rule
//! setting is written as a map (`image-tag: {mode: enforce}`): the document's bare-mode short
//! form is not structural beside the map form. `deploy/crds/hookpolicies.yaml` is this value as YAML; a test keeps them equal.

use super::document::{Mode, RuleId};
use super::resource::{GROUP, PLURAL, VERSION};
use crate::hook::DeletePolicy;
use serde_json::{Value, json};

/// One rule's setting, always in the map form (`{mode: enforce}`; a bare mode is not
/// structural beside a map), with the parameters only the rule takes.
fn rule_setting_schema(rule: RuleId) -> Value {
    let mut properties = json!({
        "mode": {"type": "string", "enum": Mode::ALL.map(Mode::as_str)},
    });
    match rule {
        RuleId::Deadline => {
            properties["maxSeconds"] = json!({"type": "integer", "format": "int64", "minimum": 1});
        }
        RuleId::Capabilities => {
            properties["allowed"] = json!({
                "type": "array",
                "maxItems": 64,
                "items": {"type": "string", "maxLength": 64},
            });
        }
        _ => {}
    }
    json!({"type": "object", "required": ["mode"], "properties": properties})
}

/// The `rules` map: one property per rule id (an unknown id is an unknown field).
fn rules_schema() -> Value {
    let properties: serde_json::Map<String, Value> = RuleId::ALL
        .into_iter()
        .map(|rule| (rule.as_str().to_string(), rule_setting_schema(rule)))
        .collect();
    json!({"type": "object", "properties": properties})
}

/// A delete policy: known values only, `before-hook-creation` included, or `""` (none).
fn delete_policy_schema() -> Value {
    let known = DeletePolicy::KNOWN.join("|");
    let empty = "self == '' || ";
    json!({
        "type": "string",
        "maxLength": 128,
        "x-kubernetes-validations": [
            {
                "rule": format!("{empty}self.matches('(?i)^\\\\s*({known})\\\\s*(,\\\\s*({known})\\\\s*)*$')"),
                "message": "each delete policy must be before-hook-creation, hook-succeeded or hook-failed (comma-separated)",
            },
            {
                "rule": format!("{empty}self.matches('(?i)(^|,)\\\\s*before-hook-creation\\\\s*(,|$)')"),
                "message": "include before-hook-creation, or every injected default would switch off Helm's own",
            },
        ],
    })
}

fn string_list(max_items: usize) -> Value {
    json!({"type": "array", "maxItems": max_items, "items": {"type": "string", "maxLength": 253}})
}

fn namespace_selector_schema() -> Value {
    json!({
        "type": "object",
        "description": "Which namespaces this policy applies to (a label selector; absent: every namespace). Where several policies select a namespace, the highest priority applies, then the name first in alphabetical order.",
        "properties": {
            "matchLabels": {
                "type": "object",
                "maxProperties": 64,
                "additionalProperties": {"type": "string", "maxLength": 63},
            },
            "matchExpressions": {
                "type": "array",
                "maxItems": 64,
                "items": {
                    "type": "object",
                    "required": ["key", "operator"],
                    "properties": {
                        "key": {"type": "string", "maxLength": 317},
                        "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                        "values": string_list(256),
                    },
                    "x-kubernetes-validations": [{
                        "rule": "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
                        "message": "In and NotIn need values; Exists and DoesNotExist take none",
                        "fieldPath": ".values",
                    }],
                },
            },
        },
    })
}

fn defaults_schema() -> Value {
    let seconds = json!({"type": "integer", "format": "int64", "minimum": 0});
    json!({
        "type": "object",
        "description": "The defaults injected into hooks, each only where the field is absent; 0 or \"\" switches one off.",
        "properties": {
            "deletePolicy": delete_policy_schema(),
            "activeDeadlineSeconds": seconds,
            "ttlSecondsAfterFinished": seconds,
            "securityContext": {
                "type": "object",
                "properties": {
                    "profile": {"type": "string", "enum": ["restricted", "none"]},
                    "runAsUser": {"type": "integer", "format": "int64", "minimum": 1},
                },
            },
        },
    })
}

fn override_schema() -> Value {
    let seconds = json!({"type": "integer", "format": "int64", "minimum": 0});
    json!({
        "type": "object",
        "required": ["namespaces"],
        "properties": {
            "namespaces": {
                "type": "array",
                "minItems": 1,
                "maxItems": 256,
                "items": {"type": "string", "maxLength": 63},
            },
            "rules": rules_schema(),
            "defaults": {
                "type": "object",
                "properties": {
                    "deletePolicy": delete_policy_schema(),
                    "activeDeadlineSeconds": seconds,
                    "ttlSecondsAfterFinished": seconds,
                    "securityProfile": {"type": "string", "enum": ["restricted", "none"]},
                },
            },
        },
    })
}

fn spec_schema() -> Value {
    json!({
        "type": "object",
        "description": "The hook policy document (without apiVersion and kind), plus namespaceSelector and priority.",
        "properties": {
            "priority": {
                "type": "integer",
                "format": "int32",
                "minimum": i32::MIN,
                "maximum": i32::MAX,
                "description": "Where several policies select a namespace, the highest priority applies (default 0); equal priorities: the name first in alphabetical order.",
            },
            "namespaceSelector": namespace_selector_schema(),
            "defaults": defaults_schema(),
            "rules": rules_schema(),
            "exemptNamespaces": string_list(256),
            "namespaceOverrides": {"type": "array", "maxItems": 32, "items": override_schema()},
        },
        "x-kubernetes-validations": [{
            // The parser's rule: a deadline rule written without maxSeconds has no maximum; an
            // absent one has the built-in maximum; an absent default is the built-in one; 0
            // switches the default off.
            "rule": format!(
                "(has(self.rules) && has(self.rules.deadline) && !has(self.rules.deadline.maxSeconds)) || \
                 (has(self.defaults) && has(self.defaults.activeDeadlineSeconds) && self.defaults.activeDeadlineSeconds == 0) || \
                 (has(self.defaults) && has(self.defaults.activeDeadlineSeconds) ? self.defaults.activeDeadlineSeconds : {default}) <= \
                 (has(self.rules) && has(self.rules.deadline) ? self.rules.deadline.maxSeconds : {max})",
                default = super::HookDefaults::default().active_deadline_seconds.unwrap_or(0),
                max = super::RuleSetting::builtin(RuleId::Deadline).max_seconds.unwrap_or(0),
            ),
            "message": "defaults.activeDeadlineSeconds (600 when not set) is above rules.deadline.maxSeconds (3600 when the rule is not set): every defaulted hook would be denied; lower it or raise the maximum",
            "fieldPath": ".defaults.activeDeadlineSeconds",
        }],
    })
}

/// The labels of what `deploy/` installs with the CRD (the webhook's, as on deploy/'s base).
pub fn labels() -> Value {
    json!({"app.kubernetes.io/name": "helm-hooks-webhook", "app.kubernetes.io/part-of": "helm-hooks"})
}

/// The CustomResourceDefinition (apiextensions.k8s.io/v1) of `HookPolicy`.
pub fn custom_resource_definition() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{PLURAL}.{GROUP}"),
            "labels": labels(),
        },
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {
                "plural": PLURAL,
                "singular": "hookpolicy",
                "kind": super::KIND,
                "listKind": "HookPolicyList",
                "shortNames": ["hookpol"],
                "categories": ["helm-hooks"],
            },
            "versions": [{
                "name": VERSION,
                "served": true,
                "storage": true,
                "additionalPrinterColumns": [
                    {"name": "Priority", "type": "integer", "jsonPath": ".spec.priority"},
                    {"name": "Enforce", "type": "integer", "jsonPath": ".status.enforce", "description": "Rules in enforce mode (outside overrides), counted by the hookpolicy-summary admission policy"},
                    {"name": "Warn", "type": "integer", "jsonPath": ".status.warn"},
                    {"name": "Audit", "type": "integer", "jsonPath": ".status.audit", "priority": 1},
                    {"name": "Off", "type": "integer", "jsonPath": ".status.off", "priority": 1},
                    {"name": "Selector", "type": "string", "jsonPath": ".spec.namespaceSelector"},
                    {"name": "Exempt", "type": "string", "jsonPath": ".spec.exemptNamespaces"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "The helm-hooks policy for hooks in the namespaces it selects.",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec_schema(),
                        "status": {
                            "type": "object",
                            "description": "How many rules are in each mode (outside namespace overrides); written on every create and update by the hookpolicy-summary MutatingAdmissionPolicy, never read by helm-hooks.",
                            "properties": Mode::ALL.map(|m| (m.as_str().to_string(), json!({"type": "integer"}))).into_iter().collect::<serde_json::Map<_, _>>(),
                        },
                    },
                }},
            }],
        },
    })
}

/// The MutatingAdmissionPolicy (and its binding) that writes `status` of every `HookPolicy`
/// on create and update: how many rules are in each mode, rules the spec leaves out counted
/// with their built-in mode. `kubectl get hookpolicies` shows the counts.
pub fn summary_policy() -> Vec<Value> {
    let builtin: Vec<String> = RuleId::ALL
        .into_iter()
        .map(|r| format!("'{}': '{}'", r.as_str(), r.default_mode().as_str()))
        .collect();
    let ids: Vec<String> = RuleId::ALL
        .into_iter()
        .map(|r| format!("'{}'", r.as_str()))
        .collect();
    let counts: Vec<String> = Mode::ALL
        .into_iter()
        .map(|m| {
            format!(
                "'{m}': variables.modes.filter(m, m == '{m}').size()",
                m = m.as_str()
            )
        })
        .collect();
    let name = "hookpolicy-summary";
    vec![
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": name, "labels": labels()},
            "spec": {
                "failurePolicy": "Ignore",
                "reinvocationPolicy": "Never",
                "matchConstraints": {"resourceRules": [{
                    "apiGroups": [GROUP],
                    "apiVersions": ["*"],
                    "resources": [PLURAL],
                    "operations": ["CREATE", "UPDATE"],
                }]},
                "variables": [
                    {"name": "builtin", "expression": format!("{{{}}}", builtin.join(", "))},
                    {
                        "name": "modes",
                        "expression": format!(
                            "[{}].map(r, has(object.spec) && has(object.spec.rules) && r in object.spec.rules ? object.spec.rules[r].mode : variables.builtin[r])",
                            ids.join(", ")
                        ),
                    },
                ],
                "mutations": [{
                    "patchType": "JSONPatch",
                    "jsonPatch": {"expression": format!(
                        "[JSONPatch{{op: 'add', path: '/status', value: {{{}}}}}]",
                        counts.join(", ")
                    )},
                }],
            },
        }),
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicyBinding",
            "metadata": {"name": name, "labels": labels()},
            "spec": {"policyName": name},
        }),
    ]
}

#[cfg(test)]
mod tests;
