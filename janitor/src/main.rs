//! `helm-hooks-janitor`: enforces Helm hooks' live delete policies once Helm recorded the
//! outcome, keeps failed hooks' last log lines, and (with `--orphans`) removes hooks of releases
//! that are gone. One replica is active at a time, through a `coordination.k8s.io` Lease.
#![forbid(unsafe_code)]

mod metrics;
mod pass;

use anyhow::Context as _;
use clap::Parser;
use helm_hooks::janitor_rules::Timing;
use helm_hooks::release::StorageDriver;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::events::{Recorder, Reporter};
use kube_lease_manager::LeaseManagerBuilder;
use metrics::{Metrics, ResultLabels};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "helm-hooks-janitor", version, about)]
struct Cli {
    /// Kubeconfig file (default: in-cluster config, else $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<std::path::PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    context: Option<String>,
    /// Time between passes.
    #[arg(long, default_value = "1m", value_parser = duration)]
    interval: Duration,
    /// Delete a finished hook this long after it finished when Helm's record cannot tell
    /// whether Helm still watches it.
    #[arg(long, default_value = "2m", value_parser = duration)]
    grace: Duration,
    /// Keep failed hooks this long before `hook-failed` deletes them.
    #[arg(long, default_value = "24h", value_parser = duration)]
    keep_failed: Duration,
    /// Remove hooks of releases that no longer exist or whose latest record is `uninstalled`.
    #[arg(long)]
    orphans: bool,
    /// How long an orphan stays before it is removed.
    #[arg(long, default_value = "10m", value_parser = duration)]
    orphan_grace: Duration,
    /// How long kept logs of failed hooks stay.
    #[arg(long, default_value = "168h", value_parser = duration)]
    keep_logs: Duration,
    /// Namespaces never touched (besides those labelled helm-hooks.io/webhook=skip).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "kube-system,helm-hooks-system"
    )]
    exempt_namespaces: Vec<String>,
    /// Only these namespaces (comma-separated; default: every namespace not exempt).
    #[arg(long, value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Helm's storage driver (`secret` or `configmap`), as HELM_DRIVER.
    #[arg(long, env = "HELM_DRIVER", default_value = "secret")]
    helm_driver: String,
    /// Report what would be deleted; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Run one pass (after taking the lease) and exit.
    #[arg(long)]
    once: bool,
    /// Address of /metrics, /healthz, /readyz (empty: none).
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: String,
    /// Name of the Lease that elects the active replica.
    #[arg(long, default_value = "helm-hooks-janitor")]
    lease_name: String,
    /// Namespace of the Lease (default: the Pod's namespace from POD_NAMESPACE, else `default`).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Lease duration in seconds.
    #[arg(long, default_value_t = 15)]
    lease_duration: u64,
    /// This replica's identity in the Lease (default: the host name, else random).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Log format: text or json.
    #[arg(long, default_value = "text")]
    log_format: String,
}

/// A duration like `90s`, `2m`, `24h`, `0s`.
fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 2m or 24h"))?;
    let secs = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?}: unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

async fn client(cli: &Cli) -> anyhow::Result<Client> {
    let config = match (&cli.kubeconfig, &cli.context) {
        (None, None) => kube::Config::infer()
            .await
            .context("no Kubernetes configuration")?,
        (path, context) => {
            let options = KubeConfigOptions {
                context: context.clone(),
                ..KubeConfigOptions::default()
            };
            let kubeconfig = match path {
                Some(p) => {
                    Kubeconfig::read_from(p).with_context(|| format!("read {}", p.display()))?
                }
                None => Kubeconfig::read().context("read the kubeconfig")?,
            };
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .context("load the kubeconfig")?
        }
    };
    Ok(Client::try_from(config)?)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube_lease_manager=warn".into());
    if cli.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        // Colours only on a terminal: logs collected from a pipe stay plain text.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        tracing_subscriber::fmt()
            .with_ansi(ansi)
            .with_env_filter(filter)
            .init();
    }
    let driver =
        StorageDriver::from_helm_driver(Some(&cli.helm_driver)).map_err(anyhow::Error::msg)?;
    let client = client(&cli).await?;
    let identity = cli.identity.clone().unwrap_or_else(|| {
        std::env::var("HOSTNAME").unwrap_or_else(|_| format!("janitor-{}", std::process::id()))
    });
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    if !cli.listen.is_empty() {
        serve(&cli.listen, metrics.clone(), ready.clone()).await?;
    }
    let janitor = pass::Janitor {
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "helm-hooks-janitor".into(),
                instance: Some(identity.clone()),
            },
        ),
        client: client.clone(),
        settings: pass::Settings {
            timing: Timing {
                grace: secs(cli.grace),
                keep_failed: secs(cli.keep_failed),
                orphan_grace: secs(cli.orphan_grace),
            },
            orphans: cli.orphans,
            dry_run: cli.dry_run,
            exempt_namespaces: cli.exempt_namespaces.clone(),
            only_namespaces: cli.namespaces.clone(),
            driver,
            keep_logs: secs(cli.keep_logs),
        },
        metrics: metrics.clone(),
        cache: Default::default(),
    };
    let manager = LeaseManagerBuilder::new(client.clone(), &cli.lease_name)
        .with_namespace(&cli.lease_namespace)
        .with_identity(&identity)
        .with_duration(cli.lease_duration)
        .with_grace(cli.lease_duration.div_ceil(3).max(1))
        .build()
        .await
        .context("set up the lease")?;
    let (mut leader, lease_task) = manager.watch().await;
    ready.store(true, Ordering::Relaxed);
    tracing::info!(identity, lease = %cli.lease_name, "waiting for the lease");
    loop {
        while !*leader.borrow_and_update() {
            metrics.leader.set(0);
            tokio::select! {
                changed = leader.changed() => changed.context("the lease manager stopped")?,
                _ = shutdown() => return stop(leader, lease_task).await,
            }
        }
        metrics.leader.set(1);
        tracing::info!(identity, "holding the lease");
        let result = janitor.pass().await;
        let label = ResultLabels {
            result: if result.is_ok() { "ok" } else { "error" }.into(),
        };
        metrics.passes.get_or_create(&label).inc();
        match &result {
            Ok(report) => tracing::info!(
                deleted = report.deleted.len(),
                stamped = report.stamped,
                dry_run = cli.dry_run,
                "pass done"
            ),
            Err(e) => tracing::error!(error = %e, "pass failed"),
        }
        if cli.once {
            stop(leader, lease_task).await?;
            return result.map(|_| ()).map_err(Into::into);
        }
        tokio::select! {
            _ = tokio::time::sleep(cli.interval) => {}
            _ = shutdown() => return stop(leader, lease_task).await,
        }
    }
}

/// Releases the lease (closing the channel makes the manager release it) and waits for it.
async fn stop(
    leader: tokio::sync::watch::Receiver<bool>,
    task: tokio::task::JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
) -> anyhow::Result<()> {
    drop(leader);
    if let Ok(Ok(manager)) = task.await {
        let _ = manager.release().await;
    }
    Ok(())
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Serves /metrics, /healthz, /readyz on `listen`.
async fn serve(listen: &str, metrics: Arc<Metrics>, ready: Arc<AtomicBool>) -> anyhow::Result<()> {
    use axum::http::StatusCode;
    use axum::routing::get;
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let registry = Arc::new(registry);
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.load(Ordering::Relaxed);
                async move {
                    if ready {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "starting")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    let mut text = String::new();
                    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
                    (
                        [(
                            "content-type",
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz, /readyz");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert!(duration("2w").is_err());
        assert!(duration("m").is_err());
    }
}
