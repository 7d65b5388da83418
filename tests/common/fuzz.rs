//! A small stable-Rust fuzzing loop: replays a checked-in corpus, then runs seeded mutations of it (and
//! freshly generated inputs) for `IOMOD_FUZZ_SECONDS`. A failing input is saved to a file whose path is
//! printed; `IOMOD_FUZZ_REPLAY=<file>` runs that one input alone, and `IOMOD_FUZZ_SEED` repeats a run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fuzz target: runs one input, `Err` with what went wrong when a property fails.
pub trait Target {
    /// Runs `input`.
    fn run(&mut self, input: &[u8]) -> Result<(), String>;
    /// A new input from `rng` (a well-formed or nearly well-formed one: mutation does the rest).
    fn generate(&mut self, rng: &mut fastrand::Rng) -> Vec<u8>;
    /// Called every few inputs and at the end: checks the properties that hold across inputs (the
    /// process is alive, memory is bounded, well-behaved clients are answered).
    fn check(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// How many inputs run between two calls of [`Target::check`].
    fn check_every(&self) -> u64 {
        64
    }
    /// Figures to print at the end.
    fn report(&mut self) -> String {
        String::new()
    }
}

/// The fuzzing time: `IOMOD_FUZZ_SECONDS`, else `default`.
pub fn seconds(default: u64) -> Duration {
    Duration::from_secs(
        std::env::var("IOMOD_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(default),
    )
}

/// The corpus directory of `target` in the repository.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-corpus")
        .join(target)
}

/// The corpus files of `target`, sorted by name.
pub fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .map(|dir| dir.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Saves a failing input; its path.
fn save_failure(target: &str, seed: u64, n: u64, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{target}-seed{seed}-input{n}.bin"));
    std::fs::write(&path, input).unwrap();
    path
}

/// Mutates `input` in place with a few random edits: bit flips, interesting values, cuts, duplicated
/// or inserted runs, and splices of `other`.
pub fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>, other: &[u8]) {
    const INTERESTING32: [u32; 10] = [
        0,
        1,
        0x7f,
        0xff,
        0xffff,
        0x1fff_ffff,
        0x2000_0000,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
    ];
    for _ in 0..rng.usize(1..=4) {
        let len = input.len();
        match rng.u8(0..9) {
            0 if len > 0 => {
                let at = rng.usize(..len);
                input[at] ^= 1 << rng.u8(0..8);
            }
            1 if len > 0 => {
                let at = rng.usize(..len);
                input[at] = *rng.choice(&[0u8, 1, 0x7f, 0x80, 0xff]).unwrap();
            }
            2 if len >= 4 => {
                // A whole word: segment counts and sizes, pointers, ids.
                let at = rng.usize(..=(len - 4) / 4) * 4;
                let value = *rng.choice(&INTERESTING32).unwrap();
                input[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            3 if len > 0 => input.truncate(rng.usize(..len)),
            4 if len > 0 => {
                let start = rng.usize(..len);
                let end = rng.usize(start..=len.min(start + 64));
                let run = input[start..end].to_vec();
                let at = rng.usize(..=len);
                input.splice(at..at, run);
            }
            5 => {
                let at = rng.usize(..=len);
                let run: Vec<u8> = (0..rng.usize(1..16)).map(|_| rng.u8(..)).collect();
                input.splice(at..at, run);
            }
            6 if !other.is_empty() => {
                let cut = rng.usize(..=len);
                let from = rng.usize(..other.len());
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            7 if len > 8 => {
                let start = rng.usize(..len);
                let end = rng.usize(start..=len);
                input.drain(start..end);
            }
            _ if len > 0 => {
                let at = rng.usize(..len);
                input[at] = rng.u8(..);
            }
            _ => input.push(rng.u8(..)),
        }
    }
}

/// Runs `target`: the corpus, then mutations for `duration`. Panics (naming the saved input) at the
/// first failing input.
pub fn fuzz(name: &str, target: &mut dyn Target, duration: Duration) {
    let fail = |seed: u64, n: u64, input: &[u8], why: String| -> ! {
        let path = save_failure(name, seed, n, input);
        panic!(
            "fuzz target `{name}` failed on input {n} (seed {seed}): {why}\nthe input is saved at {} \
             (replay it with IOMOD_FUZZ_REPLAY={})",
            path.display(),
            path.display()
        );
    };
    if let Ok(path) = std::env::var("IOMOD_FUZZ_REPLAY") {
        let input = std::fs::read(&path).unwrap();
        eprintln!("{name}: replaying {path}");
        if let Err(why) = target.run(&input).and_then(|()| target.check()) {
            panic!("fuzz target `{name}` fails on {path}: {why}");
        }
        return;
    }
    let seed = std::env::var("IOMOD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("{name}: seed {seed} (IOMOD_FUZZ_SEED={seed} repeats this run), {duration:?}");
    let started = Instant::now();
    let corpus = corpus(name);
    let mut executed = 0u64;
    for (path, input) in &corpus {
        if let Err(why) = target.run(input) {
            panic!(
                "fuzz target `{name}` fails on its corpus entry {}: {why}",
                path.display()
            );
        }
        executed += 1;
    }
    if let Err(why) = target.check() {
        panic!("fuzz target `{name}` fails after its corpus: {why}");
    }
    eprintln!(
        "{name}: {} corpus entries replayed in {:?}",
        corpus.len(),
        started.elapsed()
    );
    let mut rng = fastrand::Rng::with_seed(seed);
    let pool: Vec<Vec<u8>> = corpus.into_iter().map(|(_, bytes)| bytes).collect();
    let fuzz_started = Instant::now();
    let mut generated = 0u64;
    while fuzz_started.elapsed() < duration {
        let mut input = if pool.is_empty() || rng.bool() {
            generated += 1;
            target.generate(&mut rng)
        } else {
            rng.choice(&pool).unwrap().clone()
        };
        if rng.u8(0..4) != 0 {
            let other = if pool.is_empty() {
                Vec::new()
            } else {
                rng.choice(&pool).unwrap().clone()
            };
            mutate(&mut rng, &mut input, &other);
        }
        if let Err(why) = target.run(&input) {
            fail(seed, executed, &input, why);
        }
        executed += 1;
        if executed % target.check_every() == 0 {
            if let Err(why) = target.check() {
                fail(seed, executed, &input, why);
            }
        }
    }
    if let Err(why) = target.check() {
        panic!("fuzz target `{name}` fails at the end (seed {seed}): {why}");
    }
    let report = target.report();
    eprintln!(
        "{name}: {executed} inputs executed ({generated} generated, the others mutated from the corpus) \
         in {:?}, seed {seed}; {report}",
        started.elapsed()
    );
}
