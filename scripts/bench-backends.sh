#!/usr/bin/env bash
# Side-by-side benchmark of the two TCP/IP backends, smoltcp (default) and FreeRTOS+TCP
# (feature freertos-plus-tcp), in one run against the same servers:
# - the demo, process start to exit, and its peak FreeRTOS heap, against one bundled iot-server
#   (RUNS alternating runs per backend, medians);
# - round trip and throughput through the device's stack (net-bench, once per backend, same
#   host echo/sink/source servers it starts itself).
# Needs the FreeRTOS+TCP sources (the FreeRTOS-Plus-TCP/ submodule or FREERTOS_PLUS_TCP_PATH).
# Writes target/backend-benchmark.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${FREERTOS_PLUS_TCP_PATH:-FreeRTOS-Plus-TCP}
if [ ! -f "$tree/source/FreeRTOS_IP.c" ]; then
    echo "error: FreeRTOS+TCP sources absent ($tree): git submodule update --init FreeRTOS-Plus-TCP" >&2
    exit 1
fi
./scripts/ensure-deps.sh
runs=${RUNS:-10}
bins=target/bench-backends
mkdir -p "$bins"
build() { # $1: name, rest: cargo feature arguments
    local name=$1
    shift
    cargo build --release --quiet --locked "$@" -p freertos-https --bin http-mutual-auth-demo
    cargo build --release --quiet --locked "$@" -p freertos-https-harness --bin net-bench
    cp target/release/http-mutual-auth-demo "$bins/demo-$name"
    cp target/release/net-bench "$bins/net-bench-$name"
}
build smoltcp
build plus-tcp --features freertos-plus-tcp
cargo build --release --quiet --locked -p iot-server --bin iot-server

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/iot-server gen-certs --dir "$work/certs" >/dev/null
./target/release/iot-server --port "$port" --certs "$work/certs" >/dev/null 2>&1 &
server=$!
sleep 0.5
creds=(--root-ca "$work/certs/ca.pem" --client-cert "$work/certs/device.pem" --client-key "$work/certs/device.key")
declare -A times peaks stacks
for _ in $(seq "$runs"); do
    for name in smoltcp plus-tcp; do
        start=$(date +%s%N)
        "$bins/demo-$name" --endpoint localhost --port "$port" "${creds[@]}" --json --log-level off > "$work/out.json"
        end=$(date +%s%N)
        times[$name]+="$(( (end - start) / 1000 )) "
        peaks[$name]+="$(tail -1 "$work/out.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["heap_peak_used"])') "
        stacks[$name]=$(tail -1 "$work/out.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tcpip_stack"])')
    done
done
median() { printf '%s\n' $@ | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { printf '%d.%d ms' $(( $1 / 1000 )) $(( ($1 % 1000) / 100 )); }
for name in smoltcp plus-tcp; do
    "$bins/net-bench-$name" --report "$work/net-$name.md" > /dev/null 2>&1
done
row() { # $1: file, $2: row label; prints the device column
    awk -F'|' -v label="$2" 'index($2, label) { gsub(/^ +| +$/, "", $4); print $4 }' "$1"
}
report=target/backend-benchmark.md
{
    echo "# TCP/IP backends side by side"
    echo
    echo "One run on this machine, release builds. Demo: $runs alternating runs per backend against one bundled iot-server (EC P-256 device key), medians. Network: net-bench once per backend (device side; its host echo/sink/source servers on 127.0.0.1, TCP buffers 64 KiB)."
    echo
    echo "| measure | ${stacks[smoltcp]} | ${stacks[plus-tcp]} |"
    echo "|---|---|---|"
    echo "| demo, process start to exit, median | $(ms "$(median ${times[smoltcp]})") | $(ms "$(median ${times[plus-tcp]})") |"
    echo "| demo, peak FreeRTOS heap used, median | $(median ${peaks[smoltcp]}) B | $(median ${peaks[plus-tcp]}) B |"
    for label in "round trip, median" "round trip, p99" "upload 64 MiB" "download 64 MiB"; do
        echo "| $label | $(row "$work/net-smoltcp.md" "$label") | $(row "$work/net-plus-tcp.md" "$label") |"
    done
    echo
    echo "Code size on Cortex-M: not measured (FreeRTOS+TCP is built for the POSIX simulator only)."
} > "$report"
cat "$report"
