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

/// A stream that, until its connection is authenticated, checks the framing of every message the peer
/// sends: a message over [`PRE_AUTH_MAX_MESSAGE_BYTES`], or more than [`PRE_AUTH_MAX_BYTES`] in all, is
/// an error (which ends the connection) as soon as its header arrives, before anything reads or
/// allocates it.
pub(super) struct PreAuthLimit<S> {
    inner: S,
    handshake: Rc<Handshake>,
    frames: Frames,
}

impl<S> PreAuthLimit<S> {
    pub(super) fn new(inner: S, handshake: Rc<Handshake>) -> Self {
        Self {
            inner,
            handshake,
            frames: Frames::default(),
        }
    }
}

/// Where the peer's byte stream is in Cap'n Proto's standard framing.
#[derive(Debug, Default)]
struct Frames {
    /// Bytes of the current message's segment table read so far.
    header: Vec<u8>,
    /// Bytes of the current message's segments still to come.
    body_left: u64,
    /// Bytes read in all.
    total: u64,
}

impl Frames {
    /// Follows `bytes` through the framing; an error when a message or the total is over the limits.
    fn check(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        let refuse = |what: String| {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{what} before authentication"),
            ))
        };
        self.total = self.total.saturating_add(bytes.len() as u64);
        if self.total > PRE_AUTH_MAX_BYTES {
            return refuse(format!("more than {PRE_AUTH_MAX_BYTES} bytes"));
        }
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len() as u64);
                self.body_left -= n;
                bytes = &bytes[n as usize..];
                continue;
            }
            // In the segment table: the segment count minus one, each segment's size in words, padding
            // to a whole word.
            let wanted = match self.header.get(..4) {
                None => 4,
                Some(first) => {
                    let count = u32::from_le_bytes([first[0], first[1], first[2], first[3]])
                        .saturating_add(1);
                    if count > PRE_AUTH_MAX_SEGMENTS {
                        return refuse(format!("a message of {count} segments"));
                    }
                    (4 + 4 * count as usize).next_multiple_of(8)
                }
            };
            let n = (wanted - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() == 4 {
                // The segment count is known: check it now, even if nothing follows yet.
                let count = u32::from_le_bytes([
                    self.header[0],
                    self.header[1],
                    self.header[2],
                    self.header[3],
                ])
                .saturating_add(1);
                if count > PRE_AUTH_MAX_SEGMENTS {
                    return refuse(format!("a message of {count} segments"));
                }
            } else if self.header.len() == wanted {
                let words: u64 = self.header[4..]
                    .chunks_exact(4)
                    .map(|c| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .sum();
                let size = words.saturating_mul(8).saturating_add(wanted as u64);
                if size > PRE_AUTH_MAX_MESSAGE_BYTES {
                    return refuse(format!("a message of {size} bytes"));
                }
                self.header.clear();
                self.body_left = words * 8;
            }
        }
        Ok(())
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for PreAuthLimit<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if !this.handshake.is_authenticated() => {
                Poll::Ready(this.frames.check(&buf.filled()[before..]))
            }
            other => other,
        }
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for PreAuthLimit<S> {
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

    #[test]
    fn small_messages_pass_byte_by_byte_and_at_once() {
        let mut stream = frame(&[3]);
        stream.extend(frame(&[1, 2]));
        stream.extend(frame(&[0]));
        let mut frames = Frames::default();
        for b in &stream {
            frames.check(std::slice::from_ref(b)).unwrap();
        }
        assert!(frames.header.is_empty() && frames.body_left == 0);
        let mut frames = Frames::default();
        frames.check(&stream).unwrap();
        assert!(frames.header.is_empty() && frames.body_left == 0);
    }

    #[test]
    fn a_large_message_is_refused_by_its_header() {
        let header = &frame(&[1 << 20])[..8];
        let err = Frames::default().check(header).unwrap_err();
        assert!(err.to_string().contains("before authentication"), "{err}");
        let many = 1000u32.to_le_bytes();
        assert!(Frames::default().check(&many).is_err());
        let mut frames = Frames::default();
        let small = frame(&[16]);
        let mut refused = false;
        for _ in 0..(PRE_AUTH_MAX_BYTES as usize / small.len() + 1) {
            if frames.check(&small).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused, "the total is limited");
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
