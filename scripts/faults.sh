#!/usr/bin/env bash
# Faults under load, the long version: 20 SIGKILLs of the echo IOmod under 64 calls in flight, 8 SIGSTOPs,
# 20 registry restarts, and the silent peers; prints the figures (the short version runs in CI as part of
# `cargo test --workspace`). A seed repeats a run's random moments.
# Usage: scripts/faults.sh [SEED]    (environment: FAULTS_KILLS, FAULTS_STOPS, FAULTS_RESTARTS override the sizes)
set -euo pipefail
cd "$(dirname "$0")/.."
export FAULTS_KILLS="${FAULTS_KILLS:-20}" FAULTS_STOPS="${FAULTS_STOPS:-8}" FAULTS_RESTARTS="${FAULTS_RESTARTS:-20}"
if [ $# -gt 0 ]; then
    export FAULTS_SEED="$1"
fi
# The tests start the registry and the echo IOmod as processes.
cargo build -p iomod -p iomod-echo --bins
cargo test -p iomod --test faults --no-run
started=$(date +%s)
cargo test -p iomod --test faults -- --nocapture --test-threads=1 2>&1 |
    grep -E '^(test |kill|stop|restart|silent peers|thread|  left|  right)|seed|test result' |
    sed -E 's/^test ([a-z_]+) \.\.\. /\1\n  /'
echo "faults.sh: ${FAULTS_KILLS} kills, ${FAULTS_STOPS} stops, ${FAULTS_RESTARTS} registry restarts in $(( $(date +%s) - started )) s"
