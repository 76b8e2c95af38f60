//! Where Helm keeps release records: Secrets (default) or ConfigMaps named
//! `sh.helm.release.v1.<release>.v<revision>`, labelled `owner=helm,name=<release>,…`.

use super::codec::{DecodeError, decode_payload};
use super::model::Release;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The key holding the payload in `data`, for both drivers.
pub const RECORD_KEY: &str = "release";

/// Helm's storage driver, chosen by `HELM_DRIVER`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StorageDriver {
    /// Secrets of type `helm.sh/release.v1` (Helm's default).
    #[default]
    Secret,
    /// ConfigMaps (`HELM_DRIVER=configmap`).
    ConfigMap,
}

impl StorageDriver {
    /// Reads `HELM_DRIVER`'s value as Helm does (`secret`/`secrets`/empty, `configmap`/`configmaps`).
    pub fn from_helm_driver(value: Option<&str>) -> Result<StorageDriver, String> {
        match value.map(str::trim).unwrap_or("") {
            "" | "secret" | "secrets" => Ok(StorageDriver::Secret),
            "configmap" | "configmaps" => Ok(StorageDriver::ConfigMap),
            other => Err(format!(
                "HELM_DRIVER={other:?} is not supported: kubectl hooks reads releases from the \
                 cluster; use HELM_DRIVER=secret (Helm's default) or HELM_DRIVER=configmap"
            )),
        }
    }

    /// The Kubernetes kind holding the records.
    pub fn kind(self) -> &'static str {
        match self {
            StorageDriver::Secret => "Secret",
            StorageDriver::ConfigMap => "ConfigMap",
        }
    }

    /// The lower-case resource name, as kubectl prints it (`secret`, `configmap`).
    pub fn resource(self) -> &'static str {
        match self {
            StorageDriver::Secret => "secret",
            StorageDriver::ConfigMap => "configmap",
        }
    }
}

/// The storage object's name for one revision.
pub fn record_name(release: &str, revision: i64) -> String {
    format!("sh.helm.release.v1.{release}.v{revision}")
}

/// The label selector Helm's storage uses: all releases, or one release's revisions.
pub fn release_label_selector(release: Option<&str>) -> String {
    match release {
        Some(name) => format!("owner=helm,name={name}"),
        None => "owner=helm".to_string(),
    }
}

/// What a record's labels say, read without decoding the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    /// The `name` label: the release name.
    pub release: String,
    /// The `version` label: the revision number.
    pub revision: i64,
    /// The `status` label, e.g. `deployed`.
    pub status: String,
}

impl RecordMeta {
    /// Reads `name`, `version` and `status` labels; `None` unless `owner=helm` and all parse.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<RecordMeta> {
        if labels.get("owner").map(String::as_str) != Some("helm") {
            return None;
        }
        Some(RecordMeta {
            release: labels.get("name")?.clone(),
            revision: labels.get("version")?.parse().ok()?,
            status: labels.get("status").cloned().unwrap_or_default(),
        })
    }
}

/// A release record that cannot be read, naming the object and the fix.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A field the record must have is missing or has the wrong type.
    #[error(
        "release record {record} has no usable {field}: it is not a Helm release record or it \
         is corrupt; inspect it with `kubectl get {record} -o yaml`"
    )]
    MissingField {
        /// The record.
        record: RecordName,
        /// The missing field, e.g. `data.release`.
        field: &'static str,
    },
    /// The payload cannot be decoded.
    #[error(
        "failed to decode {field} of release record {record}: the record is corrupt; restore it \
         from a backup or delete that revision with `kubectl delete {record}`"
    )]
    Decode {
        /// The record.
        record: RecordName,
        /// The field that failed to decode.
        field: &'static str,
        /// Why it failed.
        #[source]
        source: DecodeError,
    },
}

/// `kind/name -n namespace` of a record, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordName {
    /// `secret` or `configmap`.
    pub resource: &'static str,
    /// The record's namespace.
    pub namespace: String,
    /// The record's name.
    pub name: String,
}

impl fmt::Display for RecordName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} -n {}", self.resource, self.name, self.namespace)
    }
}

fn record_name_of(driver: StorageDriver, object: &Value) -> RecordName {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
            .to_string()
    };
    RecordName {
        resource: driver.resource(),
        namespace: text("/metadata/namespace"),
        name: text("/metadata/name"),
    }
}

/// Decodes a release from a Secret as the API returns it (`data.release` is base64 of Helm's
/// own base64 payload).
pub fn decode_secret(secret: &Value) -> Result<Release, RecordError> {
    decode_record(StorageDriver::Secret, secret)
}

/// Decodes a release from a ConfigMap (`data.release` holds Helm's payload directly).
pub fn decode_configmap(configmap: &Value) -> Result<Release, RecordError> {
    decode_record(StorageDriver::ConfigMap, configmap)
}

/// Decodes a release record stored by `driver`.
pub fn decode_record(driver: StorageDriver, object: &Value) -> Result<Release, RecordError> {
    let record = record_name_of(driver, object);
    let field = "data.release";
    let text = object
        .pointer("/data/release")
        .and_then(Value::as_str)
        .ok_or_else(|| RecordError::MissingField {
            record: record.clone(),
            field,
        })?;
    let decode_error = |source| RecordError::Decode {
        record: record.clone(),
        field,
        source,
    };
    let secret_bytes;
    let payload = match driver {
        // The API's own base64 around Helm's payload.
        StorageDriver::Secret => {
            secret_bytes = STANDARD
                .decode(text)
                .map_err(|e| decode_error(DecodeError::Base64(e)))?;
            secret_bytes.as_slice()
        }
        StorageDriver::ConfigMap => text.as_bytes(),
    };
    decode_payload(payload).map_err(decode_error)
}
