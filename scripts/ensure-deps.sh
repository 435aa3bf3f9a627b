#!/usr/bin/env bash
# Installs what building and testing need, if it is missing. Safe to run again: it only
# acts on what is absent, and says what it does.
#
#   system packages  clang libclang-dev cmake ninja-build pkg-config libslirp-dev libglib2.0-dev
#                    gcc-arm-none-eabi libnewlib-arm-none-eabi (the kernel for Cortex-M4F)
#                    qemu-system-arm (boots the Cortex-M4F image: mps2-an386)
#                    gcc-mingw-w64-x86-64 wine (the Windows simulator, run under wine)
#                    openssl (s_server: a TLS 1.0/1.1-only server the device must refuse)
#                    nginx-light (a real server the Cortex-M4F image is booted against)
#                    (apt on Debian/Ubuntu; elsewhere it names what to install and stops)
#   Rust targets     thumbv7em-none-eabihf (the portable core is checked to build for Cortex-M4F)
#                    x86_64-pc-windows-gnu (the Windows simulator's kernel self-tests, under wine)
#   Rust nightly     minimal profile, for cargo-fuzz (libFuzzer instrumentation)
set -euo pipefail

SYSTEM_PACKAGES=(clang libclang-dev cmake ninja-build pkg-config libslirp-dev libglib2.0-dev binutils
    gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc-mingw-w64-x86-64 wine openssl nginx-light)
CROSS_TARGETS=(thumbv7em-none-eabihf x86_64-pc-windows-gnu)

say() { printf '[ensure-deps] %s\n' "$*"; }

missing_packages() {
    local package
    for package in "${SYSTEM_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            printf '%s\n' "$package"
        fi
    done
}

ensure_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        say "this is not a Debian/Ubuntu system: install these with your package manager, then rerun:"
        say "  ${SYSTEM_PACKAGES[*]} (names as in Debian; libclang and libslirp development files)"
        exit 1
    fi
    local missing
    missing=$(missing_packages)
    if [ -z "$missing" ]; then
        say "system packages: all present"
        return
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            say "missing packages and no sudo: run as root: apt-get install -y" $missing
            exit 1
        fi
        sudo=(sudo)
    fi
    say "installing missing system packages:" $missing
    "${sudo[@]}" apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq $missing >/dev/null
    say "system packages installed"
}

ensure_nightly() {
    if ! command -v rustup >/dev/null 2>&1; then
        say "rustup not found: fuzzing needs a nightly toolchain"
        return
    fi
    if ! rustup run nightly rustc --version >/dev/null 2>&1; then
        say "installing the nightly toolchain (minimal profile) for fuzzing"
        rustup toolchain install nightly --profile minimal
    fi
}

ensure_rust_targets() {
    if ! command -v rustup >/dev/null 2>&1; then
        say "rustup not found: cross-target checks need: rustup target add ${CROSS_TARGETS[*]}"
        return
    fi
    local target
    for target in "${CROSS_TARGETS[@]}"; do
        if ! rustup target list --installed | grep -qx "$target"; then
            say "adding Rust target $target"
            rustup target add "$target"
        fi
    done
}

if ! command -v cargo >/dev/null 2>&1; then
    say "cargo not found: install Rust (https://rustup.rs) first"
    exit 1
fi
ensure_system_packages
ensure_rust_targets
if [ "${1:-}" = "--with-fuzzing" ]; then
    ensure_nightly
fi
