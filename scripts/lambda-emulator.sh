#!/usr/bin/env bash
# The AWS Lambda Runtime API emulator of the Lambda tests and benchmarks: cargo-lambda's (PyPI, a static
# binary in a wheel), installed into a virtualenv under .venv/lambda. Tests start it themselves
# (`cargo-lambda lambda watch --only-lambda-apis -A 127.0.0.1 -P PORT`, in a directory holding a Cargo.toml)
# and stop it by its pid.
#
#   scripts/lambda-emulator.sh install    install it (idempotent; safe to run concurrently)
#   scripts/lambda-emulator.sh path       print the cargo-lambda executable
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${IOMOD_LAMBDA_VENV:-$root/.venv/lambda}"
version="1.9.2"
binary="$venv/bin/cargo-lambda"

install_locked() {
    if [[ -x "$binary" ]] && [[ "$(cat "$venv/.version" 2>/dev/null)" == "$version" ]]; then
        return 0
    fi
    echo "installing cargo-lambda $version (the Lambda Runtime API emulator) into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    # --no-deps: the wheel's only dependency is the zig toolchain it uses for cross builds, not needed here.
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "cargo-lambda==$version" >&2
    echo "$version" >"$venv/.version"
}

case "${1:-}" in
    install)
        mkdir -p "$(dirname "$venv")"
        (
            flock 9
            install_locked
        ) 9>"$venv.lock"
        ;;
    path)
        echo "$binary"
        ;;
    *)
        echo "usage: $0 install|path" >&2
        exit 2
        ;;
esac
