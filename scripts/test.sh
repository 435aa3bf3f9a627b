#!/usr/bin/env bash
# Runs every check the project has, after installing anything missing:
# formatting, lints, unit and end-to-end tests through the real kernel, and the
# bare-metal build of the portable crates.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

./scripts/ensure-deps.sh

step "format (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (unit, and end to end through the FreeRTOS kernel)"
cargo test --workspace --locked

step "portable crates build for Cortex-M4F (thumbv7em-none-eabihf)"
cargo build --locked --target thumbv7em-none-eabihf --no-default-features -p iot-transport

step "all checks passed"
