#!/usr/bin/env bash
# HTTP benchmarks of the warm runtime, all driven by the same load generator (wrk, from apt) with the same
# settings, the targets interleaved within each round:
#
#   iomod-hello       `iomod serve`: POST /functions/hello, the no-op function, a fresh instance per request
#   iomod-healthz     the same server answering GET /healthz: the same HTTP stack without wasm
#   wasmtime-hello    `wasmtime serve` with an equivalent wasi:http component (a fresh instance per request),
#   native-hello      and a native hyper server: the peer baseline of ../shared/baselines/wasmtime-serve,
#                     measured when its build.sh has built them (WASMTIME_SERVE_BIN, default
#                     /tmp/wasmtime-serve-bin, and WASMTIME, default /tmp/wasmtime-cli/bin/wasmtime)
#   iomod-todo-get    the todo function's `get` through the DynamoDB IOmod and a moto server
#   native-todo-get   a native Rust HTTP handler calling aws-sdk-dynamodb directly on the same moto server
#                     (iomods/dynamodb/examples/native_todo.rs)
#
# Usage: scripts/bench-http.sh        (ROUNDS=3, DURATION=10s; the servers are release builds)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
scripts/setup.sh
command -v wrk >/dev/null || {
    sudo=""; [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
}
rounds="${ROUNDS:-3}"
duration="${DURATION:-10s}"
baseline_bin="${WASMTIME_SERVE_BIN:-/tmp/wasmtime-serve-bin}"
wasmtime="${WASMTIME:-/tmp/wasmtime-cli/bin/wasmtime}"
unset RUST_BACKTRACE

echo "==> building (release): iomod, iomod-dynamodb, the native todo handler, the functions"
cargo build --release -p iomod --bin iomod -p iomod-dynamodb --bin iomod-dynamodb --example native_todo
cargo build --release --manifest-path functions/Cargo.toml --target wasm32-unknown-unknown -p hello -p todo

work="$(mktemp -d)"
results="$work/results"
mkdir -p "$results"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    scripts/dynamodb-server.sh stop "$work/moto.pid" || true
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # url [method]
    for _ in $(seq 1 1200); do
        code="$(curl -s -o /dev/null -w '%{http_code}' -X "${2:-GET}" "$1" || true)"
        [[ "$code" == 200 ]] && return 0
        sleep 0.05
    done
    echo "no answer from $1" >&2; exit 1
}

moto_port="$(free_port)"
scripts/dynamodb-server.sh start "$moto_port" "$work/moto.pid"
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$moto_port"
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench IOMOD_LOG=warn

# The todo function's manifest with the release IOmod.
mkdir -p "$work/todo"
cat > "$work/todo/function.toml" <<TOML
[function]
name = "todo"
module = "$root/functions/target/wasm32-unknown-unknown/release/todo.wasm"
call_timeout_ms = 10000
[iomod.dependencies.dynamodb]
coordinates = "example.aws.dynamodb"
entrypoint = "$root/target/release/iomod-dynamodb"
TOML

iomod_port="$(free_port)"
target/release/iomod serve functions/hello/function.toml "$work/todo/function.toml" \
    --listen "127.0.0.1:$iomod_port" --cache-dir "$work/cache" &
pids+=($!)
wait_for "http://127.0.0.1:$iomod_port/readyz"
curl -s -X POST --data '{"action": "setup"}' "http://127.0.0.1:$iomod_port/functions/todo" >/dev/null
curl -s -X POST --data '{"action": "create", "title": "benchmark"}' "http://127.0.0.1:$iomod_port/functions/todo"; echo

native_port="$(free_port)"
target/release/examples/native_todo "127.0.0.1:$native_port" >/dev/null &
pids+=($!)
wait_for "http://127.0.0.1:$native_port/" POST

targets=(iomod-hello iomod-healthz iomod-todo-get native-todo-get)
declare -A url=(
    [iomod-hello]="http://127.0.0.1:$iomod_port/functions/hello"
    [iomod-healthz]="http://127.0.0.1:$iomod_port/healthz"
    [iomod-todo-get]="http://127.0.0.1:$iomod_port/functions/todo"
    [native-todo-get]="http://127.0.0.1:$native_port/functions/todo"
)
declare -A script=(
    [iomod-hello]="benches/http/post-empty.lua"
    [iomod-todo-get]="benches/http/todo-get.lua"
    [native-todo-get]="benches/http/todo-get.lua"
)
declare -A connections=(
    [iomod-hello]="1 64" [iomod-healthz]="1 64" [iomod-todo-get]="1 8" [native-todo-get]="1 8"
)
if [[ -x "$wasmtime" && -f "$baseline_bin/hello.wasm" && -x "$baseline_bin/native-hyper" ]]; then
    wasmtime_port="$(free_port)"
    "$wasmtime" serve -S cli --addr "127.0.0.1:$wasmtime_port" "$baseline_bin/hello.wasm" 2>/dev/null &
    pids+=($!)
    native_hello_port="$(free_port)"
    "$baseline_bin/native-hyper" "127.0.0.1:$native_hello_port" 2>/dev/null &
    pids+=($!)
    wait_for "http://127.0.0.1:$wasmtime_port/"
    wait_for "http://127.0.0.1:$native_hello_port/"
    targets+=(wasmtime-hello native-hello)
    url[wasmtime-hello]="http://127.0.0.1:$wasmtime_port/"
    url[native-hello]="http://127.0.0.1:$native_hello_port/"
    connections[wasmtime-hello]="1 64"
    connections[native-hello]="1 64"
else
    echo "==> wasmtime serve baseline not built ($wasmtime, $baseline_bin): skipping it"
fi

for round in $(seq 1 "$rounds"); do
    for target in "${targets[@]}"; do
        for c in ${connections[$target]}; do
            threads=$(( c > 1 ? 2 : 1 ))
            args=(-t"$threads" -c"$c" -d"$duration" --latency)
            [[ -n "${script[$target]:-}" ]] && args+=(-s "${script[$target]}")
            echo "==> round $round/$rounds: $target, $c connection(s)"
            wrk "${args[@]}" -d2s "${url[$target]}" >/dev/null   # warm-up
            wrk "${args[@]}" "${url[$target]}" > "$results/${target}_c${c}_r${round}.txt"
        done
    done
done
echo
python3 benches/http/summary.py "$results"
