# The protocol between the iomod runtime (its registry) and IOmod processes.
#
# An IOmod process connects to the registry (a Unix socket, or TCP with a shared token), bootstraps a
# `Gate`, opens it to obtain the `Registry`, and calls `register` with a description of itself (`IomodInfo`),
# a `Control` capability (health, drain) and its typed service capability. The registry answers with a
# `Registration`; dropping it, or the connection closing, deregisters the IOmod.
#
# Calls to an IOmod's methods travel on its typed service capability, whose interface is generated from the
# IOmod's manifest (or written by hand). By convention every method's results carry a union of the method's
# output and its typed error, because across Cap'n Proto RPC hops only the text of an exception survives.
#
# Since protocol version 2 the registry calls an IOmod's methods through `Control.call`, which carries the
# call's context (its deadline and W3C trace context) next to the method's params; the typed service
# capability stays registered for clients that call it directly. IOmods that register with version 1 are
# called on their typed capability, without a context.
#
# A runtime may listen on several sockets: a main one and one lane per worker thread. It names the lanes in
# `IOMOD_REGISTRY_LANES` (socket paths separated by `:`); an IOmod registers with the main registry and
# with every lane, each over its own connection, so that a worker calls it without handing the call to
# another thread. An IOmod that registers only with the main registry still works, a little slower.
# Failures that happen outside a method body (the IOmod is draining, the handler panicked, the input could not
# be decoded) are raised as RPC exceptions whose description starts with `iomod.<code>: ` where `<code>` is
# the camelCase name of an `Error.Code` enumerant; the registry turns them back into typed errors.

@0x84ba41fceea58774;

# The version of this protocol. The registry accepts registrations whose `protocolVersion` it supports
# and rejects the rest with an `incompatible` error naming both versions.
const protocolVersion :UInt32 = 2;

# A typed error, used both by the registry (for its own failures) and inside the results of IOmod methods.
struct Error {
  code @0 :Code;
  # What kind of failure this is.

  message @1 :Text;
  # A human-readable explanation, meant for logs and for the caller.

  name @2 :Text;
  # When `code` is `method`: the name of the method's own error, as declared in the IOmod's manifest
  # (for example `ConditionalCheckFailed`). Empty otherwise.

  detail @3 :Data;
  # When `code` is `method`: the error's payload, a Cap'n Proto message whose root is the error's struct.
  # Empty when the error carries no data.

  enum Code {
    internal @0;
    # A bug or an unexpected failure inside the runtime or the IOmod.
    notFound @1;
    # No IOmod has registered under the requested coordinates (since the registry started).
    methodNotFound @2;
    # The IOmod is registered but has no method of that name.
    invalidInput @3;
    # The request was malformed: bad coordinates, a payload that is not a valid message, a bad field.
    unavailable @4;
    # The IOmod exists but cannot answer now: it crashed, disconnected, is draining, or failed its health check
    # (also when every instance of it has left and none has registered again: it may be restarting).
    deadlineExceeded @5;
    # The call did not finish before its deadline.
    tooLarge @6;
    # The input or output payload is larger than the configured limit.
    incompatible @7;
    # The two sides do not speak compatible versions (of this protocol, or of an IOmod's interface).
    unauthenticated @8;
    # A TCP connection presented no token, or the wrong one.
    method @9;
    # The IOmod's method returned one of its own named errors (see `name` and `detail`).
    forbidden @10;
    # The caller may not call that IOmod (a function called an IOmod it does not declare).
  }
}

# Describes one method of an IOmod.
struct MethodInfo {
  name @0 :Text;
  # The method's name, snake_case (`put_item`). The method's path is `<coordinates>.<name>`.

  ordinal @1 :UInt16;
  # The method's ordinal in the IOmod's Cap'n Proto interface (the `@N` of the method).

  doc @2 :Text;
  # The method's documentation, from the manifest.

  inputSchema @3 :Text;
  # JSON Schema (draft 2020-12) of the method's input, as JSON text. Empty when not known.

  outputSchema @4 :Text;
  # JSON Schema of the method's output, as JSON text. Empty when not known.

  errorSchema @5 :Text;
  # JSON Schema of the method's named errors, as JSON text. Empty when the method declares none.

  fingerprint @6 :Text;
  # The first 16 hex digits of the SHA-256 of `contract`'s text. Callers built from a manifest send the
  # fingerprint of their own contract with every call. Empty for IOmods written without a manifest.

  contract @7 :Text;
  # The method's contract (JSON text; see "Contracts" in docs/protocol.md): its ordinal, the manifest's
  # version, and the layout of every type its input, output and named errors reach. When a caller's
  # fingerprint differs, the registry compares the caller's contract with this one by Cap'n Proto's
  # compatibility rules and answers `incompatible`, naming what changed, when they do not fit. Empty when
  # unknown (an IOmod registered without one is then called only with its own fingerprint, or none).
}

# What an IOmod says about itself when it registers.
struct IomodInfo {
  coordinates @0 :Text;
  # `organization.namespace.name`, three dot-separated identifiers (for example `example.aws.dynamodb`).
  # Each identifier starts with a lowercase ASCII letter and continues with lowercase letters, digits,
  # `_` or `-`; at most 64 characters each.

  version @1 :Text;
  # The IOmod's semantic version (`1.2.3`, optionally with a pre-release or build suffix).

  protocolVersion @2 :UInt32;
  # The version of this protocol the IOmod speaks; see `protocolVersion` above.

  manifestDigest @3 :Text;
  # `sha256:<hex>` of the IOmod's manifest, so that callers built against one manifest can tell whether
  # the running IOmod was built from the same one. Empty for IOmods written without a manifest.

  interfaceId @4 :UInt64;
  # The Cap'n Proto interface id of the service capability passed to `register`.

  methods @5 :List(MethodInfo);
  # Every method of the service capability. Names and ordinals must be unique.

  pid @6 :UInt32;
  # The IOmod's process id, for operators (0 when not known).

  sdkVersion @7 :Text;
  # The version of the SDK the IOmod was built with, for operators.
}

# The health of an IOmod, as it reports it.
struct Health {
  status @0 :Status;
  message @1 :Text;
  # Why the IOmod is not `serving`, when it is not.

  inFlight @2 :UInt32;
  # Calls the IOmod is executing right now.

  enum Status {
    serving @0;
    # Ready for calls.
    draining @1;
    # Finishing the calls it has, accepting no new ones; about to exit.
    degraded @2;
    # Serving, but something it depends on is failing (its own judgement).
  }
}

# The outcome of a call made with JSON.
struct JsonResult {
  union {
    ok @0 :Text;
    # The method's output, as JSON.
    err @1 :Error;
    # Why it failed. A method's own named error has code `method`, its name, and its value as JSON text
    # in `detail`.
  }
}

# What travels with a call besides its params (protocol version 2).
struct CallContext {
  timeoutMicros @0 :UInt64;
  # How long the caller still waits for the answer, in microseconds, measured when the registry sent the
  # call. The IOmod's deadline is the moment it received the call plus this; past it, nobody reads the
  # answer, so the IOmod should stop working on it (the SDK cancels the method body). 0: no deadline.

  traceparent @1 :Text;
  # The W3C trace context of the call (`00-<trace id>-<parent span id>-<flags>`), so the IOmod's spans
  # join the caller's trace. Empty when the caller has none.

  tracestate @2 :Text;
  # The W3C `tracestate` that goes with `traceparent`, if any.
}

# Control surface every IOmod serves next to its typed service.
interface Control {
  health @0 () -> (health :Health);
  # Answers promptly with the IOmod's health. The registry calls it periodically; an IOmod that does
  # not answer within the health-check timeout is reported `unhealthy`.

  callJson @1 (method :Text, input :Text) -> (result :JsonResult);
  # Calls a method with its input as JSON (shaped as the method's input JSON Schema) and answers with its
  # output as JSON. IOmods generated with serde support implement it; others answer `methodNotFound`.

  call @2 (context :CallContext, method :UInt16, params :AnyPointer) -> (results :AnyPointer);
  # Calls the method with ordinal `method` of the IOmod's typed interface (protocol version 2): `params` is
  # that method's params struct and `results` its results struct, exactly as on the typed capability.
  # A method body that passes the context's deadline is cancelled and the call fails with
  # `deadlineExceeded`.
}

# Held by a registered IOmod. Dropping it deregisters the IOmod.
interface Registration {
  instanceId @0 () -> (id :UInt64);
  # The registry's id for this registration (unique per registry process).
}

# State of one registered IOmod, as listed by the registry.
struct IomodStatus {
  info @0 :IomodInfo;
  # What the IOmod registered with.

  instanceId @1 :UInt64;
  # The registry's id for this registration.

  state @2 :State;

  registeredAtMs @3 :UInt64;
  # When the IOmod registered, in milliseconds since the Unix epoch.

  callsStarted @4 :UInt64;
  # Calls the registry has forwarded to this instance.

  callsFailed @5 :UInt64;
  # Of those, calls that ended in an error raised by the registry or the transport (not the method's own
  # named errors).

  callers @6 :List(Caller);
  # The callers seen by this instance: one per method and caller contract (at most 64 per method, the
  # first seen), with the version of the manifest each caller was generated from.

  struct Caller {
    method @0 :Text;
    # The method called.

    version @1 :Text;
    # The version of the IOmod's manifest the caller was generated from (empty when its contract is not
    # known).

    fingerprint @2 :Text;
    # The fingerprint of the caller's contract.

    calls @3 :UInt64;
    # Calls made with this contract.

    refused @4 :Text;
    # Why calls with this contract are refused as `incompatible`; empty when they are served.
  }

  enum State {
    ready @0;
    # Registered and answering health checks.
    unhealthy @1;
    # Failed its most recent health check.
    draining @2;
    # Reported that it is shutting down.
  }
}

# The outcome of `Registry.register`.
struct RegisterResult {
  union {
    registration @0 :Registration;
    error @1 :Error;
  }
}

# The registry, as seen by IOmods and by tools such as `iomod ls`.
interface Registry {
  register @0 (info :IomodInfo, control :Control, service :Capability) -> (result :RegisterResult);
  # Registers an IOmod. An IOmod already registered under the same coordinates is replaced: calls
  # already forwarded to it finish (or fail) on it, new calls go to the new instance.

  list @1 () -> (iomods :List(IomodStatus));
  # Every registered IOmod, sorted by coordinates.

  waitReady @2 (coordinates :List(Text), timeoutMs :UInt32) -> (error :Error);
  # Returns once every named IOmod is registered, or with a `deadlineExceeded` error naming the missing
  # ones after `timeoutMs`. `error` is null on success.

  callJson @3 (path :Text, input :Text, timeoutMs :UInt32) -> (result :JsonResult);
  # Calls the method at `path` with its input as JSON, through the IOmod's `Control.callJson` (for tools
  # such as `iomod call`). `timeoutMs` 0 means the registry's default deadline.
}

# The outcome of `Gate.open`.
struct OpenResult {
  union {
    registry @0 :Registry;
    error @1 :Error;
  }
}

# The bootstrap capability of every registry connection.
interface Gate {
  open @0 (token :Text) -> (result :OpenResult);
  # Presents the shared token. Connections over TCP must present the registry's token; over a Unix
  # socket (mode 0600, so only the runtime's user can connect) the token is ignored.
}
