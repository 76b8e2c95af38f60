//! kubectl's connection flags (`--kubeconfig`, `--context`, `--cluster`, `--user`,
//! `--request-timeout`) → a kube [`Client`], plus the namespace to work in.

use crate::error::{Error, Result};
use crate::options::Connection;
use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

/// Clients for one run and the namespace kubectl would use.
#[derive(Clone)]
pub struct Cluster {
    /// For ordinary requests; honours `--request-timeout`.
    pub client: Client,
    /// For long watches and log streams: no read timeout (watches end server-side instead).
    pub watch_client: Client,
    /// `-n`, else the kubeconfig context's namespace, else `default`.
    pub namespace: String,
    /// `-A`.
    pub all_namespaces: bool,
}

impl Cluster {
    /// The namespace to search: `None` for all namespaces.
    pub fn search_namespace(&self) -> Option<&str> {
        (!self.all_namespaces).then_some(self.namespace.as_str())
    }

    /// Where the search looks, for messages: `namespace NS` or `any namespace`.
    pub fn scope(&self) -> String {
        self.search_namespace()
            .map_or("any namespace".to_string(), |ns| format!("namespace {ns}"))
    }
}

/// Reads the kubeconfig like kubectl (`--kubeconfig`, else `$KUBECONFIG` merged, else
/// `~/.kube/config`; in a Pod without any, the in-cluster config) and builds the clients.
pub async fn connect(connection: &Connection) -> Result<Cluster> {
    let options = KubeConfigOptions {
        context: connection.context.clone(),
        cluster: connection.cluster.clone(),
        user: connection.user.clone(),
    };
    let explicit = options.context.is_some() || options.cluster.is_some() || options.user.is_some();
    let config = match &connection.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                Error::Config(format!(
                    "cannot read kubeconfig {}: {}",
                    path.display(),
                    crate::error::chain(&e)
                ))
            })?;
            from_kubeconfig(kubeconfig, &options).await?
        }
        None => match Kubeconfig::read() {
            Ok(kubeconfig) => from_kubeconfig(kubeconfig, &options).await?,
            Err(e) if !explicit && std::env::var_os("KUBECONFIG").is_none() => Config::incluster()
                .map_err(|_| {
                    Error::Config(format!(
                        "no kubeconfig found ({}): set KUBECONFIG or pass --kubeconfig",
                        crate::error::chain(&e)
                    ))
                })?,
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot read the kubeconfig named by KUBECONFIG: {}",
                    crate::error::chain(&e)
                )));
            }
        },
    };
    build(config, connection)
}

async fn from_kubeconfig(kubeconfig: Kubeconfig, options: &KubeConfigOptions) -> Result<Config> {
    Config::from_custom_kubeconfig(kubeconfig, options)
        .await
        .map_err(|e| {
            Error::Config(format!(
                "invalid kubeconfig{}: {}",
                options
                    .context
                    .as_deref()
                    .map(|c| format!(" context {c:?}"))
                    .unwrap_or_default(),
                crate::error::chain(&e)
            ))
        })
}

fn build(mut config: Config, connection: &Connection) -> Result<Cluster> {
    crate::error::set_api_server(&config.cluster_url.to_string());
    let namespace = connection
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let mut watch_config = config.clone();
    watch_config.read_timeout = None;
    if let Some(timeout) = connection.request_timeout {
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        config.connect_timeout = Some(timeout);
        watch_config.connect_timeout = Some(timeout);
    }
    let client = Client::try_from(config).map_err(|e| {
        Error::Config(format!(
            "cannot build a client: {}",
            crate::error::chain(&e)
        ))
    })?;
    let watch_client = Client::try_from(watch_config).map_err(|e| {
        Error::Config(format!(
            "cannot build a client: {}",
            crate::error::chain(&e)
        ))
    })?;
    Ok(Cluster {
        client,
        watch_client,
        namespace,
        all_namespaces: connection.all_namespaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: abc
contexts:
- name: dev
  context: {cluster: local, user: admin, namespace: team-a}
- name: other
  context: {cluster: local, user: admin}
"#;

    fn kubeconfig_file() -> tempfile_path::TempPath {
        tempfile_path::write(KUBECONFIG)
    }

    mod tempfile_path {
        use std::path::PathBuf;
        pub struct TempPath(pub PathBuf);
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        pub fn write(text: &str) -> TempPath {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "kubectl-hooks-test-{}-{}.yaml",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::write(&path, text).unwrap();
            TempPath(path)
        }
    }

    #[tokio::test]
    async fn namespace_comes_from_the_context_like_kubectl() {
        let file = kubeconfig_file();
        let mut c = Connection {
            kubeconfig: Some(file.0.clone()),
            ..Connection::default()
        };
        assert_eq!(connect(&c).await.unwrap().namespace, "team-a");
        c.context = Some("other".into());
        assert_eq!(connect(&c).await.unwrap().namespace, "default");
        c.namespace = Some("explicit".into());
        let kube = connect(&c).await.unwrap();
        assert_eq!(kube.namespace, "explicit");
        assert_eq!(kube.search_namespace(), Some("explicit"));
    }

    #[tokio::test]
    async fn unknown_context_is_a_config_error() {
        let file = kubeconfig_file();
        let c = Connection {
            kubeconfig: Some(file.0.clone()),
            context: Some("nope".into()),
            ..Connection::default()
        };
        let Err(e) = connect(&c).await else {
            panic!("expected an error")
        };
        assert!(e.to_string().contains("nope"), "{e}");
        assert_eq!(e.exit_code(), 1);
    }

    /// Issue 14: "connection refused" did not name the address it could not reach.
    #[tokio::test]
    async fn unreachable_api_server_is_named() {
        let file = tempfile_path::write(&KUBECONFIG.replace("127.0.0.1:6443", "127.0.0.1:1"));
        let c = Connection {
            kubeconfig: Some(file.0.clone()),
            ..Connection::default()
        };
        let kube = connect(&c).await.unwrap();
        let store = crate::releases::Store::new(kube.client.clone(), Default::default());
        let Err(e) = store.records(Some("team-a"), None).await else {
            panic!("nothing listens on port 1")
        };
        let text = crate::error::render(&e);
        assert!(
            text.contains("cannot list secrets in namespace team-a: cannot reach the API server at https://127.0.0.1:"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn missing_kubeconfig_file_names_the_path() {
        let c = Connection {
            kubeconfig: Some("/nonexistent/kubeconfig".into()),
            ..Connection::default()
        };
        let Err(e) = connect(&c).await else {
            panic!("expected an error")
        };
        assert!(e.to_string().contains("/nonexistent/kubeconfig"), "{e}");
    }
}
