//! Where the chart will run: `kubectl hooks lint --target helm|argocd|flux`.
//!
//! The same rendered hook does different things under the Helm CLI, under Argo CD (which
//! renders with `helm template` and applies the objects itself, translating Helm's hook
//! annotations into its own sync phases) and under Flux's helm-controller (which runs Helm's
//! SDK). The rules here are pure: objects in, findings out. Each rule has a stable id
//! (`argocd/runs-every-sync`), names the annotation it is about and says what to do.
//!
//! Checked against (cite these when a rule changes):
//! - **Argo CD v3.5.1**: `docs/user-guide/helm.md` ("Helm Hooks"), the hook translation in
//!   `gitops-engine/pkg/sync/hook/helm/type.go` (only `pre-install`, `pre-upgrade`,
//!   `post-install`, `post-upgrade`, compared case-sensitively), `hook/hook.go` (a valid
//!   `argocd.argoproj.io/hook` replaces the Helm events; `hook/delete_policy.go` still adds
//!   the Helm delete policies), `syncwaves/waves.go`
//!   (`argocd.argoproj.io/sync-wave` before `helm.sh/hook-weight`), `ignore/ignore.go` (a hook
//!   with no phase is never applied), `sync_phase.go`, and `controller/hook.go` (`pre-delete`
//!   → PreDelete since v3.3.0, `post-delete` → PostDelete since v2.10.0; combined with other
//!   events, correct since v3.5.0).
//! - **Flux helm-controller v1.6.3**: `docs/spec/v2/helmreleases.md` ("Inventory": hooks are
//!   not in `.status.inventory`, since v1.5.0; "Handling failed uninstall": failing pre-delete
//!   hooks are re-run until `.spec.uninstall.disableHooks`, a failing post-delete hook is not,
//!   leftover delete-hook objects must be deleted by hand).
//!
//! Objects Helm itself drops (an unknown event) never reach any of the three and are not
//! passed here. `helm` adds no rule of its own: the annotation, policy and order checks of
//! [`super`] are Helm's.

use super::Level;
use super::prerequisites::{references, workload_references};
use helm_hooks::hook::{DeletePolicy, HookEvent, HookSpec, go_atoi};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The tool that will install the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The Helm CLI (`helm install|upgrade`): hooks run as Helm runs them.
    Helm,
    /// Argo CD: `helm template`, then Argo CD's own sync phases.
    Argocd,
    /// Flux's helm-controller: Helm's SDK, driven by a HelmRelease.
    Flux,
}

impl Target {
    /// The spelling of `--target` and of the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Helm => "helm",
            Target::Argocd => "argocd",
            Target::Flux => "flux",
        }
    }

    /// Whether the target runs Helm's own engine (Helm's hook order applies).
    pub fn runs_helm(self) -> bool {
        matches!(self, Target::Helm | Target::Flux)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `argocd.argoproj.io/hook`: Argo CD's own hook phases.
pub const ARGOCD_HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
/// `argocd.argoproj.io/sync-wave`: Argo CD's ordering, read before `helm.sh/hook-weight`.
pub const ARGOCD_SYNC_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";

const HOOK_FIELD: &str = "metadata.annotations[helm.sh/hook]";
const WEIGHT_FIELD: &str = "metadata.annotations[helm.sh/hook-weight]";
const DELETE_POLICY_FIELD: &str = "metadata.annotations[helm.sh/hook-delete-policy]";

/// One rendered object as the target rules see it.
#[derive(Debug, Clone)]
pub struct TargetObject<'a> {
    /// Index into the caller's object list.
    pub index: usize,
    /// `kind`, as rendered.
    pub kind: &'a str,
    /// `metadata.name`, as rendered.
    pub name: &'a str,
    /// The whole object (annotations are read raw: Argo CD does not normalise them).
    pub object: &'a Value,
    /// What Helm makes of its hook annotations; `None` for a regular resource.
    pub hook: Option<&'a HookSpec>,
}

/// One finding of a target rule, attached to the object at `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFinding {
    /// Index into the caller's object list.
    pub index: usize,
    /// The tool the rule is about.
    pub target: Target,
    /// The rule id: `argocd/runs-every-sync`.
    pub check: &'static str,
    /// Error when the tool silently never runs the hook (or never can), else warning.
    pub severity: Level,
    /// The annotation the finding is about: `metadata.annotations[helm.sh/hook]`.
    pub field: String,
    /// What the target does with the hook.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// The findings of every target in `targets` (in that order) over one rendered stream.
pub fn check(targets: &[Target], objects: &[TargetObject<'_>]) -> Vec<TargetFinding> {
    let mut out = Vec::new();
    for target in targets {
        match target {
            Target::Helm => {}
            Target::Argocd => argocd(objects, &mut out),
            Target::Flux => flux(objects, &mut out),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Argo CD

/// Argo CD's sync phases a hook can land in (`common.HookType`, plus the controller's delete
/// hooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    PreSync,
    Sync,
    PostSync,
    SyncFail,
    Skip,
}

impl Phase {
    fn parse(value: &str) -> Option<Phase> {
        Some(match value {
            "PreSync" => Phase::PreSync,
            "Sync" => Phase::Sync,
            "PostSync" => Phase::PostSync,
            "SyncFail" => Phase::SyncFail,
            "Skip" => Phase::Skip,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Phase::PreSync => "PreSync",
            Phase::Sync => "Sync",
            Phase::PostSync => "PostSync",
            Phase::SyncFail => "SyncFail",
            Phase::Skip => "Skip",
        }
    }
}

/// What Argo CD makes of one item of `helm.sh/hook`, compared exactly as Argo CD compares it
/// (trimmed, case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ArgoEvent {
    /// `pre-install`, `pre-upgrade`, `post-install`, `post-upgrade`.
    Sync(Phase),
    /// `pre-delete` (v3.3.0+) or `post-delete` (v2.10.0+).
    Delete,
    /// `test` / `test-success`: no equivalent.
    Test,
    /// `pre-rollback` / `post-rollback`: not supported.
    Rollback,
    /// Helm accepts it (it lower-cases), Argo CD does not: `Pre-Install`.
    Case(&'static str),
    /// Not a Helm event either (Helm itself reports it).
    Unknown,
}

fn argo_event(item: &str) -> ArgoEvent {
    match item {
        "pre-install" | "pre-upgrade" => ArgoEvent::Sync(Phase::PreSync),
        "post-install" | "post-upgrade" => ArgoEvent::Sync(Phase::PostSync),
        "pre-delete" | "post-delete" => ArgoEvent::Delete,
        "test" | "test-success" => ArgoEvent::Test,
        "pre-rollback" | "post-rollback" => ArgoEvent::Rollback,
        other => match HookEvent::parse(&other.to_lowercase()) {
            Some(event) => ArgoEvent::Case(event.as_str()),
            None => ArgoEvent::Unknown,
        },
    }
}

/// The trimmed, de-duplicated, non-empty items of a comma-separated annotation, as
/// gitops-engine's `GetAnnotationCSVs` reads them.
fn csv<'a>(annotations: &BTreeMap<&str, &'a str>, key: &str) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    annotations
        .get(key)
        .copied()
        .map(|v| v.split(','))
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|item| !item.is_empty() && seen.insert(*item))
        .collect()
}

fn raw_annotations(object: &Value) -> BTreeMap<&str, &str> {
    object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)))
                .collect()
        })
        .unwrap_or_default()
}

/// Argo CD's view of one hook.
struct ArgoHook<'a> {
    object: &'a TargetObject<'a>,
    /// The `helm.sh/hook` items with what Argo CD makes of each.
    events: Vec<(&'a str, ArgoEvent)>,
    /// Phases from a valid `argocd.argoproj.io/hook` (they replace the Helm events).
    argo_phases: BTreeSet<Phase>,
    /// The sync phases Argo CD runs the object in.
    phases: BTreeSet<Phase>,
}

impl ArgoHook<'_> {
    fn has(&self, item: &str) -> bool {
        self.events.iter().any(|(e, _)| *e == item)
    }
}

fn phases_list(phases: &BTreeSet<Phase>) -> String {
    if phases.is_empty() {
        "no phase".into()
    } else {
        phases
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn argocd(objects: &[TargetObject<'_>], out: &mut Vec<TargetFinding>) {
    let mut hooks = Vec::new();
    for object in objects.iter().filter(|o| o.hook.is_some()) {
        let annotations = raw_annotations(object.object);
        let events: Vec<(&str, ArgoEvent)> = csv(&annotations, "helm.sh/hook")
            .into_iter()
            .map(|item| (item, argo_event(item)))
            .collect();
        let argo_phases: BTreeSet<Phase> = csv(&annotations, ARGOCD_HOOK_ANNOTATION)
            .into_iter()
            .filter_map(Phase::parse)
            .collect();
        let helm_phases: BTreeSet<Phase> = events
            .iter()
            .filter_map(|(_, e)| match e {
                ArgoEvent::Sync(phase) => Some(*phase),
                _ => None,
            })
            .collect();
        let phases = if argo_phases.is_empty() {
            helm_phases
        } else {
            argo_phases.clone()
        };
        hooks.push(ArgoHook {
            object,
            events,
            argo_phases,
            phases,
        });
    }
    let finding = |hook: &ArgoHook, check, severity, field: &str, message, fix| TargetFinding {
        index: hook.object.index,
        target: Target::Argocd,
        check,
        severity,
        field: field.to_string(),
        message,
        fix,
    };
    for hook in &hooks {
        let o = hook.object;
        let annotations = raw_annotations(o.object);
        if !hook.argo_phases.is_empty() {
            overridden(hook, &finding, out);
        } else {
            every_sync(hook, &finding, out);
            ignored(hook, &finding, out);
            presync_before_resources(hook, objects, &finding, out);
        }
        post_sync_deadlock(hook, objects, &finding, out);
        delete_hooks(hook, &finding, out);
        // hook-weight becomes a sync wave, unless the object has a sync wave of its own.
        if let (Some(weight), Some(wave)) = (
            annotations.get("helm.sh/hook-weight"),
            annotations
                .get(ARGOCD_SYNC_WAVE_ANNOTATION)
                .and_then(|w| go_atoi(w)),
        ) {
            let helm_weight = go_atoi(weight).unwrap_or(0);
            if helm_weight != wave {
                out.push(finding(
                    hook,
                    "argocd/weight-overridden",
                    Level::Warning,
                    WEIGHT_FIELD,
                    format!(
                        "Argo CD orders by {ARGOCD_SYNC_WAVE_ANNOTATION} ({wave}) and ignores \
                         helm.sh/hook-weight ({helm_weight}): Helm and Argo CD run this hook at \
                         different points"
                    ),
                    "give both annotations the same value, or drop the one the chart does not \
                     need"
                        .into(),
                ));
            }
        }
    }
}

type Make<'f> = dyn Fn(&ArgoHook, &'static str, Level, &str, String, String) -> TargetFinding + 'f;

/// A valid `argocd.argoproj.io/hook` replaces `helm.sh/hook` for the sync phases.
fn overridden(hook: &ArgoHook, make: &Make, out: &mut Vec<TargetFinding>) {
    let helm_phases: BTreeSet<Phase> = hook
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            ArgoEvent::Sync(phase) => Some(*phase),
            _ => None,
        })
        .collect();
    // Delete events are the controller's, outside the sync phases; compare only the rest.
    let only_delete = helm_phases.is_empty()
        && hook
            .events
            .iter()
            .all(|(_, e)| matches!(e, ArgoEvent::Delete));
    if helm_phases == hook.argo_phases || only_delete {
        return;
    }
    let written: Vec<&str> = hook.events.iter().map(|(e, _)| *e).collect();
    out.push(make(
        hook,
        "argocd/helm-hook-overridden",
        Level::Warning,
        HOOK_FIELD,
        format!(
            "{ARGOCD_HOOK_ANNOTATION} is set ({}), so Argo CD ignores helm.sh/hook ({}, which it \
             would run as {}; its helm.sh/hook-delete-policy still applies): the object runs \
             at a different point under Argo CD than under Helm",
            phases_list(&hook.argo_phases),
            written.join(","),
            phases_list(&helm_phases)
        ),
        "make the two annotations express the same intent, or keep only the one for the tool \
         that installs the chart"
            .into(),
    ));
}

/// Install and upgrade are one "sync" to Argo CD.
fn every_sync(hook: &ArgoHook, make: &Make, out: &mut Vec<TargetFinding>) {
    let kind = hook.object.kind;
    for (install, upgrade, phase) in [
        ("pre-install", "pre-upgrade", "PreSync"),
        ("post-install", "post-upgrade", "PostSync"),
    ] {
        if hook.has(install) && !hook.has(upgrade) {
            let regenerated = if kind == "Secret" || kind == "ConfigMap" {
                format!(
                    "; a {kind} made once at install (a generated password, a certificate) is \
                     rendered and replaced again at each sync"
                )
            } else {
                String::new()
            };
            out.push(make(
                hook,
                "argocd/runs-every-sync",
                Level::Warning,
                HOOK_FIELD,
                format!(
                    "Argo CD runs {install} as {phase} on every sync: it cannot tell an install \
                     from an upgrade, so this run-once-at-install {kind} runs again at each \
                     sync{regenerated}"
                ),
                format!(
                    "make the {kind} idempotent (check whether its work is done first), or, if it \
                     is meant to run on every sync, say so with \
                     `{ARGOCD_HOOK_ANNOTATION}: {phase}`"
                ),
            ));
        }
        if hook.has(upgrade) && !hook.has(install) {
            out.push(make(
                hook,
                "argocd/runs-at-first-sync",
                Level::Warning,
                HOOK_FIELD,
                format!(
                    "Argo CD runs {upgrade} as {phase} on every sync, including the first one, \
                     where Helm would install and skip this upgrade-only {kind}"
                ),
                format!(
                    "make the {kind} succeed on a fresh install (exit 0 when there is nothing to \
                     upgrade); `.Release.IsUpgrade` is always false under `helm template`, so a \
                     template guard would drop it for Argo CD altogether"
                ),
            ));
        }
    }
}

/// Events Argo CD ignores; when none is left, the object is never applied.
fn ignored(hook: &ArgoHook, make: &Make, out: &mut Vec<TargetFinding>) {
    let runs = hook
        .events
        .iter()
        .any(|(_, e)| matches!(e, ArgoEvent::Sync(_) | ArgoEvent::Delete));
    let severity = if runs { Level::Warning } else { Level::Error };
    let never = if runs {
        "these events are lost, the object still runs for its others".to_string()
    } else {
        "Argo CD never applies this object".to_string()
    };
    let rollback: Vec<&str> = hook
        .events
        .iter()
        .filter(|(_, e)| matches!(e, ArgoEvent::Rollback))
        .map(|(e, _)| *e)
        .collect();
    if !rollback.is_empty() {
        out.push(make(
            hook,
            "argocd/hook-ignored",
            severity,
            HOOK_FIELD,
            format!(
                "Argo CD ignores {} hooks (a rollback there is a sync to an older revision, \
                 which runs PreSync/PostSync hooks only): {never}",
                rollback.join(",")
            ),
            "do the work in a PreSync hook that checks which version it is moving from, or \
             keep this hook for Helm-only installs"
                .into(),
        ));
    }
    let case: Vec<(&str, &str)> = hook
        .events
        .iter()
        .filter_map(|(e, a)| match a {
            ArgoEvent::Case(helm) => Some((*e, *helm)),
            _ => None,
        })
        .collect();
    if !case.is_empty() {
        let written: Vec<&str> = case.iter().map(|(e, _)| *e).collect();
        let lower: Vec<&str> = case.iter().map(|(_, l)| *l).collect();
        out.push(make(
            hook,
            "argocd/hook-ignored",
            severity,
            HOOK_FIELD,
            format!(
                "Helm lower-cases hook events but Argo CD compares them exactly: it ignores {}: \
                 {never}",
                written.join(",")
            ),
            format!("write {}", lower.join(",")),
        ));
    }
    if hook
        .events
        .iter()
        .any(|(_, e)| matches!(e, ArgoEvent::Test))
    {
        // A test hook never runs during an install or upgrade under Helm either, so the sync
        // does the same as `helm upgrade`; what is lost is `helm test` (no Helm release).
        out.push(make(
            hook,
            "argocd/test-hook-ignored",
            Level::Warning,
            HOOK_FIELD,
            format!(
                "Argo CD ignores test hooks and creates no Helm release, so `helm test` cannot \
                 run this {}: {never}",
                hook.object.kind
            ),
            format!(
                "to test after every sync, add `{ARGOCD_HOOK_ANNOTATION}: PostSync`; otherwise \
                 leave it out with `spec.source.helm.skipTests: true` in the Application"
            ),
        ));
    }
}

/// A PreSync hook runs before the regular resources of the chart exist on the first sync.
fn presync_before_resources(
    hook: &ArgoHook,
    objects: &[TargetObject<'_>],
    make: &Make,
    out: &mut Vec<TargetFinding>,
) {
    if !hook.phases.contains(&Phase::PreSync) {
        return;
    }
    for reference in references(hook.object.object) {
        let regular = objects
            .iter()
            .any(|o| o.hook.is_none() && o.kind == reference.kind && o.name == reference.name);
        if regular {
            out.push(make(
                hook,
                "argocd/presync-before-resources",
                Level::Warning,
                HOOK_FIELD,
                format!(
                    "Argo CD runs this {} as PreSync, before it applies the chart's regular \
                     resources, on every sync including the first: it needs {}/{} ({}), which \
                     does not exist yet on the first sync, so its Pod cannot start",
                    hook.object.kind, reference.kind, reference.name, reference.field
                ),
                format!(
                    "make {}/{} a hook that runs first (`helm.sh/hook: pre-install,pre-upgrade` \
                     with a lower weight), or drop the dependency",
                    reference.kind, reference.name
                ),
            ));
        }
    }
}

/// PostSync runs only once every other resource is healthy: a workload that needs this hook's
/// object never becomes healthy, so the hook never runs.
fn post_sync_deadlock(
    hook: &ArgoHook,
    objects: &[TargetObject<'_>],
    make: &Make,
    out: &mut Vec<TargetFinding>,
) {
    let before = [Phase::PreSync, Phase::Sync];
    if !hook.phases.contains(&Phase::PostSync) || hook.phases.iter().any(|p| before.contains(p)) {
        return;
    }
    let o = hook.object;
    for workload in objects.iter().filter(|w| w.hook.is_none()) {
        for reference in workload_references(workload.object) {
            if reference.kind == o.kind && reference.name == o.name {
                out.push(make(
                    hook,
                    "argocd/post-sync-deadlock",
                    Level::Error,
                    HOOK_FIELD,
                    format!(
                        "Argo CD runs this {} as PostSync, only after every other resource is \
                         Healthy, but {}/{} needs it ({}): that workload cannot become Healthy \
                         without it, so the sync never completes and this hook never runs",
                        o.kind, workload.kind, workload.name, reference.field
                    ),
                    format!(
                        "create it before the workload: make it a PreSync hook \
                         (`{ARGOCD_HOOK_ANNOTATION}: PreSync`, or `helm.sh/hook: \
                         pre-install,pre-upgrade`) or a regular resource"
                    ),
                ));
            }
        }
    }
}

/// `pre-delete` and `post-delete` depend on the Argo CD version and run only when the
/// Application is deleted.
fn delete_hooks(hook: &ArgoHook, make: &Make, out: &mut Vec<TargetFinding>) {
    let delete: Vec<&str> = hook
        .events
        .iter()
        .filter(|(_, e)| matches!(e, ArgoEvent::Delete))
        .map(|(e, _)| *e)
        .collect();
    if delete.is_empty() {
        return;
    }
    let mut versions = Vec::new();
    if delete.contains(&"pre-delete") {
        versions.push("pre-delete runs as PreDelete only from Argo CD v3.3.0 on");
    }
    if delete.contains(&"post-delete") {
        versions.push("post-delete runs as PostDelete only from v2.10.0 on");
    }
    let combined = if hook.events.len() > delete.len() {
        "; together with other events in the same annotation it needs v3.5.0"
    } else {
        ""
    };
    out.push(make(
        hook,
        "argocd/delete-hook-version",
        Level::Warning,
        HOOK_FIELD,
        format!(
            "{} (older versions never apply it){combined}, and only when the Application itself \
             is deleted, not when Argo CD prunes resources",
            versions.join("; ")
        ),
        "run Argo CD v3.5.0 or later, or keep delete-time work out of hooks (a finalizer or \
         a PreSync cleanup)"
            .into(),
    ));
}

// ---------------------------------------------------------------------------------------------
// Flux

fn flux(objects: &[TargetObject<'_>], out: &mut Vec<TargetFinding>) {
    for o in objects {
        let Some(spec) = o.hook else { continue };
        let finding = |check, field: &str, message, fix| TargetFinding {
            index: o.index,
            target: Target::Flux,
            check,
            severity: Level::Warning,
            field: field.to_string(),
            message,
            fix,
        };
        let stays = !spec.has_delete_policy(&DeletePolicy::HookSucceeded);
        let pre_delete = spec.runs_on(HookEvent::PreDelete);
        let post_delete = spec.runs_on(HookEvent::PostDelete);
        if pre_delete {
            out.push(finding(
                "flux/pre-delete-retried",
                HOOK_FIELD,
                "when this pre-delete hook fails, helm-controller runs it again at every \
                 uninstall retry: the HelmRelease stays failed, and the release's resources \
                 stay, until it succeeds or `spec.uninstall.disableHooks: true` is set"
                    .into(),
                "make it idempotent and bounded (activeDeadlineSeconds), and tell operators \
                 about `spec.uninstall.disableHooks`"
                    .into(),
            ));
        }
        if post_delete {
            out.push(finding(
                "flux/post-delete-not-retried",
                HOOK_FIELD,
                "when this post-delete hook fails, only the first uninstall fails: the retry \
                 finds no release (Helm's storage is already gone) and completes without running \
                 it again, so its work is skipped"
                    .into(),
                "make it succeed on its own (retries inside the Job: backoffLimit), and watch \
                 the HelmRelease's events for its failure"
                    .into(),
            ));
        }
        if (pre_delete || post_delete) && stays {
            out.push(finding(
                "flux/delete-hook-left-behind",
                DELETE_POLICY_FIELD,
                format!(
                    "this delete hook {} stays after the uninstall (its delete policy has no \
                     hook-succeeded), and neither the release nor the HelmRelease's inventory \
                     knows it: it must be deleted by hand",
                    o.kind
                ),
                "add hook-succeeded to helm.sh/hook-delete-policy \
                 (`before-hook-creation,hook-succeeded`); a failed one still stays and must be \
                 deleted by hand"
                    .into(),
            ));
        } else if stays {
            out.push(finding(
                "flux/not-in-inventory",
                DELETE_POLICY_FIELD,
                format!(
                    "this {} stays in the cluster after it runs (its delete policy has no \
                     hook-succeeded), but Flux leaves hooks out of the HelmRelease's \
                     .status.inventory: nothing in Flux lists it, and uninstall does not delete \
                     it",
                    o.kind
                ),
                "add hook-succeeded to helm.sh/hook-delete-policy if it need not stay, or make \
                 it a regular resource if it must (then Flux tracks it)"
                    .into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests;
