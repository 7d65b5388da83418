#!/usr/bin/env bash
# Builds the workspace and runs the end-to-end demo: a registry, the echo IOmod process, calls through the
# registry. Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --bins --examples
exec target/debug/examples/demo
