//! HTTP-level tests over real TLS: the webhook binary on a loopback port with a certificate made
//! in the test, both admission endpoints, health, metrics, body limit, malformed input, policy
//! and certificate reload while requests are in flight, graceful shutdown.

mod support;

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{Client, Webhook, case, metric};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn uid(review: &Value) -> &str {
    review["request"]["uid"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_health_and_metrics() {
    let mut webhook = Webhook::start(None, &[]);
    let client = webhook.client();
    println!("start-up to listening: {:?}", webhook.startup);

    let health = client.get("/healthz").await;
    assert_eq!((health.status, health.text().trim()), (200, "ok"));
    assert_eq!(client.get("/readyz").await.status, 200);

    // A hook Job with a secret in env: the patch comes back, the secret never reaches a log.
    let mut review = case("default-raw-job");
    review["request"]["object"]["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "DB_PASSWORD", "value": "s3cr3t-hunter2"}]);
    let response = client.post("/mutate", &review).await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(body["kind"], "AdmissionReview");
    assert_eq!(body["response"]["uid"], uid(&review));
    assert_eq!(body["response"]["allowed"], true);
    assert_eq!(body["response"]["patchType"], "JSONPatch");
    assert!(body["response"]["patch"].is_string(), "base64 patch");

    let validate = client
        .post("/validate", &case("rule-privileged"))
        .await
        .json();
    assert_eq!(validate["response"]["allowed"], false);
    assert_eq!(validate["response"]["status"]["code"], 403);
    let message = validate["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("privileged: Job/db-migrate: spec.template.spec.containers[0].securityContext.privileged"), "{message}");

    let warned = client
        .post("/validate", &case("rule-image-tag"))
        .await
        .json();
    assert_eq!(warned["response"]["allowed"], true);
    assert!(
        warned["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("image-tag: ")
    );
    let audited = client
        .post("/validate", &case("rule-resources"))
        .await
        .json();
    assert_eq!(audited["response"]["allowed"], true);
    assert!(audited["response"].get("warnings").is_none());

    let not_hook = client.post("/mutate", &case("non-hook")).await.json();
    assert_eq!(not_hook["response"]["allowed"], true);
    assert!(not_hook["response"].get("patch").is_none());

    let metrics = client.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    let requests = "helm_hooks_webhook_requests_total";
    assert_eq!(
        metric(
            &text,
            requests,
            &[
                ("endpoint", "mutate"),
                ("operation", "CREATE"),
                ("kind", "Job"),
                ("decision", "patched")
            ]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            requests,
            &[("endpoint", "validate"), ("decision", "denied")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            requests,
            &[("endpoint", "mutate"), ("decision", "allowed")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "helm_hooks_webhook_violations_total",
            &[("rule", "privileged"), ("mode", "enforce")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "helm_hooks_webhook_violations_total",
            &[("rule", "resources"), ("mode", "audit")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "helm_hooks_webhook_defaults_applied_total",
            &[("default", "delete-policy")]
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "helm_hooks_webhook_request_duration_seconds_count",
            &[("endpoint", "validate")]
        ),
        3.0
    );
    let expiry = metric(&text, "helm_hooks_webhook_certificate_expiry_seconds", &[]);
    assert!(
        (29.0 * 86400.0..30.0 * 86400.0 + 60.0).contains(&expiry),
        "{expiry}"
    );

    // Audit-mode findings are not logged per object: one summary line per interval counts
    // them per rule (at shutdown too). No log line holds object contents.
    assert!(
        webhook
            .logs_with("admission review")
            .iter()
            .all(|l| !l["findings"].as_str().unwrap_or("").contains("(audit)")),
        "an audit finding in a review line"
    );
    webhook.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = webhook.all_logs();
    assert!(
        !logs.contains("s3cr3t-hunter2"),
        "a secret reached the logs"
    );
    assert!(
        !logs.contains("registry.example"),
        "an image reached the logs"
    );
    let summary = webhook
        .logs_with(
            "audit-mode findings (not enforced; per rule in helm_hooks_webhook_violations_total)",
        )
        .into_iter()
        .next()
        .expect("audit findings summarised");
    assert!(
        summary["rules"].as_str().unwrap().contains("resources="),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_and_malformed_input() {
    let webhook = Webhook::start(None, &[]);
    let client = webhook.client();

    // Just under 3 MiB: a valid review padded with a big annotation is answered.
    let mut big = case("default-raw-job");
    big["request"]["object"]["metadata"]["annotations"]["padding"] =
        json!("x".repeat(3 * 1024 * 1024 - 4096));
    let body = serde_json::to_vec(&big).unwrap();
    assert!(body.len() < 3 * 1024 * 1024);
    let response = client.request("POST", "/mutate", body).await;
    assert_eq!(response.status, 200, "{}", response.text());
    // Above 3 MiB: 413.
    big["request"]["object"]["metadata"]["annotations"]["padding"] =
        json!("x".repeat(3 * 1024 * 1024));
    let response = client
        .request("POST", "/validate", serde_json::to_vec(&big).unwrap())
        .await;
    assert_eq!(response.status, 413, "{}", response.text());

    let valid = serde_json::to_vec(&case("default-raw-job")).unwrap();
    let truncated = valid[..valid.len() / 2].to_vec();
    let mut v1beta1 = case("default-raw-job");
    v1beta1["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let mut wrong_kind = case("default-raw-job");
    wrong_kind["kind"] = json!("Job");
    let mut no_request = case("default-raw-job");
    no_request.as_object_mut().unwrap().remove("request");
    let mut no_uid = case("default-raw-job");
    no_uid["request"].as_object_mut().unwrap().remove("uid");
    for (what, body, reason) in [
        ("garbage", b"hello".to_vec(), "malformed AdmissionReview"),
        ("empty", Vec::new(), "malformed AdmissionReview"),
        ("truncated", truncated, "malformed AdmissionReview"),
        (
            "v1beta1",
            serde_json::to_vec(&v1beta1).unwrap(),
            "unsupported apiVersion",
        ),
        (
            "wrong kind",
            serde_json::to_vec(&wrong_kind).unwrap(),
            "unsupported kind",
        ),
        (
            "no request",
            serde_json::to_vec(&no_request).unwrap(),
            "has no request",
        ),
        ("no uid", serde_json::to_vec(&no_uid).unwrap(), "has no uid"),
        (
            "request is a string",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"x"}"#
                .to_vec(),
            "malformed AdmissionReview",
        ),
    ] {
        for endpoint in ["/mutate", "/validate"] {
            let response = client.request("POST", endpoint, body.clone()).await;
            assert_eq!(response.status, 400, "{what} on {endpoint}");
            assert!(
                response.text().contains(reason),
                "{what}: {}",
                response.text()
            );
        }
    }
    // A review whose CREATE has no object: an AdmissionReview answer with code 400.
    let missing = client.post("/validate", &case("missing-object")).await;
    assert_eq!(missing.status, 200);
    let missing = missing.json();
    assert_eq!(missing["response"]["allowed"], false);
    assert_eq!(missing["response"]["status"]["code"], 400);
    // DELETE, subresources, UPDATE: allowed untouched.
    for name in ["delete", "subresource-status", "update"] {
        for endpoint in ["/mutate", "/validate"] {
            let r = client.post(endpoint, &case(name)).await.json();
            assert_eq!(r["response"]["allowed"], true, "{name} {endpoint}");
            assert!(r["response"].get("patch").is_none(), "{name} {endpoint}");
        }
    }
    assert_eq!(client.get("/mutate").await.status, 405);
    assert_eq!(client.get("/nope").await.status, 404);
    // Still alive and well.
    assert_eq!(client.get("/healthz").await.status, 200);
    let text = client.get("/metrics").await.text();
    assert!(
        metric(
            &text,
            "helm_hooks_webhook_requests_total",
            &[("decision", "invalid")]
        ) >= 17.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_and_1_3_are_served() {
    let webhook = Webhook::start(None, &[]);
    for versions in [
        &[&rustls::version::TLS12][..],
        &[&rustls::version::TLS13][..],
    ] {
        let client = Client::with_versions(webhook.addr, &webhook.ca.cert_pem, versions);
        assert_eq!(client.get("/healthz").await.status, 200);
    }
    // A client that does not trust the CA is refused by its own verifier.
    let stranger = support::Ca::new("another CA");
    let client = Client::new(webhook.addr, &stranger.cert_pem);
    assert!(client.connect().await.is_err());
}

/// Request count, failures and the worker tasks of [`load`].
type Load = (
    Arc<AtomicU64>,
    Arc<std::sync::Mutex<Vec<String>>>,
    Vec<tokio::task::JoinHandle<()>>,
);

/// Sends reviews continuously from `workers` tasks until `stop`, each on a keep-alive
/// connection that it replaces every 20 requests (so new handshakes happen during the test).
/// Returns (requests, failures).
fn load(client: Client, workers: usize, stop: Arc<AtomicBool>) -> Load {
    let count = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let review = serde_json::to_vec(&case("rule-privileged")).unwrap();
    let handles = (0..workers)
        .map(|_| {
            let (client, stop, count, failures, review) = (
                client.clone(),
                stop.clone(),
                count.clone(),
                failures.clone(),
                review.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let mut conn = match client.connect().await {
                        Ok(conn) => conn,
                        Err(e) => {
                            failures.lock().unwrap().push(format!("connect: {e}"));
                            continue;
                        }
                    };
                    for _ in 0..20 {
                        match conn.request("POST", "/validate", review.clone()).await {
                            Ok(r) if r.status == 200 => {
                                let body = r.json();
                                if body["response"]["uid"] != "00000000-0000-4000-8000-000000000023"
                                {
                                    failures.lock().unwrap().push(format!("bad body {body}"));
                                }
                            }
                            Ok(r) => failures.lock().unwrap().push(format!(
                                "status {}: {}",
                                r.status,
                                r.text()
                            )),
                            Err(e) => failures.lock().unwrap().push(format!("request: {e}")),
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    (count, failures, handles)
}

async fn wait_for(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_reload_under_load_keeps_the_old_policy_when_the_new_one_is_broken() {
    let builtin = helm_hooks::policy::Policy::builtin().to_yaml();
    let webhook = Webhook::start(Some(&builtin), &[]);
    let client = webhook.client();
    let stop = Arc::new(AtomicBool::new(false));
    let (count, failures, handles) = load(client.clone(), 4, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A broken policy: refused with a clear log line; privileged hooks still denied.
    support::write_atomic(
        &webhook.path("policy.yaml"),
        "rules:\n  privileged: sometimes\n",
    );
    wait_for("the refusal", Duration::from_secs(10), async || {
        !webhook
            .logs_with("policy reload refused; the previous policy stays in force")
            .is_empty()
    })
    .await;
    let refusal =
        &webhook.logs_with("policy reload refused; the previous policy stays in force")[0];
    assert!(
        refusal["error"].as_str().unwrap().contains("sometimes"),
        "{refusal}"
    );
    let r = client
        .post("/validate", &case("rule-privileged"))
        .await
        .json();
    assert_eq!(r["response"]["allowed"], false);

    // A valid policy that only warns on privileged: picked up.
    support::write_atomic(
        &webhook.path("policy.yaml"),
        &builtin.replace("privileged: enforce", "privileged: warn"),
    );
    wait_for("the new policy", Duration::from_secs(10), async || {
        client
            .post("/validate", &case("rule-privileged"))
            .await
            .json()["response"]["allowed"]
            == true
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(count.load(Ordering::Relaxed) > 100);
    let text = client.get("/metrics").await.text();
    let reloads = "helm_hooks_webhook_policy_reloads_total";
    assert_eq!(metric(&text, reloads, &[("result", "failure")]), 1.0);
    assert_eq!(metric(&text, reloads, &[("result", "success")]), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rotation_by_symlink_swap_under_load() {
    let webhook = Webhook::start(None, &[]);
    let client = webhook.client();
    let first = client.connect().await.unwrap();
    assert_eq!(
        first.peer_cert,
        support::der_of(&std::fs::read_to_string(webhook.path("tls.crt")).unwrap())
    );
    let mut old_conn = client.connect().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (count, failures, handles) = load(client.clone(), 4, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A key that does not match the certificate: refused, the old pair stays.
    let a = webhook.ca.leaf(10);
    let b = webhook.ca.leaf(10);
    support::install_cert_version(
        webhook.dir.path(),
        "v2",
        &support::Leaf {
            cert_pem: a.cert_pem.clone(),
            key_pem: b.key_pem.clone(),
        },
    );
    wait_for("the refusal", Duration::from_secs(10), async || {
        !webhook
            .logs_with("certificate reload refused; the previous certificate stays in use")
            .is_empty()
    })
    .await;
    assert_eq!(client.connect().await.unwrap().peer_cert, first.peer_cert);

    // A good new pair, swapped in like cert-manager + kubelet do.
    let next = webhook.ca.leaf(10);
    support::install_cert_version(webhook.dir.path(), "v3", &next);
    let new_der = support::der_of(&next.cert_pem);
    wait_for("the new certificate", Duration::from_secs(10), async || {
        client.connect().await.unwrap().peer_cert == new_der
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.unwrap();
    }
    // The connection opened before the rotation still works.
    let r = old_conn
        .request("GET", "/healthz", Vec::new())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(count.load(Ordering::Relaxed) > 100);
    let text = client.get("/metrics").await.text();
    let reloads = "helm_hooks_webhook_certificate_reloads_total";
    assert_eq!(metric(&text, reloads, &[("result", "failure")]), 1.0);
    assert_eq!(metric(&text, reloads, &[("result", "success")]), 1.0);
    let expiry = metric(&text, "helm_hooks_webhook_certificate_expiry_seconds", &[]);
    assert!(
        (9.0 * 86400.0..10.0 * 86400.0 + 60.0).contains(&expiry),
        "{expiry}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_request_in_flight() {
    let mut webhook = Webhook::start(None, &[]);
    let client = webhook.client();
    let body = serde_json::to_vec(&case("default-raw-job")).unwrap();
    let mut tls = client.tls().await.unwrap();
    let head = format!(
        "POST /mutate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    tls.write_all(first).await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // SIGTERM while the request is half sent.
    let pid = webhook.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while webhook.logs_with("shutdown requested").is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // No new connections once draining.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(client.connect().await.is_err(), "listener still open");

    tls.write_all(rest).await.unwrap();
    tls.flush().await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("\"patchType\":\"JSONPatch\""),
        "{response}"
    );
    let status = webhook.wait(Duration::from_secs(10));
    assert!(status.success(), "{status:?}\n{}", webhook.all_logs());
    assert_eq!(webhook.logs_with("stopped")[0]["drained"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_delay_keeps_serving_while_not_ready() {
    let mut webhook = Webhook::start(None, &["--shutdown-delay", "1.5"]);
    let client = webhook.client();
    assert_eq!(client.get("/readyz").await.status, 200);
    let pid = webhook.child.id().to_string();
    let signalled = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_for("not ready", Duration::from_secs(5), async || {
        client.get("/readyz").await.status == 503
    })
    .await;
    // Still answering reviews on new connections while endpoints are being updated.
    let r = client.post("/validate", &case("rule-privileged")).await;
    assert_eq!(r.status, 200);
    assert!(signalled.elapsed() < Duration::from_millis(1500));
    let status = webhook.wait(Duration::from_secs(10));
    assert!(status.success());
    assert!(signalled.elapsed() >= Duration::from_millis(1500));
}

#[test]
fn default_policy_prints_the_builtin_policy() {
    let out = std::process::Command::new(support::binary())
        .arg("default-policy")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        helm_hooks::policy::Policy::from_yaml(&text).unwrap(),
        helm_hooks::policy::Policy::builtin()
    );
}

#[test]
fn bad_usage_and_bad_files_exit_non_zero_with_a_reason() {
    let run = |args: &[&str]| {
        std::process::Command::new(support::binary())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "serve",
        "--listen",
        "nowhere",
        "--tls-cert",
        "a",
        "--tls-key",
        "b",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
    let out = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "/nonexistent/tls.crt",
        "--tls-key",
        "/nonexistent/tls.key",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/tls.crt"));
    let dir = tempfile::tempdir().unwrap();
    let ca = support::Ca::new("ca");
    let leaf = ca.leaf(1);
    std::fs::write(dir.path().join("c"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.path().join("k"), &leaf.key_pem).unwrap();
    std::fs::write(dir.path().join("p"), "rules: {privileged: enforced}\n").unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let out = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &p("c"),
        "--tls-key",
        &p("k"),
        "--policy",
        &p("p"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid policy"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_labels_are_bounded_for_unknown_kinds() {
    let webhook = Webhook::start(None, &[]);
    let client = webhook.client();
    let before = client.get("/metrics").await.text().len();
    // Reviews with made-up kinds and operations, each unique and 10 KB long.
    for i in 0..20 {
        let mut review = case("default-raw-job");
        review["request"]["kind"]["kind"] = json!(format!("Kind{i}{}", "k".repeat(10_000)));
        review["request"]["operation"] = json!(format!("OP{i}{}", "o".repeat(10_000)));
        for endpoint in ["/mutate", "/validate"] {
            assert_eq!(client.post(endpoint, &review).await.status, 200);
        }
    }
    let text = client.get("/metrics").await.text();
    assert!(!text.contains("Kind0"), "a request's kind became a label");
    assert!(
        !text.contains("OP0"),
        "a request's operation became a label"
    );
    assert!(
        text.len() < before + 8 * 1024,
        "/metrics grew from {before} to {} bytes",
        text.len()
    );
    let requests = "helm_hooks_webhook_requests_total";
    assert_eq!(
        metric(
            &text,
            requests,
            &[("operation", "other"), ("kind", "other")]
        ),
        40.0
    );
    // Known kinds and operations keep their own label.
    let mut pod = case("default-raw-pod");
    pod["request"]["operation"] = json!("CREATE");
    assert_eq!(client.post("/validate", &pod).await.status, 200);
    let text = client.get("/metrics").await.text();
    assert_eq!(
        metric(
            &text,
            requests,
            &[
                ("endpoint", "validate"),
                ("operation", "CREATE"),
                ("kind", "Pod")
            ]
        ),
        1.0
    );
}

/// Runs `serve` on `leaf` until it exits or logs `listening` (then kills it): the exit code and
/// stderr.
fn serve_once(leaf: &support::Leaf) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tls.crt"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), &leaf.key_pem).unwrap();
    let mut child = std::process::Command::new(support::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(dir.path().join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.path().join("tls.key"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_or_not_yet_valid_certificates_are_refused_at_start_and_on_reload() {
    let now = time::OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let ca = support::Ca::new("ca");
    let expired = ca.leaf_between(now - 10 * day, now - day);
    let not_yet = ca.leaf_between(now + day, now + 10 * day);
    for (what, leaf) in [("expired", &expired), ("not valid yet", &not_yet)] {
        let (code, stderr) = serve_once(leaf);
        assert_eq!(code, Some(1), "{what}: started anyway:\n{stderr}");
        assert!(stderr.contains("tls.crt"), "{what}: {stderr}");
        assert!(stderr.contains(what), "{what}: {stderr}");
        assert!(stderr.contains("valid from"), "{what}: {stderr}");
    }

    let webhook = Webhook::start(None, &[]);
    let client = webhook.client();
    let first = client.connect().await.unwrap().peer_cert;
    let refusals = "certificate reload refused; the previous certificate stays in use";
    for (version, leaf, count) in [("v2", &expired, 1), ("v3", &not_yet, 2)] {
        support::install_cert_version(webhook.dir.path(), version, leaf);
        wait_for("the refusal", Duration::from_secs(10), async || {
            webhook.logs_with(refusals).len() >= count
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let logged = webhook.logs_with(refusals);
    assert_eq!(logged.len(), 2, "one line per refusal: {logged:?}");
    assert!(logged[0]["error"].as_str().unwrap().contains("expired"));
    assert!(
        logged[1]["error"]
            .as_str()
            .unwrap()
            .contains("not valid yet")
    );
    assert_eq!(client.connect().await.unwrap().peer_cert, first);
    let text = client.get("/metrics").await.text();
    let reloads = "helm_hooks_webhook_certificate_reloads_total";
    assert_eq!(metric(&text, reloads, &[("result", "failure")]), 2.0);
    assert_eq!(metric(&text, reloads, &[("result", "success")]), 0.0);
    let expiry = metric(&text, "helm_hooks_webhook_certificate_expiry_seconds", &[]);
    assert!(expiry > 29.0 * 86400.0, "{expiry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_expiring_within_7_days_is_warned_once() {
    let webhook = Webhook::launch(support::Launch {
        cert_days: 3,
        ..support::Launch::default()
    });
    let warning = "serving certificate expires soon";
    wait_for("the warning", Duration::from_secs(5), async || {
        !webhook.logs_with(warning).is_empty()
    })
    .await;
    // Several reload polls later, still one line.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let logged = webhook.logs_with(warning);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0]["not_after"].is_string(), "{}", logged[0]);
    // A renewed certificate is not warned about.
    support::install_cert_version(webhook.dir.path(), "v2", &webhook.ca.leaf(30));
    wait_for("the reload", Duration::from_secs(10), async || {
        !webhook.logs_with("serving certificate reloaded").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(webhook.logs_with(warning).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_log_escapes_control_characters() {
    let webhook = Webhook::launch(support::Launch {
        text_logs: true,
        ..support::Launch::default()
    });
    let client = webhook.client();
    let forged = "2026-01-01T00:00:00.000000Z  INFO forged";
    let evil = format!("evil\n{forged} name=x\x1b[2J\r\u{7f}");
    let mut review = case("rule-privileged");
    review["request"]["name"] = json!(evil);
    review["request"]["namespace"] = json!(evil);
    assert_eq!(client.post("/validate", &review).await.status, 200);
    // The same in a value that is echoed in a refusal.
    let mut bad = case("default-raw-job");
    bad["apiVersion"] = json!(evil);
    assert_eq!(client.post("/mutate", &bad).await.status, 400);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs: Vec<String> = webhook
        .logs
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap_or_default().to_string())
        .collect();
    let violation = logs
        .iter()
        .find(|l| l.contains("admission review") && l.contains("denied"))
        .expect("the denial logged");
    assert!(violation.contains(r"evil\n2026"), "{violation}");
    assert!(
        logs.iter()
            .any(|l| l.contains("rejected request") && l.contains(r"evil\n"))
    );
    for line in &logs {
        assert!(!line.starts_with(forged), "a forged line: {line}");
        assert!(
            !line.chars().any(|c| c.is_control()),
            "a control character in {line:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_on_http1_and_http2_with_connection_close_on_http1() {
    let webhook = Webhook::start(None, &[]);
    let client = webhook.client();
    let mut big = case("default-raw-job");
    big["request"]["object"]["metadata"]["annotations"]["padding"] =
        json!("x".repeat(3 * 1024 * 1024 + 100));
    let body = serde_json::to_vec(&big).unwrap();

    // HTTP/1.1: 413 and `Connection: close` (the rest of the body is not read).
    let mut tls = client.tls().await.unwrap();
    let head = format!(
        "POST /validate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let _ = tls.write_all(&body).await;
    let _ = tls.flush().await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).to_ascii_lowercase();
    assert!(response.starts_with("http/1.1 413"), "{response}");
    assert!(response.contains("\r\nconnection: close\r\n"), "{response}");

    // HTTP/2, as the apiserver speaks it: 413, not a stream reset.
    for endpoint in ["/validate", "/mutate"] {
        let response = client
            .h2_request("POST", endpoint, body.clone())
            .await
            .unwrap_or_else(|e| panic!("{endpoint} over HTTP/2: {e}"));
        assert_eq!(response.status, 413, "{}", response.text());
    }
    // Frame by frame: the 413 arrives while the body is still being sent, and the stream is not
    // reset under the client (curl, for one, reports such a reset as an error, even NO_ERROR).
    let (h2, conn) = h2::client::handshake(client.h2_tls().await.unwrap())
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut h2 = h2.ready().await.unwrap();
    let total = 40 * 1024 * 1024;
    let request = hyper::Request::post(format!("https://{}/validate", webhook.addr))
        .header("content-length", total)
        .body(())
        .unwrap();
    let (response, mut stream) = h2.send_request(request, false).unwrap();
    let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = total / chunk.len();
    for _ in 0..chunks / 2 {
        stream.send_data(chunk.clone(), false).unwrap();
    }
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 413);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in chunks / 2..chunks {
        stream
            .send_data(chunk.clone(), i + 1 == chunks)
            .unwrap_or_else(|e| panic!("the stream was reset under the client: {e}"));
    }

    // A body of the same size without the padding beyond 3 MiB is still answered over HTTP/2.
    let fine = client
        .h2_request(
            "POST",
            "/mutate",
            serde_json::to_vec(&case("default-raw-job")).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(fine.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_values_are_bounded_in_responses_and_logs() {
    let webhook = Webhook::start(None, &[]);
    let client = webhook.client();
    let huge = "v".repeat(2 * 1024 * 1024);
    let mut bad_version = case("default-raw-job");
    bad_version["apiVersion"] = json!(huge);
    let bad_request =
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": huge});
    for (what, review) in [("apiVersion", &bad_version), ("request", &bad_request)] {
        let response = client.post("/validate", review).await;
        assert_eq!(response.status, 400, "{what}");
        let text = response.text();
        assert!(text.len() < 2048, "{what}: a {} byte 400 body", text.len());
        assert!(text.contains("vvvv…("), "{what}: {text}");
        assert!(text.contains(" bytes)"), "{what}: {text}");
    }
    // Kind, namespace and name of a review are logged, and the name is in the denial.
    let mut review = case("rule-privileged");
    review["request"]["kind"]["kind"] = json!("K".repeat(500_000));
    review["request"]["namespace"] = json!("n".repeat(500_000));
    review["request"]["object"]["metadata"]["name"] = json!("a".repeat(500_000));
    review["request"].as_object_mut().unwrap().remove("name");
    let response = client.post("/validate", &review).await.json();
    assert_eq!(response["response"]["allowed"], false);
    let message = response["response"]["status"]["message"].as_str().unwrap();
    assert!(message.len() < 4096, "a {} byte denial", message.len());
    assert!(message.contains("aaaa…(500004 bytes)"), "{message}"); // Job/aaa…
    tokio::time::sleep(Duration::from_millis(300)).await;
    for line in webhook.logs.lock().unwrap().iter() {
        let line = line.to_string();
        assert!(
            line.len() < 4096,
            "a {} byte log line: {}…",
            line.len(),
            &line[..200]
        );
    }
}

/// Waits up to `within` for the server to close `stream`: what it sent before closing, or an
/// error when it is still open.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    within: Duration,
) -> Result<String, String> {
    let mut out = Vec::new();
    // EOF and a reset both mean closed.
    let result = tokio::time::timeout(within, stream.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out).into_owned();
    match result {
        Ok(_) => Ok(out),
        Err(_) => Err(format!("still open after {within:?} (received {out:?})")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_are_closed_by_timeouts() {
    let webhook = Webhook::start(
        None,
        &[
            "--handshake-timeout",
            "1",
            "--header-timeout",
            "1",
            "--body-timeout",
            "1",
            "--idle-timeout",
            "1",
        ],
    );
    let client = webhook.client();
    let addr = webhook.addr;
    let within = Duration::from_secs(6);
    let head = |extra: &str| {
        format!(
            "POST /validate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n{extra}\r\n"
        )
    };
    let expect_408 = |what: &str, response: Result<String, String>| {
        let response = response.map_err(|e| format!("{what}: {e}"))?;
        let lower = response.to_ascii_lowercase();
        if lower.starts_with("http/1.1 408") && lower.contains("\r\nconnection: close\r\n") {
            Ok(())
        } else {
            Err(format!(
                "{what}: not a 408 with connection: close: {response:?}"
            ))
        }
    };
    let mut cases: Vec<(&str, tokio::task::JoinHandle<Result<(), String>>)> = Vec::new();
    cases.push((
        "TCP, then silence",
        tokio::spawn(async move {
            let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            closed_within(&mut tcp, within).await.map(drop)
        }),
    ));
    let c = client.clone();
    cases.push((
        "TLS (HTTP/1.1), then silence",
        tokio::spawn(async move {
            let mut tls = c.tls().await.unwrap();
            closed_within(&mut tls, within).await.map(drop)
        }),
    ));
    let c = client.clone();
    cases.push((
        "TLS (h2), then silence",
        tokio::spawn(async move {
            let mut tls = c.h2_tls().await.unwrap();
            closed_within(&mut tls, within).await.map(drop)
        }),
    ));
    let c = client.clone();
    cases.push((
        "a Content-Length larger than sent",
        tokio::spawn(async move {
            let mut tls = c.tls().await.unwrap();
            tls.write_all(format!("{}0123456789", head("content-length: 1000\r\n")).as_bytes())
                .await
                .unwrap();
            expect_408("content-length", closed_within(&mut tls, within).await)
        }),
    ));
    let c = client.clone();
    cases.push((
        "a chunked body that never ends",
        tokio::spawn(async move {
            let mut tls = c.tls().await.unwrap();
            tls.write_all(
                format!("{}5\r\nhello\r\n", head("transfer-encoding: chunked\r\n")).as_bytes(),
            )
            .await
            .unwrap();
            expect_408("chunked", closed_within(&mut tls, within).await)
        }),
    ));
    let c = client.clone();
    cases.push((
        "a body at 1 byte per 200 ms",
        tokio::spawn(async move {
            let tls = c.tls().await.unwrap();
            let (mut read, mut write) = tokio::io::split(tls);
            write
                .write_all(head("content-length: 1000\r\n").as_bytes())
                .await
                .unwrap();
            let trickle = tokio::spawn(async move {
                for _ in 0..1000 {
                    if write.write_all(b" ").await.is_err() || write.flush().await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
            let result = closed_within(&mut read, within).await;
            trickle.abort();
            expect_408("trickle", result)
        }),
    ));
    let c = client.clone();
    cases.push((
        "an idle HTTP/1.1 keep-alive connection",
        tokio::spawn(async move {
            let mut tls = c.tls().await.unwrap();
            tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
                .await
                .unwrap();
            let response = closed_within(&mut tls, within).await?;
            response
                .starts_with("HTTP/1.1 200")
                .then_some(())
                .ok_or(format!("keep-alive: {response:?}"))
        }),
    ));
    let c = client.clone();
    cases.push((
        "an idle h2 connection",
        tokio::spawn(async move {
            let (h2, conn) = h2::client::handshake(c.h2_tls().await.unwrap())
                .await
                .unwrap();
            let conn = tokio::spawn(conn);
            let mut h2 = h2.ready().await.unwrap();
            let request = hyper::Request::get(format!("https://{addr}/healthz"))
                .body(())
                .unwrap();
            let (response, _) = h2.send_request(request, true).unwrap();
            assert_eq!(response.await.unwrap().status(), 200);
            tokio::time::timeout(within, conn)
                .await
                .map(drop)
                .map_err(|_| format!("still open after {within:?}"))
        }),
    ));
    let c = client.clone();
    cases.push((
        "an h2 body that never ends",
        tokio::spawn(async move {
            let (h2, conn) = h2::client::handshake(c.h2_tls().await.unwrap())
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut h2 = h2.ready().await.unwrap();
            let request = hyper::Request::post(format!("https://{addr}/validate"))
                .header("content-length", 1000)
                .body(())
                .unwrap();
            let (response, mut body) = h2.send_request(request, false).unwrap();
            body.send_data(bytes::Bytes::from_static(b"0123456789"), false)
                .unwrap();
            let response = tokio::time::timeout(within, response)
                .await
                .map_err(|_| format!("no answer after {within:?}"))?
                .map_err(|e| e.to_string())?;
            (response.status() == 408)
                .then_some(())
                .ok_or(format!("h2 body: status {}", response.status()))
        }),
    ));
    let mut failures = Vec::new();
    for (what, case) in cases {
        if let Err(e) = case.await.unwrap() {
            failures.push(format!("{what}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Still serving.
    assert_eq!(client.get("/readyz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_sheds_stalled_connections_and_keeps_readyz_answered() {
    let webhook = Webhook::start(None, &["--max-connections", "8"]);
    let client = webhook.client();
    // Two connections of the apiserver, established before the flood.
    let mut established = Vec::new();
    for _ in 0..2 {
        let mut conn = client.connect().await.unwrap();
        assert_eq!(
            conn.request("GET", "/healthz", Vec::new())
                .await
                .unwrap()
                .status,
            200
        );
        established.push(conn);
    }
    // A flood of connections that never even start TLS (the handshake timeout is 10 s).
    let mut flood = Vec::new();
    for _ in 0..20 {
        flood.push(tokio::net::TcpStream::connect(webhook.addr).await.unwrap());
    }
    let closed = Arc::new(AtomicU64::new(0));
    let waits: Vec<_> = flood
        .into_iter()
        .map(|mut tcp| {
            let closed = closed.clone();
            tokio::spawn(async move {
                if closed_within(&mut tcp, Duration::from_secs(3))
                    .await
                    .is_ok()
                {
                    closed.fetch_add(1, Ordering::Relaxed);
                }
                tcp
            })
        })
        .collect();
    // The kubelet's probe and a review still get through, on new connections.
    let readyz = tokio::time::timeout(Duration::from_secs(5), client.get("/readyz")).await;
    assert_eq!(readyz.expect("/readyz hangs").status, 200);
    let review = tokio::time::timeout(
        Duration::from_secs(5),
        client.post("/validate", &case("rule-privileged")),
    )
    .await;
    assert_eq!(review.expect("a review hangs").status, 200);
    let mut flood = Vec::new();
    for wait in waits {
        flood.push(wait.await.unwrap());
    }
    // 8 places, 2 of them established: at least 14 of the flood were displaced.
    assert!(
        closed.load(Ordering::Relaxed) >= 14,
        "only {} of 20 stalled connections were closed",
        closed.load(Ordering::Relaxed)
    );
    // Connections that sent a request are never displaced.
    for conn in &mut established {
        let r = conn.request("GET", "/healthz", Vec::new()).await;
        assert_eq!(r.expect("an established connection was closed").status, 200);
    }
    drop(flood);

    // All 8 places held by connections that sent a request: a new one is closed at once.
    let mut full = Vec::new();
    while full.len() < 6 {
        let mut conn = client.connect().await.unwrap();
        if let Ok(r) = conn.request("GET", "/healthz", Vec::new()).await {
            assert_eq!(r.status, 200);
            full.push(conn);
        }
    }
    let mut refused = tokio::net::TcpStream::connect(webhook.addr).await.unwrap();
    closed_within(&mut refused, Duration::from_secs(3))
        .await
        .expect("a connection beyond the cap was left hanging");
    drop(full);
    drop(established);
    let mut text = String::new();
    wait_for(
        "a place for /metrics",
        Duration::from_secs(5),
        async || match client.connect().await {
            Ok(mut conn) => match conn.request("GET", "/metrics", Vec::new()).await {
                Ok(r) => {
                    text = r.text();
                    true
                }
                Err(_) => false,
            },
            Err(_) => false,
        },
    )
    .await;
    let shed = "helm_hooks_webhook_connections_shed_total";
    assert!(
        metric(&text, shed, &[("action", "displaced")]) >= 14.0,
        "{text}"
    );
    assert!(
        metric(&text, shed, &[("action", "refused")]) >= 1.0,
        "{text}"
    );
    assert!(
        !webhook
            .logs_with("connection cap reached: refusing a new connection")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_errors_are_rate_limited_when_out_of_file_descriptors() {
    // 64 descriptors and the default cap of 512: accept fails for lack of descriptors.
    let webhook = Webhook::launch(support::Launch {
        open_files: Some(64),
        ..support::Launch::default()
    });
    // Said at start.
    let warning = webhook.logs_with(
        "--max-connections is above what the open-file limit allows: accepting will fail for \
         lack of descriptors before the cap is reached; raise the limit or lower the cap",
    );
    assert_eq!(warning.len(), 1, "{}", webhook.all_logs());
    assert_eq!(warning[0]["open_file_limit"], 64);
    let client = webhook.client();
    let mut flood = Vec::new();
    for _ in 0..100 {
        flood.push(tokio::net::TcpStream::connect(webhook.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let readyz = tokio::time::timeout(Duration::from_secs(5), client.get("/readyz")).await;
    assert_eq!(
        readyz
            .expect("/readyz hangs while out of descriptors")
            .status,
        200
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let failed = webhook.logs_with("accept failed");
    assert!(!failed.is_empty(), "never ran out of descriptors");
    assert!(
        failed.len() <= 2,
        "{} 'accept failed' lines: {:?}",
        failed.len(),
        &failed[..3]
    );
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("Too many open files"),
        "{}",
        failed[0]
    );
    drop(flood);
}

/// Issue 16: at INFO the webhook logged two or more lines per hook Job (the review, and one per
/// audit-mode finding of the default policy). Now: one line per review that changed something
/// (the mutate patch), none for an unchanged allow (validate with only audit findings), and the
/// audit findings in one summary line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_logs_one_line_per_hook_create() {
    const CREATES: usize = 200;
    let mut webhook = Webhook::launch(support::Launch {
        log_filter: "info",
        ..support::Launch::default()
    });
    let client = webhook.client();
    let before = webhook.logs.lock().unwrap().len();
    // A hook Job without resource limits: the default policy patches it and audits it.
    let review = case("rule-resources");
    for _ in 0..CREATES {
        assert_eq!(client.post("/mutate", &review).await.status, 200);
        assert_eq!(client.post("/validate", &review).await.status, 200);
    }
    webhook.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines: Vec<Value> = webhook.logs.lock().unwrap()[before..].to_vec();
    let reviews = lines
        .iter()
        .filter(|l| l["message"] == "admission review")
        .count();
    let summaries: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("audit-mode findings"))
        })
        .collect();
    // Every line but the shutdown's own (requested, draining, stopped).
    let shutdown = [
        "shutdown requested",
        "shutting down: draining requests in flight",
        "stopped",
    ];
    let emitted = lines
        .iter()
        .filter(|l| !shutdown.iter().any(|m| l["message"] == *m))
        .count();
    println!(
        "log lines per 10,000 hook creates at INFO: {} ({} review lines, {} summaries)",
        emitted * 10_000 / CREATES,
        reviews * 10_000 / CREATES,
        summaries.len()
    );
    assert_eq!(reviews, CREATES, "one line per create (the mutate patch)");
    let tail: Vec<&Value> = lines.iter().rev().take(3).collect();
    assert_eq!(summaries.len(), 1, "{tail:?}");
    assert_eq!(
        summaries[0]["rules"],
        format!("resources={CREATES}"),
        "{}",
        summaries[0]
    );
}
