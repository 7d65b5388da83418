//! Fuzzes the guest ABI of the wasm host: each input is decoded into a wasm module whose `iomod_main`
//! makes a fixed sequence of ABI and WASI calls with immediate arguments: `call_start`,
//! `call_start_contract`, `call_poll`, `call_read`, `wait`, `fail`, `fd_write`, `random_get`,
//! `clock_time_get`, `environ_*`, `args_*`, `proc_exit`, `sched_yield`, `fd_fdstat_get`, with pointers in
//! and out of bounds, overlapping and near 2^32, lengths true and false, call ids that exist or not, method
//! paths allowed, forbidden, malformed, not UTF-8 or with fingerprints right and wrong, some calls
//! repeated in loops, memory grown, and outputs inside or outside memory. Each module runs through
//! `iomod::host::Host` against a real registry with the echo IOmod (a separate process).
//!
//! Must hold: every run ends with a value (the output or a `RunError`, never `RegistryStopped`), no
//! panic anywhere in the process, and after every few modules a well-behaved function still calls the
//! echo IOmod and gets its answer; the process's resident memory stays within a bound of its value
//! after warm-up.
//!
//! `IOMOD_FUZZ_SECONDS` (default 25) sets the time; `scripts/fuzz-runtime.sh` runs it long.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::fuzz::{self, Target};
use common::*;
use iomod::host::{FunctionConfig, Host, RunError};
use iomod::registry::{IomodState, Registry};

/// How far the process's resident memory may grow past its value after warm-up.
const RSS_BOUND_KIB: u64 = 128 * 1024;
/// The most operations one module makes (before loops).
const MAX_OPS: usize = 160;

/// Panics anywhere in this process (the hook counts them).
static PANICS: AtomicU64 = AtomicU64::new(0);

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Where the module's data lies: fixed segments the generated calls point at.
struct Segments {
    /// (address, bytes)
    list: Vec<(u32, Vec<u8>)>,
}

/// Memory size of every module at start: two pages.
const MEMORY_BYTES: u32 = 2 * 65536;
/// Where `call_read` results and scratch go.
const SCRATCH: u32 = 0x8000;

impl Segments {
    fn new(fingerprint: &str, contract: &str) -> Segments {
        let mut list: Vec<(u32, Vec<u8>)> = Vec::new();
        let mut at = 0x100u32;
        let mut add = |bytes: Vec<u8>| {
            list.push((at, bytes.clone()));
            at = (at + bytes.len() as u32 + 16).next_multiple_of(16);
        };
        add(b"example.test.echo.echo".to_vec());
        add(b"example.test.echo.reverse".to_vec());
        add(format!("example.test.echo.echo@{fingerprint}").into_bytes());
        add(b"example.test.echo.echo@0000000000000000".to_vec());
        add(b"example.test.secret.read".to_vec());
        add(b"example.test.echo.nope".to_vec());
        add(b"example.test.nothing.echo".to_vec());
        add(b"not a path".to_vec());
        add(b"Example.test.echo.echo".to_vec());
        add(b"example.test.echo..echo".to_vec());
        add("example.test.\u{0435}cho.echo".as_bytes().to_vec());
        add(vec![0xff, 0xfe, b'.', 0x80]);
        add(echo_input(b"fuzz", 0, "", false));
        add(echo_input(b"fail", 0, "Nope", false));
        add(reverse_input("fuzz"));
        add(contract.as_bytes().to_vec());
        add(b"not a contract".to_vec());
        add(b"hello from a fuzzed guest\n".to_vec());
        assert!(at < SCRATCH);
        Segments { list }
    }

    fn wat(&self) -> String {
        let mut out = String::new();
        for (at, bytes) in &self.list {
            write!(out, "(data (i32.const {at}) \"").unwrap();
            for b in bytes {
                write!(out, "\\{b:02x}").unwrap();
            }
            out.push_str("\")\n");
        }
        out
    }
}

/// Reads the input's bytes as a stream of decisions (zeros once it runs out).
struct Bytes<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }
    fn u8(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// Decodes an input into a module's text; also says which configuration to run it with.
fn module(input: &[u8], segments: &Segments) -> (String, bool) {
    let mut b = Bytes {
        bytes: input,
        at: 0,
    };
    let head = b.u8();
    let tight = head & 1 == 1;
    let ending = (head >> 1) % 8;
    let returns = (head >> 4) % 4;
    let mut body = String::new();
    // A pointer and a length: a segment (with its length or not), near the end of memory, near 2^32,
    // overlapping the scratch area, or anything.
    let ptr_len = |b: &mut Bytes<'_>| -> (u32, u32) {
        let (ptr, true_len) = match b.u8() % 8 {
            0..=2 => {
                let (at, bytes) = &segments.list[b.u8() as usize % segments.list.len()];
                (*at, bytes.len() as u32)
            }
            3 => (MEMORY_BYTES - u32::from(b.u8()), 8),
            4 => (u32::MAX - u32::from(b.u8()), 8),
            5 => (SCRATCH + u32::from(b.u8()), 16),
            6 => (0, 0),
            _ => (b.u32(), b.u32()),
        };
        let len = match b.u8() % 8 {
            0..=4 => true_len,
            5 => u32::from(b.u8()),
            6 => u32::MAX - u32::from(b.u8()),
            _ => b.u32(),
        };
        (ptr, len)
    };
    let id = |b: &mut Bytes<'_>| -> String {
        match b.u8() % 6 {
            0..=2 => "(global.get $last)".into(),
            3 => format!("(i64.add (global.get $last) (i64.const {}))", b.u8() as i8),
            4 => format!("(i64.const {})", b.u32() as i32),
            _ => format!(
                "(i64.const {})",
                (u64::from(b.u32()) << 32 | u64::from(b.u32())) as i64
            ),
        }
    };
    let mut ops = 0;
    while !b.done() && ops < MAX_OPS {
        ops += 1;
        let op = b.u8();
        // Some operations repeat in a loop (up to 4,000 times): many calls, refused or not.
        let repeat = if op & 0x80 != 0 && b.u8() % 4 == 0 {
            // (Calls waited for one by one are few: each is a round trip to the IOmod.)
            Some(match op & 0x7f {
                50..=71 | 98.. => u32::from(b.u8() % 32),
                _ => u32::from(b.u8()) * 8,
            })
        } else {
            None
        };
        let mut code = String::new();
        match op & 0x7f {
            0..=19 => {
                let (p, pl) = ptr_len(&mut b);
                let (i, il) = ptr_len(&mut b);
                write!(code, "(global.set $last (call $start (i32.const {p}) (i32.const {pl}) (i32.const {i}) (i32.const {il})))").unwrap();
            }
            20..=27 => {
                let (p, pl) = ptr_len(&mut b);
                let (c, cl) = ptr_len(&mut b);
                let (i, il) = ptr_len(&mut b);
                write!(code, "(global.set $last (call $start_contract (i32.const {p}) (i32.const {pl}) (i32.const {c}) (i32.const {cl}) (i32.const {i}) (i32.const {il})))").unwrap();
            }
            28..=39 => write!(code, "(drop (call $poll {}))", id(&mut b)).unwrap(),
            40..=49 => {
                let id = id(&mut b);
                let (p, l) = ptr_len(&mut b);
                write!(
                    code,
                    "(drop (call $read {id} (i32.const {p}) (i32.const {l})))"
                )
                .unwrap();
            }
            50..=63 => {
                // Finishes the last call: wait until it is done, then read it whole at a place that
                // may or may not fit.
                let dst = match b.u8() % 4 {
                    0 => b.u32(),
                    1 => MEMORY_BYTES - 64,
                    _ => SCRATCH,
                };
                write!(
                    code,
                    "(local.set $st (call $poll (global.get $last)))
                     (block (loop
                       (br_if 1 (i64.ne (local.get $st) (i64.const -1)))
                       (drop (call $wait))
                       (local.set $st (call $poll (global.get $last)))
                       (br 0)))
                     (if (i64.ge_s (local.get $st) (i64.const 0))
                       (then (drop (call $read (global.get $last) (i32.const {dst})
                         (i32.wrap_i64 (i64.shr_u (local.get $st) (i64.const 1)))))))"
                )
                .unwrap();
            }
            64..=71 => code.push_str("(drop (call $wait))"),
            72..=75 => {
                let (p, l) = ptr_len(&mut b);
                let fd = b.u8() % 4;
                let iovs = match b.u8() % 3 {
                    0 => SCRATCH + 0x800,
                    1 => MEMORY_BYTES - 4,
                    _ => b.u32(),
                };
                let n = match b.u8() % 3 {
                    0 => 1,
                    1 => u32::from(b.u8()),
                    _ => b.u32(),
                };
                let (nw, _) = ptr_len(&mut b);
                write!(code, "(i32.store (i32.const {}) (i32.const {p})) (i32.store (i32.const {}) (i32.const {l})) (drop (call $fd_write (i32.const {fd}) (i32.const {iovs}) (i32.const {n}) (i32.const {nw})))", SCRATCH + 0x800, SCRATCH + 0x804).unwrap();
            }
            76..=79 => {
                let (p, l) = ptr_len(&mut b);
                write!(
                    code,
                    "(drop (call $random_get (i32.const {p}) (i32.const {l})))"
                )
                .unwrap();
            }
            80..=83 => {
                let clock = b.u8() % 6;
                let (p, _) = ptr_len(&mut b);
                write!(code, "(drop (call $clock_time_get (i32.const {clock}) (i64.const 1) (i32.const {p})))").unwrap();
            }
            84..=87 => {
                let name = [
                    "environ_sizes_get",
                    "args_sizes_get",
                    "environ_get",
                    "args_get",
                ][b.u8() as usize % 4];
                let (p, _) = ptr_len(&mut b);
                let (q, _) = ptr_len(&mut b);
                write!(
                    code,
                    "(drop (call ${name} (i32.const {p}) (i32.const {q})))"
                )
                .unwrap();
            }
            88..=89 => {
                let pages = match b.u8() % 3 {
                    0 => u32::from(b.u8() % 8),
                    1 => 1024,
                    _ => b.u32(),
                };
                write!(code, "(drop (memory.grow (i32.const {pages})))").unwrap();
            }
            90..=92 => code.push_str("(drop (call $sched_yield))"),
            93..=94 => {
                let (p, _) = ptr_len(&mut b);
                write!(
                    code,
                    "(drop (call $fd_fdstat_get (i32.const {}) (i32.const {p})))",
                    b.u8()
                )
                .unwrap();
            }
            95 => {
                // A plain store (it traps when outside memory: a trap is a value too).
                let (p, _) = ptr_len(&mut b);
                write!(code, "(i32.store (i32.const {p}) (i32.const {}))", b.u32()).unwrap();
            }
            _ => {
                // Start a good call (sometimes with its contract).
                let (path, input) = match b.u8() % 3 {
                    0 => (0, 12),
                    1 => (1, 14),
                    _ => (6, 12),
                };
                let (p, pb) = &segments.list[path];
                let (i, ib) = &segments.list[input];
                write!(code, "(global.set $last (call $start (i32.const {p}) (i32.const {}) (i32.const {i}) (i32.const {})))", pb.len(), ib.len()).unwrap();
            }
        }
        match repeat {
            Some(n) if n > 0 => write!(
                body,
                "(local.set $i (i32.const 0))
                 (block (loop {code}
                   (local.set $i (i32.add (local.get $i) (i32.const 1)))
                   (br_if 0 (i32.lt_u (local.get $i) (i32.const {n})))))\n"
            )
            .unwrap(),
            _ => {
                body.push_str(&code);
                body.push('\n');
            }
        }
    }
    // The end: usually a return, sometimes `fail` or `proc_exit`.
    match ending {
        0 => {
            let (p, l) = ptr_len(&mut b);
            writeln!(body, "(call $fail (i32.const {p}) (i32.const {l}))").unwrap();
        }
        1 => writeln!(body, "(call $proc_exit (i32.const {}))", b.u8()).unwrap(),
        _ => {}
    }
    let output = match returns {
        0 => u64::from(b.u32()) << 32 | u64::from(b.u32()),
        1 => u64::from(SCRATCH) << 32 | 64,
        _ => 0,
    };
    let text = format!(
        r#"(module
  (import "iomod" "call_start" (func $start (param i32 i32 i32 i32) (result i64)))
  (import "iomod" "call_start_contract" (func $start_contract (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "iomod" "call_poll" (func $poll (param i64) (result i64)))
  (import "iomod" "call_read" (func $read (param i64 i32 i32) (result i32)))
  (import "iomod" "wait" (func $wait (result i64)))
  (import "iomod" "fail" (func $fail (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fd_fdstat_get (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $last (mut i64) (i64.const 0))
  {data}
  (func (export "iomod_alloc") (param i32) (result i32) (i32.const {SCRATCH}))
  (func (export "iomod_main") (param i32 i32) (result i64)
    (local $i i32) (local $st i64)
    {body}
    (i64.const {output})))"#,
        data = segments.wat(),
        output = output as i64,
    );
    (text, tight)
}

struct AbiTarget {
    runtime: tokio::runtime::Runtime,
    registry: Registry,
    _echo: Process,
    _dir: TempDir,
    host: Host,
    segments: Segments,
    well_behaved: iomod::host::Function,
    outcomes: std::collections::BTreeMap<&'static str, u64>,
    rss_baseline: Option<u64>,
    rss_max: u64,
    started: Instant,
    checks: u64,
    load_time: Duration,
    run_time: Duration,
    longest_run: Duration,
}

fn allow() -> Vec<iomod_sdk::Coordinates> {
    vec![echo_coordinates(), "example.test.nothing".parse().unwrap()]
}

impl AbiTarget {
    fn start() -> AbiTarget {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default_hook(info);
        }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = TempDir::new();
        // The health check timeout of production (2 s): the 300 ms of the other tests' configuration
        // fails on a loaded machine whatever the guests do.
        let mut config = test_config(&dir);
        config.health_timeout = Duration::from_secs(2);
        let registry = runtime.block_on(Registry::start(config)).unwrap();
        let echo = spawn_echo(dir.socket().to_str().unwrap(), None);
        runtime
            .block_on(registry.wait_ready(&[echo_coordinates()], Duration::from_secs(30)))
            .unwrap();
        let listed = runtime.block_on(registry.list()).unwrap();
        let method = listed[0]
            .info
            .methods
            .iter()
            .find(|m| m.name == "echo")
            .unwrap()
            .clone();
        let host = Host::new().unwrap();
        let well_behaved = host
            .load(
                proxy().as_bytes(),
                FunctionConfig {
                    allow: allow(),
                    ..FunctionConfig::default()
                },
            )
            .unwrap();
        AbiTarget {
            runtime,
            registry,
            _echo: echo,
            _dir: dir,
            host,
            segments: Segments::new(&method.fingerprint, &method.contract),
            well_behaved,
            outcomes: Default::default(),
            rss_baseline: None,
            rss_max: 0,
            started: Instant::now(),
            checks: 0,
            load_time: Duration::ZERO,
            run_time: Duration::ZERO,
            longest_run: Duration::ZERO,
        }
    }
}

impl Target for AbiTarget {
    fn run(&mut self, input: &[u8]) -> Result<(), String> {
        let (text, tight) = module(input, &self.segments);
        let config = if tight {
            FunctionConfig {
                allow: allow(),
                memory_limit_bytes: 4 << 20,
                time_budget: Duration::from_secs(2),
                call_timeout: Duration::from_millis(500),
                max_payload_bytes: 4096,
                max_pending_calls: 16,
                max_pending_bytes: 16 * 1024,
                ..FunctionConfig::default()
            }
        } else {
            FunctionConfig {
                allow: allow(),
                memory_limit_bytes: 16 << 20,
                time_budget: Duration::from_secs(5),
                ..FunctionConfig::default()
            }
        };
        let loading = Instant::now();
        let function = self
            .host
            .load(text.as_bytes(), config)
            .map_err(|e| format!("the generated module does not load: {e}\n{text}"))?;
        self.load_time += loading.elapsed();
        let running = Instant::now();
        let outcome = self
            .runtime
            .block_on(function.run(&self.registry, Vec::new()));
        let ran = running.elapsed();
        self.run_time += ran;
        self.longest_run = self.longest_run.max(ran);
        // The IOmod stays healthy: no guest keeps the registry's thread from its health checks.
        let listed = self.runtime.block_on(self.registry.list()).unwrap();
        if listed.iter().any(|s| s.state != IomodState::Ready) {
            return Err(format!(
                "after a run of {ran:?} ({outcome:?}), the echo IOmod is {:?}",
                listed[0].state
            ));
        }
        let kind = match &outcome {
            Ok(_) => "ok",
            Err(RunError::Trap(_)) => "trap",
            Err(RunError::Failed(_)) => "failed",
            Err(RunError::Exited { .. }) => "exited",
            Err(RunError::BadOutput(_)) => "bad output",
            Err(RunError::TimeBudget(_)) => "time budget",
            Err(RunError::RegistryStopped) => {
                return Err("the run says the registry stopped".into());
            }
            Err(e) => return Err(format!("unexpected outcome: {e}")),
        };
        *self.outcomes.entry(kind).or_default() += 1;
        if PANICS.load(Ordering::SeqCst) > 0 {
            return Err("a panic in the host".into());
        }
        Ok(())
    }

    fn check_every(&self) -> u64 {
        16
    }

    fn generate(&mut self, rng: &mut fastrand::Rng) -> Vec<u8> {
        let n = rng.usize(8..600);
        (0..n).map(|_| rng.u8(..)).collect()
    }

    fn check(&mut self) -> Result<(), String> {
        self.checks += 1;
        if PANICS.load(Ordering::SeqCst) > 0 {
            return Err("a panic in the host".into());
        }
        let output = self
            .runtime
            .block_on(self.well_behaved.run(
                &self.registry,
                proxy_input(
                    "example.test.echo.echo",
                    &echo_input(b"still serving", 0, "", false),
                ),
            ))
            .map_err(|e| format!("the well-behaved function failed: {e}"))?;
        match proxy_outcome(&output).map(|bytes| echo_output(&bytes)) {
            Ok(Ok(payload)) if payload == b"still serving" => {}
            other => return Err(format!("the well-behaved call got {other:?}")),
        }
        let direct = self.runtime.block_on(self.registry.invoke(
            "example.test.echo.reverse",
            reverse_input("abc"),
            Some(Duration::from_secs(20)),
        ));
        match direct.map(|bytes| reverse_output(&bytes)) {
            Ok(Ok(text)) if text == "cba" => {}
            other => return Err(format!("a direct call through the registry got {other:?}")),
        }
        let rss = rss_kib();
        self.rss_max = self.rss_max.max(rss);
        match self.rss_baseline {
            None if self.started.elapsed() > Duration::from_secs(5) => {
                self.rss_baseline = Some(rss)
            }
            Some(baseline) if rss > baseline + RSS_BOUND_KIB => {
                return Err(format!(
                    "resident memory grew from {baseline} KiB to {rss} KiB"
                ));
            }
            _ => {}
        }
        Ok(())
    }

    fn report(&mut self) -> String {
        format!(
            "run outcomes {:?}; {} well-behaved checks (a function's echo call and a direct call) all \
             answered; RSS after warm-up {} KiB, max {} KiB (bound: +{} KiB); no panic; {:?} compiling, {:?} running (longest run {:?})",
            self.outcomes,
            self.checks,
            self.rss_baseline.unwrap_or(0),
            self.rss_max,
            RSS_BOUND_KIB,
            self.load_time,
            self.run_time,
            self.longest_run,
        )
    }
}

#[test]
fn fuzz_guest_abi() {
    let mut target = AbiTarget::start();
    fuzz::fuzz("abi", &mut target, fuzz::seconds(25));
}

/// Writes the corpus from a fixed seed (run by hand: `IOMOD_FUZZ_WRITE_CORPUS=1`).
#[test]
fn write_abi_corpus() {
    if std::env::var_os("IOMOD_FUZZ_WRITE_CORPUS").is_none() {
        return;
    }
    let dir = fuzz::corpus_dir("abi");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = fastrand::Rng::with_seed(14);
    for i in 0..24 {
        let n = rng.usize(8..600);
        let bytes: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
        std::fs::write(dir.join(format!("gen-{i:03}.bin")), bytes).unwrap();
    }
}
