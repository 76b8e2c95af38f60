//! Command line: clap flags, and their validation into [`ServeOptions`].

use crate::admission::PatchEncoding;
use crate::server::Limits;
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Admission webhook that injects safe defaults into Helm hooks and enforces a hook policy.
#[derive(Debug, Parser)]
#[command(name = "helm-hooks-webhook", version, about)]
pub struct Cli {
    #[command(subcommand)]
    /// What to do.
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve /mutate, /validate, /admit, /healthz, /readyz and /metrics over HTTPS.
    Serve(ServeArgs),
    /// Print the built-in policy as YAML (a starting point for --policy).
    DefaultPolicy,
    /// Make a CA and a serving certificate (rcgen; no openssl needed). Reuses the CA found in
    /// --out-dir, so rerunning it rotates the serving certificate under the same caBundle.
    Certs(CertsArgs),
}

/// Flags of `certs`.
#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    /// Where to write ca.crt, ca.key, tls.crt, tls.key and cabundle-patch.yaml.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// The webhook's Service name.
    #[arg(long, default_value = "helm-hooks-webhook")]
    pub service: String,
    /// The webhook's namespace.
    #[arg(long, default_value = "helm-hooks-system")]
    pub namespace: String,
    /// An extra DNS name (repeatable), e.g. localhost.
    #[arg(long = "dns", value_name = "NAME")]
    pub dns_names: Vec<String>,
    /// An IP address SAN (repeatable), e.g. 127.0.0.1 for a webhook registered by url.
    #[arg(long = "ip", value_name = "ADDR")]
    pub ips: Vec<std::net::IpAddr>,
    /// Validity of the serving certificate, in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Make a new CA even if --out-dir holds one (the caBundle must then be registered again).
    #[arg(long)]
    pub new_ca: bool,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    #[default]
    Text,
}

/// Where the policy comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PolicySource {
    /// `--policy FILE`, reloaded when it changes, or the built-in policy.
    #[default]
    File,
    /// The cluster's HookPolicy objects, watched.
    Cluster,
}

/// Flags of `serve`, as typed.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8443.
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// PEM certificate chain (leaf first); reloaded when the file changes.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// PEM private key of the certificate; reloaded when the file changes.
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// Policy document (YAML); reloaded when the file changes. Without it the built-in
    /// policy applies (see `default-policy`). An empty file (or one with only comments) is
    /// refused; `{}` means the built-in policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Where the policy comes from: `file` (--policy, or the built-in policy), or `cluster`:
    /// the HookPolicy objects, watched (needs get/list/watch on hookpolicies.hooks.helm-hooks.io
    /// and list/watch on namespaces, whose labels the policies select by).
    #[arg(long, value_enum, default_value_t = PolicySource::File)]
    pub policy_source: PolicySource,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// How often to check the policy and certificate files for changes, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "2")]
    pub reload_interval: String,
    /// How often to log one summary line of audit-mode findings (counted per rule; they are
    /// never logged per object), in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "60")]
    pub audit_summary_interval: String,
    /// How long to wait for requests in flight on SIGTERM/SIGINT, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "25")]
    pub shutdown_timeout: String,
    /// On SIGTERM/SIGINT, keep accepting connections this many seconds (with /readyz at 503)
    /// before draining, while Kubernetes removes the Pod from the Service's endpoints.
    #[arg(long, value_name = "SECONDS", default_value = "0")]
    pub shutdown_delay: String,
    /// How long a client may take to finish the TLS handshake, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10")]
    pub handshake_timeout: String,
    /// How long an HTTP/1.1 client may take to send a request's headers, in seconds; also how
    /// long a keep-alive connection may wait for its next request (keep it above the
    /// apiserver's idle timeout of 90 s).
    #[arg(long, value_name = "SECONDS", default_value = "120")]
    pub header_timeout: String,
    /// How long a request body may take to arrive once its headers are in, in seconds
    /// (408 after that).
    #[arg(long, value_name = "SECONDS", default_value = "10")]
    pub body_timeout: String,
    /// How long a connection may go without a request, in seconds (HTTP/2 connections get a
    /// GOAWAY; keep it above the apiserver's idle timeout of 90 s).
    #[arg(long, value_name = "SECONDS", default_value = "120")]
    pub idle_timeout: String,
    /// The most connections open at once. Beyond it a new connection displaces the oldest one
    /// that has not sent a request yet, or is closed at once when there is none.
    #[arg(long, value_name = "N", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Encoding of the `patch` field (compatibility testing only: keep base64).
    #[arg(long, value_enum, default_value_t = PatchEncoding::Base64, hide = true)]
    pub patch_encoding: PatchEncoding,
}

/// A flag value that makes no sense.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    #[allow(missing_docs)] // the message names each field
    #[error("--listen {0:?} is not an address like 0.0.0.0:8443 or 127.0.0.1:8443")]
    Listen(String),
    #[allow(missing_docs)] // the message names each field
    #[error("--{flag} {value:?} is not a positive number of seconds")]
    Seconds { flag: &'static str, value: String },
    #[allow(missing_docs)] // the message names each field
    #[error("--policy and --policy-source cluster exclude each other: drop one")]
    PolicyAndCluster,
}

/// Validated options of `serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// PEM certificate chain file.
    pub tls_cert: PathBuf,
    /// PEM private key file.
    pub tls_key: PathBuf,
    /// Policy file; the built-in policy when `None`.
    pub policy: Option<PathBuf>,
    /// Where the policy comes from.
    pub policy_source: PolicySource,
    /// Log line format.
    pub log_format: LogFormat,
    /// How often to check files for changes.
    pub reload_interval: Duration,
    /// How often audit-mode findings are summarised in the log.
    pub audit_summary_interval: Duration,
    /// How long to drain requests in flight on shutdown.
    pub shutdown_timeout: Duration,
    /// How long to keep serving (not ready) after a shutdown signal before draining.
    pub shutdown_delay: Duration,
    /// Encoding of `patch` in responses.
    pub patch_encoding: PatchEncoding,
    /// Timeouts and the connection cap.
    pub limits: Limits,
}

fn seconds(flag: &'static str, value: &str) -> Result<Duration, OptionsError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| OptionsError::Seconds {
            flag,
            value: value.to_string(),
        })
}

impl TryFrom<ServeArgs> for ServeOptions {
    type Error = OptionsError;

    fn try_from(args: ServeArgs) -> Result<Self, Self::Error> {
        if args.policy.is_some() && args.policy_source == PolicySource::Cluster {
            return Err(OptionsError::PolicyAndCluster);
        }
        let listen = args
            .listen
            .parse()
            .map_err(|_| OptionsError::Listen(args.listen.clone()))?;
        Ok(ServeOptions {
            listen,
            tls_cert: args.tls_cert,
            tls_key: args.tls_key,
            policy: args.policy,
            policy_source: args.policy_source,
            log_format: args.log_format,
            reload_interval: seconds("reload-interval", &args.reload_interval)?,
            audit_summary_interval: seconds(
                "audit-summary-interval",
                &args.audit_summary_interval,
            )?,
            shutdown_timeout: seconds("shutdown-timeout", &args.shutdown_timeout)?,
            shutdown_delay: if args.shutdown_delay.trim() == "0" {
                Duration::ZERO
            } else {
                seconds("shutdown-delay", &args.shutdown_delay)?
            },
            patch_encoding: args.patch_encoding,
            limits: Limits {
                handshake_timeout: seconds("handshake-timeout", &args.handshake_timeout)?,
                header_timeout: seconds("header-timeout", &args.header_timeout)?,
                body_timeout: seconds("body-timeout", &args.body_timeout)?,
                idle_timeout: seconds("idle-timeout", &args.idle_timeout)?,
                max_connections: args.max_connections as usize,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ServeOptions, String> {
        let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Serve(args) => ServeOptions::try_from(args).map_err(|e| e.to_string()),
            Command::DefaultPolicy => Err("default-policy".into()),
            Command::Certs(_) => Err("certs".into()),
        }
    }

    #[test]
    fn serve_flags() {
        let o = parse(&[
            "w",
            "serve",
            "--listen",
            "127.0.0.1:8443",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--log-format",
            "json",
            "--reload-interval",
            "0.5",
        ])
        .unwrap();
        assert_eq!(o.listen, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(o.log_format, LogFormat::Json);
        assert_eq!(o.reload_interval, Duration::from_millis(500));
        assert_eq!(o.patch_encoding, PatchEncoding::Base64);
        assert!(o.policy.is_none());
        assert_eq!(o.limits, Limits::default());
    }

    #[test]
    fn bad_values_are_refused() {
        let base = ["w", "serve", "--tls-cert", "c", "--tls-key", "k"];
        let with = |extra: &[&str]| {
            let mut a = base.to_vec();
            a.extend_from_slice(extra);
            parse(&a)
        };
        assert!(
            with(&["--listen", "8443"])
                .unwrap_err()
                .contains("--listen")
        );
        assert!(
            with(&["--listen", ":8443", "--reload-interval", "0"])
                .unwrap_err()
                .contains("--listen")
        );
        assert!(
            with(&["--listen", "[::]:8443", "--reload-interval=-1"])
                .unwrap_err()
                .contains("reload-interval")
        );
        assert!(with(&["--listen", "0.0.0.0:1", "--log-format", "xml"]).is_err());
    }
}
