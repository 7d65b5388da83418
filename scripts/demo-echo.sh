#!/usr/bin/env bash
# The echo demo: a registry, the echo IOmod process, calls through the registry, typed errors, 1,000
# concurrent calls, a graceful stop. Usage: scripts/demo-echo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --bins --examples
exec target/debug/examples/demo
