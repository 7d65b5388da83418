//! A small coverage-blind fuzzer on stable Rust, shared by the fuzz tests (`iomod-codegen/tests/fuzz.rs`,
//! `tests/fixtures-host/tests/fuzz_readers.rs`).
//!
//! A target is a plain `fn(&[u8])` that must neither panic nor take more than its time and memory bounds
//! on any input. [`run`] first replays the target's checked-in corpus (`iomod-codegen/fuzz/corpus/<name>/`)
//! and the seeds it is given, then mutates them (bit flips, byte and word overwrites with boundary values,
//! insertions, deletions, duplications, splices, truncations) until its time budget is spent. The budget is
//! `IOMOD_FUZZ_SECONDS` per target (a short default in CI; `scripts/fuzz-codegen.sh` runs long ones), the
//! random seed is `IOMOD_FUZZ_SEED` (printed, so that a run reproduces). A failing input (a panic, or an
//! input over its bounds) is written to `<target dir>/fuzz-failures/<name>-<hash>.bin` and named in the
//! test's failure message; adding it to the corpus makes it a regression test, since the corpus is
//! replayed on every run.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts live heap bytes, and the peak since the last [`reset_peak`], for the whole process.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Live heap bytes now.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Resets the peak to the live bytes now, and returns that.
pub fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// The peak of live heap bytes since the last [`reset_peak`].
pub fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// What one target must hold to on every input.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// The longest one input may take (generous: the machine is shared and debug builds are slow).
    pub time: Duration,
    /// The most heap one input may add at its peak (measured for the whole process: targets that check
    /// it run alone in their test binary, or with others that stay far below).
    pub memory: usize,
    /// The longest input the mutator makes.
    pub max_len: usize,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Inputs executed (corpus, seeds and mutations).
    pub executed: u64,
    /// Corpus files and seeds replayed first.
    pub replayed: usize,
    /// The slowest input.
    pub slowest: Duration,
    /// The largest heap growth of one input, in bytes.
    pub peak_growth: usize,
    /// Failing inputs, each with its file and what went wrong.
    pub failures: Vec<String>,
}

/// The budget of each target: `IOMOD_FUZZ_SECONDS`, or `default_seconds`.
pub fn budget(default_seconds: f64) -> Duration {
    let seconds = std::env::var("IOMOD_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(default_seconds);
    Duration::from_secs_f64(seconds)
}

/// The random seed: `IOMOD_FUZZ_SEED`, or one from the clock.
pub fn seed() -> u64 {
    std::env::var("IOMOD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            now.as_nanos() as u64 ^ u64::from(std::process::id())
        })
}

/// The checked-in corpus directory of `target`.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(corpus_root())
        .join(target)
}

fn corpus_root() -> &'static str {
    // Both test crates keep their corpora in the code generator's crate.
    if Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .is_dir()
    {
        "fuzz/corpus"
    } else {
        "../../iomod-codegen/fuzz/corpus"
    }
}

/// The files of `target`'s corpus, sorted by name.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(corpus_dir(target)) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the panic hook with one that records the message (with its place) for the thread's fuzz loop
/// instead of printing it; panics on other threads print as before.
fn install_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let fuzzing = LAST_PANIC.with(|p| p.borrow().is_some());
            if fuzzing {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let place = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{message}{place}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `target` over its corpus and `seeds`, then over mutations of them for `budget`.
pub fn run(
    name: &str,
    budget: Duration,
    bounds: Bounds,
    seeds: Vec<Vec<u8>>,
    target: impl Fn(&[u8]),
) -> Stats {
    run_with(name, budget, bounds, seeds, target, |_, _| {})
}

/// [`run`], with `mutate_more`, a target-specific mutation applied now and then besides the generic
/// ones (for example one that knows the Cap'n Proto framing).
pub fn run_with(
    name: &str,
    budget: Duration,
    bounds: Bounds,
    seeds: Vec<Vec<u8>>,
    target: impl Fn(&[u8]),
    mutate_more: impl Fn(&mut fastrand::Rng, &mut Vec<u8>),
) -> Stats {
    install_hook();
    let seed = seed();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut stats = Stats::default();
    let mut pool: Vec<Vec<u8>> = corpus(name).into_iter().map(|(_, bytes)| bytes).collect();
    pool.extend(seeds);
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let failures_dir = failures_dir();
    // Inputs that abort the process (a stack overflow) cannot be caught: the long runs keep the input in
    // flight in a file.
    let current = std::env::var_os("IOMOD_FUZZ_SAVE_CURRENT")
        .is_some()
        .then(|| failures_dir.join(format!("{name}-current.bin")));
    if current.is_some() {
        let _ = std::fs::create_dir_all(&failures_dir);
    }
    let one = |input: &[u8], stats: &mut Stats| {
        if let Some(current) = &current {
            let _ = std::fs::write(current, input);
        }
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(String::new()));
        let before = reset_peak();
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(input)));
        let took = started.elapsed();
        let growth = peak_bytes().saturating_sub(before);
        let message = LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_default();
        stats.executed += 1;
        stats.slowest = stats.slowest.max(took);
        stats.peak_growth = stats.peak_growth.max(growth);
        let problem = if outcome.is_err() {
            Some(format!("panicked: {message}"))
        } else if took > bounds.time {
            Some(format!("took {took:?} (bound {:?})", bounds.time))
        } else if growth > bounds.memory {
            Some(format!(
                "grew the heap by {growth} bytes (bound {})",
                bounds.memory
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            let hash = fnv(input);
            let path = failures_dir.join(format!("{name}-{hash:016x}.bin"));
            let _ = std::fs::create_dir_all(&failures_dir);
            let _ = std::fs::write(&path, input);
            stats
                .failures
                .push(format!("{problem}; input in {}", path.display()));
        }
    };
    // The budget counts the replay too (the corpus always replays whole).
    let started = Instant::now();
    for input in &pool {
        one(input, &mut stats);
    }
    stats.replayed = pool.len();
    while started.elapsed() < budget && stats.failures.len() < 20 {
        let mut input = pool[rng.usize(..pool.len())].clone();
        for _ in 0..rng.usize(1..=4) {
            if rng.u8(..8) == 0 {
                mutate_more(&mut rng, &mut input);
            } else {
                mutate(&mut rng, &mut input, &pool);
            }
        }
        input.truncate(bounds.max_len);
        one(&input, &mut stats);
    }
    if let Some(current) = &current {
        let _ = std::fs::remove_file(current);
    }
    println!(
        "fuzz {name}: {} inputs executed ({} replayed from the corpus and seeds) in {:.1} s, seed {seed}, \
         slowest {:?}, largest heap growth {} KiB, {} failures",
        stats.executed,
        stats.replayed,
        started.elapsed().as_secs_f64(),
        stats.slowest,
        stats.peak_growth / 1024,
        stats.failures.len()
    );
    stats
}

/// Fails the test with every failing input of `stats`.
pub fn check(name: &str, stats: &Stats) {
    assert!(
        stats.failures.is_empty(),
        "fuzz target {name} failed on {} inputs (seed: see above; set IOMOD_FUZZ_SEED to replay):\n{}",
        stats.failures.len(),
        stats.failures.join("\n")
    );
}

fn failures_dir() -> PathBuf {
    std::env::var_os("IOMOD_FUZZ_FAILURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("iomod-fuzz-failures"))
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Boundary values for overwrites: lengths and counts at and around Cap'n Proto's limits.
const INTERESTING_U32: &[u32] = &[
    0,
    1,
    2,
    7,
    8,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x1ff,
    0x200,
    0x201,
    0xffff,
    0x1_0000,
    0x1fff_ffff,
    0x2000_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];

/// One generic mutation of `input`.
pub fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
    let len = input.len();
    match rng.u8(..11) {
        0 if len > 0 => {
            let i = rng.usize(..len);
            input[i] ^= 1 << rng.u8(..8);
        }
        1 if len > 0 => {
            let i = rng.usize(..len);
            input[i] = rng.u8(..);
        }
        2 if len >= 4 => {
            // A boundary value as a little-endian u32, word-aligned half the time.
            let mut i = rng.usize(..=len - 4);
            if rng.bool() {
                i &= !3;
            }
            let v = INTERESTING_U32[rng.usize(..INTERESTING_U32.len())];
            input[i..i + 4].copy_from_slice(&v.to_le_bytes());
        }
        3 => {
            let at = rng.usize(..=len);
            let n = rng.usize(1..=16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            input.splice(at..at, bytes);
        }
        4 if len > 0 => {
            let start = rng.usize(..len);
            let end = (start + rng.usize(1..=32)).min(len);
            input.drain(start..end);
        }
        5 if len > 0 => {
            let start = rng.usize(..len);
            let end = (start + rng.usize(1..=64)).min(len);
            let chunk = input[start..end].to_vec();
            let at = rng.usize(..=input.len());
            input.splice(at..at, chunk);
        }
        6 if len > 0 => {
            input.truncate(rng.usize(..len));
        }
        7 if !pool.is_empty() => {
            // Splice a piece of another input in.
            let other = &pool[rng.usize(..pool.len())];
            if !other.is_empty() {
                let start = rng.usize(..other.len());
                let end = (start + rng.usize(1..=64)).min(other.len());
                let at = rng.usize(..=len);
                input.splice(at..at, other[start..end].iter().copied());
            }
        }
        8 if len > 0 => {
            // Swap two bytes.
            let (a, b) = (rng.usize(..len), rng.usize(..len));
            input.swap(a, b);
        }
        9 if len >= 8 => {
            // Overwrite a word with a random one.
            let i = rng.usize(..=len - 8) & !7;
            for b in &mut input[i..i + 8] {
                *b = rng.u8(..);
            }
        }
        _ => {
            let at = rng.usize(..=len);
            input.insert(at, rng.u8(..));
        }
    }
}
