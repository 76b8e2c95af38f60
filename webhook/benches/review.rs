//! In-process cost of one admission review of a realistic hook Job (as the apiserver sends
//! it, after its defaulting): parse the AdmissionReview, evaluate the policy, build and
//! serialize the response. Target: ≤ 20 µs median.
//!
//! `cargo bench -p helm-hooks-webhook --bench review`

use criterion::{Criterion, criterion_group, criterion_main};
use helm_hooks::policy::Policy;
use helm_hooks_webhook::admission::{self, Endpoint, PatchEncoding};
use std::hint::black_box;

/// The allocator of the webhook binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn review_body() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/cases/default-apiserver-defaulted-job.json"
    );
    let case: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    serde_json::to_vec(&case["review"]).unwrap()
}

fn bench(c: &mut Criterion) {
    let body = review_body();
    let policy = Policy::builtin();
    // The parts, to see where the time goes.
    c.bench_function("part/parse", |b| {
        b.iter(|| admission::parse_review(black_box(&body)).unwrap())
    });
    let request = admission::parse_review(&body).unwrap();
    let object = request.object.clone().unwrap();
    c.bench_function("part/evaluate", |b| {
        b.iter(|| helm_hooks::policy::evaluate(&policy, black_box(&object), Some("shop")))
    });
    let outcome = admission::review(Endpoint::Mutate, &policy, &request, PatchEncoding::Base64);
    c.bench_function("part/serialize", |b| {
        b.iter(|| serde_json::to_vec(black_box(&outcome.review)).unwrap())
    });
    for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
        c.bench_function(&format!("review/{}", endpoint.as_str()), |b| {
            b.iter(|| {
                let request = admission::parse_review(black_box(&body)).unwrap();
                let outcome = admission::review(endpoint, &policy, &request, PatchEncoding::Base64);
                black_box(serde_json::to_vec(&outcome.review).unwrap())
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
