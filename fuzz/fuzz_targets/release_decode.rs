//! The release decoder: `decode_payload`, `decode_secret` and `decode_configmap`.
//!
//! One input reaches every layer: as a payload as is (base64 → gzip → JSON), as the bytes
//! under base64 (so the fuzzer mutates gzip or JSON directly), wrapped in gzip + base64 inside a
//! ConfigMap or a Secret the way Helm stores a release (so it mutates the release JSON; which
//! of the two follows the input's length), and as a Secret or ConfigMap object when it is JSON.
//!
//! Beyond "never panics": a decoded release encodes again, and encoding then decoding gives
//! the same release (checked once per input: gzip is the slow part).

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Crc;
use helm_hooks::hook::HookEvent;
use helm_hooks::release::{
    Release, decode_configmap, decode_payload, decode_secret, encode_payload,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn check(release: &Release, round_trip: &mut bool) {
    let _ = release.status();
    let _ = format!("{release:?}");
    for event in HookEvent::ALL {
        let _ = release.hooks_for(event);
    }
    for hook in &release.hooks {
        let _ = hook.events();
        let _ = hook.effective_delete_policies();
        let _ = hook.output_log_policies();
    }
    if let Some(chart) = &release.chart {
        let _ = chart.metadata();
    }
    if !std::mem::take(round_trip) {
        return;
    }
    let encoded = encode_payload(release).expect("a decoded release encodes");
    let again = decode_payload(encoded.as_bytes()).expect("an encoded release decodes");
    assert_eq!(
        serde_json::to_value(release).expect("a release serializes"),
        serde_json::to_value(&again).expect("a release serializes"),
        "encode then decode round-trips"
    );
}

/// Gzip with stored (uncompressed) deflate blocks, written by hand: a valid stream at the cost
/// of a copy. Compressing (even at level 0 through flate2) was most of this target's time, and
/// it is not what is under test.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 32);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    let mut blocks = data.chunks(usize::from(u16::MAX)).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let len = u16::try_from(block.len()).expect("chunks of at most u16::MAX");
        out.push(u8::from(blocks.peek().is_none()));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

fn record(payload: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "metadata": {"name": "sh.helm.release.v1.fuzz.v1", "namespace": "fuzz",
                     "labels": {"owner": "helm", "name": "fuzz", "version": "1"}},
        "data": {"release": payload},
    })
}

fuzz_target!(|data: &[u8]| {
    let mut round_trip = true;
    let mut check = |decoded: Option<Release>| {
        if let Some(release) = decoded {
            check(&release, &mut round_trip);
        }
    };
    check(decode_payload(data).ok());
    check(decode_payload(STANDARD.encode(data).as_bytes()).ok());
    let payload = STANDARD.encode(gzip(data));
    if data.len().is_multiple_of(2) {
        check(decode_configmap(&record(&payload)).ok());
    } else {
        check(decode_secret(&record(&STANDARD.encode(&payload))).ok());
    }
    if let Ok(object) = serde_json::from_slice::<Value>(data)
        && object.get("data").is_some()
    {
        for decoded in [decode_secret(&object), decode_configmap(&object)] {
            match decoded {
                Ok(release) => check(Some(release)),
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    }
});
