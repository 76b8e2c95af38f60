#!/usr/bin/env bash
# Loopback HTTPS load test of helm-hooks-webhook: start-up to ready, throughput,
# p50/p99 at a fixed 2,000 reviews/s (open loop, wrk2-style), and the webhook's peak RSS.
# Everything runs on 127.0.0.1 and is bounded in time (about 30 s with the defaults).
#
#   webhook/bench/load.sh                      # defaults
#   LOAD_RATE=5000 LOAD_CONNECTIONS=32 webhook/bench/load.sh
#
# The load generator is a Rust bench target (webhook/benches/load.rs: tokio + hyper + rustls,
# keep-alive connections): nothing to install beyond the workspace's own dependencies. It
# shares the machine with the webhook, so on a 2-core box both compete for the same CPUs.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo bench --locked -p helm-hooks-webhook --bench load "$@"
