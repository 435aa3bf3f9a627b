#!/usr/bin/env bash
# Checks that the portable core names no `std` and no board: everything under src/ except
# src/board/ (and src/main.rs, the entry point) must build without std, and so must the
# portable kernel scenarios that every board runs. The thumbv7em build proves the core
# compiles; this check also covers the scenarios, and names the line at fault. Tests may use
# std inside their #[cfg(test)] modules.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
    # Lines inside `mod tests` are allowed to use std (the host test harness has it).
    offenders=$(awk '/^mod tests \{|^#\[cfg\(test\)\]/ {tests=1} !tests && !/^[[:space:]]*\/\// && /(^|[^:_a-z])std::|board::(posix|mps2_an386)/ {print FILENAME ":" FNR ": " $0}' "$file")
    if [ -n "$offenders" ]; then
        printf '%s\n' "$offenders"
        status=1
    fi
done < <(find src -name '*.rs' -not -path 'src/board/*' -not -name main.rs
    echo crates/harness/src/bin/rtos_selftest/portable.rs)
if [ "$status" -ne 0 ]; then
    echo "check-portable: the portable core above names std or a board" >&2
    exit 1
fi
echo "check-portable: the portable core names neither std nor a board"
