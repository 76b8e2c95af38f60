//! The policy in force, swappable at run time.
//!
//! Requests take an `Arc<Policy>` snapshot (a read lock held for one clone), so a reload never
//! changes the policy under a request in flight. A new file that does not parse is refused and
//! the previous policy stays in force; the same broken contents are reported once.
//!
//! An empty document (nothing, whitespace, only comments, or `null`) is refused too, at start
//! and on reload: it usually means a ConfigMap key that lost its contents, and silently falling
//! back to the built-in policy would turn an operator's rules back into the defaults. A file
//! that means "the built-in policy" says so explicitly with `{}`.

use crate::cluster_policy::ClusterPolicies;
use helm_hooks::policy::{Policy, PolicyError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// Why a policy file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[allow(missing_docs)] // the message names each field
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[allow(missing_docs)] // the message names each field
    #[error("invalid policy in {path}: {source}")]
    Invalid { path: PathBuf, source: PolicyError },
    #[allow(missing_docs)] // the message names each field
    #[error(
        "policy file {path} is empty (or holds only comments); write `{{}}` to use the \
         built-in policy explicitly"
    )]
    Empty { path: PathBuf },
}

/// The policy in force and, when it came from a file, where to reload it from; or, with
/// `--policy-source cluster`, the cluster's HookPolicies.
#[derive(Debug)]
pub struct PolicyStore {
    cluster: Option<Arc<ClusterPolicies>>,
    path: Option<PathBuf>,
    current: RwLock<Arc<Policy>>,
    /// Contents of the file last tried (loaded or refused).
    last_seen: Mutex<Vec<u8>>,
}

fn read(path: &Path) -> Result<Vec<u8>, PolicyLoadError> {
    std::fs::read(path).map_err(|source| PolicyLoadError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Whether the YAML text holds no document, or a null one (only whitespace, comments, `---`,
/// `null`, `~`).
fn is_empty_document(text: &str) -> bool {
    matches!(
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text),
        Ok(serde_yaml_ng::Value::Null)
    )
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Policy, PolicyLoadError> {
    let text = String::from_utf8_lossy(bytes);
    if is_empty_document(&text) {
        return Err(PolicyLoadError::Empty {
            path: path.to_path_buf(),
        });
    }
    Policy::from_yaml(&text).map_err(|source| PolicyLoadError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

impl PolicyStore {
    /// The built-in policy, never reloaded.
    pub fn builtin() -> PolicyStore {
        PolicyStore::fixed(Policy::builtin())
    }

    /// A fixed policy, never reloaded (tests, benchmarks).
    pub fn fixed(policy: Policy) -> PolicyStore {
        PolicyStore {
            cluster: None,
            path: None,
            current: RwLock::new(Arc::new(policy)),
            last_seen: Mutex::new(Vec::new()),
        }
    }

    /// Loads the policy file; fails when it cannot be read or parsed, or is empty.
    pub fn from_file(path: &Path) -> Result<PolicyStore, PolicyLoadError> {
        let bytes = read(path)?;
        let policy = parse(path, &bytes)?;
        Ok(PolicyStore {
            cluster: None,
            path: Some(path.to_path_buf()),
            current: RwLock::new(Arc::new(policy)),
            last_seen: Mutex::new(bytes),
        })
    }

    /// The policies of the cluster, kept current by [`crate::cluster_policy::run`].
    pub fn cluster(policies: Arc<ClusterPolicies>) -> PolicyStore {
        PolicyStore {
            cluster: Some(policies),
            ..PolicyStore::builtin()
        }
    }

    /// The policy in force in `namespace` (the request's): the one policy of a file, or the
    /// cluster's HookPolicy selecting the namespace.
    pub fn for_namespace(&self, namespace: Option<&str>) -> Arc<Policy> {
        match &self.cluster {
            Some(cluster) => cluster.select(namespace),
            None => self.current(),
        }
    }

    /// `Err(why)` while the policy is not known yet; `Ok(Some(note))` when it is served but
    /// may be stale (the cluster's watch is down).
    pub fn readiness(&self) -> Result<Option<String>, String> {
        match &self.cluster {
            Some(cluster) => cluster.readiness(),
            None => Ok(None),
        }
    }

    /// The file the policy is reloaded from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The policy in force.
    pub fn current(&self) -> Arc<Policy> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads the file; when its contents changed since the last attempt, parses and swaps
    /// it in. `Ok(false)`: unchanged (or no file). `Ok(true)`: reloaded. `Err`: refused, the
    /// previous policy stays in force.
    pub fn reload_if_changed(&self) -> Result<bool, PolicyLoadError> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let bytes = read(path)?;
        {
            let mut last = self.last_seen.lock().unwrap_or_else(|e| e.into_inner());
            if *last == bytes {
                return Ok(false);
            }
            last.clone_from(&bytes);
        }
        let policy = parse(path, &bytes)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policy);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_policy_is_refused_and_previous_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, Policy::builtin().to_yaml()).unwrap();
        let store = PolicyStore::from_file(&path).unwrap();
        assert!(!store.reload_if_changed().unwrap());
        let before = store.current();
        std::fs::write(&path, "rules: {privileged: sometimes}\n").unwrap();
        let err = store.reload_if_changed().unwrap_err();
        assert!(err.to_string().contains("invalid policy"), "{err}");
        assert_eq!(*store.current(), *before);
        // Reported once: the same broken contents are not retried.
        assert!(!store.reload_if_changed().unwrap());
        let audit_everything = Policy::builtin().to_yaml().replace(": enforce", ": audit");
        std::fs::write(&path, audit_everything).unwrap();
        assert!(store.reload_if_changed().unwrap());
        assert_ne!(*store.current(), *before);
    }

    #[test]
    fn empty_policy_file_is_refused_at_start_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        for empty in [
            "",
            "  \n\n",
            "# only a comment\n\n# and another\n",
            "---\n",
            "null\n",
        ] {
            std::fs::write(&path, empty).unwrap();
            let err = PolicyStore::from_file(&path).err();
            let err = err.unwrap_or_else(|| panic!("{empty:?} was accepted at start"));
            assert!(err.to_string().contains("is empty"), "{err}");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
        // `{}` says "the built-in policy" on purpose.
        std::fs::write(&path, "# the built-in policy\n{}\n").unwrap();
        let store = PolicyStore::from_file(&path).unwrap();
        assert_eq!(*store.current(), Policy::builtin());

        let warn_everything = Policy::builtin().to_yaml().replace(": enforce", ": warn");
        std::fs::write(&path, &warn_everything).unwrap();
        assert!(store.reload_if_changed().unwrap());
        let before = store.current();
        std::fs::write(&path, "").unwrap();
        let err = store.reload_if_changed().unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
        assert_eq!(
            store.current(),
            before,
            "the previous policy stays in force"
        );
    }
}
