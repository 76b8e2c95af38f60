//! The release JSON Helm 3 and Helm 4 write (`helm.sh/helm/v3/pkg/release`).
//!
//! `info`, hooks and chart metadata keep fields they do not model in `extra`. The user's values
//! (`config`) and the chart stay raw JSON: never parsed eagerly, never shown by `Debug`.
//! (serde_json's `RawValue` cannot sit beside `#[serde(flatten)]`, so `Release` lists Helm's
//! top-level fields explicitly.)

use crate::hook::{DeletePolicy, HookEvent, OutputLogPolicy};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// One revision of a Helm release.
#[derive(Clone, Serialize, Deserialize)]
pub struct Release {
    /// The release name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Status and timestamps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Info>,
    /// The chart this revision was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Chart>,
    /// The user's values. Often secret: see [`Values`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Values>,
    /// The rendered manifests of the release's resources (hooks excluded), as YAML.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// The hooks of this revision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    /// The revision number.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
    /// The namespace the release is installed in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Helm 4: `client-side` or `server-side` apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_method: Option<String>,
}

impl Release {
    /// The release status, `Unknown` when the record has no `info`.
    pub fn status(&self) -> Status {
        self.info
            .as_ref()
            .map(|i| i.status.clone())
            .unwrap_or(Status::Unknown)
    }

    /// The hooks that run on `event`, in Helm's execution order.
    pub fn hooks_for(&self, event: HookEvent) -> Vec<&Hook> {
        let candidates: Vec<(usize, &Hook)> = self
            .hooks
            .iter()
            .enumerate()
            .filter(|(_, h)| h.runs_on(event))
            .collect();
        let keys: Vec<_> = candidates
            .iter()
            .map(|(position, h)| crate::hook::OrderKey {
                weight: h.weight,
                name: &h.name,
                kind: &h.kind,
                path: "",
                position: *position,
            })
            .collect();
        crate::hook::execution_order(&keys)
            .into_iter()
            .map(|i| candidates[i].1)
            .collect()
    }
}

impl fmt::Debug for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Release")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("version", &self.version)
            .field("info", &self.info)
            .field("chart", &self.chart)
            .field("config", &self.config)
            .field("manifest", &format_args!("<{} bytes>", self.manifest.len()))
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The user's values, kept as raw JSON. `Debug` never shows them; read them only through
/// [`Values::reveal`], and only when the user asked for them explicitly.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Values(Box<RawValue>);

impl Values {
    /// The raw JSON of the user's values. Callers must not log or print this unless asked.
    pub fn reveal(&self) -> &str {
        self.0.get()
    }
}

impl fmt::Debug for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Values(<redacted>)")
    }
}

/// `info`: the release's status and timestamps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Info {
    /// When the release was first installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_deployed: Option<String>,
    /// When this revision was deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployed: Option<String>,
    /// When the release was uninstalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
    /// Helm's description of what happened, e.g. `Install complete`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The revision's status.
    #[serde(default)]
    pub status: Status,
    /// The rendered `NOTES.txt`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Fields this version does not know, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A release status, as Helm spells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Status {
    /// `unknown`: the state is uncertain.
    #[default]
    Unknown,
    /// `deployed`: the release's current revision.
    Deployed,
    /// `uninstalled`: uninstalled; the record remains only with `--keep-history`.
    Uninstalled,
    /// `superseded`: replaced by a later revision.
    Superseded,
    /// `failed`: the install, upgrade or rollback failed.
    Failed,
    /// `uninstalling`: an uninstall is in flight.
    Uninstalling,
    /// `pending-install`: an install is in flight.
    PendingInstall,
    /// `pending-upgrade`: an upgrade is in flight.
    PendingUpgrade,
    /// `pending-rollback`: a rollback is in flight.
    PendingRollback,
    /// A status this version does not know, kept verbatim.
    Other(String),
}

impl Status {
    const NAMES: [(&'static str, Status); 9] = [
        ("unknown", Status::Unknown),
        ("deployed", Status::Deployed),
        ("uninstalled", Status::Uninstalled),
        ("superseded", Status::Superseded),
        ("failed", Status::Failed),
        ("uninstalling", Status::Uninstalling),
        ("pending-install", Status::PendingInstall),
        ("pending-upgrade", Status::PendingUpgrade),
        ("pending-rollback", Status::PendingRollback),
    ];

    /// Parses Helm's spelling; unknown values are kept.
    pub fn parse(value: &str) -> Status {
        Status::NAMES
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| Status::Other(value.to_string()))
    }

    /// Helm's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Other(s) => s,
            known => Status::NAMES
                .iter()
                .find(|(_, s)| s == known)
                .map(|(name, _)| *name)
                .unwrap_or("unknown"),
        }
    }

    /// `pending-install`, `pending-upgrade` or `pending-rollback`: an operation is in flight.
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Status::parse(&String::deserialize(deserializer)?))
    }
}

/// `chart`: kept as raw JSON (templates and files are large); `Debug` shows only metadata.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Chart(Box<RawValue>);

impl Chart {
    /// `chart.metadata`, parsed on demand (the rest of the chart is skipped, not parsed).
    pub fn metadata(&self) -> Option<ChartMetadata> {
        #[derive(Deserialize)]
        struct OnlyMetadata {
            metadata: Option<ChartMetadata>,
        }
        serde_json::from_str::<OnlyMetadata>(self.0.get())
            .ok()
            .and_then(|c| c.metadata)
    }
}

impl fmt::Debug for Chart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chart")
            .field("metadata", &self.metadata())
            .finish_non_exhaustive()
    }
}

/// `chart.metadata`: the fields the plugin prints; the rest is kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChartMetadata {
    /// The chart's name.
    #[serde(default)]
    pub name: String,
    /// The chart's version.
    #[serde(default)]
    pub version: String,
    /// The version of the application the chart deploys.
    #[serde(
        default,
        rename = "appVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_version: Option<String>,
    /// Fields the plugin does not print, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One hook as the release record stores it.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Hook {
    /// The object's `metadata.name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The object's `kind`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The template file, e.g. `mychart/templates/migrate.yaml`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The rendered object as YAML; it can carry secrets, so `Debug` omits it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// Event names as stored (`pre-install`, …); see [`Hook::events`].
    #[serde(default, rename = "events", skip_serializing_if = "Vec::is_empty")]
    pub event_names: Vec<String>,
    /// When the hook last ran and how it ended.
    #[serde(default)]
    pub last_run: HookExecution,
    /// `helm.sh/hook-weight` as Helm parsed it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight: i64,
    /// Delete policy names as stored (`before-hook-creation`, …).
    #[serde(
        default,
        rename = "delete_policies",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub delete_policy_names: Vec<String>,
    /// Output-log policy names as stored (`hook-failed`, …).
    #[serde(
        default,
        rename = "output_log_policies",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub output_log_policy_names: Vec<String>,
    /// Fields this version does not know, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Hook {
    /// The events this hook runs on (unknown names, which Helm never stores, are skipped).
    pub fn events(&self) -> Vec<HookEvent> {
        self.event_names
            .iter()
            .filter_map(|e| HookEvent::parse(e))
            .collect()
    }

    /// Whether the hook runs on `event`.
    pub fn runs_on(&self, event: HookEvent) -> bool {
        self.events().contains(&event)
    }

    /// The delete policies as recorded.
    pub fn delete_policies(&self) -> Vec<DeletePolicy> {
        self.delete_policy_names
            .iter()
            .map(|p| DeletePolicy::parse(p))
            .collect()
    }

    /// The delete policies Helm acts on (default applied when none are recorded).
    pub fn effective_delete_policies(&self) -> Vec<DeletePolicy> {
        crate::hook::effective_delete_policies(&self.delete_policies())
    }

    /// The output-log policies as recorded.
    pub fn output_log_policies(&self) -> Vec<OutputLogPolicy> {
        self.output_log_policy_names
            .iter()
            .map(|p| OutputLogPolicy::parse(p))
            .collect()
    }
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("path", &self.path)
            .field("events", &self.event_names)
            .field("weight", &self.weight)
            .field("delete_policies", &self.delete_policy_names)
            .field("last_run", &self.last_run)
            .finish_non_exhaustive()
    }
}

/// `last_run`: when the hook last ran and how it ended. Zero times are `""` (Helm 3) or
/// Go's zero time; both read as `None`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HookExecution {
    /// When the hook started, or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When the hook finished, or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// How the run ended.
    #[serde(default)]
    pub phase: HookPhase,
}

impl HookExecution {
    /// `started_at`, or `None` when Helm recorded a zero time.
    pub fn started(&self) -> Option<&str> {
        non_zero_time(self.started_at.as_deref())
    }

    /// `completed_at`, or `None` when Helm recorded a zero time.
    pub fn completed(&self) -> Option<&str> {
        non_zero_time(self.completed_at.as_deref())
    }
}

fn non_zero_time(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty() && !v.starts_with("0001-01-01"))
}

/// How a hook's last run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HookPhase {
    /// Running now (or Helm stopped before it ended).
    Running,
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
    /// Never run, or a phase this version does not know (Helm 3 writes `""` for never-run).
    #[default]
    #[serde(other)]
    Unknown,
}

impl HookPhase {
    /// Helm's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HookPhase::Unknown => "Unknown",
            HookPhase::Running => "Running",
            HookPhase::Succeeded => "Succeeded",
            HookPhase::Failed => "Failed",
        }
    }
}

impl fmt::Display for HookPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
