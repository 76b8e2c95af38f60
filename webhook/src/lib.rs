//! `helm-hooks-webhook`: the admission webhook of helm-hooks.
//!
//! The core library ([`helm_hooks::policy`]) decides; this crate only moves bytes between the
//! apiserver and the core: AdmissionReview in and out ([`admission`]), HTTPS routes
//! ([`server`]) with timeouts and a connection cap ([`connections`]), TLS with certificate hot
//! reload ([`tls`]), policy hot reload ([`policy_store`], [`reload`]) or from the cluster's
//! HookPolicies ([`cluster_policy`]), Prometheus metrics ([`metrics`]), logs ([`logging`],
//! with audit-mode findings summarised by [`audit_summary`]), bounds on values echoed from
//! requests ([`truncate`]) and
//! graceful shutdown ([`shutdown`]); serving certificates for installs without cert-manager
//! ([`certs`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod audit_summary;
pub mod certs;
pub mod cli;
pub mod cluster_policy;
pub mod connections;
pub mod logging;
pub mod metrics;
pub mod policy_store;
pub mod reload;
pub mod server;
pub mod shutdown;
pub mod tls;
pub mod truncate;

use anyhow::Context as _;
use cli::{Cli, Command, ServeOptions};
use helm_hooks::policy::Policy;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tracing::{error, info, warn};

/// Runs the command line; the exit code is 0 on success, 1 on a failure while running and 2
/// on bad usage.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::DefaultPolicy => {
            print!("{}", Policy::builtin().to_yaml());
            ExitCode::SUCCESS
        }
        Command::Certs(args) => make_certs(args),
        Command::Serve(args) => {
            let options = match ServeOptions::try_from(args) {
                Ok(options) => options,
                Err(e) => {
                    eprintln!("helm-hooks-webhook: {e}");
                    return ExitCode::from(2);
                }
            };
            logging::init(options.log_format);
            let started = Instant::now();
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    error!(error = %e, "cannot start the async runtime");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve(options, started, shutdown::signal())) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    error!(error = format!("{e:#}"), "webhook failed");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Loads TLS and policy, binds, serves until `shutdown` resolves and drains. `Ok(false)` when
/// the drain timed out.
pub async fn serve(
    options: ServeOptions,
    started: Instant,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<bool> {
    let certs = Arc::new(tls::CertStore::load(&options.tls_cert, &options.tls_key)?);
    let metrics = Arc::new(metrics::Metrics::new());
    let mut cluster_watch = None;
    let policy = Arc::new(match (&options.policy, options.policy_source) {
        (_, cli::PolicySource::Cluster) => {
            let client = kube::Client::try_default().await.context(
                "--policy-source cluster: no Kubernetes configuration (in-cluster or KUBECONFIG)",
            )?;
            let policies = Arc::new(cluster_policy::ClusterPolicies::default());
            cluster_watch = Some(tokio::spawn(cluster_policy::run(
                client,
                policies.clone(),
                metrics.clone(),
            )));
            policy_store::PolicyStore::cluster(policies)
        }
        (Some(path), cli::PolicySource::File) => policy_store::PolicyStore::from_file(path)?,
        (None, cli::PolicySource::File) => policy_store::PolicyStore::builtin(),
    });
    metrics.set_certificate_not_after(certs.current().not_after);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(certs.server_config()?));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let state = Arc::new(server::AppState {
        policy: policy.clone(),
        metrics: metrics.clone(),
        ready: AtomicBool::new(false),
        patch_encoding: options.patch_encoding,
        body_timeout: options.limits.body_timeout,
        audit: Arc::new(audit_summary::AuditTally::default()),
    });
    let audit_summaries = tokio::spawn(audit_summary::run(
        state.audit.clone(),
        options.audit_summary_interval,
    ));
    let audit = (state.audit.clone(), options.audit_summary_interval);
    let reloader = tokio::spawn(reload::watch(
        policy.clone(),
        certs.clone(),
        metrics.clone(),
        options.reload_interval,
    ));
    if let Some(files) = connections::open_file_limit() {
        let max = options.limits.max_connections as u64;
        if max + connections::RESERVED_FILES > files {
            warn!(
                max_connections = max,
                open_file_limit = files,
                "--max-connections is above what the open-file limit allows: accepting will fail \
                 for lack of descriptors before the cap is reached; raise the limit or lower the cap"
            );
        }
    }
    state.ready.store(true, Ordering::Relaxed);
    info!(
        addr = %addr,
        policy = %match options.policy_source {
            cli::PolicySource::Cluster => "cluster (hookpolicies)".to_string(),
            cli::PolicySource::File => options.policy.as_ref().map_or("built-in".into(), |p| p.display().to_string()),
        },
        not_after = certs.current().not_after,
        max_connections = options.limits.max_connections,
        startup_ms = started.elapsed().as_secs_f64() * 1000.0,
        "listening"
    );
    let ready = state.clone();
    let drained = server::serve(
        listener,
        acceptor,
        server::router(state),
        options.limits,
        metrics.clone(),
        async move {
            shutdown.await;
            ready.ready.store(false, Ordering::Relaxed);
            if !options.shutdown_delay.is_zero() {
                info!(
                    delay_seconds = options.shutdown_delay.as_secs_f64(),
                    "not ready; still serving until the delay is over"
                );
                tokio::time::sleep(options.shutdown_delay).await;
            }
        },
        options.shutdown_timeout,
    )
    .await;
    reloader.abort();
    audit_summaries.abort();
    audit_summary::log(&audit.0, audit.1);
    if let Some(watch) = cluster_watch {
        watch.abort();
    }
    info!(drained, "stopped");
    Ok(drained)
}

fn make_certs(args: cli::CertsArgs) -> ExitCode {
    let request = certs::CertRequest {
        service: args.service,
        namespace: args.namespace,
        dns_names: args.dns_names,
        ips: args.ips,
        days: args.days,
        new_ca: args.new_ca,
    };
    match certs::make(&request, &args.out_dir) {
        Ok(files) => {
            let ca = if files.reused_ca {
                "CA (reused):"
            } else {
                "CA (new):"
            };
            println!("{ca:<21}{}", files.ca_cert.display());
            println!("certificate:         {}", files.cert.display());
            println!("key:                 {}", files.key.display());
            println!("caBundle patch:      {}", files.cabundle_patch.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("helm-hooks-webhook: {:#}", anyhow::Error::new(e));
            ExitCode::FAILURE
        }
    }
}
