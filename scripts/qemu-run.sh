#!/usr/bin/env bash
# Cargo runner for thumbv7em-none-eabihf: boots an image on QEMU's mps2-an386 (Cortex-M4F,
# LAN9118 on QEMU's user-mode network: the host is 10.0.2.2, DHCP gives 10.0.2.15) with
# semihosting for the console, the clock, entropy and the exit status.
#
#   scripts/qemu-run.sh IMAGE.elf
#
# Exit status: the image's (0, 1, 2 from the demo; 70 or 101 for a fault or panic), or 124
# when the guest ran longer than QEMU_TIMEOUT seconds (default 120): a hung guest never exits.
# QEMU_ARGS adds options (split on spaces), e.g. QEMU_ARGS="-icount shift=0" for a
# deterministic instruction clock (scripts/bench-cortex-m.sh).
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 IMAGE.elf" >&2
    exit 2
fi
image=$1
# shellcheck disable=SC2206 # split on purpose: a list of options
extra=(${QEMU_ARGS:-})
if ! command -v qemu-system-arm >/dev/null 2>&1; then
    echo "qemu-run: qemu-system-arm not found (Debian: apt-get install qemu-system-arm, or run scripts/ensure-deps.sh)" >&2
    exit 127
fi
exec timeout --kill-after=5 "${QEMU_TIMEOUT:-120}" qemu-system-arm \
    -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native \
    -nic user,model=lan9118 \
    "${extra[@]}" -kernel "$image"
