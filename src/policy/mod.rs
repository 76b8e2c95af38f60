//! The cluster-wide hook policy: which safe defaults to inject and which unsafe hooks to
//! refuse. One engine serves the webhook and `kubectl hooks lint`, so a chart that lints
//! clean is admitted, and the reverse.
//!
//! [`Policy`] is the document; [`Policy::resolve`] gives the [`EffectivePolicy`] of one
//! namespace (exemption, rule settings and defaults with its override merged in), which is what
//! the rules and the defaults read.
//!
//! [`evaluate`] takes one object (raw as rendered, or as the apiserver sends it after its own
//! defaulting) and returns a [`Verdict`]: the JSON patch of defaults, and the violations found
//! on the object *as patched*, each with its rule id, mode, field path and fix.
//!
//! In a cluster the document is the spec of `HookPolicy` objects ([`resource`]; their
//! CustomResourceDefinition: [`crd`]); a [`PolicySet`] picks the object in force in a
//! namespace; [`admission_policy`] exports the policy as in-apiserver admission policies.

pub mod admission_policy;
mod containers;
pub mod crd;
mod defaults;
mod document;
mod effective;
mod evaluate;
mod patch;
pub mod resource;
mod rules;
mod verdict;

pub use document::{
    API_VERSION, DefaultsOverride, HookDefaults, KIND, Mode, NamespaceOverride, Policy,
    PolicyError, RuleId, RuleSetting, SecurityContextDefaults, SecurityProfile,
};
pub use effective::EffectivePolicy;
pub use evaluate::evaluate;
pub use resource::{HookPolicyObject, LabelSelector, PolicySet};
pub use rules::rule_of;
pub use verdict::{AppliedDefault, Verdict, Violation};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
