//! What a connection may do before it is authenticated: the state of its handshake (a TCP connection
//! must open the `Gate` with the token within the handshake timeout, and may fail a few times), and a
//! stream wrapper that refuses large messages until then. Also a throttle for warnings a peer can
//! provoke at will.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Failed `Gate.open` calls a connection may make before it is closed.
pub(super) const MAX_FAILED_OPENS: u32 = 3;
/// The largest message a peer may send before it is authenticated (a `Gate.open` takes well under 1 KiB).
pub(super) const PRE_AUTH_MAX_MESSAGE_BYTES: u64 = 64 * 1024;
/// The most bytes a peer may send before it is authenticated.
pub(super) const PRE_AUTH_MAX_BYTES: u64 = 256 * 1024;
/// The most segments a message may have before authentication.
const PRE_AUTH_MAX_SEGMENTS: u32 = 64;

/// The handshake of one connection.
#[derive(Debug)]
pub(super) struct Handshake {
    /// Whether the `Gate` was opened (always true on the Unix socket, whose permissions authenticate).
    authenticated: Cell<bool>,
    failed_opens: Cell<u32>,
    /// Woken when the connection must close, and why.
    close: tokio::sync::Notify,
    close_reason: Cell<&'static str>,
}

impl Handshake {
    pub(super) fn new(authenticated: bool) -> Rc<Self> {
        Rc::new(Self {
            authenticated: Cell::new(authenticated),
            failed_opens: Cell::new(0),
            close: tokio::sync::Notify::new(),
            close_reason: Cell::new(""),
        })
    }

    pub(super) fn is_authenticated(&self) -> bool {
        self.authenticated.get()
    }

    /// Marks the connection authenticated; true the first time.
    pub(super) fn authenticate(&self) -> bool {
        !self.authenticated.replace(true)
    }

    /// Counts a failed `Gate.open`; true when the connection has failed too often and is being closed.
    pub(super) fn failed_open(&self) -> bool {
        let failed = self.failed_opens.get().saturating_add(1);
        self.failed_opens.set(failed);
        if failed >= MAX_FAILED_OPENS && !self.authenticated.get() {
            self.close("too many failed Gate.open calls");
            true
        } else {
            false
        }
    }

    /// Closes the connection, for `why`.
    pub(super) fn close(&self, why: &'static str) {
        self.close_reason.set(why);
        self.close.notify_one();
    }

    /// Resolves, with the reason, when the connection must close.
    pub(super) async fn closing(&self) -> &'static str {
        self.close.notified().await;
        self.close_reason.get()
    }
}

/// A stream that checks the framing of every message the peer sends and hands a message on only once
/// all of it has arrived. Until the connection is authenticated, a message over
/// [`PRE_AUTH_MAX_MESSAGE_BYTES`] or [`PRE_AUTH_MAX_SEGMENTS`] segments, or more than
/// [`PRE_AUTH_MAX_BYTES`] in all, is an error (which ends the connection) as soon as its header arrives;
/// afterwards, a message over `max_message_bytes` is.
///
/// Holding messages back until they are whole keeps the memory a peer can make the registry hold to what
/// it has actually sent: the Cap'n Proto reader allocates (and zeroes) the whole message its segment table
/// announces before reading it, so an 8-byte header announcing 64 MiB, sent on many connections and never
/// followed by its body, would otherwise pin 64 MiB per connection.
pub(super) struct MessageLimit<S> {
    inner: S,
    handshake: Rc<Handshake>,
    frames: Frames,
    max_message_bytes: u64,
}

impl<S> MessageLimit<S> {
    pub(super) fn new(inner: S, handshake: Rc<Handshake>, max_message_bytes: usize) -> Self {
        Self {
            inner,
            handshake,
            frames: Frames::default(),
            max_message_bytes: max_message_bytes as u64,
        }
    }
}

/// The most segments a message may have once authenticated (Cap'n Proto's readers refuse 512 or more).
const MAX_SEGMENTS: u32 = 511;

/// Where the peer's byte stream is in Cap'n Proto's standard framing, and the bytes received that have not
/// been handed on.
#[derive(Debug, Default)]
struct Frames {
    /// Bytes received and not handed on yet: whole messages first (up to `ready`), then the start of the
    /// next one (parsed up to `parsed`).
    pending: Vec<u8>,
    /// `pending[..ready]` are whole messages, handed on from `out`.
    ready: usize,
    out: usize,
    parsed: usize,
    /// Bytes of the current message's segment table read so far.
    header: Vec<u8>,
    /// Bytes of the current message's segments still to come.
    body_left: u64,
    /// Bytes read in all.
    total: u64,
}

/// The limits a message's header is checked against.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// The most bytes in all (before authentication).
    total: Option<u64>,
    message: u64,
    segments: u32,
}

impl Limits {
    const PRE_AUTH: Limits = Limits {
        total: Some(PRE_AUTH_MAX_BYTES),
        message: PRE_AUTH_MAX_MESSAGE_BYTES,
        segments: PRE_AUTH_MAX_SEGMENTS,
    };

    fn authenticated(max_message_bytes: u64) -> Limits {
        Limits {
            total: None,
            message: max_message_bytes,
            segments: MAX_SEGMENTS,
        }
    }
}

impl Frames {
    /// Takes `bytes` from the peer: follows them through the framing, an error when a message or the
    /// total is over `limits`.
    fn push(&mut self, bytes: &[u8], limits: Limits) -> io::Result<()> {
        let when = if limits.total.is_some() {
            " before authentication"
        } else {
            ""
        };
        let refuse = |what: String| {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{what}{when}"),
            ))
        };
        self.total = self.total.saturating_add(bytes.len() as u64);
        if let Some(total) = limits.total {
            if self.total > total {
                return refuse(format!("more than {total} bytes"));
            }
        }
        self.pending.extend_from_slice(bytes);
        while self.parsed < self.pending.len() {
            let rest = &self.pending[self.parsed..];
            if self.body_left > 0 {
                let n = self.body_left.min(rest.len() as u64);
                self.body_left -= n;
                self.parsed += n as usize;
                if self.body_left == 0 {
                    self.ready = self.parsed;
                }
                continue;
            }
            // In the segment table: the segment count minus one, each segment's size in words, padding
            // to a whole word.
            let wanted = match self.header.get(..4) {
                None => 4,
                Some(first) => {
                    let count = u32::from_le_bytes([first[0], first[1], first[2], first[3]])
                        .wrapping_add(1);
                    (4 + 4 * count as usize).next_multiple_of(8)
                }
            };
            let n = (wanted - self.header.len()).min(rest.len());
            self.header.extend_from_slice(&rest[..n]);
            self.parsed += n;
            if self.header.len() == 4 {
                // The segment count is known: check it now, even if nothing follows yet.
                let count = u32::from_le_bytes([
                    self.header[0],
                    self.header[1],
                    self.header[2],
                    self.header[3],
                ])
                .wrapping_add(1);
                if count == 0 || count > limits.segments {
                    return refuse(format!("a message of {count} segments"));
                }
            } else if self.header.len() == wanted {
                let words: u64 = self.header[4..]
                    .chunks_exact(4)
                    .map(|c| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .sum();
                let size = words.saturating_mul(8).saturating_add(wanted as u64);
                if size > limits.message {
                    return refuse(format!(
                        "a message of {size} bytes (the limit is {} bytes)",
                        limits.message
                    ));
                }
                self.header.clear();
                self.body_left = words * 8;
                if self.body_left == 0 {
                    self.ready = self.parsed;
                }
            }
        }
        Ok(())
    }

    /// Hands on whole messages into `buf`; false when there is none.
    fn pop(&mut self, buf: &mut tokio::io::ReadBuf<'_>) -> bool {
        if self.out >= self.ready {
            return false;
        }
        let n = (self.ready - self.out).min(buf.remaining());
        buf.put_slice(&self.pending[self.out..self.out + n]);
        self.out += n;
        if self.out == self.ready {
            self.pending.drain(..self.ready);
            self.parsed -= self.ready;
            self.ready = 0;
            self.out = 0;
            // A message of many megabytes leaves no large buffer behind.
            if self.pending.capacity() > 64 * 1024 && self.pending.len() < 16 * 1024 {
                self.pending.shrink_to(16 * 1024);
            }
        }
        true
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for MessageLimit<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if buf.remaining() == 0 || this.frames.pop(buf) {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut read = tokio::io::ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    // The end of the stream (a message cut short is dropped with it).
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Ok(())) => {
                    let limits = if this.handshake.is_authenticated() {
                        Limits::authenticated(this.max_message_bytes)
                    } else {
                        Limits::PRE_AUTH
                    };
                    if let Err(e) = this.frames.push(read.filled(), limits) {
                        return Poll::Ready(Err(e));
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for MessageLimit<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Lets a warning through at most once per interval, counting the ones held back.
#[derive(Debug)]
pub(super) struct Throttle {
    interval: Duration,
    last: Cell<Option<Instant>>,
    held_back: Cell<u64>,
}

impl Throttle {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Cell::new(None),
            held_back: Cell::new(0),
        }
    }

    /// `Some(n)` when the warning may be logged now, `n` being how many were held back since the last
    /// one; `None` when it is held back.
    pub(super) fn admit(&self) -> Option<u64> {
        let now = Instant::now();
        match self.last.get() {
            Some(last) if now.duration_since(last) < self.interval => {
                self.held_back.set(self.held_back.get().saturating_add(1));
                None
            }
            _ => {
                self.last.set(Some(now));
                Some(self.held_back.replace(0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(segments: &[u32]) -> Vec<u8> {
        let mut bytes = (segments.len() as u32 - 1).to_le_bytes().to_vec();
        for s in segments {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        if segments.len() % 2 == 0 {
            bytes.extend_from_slice(&[0; 4]);
        }
        for s in segments {
            bytes.extend(std::iter::repeat_n(0xaa, *s as usize * 8));
        }
        bytes
    }

    /// Everything `frames` hands on.
    fn drain(frames: &mut Frames) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 5];
        loop {
            let mut buf = tokio::io::ReadBuf::new(&mut chunk);
            if !frames.pop(&mut buf) {
                return out;
            }
            out.extend_from_slice(buf.filled());
        }
    }

    #[test]
    fn small_messages_pass_byte_by_byte_and_at_once() {
        let mut stream = frame(&[3]);
        stream.extend(frame(&[1, 2]));
        stream.extend(frame(&[0]));
        let mut frames = Frames::default();
        let mut out = Vec::new();
        for b in &stream {
            frames
                .push(std::slice::from_ref(b), Limits::PRE_AUTH)
                .unwrap();
            out.extend(drain(&mut frames));
        }
        assert!(frames.header.is_empty() && frames.body_left == 0);
        assert_eq!(out, stream);
        let mut frames = Frames::default();
        frames.push(&stream, Limits::PRE_AUTH).unwrap();
        assert!(frames.header.is_empty() && frames.body_left == 0);
        assert_eq!(drain(&mut frames), stream);
    }

    #[test]
    fn a_message_is_handed_on_only_once_whole() {
        let first = frame(&[2]);
        let second = frame(&[4, 1]);
        let mut frames = Frames::default();
        let limits = Limits::authenticated(1024);
        frames.push(&first[..first.len() - 1], limits).unwrap();
        assert!(drain(&mut frames).is_empty(), "a message cut short");
        let mut rest = first[first.len() - 1..].to_vec();
        rest.extend_from_slice(&second[..10]);
        frames.push(&rest, limits).unwrap();
        assert_eq!(drain(&mut frames), first);
        frames.push(&second[10..], limits).unwrap();
        assert_eq!(drain(&mut frames), second);
        assert!(frames.pending.is_empty());
    }

    #[test]
    fn a_large_message_is_refused_by_its_header() {
        let header = &frame(&[1 << 20])[..8];
        let err = Frames::default()
            .push(header, Limits::PRE_AUTH)
            .unwrap_err();
        assert!(err.to_string().contains("before authentication"), "{err}");
        let many = 1000u32.to_le_bytes();
        assert!(Frames::default().push(&many, Limits::PRE_AUTH).is_err());
        let mut frames = Frames::default();
        let small = frame(&[16]);
        let mut refused = false;
        for _ in 0..(PRE_AUTH_MAX_BYTES as usize / small.len() + 1) {
            if frames.push(&small, Limits::PRE_AUTH).is_err() {
                refused = true;
                break;
            }
            drain(&mut frames);
        }
        assert!(refused, "the total is limited");
    }

    #[test]
    fn an_authenticated_peer_is_held_to_the_message_limit() {
        let limits = Limits::authenticated(17 << 20);
        // A header announcing 64 MiB (under the reader's traversal limit) is refused at once.
        let header = &frame(&[8 << 20])[..8];
        let err = Frames::default().push(header, limits).unwrap_err();
        assert!(err.to_string().contains("67108872 bytes"), "{err}");
        // Segment counts of 0 (2^32 wrapped) and of 512 are refused; 511 are not.
        for count_minus_one in [u32::MAX, 511] {
            assert!(
                Frames::default()
                    .push(&count_minus_one.to_le_bytes(), limits)
                    .is_err()
            );
        }
        assert!(
            Frames::default()
                .push(&510u32.to_le_bytes(), limits)
                .is_ok()
        );
        // Under the limit: accepted, and nothing is held but what arrived.
        let mut frames = Frames::default();
        frames.push(&frame(&[1 << 20])[..64], limits).unwrap();
        assert_eq!(frames.pending.len(), 64);
        assert!(drain(&mut frames).is_empty());
    }

    #[test]
    fn the_throttle_holds_back_and_counts() {
        let throttle = Throttle::new(Duration::from_secs(3600));
        assert_eq!(throttle.admit(), Some(0));
        assert_eq!(throttle.admit(), None);
        assert_eq!(throttle.admit(), None);
        throttle
            .last
            .set(Some(Instant::now() - Duration::from_secs(7200)));
        assert_eq!(throttle.admit(), Some(2));
    }
}
