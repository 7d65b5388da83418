#!/usr/bin/env bash
# Sets up and runs every test: unit, doc and end-to-end (real IOmod processes on real sockets, wasm functions
# in the host, the DynamoDB IOmod against a moto server on 127.0.0.1 that the tests start and stop).
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The checked-in generated files of the DynamoDB IOmod match its manifest.
cargo run -q -p iomod-codegen -- check iomods/dynamodb/iomod.toml --out iomods/dynamodb \
    --only guest,schema,json --guest-sdk-dependency '{ path = "../../../iomod-sdk" }'
# And those of the Python example IOmod (its registration descriptor included).
cargo run -q -p iomod-codegen -- check examples/python-iomod/iomod.toml --out examples/python-iomod \
    --only guest,schema,json,registration --guest-sdk-dependency '{ path = "../../../iomod-sdk" }'
# The end-to-end tests start the workspace's binaries (iomod, iomod-echo, iomod-dynamodb) as real processes,
# and the Lambda benchmark's smoke run its native baseline (an example).
cargo build --workspace --bins --examples
cargo test --workspace --all-targets
cargo test --workspace --doc
# The sample functions' native tests (the todo service against an in-memory DynamoDB stand-in).
cargo test --manifest-path functions/Cargo.toml -p todo
