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
cargo clippy --locked --release --target thumbv7em-none-eabihf -p freertos-https --bins --examples -- -D warnings

step "tests (unit, and end to end through the FreeRTOS kernel)"
cargo test --workspace --locked

step "portable crates build for Cortex-M4F (thumbv7em-none-eabihf)"
cargo build --locked --target thumbv7em-none-eabihf --no-default-features \
    -p iot-transport -p iot-http -p iot-backoff -p iot-dns

step "the device library's portable core builds for Cortex-M4F, with no std (thumbv7em-none-eabihf)"
cargo build --locked --release --target thumbv7em-none-eabihf --lib -p freertos-https
./scripts/check-portable.sh

step "the demo as a Cortex-M4F image under QEMU (mps2-an386, LAN9118, mutual TLS to the bundled endpoint)"
./scripts/test-cortex-m.sh

step "the Windows simulator: kernel self-tests under wine (x86_64-pc-windows-gnu)"
./scripts/test-windows.sh

step "fuzzing the HTTP response parser and chunked decoder, DNS answers and credential loading (${FUZZ_SECONDS:=30} s per target)"
FUZZ_SECONDS="$FUZZ_SECONDS" ./scripts/fuzz.sh

step "code size on Cortex-M4 (report: target/size-report.md)"
./scripts/size-report.sh

step "all checks passed"
