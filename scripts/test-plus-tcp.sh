#!/usr/bin/env bash
# The network, TLS and demo end-to-end tests again, on the FreeRTOS+TCP backend (cargo feature
# `freertos-plus-tcp`), when its sources are here: the FreeRTOS-Plus-TCP/ submodule, or the
# tree FREERTOS_PLUS_TCP_PATH names, on the simulator and on the Cortex-M4F board under QEMU.
# Without them it says so in one line and skips: a clone
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

# The Cortex-M4F board (QEMU mps2-an386) on FreeRTOS+TCP over its LAN9118: one mutual-TLS POST
# to the bundled endpoint on 127.0.0.1, which must pass and name the stack.
fail() { echo "test-plus-tcp: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'stop_server; rm -rf "$work"' EXIT
# shellcheck source=lib/endpoint.sh
source scripts/lib/endpoint.sh
start_server "$work"
status=0
IOT_ENDPOINT=localhost IOT_PORT="$port" IOT_ATTEMPTS=1 IOT_JSON=1 \
    IOT_ROOT_CA="$work/ca.pem" IOT_CLIENT_CERT="$work/device.pem" IOT_CLIENT_KEY="$work/device.key" \
    QEMU_TIMEOUT=90 cargo run --quiet --locked --profile board --target thumbv7em-none-eabihf \
    --features freertos-plus-tcp >"$work/guest.out" 2>&1 || status=$?
last=$(tail -n 1 "$work/guest.out")
case "$status:$last" in
    '0:{"result":"pass"'*'"tcpip_stack":"FreeRTOS+TCP"'*)
        echo "test-plus-tcp: the Cortex-M4F board passed on FreeRTOS+TCP: $(grep -o '"heap_peak_used":[0-9]*' <<<"$last")" ;;
    *)
        echo "test-plus-tcp: the Cortex-M4F board on FreeRTOS+TCP failed (exit $status):" >&2
        tail -n 20 "$work/guest.out" >&2
        exit 1 ;;
esac
