#!/usr/bin/env bash
# Runs a Windows program (x86_64-pc-windows-gnu) under wine: the cargo runner for that target
# (.cargo/config.toml), so `cargo run` and `cargo test` work. Usage: wine-run.sh PROGRAM.exe [ARGS...]
#
# The wine prefix is target/wine-prefix (override with WINEPREFIX), never the user's home;
# creating it takes 10-15 s once. wine 8 has no bcryptprimitives.dll, which Rust's standard
# library needs (ProcessPrng): a stub built here with mingw-w64 over RtlGenRandom is put in
# the prefix. Wine's own diagnostics are off (WINEDEBUG=-all); the program's exit status is
# passed through.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export WINEPREFIX="${WINEPREFIX:-$root/target/wine-prefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"

if ! command -v wine >/dev/null 2>&1; then
    echo "wine-run: wine not found (run scripts/ensure-deps.sh --with-windows)" >&2
    exit 127
fi

system32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "wine-run: creating the wine prefix $WINEPREFIX (once, ~15 s)" >&2
    mkdir -p "$WINEPREFIX"
    wineboot --init >/dev/null 2>&1
    wineserver -w
fi
if [ ! -f "$system32/bcryptprimitives.dll" ]; then
    x86_64-w64-mingw32-gcc -shared -O2 -o "$system32/bcryptprimitives.dll" \
        "$root/scripts/wine/bcryptprimitives.c" "$root/scripts/wine/bcryptprimitives.def" -ladvapi32
fi
# WINE_CPU=N: the whole process on host CPU N (taskset), and the wineserver it starts; a
# wineserver already running is shared as it is, so pin it from its start. The FreeRTOS
# Windows port switches tasks by suspending one task's thread and resuming another's, and pins
# those threads to CPU 0 with SetThreadAffinityMask; under wine 8 that is not enough: with wine
# on two CPUs the kernel scenarios where two tasks hand the CPU to each other thousands of
# times (rtos-selftest `mutex`, `queue`) hung in most runs on this 2-CPU machine (on
# 2026-12-01: `mutex` 7 runs of 7, `queue` 5 of 8); pinned, 8 of 8 passed. test-windows.sh
# pins the kernel scenarios. The network scenarios and the demo run unpinned, as they always
# have: pinned, the gateway card's and the test servers' host threads share the CPU with the
# port's, and echoes stalled past their 10 s receive timeouts. A real Windows host needs none
# of this.
if [ -n "${WINE_CPU:-}" ] && [ "$WINE_CPU" != off ] && command -v taskset >/dev/null 2>&1; then
    exec taskset -c "$WINE_CPU" wine "$@"
fi
exec wine "$@"
