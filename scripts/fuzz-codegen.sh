#!/usr/bin/env bash
# Usage: scripts/fuzz-codegen.sh [SECONDS]
#
# The long run of the code generator's fuzz targets (the short versions run in CI as ordinary tests):
# the manifest parser, validator and generator (iomod-codegen/tests/fuzz.rs: random bytes, mutated
# checked-in manifests generated into a directory that must stay untouched when rejected, structured random
# valid manifests through generate, lock and breaking checks) and the generated readers
# (tests/fixtures-host/tests/fuzz_readers.rs: random and mutated params, results and JSON for every
# compiled skeleton, and the echo IOmod's messages). SECONDS per target, default 600. Every manifest size is
# generated (IOMOD_FUZZ_GENERATE_MAX), IOMOD_FUZZ_COMPILE (default 8) random manifests' generated code is
# compiled (host skeletons natively, guest crates for wasm32), and the input in flight is kept in a file, so that an input that
# aborts the process (a stack overflow) is not lost. Failing inputs go to $IOMOD_FUZZ_FAILURES (default
# target/fuzz-failures); copy one into iomod-codegen/fuzz/corpus/<target>/ to replay it on every run.
# Prints the inputs executed per target.
set -euo pipefail

seconds="${1:-600}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export IOMOD_FUZZ_SECONDS="$seconds"
export IOMOD_FUZZ_GENERATE_MAX="${IOMOD_FUZZ_GENERATE_MAX:-1000000}"
export IOMOD_FUZZ_SAVE_CURRENT=1
export IOMOD_FUZZ_FAILURES="${IOMOD_FUZZ_FAILURES:-$root/target/fuzz-failures}"
# How many random manifests' generated code is compiled (CI compiles 2).
export IOMOD_FUZZ_COMPILE="${IOMOD_FUZZ_COMPILE:-8}"
mkdir -p "$IOMOD_FUZZ_FAILURES"

cargo test -p iomod-codegen --test fuzz --no-run
cargo test -p iomod-fixtures-host --test fuzz_readers --no-run

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
# One target at a time: each gets the machine, and the readers' heap figures are their own.
for target in manifest_bytes manifest_mutated manifest_structured; do
    cargo test -q -p iomod-codegen --test fuzz -- --exact "$target" --nocapture 2>&1 | tee -a "$log" || status=1
done
cargo test -q -p iomod-fixtures-host --test fuzz_readers -- --nocapture 2>&1 | tee -a "$log" || status=1
cargo test -q -p iomod-codegen --test fuzz -- --exact generated_code_of_random_manifests_compiles --nocapture 2>&1 \
    | tee -a "$log" || status=1

echo
echo "== figures ($seconds s per target)"
grep -o 'fuzz [a-z_]*:.*' "$log" || true
if [ "$status" -ne 0 ]; then
    echo "FAILED: failing inputs are in $IOMOD_FUZZ_FAILURES" >&2
fi
exit "$status"
