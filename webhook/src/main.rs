//! `helm-hooks-webhook`: the admission webhook binary (grows in its own issue).
#![forbid(unsafe_code)]

fn main() {
    println!("helm-hooks-webhook {}", env!("CARGO_PKG_VERSION"));
}
