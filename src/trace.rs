//! Trace ids for invocations and IOmod calls (W3C trace context), without a tracing backend: they appear
//! in the runtime's `tracing` spans and travel to IOmods in each call's context, so that both sides' logs
//! of one invocation share a trace id.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use iomod_sdk::TraceParent;

/// A new span id: 8 random bytes, never all zero.
pub fn new_span_id() -> [u8; 8] {
    loop {
        let id = random_u64().to_le_bytes();
        if id != [0; 8] {
            return id;
        }
    }
}

/// The trace context of an invocation: a span of its own in the caller's trace when `incoming` is a valid
/// `traceparent`, else in a new sampled trace.
pub fn invocation(incoming: Option<&str>) -> TraceParent {
    match incoming.and_then(|text| text.parse::<TraceParent>().ok()) {
        Some(parent) => parent.child(new_span_id()),
        None => {
            let mut trace_id = [0u8; 16];
            while trace_id == [0; 16] {
                trace_id[..8].copy_from_slice(&random_u64().to_le_bytes());
                trace_id[8..].copy_from_slice(&random_u64().to_le_bytes());
            }
            TraceParent {
                trace_id,
                parent_id: new_span_id(),
                flags: 1,
            }
        }
    }
}

/// 64 bits that differ from call to call and from process to process: the standard library's randomly
/// keyed SipHash over a counter. Not for secrets; enough for trace ids.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static KEYS: std::collections::hash_map::RandomState = std::collections::hash_map::RandomState::new();
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    KEYS.with(|keys| {
        let mut hasher = keys.build_hasher();
        hasher.write_u64(n);
        hasher.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_join_a_valid_incoming_trace_or_start_one() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let joined = invocation(Some(incoming));
        assert_eq!(joined.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(joined.parent_id_hex(), "00f067aa0ba902b7");

        let fresh = invocation(Some("garbage"));
        let other = invocation(None);
        assert_ne!(fresh.trace_id, other.trace_id);
        assert_ne!(fresh.trace_id, [0; 16]);
        assert_eq!(fresh.flags, 1);
        assert_ne!(new_span_id(), new_span_id());
    }
}
