//! Errors of the plugin, each carrying the fix, and their exit codes: 2 for bad usage, 1 for
//! everything that failed while doing the work.

use helm_hooks::release::RecordError;
use std::fmt::Write as _;

/// The API server this run talks to, for "cannot reach" messages (set once, by
/// [`crate::client`], when the client is built).
static API_SERVER: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Records the API server's address for error messages.
pub fn set_api_server(url: &str) {
    if let Ok(mut server) = API_SERVER.lock() {
        *server = Some(url.trim_end_matches('/').to_string());
    }
}

fn api_server() -> Option<String> {
    API_SERVER.lock().ok().and_then(|s| s.clone())
}

/// Everything that can go wrong in a subcommand.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid flags or arguments (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The kubeconfig cannot be read or names something that does not exist.
    #[error("{0}")]
    Config(String),
    /// An API request failed; the message names the verb, resource and namespace.
    #[error("{message}")]
    Api {
        message: String,
        #[source]
        source: Box<kube::Error>,
    },
    /// A release record cannot be decoded.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The release (or revision) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The operation was refused or did not succeed (a hook failed, a pending release, …).
    #[error("{0}")]
    Failed(String),
    /// Reading input or writing output failed.
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// Ctrl-C: stopped, with what was left behind (exit code 130, as a shell reports SIGINT).
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => crate::EXIT_USAGE,
            Error::Interrupted(_) => crate::EXIT_INTERRUPTED,
            _ => crate::EXIT_FAILED,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The message of `error` followed by its causes (`: cause: cause`), skipping causes whose text
/// the message already contains.
pub fn render(error: &Error) -> String {
    if matches!(error, Error::Api { .. }) {
        // The API message already says what the server said.
        return error.to_string();
    }
    chain(error)
}

/// What a request was doing, for error messages: `list` `secrets` in `namespace`.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The RBAC verb: get, list, watch, create, delete.
    pub verb: &'a str,
    /// The resource as RBAC names it: `secrets`, `jobs.batch`.
    pub resource: &'a str,
    /// The namespace, `None` for cluster scope or all namespaces.
    pub namespace: Option<&'a str>,
    /// The object's name, for get/create/delete.
    pub name: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// A request on a whole collection.
    pub fn new(verb: &'a str, resource: &'a str, namespace: Option<&'a str>) -> Self {
        Request {
            verb,
            resource,
            namespace,
            name: None,
        }
    }

    /// The same request on one named object.
    pub fn named(self, name: &'a str) -> Self {
        Request {
            name: Some(name),
            ..self
        }
    }

    fn scope(&self) -> String {
        match self.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None => "at the cluster scope".to_string(),
        }
    }

    fn target(&self) -> String {
        match self.name {
            Some(name) => format!("{} {name:?}", self.resource),
            None => self.resource.to_string(),
        }
    }
}

/// Turns a kube error into an [`Error`] that says what was being done and how to fix it. A 403
/// names the missing permission: `cannot list secrets in namespace X: grant list on secrets`.
pub fn api(request: Request<'_>, error: kube::Error) -> Error {
    let message = match &error {
        kube::Error::Api(status) if status.code == 403 => format!(
            "cannot {} {} {}: grant {} on {}{} (the API server said: {})",
            request.verb,
            request.target(),
            request.scope(),
            request.verb,
            request.resource,
            match request.namespace {
                Some(ns) => format!(" in namespace {ns}"),
                None => " cluster-wide (a ClusterRole)".to_string(),
            },
            status.message
        ),
        kube::Error::Api(status) if status.code == 401 => format!(
            "cannot {} {} {}: the API server rejected the credentials (401 Unauthorized); \
             check --kubeconfig, --context and --user",
            request.verb,
            request.target(),
            request.scope()
        ),
        kube::Error::Api(status) => format!(
            "cannot {} {} {}: {} ({})",
            request.verb,
            request.target(),
            request.scope(),
            status.message,
            status.code
        ),
        other => format!(
            "cannot {} {} {}: cannot reach the API server{}: {}",
            request.verb,
            request.target(),
            request.scope(),
            api_server()
                .map(|url| format!(" at {url} (the kubeconfig's server; is the cluster up?)"))
                .unwrap_or_default(),
            chain(other)
        ),
    };
    Error::Api {
        message,
        source: Box::new(error),
    }
}

/// The HTTP status code of an API error, if the server answered.
pub fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// What the server said (for API errors), else the error chain: for one-line warnings.
pub fn brief(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => chain(other),
    }
}

/// `error: cause: cause`, without repeating causes already in the text.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            let _ = write!(text, ": {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn status(code: u16, message: &str) -> kube::Error {
        let mut s = Status::failure(message, "Forbidden");
        s.code = code;
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn forbidden_names_the_missing_grant() {
        let e = api(
            Request::new("list", "secrets", Some("team")),
            status(
                403,
                "secrets is forbidden: User \"bob\" cannot list resource \"secrets\"",
            ),
        );
        let text = render(&e);
        assert!(
            text.starts_with(
                "cannot list secrets in namespace team: grant list on secrets in namespace team"
            ),
            "{text}"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn forbidden_cluster_wide_asks_for_a_cluster_role() {
        let e = api(
            Request::new("delete", "jobs.batch", None).named("x"),
            status(403, "nope"),
        );
        assert!(
            render(&e).starts_with(
                "cannot delete jobs.batch \"x\" at the cluster scope: grant delete on jobs.batch \
                 cluster-wide (a ClusterRole)"
            ),
            "{}",
            render(&e)
        );
    }

    #[test]
    fn usage_errors_exit_2() {
        assert_eq!(Error::Usage("bad".into()).exit_code(), 2);
        assert_eq!(Error::Failed("hook failed".into()).exit_code(), 1);
    }
}
