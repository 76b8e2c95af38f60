//! Helm release records: the model Helm stores and its encoding in Secrets and ConfigMaps.

mod codec;
mod model;
mod recovery;
mod storage;
mod stored;

pub use codec::{
    DEFAULT_MAX_DECODED_BYTES, DecodeError, EncodeError, decode_payload, decode_payload_with_limit,
    encode_payload,
};
pub use model::{
    Chart, ChartMetadata, Hook, HookExecution, HookPhase, Info, Release, Status, Values,
};
pub use recovery::recovery_advice;
pub use storage::{
    RECORD_KEY, RecordError, RecordMeta, RecordName, StorageDriver, decode_configmap,
    decode_record, decode_secret, record_name, release_label_selector,
};
pub use stored::StoredObject;

#[cfg(test)]
mod tests;
