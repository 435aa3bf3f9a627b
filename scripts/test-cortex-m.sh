#!/usr/bin/env bash
# End-to-end test of the Cortex-M4F image: the same demo, as a FreeRTOS image for QEMU's
# mps2-an386 (LAN9118 on QEMU's user-mode network), doing its mutual-TLS POST to the bundled
# endpoint on this machine's loopback (the guest reaches it as 10.0.2.2; its certificate
# covers `localhost` and `127.0.0.1`, which the device maps there).
#
# 1. P-256 device key, server `localhost`: the POST arrives at the endpoint, QEMU exits 0, the
#    last line is the JSON report of a pass, and connecting took milliseconds (receive is
#    interrupt-driven);
# 2. the same image with the endpoint gone: QEMU exits 1 and the report names the refusal;
# 3. RSA-2048 device key, server `127.0.0.1`, 5 cycles of 2 publishes over one connection each
#    (IOT_PUBLISHES=2): exit 0, the 10 POSTs arrive over 5 connections, and the free heap is the
#    same after every cycle;
#    3b. the same key over a flaky link (IOT_LINK_FAULTS), 2 cycles: exit 0, the stacks hold;
#    3c. a server chain like AWS IoT's (RSA-2048 root, RSA-2048 intermediate and leaf; the
#        server sends leaf + intermediate) with a P-256 device key, over TLS 1.3 and over
#        TLS 1.2 (ECDHE-RSA): exit 0 both times, the stacks hold (verifying RSA signatures is
#        the demo task's deepest path);
#    3d. nginx, a real server (Debian 12's negotiates TLS 1.2; the same RSA chain, a client
#        certificate required), with the P-256 device key: exit 0, HTTP 200, the second cycle
#        resumed;
# 4. the RTOS layer's portable scenarios on the board (examples/board_rtos_scenarios.rs runs
#    the same source as the simulator's rtos-selftest: crates/harness/.../portable.rs);
# 5. the fault paths: a task panic ends the boot with 101, a failed kernel assert with 70, a
#    stack overflow with 70, each naming the task or the assert.
#
# Needs qemu-system-arm (scripts/ensure-deps.sh installs it). Network: loopback and QEMU's
# user network only.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[test-cortex-m] %s\n' "$*"; }
fail() { say "FAIL: $*"; exit 1; }

work=$(mktemp -d)
trap 'stop_server; stop_servers 2>/dev/null || true; rm -rf "$work"' EXIT
# shellcheck source=lib/endpoint.sh
source scripts/lib/endpoint.sh

# boot ENDPOINT DIR [ITERATIONS [PUBLISHES]]: builds the image for the endpoint with DIR's device
# credentials (and IOT_LINK_FAULTS=$LINK_FAULTS if that is set), boots it; $status is QEMU's exit status, $last the guest's last line, $boot_ms
# the host's wall time for the whole boot (cargo's start included).
boot() {
    status=0
    local started_ns
    started_ns=$(date +%s%N)
    env ${LINK_FAULTS:+IOT_LINK_FAULTS="$LINK_FAULTS"} \
        IOT_ENDPOINT=$1 IOT_PORT="$port" IOT_ATTEMPTS=1 IOT_JSON=1 IOT_ITERATIONS=${3:-1} \
        IOT_PUBLISHES=${4:-1} IOT_ROOT_CA="$2/ca.pem" IOT_CLIENT_CERT="$2/device.pem" \
        IOT_CLIENT_KEY="$2/device.key" QEMU_TIMEOUT=60 \
        cargo run --quiet --profile board --locked --target thumbv7em-none-eabihf \
        >"$work/guest.out" 2>"$work/guest.err" || status=$?
    last=$(tail -n 1 "$work/guest.out")
    boot_ms=$((($(date +%s%N) - started_ns) / 1000000))
}

# expect_pass [POSTS]: exit 0, a passing report, and POSTS (default 1) POSTs at the endpoint.
expect_pass() {
    [ "$status" -eq 0 ] || fail "QEMU exited with $status, expected 0: $(tail -n 5 "$work/guest.out") $(cat "$work/guest.err")"
    case "$last" in
        '{"result":"pass"'*'"http_status":200'*) ;;
        *) fail "the last line is not a passing JSON report: $last" ;;
    esac
    local posts
    posts=$(grep -c 'POST /topics/freertos%2Fdemo%2Fhttps?qos=1 -> 200' "$work/server.log" || true)
    [ "$posts" -eq "${1:-1}" ] ||
        fail "the endpoint recorded $posts POSTs, expected ${1:-1}: $(cat "$work/server.log")"
}

say "1. P-256 device key, server localhost (must pass)"
start_server "$work/ec" ec
say "endpoint on 127.0.0.1:$port"
boot localhost "$work/ec"
cat "$work/guest.out"
expect_pass
say "pass: exit 0, JSON report, the endpoint answered the POST with 200"
# Every frame the card received was whole: a misread RX FIFO (one word too many or too few)
# desynchronises the status words that follow, and frames are then dropped as malformed.
grep -q 'LAN9118: [0-9]* frames received, 0 dropped' "$work/guest.out" ||
    fail "the card dropped frames: $(grep 'LAN9118:' "$work/guest.out")"
say "pass: no frame dropped by the card"

# Receive is driven by the LAN9118's interrupt: the TCP handshake takes a few milliseconds.
# Without it the IP task only looks at the card on its timed wake-ups, and connecting takes
# about a second (measured), so this catches a broken interrupt path.
connect_ms=$(printf '%s' "$last" | sed -n 's/.*"connect":\([0-9]*\).*/\1/p')
[ -n "$connect_ms" ] && [ "$connect_ms" -lt 500 ] ||
    fail "connecting took ${connect_ms:-?} ms: the card's interrupt is not waking the IP task"
say "pass: connected in $connect_ms ms (interrupt-driven receive)"

# The board counts the handshake's processor time (the kernel's run-time statistics on the
# CMSDK timer, for scripts/bench-cortex-m.sh): it must be there, non-zero, and no more than the
# whole boot took on the host's clock. (Not the handshake's own duration in the report: that
# is on the kernel's ticks, which QEMU delivers late, and drops, when the host is loaded; the
# timer's count follows QEMU's virtual clock, which keeps host time.)
busy_ns=$(printf '%s' "$last" | sed -n 's/.*"handshake_busy_ns":\([0-9]*\).*/\1/p')
handshake_ms=$(printf '%s' "$last" | sed -n 's/.*"handshake":\([0-9]*\)\..*/\1/p')
[ -n "$busy_ns" ] && [ "$busy_ns" -gt 0 ] && [ "$busy_ns" -le $((boot_ms * 1000000)) ] ||
    fail "handshake_busy_ns is ${busy_ns:-missing} for a boot of ${boot_ms} ms"
say "pass: the handshake cost $busy_ns ns of processor time (${handshake_ms:-?} ms on the tick clock, boot ${boot_ms} ms)"

image=target/thumbv7em-none-eabihf/board/http-mutual-auth-demo
./scripts/check-float-abi.sh "$image"
if command -v arm-none-eabi-size >/dev/null 2>&1; then
    arm-none-eabi-size -A "$image" | awk '
        $1 == ".vector_table" || $1 == ".text" || $1 == ".p256-cortex-m4" || $1 == ".rodata" { flash += $2 }
        $1 == ".data" { flash += $2; ram += $2 }
        $1 == ".bss" || $1 == ".uninit" { ram += $2 }
        END { printf "[test-cortex-m] image size: flash (vectors+text+p256+rodata+data) %d B, RAM (data+bss, FreeRTOS heap included) %d B\n", flash, ram }'
fi

say "2. the same image with the endpoint gone (must fail with 1)"
stop_server
boot localhost "$work/ec"
[ "$status" -eq 1 ] || fail "QEMU exited with $status, expected 1: $(tail -n 5 "$work/guest.out")"
case "$last" in
    '{"result":"fail"'*'refused'*) ;;
    *) fail "the last line is not a JSON report of a refused connection: $last" ;;
esac
say "pass: exit 1, the report names the refused connection"

say "3. RSA-2048 device key, server 127.0.0.1, 5 cycles of 2 publishes each (must pass, heap stable)"
start_server "$work/rsa" rsa
say "endpoint on 127.0.0.1:$port"
boot 127.0.0.1 "$work/rsa" 5 2
expect_pass 10
case "$last" in
    *'"publishes":2,"publishes_completed":10,"publishes_resent":0,"connections":5,'*) ;;
    *) fail "expected 10 publishes over 5 connections: $last" ;;
esac
free=$(printf '%s' "$last" | sed -n 's/.*"heap_free_per_iteration":\[\([0-9,]*\)\].*/\1/p')
[ "$(printf '%s\n' "$free" | tr ',' '\n' | wc -l)" -eq 5 ] && [ "$(printf '%s\n' "$free" | tr ',' '\n' | sort -u | wc -l)" -eq 1 ] ||
    fail "free heap after each of 5 cycles should be one figure: [$free]"
say "pass: exit 0 with an RSA device key, 10 POSTs over 5 connections, free heap the same after each cycle ($free)"

say "3b. the same over a flaky link (IOT_LINK_FAULTS: loss, reordering, duplicates; must pass)"
# The board's stacks are sized to measured peaks (src/board/mps2_an386/port.rs): the deepest
# paths are the RSA signature (demo task) and retransmissions with frames held by the fault
# injector (IP task). The kernel's overflow check would end the boot with 70.
stop_server
start_server "$work/rsa-flaky" rsa
LINK_FAULTS="drop=10%,reorder=5%,duplicate=5%,delay=5ms,seed=11" boot 127.0.0.1 "$work/rsa-flaky" 2
expect_pass 2
grep -q 'Link faults on: ' "$work/guest.out" || fail "the image did not turn the link faults on"
dropped=$(sed -n 's/.*LAN9118: [0-9]* frames received, \([0-9]*\) dropped.*/\1/p' "$work/guest.out")
[ "${dropped:-0}" -gt 0 ] || fail "no frame was dropped on the flaky link: $(grep 'LAN9118:' "$work/guest.out")"
stacks=$(grep -o "Stack of task '[A-Za-z]*': [0-9]* B never used of [0-9]* B (peak [0-9]* B)" "$work/guest.out" | tr '\n' ';')
[ -n "$stacks" ] || fail "the image did not report its stacks: $(tail -n 3 "$work/guest.out")"
say "pass: exit 0 over the flaky link ($dropped frames dropped), 2 POSTs; $stacks"

say "3c. a server chain like AWS IoT's: RSA-2048 root and intermediate, P-256 device key, TLS 1.3 and 1.2 (must pass)"
# The bundled endpoint serves the chain bench-servers.sh makes for the real-server benchmarks
# (openssl): the device verifies two RSA-2048 signatures, the intermediate's and the leaf's, and
# the leaf's RSA signature of the handshake (TLS 1.3 CertificateVerify).
stop_server
# shellcheck source=bench-servers.sh
source scripts/bench-servers.sh
make_bench_certs
for version in 1.3 1.2; do
    SERVER_ARGS="--tls-versions $version" start_server "$work/certs/endpoint" keep
    boot localhost "$work/certs/device-p256" 2
    expect_pass 2
    case "$last" in
        *'"tls":{"version":"TLSv'"$version"'"'*) ;;
        *) fail "expected TLS $version: $last" ;;
    esac
    stacks=$(grep -o "Stack of task '[A-Za-z]*': [0-9]* B never used of [0-9]* B (peak [0-9]* B)" "$work/guest.out" | tr '\n' ';')
    [ -n "$stacks" ] || fail "the image did not report its stacks: $(tail -n 3 "$work/guest.out")"
    peak=$(printf '%s' "$last" | sed -n 's/.*"heap_peak_used":\([0-9]*\).*/\1/p')
    say "pass: exit 0 over TLS $version and an RSA chain with an intermediate, 2 POSTs; peak heap $peak B; $stacks"
    stop_server
done

say "3d. nginx, a real server: the RSA chain, P-256 device key (must pass)"
command -v nginx >/dev/null || fail "nginx not found (scripts/ensure-deps.sh installs nginx-light)"
start_nginx
port=${server_port[nginx]}
boot localhost "$work/certs/device-p256" 2
[ "$status" -eq 0 ] || fail "QEMU exited with $status against nginx: $(tail -n 5 "$work/guest.out") $(cat "$work/guest.err")"
case "$last" in
    '{"result":"pass"'*'"http_status":200'*'"resumed_per_iteration":[false,true]'*) ;;
    *) fail "expected a pass with the second cycle resumed, against nginx: $last" ;;
esac
tls=$(printf '%s' "$last" | sed -n 's/.*"tls":{"version":"\([^"]*\)","cipher":"\([^"]*\)".*/\1 \2/p')
stop_servers
say "pass: exit 0 against nginx ($(server_version nginx)), $tls, HTTP 200, the second cycle resumed"

say "4. the RTOS layer's portable scenarios on the board"
status=0
QEMU_TIMEOUT=60 cargo run --quiet --profile board --locked --target thumbv7em-none-eabihf \
    --example board_rtos_scenarios >"$work/scenarios.out" 2>"$work/scenarios.err" || status=$?
cat "$work/scenarios.out"
total=$(grep -c '^\(PASS\|FAIL\) ' "$work/scenarios.out" || true)
[ "$status" -eq 0 ] && grep -q "^scenarios: $total passed, 0 failed" "$work/scenarios.out" &&
    [ "$total" -ge 10 ] ||
    fail "the scenarios exited with $status: $(grep -v '^PASS' "$work/scenarios.out") $(cat "$work/scenarios.err")"
say "pass: $total scenarios"

say "5. the fault paths: a task panic (exit 101), a kernel assert and a stack overflow (exit 70)"
# fault SCENARIO STATUS TEXT: the scenario alone must end the boot with STATUS and print TEXT.
fault() {
    status=0
    BOARD_SCENARIO=$1 QEMU_TIMEOUT=60 cargo run --quiet --profile board --locked \
        --target thumbv7em-none-eabihf --example board_rtos_scenarios \
        >"$work/fault.out" 2>&1 || status=$?
    [ "$status" -eq "$2" ] && grep -qF "$3" "$work/fault.out" ||
        fail "$1: exit $status (expected $2), output: $(tail -n 3 "$work/fault.out")"
    say "pass: $1 exits $2: $(grep -F "$3" "$work/fault.out")"
}
fault task_panic 101 "panic in task 'boom'"
fault kernel_assert 70 "FreeRTOS assert failed: "
fault stack_overflow 70 "stack overflow in task 'deep'"
