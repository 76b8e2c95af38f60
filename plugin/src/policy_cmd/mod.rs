//! `kubectl hooks policy show|export`: the cluster's `HookPolicy` objects (or a file) as the
//! core reads them. `show` prints the policy in force in one namespace after selectors and
//! overrides; `export --format admission-policy` prints equivalent in-apiserver admission
//! policies for clusters without webhooks.

use crate::client;
use crate::error::{self, Error, Result};
use crate::options::Connection;
use helm_hooks::policy::admission_policy;
use helm_hooks::policy::resource::{self, GROUP, PLURAL, VERSION, name_labels};
use helm_hooks::policy::{HookPolicyObject, PolicySet, RuleId};
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `kubectl hooks policy`.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// The subcommands of `policy`.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// The policy in force in a namespace (-n) after selectors and overrides: which HookPolicy
    /// applies, every rule's mode and the defaults.
    Show(ShowArgs),
    /// The policy as other resources (`--format admission-policy`: ValidatingAdmissionPolicy
    /// and MutatingAdmissionPolicy with bindings, for clusters without admission webhooks).
    Export(ExportArgs),
}

/// Output formats of `policy show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowOutput {
    Yaml,
    Json,
}

/// `policy show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Read HookPolicy objects (or a plain policy document) from this file instead of the
    /// cluster; namespaces are then known by name only.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = ShowOutput::Yaml)]
    pub output: ShowOutput,
}

/// Formats of `policy export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// ValidatingAdmissionPolicy + MutatingAdmissionPolicy and their bindings
    /// (admissionregistration.k8s.io/v1).
    AdmissionPolicy,
}

/// `policy export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// What to export to.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Read HookPolicy objects (or a plain policy document) from this file instead of the
    /// cluster.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print the export even when some rule or default cannot be expressed (exit 0).
    #[arg(long)]
    pub allow_partial: bool,
    /// The start of every exported object's name.
    #[arg(long, value_name = "PREFIX", default_value = "helm-hooks")]
    pub name_prefix: String,
}

/// The HookPolicy resource for kube's dynamic API.
fn hookpolicy_resource() -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: VERSION.into(),
        api_version: helm_hooks::policy::API_VERSION.into(),
        kind: helm_hooks::policy::KIND.into(),
        plural: PLURAL.into(),
    }
}

/// Runs `policy show|export`; reads the cluster only when no `--policy` file is given.
pub fn run(connection: &Connection, args: &PolicyArgs) -> Result<u8> {
    let file = match &args.command {
        PolicyCommand::Show(a) => a.policy.as_deref(),
        PolicyCommand::Export(a) => a.policy.as_deref(),
    };
    let namespace = connection.namespace.clone();
    let (set, labels) = match file {
        Some(path) => {
            let set = load_file(path)?;
            let ns = namespace.unwrap_or_else(|| "default".into());
            let labels = name_labels(&ns);
            (set, (ns, labels))
        }
        None => {
            let (set, namespace, labels) =
                read_cluster(connection, matches!(args.command, PolicyCommand::Show(_)))?;
            (set, (namespace, labels))
        }
    };
    match &args.command {
        PolicyCommand::Show(a) => show(&set, &labels.0, &labels.1, a.output),
        PolicyCommand::Export(a) => export(&set, a),
    }
}

/// The policy in force in the connection's namespace, from the cluster's HookPolicies and the
/// namespace's labels (`lint --policy-from-cluster`).
pub fn policy_in_force(connection: &Connection) -> Result<helm_hooks::policy::Policy> {
    let (set, _, labels) = read_cluster(connection, true)?;
    Ok(set.policy_for(&labels))
}

/// The cluster's HookPolicies, the connection's namespace and (with `with_labels`) its labels.
fn read_cluster(
    connection: &Connection,
    with_labels: bool,
) -> Result<(PolicySet, String, BTreeMap<String, String>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Io)?;
    runtime.block_on(async {
        let cluster = client::connect(connection).await?;
        let set = load_cluster(&cluster.client).await?;
        let labels = if with_labels {
            namespace_labels(&cluster.client, &cluster.namespace).await?
        } else {
            BTreeMap::new()
        };
        Ok((set, cluster.namespace.clone(), labels))
    })
}

/// `--policy FILE`: HookPolicy objects or one plain document.
pub fn load_file(path: &Path) -> Result<PolicySet> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Failed(format!("cannot read policy {}: {e}", path.display())))?;
    PolicySet::from_yaml(&text).map_err(|e| {
        Error::Failed(format!(
            "invalid policy {}: {}: {}",
            path.display(),
            e.field,
            e.message
        ))
    })
}

/// Every HookPolicy of the cluster. No CRD, or no object: the empty set (the built-in policy).
pub async fn load_cluster(client: &kube::Client) -> Result<PolicySet> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &hookpolicy_resource());
    let list = match api.list(&ListParams::default()).await {
        Ok(list) => list,
        Err(e) if error::status_code(&e) == Some(404) => return Ok(PolicySet::default()),
        Err(e) => {
            let resource = format!("{PLURAL}.{GROUP}");
            return Err(error::api(error::Request::new("list", &resource, None), e));
        }
    };
    let mut objects = Vec::new();
    for item in list.items {
        let value = serde_json::to_value(&item).map_err(|e| Error::Failed(e.to_string()))?;
        let name = item.metadata.name.clone().unwrap_or_default();
        objects.push(HookPolicyObject::from_object(&value).map_err(|e| {
            Error::Failed(format!(
                "HookPolicy {name:?} is invalid: {}: {}; fix it with kubectl edit hookpolicy {name}",
                e.field, e.message
            ))
        })?);
    }
    Ok(PolicySet::new(objects))
}

/// The labels of namespace `ns`.
async fn namespace_labels(client: &kube::Client, ns: &str) -> Result<BTreeMap<String, String>> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let namespace = api.get(ns).await.map_err(|e| {
        error::api(
            error::Request {
                verb: "get",
                resource: "namespaces",
                namespace: None,
                name: Some(ns),
            },
            e,
        )
    })?;
    Ok(namespace.metadata.labels.unwrap_or_default())
}

/// What `show` prints: the chosen object and the resolved policy of the namespace.
pub fn effective(set: &PolicySet, namespace: &str, labels: &BTreeMap<String, String>) -> Value {
    let chosen = set.select(labels);
    let policy = set.policy_for(labels);
    let effective = policy.resolve(Some(namespace));
    let rules: serde_json::Map<String, Value> = RuleId::ALL
        .into_iter()
        .map(|rule| {
            (
                rule.as_str().to_string(),
                serde_json::to_value(effective.rule(rule)).unwrap_or_default(),
            )
        })
        .collect();
    let selected_by = match chosen {
        Some(o) => json!({"name": o.name, "priority": o.priority}),
        None => json!({"name": null, "builtIn": true}),
    };
    let overridden = policy
        .namespace_overrides
        .iter()
        .position(|o| o.namespaces.iter().any(|n| n == namespace));
    json!({
        "namespace": namespace,
        "hookPolicy": selected_by,
        "otherCandidates": set
            .objects()
            .iter()
            .filter(|o| o.selects(labels) && Some(&o.name) != chosen.map(|c| &c.name))
            .map(|o| json!({"name": o.name, "priority": o.priority}))
            .collect::<Vec<_>>(),
        "exempt": effective.is_exempt(),
        "namespaceOverride": overridden,
        "rules": rules,
        "defaults": serde_json::to_value(effective.defaults()).unwrap_or_default(),
    })
}

fn show(
    set: &PolicySet,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    output: ShowOutput,
) -> Result<u8> {
    let value = effective(set, namespace, labels);
    let text = match output {
        ShowOutput::Json => serde_json::to_string_pretty(&value).unwrap_or_default() + "\n",
        ShowOutput::Yaml => resource::to_kubectl_yaml(&[value])
            .trim_start_matches("---\n")
            .to_string(),
    };
    print!("{text}");
    Ok(crate::EXIT_OK)
}

fn export(set: &PolicySet, args: &ExportArgs) -> Result<u8> {
    match args.format {
        ExportFormat::AdmissionPolicy => {}
    }
    let export = admission_policy::export(set, &args.name_prefix);
    let (text, gaps) = render_export(&export, args.allow_partial);
    for gap in &gaps {
        eprintln!("{gap}");
    }
    print!("{}", text?);
    Ok(crate::EXIT_OK)
}

/// The export as YAML, and one line per rule or default it cannot express; an error (exit 1)
/// when there is any such gap, unless `allow_partial`.
pub fn render_export(
    export: &admission_policy::Export,
    allow_partial: bool,
) -> (Result<String>, Vec<String>) {
    let gaps: Vec<String> = export
        .gaps
        .iter()
        .map(|gap| {
            format!(
                "HookPolicy {}: {} cannot be expressed as an admission policy: {}",
                gap.policy, gap.what, gap.reason
            )
        })
        .collect();
    if !gaps.is_empty() && !allow_partial {
        let error = Error::Failed(format!(
            "{} rule(s) or default(s) cannot be expressed (listed above); \
             --allow-partial prints the export anyway",
            gaps.len()
        ));
        return (Err(error), gaps);
    }
    (Ok(resource::to_kubectl_yaml(&export.objects)), gaps)
}

#[cfg(test)]
mod tests;
