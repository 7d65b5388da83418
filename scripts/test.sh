#!/usr/bin/env bash
# Sets up and runs every test: unit, doc and end-to-end (real IOmod processes on real sockets).
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The end-to-end tests start the workspace's binaries (iomod, iomod-echo) as real processes.
cargo build --workspace --bins
cargo test --workspace --all-targets
cargo test --workspace --doc
