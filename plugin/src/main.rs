//! `kubectl-hooks`: the kubectl plugin binary (grows in its own issue).
#![forbid(unsafe_code)]

fn main() {
    println!("kubectl-hooks {}", env!("CARGO_PKG_VERSION"));
}
