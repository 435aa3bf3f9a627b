#!/usr/bin/env bash
# Checks that the Cortex-M4F image and the Mbed TLS objects linked into it use the same float
# ABI: hard float (arguments in VFP registers). A soft-float object links into a hard-float
# image without any error and then passes floats in the wrong registers (mbedtls-rs-sys's
# `use-gcc` build did exactly that). Run after the image is built.
#   usage: scripts/check-float-abi.sh [IMAGE]   (default: the board profile's demo image)
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-target/thumbv7em-none-eabihf/board/http-mutual-auth-demo}
say() { printf '[check-float-abi] %s\n' "$*"; }
[ -f "$image" ] || { say "no image at $image: build it first"; exit 1; }
hard='Tag_ABI_VFP_args: VFP registers'
arm-none-eabi-readelf -A "$image" | grep -q "$hard" || { say "$image is not a hard-float image"; exit 1; }
# The Mbed TLS build linked last (the newest of the crate's build directories for the image's
# target and profile: the image's own directory).
libdir=$(ls -td "$(dirname "$image")"/build/mbedtls-rs-sys-*/out/mbedtls/lib 2>/dev/null | head -1)
[ -n "$libdir" ] || { say "no Mbed TLS build for thumbv7em-none-eabihf found"; exit 1; }
status=0
for lib in "$libdir"/*.a; do
    members=$(arm-none-eabi-readelf -A "$lib" | grep -c '^File:' || true)
    hard_members=$(arm-none-eabi-readelf -A "$lib" | grep -c "$hard" || true)
    if [ "$members" -eq 0 ] || [ "$members" -ne "$hard_members" ]; then
        say "$(basename "$lib"): $hard_members of $members objects are hard-float"
        status=1
    fi
done
[ "$status" -eq 0 ] && say "image and every Mbed TLS object ($(basename "$libdir")/*.a) are hard-float"
exit "$status"
