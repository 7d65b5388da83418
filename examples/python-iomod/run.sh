#!/bin/sh
# Starts the Python greeter IOmod with the virtualenv that scripts/setup.sh makes (pycapnp 2.2.4 in
# .venv/pycapnp, or $IOMOD_PYCAPNP_VENV). A function.toml or a package names this file as the entrypoint.
here="$(cd "$(dirname "$0")" && pwd)"
venv="${IOMOD_PYCAPNP_VENV:-$here/../../.venv/pycapnp}"
if [ ! -x "$venv/bin/python" ]; then
    echo "greeter: no virtualenv with pycapnp at $venv; run scripts/setup.sh" >&2
    exit 127
fi
exec "$venv/bin/python" "$here/server.py" "$@"
