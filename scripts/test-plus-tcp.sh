#!/usr/bin/env bash
# The network, TLS and demo end-to-end tests again, on the FreeRTOS+TCP backend (cargo feature
# `freertos-plus-tcp`), when its sources are here: the FreeRTOS-Plus-TCP/ submodule, or the
# tree FREERTOS_PLUS_TCP_PATH names. Without them it says so in one line and skips: a clone
# without the submodule (CI) tests the default smoltcp backend only.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${FREERTOS_PLUS_TCP_PATH:-FreeRTOS-Plus-TCP}
if [ ! -f "$tree/source/FreeRTOS_IP.c" ]; then
    echo "FreeRTOS+TCP sources absent ($tree): its tests are skipped (git submodule update --init FreeRTOS-Plus-TCP to run them)"
    exit 0
fi
cargo clippy --locked -p freertos-https -p freertos-https-harness --all-targets \
    --features freertos-plus-tcp -- -D warnings
cargo test --locked -p freertos-https --features freertos-plus-tcp --lib --test application
cargo test --locked -p freertos-https-harness --features freertos-plus-tcp \
    --test net --test tls --test tls_offline
