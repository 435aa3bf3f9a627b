#!/usr/bin/env bash
# The Windows simulator's checks: lints for x86_64-pc-windows-gnu, then every portable kernel
# scenario of rtos-selftest, one process each, on the kernel's MSVC-MingW port under wine
# (scripts/wine-run.sh). A scenario passes when it prints its PASS line and exits 0; the two
# that end the program on purpose must end it with their status and message instead
# (task_panic: 101, kernel_assert: 70). Each run has a hang limit.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-pc-windows-gnu
LIMIT_SECONDS=${WINDOWS_SCENARIO_LIMIT:-60}

cargo clippy --locked --target "$TARGET" -p freertos-https -p freertos-https-harness \
    --lib --bin rtos-selftest --bin http-mutual-auth-demo -- -D warnings
cargo build --locked --target "$TARGET" -p freertos-https-harness --bin rtos-selftest
exe="target/$TARGET/debug/rtos-selftest.exe"

# The scenario list comes from the program itself: it holds only the portable ones there.
mapfile -t scenarios < <(./scripts/wine-run.sh "$exe" --list | tr -d '\r')
if [ "${#scenarios[@]}" -lt 10 ]; then
    echo "test-windows: rtos-selftest --list named ${#scenarios[@]} scenarios under wine" >&2
    exit 1
fi

failed=0
for scenario in "${scenarios[@]}"; do
    case "$scenario" in
        task_panic) want_status=101 want_text="task 'boom' panicked" ;;
        kernel_assert) want_status=70 want_text="FreeRTOS assert failed:" ;;
        *) want_status=0 want_text="PASS $scenario" ;;
    esac
    set +e
    output=$(timeout "$LIMIT_SECONDS" ./scripts/wine-run.sh "$exe" "$scenario" 2>&1)
    status=$?
    set -e
    if [ "$status" -eq "$want_status" ] && grep -qF -- "$want_text" <<<"$output"; then
        printf 'ok   %-22s exit %d: %s\n' "$scenario" "$status" "$(grep -F -- "$want_text" <<<"$output" | head -1 | tr -d '\r')"
    else
        printf 'FAIL %-22s exit %d (want %d and %s)\n%s\n' "$scenario" "$status" "$want_status" \
            "$want_text" "$output"
        failed=1
    fi
done
WINEPREFIX="${WINEPREFIX:-$PWD/target/wine-prefix}" wineserver -k 2>/dev/null || true
if [ "$failed" -ne 0 ]; then
    echo "test-windows: some scenarios failed under wine" >&2
    exit 1
fi
echo "test-windows: ${#scenarios[@]} kernel scenarios passed on the Windows simulator under wine"
