#!/usr/bin/env bash
# The performance report: writes bench/REPORT.md (and prints where it is).
#
#   scripts/bench-report.sh            full run (a few minutes): 9 alternating demo/curl runs
#                                      per server and key, the small-record build, the network
#                                      benchmark, TLS session resumption (two cycles per run,
#                                      full then resumed handshake) and the code sizes
#   scripts/bench-report.sh --smoke    the same path with 2 runs each, without the small-record
#                                      build and the size report, into target/bench-smoke/
#                                      (CI runs this; well under a minute once built)
#   REUSE_PUBLISHES=N                  publishes per run in the connection reuse section
#                                      (default 20; 5 in a smoke run)
#
# Servers: nginx, Apache httpd (mod_ssl) and HAProxy from Debian packages (installed with
# apt-get if missing), and the bundled endpoint; each requires a client certificate, listens
# on 127.0.0.1 on a free port with its files in a temporary directory, and is stopped at the
# end. Device keys: RSA-2048 and P-256. The servers send a chain with an intermediate CA.
# Every measured demo run must pass: a failure is reported and makes the script exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

smoke=0
case ${1:-} in
--smoke) smoke=1 ;;
"") ;;
*)
    echo "usage: scripts/bench-report.sh [--smoke]" >&2
    exit 2
    ;;
esac
runs=${RUNS:-9}
out=bench
if [ "$smoke" -eq 1 ]; then
    runs=2
    out=target/bench-smoke
fi

./scripts/ensure-deps.sh
# shellcheck source=scripts/bench-servers.sh
source scripts/bench-servers.sh
ensure_server_packages

echo "bench-report: building the demo, the endpoint and the heap plotter (release)"
cargo build --release --quiet --locked -p freertos-https -p iot-server -p freertos-https-harness \
    --bin http-mutual-auth-demo --bin iot-server --bin heap-plot --bin net-bench --bin tls-download
demo_default=$repo/target/release/http-mutual-auth-demo
variants=(default)
if [ "$smoke" -eq 0 ]; then
    echo "bench-report: building the small-record demo (target/small-records)"
    cargo build --release --quiet --locked -p freertos-https --bin http-mutual-auth-demo \
        --features tls-small-records --target-dir target/small-records
    variants+=(small)
fi
demo_binary() {
    case $1 in
    default) echo "$demo_default" ;;
    small) echo "$repo/target/small-records/release/http-mutual-auth-demo" ;;
    esac
}

work=$(mktemp -d)
trap 'stop_servers; rm -rf "$work"' EXIT
make_bench_certs
download_bytes=$((64 * 1024 * 1024))
[ "$smoke" -eq 0 ] || download_bytes=$((8 * 1024 * 1024))
make_download_file "$download_bytes"
servers=(nginx apache haproxy endpoint)
for server in "${servers[@]}"; do
    "start_$server"
done

results=$work/results.tsv
: > "$results"
failures=0

# One demo run: appends "server key variant demo wall_us result peak version cipher
# network_up connect handshake request disconnect total tcpip_stack" to $results.
run_demo() {
    local server=$1 key=$2 variant=$3 extra=("${@:4}") start end line
    start=$(date +%s%N)
    "$(demo_binary "$variant")" --endpoint localhost --port "${server_port[$server]}" \
        --root-ca "$work/certs/root.pem" --client-cert "$work/certs/device-$key.pem" \
        --client-key "$work/certs/device-$key.key" --attempts 1 --deadline 30 --json \
        --log-level off "${extra[@]}" > "$work/demo.out" 2> "$work/demo.err" || true
    end=$(date +%s%N)
    line=$(tail -1 "$work/demo.out")
    fields=$(python3 -c '
import json, sys
try:
    r = json.loads(sys.argv[1])
except ValueError:
    print("\t".join(["fail"] + ["-"] * 10)); sys.exit()
t = r["timings_ms"]
print("\t".join(str(x) for x in [r["result"], r["heap_peak_used"], r["tls"]["version"] or "-",
    r["tls"]["cipher"] or "-", t["network_up"], t["connect"], t["handshake"], t["request"],
    t["disconnect"], t["total"], r["tcpip_stack"]]))' "$line")
    if [ "${fields%%$'\t'*}" != pass ]; then
        failures=$((failures + 1))
        echo "bench-report: demo FAILED against $server ($key key, $variant records): $(tail -c 300 "$work/demo.err") $line" >&2
    fi
    printf '%s\t%s\t%s\tdemo\t%s\t%s\n' "$server" "$key" "$variant" $(((end - start) / 1000)) "$fields" >> "$results"
}

# One curl run, same request: "server key variant curl wall_us http_code connect appconnect
# starttransfer total".
run_curl() {
    local server=$1 key=$2 start end w
    start=$(date +%s%N)
    w=$(curl -s -o /dev/null --cacert "$work/certs/root.pem" --cert "$work/certs/device-$key.pem" \
        --key "$work/certs/device-$key.key" -X POST -H 'Content-Type: application/json' \
        -d '{"message":"Hello, world"}' \
        -w '%{http_code}\t%{time_connect}\t%{time_appconnect}\t%{time_starttransfer}\t%{time_total}' \
        "https://localhost:${server_port[$server]}/topics/freertos%2Fdemo%2Fhttps?qos=1" || true)
    end=$(date +%s%N)
    printf '%s\t%s\tdefault\tcurl\t%s\t%s\n' "$server" "$key" $(((end - start) / 1000)) "$w" >> "$results"
}

for server in "${servers[@]}"; do
    for key in rsa ec; do
        echo "bench-report: $server, $key device key: $runs demo and $runs curl runs, alternating"
        for _ in $(seq "$runs"); do
            run_demo "$server" "$key" default
            run_curl "$server" "$key"
        done
        for variant in "${variants[@]:1}"; do
            run_demo "$server" "$key" "$variant"
        done
    done
done

# TLS session resumption: each run does two cycles, the first a full handshake, the second
# offering the session the first one kept; the two handshakes of one run are a pair.
: > "$work/resume.tsv"
for server in "${servers[@]}"; do
    for key in rsa ec; do
        echo "bench-report: $server, $key device key: $runs two-cycle runs (full, then resumed handshake)"
        for _ in $(seq "$runs"); do
            "$demo_default" --endpoint localhost --port "${server_port[$server]}" \
                --root-ca "$work/certs/root.pem" --client-cert "$work/certs/device-$key.pem" \
                --client-key "$work/certs/device-$key.key" --attempts 1 --deadline 30 --json \
                --log-level off --iterations 2 > "$work/resume.out" 2> "$work/resume.err" || true
            if ! python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["result"] == "pass"
full, resumed = r["handshake_ms_per_iteration"]
print("\t".join([sys.argv[2], sys.argv[3], str(full), str(resumed),
    "yes" if r["resumed_per_iteration"] == [False, True] else "no", r["tls"]["version"]]))
' "$(tail -1 "$work/resume.out")" "$server" "$key" >> "$work/resume.tsv" 2> /dev/null; then
                failures=$((failures + 1))
                echo "bench-report: two-cycle demo FAILED against $server ($key key): $(tail -c 300 "$work/resume.err") $(tail -1 "$work/resume.out")" >&2
            fi
        done
    done
done

# -- reuse: N publishes over one kept-alive connection (--publishes N) against N fresh
# connections (--iterations N), alternating, per server and key. Appends "server key mode
# result completed connections network_up total first_median later_median new_mean" to
# $work/reuse.tsv (times in ms).
reuse_publishes=${REUSE_PUBLISHES:-20}
[ "$smoke" -eq 0 ] || reuse_publishes=5
reuse_servers=(endpoint nginx)
: > "$work/reuse.tsv"
run_reuse() {
    local server=$1 key=$2 mode=$3 line
    local count=(--publishes "$reuse_publishes")
    [ "$mode" = reuse ] || count=(--iterations "$reuse_publishes")
    "$demo_default" --endpoint localhost --port "${server_port[$server]}" \
        --root-ca "$work/certs/root.pem" --client-cert "$work/certs/device-$key.pem" \
        --client-key "$work/certs/device-$key.key" --attempts 1 --deadline 60 --json \
        --log-level off "${count[@]}" > "$work/reuse.out" 2> "$work/reuse.err" || true
    line=$(tail -1 "$work/reuse.out")
    fields=$(python3 -c '
import json, sys
try:
    r = json.loads(sys.argv[1])
except ValueError:
    print("\t".join(["fail"] + ["-"] * 7)); sys.exit()
s, t = r.get("publish_summary", {}), r["timings_ms"]
def get(kind, field):
    value = s.get(kind, {}).get(field)
    return "-" if value is None else value
print("\t".join(str(x) for x in [r["result"], r.get("publishes_completed", "-"),
    r.get("connections", "-"), t["network_up"], t["total"], get("new_connection", "median_ms"),
    get("reused", "median_ms"), get("new_connection", "mean_ms")]))' "$line")
    if [ "${fields%%$'\t'*}" != pass ]; then
        failures=$((failures + 1))
        echo "bench-report: reuse run ($mode) FAILED against $server ($key key): $(tail -c 300 "$work/reuse.err") $line" >&2
    fi
    printf '%s\t%s\t%s\t%s\n' "$server" "$key" "$mode" "$fields" >> "$work/reuse.tsv"
}
for server in "${reuse_servers[@]}"; do
    for key in rsa ec; do
        echo "bench-report: $server, $key device key: $runs runs of $reuse_publishes publishes over one connection and over fresh connections, alternating"
        for _ in $(seq "$runs"); do
            run_reuse "$server" "$key" reuse
            run_reuse "$server" "$key" fresh
        done
    done
done

# What curl and the server chose, once per server and key (curl's own build: OpenSSL).
declare -A curl_tls
for server in "${servers[@]}"; do
    for key in rsa ec; do
        curl_tls[$server.$key]=$(curl -sv -o /dev/null --cacert "$work/certs/root.pem" \
            --cert "$work/certs/device-$key.pem" --key "$work/certs/device-$key.key" \
            "https://localhost:${server_port[$server]}/" 2>&1 |
            sed -n 's/.*SSL connection using //p' | awk 'NR == 1')
    done
done
declare -A versions
for server in "${servers[@]}"; do
    versions[$server]=$(server_version "$server")
done

# The heap trace of one demo run (RSA key, nginx), for the plot.
echo "bench-report: one traced demo run (heap in use at every allocation and free)"
IOT_HEAP_TRACE=$work/heap-trace.csv "$demo_default" --endpoint localhost --port "${server_port[nginx]}" \
    --root-ca "$work/certs/root.pem" --client-cert "$work/certs/device-rsa.pem" \
    --client-key "$work/certs/device-rsa.key" --attempts 1 --deadline 30 --log-level off > /dev/null

# The demo task's real stack (its pthread's, painted: the JSON's app_stack_peak), per key,
# with each simulator card: the slirp card runs libslirp's host code on the task's thread when
# the task hands it a frame, the gateway card does not.
echo "bench-report: the demo task's stack, painted, per device key and card"
: > "$work/stack.tsv"
for key in rsa ec; do
    for card in slirp gateway; do
        FREERTOS_HTTPS_CARD=$card "$demo_default" --endpoint localhost --port "${server_port[nginx]}" \
            --root-ca "$work/certs/root.pem" --client-cert "$work/certs/device-$key.pem" \
            --client-key "$work/certs/device-$key.key" --attempts 1 --deadline 30 --json \
            --log-level off > "$work/stack.out" 2> "$work/stack.err" || true
        peak=$(tail -1 "$work/stack.out" | python3 -c '
import json, sys
try:
    r = json.loads(sys.stdin.read())
except ValueError:
    print("-"); sys.exit()
print(r.get("app_stack_peak") if r.get("result") == "pass" and r.get("app_stack_peak") else "-")')
        if [ "$peak" = - ]; then
            failures=$((failures + 1))
            echo "bench-report: stack run FAILED ($key key, $card card): $(tail -c 300 "$work/stack.err")" >&2
        fi
        printf '%s\t%s\t%s\n' "$key" "$card" "$peak" >> "$work/stack.tsv"
    done
done

# The download: through the device, then curl, alternating; ChaCha20 (the device's first
# choice, nginx honours it) and AES-128-GCM (the only cipher nginx-aes allows).
downloads=3
[ "$smoke" -eq 0 ] || downloads=1
echo "bench-report: $downloads mTLS downloads of $download_bytes B per cipher, device and curl"
: > "$work/download.tsv"
for server in nginx nginx-aes; do
    for _ in $(seq "$downloads"); do
        if line=$(./target/release/tls-download --port "${server_port[$server]}" \
            --root-ca "$work/certs/root.pem" --client-cert "$work/certs/device-rsa.pem" \
            --client-key "$work/certs/device-rsa.key" --path /download/blob.bin \
            --bytes "$download_bytes" 2> "$work/download.err"); then
            printf '%s\tdevice\t%s\n' "$server" "$line" | tr ' ' '\t' >> "$work/download.tsv"
        else
            failures=$((failures + 1))
            echo "bench-report: device download FAILED from $server: $(cat "$work/download.err")" >&2
        fi
        curl -s -o "$work/download.copy" --cacert "$work/certs/root.pem" \
            --cert "$work/certs/device-rsa.pem" --key "$work/certs/device-rsa.key" \
            -w "$server\tcurl\t%{size_download}\t%{time_total}\n" \
            "https://localhost:${server_port[$server]}/download/blob.bin" >> "$work/download.tsv"
        cmp -s "$work/download.copy" "$work/download/blob.bin" || {
            failures=$((failures + 1))
            echo "bench-report: curl's download from $server differs from the file" >&2
        }
    done
done
stop_servers

mkdir -p "$out"
./target/release/heap-plot --title "FreeRTOS heap in use: one demo run against nginx, RSA-2048 device key" \
    "$work/heap-trace.csv" "$out/heap.svg" > "$work/heap-owners.md"

echo "bench-report: the network benchmark"
./target/release/net-bench --report "$work/net.md" > /dev/null
if [ "$smoke" -eq 0 ]; then
    echo "bench-report: code sizes"
    ./scripts/size-report.sh > /dev/null
fi

# ---- the report ------------------------------------------------------------------------
# Column $6 of the rows of one server, key, variant and tool.
column_of() {
    awk -F'\t' -v s="$1" -v k="$2" -v v="$3" -v t="$4" -v c="$5" \
        '$1 == s && $2 == k && $3 == v && $4 == t { print $c }' "$results"
}
median() {
    sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
largest() { sort -g | tail -1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
key_name() { case $1 in rsa) echo "RSA-2048" ;; ec) echo "P-256" ;; esac; }
server_name() {
    case $1 in
    nginx) echo "nginx" ;; apache) echo "Apache httpd (mod_ssl)" ;; haproxy) echo "HAProxy" ;;
    endpoint) echo "bundled endpoint" ;;
    esac
}
# "met" or how far off: $1 measured, $2 target, $3 unit.
verdict() {
    awk -v m="$1" -v t="$2" -v u="$3" 'BEGIN {
        if (m == "-" || m == "") print "no figure";
        else if (m + 0 <= t + 0) print "met";
        else if (u == "B") printf "**over by %d B (%.1f %%)**\n", m - t, (m - t) * 100 / t;
        else printf "**missed by %.2fx**\n", m - t }'
}
# "met" or how far short of a minimum: $1 measured, $2 target, $3 unit.
at_least() {
    awk -v m="$1" -v t="$2" -v u="$3" 'BEGIN {
        if (m == "-" || m == "") print "no figure";
        else if (m + 0 >= t + 0) print "met";
        else printf "**short by %.1f %s (%.0f %%)**\n", t - m, u, (t - m) * 100 / t }'
}
passes() {
    column_of "$1" "$2" "$3" demo 6 | grep -c '^pass$' || true
}

report=$out/REPORT.md
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no -- . ":(exclude)$out" 2>/dev/null)" ] || commit="$commit + uncommitted changes"
aes=no
grep -qw aes /proc/cpuinfo 2>/dev/null && aes=yes
{
    echo "# Performance report"
    echo
    echo "Written by \`scripts/bench-report.sh$([ "$smoke" -eq 1 ] && echo " --smoke")\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit."
    [ "$smoke" -eq 0 ] || echo "**Smoke run** ($runs runs per cell, no small-record build): the figures only show that the report works."
    echo
    echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | awk 'NR == 1'), AES instructions: $aes; shared with other work, so ratios from one run matter more than absolute times."
    echo "$(rustc --version); $(curl --version | awk 'NR == 1' | cut -d' ' -f1-5)."
    echo
    echo "Servers, each requiring a client certificate, on 127.0.0.1: $(for s in "${servers[@]}"; do printf '%s; ' "${versions[$s]}"; done)"
    echo "Server chain as AWS IoT's ATS endpoints send: RSA-2048 leaf + RSA-2048 intermediate CA, under an RSA-2048 root the device trusts."
    echo "Device certificates from a P-256 device CA, with an RSA-2048 key (as the AWS IoT console issues) or a P-256 key."
    echo "The demo is the release build of \`http-mutual-auth-demo\` on the POSIX simulator (Mbed TLS incoming records 16 KiB, outgoing 2 KiB); curl does the same POST with the same credentials."
    echo
    echo "## Memory and time per server and device key"
    echo
    echo "$runs runs of the demo and $runs of curl per row, alternating, same server, same run. Peak heap: FreeRTOS heap_4 total less its minimum ever free, the largest of the runs. It includes the kernel's task control blocks and the blocks it takes for task stacks, which on this port hold only the thread record (512 B each: task code runs on its pthread's own stack; see *The demo task's stack* below). Times: process start to exit, medians."
    echo
    echo "| server | device key | demo passed | demo's TLS | curl's TLS | peak heap | target 50,000 B | demo | curl | demo / curl | target 1.5x (nginx) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for server in "${servers[@]}"; do
        for key in rsa ec; do
            peak=$(column_of "$server" "$key" default demo 7 | grep -v '^-$' | largest)
            demo_us=$(column_of "$server" "$key" default demo 5 | median)
            curl_us=$(column_of "$server" "$key" default curl 5 | median)
            ratio=$(calc "%.2f" "$demo_us / $curl_us")
            tls="$(column_of "$server" "$key" default demo 8 | awk 'NR == 1') $(column_of "$server" "$key" default demo 9 | awk 'NR == 1')"
            time_verdict="-"
            [ "$server" != nginx ] || time_verdict=$(verdict "$ratio" 1.5 x)
            echo "| $(server_name "$server") | $(key_name "$key") | $(passes "$server" "$key" default)/$runs | $tls | ${curl_tls[$server.$key]} | ${peak:--} B | $(verdict "${peak:--}" 50000 B) | $(calc "%.1f" "$demo_us / 1000") ms | $(calc "%.1f" "$curl_us / 1000") ms | ${ratio}x | $time_verdict |"
        done
    done
    echo
    # -- reuse: the cost per publish after the first, beside a fresh connection per publish.
    echo "## Connection reuse: the cost of a publish after the first"
    echo
    echo "$runs runs per row and mode, alternating: \`--publishes $reuse_publishes\` ($reuse_publishes publishes over one kept-alive mutual-TLS connection) and \`--iterations $reuse_publishes\` (a new connection, handshake and disconnect for each publish). A publish is timed from the end of the one before (or the start of its cycle) to its answer: one that opens its connection carries the TCP connect and the TLS handshake. \"Per publish, whole run\": the demo's own total less its network start-up, over $reuse_publishes (it includes disconnects and the waits for closed sockets). Medians over the runs; ms."
    echo
    echo "| server | device key | connections (one / fresh) | fresh: publish with its connection | fresh: per publish, whole run | one connection: first publish | one connection: each later publish | one connection: per publish, whole run | fresh / later publish |"
    echo "|---|---|---|---|---|---|---|---|---|"
    ms2() { if [ "$1" = "-" ]; then echo "-"; else calc "%.2f" "$1"; fi; }
    reuse_col() {
        awk -F'\t' -v s="$1" -v k="$2" -v m="$3" -v c="$4" '$1 == s && $2 == k && $3 == m && $4 == "pass" { print $c }' "$work/reuse.tsv"
    }
    per_publish() {
        awk -F'\t' -v s="$1" -v k="$2" -v m="$3" -v n="$reuse_publishes" '$1 == s && $2 == k && $3 == m && $4 == "pass" { print ($8 - $7) / n }' "$work/reuse.tsv"
    }
    for server in "${reuse_servers[@]}"; do
        for key in rsa ec; do
            fresh_publish=$(reuse_col "$server" "$key" fresh 9 | median)
            fresh_run=$(per_publish "$server" "$key" fresh | median)
            first=$(reuse_col "$server" "$key" reuse 9 | median)
            later=$(reuse_col "$server" "$key" reuse 10 | median)
            reuse_run=$(per_publish "$server" "$key" reuse | median)
            connections="$(reuse_col "$server" "$key" reuse 6 | largest) / $(reuse_col "$server" "$key" fresh 6 | largest)"
            ratio="-"
            [ "$later" = "-" ] || [ "$fresh_publish" = "-" ] || [ "$later" = 0 ] || ratio="$(calc "%.1f" "$fresh_publish / $later")x"
            echo "| $(server_name "$server") | $(key_name "$key") | $connections | $(ms2 "$fresh_publish") | $(ms2 "$fresh_run") | $(ms2 "$first") | $(ms2 "$later") | $(ms2 "$reuse_run") | $ratio |"
        done
    done
    echo
    if [ -f bench/CORTEX-M.md ] && grep -q '^## Connection reuse' bench/CORTEX-M.md; then
        echo "On the Cortex-M4 board (instructions, QEMU \`-icount shift=0\`): see the connection reuse section of [CORTEX-M.md]($(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' bench/CORTEX-M.md "$out"))."
        echo
    fi
    echo "## Where the time goes, phase by phase (medians, ms)"
    echo
    echo "Demo phases from its own clock (\`--json\` timings); curl's from \`-w\` (time_connect, time_appconnect, time_starttransfer, time_total). \"Process\" is start to exit as measured by this script; the rest of it is process start-up, the kernel's start and its exit."
    echo
    echo "| server | key | demo: network up | TCP connect | TLS handshake | request | disconnect | in process | process | curl: TCP connect | TLS handshake | request | in process | process |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for server in "${servers[@]}"; do
        for key in rsa ec; do
            row="| $(server_name "$server") | $(key_name "$key") |"
            for c in 10 11 12 13 14 15; do
                row="$row $(calc "%.2f" "$(column_of "$server" "$key" default demo $c | grep -v '^-$' | median)") |"
            done
            row="$row $(calc "%.2f" "$(column_of "$server" "$key" default demo 5 | median) / 1000") |"
            connect=$(column_of "$server" "$key" default curl 7 | median)
            appconnect=$(column_of "$server" "$key" default curl 8 | median)
            first_byte=$(column_of "$server" "$key" default curl 9 | median)
            total=$(column_of "$server" "$key" default curl 10 | median)
            row="$row $(calc "%.2f" "$connect * 1000") | $(calc "%.2f" "($appconnect - $connect) * 1000") | $(calc "%.2f" "($first_byte - $appconnect) * 1000") | $(calc "%.2f" "$total * 1000") | $(calc "%.2f" "$(column_of "$server" "$key" default curl 5 | median) / 1000") |"
            echo "$row"
        done
    done
    echo
    if [ "${#variants[@]}" -gt 1 ]; then
        echo "## Small records (incoming record buffer 4 KiB: \`--features tls-small-records\`)"
        echo
        echo "One run per row. A server that sends a record above 4 KiB fails this build: that is the feature's documented limit."
        echo
        echo "| server | device key | result | TLS | peak heap | target 36,000 B |"
        echo "|---|---|---|---|---|---|"
        for server in "${servers[@]}"; do
            for key in rsa ec; do
                peak=$(column_of "$server" "$key" small demo 7 | awk 'NR == 1')
                echo "| $(server_name "$server") | $(key_name "$key") | $(column_of "$server" "$key" small demo 6 | awk 'NR == 1') | $(column_of "$server" "$key" small demo 8 | awk 'NR == 1') $(column_of "$server" "$key" small demo 9 | awk 'NR == 1') | $peak B | $(verdict "$peak" 36000 B) |"
            done
        done
        echo
    fi
    echo "## TLS session resumption"
    echo
    echo "$runs runs per row of the demo with two cycles (\`--iterations 2\`): the first does a full handshake and keeps the session (a TLS 1.3 ticket), the second offers it. Handshake times from the demo's own clock (\`handshake_ms_per_iteration\`), medians of the pairs; \"resumed\" counts the runs whose second cycle the server resumed (\`resumed_per_iteration\`)."
    echo
    echo "| server | device key | TLS | resumed | full handshake | resumed handshake | full / resumed |"
    echo "|---|---|---|---|---|---|---|"
    for server in "${servers[@]}"; do
        for key in rsa ec; do
            rows() { awk -F'\t' -v s="$server" -v k="$key" -v c="$1" '$1 == s && $2 == k { print $c }' "$work/resume.tsv"; }
            ms2() { if [ "$1" = "-" ]; then echo "-"; else echo "$(calc "%.2f" "$1") ms"; fi; }
            full=$(rows 3 | median)
            resumed=$(rows 4 | median)
            ratio="-"
            [ "$full" = "-" ] || [ "$resumed" = "-" ] || ratio="$(calc "%.1f" "$full / $resumed")x"
            echo "| $(server_name "$server") | $(key_name "$key") | $(rows 6 | awk 'NR == 1') | $(rows 5 | grep -c '^yes$' || true)/$runs | $(ms2 "$full") | $(ms2 "$resumed") | $ratio |"
        done
    done
    echo
    echo "## mTLS download through the simulator"
    echo
    echo "GET of a $download_bytes-byte file from nginx (RSA-2048 device key), the body streamed through the HTTP client's body reader and every byte checked against the pattern it was written with (\`tls-download\`); curl fetches the same file with the same credentials (its copy compared with \`cmp\`). $downloads run(s) each, alternating; medians. Start of the TLS connection to the last byte."
    echo
    echo "| server's cipher | device | device's TLS | device peak heap | curl (OpenSSL, AES-NI) | target 50 MB/s |"
    echo "|---|---|---|---|---|---|"
    for server in nginx nginx-aes; do
        device_rate=$(awk -F'\t' -v s="$server" '$1 == s && $2 == "device" { print $5 }' "$work/download.tsv" | median)
        curl_rate=$(awk -F'\t' -v s="$server" '$1 == s && $2 == "curl" && $4 > 0 { print $3 / $4 / 1e6 }' "$work/download.tsv" | median)
        tls=$(awk -F'\t' -v s="$server" '$1 == s && $2 == "device" { print $6 " " $7; exit }' "$work/download.tsv")
        heap=$(awk -F'\t' -v s="$server" '$1 == s && $2 == "device" { print $8; exit }' "$work/download.tsv")
        label="client's order (ChaCha20-Poly1305 first)"
        [ "$server" = nginx ] || label="AES-128-GCM only"
        echo "| $label | $(calc "%.1f" "$device_rate") MB/s | $tls | ${heap:--} B | $(calc "%.1f" "$curl_rate") MB/s | $(at_least "$device_rate" 50 MB/s) |"
    done
    echo
    echo "Mbed TLS here is built without AES instructions (mbedtls-rs-sys 0.3.1 always leaves out \`MBEDTLS_AESNI_C\` and \`MBEDTLS_HAVE_ASM\`, and builds with CMake's MinSizeRel, \`-Os\`; the cmake crate drops \`-O\` flags from CFLAGS, so neither is a knob of this project): table AES-GCM is the slower cipher, so the device keeps ChaCha20-Poly1305 first. The peak heap includes the device's TCP receive and send buffers (8 KiB each, \`NetConfig\` defaults)."
    echo
    echo "## FreeRTOS heap through one demo run"
    echo
    echo "nginx, RSA-2048 device key, traced from heap_4's own hooks (\`traceMALLOC\`/\`traceFREE\`: every allocation and free is a sample; no polling), phases marked by the demo. Tracing suspends the scheduler around each allocation, so this run is slower than the timed ones; its heap figures are the same."
    echo
    echo "![heap in use over time](heap.svg)"
    echo
    cat "$work/heap-owners.md"
    echo
    echo "On the simulator the kernel's blocks for task stacks hold only the port's thread record: the POSIX port runs each task on a pthread with the host's default stack (\`pxPortInitialiseStack\` never hands the block to the thread), so they are the kernel's minimum, 512 B (FreeRTOSConfig.h). The tasks' real stacks are outside the FreeRTOS heap; the demo task's is measured below."
    echo
    echo "## The demo task's stack"
    echo
    echo "Its pthread's stack, painted when the task starts and scanned at the end of the run (\`board::posix::stack_paint\`, the JSON's \`app_stack_peak\`); nginx, one run each. This is x86-64 host code at the simulator's \`release\` profile, not a board's figure: the Cortex-M board reports each task's high-water mark (8.4-8.6 KB of its 11 KiB app stack; [CORTEX-M.md](CORTEX-M.md)). With the slirp card the figure includes libslirp's host code, which runs on the task's thread when the task hands the card a frame; the gateway card's does not."
    echo
    echo "| device key | slirp card | gateway card |"
    echo "|---|---|---|"
    for key in rsa ec; do
        slirp=$(awk -F'\t' -v k="$key" '$1 == k && $2 == "slirp" { print $3 }' "$work/stack.tsv")
        gateway=$(awk -F'\t' -v k="$key" '$1 == k && $2 == "gateway" { print $3 }' "$work/stack.tsv")
        echo "| $(key_name "$key") | ${slirp:--} B | ${gateway:--} B |"
    done
    echo
    echo "## Knobs, and which are per board"
    echo
    echo "| knob | where | per |"
    echo "|---|---|---|"
    echo "| incoming record buffer (16 KiB; 4 KiB with \`--features tls-small-records\`) | Cargo features of mbedtls-rs-sys | build, so per board image |"
    echo "| maximum fragment length (RFC 6066, TLS 1.2, if the server accepts it) | \`TlsConfig::max_fragment_length\` | connection (not on the demo's command line) |"
    echo "| Mbed TLS feature set (full on the simulator, client-only on Cortex-M) | Cargo.toml, per target | board |"
    echo "| Mbed TLS optimisation and AES instructions | fixed by mbedtls-rs-sys 0.3.1 (MinSizeRel, no AESNI/asm) | not a knob here |"
    echo "| task stacks | \`src/board/<board>/port.rs\` | board |"
    echo "| TCP socket buffers | \`NetConfig\` / \`TcpOptions\` | application |"
    echo "| FreeRTOS heap size | \`FREERTOS_HEAP_SIZE\` at build time | board |"
    echo "| cipher order (ChaCha20-Poly1305 before AES-GCM: Mbed TLS's default) | Mbed TLS defaults | build |"
    echo
    echo "## TCP/IP backends"
    echo
    echo "Backends the demo ran on in this report: $(awk -F'\t' '$4 == "demo" && $16 != "" && $16 != "-" { print $16 }' "$results" | sort -u | paste -sd, -)."
    echo
    echo "## The reference C demo (not measured here)"
    echo
    echo "Figures as quoted in issue #15 (FreeRTOS coreHTTP mutual-authentication demo, C):"
    echo
    echo "| measure | reference C demo | this report |"
    echo "|---|---|---|"
    echo "| peak heap, as shipped, over libpcap | 114,080 B | $(column_of nginx rsa default demo 7 | largest) B (nginx, RSA-2048) |"
    echo "| start to \"Demo completed\", as shipped / tuned, over libpcap | 1,816 ms / 619 ms | $(calc "%.1f" "$(column_of nginx rsa default demo 5 | median) / 1000") ms start to exit (nginx, RSA-2048) |"
    echo "| peak heap / start to completion over libslirp | 212,960 B / 1,514 ms | (above) |"
    echo "| Cortex-M4 text of coreHTTP, llhttp, backoffAlgorithm and its TLS transport | 25,278 B | see code sizes |"
    echo
    echo "## Code sizes"
    echo
    if [ "$smoke" -eq 0 ] && [ -f target/size-report.md ]; then
        sed 's/^# /### /' target/size-report.md
    else
        echo "(not measured in a smoke run: \`scripts/size-report.sh\`)"
    fi
    echo
    if [ -f bench/CORTEX-M.md ]; then
        echo "The Cortex-M4 board image: [CORTEX-M.md]($(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' bench/CORTEX-M.md "$out"))."
    else
        echo "The Cortex-M4 board image report (bench/CORTEX-M.md) is not there yet."
    fi
    echo
    echo "## Network benchmark"
    echo
    echo "\`net-bench\` (scripts/bench-net.sh). Its round-trip target is retired (issue #15): a device round trip on the POSIX port carries a kernel task switch and signal-mask system calls a host socket does not."
    echo
    sed 's/^# /### /' "$work/net.md"
} > "$report"
echo "bench-report: written $report (plot $out/heap.svg)"
if [ "$failures" -ne 0 ]; then
    echo "bench-report: $failures demo run(s) failed (see the report)" >&2
    exit 1
fi
