#!/usr/bin/env bash
# Network benchmark: round-trip latency and bulk throughput through the device's stack
# (FreeRTOS kernel, smoltcp, slirp) side by side with plain host sockets, in one run.
# Writes target/net-benchmark.md and prints it. Ratios matter, not absolute figures: the
# machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh
mkdir -p target
cargo run --release --quiet -p freertos-https-harness --bin net-bench -- --report target/net-benchmark.md
