//! The policy document (YAML): defaults to inject, a mode per rule, namespace exemptions
//! and per-namespace overrides. Missing parts take the built-in default policy's values.

use crate::hook::{DeletePolicy, did_you_mean, parse_hook};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// The policy document's `apiVersion`: `hooks.helm-hooks.io/v1alpha1`.
pub const API_VERSION: &str = "hooks.helm-hooks.io/v1alpha1";
/// The policy document's `kind`: `HookPolicy`.
pub const KIND: &str = "HookPolicy";

/// What a rule does when it finds something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Deny the object.
    Enforce,
    /// Admit it with an admission warning.
    Warn,
    /// Admit it; log and count only.
    Audit,
    /// Do not check.
    Off,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 4] = [Mode::Enforce, Mode::Warn, Mode::Audit, Mode::Off];

    /// The document's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Audit => "audit",
            Mode::Off => "off",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let known = Mode::ALL.map(Mode::as_str);
                match did_you_mean(s, known) {
                    Some(m) => format!("unknown mode {s:?}; did you mean {m:?}?"),
                    None => format!("unknown mode {s:?}; use one of: {}", known.join(", ")),
                }
            })
    }
}

/// A rule's stable identifier (part of the public API: policies and metrics name rules by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleId {
    /// `privileged`: a container runs privileged.
    Privileged,
    /// `host-namespaces`: the pod shares the node's network, PID or IPC namespace.
    HostNamespaces,
    /// `host-path`: the pod mounts a path of the node.
    HostPath,
    /// `capabilities`: a container adds a capability that is not allowed.
    Capabilities,
    /// `privilege-escalation`: a container allows privilege escalation.
    PrivilegeEscalation,
    /// `run-as-root`: a container runs, or may run, as root.
    RunAsRoot,
    /// `restart-policy-always`: a hook Pod restarts forever, so Helm waits forever.
    RestartPolicyAlways,
    /// `deadline`: no `activeDeadlineSeconds`, or one above the maximum.
    Deadline,
    /// `delete-policy-values`: an unknown or empty delete policy.
    DeletePolicyValues,
    /// `hook-weight`: a weight that is not an integer (Helm reads it as 0).
    HookWeight,
    /// A hook annotation over the size limit (`helm.sh/hook`, delete or output-log policy).
    AnnotationSize,
    /// `image-tag`: an image without a tag, or with `:latest`.
    ImageTag,
    /// `resources`: a container without resource limits.
    Resources,
}

impl RuleId {
    /// Every rule, in documentation order.
    pub const ALL: [RuleId; 13] = [
        RuleId::Privileged,
        RuleId::HostNamespaces,
        RuleId::HostPath,
        RuleId::Capabilities,
        RuleId::PrivilegeEscalation,
        RuleId::RunAsRoot,
        RuleId::RestartPolicyAlways,
        RuleId::Deadline,
        RuleId::DeletePolicyValues,
        RuleId::HookWeight,
        RuleId::AnnotationSize,
        RuleId::ImageTag,
        RuleId::Resources,
    ];

    /// The rule id as policies, messages and metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::Privileged => "privileged",
            RuleId::HostNamespaces => "host-namespaces",
            RuleId::HostPath => "host-path",
            RuleId::Capabilities => "capabilities",
            RuleId::PrivilegeEscalation => "privilege-escalation",
            RuleId::RunAsRoot => "run-as-root",
            RuleId::RestartPolicyAlways => "restart-policy-always",
            RuleId::Deadline => "deadline",
            RuleId::DeletePolicyValues => "delete-policy-values",
            RuleId::HookWeight => "hook-weight",
            RuleId::AnnotationSize => "annotation-size",
            RuleId::ImageTag => "image-tag",
            RuleId::Resources => "resources",
        }
    }

    /// The mode of this rule in the built-in policy.
    pub fn default_mode(self) -> Mode {
        match self {
            RuleId::RunAsRoot | RuleId::ImageTag => Mode::Warn,
            RuleId::Resources => Mode::Audit,
            _ => Mode::Enforce,
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RuleId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleId::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let known = RuleId::ALL.map(RuleId::as_str);
                match did_you_mean(s, known) {
                    Some(r) => format!("unknown rule {s:?}; did you mean {r:?}?"),
                    None => format!("unknown rule {s:?}; rules are: {}", known.join(", ")),
                }
            })
    }
}

macro_rules! serde_via_str {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_str!(Mode);
serde_via_str!(RuleId);

/// One rule's setting: a mode, plus the parameters some rules take. In YAML either a bare
/// mode (`privileged: enforce`) or a map (`deadline: {mode: enforce, maxSeconds: 3600}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetting {
    /// What the rule does when it finds something.
    pub mode: Mode,
    /// `deadline` only: the largest `activeDeadlineSeconds` allowed.
    pub max_seconds: Option<i64>,
    /// `capabilities` only: the capabilities a container may add.
    pub allowed: Option<Vec<String>>,
}

impl RuleSetting {
    /// A setting with only a mode.
    pub fn mode(mode: Mode) -> RuleSetting {
        RuleSetting {
            mode,
            max_seconds: None,
            allowed: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleSettingMap {
    mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allowed: Option<Vec<String>>,
}

impl Serialize for RuleSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.max_seconds.is_none() && self.allowed.is_none() {
            self.mode.serialize(serializer)
        } else {
            RuleSettingMap {
                mode: self.mode,
                max_seconds: self.max_seconds,
                allowed: self.allowed.clone(),
            }
            .serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for RuleSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Mode(String),
            Map(serde_yaml_ng::Value),
        }
        match Either::deserialize(deserializer)? {
            Either::Mode(mode) => Ok(RuleSetting::mode(
                mode.parse().map_err(serde::de::Error::custom)?,
            )),
            Either::Map(value) => {
                let map: RuleSettingMap =
                    serde_yaml_ng::from_value(value).map_err(serde::de::Error::custom)?;
                Ok(RuleSetting {
                    mode: map.mode,
                    max_seconds: map.max_seconds,
                    allowed: map.allowed,
                })
            }
        }
    }
}

/// Which securityContext defaults to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityProfile {
    /// Pod Security Standards `restricted`: seccomp RuntimeDefault, non-root, no privilege
    /// escalation, all capabilities dropped.
    Restricted,
    /// Inject no securityContext.
    None,
}

/// securityContext defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecurityContextDefaults {
    /// Which securityContext to inject.
    #[serde(default = "builtin_profile")]
    pub profile: SecurityProfile,
    /// The UID set with `runAsNonRoot: true` when the pod sets none (root images such as
    /// busybox would otherwise fail to start).
    #[serde(default = "builtin_run_as_user")]
    pub run_as_user: i64,
}

/// The defaults injected into hooks, each only where the field is absent. A field left out
/// of the document keeps the built-in value; an explicit `null` switches that default off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HookDefaults {
    /// `helm.sh/hook-delete-policy`; `null` injects none.
    #[serde(default = "builtin_delete_policy")]
    pub delete_policy: Option<String>,
    /// `spec.activeDeadlineSeconds` of Jobs and Pods; `null` injects none.
    #[serde(default = "builtin_active_deadline_seconds")]
    pub active_deadline_seconds: Option<i64>,
    /// Jobs' `spec.ttlSecondsAfterFinished`; off (`null`) by default because it also deletes
    /// failed Jobs and their logs.
    #[serde(default)]
    pub ttl_seconds_after_finished: Option<i64>,
    /// The securityContext to inject.
    #[serde(default)]
    pub security_context: SecurityContextDefaults,
}

fn builtin_delete_policy() -> Option<String> {
    Some("before-hook-creation,hook-succeeded".into())
}

fn builtin_active_deadline_seconds() -> Option<i64> {
    Some(600)
}

impl Default for SecurityContextDefaults {
    fn default() -> Self {
        SecurityContextDefaults {
            profile: SecurityProfile::Restricted,
            run_as_user: builtin_run_as_user(),
        }
    }
}

fn builtin_profile() -> SecurityProfile {
    SecurityProfile::Restricted
}

fn builtin_run_as_user() -> i64 {
    65532
}

impl Default for HookDefaults {
    fn default() -> Self {
        HookDefaults {
            delete_policy: builtin_delete_policy(),
            active_deadline_seconds: builtin_active_deadline_seconds(),
            ttl_seconds_after_finished: None,
            security_context: SecurityContextDefaults::default(),
        }
    }
}

/// Per-namespace changes to the defaults; absent fields keep the policy's values. To switch a
/// default off in one namespace, set it to `0` (deadline, TTL) or `""` (delete policy).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DefaultsOverride {
    /// The delete policy to inject; `""` injects none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_policy: Option<String>,
    /// The `activeDeadlineSeconds` to inject; `0` injects none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    /// The Jobs' `ttlSecondsAfterFinished` to inject; `0` injects none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<i64>,
    /// The securityContext profile to inject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_profile: Option<SecurityProfile>,
}

/// Rule modes and defaults that differ in some namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamespaceOverride {
    /// The namespaces this override applies to.
    pub namespaces: Vec<String>,
    /// Rule settings that replace the document's in these namespaces.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<RuleId, RuleSetting>,
    /// Changes to the defaults in these namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<DefaultsOverride>,
}

/// The whole policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Policy {
    /// Must be [`API_VERSION`].
    pub api_version: String,
    /// Must be [`KIND`].
    pub kind: String,
    /// The defaults injected into hooks.
    pub defaults: HookDefaults,
    /// Rule settings; a rule not listed keeps its built-in mode.
    pub rules: BTreeMap<RuleId, RuleSetting>,
    /// Namespaces where hooks are neither mutated nor checked.
    pub exempt_namespaces: Vec<String>,
    /// Rule modes and defaults that differ in some namespaces; the first override that names a namespace applies there.
    pub namespace_overrides: Vec<NamespaceOverride>,
}

impl RuleSetting {
    /// The setting of `rule` in the built-in policy.
    pub fn builtin(rule: RuleId) -> RuleSetting {
        let mut setting = RuleSetting::mode(rule.default_mode());
        match rule {
            RuleId::Deadline => setting.max_seconds = Some(3600),
            RuleId::Capabilities => setting.allowed = Some(vec!["NET_BIND_SERVICE".into()]),
            _ => {}
        }
        setting
    }
}

impl Default for Policy {
    /// The built-in default policy.
    fn default() -> Self {
        let rules = RuleId::ALL
            .into_iter()
            .map(|id| (id, RuleSetting::builtin(id)))
            .collect();
        Policy {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            defaults: HookDefaults::default(),
            rules,
            exempt_namespaces: vec!["kube-system".into()],
            namespace_overrides: Vec::new(),
        }
    }
}

/// A policy document that cannot be used, naming the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid hook policy: {field}: {message}")]
pub struct PolicyError {
    /// Where in the document, e.g. `rules.deadline.maxSeconds`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl PolicyError {
    pub(super) fn new(field: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Policy {
    /// The built-in default policy.
    pub fn builtin() -> Policy {
        Policy::default()
    }

    /// Parses and validates a policy document.
    pub fn from_yaml(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = serde_yaml_ng::from_str(text).map_err(|e| {
            let field = e
                .location()
                .map(|l| format!("line {} column {}", l.line(), l.column()))
                .unwrap_or_else(|| "document".into());
            PolicyError::new(field, e.to_string())
        })?;
        policy.validate()?;
        Ok(policy)
    }

    /// The document as YAML (what `helm-hooks-webhook default-policy` prints).
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).expect("a policy always serializes")
    }

    /// The setting of `rule` in `namespace`. To ask about several rules, resolve the namespace
    /// once with [`Policy::resolve`].
    pub fn rule(&self, rule: RuleId, namespace: Option<&str>) -> RuleSetting {
        self.rule_with(rule, self.override_for(namespace))
    }

    /// The defaults in force in `namespace`.
    pub fn defaults_for(&self, namespace: Option<&str>) -> HookDefaults {
        self.defaults_with(self.override_for(namespace))
    }

    /// Whether hooks in `namespace` are left alone entirely.
    pub fn is_exempt(&self, namespace: Option<&str>) -> bool {
        namespace.is_some_and(|ns| self.exempt_namespaces.iter().any(|e| e == ns))
    }

    /// The first override that lists `namespace`.
    pub(super) fn override_for(&self, namespace: Option<&str>) -> Option<&NamespaceOverride> {
        let ns = namespace?;
        self.namespace_overrides
            .iter()
            .find(|o| o.namespaces.iter().any(|n| n == ns))
    }

    /// The setting of `rule` under `over`: the override's mode (and its parameters, where it
    /// sets them), else the document's setting, else the built-in one.
    pub(super) fn rule_with(&self, rule: RuleId, over: Option<&NamespaceOverride>) -> RuleSetting {
        let base = self
            .rules
            .get(&rule)
            .cloned()
            .unwrap_or_else(|| RuleSetting::builtin(rule));
        match over.and_then(|o| o.rules.get(&rule)) {
            Some(over) => RuleSetting {
                mode: over.mode,
                max_seconds: over.max_seconds.or(base.max_seconds),
                allowed: over.allowed.clone().or(base.allowed),
            },
            None => base,
        }
    }

    /// The document's defaults changed by `over`'s (`0` or `""` switches one off).
    pub(super) fn defaults_with(&self, over: Option<&NamespaceOverride>) -> HookDefaults {
        let mut defaults = self.defaults.clone();
        if let Some(over) = over.and_then(|o| o.defaults.as_ref()) {
            if let Some(p) = &over.delete_policy {
                defaults.delete_policy = Some(p.clone()).filter(|p| !p.is_empty());
            }
            if let Some(s) = over.active_deadline_seconds {
                defaults.active_deadline_seconds = Some(s).filter(|s| *s > 0);
            }
            if let Some(s) = over.ttl_seconds_after_finished {
                defaults.ttl_seconds_after_finished = Some(s).filter(|s| *s > 0);
            }
            if let Some(p) = over.security_profile {
                defaults.security_context.profile = p;
            }
        }
        defaults
    }

    pub(super) fn validate(&self) -> Result<(), PolicyError> {
        if self.api_version != API_VERSION {
            return Err(PolicyError::new(
                "apiVersion",
                format!("must be {API_VERSION}, not {:?}", self.api_version),
            ));
        }
        if self.kind != KIND {
            return Err(PolicyError::new(
                "kind",
                format!("must be {KIND}, not {:?}", self.kind),
            ));
        }
        validate_defaults(&self.defaults)?;
        for (id, setting) in &self.rules {
            validate_rule(&format!("rules.{id}"), *id, setting)?;
        }
        let deadline = self.rule(RuleId::Deadline, None);
        if let (Some(max), Some(default)) =
            (deadline.max_seconds, self.defaults.active_deadline_seconds)
            && default > max
        {
            return Err(PolicyError::new(
                "defaults.activeDeadlineSeconds",
                format!(
                    "{default} is above rules.deadline.maxSeconds ({max}): every defaulted hook would be denied; lower it or raise the maximum"
                ),
            ));
        }
        for (i, over) in self.namespace_overrides.iter().enumerate() {
            let at = format!("namespaceOverrides[{i}]");
            if over.namespaces.is_empty() {
                return Err(PolicyError::new(
                    format!("{at}.namespaces"),
                    "list at least one namespace",
                ));
            }
            for (id, setting) in &over.rules {
                validate_rule(&format!("{at}.rules.{id}"), *id, setting)?;
            }
            if let Some(policy) = over
                .defaults
                .as_ref()
                .and_then(|d| d.delete_policy.as_deref())
                && !policy.is_empty()
            {
                validate_delete_policy(&format!("{at}.defaults.deletePolicy"), policy)?;
            }
        }
        Ok(())
    }
}

fn validate_defaults(defaults: &HookDefaults) -> Result<(), PolicyError> {
    if let Some(policy) = &defaults.delete_policy {
        validate_delete_policy("defaults.deletePolicy", policy)?;
    }
    for (field, value) in [
        (
            "defaults.activeDeadlineSeconds",
            defaults.active_deadline_seconds,
        ),
        (
            "defaults.ttlSecondsAfterFinished",
            defaults.ttl_seconds_after_finished,
        ),
    ] {
        if value.is_some_and(|v| v <= 0) {
            return Err(PolicyError::new(
                field,
                "must be a positive number of seconds, or null to inject none",
            ));
        }
    }
    if defaults.security_context.run_as_user <= 0 {
        return Err(PolicyError::new(
            "defaults.securityContext.runAsUser",
            "must be a non-root UID (> 0)",
        ));
    }
    Ok(())
}

fn validate_delete_policy(field: &str, value: &str) -> Result<(), PolicyError> {
    let annotations = [
        (
            crate::hook::HOOK_ANNOTATION.to_string(),
            "pre-install".to_string(),
        ),
        (
            crate::hook::DELETE_POLICY_ANNOTATION.to_string(),
            value.to_string(),
        ),
    ]
    .into();
    let parsed = parse_hook(&annotations).expect("has the hook annotation");
    match parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == crate::hook::Severity::Error)
    {
        Some(d) => Err(PolicyError::new(field, d.message.clone())),
        None if parsed
            .spec
            .delete_policies
            .contains(&DeletePolicy::BeforeHookCreation) =>
        {
            Ok(())
        }
        None => Err(PolicyError::new(
            field,
            "include before-hook-creation, or every injected default would switch off Helm's own",
        )),
    }
}

fn validate_rule(field: &str, id: RuleId, setting: &RuleSetting) -> Result<(), PolicyError> {
    if setting.max_seconds.is_some() && id != RuleId::Deadline {
        return Err(PolicyError::new(
            format!("{field}.maxSeconds"),
            "only the deadline rule takes maxSeconds",
        ));
    }
    if setting.max_seconds.is_some_and(|s| s <= 0) {
        return Err(PolicyError::new(
            format!("{field}.maxSeconds"),
            "must be a positive number of seconds",
        ));
    }
    if setting.allowed.is_some() && id != RuleId::Capabilities {
        return Err(PolicyError::new(
            format!("{field}.allowed"),
            "only the capabilities rule takes allowed",
        ));
    }
    Ok(())
}
