//! The context of a call: its deadline and W3C trace context, carried by the protocol's `CallContext` from
//! the runtime to the IOmod, and given to the method body as a task-local.
//!
//! ```no_run
//! # async fn body() {
//! // Inside a method body:
//! if let Some(context) = iomod_sdk::CallContext::current() {
//!     // Bound downstream work by what the caller still waits for.
//!     let left = context.remaining();
//!     tracing::info!(trace_id = ?context.trace_id(), ?left, "working");
//! }
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use crate::iomod_capnp::call_context;

/// The longest a deadline computed by [`deadline_after`] lies ahead: about a century.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The instant `timeout` from now, for any `timeout`: one too large for the clock (such as
/// `Duration::MAX`) gives a deadline about a century ahead instead of overflowing.
pub fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout.min(FAR_FUTURE))
        .or_else(|| now.checked_add(Duration::from_secs(24 * 3600)))
        .unwrap_or(now)
}

tokio::task_local! {
    static CURRENT: CallContext;
}

/// What a call carries besides its input: when the caller stops waiting, and the trace it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// When the caller stops waiting for the answer; `None` when it set no deadline. The SDK cancels a
    /// method body that runs past it.
    pub deadline: Option<Instant>,
    /// The caller's W3C trace context.
    pub traceparent: Option<TraceParent>,
    /// The W3C `tracestate` that goes with `traceparent` (passed through as is).
    pub tracestate: Option<String>,
}

/// The longest `tracestate` kept (the W3C limit is 512 characters).
const MAX_TRACESTATE_LEN: usize = 512;

impl CallContext {
    /// The context of the call whose method body is running, if it came with one (calls through the
    /// runtime's registry do, since protocol version 2).
    pub fn current() -> Option<CallContext> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `future` with this context as [`CallContext::current`].
    pub fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }

    /// The time left before the deadline (zero once it passed); `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The trace id, as 32 lowercase hex digits.
    pub fn trace_id(&self) -> Option<String> {
        self.traceparent.as_ref().map(TraceParent::trace_id_hex)
    }

    /// Reads a protocol `CallContext` received at `received`.
    pub fn read(reader: call_context::Reader<'_>, received: Instant) -> CallContext {
        let deadline = match reader.get_timeout_micros() {
            0 => None,
            micros => received.checked_add(Duration::from_micros(micros)),
        };
        let text = |t: capnp::Result<capnp::text::Reader<'_>>| {
            t.ok()
                .and_then(|t| t.to_str().ok())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        CallContext {
            deadline,
            // A malformed traceparent is dropped, as the W3C rules ask: the IOmod starts a trace of its own.
            traceparent: text(reader.get_traceparent()).and_then(|t| t.parse().ok()),
            tracestate: text(reader.get_tracestate()).filter(|s| s.len() <= MAX_TRACESTATE_LEN),
        }
    }

    /// Writes into a protocol builder; the timeout is measured from now.
    pub fn write(&self, mut builder: call_context::Builder<'_>) {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            // A deadline that passed is sent as the shortest timeout, not as "none".
            let micros = u64::try_from(left.as_micros()).unwrap_or(u64::MAX).max(1);
            builder.set_timeout_micros(micros);
        }
        if let Some(parent) = &self.traceparent {
            builder.set_traceparent(parent.to_string());
        }
        if let Some(state) = &self.tracestate {
            builder.set_tracestate(state);
        }
    }
}

/// A W3C `traceparent`: version 00, a 16-byte trace id, an 8-byte parent span id and the flags.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace id (never all zero).
    pub trace_id: [u8; 16],
    /// The id of the caller's span (never all zero).
    pub parent_id: [u8; 8],
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

impl TraceParent {
    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The parent span id as 16 lowercase hex digits.
    pub fn parent_id_hex(&self) -> String {
        hex(&self.parent_id)
    }

    /// The same trace with `span_id` as the parent: what a span passes to the calls it makes.
    pub fn child(&self, span_id: [u8; 8]) -> TraceParent {
        TraceParent {
            parent_id: span_id,
            ..*self
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.parent_id),
            self.flags
        )
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceParent({self})")
    }
}

/// Why a `traceparent` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>, ids not all zero)")]
pub struct BadTraceParent;

impl std::str::FromStr for TraceParent {
    type Err = BadTraceParent;

    /// Parses `00-<trace id>-<parent id>-<flags>` (lowercase hex). A later version's value is read by its
    /// first four fields, as the W3C specification asks; version `ff` is invalid.
    fn from_str(s: &str) -> Result<Self, BadTraceParent> {
        let mut parts = s.trim().splitn(5, '-');
        let (Some(version), Some(trace), Some(parent), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(BadTraceParent);
        };
        let rest = parts.next();
        let version = parse_hex::<1>(version).ok_or(BadTraceParent)?[0];
        if version == 0xff || (version == 0 && rest.is_some()) {
            return Err(BadTraceParent);
        }
        let trace_id = parse_hex::<16>(trace).ok_or(BadTraceParent)?;
        let parent_id = parse_hex::<8>(parent).ok_or(BadTraceParent)?;
        let flags = parse_hex::<1>(flags).ok_or(BadTraceParent)?[0];
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return Err(BadTraceParent);
        }
        Ok(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }
}

/// `N` bytes from exactly `2N` lowercase hex digits.
fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let digits = s.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let value = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = value(pair[0])? << 4 | value(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_rejects_what_w3c_rejects() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parent: TraceParent = text.parse().unwrap();
        assert_eq!(parent.to_string(), text);
        assert_eq!(parent.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.flags, 1);
        let child = parent.child([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            child.to_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-01"
        );
        // A future version with more fields is read by its first four.
        assert!(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"
                .parse::<TraceParent>()
                .is_ok()
        );
        for bad in [
            "",
            "00",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        ] {
            assert!(bad.parse::<TraceParent>().is_err(), "{bad}");
        }
    }

    #[test]
    fn context_round_trips_through_the_protocol() {
        let context = CallContext {
            deadline: Some(Instant::now() + Duration::from_secs(5)),
            traceparent: Some(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                    .parse()
                    .unwrap(),
            ),
            tracestate: Some("vendor=value".into()),
        };
        let mut message = capnp::message::Builder::new_default();
        context.write(message.init_root());
        let received = Instant::now();
        let read = CallContext::read(message.get_root_as_reader().unwrap(), received);
        assert_eq!(read.traceparent, context.traceparent);
        assert_eq!(read.tracestate, context.tracestate);
        let left = read.deadline.unwrap() - received;
        assert!(left <= Duration::from_secs(5) && left > Duration::from_secs(4));

        // No deadline and no trace: nothing on the wire, nothing read back.
        let mut message = capnp::message::Builder::new_default();
        CallContext::default().write(message.init_root());
        let read = CallContext::read(message.get_root_as_reader().unwrap(), received);
        assert_eq!(read, CallContext::default());
    }
}
