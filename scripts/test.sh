#!/usr/bin/env bash
# Runs every check the project has, after installing anything missing:
# formatting, lints, unit and end-to-end tests through the real kernel, and the
# bare-metal build of the portable crates.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

./scripts/ensure-deps.sh --with-fuzzing

step "format (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The board profile, as scripts/test-cortex-m.sh builds it (one Mbed TLS build for the target).
cargo clippy --locked --profile board --target thumbv7em-none-eabihf -p freertos-https --bins --examples -- -D warnings

step "tests (unit, and end to end through the FreeRTOS kernel)"
cargo test --workspace --locked

step "the network, TLS and demo tests on the FreeRTOS+TCP backend (if its sources are here)"
./scripts/test-plus-tcp.sh

step "network, TLS and demo tests again, over the gateway card (FREERTOS_HTTPS_CARD=gateway)"
FREERTOS_HTTPS_CARD=gateway cargo test --locked -p freertos-https-harness --test net --test tls \
    -p freertos-https --test application

step "portable crates build for Cortex-M4F (thumbv7em-none-eabihf)"
cargo build --locked --target thumbv7em-none-eabihf --no-default-features \
    -p iot-transport -p iot-http -p iot-backoff -p iot-dns -p iot-publish

step "the device library's portable core builds for Cortex-M4F, with no std (thumbv7em-none-eabihf)"
cargo build --locked --profile board --target thumbv7em-none-eabihf --lib -p freertos-https
./scripts/check-portable.sh

step "the demo as a Cortex-M4F image under QEMU (mps2-an386, LAN9118, mutual TLS to the bundled endpoint)"
./scripts/test-cortex-m.sh

step "the Windows simulator under wine (x86_64-pc-windows-gnu): kernel self-tests, network tests over the gateway card, the demo"
./scripts/test-windows.sh

step "fuzzing the HTTP response parser and chunked decoder, DNS answers and credential loading (${FUZZ_SECONDS:=30} s per target)"
FUZZ_SECONDS="$FUZZ_SECONDS" ./scripts/fuzz.sh

step "code size on Cortex-M4 (report: target/size-report.md)"
./scripts/size-report.sh

step "performance report, smoke run (nginx, Apache, HAProxy, the bundled endpoint; target/bench-smoke/REPORT.md)"
./scripts/bench-report.sh --smoke

step "all checks passed"
