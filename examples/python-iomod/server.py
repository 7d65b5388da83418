"""The `example.demo.greeter` IOmod, written in Python with pycapnp.

It needs only what docs/protocol.md says an IOmod in any language needs:

- `schema/iomod.capnp`, the protocol (a copy of the repository's `schemas/iomod.capnp`),
- `schema/greeter.capnp`, the IOmod's interface, generated from `iomod.toml`,
- `registration/greeter.json`, the registration fields the manifest determines (method ordinals, JSON
  Schemas, fingerprints, the manifest digest), generated from `iomod.toml` too.

Regenerate them (and the guest crate wasm functions use) after changing the manifest:

    cargo run -p iomod-codegen -- generate examples/python-iomod/iomod.toml --out examples/python-iomod \
        --only schema,guest,json,registration --guest-sdk-dependency '{ path = "../../../iomod-sdk" }'

Run it with `run.sh` (which uses the virtualenv `scripts/setup.sh` makes) under a runtime that starts it, or
by hand next to `iomod registry` (it reads `IOMOD_REGISTRY`, `IOMOD_REGISTRY_TOKEN` and
`IOMOD_REGISTRY_LANES`). Every call prints one line to standard output; lifecycle messages go to standard
error.
"""

import asyncio
import json
import os
import signal
import sys

import capnp

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.path.join(HERE, "schema")
# `greeter.capnp` imports "/iomod.capnp": resolved in SCHEMA_DIR. Each file is loaded under one path only
# (pycapnp aborts the process on a schema loaded twice under different paths).
IMPORTS = [SCHEMA_DIR, os.path.dirname(capnp.__file__)]
iomod = capnp.load(os.path.join(SCHEMA_DIR, "iomod.capnp"), imports=IMPORTS)
greeter = capnp.load(os.path.join(SCHEMA_DIR, "greeter.capnp"), imports=IMPORTS)
with open(os.path.join(HERE, "registration", "greeter.json"), encoding="utf-8") as f:
    DESCRIPTOR = json.load(f)

# The protocol version this server implements: version 2, whose calls arrive through `Control.call` with
# their context. (Not `iomod.protocolVersion`: a newer schema copy would claim a version not implemented here.)
PROTOCOL_VERSION = 2
VERSION = "0.1.0"  # of this server, reported as `sdkVersion`
DRAIN_TIMEOUT = 30.0
RECONNECT_INITIAL, RECONNECT_MAX = 0.05, 0.5
# Registration errors that retrying cannot fix.
FATAL = {"incompatible", "invalidInput", "unauthenticated", "tooLarge"}


def log(message):
    print(f"greeter[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


# --- Errors ---------------------------------------------------------------------------------------------


class Failure(Exception):
    """A failure with a protocol error code (`Error.Code`, camelCase), not one of a method's named errors."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message

    def exception(self):
        """The same failure as an RPC exception, for failures outside a method's results: the registry
        reads the code back from the `iomod.<code>: ` prefix. (A `KjException` travels as its message; any
        other Python exception would travel with its traceback.)"""
        return capnp.KjException(f"iomod.{self.code}: {self.message}")


class Named(Exception):
    """One of a method's named errors (`Blocked`), with its fields as in the method's error JSON Schema."""

    def __init__(self, name, fields, message):
        super().__init__(message)
        self.name, self.fields, self.message = name, fields, message


# --- The implementation: plain Python values, shaped as the methods' JSON Schemas ------------------------


class Greeter:
    BLOCKED = {"mallory": "listens in on conversations"}

    def __init__(self):
        self.greeted = 0
        self.blocked = 0

    async def greet(self, value):
        name, style = value["name"], value.get("style") or "plain"
        if not name:
            raise Failure("invalidInput", "the name is empty")
        reason = self.BLOCKED.get(name.lower())
        if reason is not None:
            self.blocked += 1
            raise Named("Blocked", {"name": name, "reason": reason}, f"{name} is blocked: {reason}")
        self.greeted += 1
        greeting = f"Hello, {name}!"
        if style == "shout":
            greeting = greeting.upper()
        return {"greeting": greeting, "count": self.greeted}

    async def stats(self, value):
        return {"greeted": self.greeted, "blocked": self.blocked}


# --- The wire: Cap'n Proto and JSON to and from those values, per method ---------------------------------


def greet_input_from_capnp(r):
    # `option<Style>` is a union { none; some } in Cap'n Proto; an enum value reads as its name.
    style = r.style.some._as_str() if r.style.which() == "some" else None
    return {"name": r.name, "style": style}


def greet_input_from_json(v):
    check_object(v, required={"name"}, optional={"style"})
    if not isinstance(v["name"], str):
        raise Failure("invalidInput", "`name` must be a string")
    if v.get("style") not in (None, "plain", "shout"):
        raise Failure("invalidInput", '`style` must be "plain", "shout" or null')
    return {"name": v["name"], "style": v.get("style")}


def stats_input_from_json(v):
    check_object(v, required=set(), optional=set())
    return {}


def check_object(v, required, optional):
    if not isinstance(v, dict):
        raise Failure("invalidInput", "the input must be a JSON object")
    missing = required - v.keys()
    unknown = v.keys() - required - optional
    if missing or unknown:
        raise Failure("invalidInput", f"missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")


# name -> (ordinal from the descriptor, Cap'n Proto input decoder, JSON input decoder, named errors as
# manifest name -> union member of the method's Result struct)
METHODS = {
    "greet": (greet_input_from_capnp, greet_input_from_json, {"Blocked": "blocked"}),
    "stats": (lambda r: {}, stats_input_from_json, {}),
}
ORDINALS = {m["ordinal"]: m["name"] for m in DESCRIPTOR["methods"]}
INTERFACE = greeter.Greeter.schema


def write_outcome(result, outcome, named):
    """Writes an outcome (a value, a `Named` error or a `Failure`) into a method's `...Result` union."""
    if isinstance(outcome, Named):
        init(result, named[outcome.name], outcome.fields)
    elif isinstance(outcome, Failure):
        init(result, "failed", {"code": outcome.code, "message": outcome.message})
    else:
        init(result, "ok", outcome)


def init(union, member, fields):
    """Sets the struct `member` of `union` from a flat dict of snake_case fields (one word each here, so
    their Cap'n Proto names are the same)."""
    struct = union.init(member)
    for key, value in fields.items():
        setattr(struct, key, value)


# --- Serving --------------------------------------------------------------------------------------------


class Calls:
    """Runs method bodies: counts them, refuses them while draining, bounds them by their deadline."""

    def __init__(self, implementation):
        self.implementation = implementation
        self.in_flight = 0
        self.draining = False
        self.idle = asyncio.Event()
        self.idle.set()

    async def run(self, name, value, timeout, trace):
        """The method's outcome: its output value, or a `Named` or `Failure` error (returned, not raised).
        Raises `Failure` for what is not an outcome: the IOmod is draining, or the deadline passed."""
        if self.draining:
            raise Failure("unavailable", "the IOmod is shutting down")
        self.in_flight += 1
        self.idle.clear()
        try:
            body = getattr(self.implementation, name)(value)
            outcome = await (body if timeout is None else asyncio.wait_for(body, timeout))
        except asyncio.TimeoutError:
            outcome = Failure("deadlineExceeded", "the caller's deadline passed; the method was cancelled")
        except (Named, Failure) as e:
            outcome = e
        except Exception as e:  # a bug in the method: an `internal` error, not a crash
            outcome = Failure("internal", f"the method raised {type(e).__name__}: {e}")
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self.idle.set()
        kind = outcome.code if isinstance(outcome, Failure) else type(outcome).__name__ if isinstance(outcome, Named) else "ok"
        print(f"greeter: {name} {json.dumps(value)} -> {kind}{trace}", flush=True)
        if isinstance(outcome, Failure) and outcome.code == "deadlineExceeded":
            raise outcome
        return outcome


class GreeterServer(greeter.Greeter.Server):
    """The typed capability, for clients that call the interface directly (no call context)."""

    def __init__(self, calls):
        self.calls = calls

    async def _call(self, name, context):
        decode, _, named = METHODS[name]
        try:
            outcome = await self.calls.run(name, decode(context.params.input), None, "")
        except Failure as e:
            raise e.exception()
        write_outcome(context.results.result, outcome, named)

    async def greet_context(self, context):
        await self._call("greet", context)

    async def stats_context(self, context):
        await self._call("stats", context)


class ControlServer(iomod.Control.Server):
    """`Control`: health, JSON calls, and `call`, through which the registry makes every call (protocol
    version 2)."""

    def __init__(self, calls):
        self.calls = calls

    async def health_context(self, context):
        health = context.results.health
        health.inFlight = self.calls.in_flight
        if self.calls.draining:
            health.status, health.message = "draining", "shutting down"
        else:
            health.status = "serving"

    async def call_context(self, context):
        try:
            await self._call(context)
        except capnp.KjException:
            raise
        except Exception as e:  # a bug here: an `internal` error with its text, not a traceback
            raise Failure("internal", f"{type(e).__name__}: {e}").exception()

    async def _call(self, context):
        loop = asyncio.get_running_loop()
        received = loop.time()
        p = context.params
        name = ORDINALS.get(p.method)
        if name is None:
            raise Failure("methodNotFound", f"`{DESCRIPTOR['coordinates']}` has no method with ordinal {p.method}").exception()
        decode, _, named = METHODS[name]
        method = INTERFACE.methods[name]  # the Cap'n Proto method: its params and results structs
        try:
            value = decode(p.params.as_struct(method.param_type).input)
        except capnp.KjException as e:
            raise Failure("invalidInput", f"the input of `{name}` is malformed: {e}").exception()
        micros = p.context.timeoutMicros
        timeout = None if micros == 0 else max(0.0, received + micros / 1e6 - loop.time())
        trace = f" trace {p.context.traceparent}" if p.context.traceparent else ""
        try:
            outcome = await self.calls.run(name, value, timeout, trace)
        except Failure as e:
            raise e.exception()
        write_outcome(context.results.results.as_struct(method.result_type).result, outcome, named)

    async def callJson_context(self, context):
        method, text = context.params.method, context.params.input
        result = context.results.result
        try:
            if method not in METHODS:
                raise Failure("methodNotFound", f"`{DESCRIPTOR['coordinates']}` has no method `{method}`")
            try:
                value = json.loads(text)
            except ValueError as e:
                raise Failure("invalidInput", f"the input of `{method}` is not JSON: {e}")
            outcome = await self.calls.run(method, METHODS[method][1](value), None, "")
        except Failure as e:
            outcome = e
        if isinstance(outcome, Named):
            # A named error: code `method`, its name, and its value as JSON text in `detail`.
            init(result, "err", {"code": "method", "name": outcome.name, "message": outcome.message,
                                 "detail": json.dumps(outcome.fields).encode()})
        elif isinstance(outcome, Failure):
            init(result, "err", {"code": outcome.code, "message": outcome.message})
        else:
            result.ok = json.dumps(outcome)


def registry_addresses():
    """`IOMOD_REGISTRY` (a socket path, `unix:PATH` or `tcp://host:port`; the default socket when unset),
    then every lane of `IOMOD_REGISTRY_LANES` (socket paths separated by `:`)."""
    value = os.environ.get("IOMOD_REGISTRY", "").strip()
    if not value:
        runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
        directory = os.path.join(runtime_dir, "iomod") if runtime_dir else f"/tmp/iomod-{os.getuid()}"
        value = os.path.join(directory, "registry.sock")
    if value.startswith("tcp://"):
        host, _, port = value[len("tcp://"):].rpartition(":")
        main = ("tcp", host.strip("[]"), int(port))
    elif "://" in value:
        raise SystemExit(f"greeter: IOMOD_REGISTRY: unsupported address {value}")
    else:
        main = ("unix", value.removeprefix("unix:"))
    lanes = [("unix", p.strip()) for p in os.environ.get("IOMOD_REGISTRY_LANES", "").split(":") if p.strip()]
    return [main] + lanes


class Rejected(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


async def register(address, token, control, service):
    """Connects, opens the gate and registers; returns the connection and the `Registration` to hold."""
    if address[0] == "tcp":
        stream = await capnp.AsyncIoStream.create_connection(host=address[1], port=address[2])
    else:
        stream = await capnp.AsyncIoStream.create_unix_connection(address[1])
    client = capnp.TwoPartyClient(stream)
    gate = client.bootstrap().cast_as(iomod.Gate)
    opened = (await gate.open(token)).result
    if opened.which() == "error":
        raise Rejected(str(opened.error.code), opened.error.message)
    request = opened.registry.register_request()
    info = request.info
    info.coordinates = DESCRIPTOR["coordinates"]
    info.version = DESCRIPTOR["version"]
    info.protocolVersion = PROTOCOL_VERSION
    info.manifestDigest = DESCRIPTOR["manifestDigest"]
    info.interfaceId = int(DESCRIPTOR["interfaceId"], 16)
    info.pid = os.getpid()
    info.sdkVersion = f"python-example {VERSION} (pycapnp {capnp.version.version})"
    methods = info.init("methods", len(DESCRIPTOR["methods"]))
    for i, m in enumerate(DESCRIPTOR["methods"]):
        for field in ("name", "ordinal", "doc", "inputSchema", "outputSchema", "errorSchema", "fingerprint", "contract"):
            setattr(methods[i], field, m[field])
    request.control = control
    request.service = service
    result = (await request.send()).result
    if result.which() == "error":
        raise Rejected(str(result.error.code), result.error.message)
    return client, result.registration


async def keep_registered(address, token, control, service, sessions, stopping):
    """Registers with `address`, and again whenever the connection is lost, until stopping."""
    where = f"{address[1]}:{address[2]}" if address[0] == "tcp" else address[1]
    backoff, attempt = RECONNECT_INITIAL, 0
    while not stopping.is_set():
        try:
            client, registration = await register(address, token, control, service)
        except Rejected as e:
            if e.code in FATAL:
                raise
            error = e
        except Exception as e:  # cannot connect, or the connection broke while registering
            error = e
        else:
            log(f"registered with {where}")
            backoff, attempt = RECONNECT_INITIAL, 0
            sessions[where] = (client, registration)
            disconnected = asyncio.ensure_future(client.on_disconnect())
            stop = asyncio.ensure_future(stopping.wait())
            await asyncio.wait([disconnected, stop], return_when=asyncio.FIRST_COMPLETED)
            disconnected.cancel()
            stop.cancel()
            if stopping.is_set():
                return
            sessions.pop(where, None)
            log(f"lost the registry at {where}; reconnecting")
            continue
        attempt += 1
        if attempt == 1:
            log(f"cannot register with {where}: {error}; retrying with backoff")
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, RECONNECT_MAX)


async def main():
    addresses = registry_addresses()
    token = os.environ.get("IOMOD_REGISTRY_TOKEN", "")
    if addresses[0][0] == "tcp" and not token:
        log("IOMOD_REGISTRY is a TCP address, so IOMOD_REGISTRY_TOKEN must hold the registry's token")
        return 2
    calls = Calls(Greeter())
    control, service = ControlServer(calls), GreeterServer(calls)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    sessions = {}
    tasks = [
        asyncio.ensure_future(keep_registered(a, token, control, service, sessions, stopping)) for a in addresses
    ]
    stop = asyncio.ensure_future(stopping.wait())
    done, _ = await asyncio.wait(tasks + [stop], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task is not stop and task.exception() is not None:
            log(f"the registry rejected this IOmod: {task.exception()}")
            return 1
    # SIGTERM: refuse new calls, deregister everywhere (drop the registrations), finish the calls in flight.
    log(f"draining: {calls.in_flight} calls in flight")
    calls.draining = True
    await asyncio.gather(*tasks, return_exceptions=True)
    clients = [client for client, _ in sessions.values()]
    sessions.clear()  # the last references to the `Registration`s: dropping them deregisters
    try:
        await asyncio.wait_for(calls.idle.wait(), DRAIN_TIMEOUT)
    except asyncio.TimeoutError:
        log(f"drain timeout passed with {calls.in_flight} calls still running")
    for client in clients:
        client.close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(capnp.run(main())))
