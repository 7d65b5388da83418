# The echo IOmod's interface: hand-written, in the shape the code generator emits (every method's results
# are a union of its output and a typed error).
@0x801f5ec43eae8085;

using Iomod = import "/iomod.capnp";

interface Echo {
  echo @0 (payload :Data, delayMs :UInt32, failWith :Text, panic :Bool) -> (result :EchoResult);
  # Returns `payload` after `delayMs` milliseconds. A non-empty `failWith` returns the method error of that
  # name instead; `panic` makes the method body panic (the SDK turns that into an `internal` error).

  reverse @1 (text :Text) -> (result :ReverseResult);
  # Returns `text` with its characters in reverse order.

  context @2 () -> (timeoutMicros :UInt64, traceparent :Text);
  # The call's context as the method body sees it: the time left before the caller's deadline (0 without
  # one) and the caller's W3C traceparent (empty without one).
}

struct EchoResult {
  union {
    ok @0 :Data;
    err @1 :Iomod.Error;
  }
}

struct ReverseResult {
  union {
    ok @0 :Text;
    err @1 :Iomod.Error;
  }
}
