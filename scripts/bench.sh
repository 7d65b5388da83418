#!/usr/bin/env bash
# Runs the benchmarks in release mode; each compares against a baseline measured in the same run.
# Usage: scripts/bench.sh          (scripts/bench-http.sh runs the HTTP benchmarks, with wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p iomod -p iomod-echo --bins
cargo build --release --manifest-path functions/Cargo.toml --target wasm32-unknown-unknown
# Registry against raw capnp-rpc.
cargo bench --bench registry
# The warm runtime: invocation overhead, a guest's IOmod calls from a worker, first invocation after start.
cargo bench --bench serve
# The DynamoDB IOmod against direct aws-sdk-dynamodb calls, on the shipped (static musl) binary.
scripts/build-musl.sh
cargo bench -p iomod-dynamodb --bench dynamodb
