//! `kubectl_complete-hooks`: kubectl's plugin completion protocol. kubectl runs this executable
//! with the words typed after `kubectl hooks` (the last one the word being completed, `""` for
//! a new word) and reads one candidate per line, then `:DIRECTIVE` (cobra's shell directive).
//! Subcommands, flags, events and output formats are fixed sets; release names, namespaces,
//! contexts and hook names come from the kubeconfig and the cluster.
//!
//! The same binary answers when it is called as `kubectl_complete-hooks` (a symlink to
//! `kubectl-hooks`, for krew users) or through its own `[[bin]]` (cargo install).

use crate::client;
use crate::options::Connection;
use crate::releases::{self, Store};
use helm_hooks::hook::HookEvent;
use helm_hooks::release::StorageDriver;
use std::io::Write;
use std::path::PathBuf;

/// Cobra's `ShellCompDirectiveNoFileComp`: do not fall back to file names.
const NO_FILE_COMPLETION: u8 = 4;
/// Cobra's `ShellCompDirectiveDefault`: the shell may complete file names.
const DEFAULT: u8 = 0;

/// The subcommands, as the user types them.
const SUBCOMMANDS: [&str; 10] = [
    "list",
    "rerun",
    "cleanup",
    "logs",
    "lint",
    "post-render",
    "policy",
    "completion",
    "version",
    "help",
];

/// What to complete at the cursor, decided from the words alone (no cluster access).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// One of a fixed set.
    Fixed(Vec<String>),
    /// Release names in the namespace of the command line.
    Releases,
    /// Namespaces of the cluster.
    Namespaces,
    /// Contexts of the kubeconfig.
    Contexts,
    /// Hook names of the release named on the command line.
    Hooks {
        /// The release.
        release: String,
    },
    /// File names (the shell's default).
    Files,
    /// Nothing to offer.
    Nothing,
}

/// Flags that take a value, with what their value is.
fn flag_value(flag: &str, subcommand: Option<&str>) -> Option<Want> {
    let fixed = |values: &[&str]| Some(Want::Fixed(values.iter().map(|v| v.to_string()).collect()));
    match flag {
        "-n" | "--namespace" => Some(Want::Namespaces),
        "--context" => Some(Want::Contexts),
        "--kubeconfig" | "-f" | "--filename" | "--policy" => Some(Want::Files),
        "--cluster" | "--user" | "--request-timeout" | "--timeout" | "--older-than"
        | "--revision" => Some(Want::Nothing),
        "--event" | "-e" => Some(Want::Fixed(
            HookEvent::ALL
                .iter()
                .map(|e| e.as_str().to_string())
                .collect(),
        )),
        "--status" => fixed(&[
            "Complete",
            "Failed",
            "Running",
            "Pending",
            "Succeeded",
            "Present",
        ]),
        "-o" | "--output" => match subcommand {
            Some("lint" | "logs") => fixed(&["text", "json"]),
            _ => fixed(&[
                "table",
                "wide",
                "json",
                "yaml",
                "name",
                "jsonpath=",
                "custom-columns=",
            ]),
        },
        "--hook" | "--selector" | "-l" | "--sort-by" | "--tail" => Some(Want::Nothing),
        _ => None,
    }
}

/// The flags each subcommand takes (for `--<TAB>`).
fn flags_of(subcommand: Option<&str>) -> &'static [&'static str] {
    match subcommand {
        Some("list") => &[
            "--revision",
            "--event",
            "--output",
            "--no-headers",
            "--orphans",
            "--selector",
            "--sort-by",
            "--watch",
        ],
        Some("rerun") => &[
            "--event",
            "--hook",
            "--timeout",
            "--logs",
            "--dry-run",
            "--yes",
        ],
        Some("cleanup") => &[
            "--all-releases",
            "--orphans",
            "--dry-run",
            "--status",
            "--older-than",
            "--force",
        ],
        Some("lint") => &[
            "--filename",
            "--policy",
            "--policy-from-cluster",
            "--output",
        ],
        Some("policy") => &[
            "--policy",
            "--output",
            "--format",
            "--allow-partial",
            "--name-prefix",
        ],
        Some("post-render") => &["--policy"],
        Some("logs") => &["--hook", "--event", "--follow", "--tail", "--output"],
        _ => &[
            "--kubeconfig",
            "--context",
            "--cluster",
            "--user",
            "--namespace",
            "--all-namespaces",
            "--request-timeout",
        ],
    }
}

/// What to complete for `words` (the last one is being typed). Pure.
pub fn want(words: &[String]) -> (Want, String) {
    let (current, before) = match words.split_last() {
        Some((last, rest)) => (last.clone(), rest),
        None => (String::new(), &[][..]),
    };
    let mut subcommand: Option<&str> = None;
    let mut positionals: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < before.len() {
        let word = before[i].as_str();
        if word.starts_with('-') {
            if !word.contains('=') && flag_value(word, subcommand).is_some() {
                i += 1; // its value
            }
        } else if subcommand.is_none() {
            subcommand = Some(word);
        } else {
            positionals.push(word);
        }
        i += 1;
    }
    // The value of a flag: `--event <TAB>` or `--event=pre<TAB>`.
    if let Some(flag) = before
        .last()
        .filter(|w| w.starts_with('-') && !w.contains('='))
        && let Some(want) = flag_value(flag, subcommand)
    {
        // `rerun RELEASE --hook <TAB>`: that release's hook names.
        let want = match (flag.as_str(), subcommand, positionals.first()) {
            ("--hook", Some("rerun"), Some(release)) => Want::Hooks {
                release: release.to_string(),
            },
            _ => want,
        };
        return (want, current);
    }
    if let Some((flag, _)) = current.split_once('=')
        && flag.starts_with('-')
        && let Some(want) = flag_value(flag, subcommand)
    {
        let want = match want {
            Want::Fixed(values) => {
                Want::Fixed(values.into_iter().map(|v| format!("{flag}={v}")).collect())
            }
            other => other,
        };
        return (want, current);
    }
    if current.starts_with('-') {
        let mut flags: Vec<String> = flags_of(subcommand).iter().map(|f| f.to_string()).collect();
        if subcommand.is_some() {
            flags.extend(flags_of(None).iter().map(|f| f.to_string()));
        }
        return (Want::Fixed(flags), current);
    }
    let want = match (subcommand, positionals.as_slice()) {
        (None, _) => Want::Fixed(SUBCOMMANDS.iter().map(|s| s.to_string()).collect()),
        (Some("list" | "rerun" | "cleanup" | "logs"), []) => Want::Releases,
        (Some("completion"), []) => Want::Fixed(
            ["bash", "zsh", "fish", "powershell"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        (Some("lint"), _) => Want::Files,
        (Some("policy"), []) => Want::Fixed(vec!["show".into(), "export".into()]),
        _ => Want::Nothing,
    };
    (want, current)
}

/// The connection flags found among `words` (`-n`, `--context`, `--kubeconfig`).
fn connection_of(words: &[String]) -> Connection {
    let mut connection = Connection::default();
    let mut iter = words.iter().peekable();
    while let Some(word) = iter.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (word.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| iter.peek().map(|v| v.to_string()))
        };
        match flag {
            "-n" | "--namespace" => connection.namespace = value(),
            "--context" => connection.context = value(),
            "--kubeconfig" => connection.kubeconfig = value().map(PathBuf::from),
            _ => {}
        }
    }
    connection.driver =
        StorageDriver::from_helm_driver(std::env::var("HELM_DRIVER").ok().as_deref())
            .unwrap_or_default();
    connection
}

/// Candidates for `want` that start with `prefix`; cluster look-ups that fail give none
/// (completion must never print an error into the user's shell).
async fn candidates(want: &Want, words: &[String], prefix: &str) -> (Vec<String>, u8) {
    let matching = |values: Vec<String>| -> Vec<String> {
        values
            .into_iter()
            .filter(|v| v.starts_with(prefix))
            .collect()
    };
    match want {
        Want::Fixed(values) => (matching(values.clone()), NO_FILE_COMPLETION),
        Want::Files => (Vec::new(), DEFAULT),
        Want::Nothing => (Vec::new(), NO_FILE_COMPLETION),
        Want::Contexts => {
            let contexts = kube::config::Kubeconfig::read()
                .map(|k| k.contexts.into_iter().map(|c| c.name).collect())
                .unwrap_or_default();
            (matching(contexts), NO_FILE_COMPLETION)
        }
        Want::Namespaces | Want::Releases | Want::Hooks { .. } => {
            let connection = connection_of(words);
            let Ok(cluster) = client::connect(&connection).await else {
                return (Vec::new(), NO_FILE_COMPLETION);
            };
            let values = match want {
                Want::Namespaces => namespaces(&cluster.client).await,
                Want::Releases => {
                    let store = Store::new(cluster.client.clone(), connection.driver);
                    store
                        .records(Some(&cluster.namespace), None)
                        .await
                        .map(|records| {
                            releases::latest_per_release(&records)
                                .into_iter()
                                .map(|r| r.meta.release)
                                .collect()
                        })
                        .unwrap_or_default()
                }
                Want::Hooks { release } => {
                    let store = Store::new(cluster.client.clone(), connection.driver);
                    hook_names(&store, &cluster.namespace, release).await
                }
                _ => Vec::new(),
            };
            (matching(values), NO_FILE_COMPLETION)
        }
    }
}

async fn namespaces(client: &kube::Client) -> Vec<String> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: kube::Api<Namespace> = kube::Api::all(client.clone());
    api.list_metadata(&kube::api::ListParams::default())
        .await
        .map(|list| {
            list.items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .collect()
        })
        .unwrap_or_default()
}

async fn hook_names(store: &Store, namespace: &str, release: &str) -> Vec<String> {
    let Ok(records) = store.records(Some(namespace), Some(release)).await else {
        return Vec::new();
    };
    let Ok(latest) = releases::select_revision(&records, release, None, Some(namespace)) else {
        return Vec::new();
    };
    store
        .fetch(&latest)
        .await
        .map(|r| r.release.hooks.into_iter().map(|h| h.name).collect())
        .unwrap_or_default()
}

/// Answers one completion request: `args` are the words after `kubectl hooks`.
pub fn run(args: &[String], out: &mut impl Write) -> std::io::Result<()> {
    let (want, current) = want(args);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (values, directive) = runtime.block_on(candidates(&want, args, &current));
    for value in values {
        writeln!(out, "{value}")?;
    }
    writeln!(out, ":{directive}")
}

#[cfg(test)]
mod tests;
