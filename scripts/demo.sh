#!/usr/bin/env bash
# The end-to-end demo: a todo service written as a wasm function stores its items in DynamoDB through the
# DynamoDB IOmod, served by the warm runtime. It installs and starts a DynamoDB-compatible server (moto) on
# 127.0.0.1, builds the runtime, the IOmod and the function, starts `iomod serve` (one registry, the IOmod
# process, the module compiled once), sends the demo's requests over HTTP and prints each request and
# answer, prints a few lines of /metrics, and stops what it started (by pid).
#
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "==> building the runtime (iomod), the DynamoDB IOmod (iomod-dynamodb) and the todo function (wasm)"
cargo build --workspace --bin iomod --bin iomod-dynamodb
cargo build --release --manifest-path functions/Cargo.toml --target wasm32-unknown-unknown -p todo

workdir="$(mktemp -d)"
serve_pid=""
cleanup() {
    if [[ -n "$serve_pid" ]] && kill -0 "$serve_pid" 2>/dev/null; then
        kill -TERM "$serve_pid" && wait "$serve_pid" || true
    fi
    scripts/dynamodb-server.sh stop "$workdir/dynamodb.pid"
    rm -rf "$workdir"
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port="$(free_port)"
echo "==> starting a DynamoDB-compatible server on 127.0.0.1:$port"
scripts/dynamodb-server.sh start "$port" "$workdir/dynamodb.pid"

# The IOmod reads its configuration from the environment, as AWS tools do.
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export IOMOD_LOG="${IOMOD_LOG:-warn}"

http_port="$(free_port)"
base="http://127.0.0.1:$http_port"
echo "==> iomod serve functions/todo/function.toml --listen 127.0.0.1:$http_port"
target/debug/iomod serve functions/todo/function.toml --listen "127.0.0.1:$http_port" &
serve_pid=$!
for _ in $(seq 1 600); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]]; then
        break
    fi
    kill -0 "$serve_pid" 2>/dev/null || { echo "iomod serve stopped" >&2; exit 1; }
    sleep 0.05
done
echo "==> ready: $(curl -s "$base/readyz")"

requests=(
    '{"action": "setup"}'
    '{"action": "create", "title": "Buy milk"}'
    '{"action": "create", "title": "Write the docs"}'
    '{"action": "create", "title": "Ship it"}'
    '{"action": "get", "id": "todo-2"}'
    '{"action": "update", "id": "todo-1", "done": true}'
    '{"action": "delete", "id": "todo-3"}'
    '{"action": "list"}'
    '{"action": "get", "id": "todo-3"}'
)
echo "==> the todo function: HTTP → wasm → registry → DynamoDB IOmod process → DynamoDB"
answers=()
started=$(date +%s%N)
for request in "${requests[@]}"; do
    answers+=("$(curl -s -X POST --data-binary "$request" "$base/functions/todo")")
done
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
for i in "${!requests[@]}"; do
    echo
    echo "request:  POST /functions/todo ${requests[$i]}"
    echo "answer:   ${answers[$i]}"
done
echo
echo "==> ${#requests[@]} requests answered in ${elapsed_ms} ms (each a fresh wasm instance)"
echo
echo "==> a few lines of $base/metrics"
curl -s "$base/metrics" | grep -E '^iomod_(invocations_total|calls_total|registered|restarts_total)' | head -12
echo
echo "==> stopping iomod serve (SIGTERM: it drains, then stops the IOmod) and the DynamoDB-compatible server"
kill -TERM "$serve_pid"
wait "$serve_pid"
serve_pid=""
