#!/usr/bin/env bash
# Runs the benchmarks in release mode. Usage: scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p iomod-echo
cargo bench --bench registry
