#!/usr/bin/env bash
# Measures the Cortex-M4F image (QEMU mps2-an386) for a P-256 and an RSA-2048 device key and
# writes bench/CORTEX-M.md:
#
# * flash: .vector_table + .text + .p256-cortex-m4 (the P-256 assembly) + .rodata (+ .data's
#   initial values), from the ELF;
# * RAM: .data + .bss without the FreeRTOS heap array, plus the heap's peak use (the JSON
#   report's heap_peak_used: task stacks are heap blocks, so they are in it);
# * each task's stack high-water mark, as the image reports it at the end (the kernel's fill
#   pattern never overwritten);
# * the TLS handshake in emulated instructions: QEMU runs with `-icount shift=0`, where the
#   virtual clock advances 1 ns per instruction; the kernel's run-time statistics count on the
#   board's 25 MHz CMSDK timer, and the image reports the handshake's time outside the idle
#   task (JSON `handshake_busy_ns`), i.e. the instructions the CPU executed for it, waits for
#   the server excluded. Each key is booted RUNS times (default 3) to show how repeatable it is.
#   The image runs two cycles (IOT_ITERATIONS=2): the first is a full handshake, the second
#   resumes its TLS session (JSON `resumed_per_iteration`, `handshake_busy_ns_per_iteration`),
#   so each boot measures both. The figures below that are not about resumption (flash, peak
#   heap, stacks) are for a run of two cycles.
#
# * connection reuse: the P-256 image built with IOT_PUBLISHES=N (default 5) sends N publishes
#   over one connection; the instructions of the first publish (TCP connect, handshake and
#   request) and of each later one (the request alone), from the JSON publish_summary.
#
#   scripts/bench-cortex-m.sh            # RUNS=3 by default
#   REUSE_ONLY=1 scripts/bench-cortex-m.sh   # only the connection reuse figures, printed
#
# The image is built with `--profile board` (size-optimised, fat LTO), as scripts/test-cortex-m.sh
# tests it. Network: loopback and QEMU's user network only.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bench-cortex-m] %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

runs=${RUNS:-3}
profile=board
target=thumbv7em-none-eabihf
image=target/$target/$profile/http-mutual-auth-demo
report=bench/CORTEX-M.md
command -v qemu-system-arm >/dev/null || fail "qemu-system-arm not found (scripts/ensure-deps.sh installs it)"
command -v arm-none-eabi-size >/dev/null || fail "arm-none-eabi-size not found (binutils-arm-none-eabi)"

work=$(mktemp -d)
trap 'stop_server; rm -rf "$work"' EXIT
# shellcheck source=lib/endpoint.sh
source scripts/lib/endpoint.sh
# shellcheck source=bench-servers.sh
source scripts/bench-servers.sh

# json FIELD FILE: a number field of the last line's JSON report.
json() { tail -n 1 "$2" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
# list FIELD FILE: the elements of an array field of the last line's JSON report, comma-separated.
list() { tail -n 1 "$2" | sed -n "s/.*\"$1\":\[\([^]]*\)\].*/\1/p"; }
section() { arm-none-eabi-size -A "$image" | awk -v s="$1" '$1 == s { found = 1; print $2 } END { if (!found) print 0 }'; }
# code: .text and the P-256 assembly's own section (p256-cm4 puts its code in
# .p256-cortex-m4, which is flash too).
code() { echo $(($(section .text) + $(section .p256-cortex-m4))); }

# flash_by_part: the image's text and rodata symbols summed by where they come from, as table
# rows. Mbed TLS's C is told by the symbols its archives define (every configuration built for
# the target, so the names are all there), the rest by (demangled) name.
flash_by_part() {
    local nm
    nm="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-nm"
    [ -x "$nm" ] || { echo "| (llvm-nm missing: rustup component add llvm-tools) | |"; return; }
    for lib in target/"$target"/"$profile"/build/mbedtls-rs-sys-*/out/mbedtls/lib/*.a; do
        arm-none-eabi-nm --defined-only "$lib" 2>/dev/null | awk 'NF >= 3 { print $3 }'
    done | sort -u >"$work/mbedtls.syms"
    "$nm" -S --size-sort --radix=d --demangle "$image" | awk '
        NR == FNR { c_lib[$1] = 1; next }
        NF >= 4 {
            size = $2 + 0; kind = tolower($3)
            if (kind != "t" && kind != "r") next
            name = $4; for (i = 5; i <= NF; i++) name = name " " $i
            if (name in c_lib) part = "Mbed TLS (C)"
            else if (name ~ /freertos_https::net/) part = "network glue and the smoltcp backend (src/net)"
            else if (name ~ /smoltcp/) part = "smoltcp"
            else if (name ~ /freertos_https::demo/) part = "the demo (src/demo)"
            else if (name ~ /freertos_https::tls/) part = "TLS glue (src/tls)"
            else if (name ~ /freertos_https::board/) part = "the board (src/board/mps2_an386)"
            else if (name ~ /freertos_https/) part = "RTOS layer and the rest of the crate"
            else if (name ~ /iot_http|httparse/) part = "HTTP client (iot-http, httparse)"
            else if (name ~ /iot_publish/) part = "AWS IoT publish request (iot-publish)"
            else if (name ~ /p256_cm4|^P256_/) part = "P-256 in Cortex-M4 assembly (p256-cm4)"
            else if (name ~ /mbedtls_rs_sys/) part = "mbedtls-rs-sys (Rust hooks)"
            else if (name ~ /core::fmt|fmt::/) part = "core::fmt"
            else if (name ~ /core::|alloc::|compiler_builtins|^__aeabi|^<(u|i)[0-9]+|^<char>|^<str>/) part = "core, alloc, compiler-builtins"
            else if (name ~ /^[xvpu][A-Z]|^prv|^ul[A-Z]|Task|Queue/) part = "FreeRTOS kernel and shim"
            else if (name ~ /^_|^str|^mem/) part = "newlib"
            else part = "other (outlined code, anonymous constants)"
            sum[part] += size; total += size
        }
        END { for (p in sum) printf "| %s | %d |\n", p, sum[p]; printf "| **all sized symbols** | **%d** |\n", total }
    ' "$work/mbedtls.syms" - | sort -t'|' -k3 -nr
}

# -- reuse: the instructions of a publish after the first, over one kept-alive connection.
reuse_publishes=${CORTEX_REUSE_PUBLISHES:-5}
# measure_reuse: builds the P-256 image with IOT_PUBLISHES, boots it $runs times; sets
# $rows_reuse (table rows) and $reuse_summary.
measure_reuse() {
    say "P-256 device key, $reuse_publishes publishes over one connection: building and booting $runs times"
    start_server "$work/ec-reuse" ec
    IOT_ENDPOINT=localhost IOT_PORT="$port" IOT_ATTEMPTS=1 IOT_JSON=1 IOT_PUBLISHES="$reuse_publishes" \
        IOT_ROOT_CA="$work/ec-reuse/ca.pem" IOT_CLIENT_CERT="$work/ec-reuse/device.pem" \
        IOT_CLIENT_KEY="$work/ec-reuse/device.key" \
        cargo build --quiet --profile "$profile" --locked --target "$target"
    rows_reuse=
    local run out status figures firsts=() laters=()
    for run in $(seq 1 "$runs"); do
        out="$work/reuse-$run.out"
        status=0
        QEMU_TIMEOUT=120 QEMU_ARGS="-icount shift=0" scripts/qemu-run.sh "$image" >"$out" 2>&1 || status=$?
        [ "$status" -eq 0 ] || fail "reuse run $run: QEMU exited with $status: $(tail -n 5 "$out")"
        # "first later connections handshake": instructions of the publish that opened the
        # connection, the median of the later ones, connections, the handshake alone.
        figures=$(tail -n 1 "$out" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
s = r["publish_summary"]
assert r["result"] == "pass" and r["publishes_completed"] == r["publishes"], r["error"]
print(s["new_connection"]["median_busy_ns"], s["reused"]["median_busy_ns"], r["connections"],
      r["handshake_busy_ns"])') || fail "reuse run $run: no passing report with publish figures: $(tail -n 1 "$out")"
        read -r first later connections handshake <<<"$figures"
        firsts+=("$first")
        laters+=("$later")
        rows_reuse+="| $run | $connections | $(mi "$handshake") | $(mi "$first") | $(awk -v n="$later" 'BEGIN { printf "%.3f M", n / 1e6 }') | $(awk -v a="$first" -v b="$later" 'BEGIN { printf "%.0fx", a / b }') |"$'\n'
    done
    stop_server
    first=$(printf '%s\n' "${firsts[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    later=$(printf '%s\n' "${laters[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    reuse_summary="P-256, $reuse_publishes publishes over one connection: first publish $first instructions, each later one $later (medians)"$'\n'
}
mi() { awk -v n="$1" 'BEGIN { printf "%.2f M", n / 1e6 }'; }
if [ "${REUSE_ONLY:-0}" = 1 ]; then
    measure_reuse
    printf '| run | connections | handshake | first publish (connect, handshake, request) | each later publish (median) | first / later |\n'
    printf '%s' "$rows_reuse"
    printf '%s' "$reuse_summary"
    exit 0
fi

rows_size=
rows_ram=
rows_stack=
rows_insn=
rows_resume=
summary=
# start_endpoint_for KEY: the bundled endpoint with certificates for KEY (ec, rsa: a P-256 or
# RSA-2048 device key and the endpoint's own ECDSA chain; aws: a P-256 device key and a server
# chain like AWS IoT's, an RSA-2048 root and intermediate, as bench-servers.sh makes it for
# the real-server benchmarks); sets $creds, the device's ca.pem, device.pem and device.key.
start_endpoint_for() {
    case $1 in
        ec | rsa)
            start_server "$work/$1" "$1"
            creds=$work/$1
            ;;
        aws)
            [ -f "$work/certs/root.pem" ] || make_bench_certs
            creds=$work/certs/device-p256
            start_server "$work/certs/endpoint" keep
            ;;
    esac
}

for key in ec rsa aws; do
    case $key in
        ec) label="P-256" ;;
        rsa) label="RSA-2048" ;;
        aws) label="P-256, RSA chain" ;;
    esac
    say "$label: building and booting $runs times under -icount shift=0"
    start_endpoint_for "$key"
    IOT_ENDPOINT=localhost IOT_PORT="$port" IOT_ATTEMPTS=1 IOT_JSON=1 IOT_ITERATIONS=2 \
        IOT_ROOT_CA="$creds/ca.pem" IOT_CLIENT_CERT="$creds/device.pem" \
        IOT_CLIENT_KEY="$creds/device.key" \
        cargo build --quiet --profile "$profile" --locked --target "$target"
    text=$(code)
    rodata=$(section .rodata)
    vectors=$(section .vector_table)
    data=$(section .data)
    bss=$(section .bss)
    heap_array=$(arm-none-eabi-nm -S --radix=d "$image" | awk '$4 == "ucHeap" { print $2 + 0 }')
    flash=$((vectors + text + rodata + data))
    static_ram=$((data + bss - heap_array))
    [ "$key" = ec ] && breakdown=$(flash_by_part)
    insns=()
    resumed_insns=()
    peak=
    for run in $(seq 1 "$runs"); do
        out="$work/$key-$run.out"
        status=0
        QEMU_TIMEOUT=120 QEMU_ARGS="-icount shift=0" scripts/qemu-run.sh "$image" >"$out" 2>&1 || status=$?
        [ "$status" -eq 0 ] || fail "$label run $run: QEMU exited with $status: $(tail -n 5 "$out")"
        tail -n 1 "$out" | grep -q '^{"result":"pass"' || fail "$label run $run: no passing report: $(tail -n 1 "$out")"
        [ "$(list resumed_per_iteration "$out")" = "false,true" ] ||
            fail "$label run $run: the second cycle did not resume: $(list resumed_per_iteration "$out")"
        busy_both=$(list handshake_busy_ns_per_iteration "$out")
        busy=${busy_both%%,*}
        resumed_busy=${busy_both#*,}
        case "$busy$resumed_busy" in
            '' | *[!0-9]*) fail "$label run $run: no handshake_busy_ns_per_iteration in the report" ;;
        esac
        insns+=("$busy")
        resumed_insns+=("$resumed_busy")
        run_peak=$(json heap_peak_used "$out")
        if [ -z "$peak" ] || [ "$run_peak" -gt "$peak" ]; then peak=$run_peak; fi
        [ "$run" -eq 1 ] && cp "$out" "$work/$key.first"
        tls=$(tail -n 1 "$out" | sed -n 's/.*"tls":{"version":"\([^"]*\)","cipher":"\([^"]*\)".*/\1 \2/p')
    done
    stop_server
    stacks=$(sed -n "s/.*Stack of task '\([^']*\)': \([0-9]*\) B never used of \([0-9]*\) B (peak \([0-9]*\) B)\./\1 \4 \3/p" "$work/$key.first")
    [ -n "$stacks" ] || fail "$label: the image reported no stack use"
    sorted=$(printf '%s\n' "${insns[@]}" | sort -n)
    min=$(printf '%s\n' "$sorted" | head -n 1)
    max=$(printf '%s\n' "$sorted" | tail -n 1)
    median=$(printf '%s\n' "$sorted" | sed -n "$(((runs + 1) / 2))p")
    mi() { awk -v n="$1" 'BEGIN { printf "%.2f M", n / 1e6 }'; }
    kb() { awk -v n="$1" 'BEGIN { printf "%.1f KB", n / 1000 }'; }
    rows_size+="| $label | $text | $rodata | $((vectors + data)) | **$flash ($(kb "$flash"))** |"$'\n'
    stack_total=$(printf '%s\n' "$stacks" | awk '{ total += $3 } END { print total }')
    rows_ram+="| $label | $data | $((bss - heap_array)) | $peak | $stack_total | $((peak - stack_total)) | **$((static_ram + peak)) ($(kb $((static_ram + peak))))** |"$'\n'
    while read -r name used size; do
        rows_stack+="| $label | $name | $used | $size | $((size - used)) |"$'\n'
    done <<<"$stacks"
    rows_insn+="| $label | $tls | $(mi "$median") | $(mi "$min") – $(mi "$max") | $(printf '%s ' "${insns[@]}")|"$'\n'
    resumed_median=$(printf '%s\n' "${resumed_insns[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    rows_resume+="| $label | $tls | $(mi "$median") | $(mi "$resumed_median") | $(awk -v f="$median" -v r="$resumed_median" 'BEGIN { printf "%.1f x", f / r }') | $(printf '%s ' "${resumed_insns[@]}")|"$'\n'
    summary+="$label: resumed handshake median $resumed_median instructions"$'\n'
    eval "flash_$key=$flash peak_$key=$peak median_$key=$median stack_total_$key=$stack_total"
    summary+="$label: flash $flash B, peak heap $peak B, handshake median $median instructions"$'\n'
done

# variant NAME CARGO-ARGS...: the P-256 image built once more with other cargo features, booted
# once (it must still pass); sets $v_flash, $v_text, $v_rodata, $v_other and $v_peak.
variant() {
    local name=$1
    shift
    say "P-256 device key with $*: building and booting once"
    start_server "$work/ec-$name" ec
    IOT_ENDPOINT=localhost IOT_PORT="$port" IOT_ATTEMPTS=1 IOT_JSON=1 \
        IOT_ROOT_CA="$work/ec-$name/ca.pem" IOT_CLIENT_CERT="$work/ec-$name/device.pem" \
        IOT_CLIENT_KEY="$work/ec-$name/device.key" \
        cargo build --quiet --profile "$profile" --locked --target "$target" "$@"
    status=0
    QEMU_TIMEOUT=120 scripts/qemu-run.sh "$image" >"$work/$name.out" 2>&1 || status=$?
    stop_server
    [ "$status" -eq 0 ] && tail -n 1 "$work/$name.out" | grep -q '^{"result":"pass"' ||
        fail "$*: QEMU exited with $status: $(tail -n 3 "$work/$name.out")"
    v_text=$(code)
    v_rodata=$(section .rodata)
    v_other=$(($(section .vector_table) + $(section .data)))
    v_flash=$((v_text + v_rodata + v_other))
    v_peak=$(json heap_peak_used "$work/$name.out")
}

# Every log call compiled out (feature `logs-off`): the flash that logging costs (the C
# reference's 203 KB estimate is with logs off).
variant logs-off --features logs-off
flash_quiet=$v_flash
rows_size+="| P-256, logs off (\`--features logs-off\`) | $v_text | $v_rodata | $v_other | **$v_flash ($(awk -v n="$v_flash" 'BEGIN { printf "%.1f KB", n / 1000 }'))** |"$'\n'
summary+="P-256, logs off: flash $v_flash B"$'\n'
# A 4 KiB incoming TLS record buffer instead of 16 KiB (feature `tls-small-records`): only for
# servers known never to send larger records (see the README), so not the default.
variant tls-small-records --features tls-small-records
peak_small=$v_peak
summary+="P-256, tls-small-records: peak heap $v_peak B"$'\n'

# -- reuse: publishes over one connection.
measure_reuse
summary+=$reuse_summary

# verdict VALUE LIMIT UNIT: "met" or "missed by N UNIT (P %)".
verdict() {
    if [ "$1" -le "$2" ]; then
        printf 'met (%s %s under)' "$(($2 - $1))" "$3"
    else
        printf '**missed** by %s %s (%s %% over)' "$(($1 - $2))" "$3" \
            "$(awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (a - b) * 100 / b }')"
    fi
}

mkdir -p bench
{
    echo "# Cortex-M4F image (QEMU mps2-an386): size, memory, stacks, handshake cost"
    echo
    echo "Generated by \`scripts/bench-cortex-m.sh\` (RUNS=$runs) on $(date -u +%Y-%m-%d);"
    echo "$(rustc --version), $(qemu-system-arm --version | head -n 1)."
    echo "Image: \`cargo build --profile board --target $target\` (opt-level \"z\", fat LTO,"
    echo "one codegen unit, panic = abort; Mbed TLS MinSizeRel with the board's trimmed"
    echo "configuration), credentials embedded, log level info. Each key type gets fresh"
    echo "certificates from \`iot-server gen-certs --device-key ec|rsa\` (the server chain is"
    echo "ECDSA P-256 either way) and two demo cycles against the bundled endpoint on loopback."
    echo "The third column is a P-256 device key with a server chain like AWS IoT's: an RSA-2048"
    echo "root and intermediate, the server sending leaf and intermediate (openssl, as"
    echo "scripts/bench-servers.sh makes it), from the same endpoint."
    echo
    echo "## Against the targets"
    echo
    echo "| target | P-256 device key | RSA-2048 device key | P-256 device key, RSA chain like AWS IoT's |"
    echo "|---|---|---|---|"
    echo "| flash <= 180 KB (180,000 B) | $flash_ec B: $(verdict "$flash_ec" 180000 B) | $flash_rsa B: $(verdict "$flash_rsa" 180000 B) | $flash_aws B: $(verdict "$flash_aws" 180000 B) |"
    echo "| flash, logs off (\`--features logs-off\`) | $flash_quiet B: $(verdict "$flash_quiet" 180000 B) | | |"
    echo "| peak FreeRTOS heap <= 48 KB (48,000 B) | $peak_ec B: $(verdict "$peak_ec" 48000 B) | $peak_rsa B: $(verdict "$peak_rsa" 48000 B) | $peak_aws B: $(verdict "$peak_aws" 48000 B) |"
    echo "| peak heap, 4 KiB incoming records (\`tls-small-records\`, not the default) | $peak_small B: $(verdict "$peak_small" 48000 B) | | |"
    echo "| P-256 ECDHE handshake <= 40 M instructions | $median_ec: $(verdict "$median_ec" 40000000 instructions) | (no target; $median_rsa) | $median_aws: $(verdict "$median_aws" 40000000 instructions) |"
    echo
    echo "The C reference: ~203 KB of flash estimated with logs off; 60.6 M instructions for the"
    echo "handshake on an emulated Cortex-M3 (mps2-an385)."
    echo
    echo "What the figures come from (measured here; the README's Cortex-M section has more):"
    echo
    mbed_kb=$(printf '%s\n' "$breakdown" | awk -F'|' '$2 ~ /Mbed TLS \(C\)/ { printf "%.1f", $3 / 1000 }')
    echo "- flash: Mbed TLS's C alone is $mbed_kb KB (table below) of the 180 KB; the client"
    echo "  configuration keeps TLS 1.2 and 1.3, RSA and ECDSA, P-256 and P-384 (AWS IoT's chains)."
    echo "  smoltcp, \`core\`, the demo, the kernel and the glue are the rest (table below)."
    echo "- heap: the task stacks are heap blocks ($((stack_total_ec / 1024)) KiB of the peak, sizes in *Task stacks*"
    echo "  below; frames cross the link by reference, so no task's stack holds a 1.5 KB frame). Of"
    echo "  the rest ($(((peak_ec - stack_total_ec) / 1000)) KB with a P-256 key, $(((peak_rsa - stack_total_rsa) / 1000)) KB with RSA-2048)"
    echo "  Mbed TLS's record buffers are the largest part: 16 KiB in (any server), 2 KiB out."
    echo "- handshake: every P-256 scalar multiplication (ECDHE, the ECDSA signature, both halves"
    echo "  of each ECDSA verification) runs in \`p256-cm4\` (Cortex-M4 assembly, constant time)"
    echo "  behind Mbed TLS's ECP hook (src/tls/ecp_hook.rs); with Mbed TLS's portable C"
    echo "  (-Os, no \`MBEDTLS_HAVE_ASM\`) the same handshake was 70.1 M instructions. An RSA-2048"
    echo "  device key adds one RSA signature, an RSA server chain two RSA-2048 verifications"
    echo "  (public exponent), both in src/tls/montgomery.rs (portable Rust, behind Mbed TLS's"
    echo "  exponentiation)."
    echo
    echo "## Flash (bytes)"
    echo
    echo "| device key | .text + .p256-cortex-m4 | .rodata | vectors + .data | flash |"
    echo "|---|---|---|---|---|"
    printf '%s' "$rows_size"
    echo
    echo "### Where the flash goes (P-256 image, symbol sizes in bytes)"
    echo
    echo "| part | bytes |"
    echo "|---|---|"
    printf '%s\n' "$breakdown"
    echo
    echo "## RAM (bytes)"
    echo
    echo "The FreeRTOS heap array (\`ucHeap\`, $heap_array B) is left out of .bss; what the heap"
    echo "is used for is its peak instead (\`heap_peak_used\`, the highest of the runs). Task"
    echo "stacks are heap blocks, so the peak includes them (their sizes, given at creation; the TCBs"
    echo "are not subtracted)."
    echo
    echo "| device key | .data | .bss without the heap | peak heap | of it task stacks | peak heap less stacks | RAM |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s' "$rows_ram"
    echo
    echo "## Task stacks (bytes, first run)"
    echo
    echo "High-water marks from the kernel (\`uxTaskGetStackHighWaterMark\`: the fill pattern"
    echo "never overwritten), reported by the image over semihosting at the end of the run."
    echo
    echo "| device key | task | peak used | size | never used |"
    echo "|---|---|---|---|---|"
    printf '%s' "$rows_stack"
    echo
    echo "## TLS handshake in emulated instructions"
    echo
    echo "QEMU with \`-icount shift=0\` (1 ns of virtual time per instruction). The kernel's"
    echo "run-time statistics run on the CMSDK timer at 25 MHz (40 instructions a count), and the"
    echo "image reports the handshake's processor time outside the idle task, from the start of"
    echo "the TLS handshake (TCP connected) to its end: the demo task, the IP task and interrupts,"
    echo "not the time spent waiting for the server. Runs differ a little because both sides"
    echo "draw fresh random values (key shares, signature nonces, Mbed TLS's blinding) and"
    echo "frames arrive at different points of the guest's execution."
    echo
    echo "| device key | negotiated | median | min – max | every run |"
    echo "|---|---|---|---|---|"
    printf '%s' "$rows_insn"
    echo
    echo "## TLS session resumption"
    echo
    echo "The same boots: the second cycle offers the session the first one kept in RAM (a TLS"
    echo "1.3 ticket from the bundled endpoint's session cache), and the server resumes it: no"
    echo "certificates are sent or verified and the device signs nothing; the (EC)DHE key"
    echo "exchange stays (psk_dhe_ke). Instructions counted as above."
    echo
    echo "| device key | negotiated | full handshake (median) | resumed (median) | full / resumed | every resumed run |"
    echo "|---|---|---|---|---|---|"
    printf '%s' "$rows_resume"
    # -- reuse: publishes over one connection.
    echo
    echo "## Connection reuse: instructions per publish"
    echo
    echo "The P-256 image built with \`IOT_PUBLISHES=$reuse_publishes\`: $reuse_publishes publishes over one"
    echo "kept-alive connection to the bundled endpoint, under \`-icount shift=0\`. Each publish is"
    echo "timed in processor time outside the idle task from the end of the publish before (or the"
    echo "cycle's start): the first carries the TCP connect, the TLS handshake and its request; a"
    echo "later one its request and answer only (JSON \`publish_summary\`, medians)."
    echo
    echo "| run | connections | handshake | first publish (connect, handshake, request) | each later publish (median) | first / later |"
    echo "|---|---|---|---|---|---|"
    printf '%s' "$rows_reuse"
} >"$report"
say "wrote $report"
printf '%s' "$summary"
