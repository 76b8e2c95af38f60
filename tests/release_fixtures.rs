//! The decoder against real release records written by helm 3.22.0 and helm 4.3.1
//! (tests/fixtures/releases, made by its `regenerate` script on the test cluster).

use helm_hooks::hook::HookEvent;
use helm_hooks::release::{
    HookPhase, RecordMeta, Release, Status, StorageDriver, decode_payload, decode_record,
    encode_payload,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const SECRET_VALUE: &str = "s3cr3t-fixture";

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/releases")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn decode(name: &str) -> Release {
    let object = fixture(name);
    let driver = match object["kind"].as_str() {
        Some("ConfigMap") => StorageDriver::ConfigMap,
        _ => StorageDriver::Secret,
    };
    decode_record(driver, &object).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn phases(release: &Release) -> BTreeMap<String, HookPhase> {
    release
        .hooks
        .iter()
        .map(|h| (h.name.clone(), h.last_run.phase))
        .collect()
}

#[test]
fn every_fixture_decodes_and_matches_its_labels() {
    for helm in ["helm3", "helm4"] {
        for (file, status, revision) in [
            ("secret-v1", Status::Superseded, 1),
            ("secret-v2", Status::Deployed, 2),
            ("secret-v3-failed", Status::Failed, 3),
            ("configmap-v1", Status::Deployed, 1),
        ] {
            let name = format!("{helm}-{file}.json");
            let release = decode(&name);
            assert_eq!(
                (release.name.as_str(), release.version, release.status()),
                ("demo", revision, status.clone()),
                "{name}"
            );
            assert_eq!(release.hooks.len(), 7, "{name}");
            let labels: BTreeMap<String, String> =
                serde_json::from_value(fixture(&name)["metadata"]["labels"].clone()).unwrap();
            let meta = RecordMeta::from_labels(&labels).expect("helm labels");
            assert_eq!(
                (meta.release.as_str(), meta.revision, meta.status.as_str()),
                ("demo", revision, status.as_str()),
                "{name}"
            );
            assert_eq!(
                release
                    .chart
                    .as_ref()
                    .and_then(|c| c.metadata())
                    .map(|m| m.name),
                Some("hooks-demo".into())
            );
        }
    }
}

#[test]
fn last_run_phases_are_what_helm_recorded() {
    for helm in ["helm3", "helm4"] {
        let installed = phases(&decode(&format!("{helm}-secret-v1.json")));
        assert_eq!(installed["demo-hooks"], HookPhase::Succeeded, "{helm}");
        assert_eq!(installed["demo-notify"], HookPhase::Succeeded, "{helm}");
        assert_eq!(
            installed["demo-db-migrate"],
            HookPhase::Unknown,
            "{helm}: never ran on install"
        );

        let failed = decode(&format!("{helm}-secret-v3-failed.json"));
        let failed_phases = phases(&failed);
        assert_eq!(
            failed_phases["demo-db-migrate"],
            HookPhase::Failed,
            "{helm}"
        );
        let backup = failed
            .hooks
            .iter()
            .find(|h| h.name.starts_with("demo-backup-"))
            .unwrap();
        assert_eq!(
            backup.last_run.phase,
            HookPhase::Unknown,
            "{helm}: skipped after the failure"
        );
        assert_eq!(backup.last_run.started(), None, "{helm}");
        let migrate = failed
            .hooks
            .iter()
            .find(|h| h.name == "demo-db-migrate")
            .unwrap();
        assert!(migrate.last_run.started().is_some() && migrate.last_run.completed().is_some());
    }
}

#[test]
fn pre_upgrade_order_matches_helm() {
    for helm in ["helm3", "helm4"] {
        let release = decode(&format!("{helm}-secret-v2.json"));
        let order: Vec<String> = release
            .hooks_for(HookEvent::PreUpgrade)
            .iter()
            .map(|h| h.name.split("-1").next().unwrap().to_string())
            .collect();
        assert_eq!(
            order,
            [
                "demo-hooks",
                "demo-config-validate",
                "demo-db-migrate",
                "demo-backup"
            ],
            "{helm}"
        );
    }
}

#[test]
fn values_never_show_in_debug_but_survive_a_round_trip() {
    for name in [
        "helm3-secret-v2.json",
        "helm4-secret-v2.json",
        "helm4-configmap-v1.json",
    ] {
        let release = decode(name);
        assert!(!format!("{release:?}").contains(SECRET_VALUE), "{name}");
        let again = decode_payload(encode_payload(&release).unwrap().as_bytes()).unwrap();
        assert!(
            again.config.unwrap().reveal().contains(SECRET_VALUE),
            "{name}"
        );
        assert_eq!(again.hooks.len(), release.hooks.len());
        assert_eq!(again.apply_method, release.apply_method, "{name}");
    }
    assert!(
        decode("helm4-secret-v1.json").apply_method.is_some(),
        "helm 4 records the apply method"
    );
}
