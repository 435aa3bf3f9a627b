#!/usr/bin/env bash
# Runs every cargo-fuzz target (HTTP response and chunked decoder, DNS answers, certificate
# and key loading through Mbed TLS) for a bounded time.
#
#   FUZZ_SECONDS=N  seconds per target (default 30), so CI stays bounded.
#
# Needs the nightly toolchain (libFuzzer instrumentation); installs cargo-fuzz from
# crates.io when it is missing. Seeds come from fuzz/seeds/<target>/ (committed); new
# inputs go to fuzz/corpus/<target>/ and crashes to fuzz/artifacts/ (both ignored by git).
# Exits non-zero when a target crashes or fails to build.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${FUZZ_SECONDS:-30}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz.sh: the nightly toolchain is required (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cd "$repo/fuzz"
# Keep fuzz builds in fuzz/target, whatever the caller's CARGO_TARGET_DIR says.
export CARGO_TARGET_DIR="$repo/fuzz/target"
# Mbed TLS's C (the credentials target) gets libFuzzer's coverage instrumentation too, so the
# fuzzer is guided through the parsers; the cc crate adds AddressSanitizer itself.
export CFLAGS_x86_64_unknown_linux_gnu="-fsanitize=fuzzer-no-link"

for target in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$target"
    echo "fuzz.sh: $target for ${seconds}s"
    cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=4096
done
echo "fuzz.sh: no crash in $(cargo +nightly fuzz list | wc -l) targets"
