//! Test support: the real release records of `tests/fixtures/releases/` (written by helm 3 and
//! helm 4 against the test cluster), decoded as the plugin decodes what it fetches, and live
//! hook objects built as [`crate::objects::lookup`] would return them.
//!
//! Facts of the records (see the fixtures' README): release `demo` of `tests/charts/hooks-demo`;
//! Secret records v1 `superseded`, v2 `deployed`, v3 `failed` (`demo-db-migrate` failed) in
//! namespace `fixtures-helmN`, and a ConfigMap record v1 `deployed` in `fixtures-helmN-cm`. The
//! backup hook's name carries a timestamp, so it differs per revision and per helm version, and
//! the records are regenerated now and then: tests read such names and times from the records
//! ([`Helm::backup`]) instead of spelling them out.

use crate::discovery::{Resolved, TypeKey};
use crate::objects::{LiveObject, LiveStatus, Lookup, ObjectKey};
use crate::releases::{Record, RecordRef};
use helm_hooks::release::{RecordMeta, decode_configmap, decode_secret};
use jiff::Timestamp;
use kube::discovery::ApiResource;
use serde_json::Value;
use std::collections::BTreeMap;

/// The dummy secret every fixture release was installed with (`--set dbPassword=…`).
pub(crate) const SECRET_VALUE: &str = "s3cr3t-fixture";

/// The records one helm version wrote.
#[derive(Debug)]
pub(crate) struct Helm {
    /// File prefix: `helm3` or `helm4`.
    pub prefix: &'static str,
    /// Namespace of the Secret-driver release.
    pub namespace: &'static str,
    /// Namespace of the ConfigMap-driver release.
    pub configmap_namespace: &'static str,
}

pub(crate) const HELM3: Helm = Helm {
    prefix: "helm3",
    namespace: "fixtures-helm3",
    configmap_namespace: "fixtures-helm3-cm",
};

pub(crate) const HELM4: Helm = Helm {
    prefix: "helm4",
    namespace: "fixtures-helm4",
    configmap_namespace: "fixtures-helm4-cm",
};

/// Both helm versions, for tests that must hold for each.
pub(crate) const HELMS: [&Helm; 2] = [&HELM3, &HELM4];

fn load(file: &str) -> Value {
    let path = format!(
        "{}/{file}",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/releases")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A record as [`crate::releases::Store::fetch`] builds it: the reference from the object's
/// metadata and labels, the release from its payload.
fn fixture_record(file: &str, object: &Value, release: helm_hooks::release::Release) -> Record {
    let text = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    };
    let labels: BTreeMap<String, String> =
        serde_json::from_value(object.pointer("/metadata/labels").unwrap().clone()).unwrap();
    let meta = RecordMeta::from_labels(&labels).unwrap_or_else(|| panic!("{file}: labels"));
    // The labels and the payload agree, or the fixture is not what the tests think it is.
    assert_eq!(meta.revision, release.version, "{file}");
    assert_eq!(meta.status, release.status().as_str(), "{file}");
    assert_eq!(text("/metadata/namespace"), release.namespace, "{file}");
    Record {
        reference: RecordRef {
            namespace: text("/metadata/namespace"),
            object_name: text("/metadata/name"),
            meta,
        },
        release,
    }
}

impl Helm {
    /// The Secret record of `revision` (1, 2 or 3).
    pub(crate) fn secret(&self, revision: i64) -> Record {
        let suffix = match revision {
            1 | 2 => format!("v{revision}"),
            3 => "v3-failed".to_string(),
            _ => panic!("no fixture for revision {revision}"),
        };
        let file = format!("{}-secret-{suffix}.json", self.prefix);
        let object = load(&file);
        let release = decode_secret(&object).unwrap_or_else(|e| panic!("{file}: {e}"));
        fixture_record(&file, &object, release)
    }

    /// Every stored Secret revision (1, 2, 3).
    pub(crate) fn secrets(&self) -> Vec<Record> {
        (1..=3).map(|revision| self.secret(revision)).collect()
    }

    /// The ConfigMap record (v1).
    pub(crate) fn configmap(&self) -> Record {
        let file = format!("{}-configmap-v1.json", self.prefix);
        let object = load(&file);
        let release = decode_configmap(&object).unwrap_or_else(|e| panic!("{file}: {e}"));
        fixture_record(&file, &object, release)
    }

    /// The name of the backup hook of Secret revision `revision`.
    pub(crate) fn backup(&self, revision: i64) -> String {
        backup_of(&self.secret(revision))
    }

    /// The name of the backup hook of the ConfigMap record.
    pub(crate) fn configmap_backup(&self) -> String {
        backup_of(&self.configmap())
    }
}

/// The name of the record's one backup hook: `demo-backup-<unix time>`.
fn backup_of(record: &Record) -> String {
    let names: Vec<&str> = record
        .release
        .hooks
        .iter()
        .filter(|h| h.path == "hooks-demo/templates/hook-backup.yaml")
        .map(|h| h.name.as_str())
        .collect();
    let [name] = names[..] else {
        panic!("{}: backup hooks {names:?}", record.reference.object_name)
    };
    let time = name.strip_prefix("demo-backup-").unwrap_or("");
    assert!(
        time.len() == 10 && time.bytes().all(|b| b.is_ascii_digit()),
        "{name}"
    );
    name.to_string()
}

/// A decoded record from release JSON, as [`crate::releases::Store::fetch`] builds it (the
/// reference from the release's name, namespace, version and status).
pub(crate) fn record(json: &str) -> Record {
    let release: helm_hooks::release::Release = serde_json::from_str(json).unwrap();
    Record {
        reference: RecordRef {
            namespace: release.namespace.clone(),
            object_name: format!("sh.helm.release.v1.{}.v{}", release.name, release.version),
            meta: RecordMeta {
                release: release.name.clone(),
                revision: release.version,
                status: release.status().to_string(),
            },
        },
        release,
    }
}

/// A hook as a release record stores it: a `pre-upgrade` hook `name` of `kind` (Job in
/// `batch/v1`, CRDs in `apiextensions.k8s.io/v1`, anything else in `v1`), its manifest followed
/// by `manifest_tail` (more `metadata` lines, indented two spaces). Tests set other fields
/// (`events`, `weight`, `delete_policies`, `last_run`) on the JSON.
pub(crate) fn hook(name: &str, kind: &str, manifest_tail: &str) -> Value {
    let api = match kind {
        "Job" => "batch/v1",
        "CustomResourceDefinition" => "apiextensions.k8s.io/v1",
        _ => "v1",
    };
    serde_json::json!({
        "name": name, "kind": kind, "path": format!("demo/templates/{name}.yaml"),
        "manifest": format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n{manifest_tail}"),
        "events": ["pre-upgrade"],
    })
}

/// The time live objects were created at: a few minutes after the fixtures' helm runs
/// (06:42–06:43), beyond the ownership rule's clock-skew margin, so an object made then by
/// hand is no hook run.
pub(crate) fn created() -> Timestamp {
    "2026-11-21T06:50:00Z".parse().unwrap()
}

fn type_key(kind: &str) -> TypeKey {
    TypeKey::new(if kind == "Job" { "batch/v1" } else { "v1" }, kind)
}

/// A live namespaced object of `kind` (`Job`, `Pod`, `ServiceAccount`, `ConfigMap`), created
/// at [`created`], with uid `uid-NAMESPACE-NAME`.
pub(crate) fn live(kind: &str, namespace: &str, name: &str, status: LiveStatus) -> LiveObject {
    LiveObject {
        key: ObjectKey {
            type_key: type_key(kind),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        },
        uid: format!("uid-{namespace}-{name}"),
        created: Some(created()),
        deleting: false,
        controlled: false,
        status,
        reason: None,
        annotations: BTreeMap::new(),
    }
}

/// The live object Helm created when it ran hook `name` of `record`: the stored manifest's
/// annotations, created when the run started, uid `uid-NAMESPACE-NAME`.
pub(crate) fn hook_run(record: &Record, name: &str, status: LiveStatus) -> LiveObject {
    let hook = record
        .release
        .hooks
        .iter()
        .find(|h| h.name == name)
        .unwrap_or_else(|| panic!("{}: no hook {name}", record.reference.object_name));
    let started: Timestamp = hook
        .last_run
        .started()
        .unwrap_or_else(|| panic!("{name} never ran in {}", record.reference.object_name))
        .parse()
        .unwrap();
    let mut object = look_alike(record, name, status);
    object.created = Some(Timestamp::from_second(started.as_second()).unwrap());
    object
}

/// A hand-made copy of hook `name` of `record` (its manifest's annotations, `helm.sh/hook`
/// included), created at [`created`]: not a run of the hook.
pub(crate) fn look_alike(record: &Record, name: &str, status: LiveStatus) -> LiveObject {
    let hook = record
        .release
        .hooks
        .iter()
        .find(|h| h.name == name)
        .unwrap();
    let manifest: Value = serde_yaml_ng::from_str(&hook.manifest).unwrap();
    let mut object = live(&hook.kind, &record.reference.namespace, name, status);
    object.annotations =
        serde_json::from_value(manifest.pointer("/metadata/annotations").unwrap().clone()).unwrap();
    object
}

/// What [`crate::objects::lookup`] returns for `objects`, with the kinds of the demo chart
/// resolved as a real API server serves them.
pub(crate) fn lookup(objects: Vec<LiveObject>) -> Lookup {
    let mut lookup = Lookup::default();
    for (group, kind, plural) in [
        ("batch", "Job", "jobs"),
        ("", "Pod", "pods"),
        ("", "ServiceAccount", "serviceaccounts"),
        ("", "ConfigMap", "configmaps"),
    ] {
        let resolved = Resolved {
            resource: ApiResource {
                group: group.into(),
                version: "v1".into(),
                api_version: type_key(kind).api_version,
                kind: kind.into(),
                plural: plural.into(),
            },
            namespaced: true,
        };
        lookup.resolution.insert(type_key(kind), Some(resolved));
    }
    for object in objects {
        lookup.objects.insert(object.key.clone(), object);
    }
    lookup
}
