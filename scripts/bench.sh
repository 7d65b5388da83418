#!/usr/bin/env bash
# Runs the benchmarks in release mode; each compares against a baseline measured in the same run.
# Usage: scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Registry and wasm host against raw capnp-rpc.
cargo build --release -p iomod-echo
cargo bench --bench registry
# The DynamoDB IOmod against direct aws-sdk-dynamodb calls, on the shipped (static musl) binary.
scripts/build-musl.sh
cargo bench -p iomod-dynamodb --bench dynamodb
