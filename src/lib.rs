//! helm-hooks core: the pure logic shared by the admission webhook and the kubectl plugin.
//!
//! - [`hook`]: hook annotations as Helm parses them, diagnostics, Helm's execution order.
//! - [`release`]: Helm's release records (Secret and ConfigMap storage) decoded and encoded.
//! - [`policy`]: the cluster-wide hook policy and its evaluation into a [`policy::Verdict`].
//! - [`manifest`]: multi-document YAML (rendered charts) into objects.
//! - [`ownership`]: whether a live object is a hook run of a release (the rule every deletion
//!   asks).
//! - [`janitor_rules`]: the janitor's decisions (live delete policy, orphans) and the stamps
//!   and kept logs it leaves in the cluster for `kubectl hooks`.
//! - [`orphans`]: leftover hooks of releases that are not installed, with the evidence.
//! - [`post_render`]: the post-renderer: a rendered stream with the policy's defaults on hooks.
//! - [`text`]: bounded echoes of values in messages and logs.
//! - [`workload`]: which hooks run a pod (a Job or a Pod), the ones Helm waits for.
//!
//! No network I/O and no async runtime live here: every function takes bytes or values and
//! returns values, so all of it is unit-testable without a cluster.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod hook;
pub mod janitor_rules;
pub mod manifest;
pub mod orphans;
pub mod ownership;
pub mod policy;
pub mod post_render;
pub mod release;
pub mod text;
pub mod workload;
