//! What an IOmod prints: its standard output and standard error, read from pipes and relayed to the
//! runtime's log line by line, so that nothing an IOmod prints mixes with a function's output.
//!
//! Each line becomes a `tracing` event with the IOmod's coordinates (`iomod`), its `pid` and the `stream`
//! it came from (`stdout` or `stderr`). A line in the `tracing` format IOmods log in (the SDK's
//! `iomod_sdk::logging`: a timestamp, a level, the target and the message) is relayed at its own level,
//! without its timestamp and level, since the runtime's log adds both; any other line is relayed as it is,
//! at `info`.
//!
//! What an IOmod prints is not trusted. A line is read lossily (invalid UTF-8 becomes U+FFFD) and cut after
//! [`MAX_LINE`] bytes, with a marker saying how much was cut (the rest of the line is read and dropped);
//! control characters are escaped, so that a line cannot rewrite the operator's terminal; the pipes are
//! drained all the time, and lines beyond [`LINES_PER_SECOND`] (after a burst of [`BURST`]) are dropped
//! instead of logged (their number is logged once a second), so that a flood neither blocks the IOmod on
//! a slow log nor buries the runtime's own log. The readers end with the process: [`Relay::finish`] waits
//! for the last lines (a last line without a newline included) and, if a process the IOmod started keeps
//! the pipes open, logs what was read of the current line and stops them; dropping a [`Relay`] stops them
//! at once.

use std::borrow::Cow;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Level;

/// The longest line relayed, in bytes; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 16 * 1024;

/// How many lines a second each stream of an IOmod may have relayed, over time.
pub const LINES_PER_SECOND: u32 = 1_000;

/// How many lines each stream may have relayed at once before [`LINES_PER_SECOND`] applies.
pub const BURST: u32 = 10_000;

/// How much of a pipe is read at once.
const READ_BUFFER: usize = 64 * 1024;

/// How long [`Relay::finish`] waits for the end of the pipes after the process exited.
pub const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// The relay of one IOmod process's output. Dropping it stops its readers.
#[derive(Debug)]
pub struct Relay {
    readers: JoinSet<()>,
    stop: CancellationToken,
    iomod: String,
    pid: u32,
}

impl Relay {
    /// Relays the piped standard output and standard error of `child` (on the current tokio runtime).
    pub fn start(child: &mut Child, iomod: &str, pid: u32) -> Relay {
        let stop = CancellationToken::new();
        let mut readers = JoinSet::new();
        if let Some(stdout) = child.stdout.take() {
            let origin = Origin::new(iomod, pid, "stdout");
            readers.spawn(relay(stdout, origin, stop.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            let origin = Origin::new(iomod, pid, "stderr");
            readers.spawn(relay(stderr, origin, stop.clone()));
        }
        Relay {
            readers,
            stop,
            iomod: iomod.to_owned(),
            pid,
        }
    }

    /// Waits up to `grace` for both pipes to end (the process has exited and its last lines are read);
    /// past that, the readers log what they read of the current line and end.
    pub async fn finish(mut self, grace: Duration) {
        if tokio::time::timeout(grace, self.join()).await.is_err() {
            tracing::debug!(
                iomod = %self.iomod,
                pid = self.pid,
                "the IOmod exited but its output stays open (a process it started holds it); no longer relayed"
            );
            self.stop.cancel();
            let _ = tokio::time::timeout(grace, self.join()).await;
        }
        self.readers.shutdown().await;
    }

    async fn join(&mut self) {
        while self.readers.join_next().await.is_some() {}
    }
}

/// Where a line comes from.
#[derive(Debug)]
struct Origin {
    iomod: String,
    pid: u32,
    stream: &'static str,
}

impl Origin {
    fn new(iomod: &str, pid: u32, stream: &'static str) -> Self {
        Self {
            iomod: iomod.to_owned(),
            pid,
            stream,
        }
    }
}

/// Relays the lines of `pipe` until it ends or `stop` is cancelled (then the line begun is relayed too).
async fn relay(pipe: impl AsyncRead + Unpin, origin: Origin, stop: CancellationToken) {
    let mut lines = LineReader::new(BufReader::with_capacity(READ_BUFFER, pipe), MAX_LINE);
    let mut budget = Budget::new(Instant::now());
    // Reports the lines dropped once the output has gone quiet; during a flood they are reported below.
    let report = tokio::time::sleep_until(budget.report_due());
    tokio::pin!(report);
    loop {
        let next = tokio::select! {
            next = lines.next_line() => next,
            () = stop.cancelled() => Ok(lines.partial()),
            () = &mut report, if budget.dropped > 0 => {
                report_dropped(&origin, budget.take_dropped());
                continue;
            }
        };
        let line = match next {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(iomod = %origin.iomod, pid = origin.pid, stream = %origin.stream, error = %e, "cannot read the IOmod's output");
                break;
            }
        };
        let now = Instant::now();
        if budget.admit(now) {
            emit(&origin, &line);
        } else if budget.dropped == 1 {
            report.as_mut().reset(budget.report_due());
        }
        if budget.dropped > 0 && now >= budget.report_due() {
            report_dropped(&origin, budget.take_dropped());
        }
        if stop.is_cancelled() {
            break;
        }
    }
    report_dropped(&origin, budget.take_dropped());
}

fn report_dropped(origin: &Origin, dropped: u64) {
    if dropped > 0 {
        tracing::warn!(
            iomod = %origin.iomod,
            pid = origin.pid,
            stream = %origin.stream,
            lines = dropped,
            "IOmod output dropped: more than {LINES_PER_SECOND} lines a second"
        );
    }
}

/// Logs one line at its level, tagged with where it comes from.
fn emit(origin: &Origin, line: &Line) {
    let (level, text) = classify(&line.text);
    if text.trim().is_empty() && line.cut == 0 {
        return;
    }
    let text = escape_controls(text);
    let message = if line.cut > 0 {
        Cow::Owned(format!("{text}… [{} more bytes cut]", line.cut))
    } else {
        text
    };
    macro_rules! relay_at {
        ($level:expr) => {
            tracing::event!(
                $level,
                iomod = %origin.iomod,
                pid = origin.pid,
                stream = %origin.stream,
                "{message}"
            )
        };
    }
    if level == Level::ERROR {
        relay_at!(Level::ERROR);
    } else if level == Level::WARN {
        relay_at!(Level::WARN);
    } else if level == Level::DEBUG {
        relay_at!(Level::DEBUG);
    } else if level == Level::TRACE {
        relay_at!(Level::TRACE);
    } else {
        relay_at!(Level::INFO);
    }
}

/// The level of a line in the `tracing` format (`[timestamp] LEVEL target: message`) and the line
/// without its timestamp and level; any other line is `info`, as it is.
fn classify(line: &str) -> (Level, &str) {
    let (first, rest) = split_word(line);
    if let Some(level) = parse_level(first) {
        return (level, rest);
    }
    if is_timestamp(first) {
        let (second, rest) = split_word(rest);
        if let Some(level) = parse_level(second) {
            return (level, rest);
        }
    }
    (Level::INFO, line)
}

/// The first word of `text` and what follows it, both without leading white space.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (text, ""),
    }
}

fn parse_level(word: &str) -> Option<Level> {
    match word {
        "ERROR" => Some(Level::ERROR),
        "WARN" => Some(Level::WARN),
        "INFO" => Some(Level::INFO),
        "DEBUG" => Some(Level::DEBUG),
        "TRACE" => Some(Level::TRACE),
        _ => None,
    }
}

/// An RFC 3339 timestamp such as `2025-06-01T12:00:00.123456Z` (what `tracing-subscriber` writes).
fn is_timestamp(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() >= 19
        && bytes[..19].iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        })
        && bytes[19..]
            .iter()
            .all(|&b| b.is_ascii_digit() || b".:+-Z".contains(&b))
}

/// `text` with control characters other than tab written as `\u{..}` escapes.
fn escape_controls(text: &str) -> Cow<'_, str> {
    let is_escaped = |c: char| c.is_control() && c != '\t';
    if !text.chars().any(is_escaped) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_escaped(c) {
            escaped.extend(c.escape_unicode());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// A line as read: at most the reader's maximum of it, decoded lossily, without its line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    text: String,
    /// How many bytes of the line were cut (0 when it is whole).
    cut: u64,
}

/// Reads lines of bounded length: a longer line is cut, and the rest of it read and dropped. Reading is
/// cancel-safe: what was read of a line stays in the reader.
#[derive(Debug)]
struct LineReader<R> {
    inner: R,
    max: usize,
    /// The line being read (at most `max` bytes of it).
    buffer: Vec<u8>,
    /// How many bytes of it were dropped.
    cut: u64,
    /// Its last byte read, kept or not.
    last: Option<u8>,
    /// Whether any of it was read.
    begun: bool,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            buffer: Vec::new(),
            cut: 0,
            last: None,
            begun: false,
        }
    }

    /// The next line (`\n` or `\r\n` ended, or the last one without an ending); `None` at the end.
    async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            let chunk = self.inner.fill_buf().await?;
            if chunk.is_empty() {
                return Ok(self.partial());
            }
            self.begun = true;
            let (part, consumed, ended) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], i + 1, true),
                None => (chunk, chunk.len(), false),
            };
            let keep = part.len().min(self.max.saturating_sub(self.buffer.len()));
            self.buffer.extend_from_slice(&part[..keep]);
            self.cut += (part.len() - keep) as u64;
            if let Some(&byte) = part.last() {
                self.last = Some(byte);
            }
            self.inner.consume(consumed);
            if ended {
                return Ok(Some(self.take()));
            }
        }
    }

    /// What was read of a line not yet ended, if anything.
    fn partial(&mut self) -> Option<Line> {
        self.begun.then(|| self.take())
    }

    /// The line read so far; the next one begins.
    fn take(&mut self) -> Line {
        let mut cut = std::mem::take(&mut self.cut);
        if self.last.take() == Some(b'\r') {
            if cut > 0 {
                cut -= 1;
            } else {
                self.buffer.pop();
            }
        }
        if cut > 0 {
            let whole = complete_chars(&self.buffer);
            cut += (self.buffer.len() - whole) as u64;
            self.buffer.truncate(whole);
        }
        self.begun = false;
        let text = String::from_utf8_lossy(&self.buffer).into_owned();
        self.buffer.clear();
        Line { text, cut }
    }
}

/// The length of `bytes` without a UTF-8 character cut short at its end.
fn complete_chars(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(4) {
        let byte = bytes[bytes.len() - back];
        if byte & 0xC0 != 0x80 {
            let width = match byte {
                0xF0.. => 4,
                0xE0.. => 3,
                0xC0.. => 2,
                _ => 1,
            };
            return if width > back {
                bytes.len() - back
            } else {
                bytes.len()
            };
        }
    }
    bytes.len()
}

/// A token bucket of lines ([`BURST`] at once, refilled at [`LINES_PER_SECOND`]), and the count of lines
/// dropped, reported a second after the first of them.
#[derive(Debug)]
struct Budget {
    tokens: f64,
    at: Instant,
    /// Lines dropped since the last report.
    dropped: u64,
    /// When the first of them was dropped.
    since: Instant,
}

impl Budget {
    fn new(now: Instant) -> Self {
        Self {
            tokens: f64::from(BURST),
            at: now,
            dropped: 0,
            since: now,
        }
    }

    /// Whether a line read at `now` is logged (else it is counted as dropped).
    fn admit(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(LINES_PER_SECOND)).min(f64::from(BURST));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        if self.dropped == 0 {
            self.since = now;
        }
        self.dropped += 1;
        false
    }

    /// When the lines dropped are to be reported: a second after the first of them.
    fn report_due(&self) -> Instant {
        self.since + Duration::from_secs(1)
    }

    /// The lines dropped since the last report.
    fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Every line of `input`, read `chunk` bytes at a time with lines cut after `max` bytes.
    async fn lines(input: &[u8], chunk: usize, max: usize) -> Vec<Line> {
        let mut reader = LineReader::new(BufReader::with_capacity(chunk, input), max);
        let mut lines = Vec::new();
        while let Some(line) = reader.next_line().await.unwrap() {
            lines.push(line);
        }
        lines
    }

    fn line(text: &str, cut: u64) -> Line {
        Line {
            text: text.to_owned(),
            cut,
        }
    }

    #[tokio::test]
    async fn long_lines_are_cut_with_the_count_and_reading_goes_on() {
        let mut input = vec![b'x'; 100_000];
        input.extend_from_slice(b"\nnext\n");
        for chunk in [3, 7, 8192] {
            let read = lines(&input, chunk, 10).await;
            assert_eq!(
                read,
                [line("xxxxxxxxxx", 99_990), line("next", 0)],
                "chunk {chunk}"
            );
        }
        // A line of exactly the maximum is whole.
        assert_eq!(lines(b"0123456789\n", 4, 10).await, [line("0123456789", 0)]);
        // A cut never splits a character: what remains of it counts as cut.
        assert_eq!(lines("ééééé\n".as_bytes(), 3, 5).await, [line("éé", 6)]);
    }

    #[tokio::test]
    async fn the_last_line_without_a_newline_is_kept() {
        assert_eq!(
            lines(b"first\nlast", 4, 64).await,
            [line("first", 0), line("last", 0)]
        );
        assert_eq!(lines(b"", 4, 64).await, []);
        assert_eq!(lines(b"\n\n", 4, 64).await, [line("", 0), line("", 0)]);
        let long = vec![b'y'; 50];
        assert_eq!(lines(&long, 4, 8).await, [line("yyyyyyyy", 42)]);
    }

    #[tokio::test]
    async fn invalid_utf8_is_read_lossily() {
        assert_eq!(
            lines(b"bad \xff\xfe byte\n\xc3\n", 3, 64).await,
            [line("bad \u{FFFD}\u{FFFD} byte", 0), line("\u{FFFD}", 0)]
        );
    }

    #[tokio::test]
    async fn crlf_endings_are_removed_and_a_lone_cr_kept() {
        assert_eq!(
            lines(b"one\r\ntwo\r\nthree\rfour\n\r\n", 2, 64).await,
            [
                line("one", 0),
                line("two", 0),
                line("three\rfour", 0),
                line("", 0)
            ]
        );
        // The \r just past the maximum is the ending, not a cut byte.
        assert_eq!(lines(b"abcd\r\n", 1, 4).await, [line("abcd", 0)]);
        assert_eq!(lines(b"abcdef\r\n", 1, 4).await, [line("abcd", 2)]);
        assert_eq!(lines(b"last\r", 8, 64).await, [line("last", 0)]);
    }

    #[test]
    fn tracing_lines_keep_their_level_and_lose_their_timestamp() {
        assert_eq!(
            classify("2025-06-01T12:00:00.123456Z  WARN iomod_sdk::serve: lost the registry"),
            (Level::WARN, "iomod_sdk::serve: lost the registry")
        );
        assert_eq!(
            classify("2025-06-01T12:00:00+02:00 ERROR x: boom"),
            (Level::ERROR, "x: boom")
        );
        assert_eq!(classify("DEBUG x: detail"), (Level::DEBUG, "x: detail"));
        assert_eq!(classify(" INFO"), (Level::INFO, ""));
        for plain in [
            "thread 'main' panicked at src/main.rs:1:1:",
            "2025-06-01T12:00:00Z something else",
            "2025-06-01 12:00:00 WARN not the tracing format",
            "Warn: lowercase is no level",
        ] {
            assert_eq!(classify(plain), (Level::INFO, plain));
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("plain\ttext é"), "plain\ttext é");
        assert_eq!(
            escape_controls("\x1b[31mred\x07\r\u{9b}"),
            "\\u{1b}[31mred\\u{7}\\u{d}\\u{9b}"
        );
    }

    #[test]
    fn a_flood_is_dropped_and_counted_after_the_burst() {
        let start = Instant::now();
        let mut budget = Budget::new(start);
        for _ in 0..BURST {
            assert!(budget.admit(start));
        }
        let first_drop = start + Duration::from_micros(10);
        for _ in 0..5 {
            assert!(!budget.admit(first_drop));
        }
        // A millisecond later one more line is allowed.
        let later = first_drop + Duration::from_millis(1);
        assert!(budget.admit(later));
        assert!(!budget.admit(later));
        assert_eq!(budget.report_due(), first_drop + Duration::from_secs(1));
        assert_eq!(budget.take_dropped(), 6);
        assert_eq!(budget.take_dropped(), 0);
        // After a quiet spell the whole burst is available again, not more.
        let quiet = later + Duration::from_secs(3600);
        for _ in 0..BURST {
            assert!(budget.admit(quiet));
        }
        assert!(!budget.admit(quiet));
        assert_eq!(budget.report_due(), quiet + Duration::from_secs(1));
    }

    /// A writer for a test's log.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl Write for Log {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Log {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Log {
        /// Logs this thread's `info` events and above until the guard is dropped.
        fn capture(&self) -> tracing::subscriber::DefaultGuard {
            let writer = self.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(Level::INFO)
                .finish();
            tracing::subscriber::set_default(subscriber)
        }
    }

    #[tokio::test]
    async fn a_flood_is_drained_and_its_dropped_lines_reported_once_it_is_quiet() {
        let log = Log::default();
        let _guard = log.capture();
        let (mut writer, reader) = tokio::io::duplex(4096);
        let stop = CancellationToken::new();
        let relayed = tokio::spawn(relay(
            reader,
            Origin::new("example.test.flood", 7, "stdout"),
            stop,
        ));
        let flood = 3 * BURST;
        for i in 0..flood {
            tokio::io::AsyncWriteExt::write_all(&mut writer, format!("line {i}\n").as_bytes())
                .await
                .unwrap();
        }
        // The writer stays open: the count comes from the timer, a second after the first line dropped.
        let started = std::time::Instant::now();
        while !log.text().contains("IOmod output dropped") {
            assert!(started.elapsed() < Duration::from_secs(5), "no report");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(writer);
        relayed.await.unwrap();

        let text = log.text();
        let logged = text.lines().filter(|l| l.contains(": line ")).count() as u64;
        let reports: Vec<u64> = text
            .lines()
            .filter(|l| l.contains("IOmod output dropped"))
            .map(|l| l.split("lines=").nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(
            logged >= u64::from(BURST) && logged < u64::from(2 * BURST),
            "{logged}"
        );
        assert_eq!(logged + reports[0], u64::from(flood));
    }

    #[tokio::test]
    async fn a_process_output_is_logged_tagged_and_the_readers_end_with_it() {
        let log = Log::default();
        let _guard = log.capture();

        // The shell leaves a process behind that holds both pipes for longer than the grace period.
        let mut child = tokio::process::Command::new("sh")
            .args([
                "-c",
                "echo out; echo err >&2; echo '2025-06-01T12:00:00.1Z  WARN t: careful' >&2; \
                 sleep 5 & echo \"holder $!\"; printf 'no newline'",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let relay = Relay::start(&mut child, "example.test.sh", pid);
        child.wait().await.unwrap();
        let started = std::time::Instant::now();
        relay.finish(Duration::from_millis(300)).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );

        let text = log.text();
        let tags = format!("iomod=example.test.sh pid={pid}");
        let find = |needle: &str| {
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
                .to_owned()
        };
        let out = find(": out ");
        assert!(
            out.contains(" INFO ") && out.contains(&format!("{tags} stream=stdout")),
            "{out}"
        );
        let err = find(": err ");
        assert!(err.contains(&format!("{tags} stream=stderr")), "{err}");
        let warn = find("careful");
        assert!(
            warn.contains(" WARN ") && !warn.contains("2025-06-01"),
            "{warn}"
        );
        let last = find("no newline");
        assert!(last.contains("stream=stdout"), "{last}");
        let holder = find("holder ");
        let mut words = holder.split_whitespace().skip_while(|w| *w != "holder");
        let holder = words.nth(1).unwrap();
        let _ = std::process::Command::new("kill").arg(holder).status();
    }
}
