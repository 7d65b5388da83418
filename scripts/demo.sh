#!/usr/bin/env bash
# The end-to-end demo: a todo service written as a wasm function stores its items in DynamoDB through the
# DynamoDB IOmod. It installs and starts a DynamoDB-compatible server (moto) on 127.0.0.1, builds the
# runtime, the IOmod and the function, runs the function once per request with `iomod run` (which starts
# a registry and the IOmod process, runs the function, and stops them), prints each request and answer,
# and stops the server it started.
#
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "==> building the runtime (iomod), the DynamoDB IOmod (iomod-dynamodb) and the todo function (wasm)"
cargo build --workspace --bin iomod --bin iomod-dynamodb
cargo build --release --manifest-path functions/Cargo.toml --target wasm32-unknown-unknown -p todo

workdir="$(mktemp -d)"
cleanup() {
    scripts/dynamodb-server.sh stop "$workdir/dynamodb.pid"
    rm -rf "$workdir"
}
trap cleanup EXIT
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "==> starting a DynamoDB-compatible server on 127.0.0.1:$port"
scripts/dynamodb-server.sh start "$port" "$workdir/dynamodb.pid"

# The IOmod reads its configuration from the environment, as AWS tools do.
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export RUST_LOG="${RUST_LOG:-warn}"

run() {
    echo
    echo "request:  $1"
    printf "answer:   "
    target/debug/iomod run functions/todo/function.toml --input "$1"
    echo
}

echo "==> the todo function: wasm → host → registry → DynamoDB IOmod process → DynamoDB"
run '{"action": "setup"}'
run '{"action": "create", "title": "Buy milk"}'
run '{"action": "create", "title": "Write the docs"}'
run '{"action": "create", "title": "Ship it"}'
run '{"action": "get", "id": "todo-2"}'
run '{"action": "update", "id": "todo-1", "done": true}'
run '{"action": "delete", "id": "todo-3"}'
run '{"action": "list"}'
run '{"action": "get", "id": "todo-3"}'
echo
echo "==> done; stopping the DynamoDB-compatible server"
