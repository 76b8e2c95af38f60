#!/usr/bin/env bash
# Loopback HTTPS load test of helm-hooks-webhook against a baseline measured in the same run
# (the webhook's own TLS and HTTP stack answering the same bytes without doing the work):
# start-up to ready, throughput, p50/p90/p99 at a fixed 2,000 reviews/s (open loop,
# wrk2-style) and peak RSS, each as a ratio to the baseline, with the load average. Everything
# runs on 127.0.0.1 and is bounded in time (about 60 s with the defaults).
#
#   webhook/bench/load.sh                      # defaults (release build)
#   LOAD_RATE=5000 LOAD_CONNECTIONS=32 LOAD_ROUNDS=3 webhook/bench/load.sh
#   LOAD_PROFILE=dev LOAD_SECONDS=1 LOAD_RATE=200 LOAD_RATE_SECONDS=1 LOAD_ROUNDS=1 \
#     LOAD_STARTS=2 webhook/bench/load.sh      # CI smoke: debug build, a few seconds
#
# The load generator is a Rust bench target (webhook/benches/load.rs: tokio + hyper + rustls,
# keep-alive connections) and the baseline an example (webhook/examples/fixed_answer.rs):
# nothing to install beyond the workspace's own dependencies. All three processes share the
# machine, so on a 2-core box they compete for the same CPUs; the ratios are what to compare.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
profile=${LOAD_PROFILE:-bench}
case $profile in
  bench | release) out=release ;;
  dev) out=debug ;;
  *) echo "load.sh: LOAD_PROFILE must be bench, release or dev (got '$profile')" >&2; exit 2 ;;
esac
cargo build --locked --profile "$profile" -p helm-hooks-webhook --example fixed_answer
# Absolute: cargo runs the bench from the package's directory.
target_dir=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
LOAD_BASELINE_BIN="$target_dir/$out/examples/fixed_answer"
export LOAD_BASELINE_BIN
exec cargo bench --locked --profile "$profile" -p helm-hooks-webhook --bench load "$@"
