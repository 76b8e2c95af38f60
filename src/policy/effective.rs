//! The policy as it applies in one namespace, resolved once per object: whether the namespace
//! is exempt, every rule's setting and the defaults, with the namespace's override (if any)
//! already merged in. The rules and the defaults read this, never the document.

use super::document::{HookDefaults, Mode, Policy, RuleId, RuleSetting};

/// The policy in force in one namespace (see [`Policy::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    exempt: bool,
    /// Indexed by `RuleId as usize` (the order of [`RuleId::ALL`]).
    rules: [RuleSetting; RuleId::ALL.len()],
    defaults: HookDefaults,
}

impl Policy {
    /// The policy in force in `namespace`: its override merged in, looked up once. A namespace
    /// that no part of the document names, and `None`, get the document's own settings.
    pub fn resolve(&self, namespace: Option<&str>) -> EffectivePolicy {
        let over = self.override_for(namespace);
        EffectivePolicy {
            exempt: self.is_exempt(namespace),
            rules: RuleId::ALL.map(|rule| self.rule_with(rule, over)),
            defaults: self.defaults_with(over),
        }
    }
}

impl EffectivePolicy {
    /// Whether hooks here are left alone entirely (neither mutated nor checked).
    pub fn is_exempt(&self) -> bool {
        self.exempt
    }

    /// The setting of `rule`.
    pub fn rule(&self, rule: RuleId) -> &RuleSetting {
        &self.rules[rule as usize]
    }

    /// The mode of `rule`.
    pub fn mode(&self, rule: RuleId) -> Mode {
        self.rule(rule).mode
    }

    /// The defaults to inject.
    pub fn defaults(&self) -> &HookDefaults {
        &self.defaults
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SecurityProfile;

    #[test]
    fn rule_ids_index_in_documentation_order() {
        for (i, rule) in RuleId::ALL.into_iter().enumerate() {
            assert_eq!(rule as usize, i, "{rule}");
        }
    }

    /// The resolved policy answers exactly what the per-question methods answer.
    #[test]
    fn agrees_with_the_per_question_methods() {
        let policy = Policy::from_yaml(
            "apiVersion: hooks.helm-hooks.io/v1alpha1\nkind: HookPolicy\n\
             rules: {privileged: warn, capabilities: {mode: enforce, allowed: [CHOWN]}}\n\
             exemptNamespaces: [kube-system, sandbox]\n\
             namespaceOverrides:\n\
             - namespaces: [legacy, sandbox]\n  \
               rules: {privileged: audit, deadline: {mode: warn, maxSeconds: 7200}}\n  \
               defaults: {activeDeadlineSeconds: 0, deletePolicy: '', securityProfile: none}\n\
             - namespaces: [legacy, ci]\n  rules: {image-tag: off}\n",
        )
        .unwrap();
        for ns in [
            None,
            Some("default"),
            Some("legacy"),
            Some("sandbox"),
            Some("ci"),
            Some("kube-system"),
        ] {
            let effective = policy.resolve(ns);
            assert_eq!(effective.is_exempt(), policy.is_exempt(ns), "{ns:?}");
            assert_eq!(*effective.defaults(), policy.defaults_for(ns), "{ns:?}");
            for rule in RuleId::ALL {
                assert_eq!(
                    *effective.rule(rule),
                    policy.rule(rule, ns),
                    "{ns:?} {rule}"
                );
                assert_eq!(effective.mode(rule), policy.rule(rule, ns).mode);
            }
        }
        let legacy = policy.resolve(Some("legacy"));
        assert_eq!(legacy.mode(RuleId::Privileged), Mode::Audit);
        assert_eq!(legacy.rule(RuleId::Deadline).max_seconds, Some(7200));
        assert_eq!(
            legacy.mode(RuleId::ImageTag),
            Mode::Warn,
            "first override wins"
        );
        assert_eq!(legacy.defaults().active_deadline_seconds, None);
        assert_eq!(legacy.defaults().delete_policy, None);
        assert_eq!(
            legacy.defaults().security_context.profile,
            SecurityProfile::None
        );
        assert_eq!(policy.resolve(Some("ci")).mode(RuleId::ImageTag), Mode::Off);
        assert_eq!(
            policy.resolve(Some("default")),
            policy.resolve(None),
            "an unnamed namespace gets the document's settings"
        );
        assert!(policy.resolve(Some("sandbox")).is_exempt());
    }

    #[test]
    fn rules_the_document_leaves_out_keep_their_builtin_setting() {
        let policy = Policy::from_yaml(
            "apiVersion: hooks.helm-hooks.io/v1alpha1\nkind: HookPolicy\nrules: {privileged: off}\n",
        )
        .unwrap();
        let effective = policy.resolve(None);
        assert_eq!(effective.mode(RuleId::Privileged), Mode::Off);
        for rule in RuleId::ALL.into_iter().filter(|r| *r != RuleId::Privileged) {
            assert_eq!(*effective.rule(rule), RuleSetting::builtin(rule), "{rule}");
        }
    }
}
