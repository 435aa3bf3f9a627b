#!/usr/bin/env bash
# Demo benchmark: one whole demo run (process start to exit) against the time curl takes for
# the same mutual-TLS POST to the same server, side by side in one run, plus the demo's peak
# FreeRTOS heap. Writes target/demo-benchmark.md. Needs curl.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh
cargo build --release --quiet --bin http-mutual-auth-demo --bin iot-server -p freertos-https -p iot-server
runs=${RUNS:-15}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/iot-server gen-certs --dir "$work/certs" >/dev/null
./target/release/iot-server --port "$port" --certs "$work/certs" >/dev/null 2>&1 &
server=$!
sleep 0.5
creds=(--root-ca "$work/certs/ca.pem" --client-cert "$work/certs/device.pem" --client-key "$work/certs/device.key")
demo_times=() curl_times=() peaks=()
for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    ./target/release/http-mutual-auth-demo --endpoint localhost --port "$port" "${creds[@]}" --json --log-level off > "$work/out.json"
    end=$(date +%s%N)
    demo_times+=($(( (end - start) / 1000 )))
    peaks+=($(tail -1 "$work/out.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["heap_peak_used"])'))
    start=$(date +%s%N)
    curl -s -o /dev/null --cacert "$work/certs/ca.pem" --cert "$work/certs/device.pem" --key "$work/certs/device.key" \
        -X POST -d '{"message":"Hello, world"}' "https://localhost:$port/topics/freertos%2Fdemo%2Fhttps?qos=1"
    end=$(date +%s%N)
    curl_times+=($(( (end - start) / 1000 )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
demo_us=$(median "${demo_times[@]}")
curl_us=$(median "${curl_times[@]}")
peak=$(median "${peaks[@]}")
report=target/demo-benchmark.md
mkdir -p target
{
    echo "# Demo benchmark"
    echo
    echo "$runs alternating runs on this machine, same endpoint (bundled iot-server, release build), same credentials (EC P-256 device key)."
    echo
    echo "| measure | value |"
    echo "|---|---|"
    echo "| demo, process start to exit, median | $((demo_us / 1000)).$(( (demo_us % 1000) / 100 )) ms |"
    echo "| curl, same mutual-TLS POST, process start to exit, median | $((curl_us / 1000)).$(( (curl_us % 1000) / 100 )) ms |"
    echo "| demo / curl | $(python3 -c "print(f'{$demo_us/$curl_us:.2f}x')") (target <= 2x) |"
    echo "| demo peak FreeRTOS heap used (total - minimum ever free) | $peak B (target <= 57,040 B) |"
} > "$report"
cat "$report"
