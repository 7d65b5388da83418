#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [SECONDS]
# The long run of every fuzz target, SECONDS each (default 600): the manifest parser, validator and
# generator and the generated readers (scripts/fuzz-codegen.sh), then the registry's sockets and the guest
# ABI (scripts/fuzz-runtime.sh). Each prints the inputs executed per target. The short versions run in CI
# as ordinary tests (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fuzz-codegen.sh "${1:-600}"
scripts/fuzz-runtime.sh "${1:-600}"
