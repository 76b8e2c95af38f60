//! `kubectl hooks logs RELEASE [--hook NAME] [--event E] [-f] [--tail N]`: the logs of the
//! release's hooks. First the last lines the janitor kept of failed hooks it deleted (the
//! ConfigMap `helm-hooks-logs.RELEASE` of the hook's namespace, one JSON entry per hook object),
//! then the logs of the hook Pods still in the cluster ([`live`]), every line prefixed
//! `[pod/POD/CONTAINER]` as `kubectl logs --prefix` does. `-f` follows them.

use crate::client::Cluster;
use crate::error::{self, Error, Result};
use crate::options::{Connection, LogsOptions};
use crate::releases::Store;
use helm_hooks::janitor_rules::{KEPT_LOGS_LABEL, KEPT_LOGS_RELEASE_LABEL, KeptLog};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};
use std::io::Write;

mod live;

/// One kept entry with where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The ConfigMap's namespace.
    pub namespace: String,
    pub log: KeptLog,
}

/// Runs `logs`.
pub async fn run(kube: &Cluster, connection: &Connection, options: &LogsOptions) -> Result<u8> {
    let (entries, failures) = kept_entries(kube, options).await?;
    let store = Store::new(kube.client.clone(), connection.driver);
    let targets = live::targets(kube, &store, options).await?;
    let mut stdout = std::io::stdout().lock();
    if options.json {
        let live = live::read(kube, &targets, options.tail).await?;
        let logs: Vec<&KeptLog> = entries.iter().map(|e| &e.log).collect();
        let document = serde_json::json!({ "kept": logs, "live": live });
        serde_json::to_writer_pretty(&mut stdout, &document)
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        writeln!(stdout).map_err(Error::Io)?;
        stdout.flush().map_err(Error::Io)?;
        return Ok(exit(failures));
    }
    write_text(&entries, &mut stdout).map_err(Error::Io)?;
    stdout.flush().map_err(Error::Io)?;
    drop(stdout);
    if options.follow {
        return live::follow(kube, &store, options, targets).await;
    }
    let live = live::read(kube, &targets, options.tail).await?;
    live::write_text(&live, &mut std::io::stdout().lock()).map_err(Error::Io)?;
    if entries.is_empty() && live.is_empty() {
        let which = if options.hooks.is_empty() {
            String::new()
        } else {
            format!(" of hook {}", options.hooks.join(","))
        };
        eprintln!(
            "No logs{which} for release {} in {}: no hook Pod of it is in the cluster, and the \
             janitor kept none (it keeps the last lines of failed hooks it deletes).",
            options.release,
            kube.scope()
        );
    }
    Ok(exit(failures))
}

fn exit(failures: usize) -> u8 {
    if failures > 0 {
        crate::EXIT_FAILED
    } else {
        crate::EXIT_OK
    }
}

/// The kept entries of the release (filtered by `--hook`), oldest first, and how many could
/// not be read (each named on stderr).
async fn kept_entries(kube: &Cluster, options: &LogsOptions) -> Result<(Vec<Entry>, usize)> {
    let namespace = kube.search_namespace();
    let api: Api<ConfigMap> = match namespace {
        Some(ns) => Api::namespaced(kube.client.clone(), ns),
        None => Api::all(kube.client.clone()),
    };
    let selector = format!(
        "{KEPT_LOGS_LABEL}=true,{KEPT_LOGS_RELEASE_LABEL}={}",
        options.release
    );
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| error::api(error::Request::new("list", "configmaps", namespace), e))?;
    let mut failures = 0;
    let mut entries = Vec::new();
    for config_map in &list.items {
        let (found, problems) = entries_of(config_map, &options.hooks);
        for problem in &problems {
            eprintln!("error: {problem}");
        }
        failures += problems.len();
        entries.extend(found);
    }
    entries.sort_by(|a, b| {
        (&a.namespace, &a.log.captured_at, &a.log.name).cmp(&(
            &b.namespace,
            &b.log.captured_at,
            &b.log.name,
        ))
    });
    Ok((entries, failures))
}

/// The entries of one kept-logs ConfigMap whose hook name is in `hooks` (all when empty), and
/// a message for each entry that cannot be read (naming the ConfigMap and the key).
pub fn entries_of(config_map: &ConfigMap, hooks: &[String]) -> (Vec<Entry>, Vec<String>) {
    let namespace = config_map.metadata.namespace.clone().unwrap_or_default();
    let name = config_map.metadata.name.clone().unwrap_or_default();
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (key, value) in config_map.data.iter().flatten() {
        match serde_json::from_str::<KeptLog>(value) {
            Ok(log) if hooks.is_empty() || hooks.contains(&log.name) => {
                entries.push(Entry {
                    namespace: namespace.clone(),
                    log,
                });
            }
            Ok(_) => {}
            Err(e) => problems.push(format!(
                "configmap {name:?} in namespace {namespace}: data key {key:?} is not a kept log \
                 ({e}); delete the key or the ConfigMap (the janitor writes it again)"
            )),
        }
    }
    (entries, problems)
}

/// Writes each entry as a header line and its containers' lines, prefixed as
/// `kubectl logs --prefix` does (`[pod/POD/CONTAINER]`).
pub fn write_text(entries: &[Entry], out: &mut impl Write) -> std::io::Result<()> {
    for (i, entry) in entries.iter().enumerate() {
        let log = &entry.log;
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(
            out,
            "==> {}/{} (release {}, namespace {}): deleted by the janitor ({}); logs kept at {}",
            log.kind.to_lowercase(),
            log.name,
            log.release,
            entry.namespace,
            log.reason,
            log.captured_at
        )?;
        if log.containers.is_empty() {
            writeln!(out, "(no container logs could be read)")?;
        }
        for container in &log.containers {
            let prefix = format!("[pod/{}/{}]", container.pod, container.container);
            if container.truncated {
                writeln!(out, "{prefix} … (earlier lines not kept)")?;
            }
            for line in &container.lines {
                writeln!(out, "{prefix} {line}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use helm_hooks::janitor_rules::KeptContainerLog;
    use std::collections::BTreeMap;

    fn kept(name: &str, at: &str) -> KeptLog {
        KeptLog {
            kind: "Job".into(),
            name: name.into(),
            uid: "u1".into(),
            release: "team/demo".into(),
            reason: "hook-failed".into(),
            captured_at: at.into(),
            containers: vec![KeptContainerLog {
                pod: format!("{name}-x1"),
                container: "main".into(),
                lines: vec!["migrating".into(), "error: table exists".into()],
                truncated: true,
            }],
        }
    }

    fn config_map(data: &[(&str, String)]) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("helm-hooks-logs.demo".into());
        cm.metadata.namespace = Some("team".into());
        cm.data = Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        );
        cm
    }

    #[test]
    fn entries_are_filtered_by_hook_and_bad_entries_are_named() {
        let cm = config_map(&[
            (
                "job.demo-seed.json",
                serde_json::to_string(&kept("demo-seed", "2026-05-01T10:00:00Z")).unwrap(),
            ),
            (
                "job.demo-notify.json",
                serde_json::to_string(&kept("demo-notify", "2026-05-01T09:00:00Z")).unwrap(),
            ),
            ("job.broken.json", "{not json".into()),
        ]);
        let (all, problems) = entries_of(&cm, &[]);
        assert_eq!(all.len(), 2);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("helm-hooks-logs.demo") && problems[0].contains("job.broken.json"),
            "{}",
            problems[0]
        );
        let (seed, _) = entries_of(&cm, &["demo-seed".to_string()]);
        assert_eq!(seed.len(), 1);
        assert_eq!(seed[0].log.name, "demo-seed");
    }

    #[test]
    fn text_output_prefixes_lines_as_kubectl_logs_prefix() {
        let entries = [Entry {
            namespace: "team".into(),
            log: kept("demo-seed", "2026-05-01T10:00:00Z"),
        }];
        let mut out = Vec::new();
        write_text(&entries, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "==> job/demo-seed (release team/demo, namespace team): deleted by the janitor \
             (hook-failed); logs kept at 2026-05-01T10:00:00Z\n\
             [pod/demo-seed-x1/main] … (earlier lines not kept)\n\
             [pod/demo-seed-x1/main] migrating\n\
             [pod/demo-seed-x1/main] error: table exists\n"
        );
    }
}
