#!/usr/bin/env bash
# TLS benchmark: FreeRTOS heap of one mutual-TLS connection with the default and the small
# record buffers, and handshake time side by side with curl against the same endpoint.
# Writes target/tls-benchmark.md. Needs curl for the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh
mkdir -p target
report=target/tls-benchmark.md
printf '# TLS benchmark: one mutual-TLS connection on the device\n\nSame machine, same run of this script; the endpoint is the bundled one on 127.0.0.1.\n' > "$report"
cargo run --release --quiet -p freertos-https-harness --bin tls-bench -- --report "$report" --label "default record buffers (in 16 KiB, out 2 KiB)"
cargo run --release --quiet -p freertos-https-harness --features freertos-https/tls-small-records --bin tls-bench -- --report "$report" --label "small record buffers (in 4 KiB, out 2 KiB)"
echo "report written to $report"
