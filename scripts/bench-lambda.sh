#!/usr/bin/env bash
# The Lambda benchmark: builds the static artifacts (scripts/build-lambda.sh), then runs the todo function's
# bundle and layer against a native lambda_runtime handler through cargo-lambda's Runtime API emulator and
# a moto server (iomods/dynamodb/benches/lambda.rs). Prints a table for BENCHMARKS.md.
#
# Usage: scripts/bench-lambda.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-lambda.sh target/lambda
IOMOD_LOG=info IOMOD_LAMBDA_ARTIFACTS="$(pwd)/target/lambda" \
    cargo bench -p iomod-dynamodb --bench lambda
