#!/usr/bin/env bash
# Installs what building and testing need beyond a Rust toolchain with rustup. Safe to run repeatedly.
set -euo pipefail
if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing; install Rust with rustup (https://rustup.rs) first" >&2
  exit 1
fi
# rustfmt and clippy are part of the checks; generated guest crates are built for the wasm targets.
if command -v rustup >/dev/null; then
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
  for target in wasm32-unknown-unknown wasm32-wasip1; do
    rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target"
  done
else
  echo "setup: rustup is missing; install the wasm32-unknown-unknown and wasm32-wasip1 targets yourself" >&2
fi
# promtool (Debian's `prometheus` package) checks the runtime's /metrics exposition in the tests.
if ! command -v promtool >/dev/null; then
  if command -v apt-get >/dev/null; then
    sudo=""
    [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    echo "setup: installing promtool (apt package prometheus)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "setup: promtool is missing; install Prometheus' promtool for the metrics tests" >&2
    exit 1
  fi
fi
# The DynamoDB-compatible server of the demo and the tests (moto, in a virtualenv under .venv/).
"$(dirname "$0")/dynamodb-server.sh" install
# The Lambda Runtime API emulator of the Lambda tests (cargo-lambda, in a virtualenv under .venv/).
"$(dirname "$0")/lambda-emulator.sh" install
# pycapnp for the IOmod written in Python (examples/python-iomod) and its tests, in a virtualenv under .venv/
# (python3 with venv is there: the moto install above made sure of it).
pycapnp_venv="${IOMOD_PYCAPNP_VENV:-$(cd "$(dirname "$0")/.." && pwd)/.venv/pycapnp}"
mkdir -p "$(dirname "$pycapnp_venv")"
(
  flock 9
  if ! "$pycapnp_venv/bin/python" -c 'import sys, capnp; sys.exit(capnp.version.version != "2.2.4")' 2>/dev/null; then
    echo "setup: installing pycapnp 2.2.4 into $pycapnp_venv" >&2
    rm -rf "$pycapnp_venv"
    python3 -m venv "$pycapnp_venv"
    "$pycapnp_venv/bin/pip" install --quiet --disable-pip-version-check "pycapnp==2.2.4" >&2
  fi
) 9>"$pycapnp_venv.lock"
