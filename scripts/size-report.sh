#!/usr/bin/env bash
# Prints the Cortex-M4 code size of a typical use of the HTTP client, the backoff and the
# transport glue, and writes the same report to target/size-report.md.
#
# What is built: tools/size-probe, a bare-metal image for thumbv7em-none-eabihf
# (opt-level "z", fat LTO, codegen-units 1, panic = abort) whose only entry point
# builds a POST /topics/<topic>?qos=1 request, sends it, reads one response whole
# (Content-Length, header lookup) and one streamed (chunked decoding), and draws one
# backoff delay. The linker keeps only code reachable from that entry point.
#
# What is counted: the whole image's .text + .rodata + .ARM.exidx, i.e. our crates, httparse, the
# parts of `core` they use, and compiler-builtins (memcpy and friends). Nothing is
# subtracted. The per-crate table below it attributes symbols by name; with LTO, library
# code inlined into the probe's entry point is counted under "probe / glue".
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
probe="$repo/tools/size-probe"
target=thumbv7em-none-eabihf
out_dir="$repo/target"
report="$out_dir/size-report.md"

if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

tools="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
if [ ! -x "$tools/llvm-size" ]; then
    rustup component add llvm-tools >/dev/null 2>&1 || true
fi
if [ -x "$tools/llvm-size" ]; then
    llvm_size="$tools/llvm-size"
    llvm_nm="$tools/llvm-nm"
elif command -v llvm-size >/dev/null && command -v llvm-nm >/dev/null; then
    llvm_size=llvm-size
    llvm_nm=llvm-nm
else
    echo "size-report.sh: need llvm-size and llvm-nm (rustup component add llvm-tools)" >&2
    exit 1
fi

(cd "$probe" && CARGO_TARGET_DIR="$probe/target" cargo build --quiet --release --target "$target")
elf="$probe/target/$target/release/size-probe"

section() { "$llvm_size" -A "$elf" | awk -v s="$1" '$1 == s { print $2 }'; }
text=$(section .text)
rodata=$(section .rodata)
exidx=$(section .ARM.exidx)
exidx=${exidx:-0}
total=$((text + rodata + exidx))
budget=12000

breakdown=$("$llvm_nm" -S --size-sort --radix=d --demangle "$elf" | awk '
    NF >= 4 {
        size = $2 + 0; kind = tolower($3)
        name = $4; for (i = 5; i <= NF; i++) name = name " " $i
        if (name ~ /httparse/) c = "httparse"
        else if (name ~ /iot_http/) c = "iot-http"
        else if (name ~ /iot_backoff/) c = "iot-backoff"
        else if (name ~ /iot_transport/) c = "iot-transport"
        else if (name ~ /probe_main|size_probe/) c = "probe / glue (with inlined library code)"
        else if (name ~ /compiler_builtins|^__aeabi|^__udiv|^__umod/) c = "compiler-builtins (memcpy, memset...)"
        else if (name ~ /core::|^<(str|char|\[u8\])>|^<core/) c = "core"
        else c = "unnamed (outlined fragments, anonymous constants)"
        if (kind == "t") t[c] += size; else if (kind == "r") r[c] += size
        seen[c] = 1
    }
    END { for (c in seen) printf "| %s | %d | %d |\n", c, t[c], r[c] }' | sort -t'|' -k3 -nr)

verdict="within"
[ "$total" -le "$budget" ] || verdict="OVER"

mkdir -p "$out_dir"
{
    echo "# Code size: HTTP client + backoff + transport glue on Cortex-M4"
    echo
    echo "Target \`$target\`, opt-level \"z\", fat LTO, codegen-units 1, panic = abort;"
    echo "$(rustc --version)."
    echo
    echo "| section | bytes |"
    echo "|---|---|"
    echo "| .text | $text |"
    echo "| .rodata | $rodata |"
    echo "| .ARM.exidx (unwind table stub) | $exidx |"
    echo "| **total** | **$total** |"
    echo
    echo "Budget $budget B: $verdict. For comparison, coreHTTP + llhttp + backoffAlgorithm +"
    echo "TLS transport measured 25,278 B (-Os) on the same core."
    echo
    echo "The total is the whole linked image: nothing subtracted, so it includes the parts"
    echo "of \`core\` and compiler-builtins that the code pulls in. The transport glue is the"
    echo "probe's stand-in (bytes from a buffer); the device's TLS transport is not in it."
    echo "Backoff code is entirely inlined into the probe's entry point. By symbol name:"
    echo
    echo "| part | .text | .rodata |"
    echo "|---|---|---|"
    echo "$breakdown"
} > "$report"
cat "$report"
