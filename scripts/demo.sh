#!/usr/bin/env bash
# Runs the device application end to end in the FreeRTOS POSIX simulator, after
# installing anything missing. Arguments go to the application (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh
exec cargo run --release --quiet -- "$@"
