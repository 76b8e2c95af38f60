use super::*;
use crate::hook::{DeletePolicy, HookEvent};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use std::io::Write;

const SECRET_VALUE: &str = "s3cr3t-fixture";

fn release_json() -> serde_json::Value {
    json!({
        "name": "shop",
        "namespace": "prod",
        "version": 3,
        "info": {
            "first_deployed": "2026-11-01T10:00:00Z",
            "last_deployed": "2026-11-20T10:00:00Z",
            "deleted": "",
            "description": "Upgrade complete",
            "status": "deployed"
        },
        "chart": {"metadata": {"name": "shop", "version": "1.2.3", "appVersion": "4.5"}, "templates": []},
        "config": {"dbPassword": SECRET_VALUE},
        "manifest": "---\nkind: ConfigMap\n",
        "hooks": [
            {"name": "notify", "kind": "Job", "path": "shop/templates/notify.yaml", "manifest": "kind: Job",
             "events": ["post-install", "post-upgrade"], "last_run": {"started_at": "", "completed_at": "", "phase": ""},
             "weight": 10, "delete_policies": ["hook-succeeded"]},
            {"name": "migrate", "kind": "Job", "path": "shop/templates/migrate.yaml", "manifest": "kind: Job",
             "events": ["pre-upgrade"], "last_run": {"started_at": "2026-11-20T10:00:01Z", "completed_at": "2026-11-20T10:00:09Z", "phase": "Succeeded"},
             "weight": -5},
            {"name": "backup", "kind": "Job", "path": "shop/templates/backup.yaml", "manifest": "kind: Job",
             "events": ["pre-upgrade"], "last_run": {"started_at": "2026-11-20T10:00:00Z", "completed_at": "0001-01-01T00:00:00Z", "phase": "Failed"},
             "weight": -5, "output_log_policies": ["hook-failed"]}
        ]
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn helm_payload(json: &serde_json::Value) -> String {
    STANDARD.encode(gzip(&serde_json::to_vec(json).unwrap()))
}

#[test]
fn decodes_a_gzipped_payload() {
    let release = decode_payload(helm_payload(&release_json()).as_bytes()).unwrap();
    assert_eq!(
        (
            release.name.as_str(),
            release.namespace.as_str(),
            release.version
        ),
        ("shop", "prod", 3)
    );
    assert_eq!(release.status(), Status::Deployed);
    assert_eq!(
        release.chart.as_ref().unwrap().metadata().unwrap().version,
        "1.2.3"
    );
    assert_eq!(release.hooks.len(), 3);
    let notify = &release.hooks[0];
    assert_eq!(
        notify.events(),
        vec![HookEvent::PostInstall, HookEvent::PostUpgrade]
    );
    assert_eq!(notify.last_run.phase, HookPhase::Unknown);
    assert_eq!(notify.last_run.started(), None);
    assert_eq!(
        notify.effective_delete_policies(),
        vec![DeletePolicy::HookSucceeded]
    );
    let migrate = &release.hooks[1];
    assert_eq!(migrate.weight, -5);
    assert_eq!(
        migrate.effective_delete_policies(),
        vec![DeletePolicy::BeforeHookCreation]
    );
    assert_eq!(migrate.last_run.completed(), Some("2026-11-20T10:00:09Z"));
    assert_eq!(
        release.hooks[2].last_run.completed(),
        None,
        "Go's zero time means never"
    );
}

#[test]
fn decodes_plain_json_without_gzip_magic() {
    let plain = STANDARD.encode(serde_json::to_vec(&release_json()).unwrap());
    assert_eq!(decode_payload(plain.as_bytes()).unwrap().name, "shop");
}

#[test]
fn encode_then_decode_round_trips() {
    let release = decode_payload(helm_payload(&release_json()).as_bytes()).unwrap();
    let again = decode_payload(encode_payload(&release).unwrap().as_bytes()).unwrap();
    assert_eq!(
        serde_json::to_value(&release).unwrap(),
        serde_json::to_value(&again).unwrap()
    );
    assert_eq!(
        again.config.unwrap().reveal(),
        format!(r#"{{"dbPassword":"{SECRET_VALUE}"}}"#)
    );
}

#[test]
fn debug_output_never_shows_values_or_manifests() {
    let release = decode_payload(helm_payload(&release_json()).as_bytes()).unwrap();
    let debug = format!("{release:?} {:#?}", release);
    assert!(!debug.contains(SECRET_VALUE), "{debug}");
    assert!(!debug.contains("kind: Job"), "{debug}");
    assert!(debug.contains("Values(<redacted>)"));
}

#[test]
fn hooks_for_an_event_follow_helms_order() {
    let release = decode_payload(helm_payload(&release_json()).as_bytes()).unwrap();
    let names: Vec<_> = release
        .hooks_for(HookEvent::PreUpgrade)
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    assert_eq!(names, ["backup", "migrate"], "same weight: name decides");
}

#[test]
fn corrupt_payloads_get_typed_errors() {
    assert!(matches!(
        decode_payload(b"not base64!!"),
        Err(DecodeError::Base64(_))
    ));

    let gz = gzip(&serde_json::to_vec(&release_json()).unwrap());
    let truncated = STANDARD.encode(&gz[..gz.len() / 2]);
    assert!(matches!(
        decode_payload(truncated.as_bytes()),
        Err(DecodeError::Gzip(_))
    ));

    let not_json = STANDARD.encode(gzip(b"{\"name\": "));
    assert!(matches!(
        decode_payload(not_json.as_bytes()),
        Err(DecodeError::Json(_))
    ));

    let wrong_shape = STANDARD.encode(gzip(b"{\"hooks\": 5}"));
    assert!(matches!(
        decode_payload(wrong_shape.as_bytes()),
        Err(DecodeError::Json(_))
    ));
}

#[test]
fn decompression_bombs_are_refused() {
    let bomb = STANDARD.encode(gzip(&vec![b' '; 1 << 20]));
    assert!(bomb.len() < 10_000, "1 MiB of spaces compresses well");
    assert!(matches!(
        decode_payload_with_limit(bomb.as_bytes(), 64 * 1024),
        Err(DecodeError::TooLarge { limit: 65536 })
    ));
}

fn secret(payload: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.shop.v3", "namespace": "prod",
                     "labels": {"owner": "helm", "name": "shop", "status": "deployed", "version": "3"}},
        "data": {"release": STANDARD.encode(payload)}
    })
}

#[test]
fn secrets_carry_the_payload_base64_twice() {
    let release = decode_secret(&secret(&helm_payload(&release_json()))).unwrap();
    assert_eq!(release.version, 3);
}

#[test]
fn configmaps_carry_the_payload_once() {
    let cm = json!({"metadata": {"name": "sh.helm.release.v1.shop.v3", "namespace": "prod"},
                    "data": {"release": helm_payload(&release_json())}});
    assert_eq!(decode_configmap(&cm).unwrap().name, "shop");
    assert_eq!(
        decode_record(StorageDriver::ConfigMap, &cm)
            .unwrap()
            .version,
        3
    );
}

#[test]
fn record_errors_name_the_object_the_field_and_the_fix() {
    let error = decode_secret(&secret("%%%")).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("secret/sh.helm.release.v1.shop.v3 -n prod"),
        "{message}"
    );
    assert!(message.contains("data.release"), "{message}");
    assert!(message.contains("kubectl delete"), "{message}");

    let missing = decode_secret(&json!({"metadata": {"name": "x", "namespace": "y"}, "data": {}}))
        .unwrap_err();
    assert!(matches!(
        missing,
        RecordError::MissingField {
            field: "data.release",
            ..
        }
    ));
    assert!(
        missing
            .to_string()
            .contains("kubectl get secret/x -n y -o yaml")
    );
}

#[test]
fn storage_names_labels_and_driver() {
    assert_eq!(record_name("shop", 12), "sh.helm.release.v1.shop.v12");
    assert_eq!(release_label_selector(Some("shop")), "owner=helm,name=shop");
    let labels = [
        ("owner", "helm"),
        ("name", "shop"),
        ("version", "12"),
        ("status", "failed"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    assert_eq!(
        RecordMeta::from_labels(&labels),
        Some(RecordMeta {
            release: "shop".into(),
            revision: 12,
            status: "failed".into()
        })
    );
    assert_eq!(
        StorageDriver::from_helm_driver(None),
        Ok(StorageDriver::Secret)
    );
    assert_eq!(
        StorageDriver::from_helm_driver(Some("configmaps")),
        Ok(StorageDriver::ConfigMap)
    );
    assert!(
        StorageDriver::from_helm_driver(Some("sql"))
            .unwrap_err()
            .contains("HELM_DRIVER=configmap")
    );
}

#[test]
fn statuses_round_trip_and_pending_is_detected() {
    for name in ["deployed", "pending-upgrade", "superseded", "something-new"] {
        assert_eq!(Status::parse(name).as_str(), name);
    }
    assert!(Status::parse("pending-rollback").is_pending());
    assert!(!Status::parse("failed").is_pending());
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = decode_payload(&bytes);
        let _ = decode_payload(STANDARD.encode(&bytes).as_bytes());
        let mut gz = vec![0x1f, 0x8b, 0x08];
        gz.extend_from_slice(&bytes);
        let _ = decode_payload(STANDARD.encode(&gz).as_bytes());
    }
}
