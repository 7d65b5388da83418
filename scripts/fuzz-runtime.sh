#!/usr/bin/env bash
# Usage: scripts/fuzz-runtime.sh [SECONDS]
# Fuzzes the registry's sockets and the wasm host's guest ABI for SECONDS each (default 600), one target
# after the other, and prints the inputs executed, the well-behaved clients' answers and the memory
# figures of each. A failing input is saved under the target directory and its path printed; replay it
# with IOMOD_FUZZ_REPLAY=<file>, or repeat a run with IOMOD_FUZZ_SEED=<seed>.
set -euo pipefail

seconds="${1:-600}"
cd "$(dirname "$0")/.."

# The tests start the iomod and iomod-echo binaries.
cargo build --workspace --bins
cargo test --test fuzz_registry --test fuzz_abi --no-run

for target in fuzz_registry fuzz_abi; do
    echo "== $target: $seconds s"
    IOMOD_FUZZ_SECONDS="$seconds" cargo test --test "$target" -- --nocapture 2>&1 |
        grep -E '^(registry|abi):|^test |panicked|failed|saved at'
done
