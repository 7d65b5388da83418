#!/usr/bin/env bash
# The full soak: 1,000,000 calls through a registry process to the echo IOmod (64 in flight) and 100,000
# invocations of a wasm function through `iomod serve` (64 keep-alive HTTP connections), every answer
# checked; prints, per process, resident memory at the start, after the warm-up, at its max and at the end,
# its trend and its open descriptors, and fails when a bound is broken (tests/soak.rs).
# Usage: scripts/soak.sh [CALLS [INVOCATIONS]]   (defaults 1000000 and 100000; CI runs 20000 and 5000)
# The dev build (about 8 minutes for the defaults on 2 cores); the counts also come from IOMOD_SOAK_CALLS
# and IOMOD_SOAK_INVOCATIONS.
set -euo pipefail
cd "$(dirname "$0")/.."
calls="${1:-${IOMOD_SOAK_CALLS:-1000000}}"
invocations="${2:-${IOMOD_SOAK_INVOCATIONS:-100000}}"
# The soak starts the workspace's binaries (iomod, iomod-echo) as processes.
cargo build --workspace --bins
cargo test --test soak --no-run
IOMOD_SOAK_CALLS="$calls" IOMOD_SOAK_INVOCATIONS="$invocations" \
    cargo test --test soak -- --nocapture --test-threads=1
