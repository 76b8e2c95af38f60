//! Support for end-to-end tests: the shared cluster, one namespace per test, helm and kubectl runners.
//!
//! Tests run under `tests/cluster/with-cluster`, which starts a real control plane (etcd,
//! kube-apiserver, controller-manager, scheduler, kwok as the kubelet) and exports `KUBECONFIG`,
//! `HELM_HOOKS_CLUSTER_DIR` and a `PATH` with `kubectl`, `helm` (v4) and `helm3`. Every test
//! asks for its own namespace; the cluster is shared by all tests of the run:
//!
//! ```no_run
//! use e2e::{Helm, TestNamespace};
//!
//! let ns = TestNamespace::new("install");
//! ns.helm(Helm::V4)
//!     .args(["install", "demo", &e2e::chart("hooks-demo").display().to_string(), "--wait"])
//!     .success();
//! let job = ns.get_json("job", "demo-seed");
//! assert_eq!(e2e::condition(&job, "Complete"), Some("True"));
//! ```
#![forbid(unsafe_code)]

pub mod webhook;

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::Value;

/// The control plane started by `tests/cluster/with-cluster`.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    kubeconfig: PathBuf,
}

impl Cluster {
    /// The cluster of this test run. Panics, telling how to start one, when the tests do not run
    /// under `tests/cluster/with-cluster`: an end-to-end test must never pass without a cluster.
    pub fn get() -> &'static Cluster {
        static CLUSTER: OnceLock<Cluster> = OnceLock::new();
        CLUSTER.get_or_init(|| {
            let hint = "end-to-end tests need the test cluster: run them under \
                        tests/cluster/with-cluster, e.g. `tests/cluster/with-cluster cargo test -p e2e` \
                        (or `scripts/test` for everything)";
            let dir = std::env::var_os("HELM_HOOKS_CLUSTER_DIR")
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| panic!("HELM_HOOKS_CLUSTER_DIR is not set: {hint}"));
            let kubeconfig = std::env::var_os("KUBECONFIG")
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| panic!("KUBECONFIG is not set: {hint}"));
            let cluster = Cluster {
                dir: PathBuf::from(dir),
                kubeconfig: PathBuf::from(kubeconfig),
            };
            assert!(
                cluster.kubeconfig.is_file(),
                "KUBECONFIG {} does not exist (is the cluster still running?): {hint}",
                cluster.kubeconfig.display()
            );
            cluster
        })
    }

    /// The cluster's temporary directory: `kubeconfig`, `pki/ca.{crt,key}` (the cluster CA),
    /// `logs/*.log` of every component.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The admin kubeconfig (also exported as `KUBECONFIG`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Applies cert-manager's Issuer and Certificate CRDs (cached by tests/cluster/build) and
    /// waits until both are Established. Idempotent, so tests may call it concurrently.
    pub fn install_cert_manager_crds(&self) {
        let crds = self.dir.join("crds/cert-manager");
        kubectl()
            .args(["apply", "--server-side", "-f"])
            .arg(crds.join("issuers.yaml"))
            .args(["-f"])
            .arg(crds.join("certificates.yaml"))
            .success();
        // Not `kubectl wait`: right after the apply a CRD may have no status.conditions yet,
        // and kubectl wait then fails ("accessor error: <nil>") instead of waiting.
        for crd in ["issuers.cert-manager.io", "certificates.cert-manager.io"] {
            wait_until(Duration::from_secs(30), crd, || {
                kubectl()
                    .args(["get", "crd", crd, "-o"])
                    .arg("jsonpath={.status.conditions[?(@.type==\"Established\")].status}")
                    .output()
                    .stdout
                    == "True"
            });
        }
    }
}

/// Which helm binary to run: `helm` (v4) or `helm3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helm {
    V4,
    V3,
}

impl Helm {
    /// Both versions, for tests that run against each.
    pub const ALL: [Helm; 2] = [Helm::V4, Helm::V3];

    /// The binary's name on the `PATH` with-cluster sets.
    pub fn binary(self) -> &'static str {
        match self {
            Helm::V4 => "helm",
            Helm::V3 => "helm3",
        }
    }

    /// The major version, 3 or 4.
    pub fn major(self) -> u32 {
        match self {
            Helm::V4 => 4,
            Helm::V3 => 3,
        }
    }
}

impl std::fmt::Display for Helm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.binary())
    }
}

/// A command to run with captured output; panics with the command line, exit status, stdout
/// and stderr when the outcome is not the expected one.
#[must_use = "a Run does nothing until .success(), .failure() or .output()"]
#[derive(Debug)]
pub struct Run {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Vec<u8>>,
    dir: Option<PathBuf>,
}

/// The captured result of a [`Run`].
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line, for messages.
    pub command: String,
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout parsed as JSON; panics with the output when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`{}` did not print JSON ({e}):\n{}",
                self.command,
                self.describe()
            )
        })
    }

    /// The Kubernetes objects `kubectl … -o json` printed: one JSON document per object, or
    /// `List`s of them, flattened. Panics with the output when stdout is not JSON.
    pub fn objects(&self) -> Vec<Value> {
        let mut objects = Vec::new();
        for doc in serde_json::Deserializer::from_str(&self.stdout).into_iter::<Value>() {
            let doc = doc.unwrap_or_else(|e| {
                panic!(
                    "`{}` did not print JSON ({e}):\n{}",
                    self.command,
                    self.describe()
                )
            });
            match doc["items"].as_array() {
                Some(items) if doc["kind"] == "List" => objects.extend(items.iter().cloned()),
                _ => objects.push(doc),
            }
        }
        objects
    }

    /// stdout and stderr together, for assertions on messages.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "$ {}", self.command);
        let _ = writeln!(s, "exit code: {:?}", self.code);
        let _ = writeln!(s, "--- stdout ---\n{}", self.stdout.trim_end());
        let _ = write!(s, "--- stderr ---\n{}", self.stderr.trim_end());
        s
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Run {
    /// Any program (found on with-cluster's `PATH`).
    pub fn new(program: impl AsRef<OsStr>) -> Run {
        Run {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            stdin: None,
            dir: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Run {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Run {
        self.envs
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Run {
        self.envs.push((key.as_ref().to_owned(), None));
        self
    }

    /// Bytes fed to the command's stdin (otherwise stdin is empty).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Run {
        self.stdin = Some(input.into());
        self
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Run {
        self.dir = Some(dir.into());
        self
    }

    /// The command line as a shell would show it.
    pub fn command_line(&self) -> String {
        let mut line = String::new();
        for (k, v) in &self.envs {
            if let Some(v) = v {
                let _ = write!(line, "{}={} ", k.to_string_lossy(), shell_quote(v));
            }
        }
        line.push_str(&shell_quote(&self.program));
        for a in &self.args {
            line.push(' ');
            line.push_str(&shell_quote(a));
        }
        line
    }

    /// Runs the command whatever its exit status (panics only when it cannot be started).
    pub fn output(self) -> Output {
        let command = self.command_line();
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.envs {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run `{command}`: {e} (is the test running under tests/cluster/with-cluster?)"
            )
        });
        // Feed stdin from a thread so a command writing much output before reading cannot block.
        let feeder = self.stdin.map(|input| {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            })
        });
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut buf);
            buf
        });
        let mut stdout = Vec::new();
        let _ = child
            .stdout
            .take()
            .expect("stdout is piped")
            .read_to_end(&mut stdout);
        let status = child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for `{command}`: {e}"));
        let stderr = stderr_reader.join().unwrap_or_default();
        if let Some(f) = feeder {
            let _ = f.join();
        }
        Output {
            command,
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Runs the command and panics unless it exits 0.
    #[track_caller]
    pub fn success(self) -> Output {
        let out = self.output();
        assert!(out.ok(), "command failed:\n{out}");
        out
    }

    /// Runs the command and panics if it exits 0 (for tests of failure paths).
    #[track_caller]
    pub fn failure(self) -> Output {
        let out = self.output();
        assert!(
            !out.ok(),
            "command succeeded but was expected to fail:\n{out}"
        );
        out
    }
}

fn shell_quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `kubectl` against the test cluster (cluster-scoped; see [`TestNamespace::kubectl`]).
pub fn kubectl() -> Run {
    Cluster::get();
    Run::new("kubectl")
}

/// `helm` or `helm3` against the test cluster (see [`TestNamespace::helm`]).
pub fn helm(version: Helm) -> Run {
    Cluster::get();
    Run::new(version.binary())
}

/// The built `kubectl-hooks` (see [`workspace_binary`]; `$KUBECTL_HOOKS_BIN` overrides it)
/// against the test cluster.
pub fn kubectl_hooks() -> Run {
    Run::new(workspace_binary("kubectl-hooks", "KUBECTL_HOOKS_BIN"))
        .arg("--kubeconfig")
        .arg(Cluster::get().kubeconfig())
}

/// The path of a chart in `tests/charts/`.
pub fn chart(name: &str) -> PathBuf {
    let path = repo_root().join("tests/charts").join(name);
    assert!(path.is_dir(), "no chart {}", path.display());
    path
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

/// A binary of this workspace next to the test's executable (`target/<profile>/<name>`), or the
/// path in `env_override` when that variable is set. `cargo test` builds only the binaries of a
/// package with integration tests of its own, so scripts/test runs `cargo build --workspace
/// --bins` first.
#[track_caller]
pub fn workspace_binary(name: &str, env_override: &str) -> PathBuf {
    if let Some(bin) = std::env::var_os(env_override) {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let bin = profile_dir.join(name);
    assert!(
        bin.is_file(),
        "{} not found: build it first (`cargo build --workspace --bins`, as scripts/test does) \
         or set {env_override}",
        bin.display()
    );
    bin
}

/// A namespace of its own for one test, with a unique name; deleted when dropped. When the test
/// fails (the thread is panicking), what is in the namespace is printed first, and the namespace
/// is kept if `HELM_HOOKS_E2E_KEEP=1`.
///
/// [`TestNamespace::new`] labels the namespace `helm-hooks.io/webhook=skip`, the opt-out users
/// have too, so a test that is not about the webhook is never reviewed by it, even while the
/// webhook tests have deploy/'s configurations registered cluster-wide;
/// [`TestNamespace::reviewed`] makes one without the label.
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
}

impl TestNamespace {
    /// Creates a namespace named `e2e-<prefix>-<unique suffix>`, opted out of the webhook; the
    /// prefix is cut to fit and lower-cased, other characters than `[a-z0-9-]` become `-`.
    #[track_caller]
    pub fn new(prefix: &str) -> TestNamespace {
        Self::create(prefix, true)
    }

    /// Like [`TestNamespace::new`], but without the opt-out label: the webhook, when
    /// registered, reviews the hooks created here.
    #[track_caller]
    pub fn reviewed(prefix: &str) -> TestNamespace {
        Self::create(prefix, false)
    }

    #[track_caller]
    fn create(prefix: &str, skip_webhook: bool) -> TestNamespace {
        Cluster::get();
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let suffix = format!("{:x}{:05x}{n}", std::process::id() % 0x1000, nanos >> 12);
        let mut clean: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        clean.truncate(63 - "e2e--".len() - suffix.len());
        let name = format!("e2e-{}-{suffix}", clean.trim_matches('-')).replace("--", "-");
        kubectl().args(["create", "namespace", &name]).success();
        if skip_webhook {
            kubectl()
                .args(["label", "namespace", &name, "helm-hooks.io/webhook=skip"])
                .success();
        }
        // The ServiceAccount admission plugin rejects Pods until the namespace's `default`
        // ServiceAccount exists (the controller-manager creates it shortly after).
        wait_until(
            Duration::from_secs(30),
            "the default ServiceAccount",
            || {
                kubectl()
                    .args(["-n", &name, "get", "serviceaccount", "default"])
                    .output()
                    .ok()
            },
        );
        TestNamespace { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `kubectl -n <namespace> …`
    pub fn kubectl(&self) -> Run {
        kubectl().args(["-n", &self.name])
    }

    /// `helm --namespace <namespace> …` (or `helm3`).
    pub fn helm(&self, version: Helm) -> Run {
        helm(version).args(["--namespace", &self.name])
    }

    /// The object as JSON (`kubectl get KIND NAME -o json`); panics when it does not exist.
    #[track_caller]
    pub fn get_json(&self, kind: &str, name: &str) -> Value {
        self.try_get_json(kind, name)
            .unwrap_or_else(|| panic!("{kind}/{name} not found in namespace {}", self.name))
    }

    /// The object as JSON, or `None` when it does not exist.
    #[track_caller]
    pub fn try_get_json(&self, kind: &str, name: &str) -> Option<Value> {
        let out = self
            .kubectl()
            .args(["get", kind, name, "-o", "json", "--ignore-not-found"])
            .success();
        if out.stdout.trim().is_empty() {
            None
        } else {
            Some(out.json())
        }
    }

    /// Names of the objects of a kind (optionally `-l SELECTOR`), sorted.
    #[track_caller]
    pub fn names(&self, kind: &str, selector: Option<&str>) -> Vec<String> {
        let mut run = self.kubectl().args(["get", kind, "-o", "name"]);
        if let Some(s) = selector {
            run = run.args(["-l", s]);
        }
        let mut names: Vec<String> = run
            .success()
            .stdout
            .lines()
            .map(|l| l.rsplit('/').next().unwrap_or(l).to_owned())
            .collect();
        names.sort();
        names
    }

    /// Helm's release record `sh.helm.release.v1.<release>.v<revision>` decoded to JSON, from a
    /// Secret (`configmap: false`) or a ConfigMap (`HELM_DRIVER=configmap`).
    #[track_caller]
    pub fn release_record(&self, release: &str, revision: u32, configmap: bool) -> Value {
        let kind = if configmap { "configmap" } else { "secret" };
        let name = format!("sh.helm.release.v1.{release}.v{revision}");
        decode_release(&self.get_json(kind, &name))
    }

    fn dump(&self) -> String {
        let mut s = format!("===== namespace {} at test failure =====\n", self.name);
        for args in [
            &[
                "get",
                "all,configmaps,secrets,serviceaccounts",
                "-o",
                "wide",
            ][..],
            &["get", "events", "--sort-by=.lastTimestamp"][..],
        ] {
            let out = self.kubectl().args(args).output();
            let _ = writeln!(s, "$ {}\n{}{}", out.command, out.stdout, out.stderr);
        }
        s
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.dump());
            if std::env::var("HELM_HOOKS_E2E_KEEP").as_deref() == Ok("1") {
                eprintln!("keeping namespace {} (HELM_HOOKS_E2E_KEEP=1)", self.name);
                return;
            }
        }
        // Not waiting: the namespace controller finishes the deletion in the background.
        let out = kubectl()
            .args(["delete", "namespace", &self.name, "--wait=false"])
            .output();
        if !out.ok() && !std::thread::panicking() {
            eprintln!("warning: deleting namespace {} failed:\n{out}", self.name);
        }
    }
}

/// Decodes a Helm release record (a Secret or ConfigMap object as `kubectl get -o json` prints
/// it): base64 (Secret `data` only), then base64, then gzip when the magic bytes say so, then JSON.
#[track_caller]
pub fn decode_release(object: &Value) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let release = object
        .pointer("/data/release")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no data.release in {object}"));
    let mut payload = release.as_bytes().to_vec();
    if object.get("kind").and_then(Value::as_str) == Some("Secret") {
        payload = b64.decode(&payload).expect("Secret data is base64");
    }
    let mut bytes = b64.decode(&payload).expect("release payload is base64");
    if bytes.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut json)
            .expect("release payload is gzip");
        bytes = json;
    }
    serde_json::from_slice(&bytes).expect("release payload is JSON")
}

/// The status (`"True"`, `"False"`, …) of condition `type_` in `object.status.conditions`.
pub fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a str> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))?
        .get("status")?
        .as_str()
}

/// The hook named `name` in a release's JSON (`helm status -o json` or a decoded record).
#[track_caller]
pub fn hook<'a>(release: &'a Value, name: &str) -> &'a Value {
    release
        .get("hooks")
        .and_then(Value::as_array)
        .and_then(|hooks| {
            hooks
                .iter()
                .find(|h| h.get("name").and_then(Value::as_str) == Some(name))
        })
        .unwrap_or_else(|| {
            let names: Vec<_> = release
                .get("hooks")
                .and_then(Value::as_array)
                .map(|hs| hs.iter().filter_map(|h| h.get("name")?.as_str()).collect())
                .unwrap_or_default();
            panic!("no hook {name} in the release; hooks: {names:?}")
        })
}

/// A hook's `last_run.phase` (`""` when it never ran).
#[track_caller]
pub fn last_run_phase<'a>(release: &'a Value, hook_name: &str) -> &'a str {
    hook(release, hook_name)
        .pointer("/last_run/phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Polls `check` every 200 ms until it returns true; panics after `timeout`.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        if check() {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_a_shell() {
        assert_eq!(shell_quote(OsStr::new("get")), "get");
        assert_eq!(shell_quote(OsStr::new("a b")), "'a b'");
        assert_eq!(shell_quote(OsStr::new("it's")), r"'it'\''s'");
        assert_eq!(shell_quote(OsStr::new("")), "''");
    }

    #[test]
    fn decodes_a_secret_record() {
        use std::io::Write as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(br#"{"name":"demo","version":1}"#).unwrap();
        let inner = b64.encode(gz.finish().unwrap());
        let secret = serde_json::json!({"kind": "Secret", "data": {"release": b64.encode(inner)}});
        assert_eq!(decode_release(&secret)["name"], "demo");
        let cm = serde_json::json!({"kind": "ConfigMap", "data": {"release": b64.encode(r#"{"name":"x"}"#)}});
        assert_eq!(decode_release(&cm)["name"], "x");
    }
}

/// A Helm data home of its own with Helm plugins of this repository installed
/// (`helm-plugin/NAME`), and the environment that makes helm use it and find `kubectl-hooks`.
/// Each test gets its own, so plugins never leak into other tests' helm.
#[derive(Debug)]
pub struct HelmPlugins {
    data_home: PathBuf,
    path: std::ffi::OsString,
}

impl HelmPlugins {
    /// Installs `plugins` with `helm plugin install` of `version`.
    pub fn install(version: Helm, plugins: &[&str]) -> HelmPlugins {
        let data_home = std::env::temp_dir().join(format!(
            "helm-hooks-e2e-plugins-{}-{}",
            std::process::id(),
            unique_suffix()
        ));
        std::fs::create_dir_all(&data_home).unwrap();
        let plugin_binary = workspace_binary("kubectl-hooks", "KUBECTL_HOOKS_BIN");
        let mut dirs = vec![plugin_binary.parent().unwrap().to_path_buf()];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        let plugins_env = HelmPlugins {
            data_home,
            path: std::env::join_paths(dirs).unwrap(),
        };
        for plugin in plugins {
            plugins_env
                .apply(helm(version))
                .args(["plugin", "install"])
                .arg(repo_root().join("helm-plugin").join(plugin))
                .success();
        }
        plugins_env
    }

    /// `run` with this data home and `kubectl-hooks` on `PATH`.
    pub fn apply(&self, run: Run) -> Run {
        run.env("HELM_DATA_HOME", &self.data_home)
            .env("PATH", &self.path)
    }
}

impl Drop for HelmPlugins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_home);
    }
}

fn unique_suffix() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
