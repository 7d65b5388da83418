#!/usr/bin/env bash
# A DynamoDB-compatible server on 127.0.0.1 for the demo, the tests and the benchmarks: moto's server
# (PyPI `moto[server]`, which supports transactions), installed into a virtualenv under .venv/moto.
#
#   scripts/dynamodb-server.sh install          install moto (idempotent; safe to run concurrently)
#   scripts/dynamodb-server.sh start PORT FILE  install, start on 127.0.0.1:PORT, write its pid to FILE,
#                                               wait until it answers
#   scripts/dynamodb-server.sh stop FILE        stop the server whose pid FILE holds
#   scripts/dynamodb-server.sh path             print the moto_server executable
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${IOMOD_MOTO_VENV:-$root/.venv/moto}"
moto_version="5.2.5"
server="$venv/bin/moto_server"

install() {
    mkdir -p "$(dirname "$venv")"
    # One installer at a time; the lock is released when the subshell ends, so servers started later do
    # not inherit it.
    (
        flock 9
        install_locked
    ) 9>"$venv.lock"
}

install_locked() {
    if [[ -x "$server" ]] && "$venv/bin/python" -c "import moto, flask" 2>/dev/null; then
        return 0
    fi
    echo "installing moto $moto_version into $venv" >&2
    local python
    python="$(command -v python3 || true)"
    if [[ -z "$python" ]] || ! "$python" -m venv --help >/dev/null 2>&1; then
        if command -v apt-get >/dev/null; then
            echo "python3 with venv is missing; installing it with apt" >&2
            sudo_cmd=""
            [[ "$(id -u)" -ne 0 ]] && sudo_cmd="sudo"
            $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq python3 python3-venv >&2
            python="$(command -v python3)"
        else
            echo "error: python3 with the venv module is required to install moto" >&2
            exit 1
        fi
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version" >&2
}

wait_ready() {
    local port="$1" pid="$2"
    for _ in $(seq 1 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "error: the DynamoDB server exited while starting" >&2
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "error: the DynamoDB server did not listen on 127.0.0.1:$port within 15 s" >&2
    return 1
}

case "${1:-}" in
    install)
        install
        ;;
    path)
        echo "$server"
        ;;
    start)
        port="${2:?usage: $0 start PORT PIDFILE}"
        pidfile="${3:?usage: $0 start PORT PIDFILE}"
        install
        log="${pidfile%.pid}.log"
        setsid nohup "$server" -H 127.0.0.1 -p "$port" </dev/null >"$log" 2>&1 &
        pid=$!
        echo "$pid" >"$pidfile"
        if ! wait_ready "$port" "$pid"; then
            tail -n 20 "$log" >&2 || true
            kill "$pid" 2>/dev/null || true
            exit 1
        fi
        echo "DynamoDB-compatible server (moto $moto_version) on http://127.0.0.1:$port, pid $pid" >&2
        ;;
    stop)
        pidfile="${2:?usage: $0 stop PIDFILE}"
        if [[ -f "$pidfile" ]]; then
            pid="$(cat "$pidfile")"
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$pidfile"
        fi
        ;;
    *)
        echo "usage: $0 install | start PORT PIDFILE | stop PIDFILE | path" >&2
        exit 2
        ;;
esac
