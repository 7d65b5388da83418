//! Soak: many calls through a registry process to the echo IOmod, and many invocations of a wasm function
//! through `iomod serve`, every answer checked, while the resident memory (VmRSS) and the open file
//! descriptors of each process are sampled. After a warm-up, each process's RSS must stay within 10% of its
//! value at the end of the warm-up (or within an absolute floor, for small processes where one allocator
//! arena more or less is already 10%), and its descriptors must not change.
//!
//! Short versions run in CI (20,000 calls, 5,000 invocations); `scripts/soak.sh` runs the full ones
//! (1,000,000 calls, 100,000 invocations) and prints the figures. The counts come from
//! `IOMOD_SOAK_CALLS` and `IOMOD_SOAK_INVOCATIONS`.
//!
//! The processes are separate, so that each has an RSS of its own: `iomod registry` and `iomod-echo --json`
//! (the load generator, this test, calls `Registry.callJson` over the registry's socket with 64 calls in
//! flight); `iomod serve` (its registry inside) and the `iomod-echo` it starts (the load generator sends
//! HTTP requests on 64 keep-alive connections).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::serve::{Module, Serve, dependency, write_function};
use common::*;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use iomod_sdk::ErrorCode;
use iomod_sdk::iomod_capnp::json_result;
use iomod_sdk::transport::{ConnectionLimits, RegistryAddress, RegistryConnection};

const IN_FLIGHT: usize = 64;
/// The bound: RSS within 10% of its value after the warm-up.
const RSS_TOLERANCE: f64 = 0.10;
/// The floor under that bound, for processes of a few MiB: glibc's malloc gives each thread that allocates
/// an arena of its own and returns memory to the system in steps, so a small process moves by a few hundred
/// KiB with no leak at all. 1 MiB is 10% of a 10 MiB process; a leak of even 100 bytes per call passes it
/// within 10,000 calls.
const RSS_FLOOR_KIB: u64 = 1024;
/// Samples taken over the run (one per 1% of the calls).
const SAMPLES: u64 = 100;

fn count(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .map(|v| {
            v.replace(['_', ','], "")
                .parse()
                .unwrap_or_else(|_| panic!("{var} must be a number"))
        })
        .unwrap_or(default)
}

/// One process's resident memory, in KiB (`VmRSS` in `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("process {pid} is gone: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// How many file descriptors a process has open (`/proc/<pid>/fd`).
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("process {pid} is gone: {e}"))
        .count()
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    done: u64,
    rss_kib: u64,
    fds: usize,
}

/// The samples of one process.
struct Watch {
    name: &'static str,
    pid: u32,
    samples: Vec<Sample>,
}

impl Watch {
    fn new(name: &'static str, pid: u32) -> Watch {
        Watch {
            name,
            pid,
            samples: Vec::new(),
        }
    }

    fn sample(&mut self, done: u64) {
        self.samples.push(Sample {
            done,
            rss_kib: rss_kib(self.pid),
            fds: fd_count(self.pid),
        });
    }

    /// The samples from the end of the warm-up on (the first is the baseline).
    fn after_warmup(&self, warmup: u64) -> &[Sample] {
        let first = self
            .samples
            .iter()
            .position(|s| s.done >= warmup)
            .expect("no sample after the warm-up");
        &self.samples[first..]
    }

    /// Least-squares slope of RSS over calls after the warm-up, in KiB per 100,000 calls.
    fn trend(&self, warmup: u64) -> f64 {
        let s = self.after_warmup(warmup);
        let n = s.len() as f64;
        let mx = s.iter().map(|s| s.done as f64).sum::<f64>() / n;
        let my = s.iter().map(|s| s.rss_kib as f64).sum::<f64>() / n;
        let sxy: f64 = s
            .iter()
            .map(|s| (s.done as f64 - mx) * (s.rss_kib as f64 - my))
            .sum();
        let sxx: f64 = s.iter().map(|s| (s.done as f64 - mx).powi(2)).sum();
        if sxx == 0.0 {
            0.0
        } else {
            sxy / sxx * 100_000.0
        }
    }

    /// The bound on RSS after the warm-up.
    fn limit_kib(&self, warmup: u64) -> u64 {
        let base = self.after_warmup(warmup)[0].rss_kib;
        ((base as f64 * (1.0 + RSS_TOLERANCE)) as u64).max(base + RSS_FLOOR_KIB)
    }

    /// A table row: RSS at the start, after the warm-up, max and final; the trend; descriptors.
    fn row(&self, warmup: u64) -> String {
        let s = self.after_warmup(warmup);
        let (base, last) = (s[0], s[s.len() - 1]);
        let max = s.iter().map(|s| s.rss_kib).max().unwrap();
        let (fd_min, fd_max) = (
            s.iter().map(|s| s.fds).min().unwrap(),
            s.iter().map(|s| s.fds).max().unwrap(),
        );
        format!(
            "| {} | {} | {} | {} ({:+.1}%) | {} ({:+.1}%) | {:+.0} KiB | {} | {}–{} |",
            self.name,
            mib(self.samples[0].rss_kib),
            mib(base.rss_kib),
            mib(max),
            pct(max, base.rss_kib),
            mib(last.rss_kib),
            pct(last.rss_kib, base.rss_kib),
            self.trend(warmup),
            base.fds,
            fd_min,
            fd_max,
        )
    }

    /// After the warm-up: RSS under the bound, descriptors unchanged.
    fn check(&self, warmup: u64) {
        let s = self.after_warmup(warmup);
        let limit = self.limit_kib(warmup);
        for sample in s {
            assert!(
                sample.rss_kib <= limit,
                "{}: RSS {} KiB after {} calls exceeds {} KiB (10% over {} KiB after the warm-up, 1 MiB at least); samples: {:?}",
                self.name,
                sample.rss_kib,
                sample.done,
                limit,
                s[0].rss_kib,
                self.samples,
            );
            assert_eq!(
                sample.fds, s[0].fds,
                "{}: open descriptors changed after {} calls; samples: {:?}",
                self.name, sample.done, self.samples,
            );
        }
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn pct(value: u64, base: u64) -> f64 {
    (value as f64 / base as f64 - 1.0) * 100.0
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
}

fn header(title: &str) {
    println!();
    println!("{title}");
    println!();
    println!(
        "| process | RSS at start | after warm-up | max | final | trend per 100k | fds after warm-up | fds min–max |"
    );
    println!("|---|---|---|---|---|---|---|---|");
}

/// Waits until `pid` has `fds` descriptors open again (connections just closed take a moment to go).
fn settle_fds(name: &str, pid: u32, fds: usize) {
    let started = Instant::now();
    while fd_count(pid) != fds {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{name}: {} descriptors open 10 s after the load ended, {fds} before it",
            fd_count(pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What call `i` sends and what it must answer.
enum Expect {
    Reverse(String),
    Echo(Vec<u8>),
    /// The method's own named error.
    Fails(String),
    /// An error the registry or the SDK raises.
    Error(ErrorCode),
}

/// Call `i`: its path, input, deadline in milliseconds and expected answer. Mostly `reverse` and `echo`
/// with payloads of 0 to 299 bytes; one in 16 fails with a named error, and one in 128 each is a call to
/// a method that does not exist, an input that does not fit, and a call that outlives its deadline (so
/// that the paths of errors and cancellations run as often as thousands of times).
fn registry_call(i: u64) -> (&'static str, String, u32, Expect) {
    match (i % 128, i % 16) {
        (31, _) => (
            "example.test.echo.shout",
            "{}".to_owned(),
            20_000,
            Expect::Error(ErrorCode::MethodNotFound),
        ),
        (63, _) => (
            "example.test.echo.reverse",
            serde_json::json!({ "txet": i }).to_string(),
            20_000,
            Expect::Error(ErrorCode::InvalidInput),
        ),
        (127, _) => (
            "example.test.echo.echo",
            serde_json::json!({ "payload": [i as u8], "delay_ms": 200 }).to_string(),
            5,
            Expect::Error(ErrorCode::DeadlineExceeded),
        ),
        (_, 15) => {
            let name = format!("Soak{}", i % 7);
            let input = serde_json::json!({ "payload": [1, 2, 3], "fail_with": name }).to_string();
            ("example.test.echo.echo", input, 20_000, Expect::Fails(name))
        }
        (_, n) if n % 2 == 0 => {
            let text = format!("call {i} of the soak: ä{}ö", "x".repeat((i % 97) as usize));
            let input = serde_json::json!({ "text": text }).to_string();
            (
                "example.test.echo.reverse",
                input,
                20_000,
                Expect::Reverse(text.chars().rev().collect()),
            )
        }
        _ => {
            let payload: Vec<u8> = (0..(i % 300)).map(|j| (i * 31 + j) as u8).collect();
            let input = serde_json::json!({ "payload": payload }).to_string();
            (
                "example.test.echo.echo",
                input,
                20_000,
                Expect::Echo(payload),
            )
        }
    }
}

/// What call `i` of a run sends and must answer.
type CallMaker = fn(u64) -> (&'static str, String, u32, Expect);

/// Calls `Registry.callJson` for call `i` and checks its answer; returns its latency.
async fn call_and_check(
    registry: &iomod_sdk::iomod_capnp::registry::Client,
    make: CallMaker,
    i: u64,
) -> Duration {
    let (path, input, timeout_ms, expect) = make(i);
    let mut request = registry.call_json_request();
    request.get().set_path(path);
    request.get().set_input(&input[..]);
    request.get().set_timeout_ms(timeout_ms);
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(30), request.send().promise)
        .await
        .unwrap_or_else(|_| panic!("call {i} got no answer within 30 s"))
        .unwrap_or_else(|e| panic!("call {i}: {e}"));
    let elapsed = started.elapsed();
    let result = response.get().unwrap().get_result().unwrap();
    let outcome = match result.which().unwrap() {
        json_result::Ok(text) => Ok(text.unwrap().to_string().unwrap()),
        json_result::Err(error) => Err(iomod_sdk::Error::read(error.unwrap())),
    };
    match (expect, outcome) {
        (Expect::Reverse(text), Ok(output)) => {
            assert_eq!(output, serde_json::to_string(&text).unwrap(), "call {i}")
        }
        (Expect::Echo(payload), Ok(output)) => {
            assert_eq!(output, serde_json::to_string(&payload).unwrap(), "call {i}")
        }
        (Expect::Fails(name), Err(error)) => {
            assert_eq!(error.code, ErrorCode::Method, "call {i}: {error}");
            assert_eq!(error.name, name, "call {i}");
        }
        (Expect::Error(code), Err(error)) => assert_eq!(error.code, code, "call {i}: {error}"),
        (_, outcome) => panic!("call {i} ({path} {input}) answered {outcome:?}"),
    }
    elapsed
}

/// `iomod registry` and `iomod-echo --json` as processes; this test calls through the registry with 64
/// calls in flight on one connection.
#[test]
fn registry_and_iomod_hold_memory_and_descriptors_under_load() {
    let calls = count("IOMOD_SOAK_CALLS", 20_000);
    // The first 10% (at least 5,000 calls) warm the allocators up: connection buffers, the registry's
    // tables, each thread's arena.
    let warmup = (calls / 10).max(5_000).min(calls / 2);
    registry_soak("Registry soak", calls, warmup, registry_call);
}

/// Only calls that outlive their deadline (5 ms; the IOmod answers after 20 ms): the registry gives up on
/// each. Dropping the RPC call at once left an entry behind in capnp-rpc's tables on both sides, hundreds
/// of bytes per call, for as long as the connection lasted.
#[test]
fn calls_past_their_deadline_leave_nothing_behind() {
    fn late(i: u64) -> (&'static str, String, u32, Expect) {
        (
            "example.test.echo.echo",
            serde_json::json!({ "payload": [i as u8], "delay_ms": 20 }).to_string(),
            5,
            Expect::Error(ErrorCode::DeadlineExceeded),
        )
    }
    registry_soak("Calls past their deadline", 10_000, 2_000, late);
}

/// `calls` calls made by `make` through a registry process to `iomod-echo --json`, 64 in flight; checks
/// the bounds after `warmup` calls and prints the figures under `title`.
fn registry_soak(title: &str, calls: u64, warmup: u64, make: CallMaker) {
    let dir = TempDir::new();
    let socket = dir.socket();
    let registry_process = Process {
        child: Command::new(env!("CARGO_BIN_EXE_iomod"))
            .args(["registry", "--socket"])
            .arg(&socket)
            .env("IOMOD_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let registry_pid = registry_process.pid();
    let started = Instant::now();
    while !socket.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the registry did not listen"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let echo = spawn_echo_with(socket.to_str().unwrap(), None, &["--json"]);
    let mut watches = [
        Watch::new("iomod registry", registry_pid),
        Watch::new("iomod-echo", echo.pid()),
    ];

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (elapsed, mut latencies, idle_fds) =
        tokio::task::LocalSet::new().block_on(&runtime, async {
            let connection = RegistryConnection::connect(
                &RegistryAddress::Unix(socket.clone()),
                None,
                ConnectionLimits::default(),
            )
            .await
            .unwrap();
            let registry = connection.registry.clone();
            let mut wait = registry.wait_ready_request();
            wait.get()
                .init_coordinates(1)
                .set(0, iomod_echo::COORDINATES);
            wait.get().set_timeout_ms(10_000);
            let ready = wait.send().promise.await.unwrap();
            assert!(
                !ready.get().unwrap().has_error(),
                "the echo IOmod did not register"
            );
            // Descriptors with the load generator's connection open and no call in flight.
            let idle_fds: Vec<usize> = watches.iter().map(|w| fd_count(w.pid)).collect();
            for w in &mut watches {
                w.sample(0);
            }
            let every = (calls / SAMPLES).max(1);
            let mut latencies = Vec::with_capacity(calls as usize);
            let mut done = 0u64;
            let started = Instant::now();
            let mut answers = futures::stream::iter(0..calls)
                .map(|i| {
                    let registry = registry.clone();
                    async move { call_and_check(&registry, make, i).await }
                })
                .buffer_unordered(IN_FLIGHT);
            while let Some(latency) = answers.next().await {
                latencies.push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
                done += 1;
                if done % every == 0 || done == warmup {
                    for w in &mut watches {
                        w.sample(done);
                    }
                }
            }
            let elapsed = started.elapsed();
            drop(answers);
            drop(registry);
            connection.disconnect().await;
            (elapsed, latencies, idle_fds)
        });
    assert_eq!(latencies.len() as u64, calls);
    latencies.sort_unstable();

    // The load generator's connection closed: the registry is back to its descriptors minus that one.
    settle_fds("iomod registry", registry_pid, idle_fds[0] - 1);
    settle_fds("iomod-echo", echo.pid(), idle_fds[1]);

    header(&format!(
        "{title}: {calls} calls ({warmup} of warm-up), {IN_FLIGHT} in flight, {:.1} s, {:.0} calls/s, latency p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
        elapsed.as_secs_f64(),
        calls as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    ));
    for w in &watches {
        println!("{}", w.row(warmup));
    }
    for w in &watches {
        w.check(warmup);
    }
    drop(echo);
    drop(registry_process);
}

/// The proxy function: one call to an echo method per invocation (see `common::proxy`).
fn proxy_function(dir: &Path) -> PathBuf {
    let proxy = proxy();
    let echo = dependency("echo", iomod_echo::COORDINATES, &bin("iomod-echo"), &[]);
    write_function(dir, "proxy", Module::Wat(&proxy), &echo)
}

/// The payload of invocation `i`: unique, 16 to 527 bytes.
fn invocation_payload(i: u64) -> Vec<u8> {
    let mut payload = format!("invocation {i:>8} ").into_bytes();
    payload.extend((0..(i % 512)).map(|j| (i ^ j) as u8));
    payload
}

/// Checks the status and body of an answer.
type Check = Box<dyn FnOnce(u16, &[u8]) + Send>;

/// Invocation `i`: the function it invokes, its input, and a check of the answer. Mostly an echo call of
/// a unique payload; one in 256 each invokes a function that does not exist (404) and calls a method that
/// does not exist.
fn invocation(i: u64) -> (&'static str, Vec<u8>, Check) {
    match i % 256 {
        85 => (
            "nothing",
            Vec::new(),
            Box::new(move |status, _| assert_eq!(status, 404, "invocation {i}")),
        ),
        170 => (
            "proxy",
            proxy_input("example.test.echo.shout", &echo_input(b"x", 0, "", false)),
            Box::new(move |status, body| {
                assert_eq!(status, 200, "invocation {i}");
                let error = proxy_outcome(body).unwrap_err();
                assert_eq!(
                    error.code,
                    ErrorCode::MethodNotFound,
                    "invocation {i}: {error}"
                );
            }),
        ),
        _ => {
            let payload = invocation_payload(i);
            let input = proxy_input(
                "example.test.echo.echo",
                &echo_input(&payload, 0, "", false),
            );
            (
                "proxy",
                input,
                Box::new(move |status, body| {
                    assert_eq!(
                        status,
                        200,
                        "invocation {i}: {}",
                        String::from_utf8_lossy(body)
                    );
                    let echoed = proxy_outcome(body)
                        .and_then(|results| echo_output(&results))
                        .unwrap_or_else(|e| panic!("invocation {i}: {e}"));
                    assert!(echoed == payload, "invocation {i} answered another payload");
                }),
            )
        }
    }
}

/// A client's keep-alive connection, kept open until every client is done (so that the descriptors sampled
/// at the end still count all of them).
type Connection = (
    hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<hyper::Result<()>>,
);

/// Sends invocations on one keep-alive connection until `next` reaches `total`; checks every answer.
/// Returns the latencies and the connection, still open.
async fn invoke_on_one_connection(
    addr: std::net::SocketAddr,
    next: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    total: u64,
) -> (Vec<u32>, Connection) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let mut latencies = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            break;
        }
        let (function, body, check) = invocation(i);
        let request = hyper::Request::builder()
            .method("POST")
            .uri(format!("/functions/{function}"))
            .header("host", addr.to_string())
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(30), async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        })
        .await
        .unwrap_or_else(|_| panic!("invocation {i} got no answer within 30 s"))
        .unwrap_or_else(|e| panic!("invocation {i}: {e}"));
        latencies.push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        let (status, body) = answer;
        check(status, &body);
        done.fetch_add(1, Ordering::Relaxed);
    }
    (latencies, (sender, connection))
}

/// `iomod serve` (the runtime, its registry inside) and the echo IOmod it starts, as processes; this test
/// invokes the proxy function over HTTP on 64 keep-alive connections.
#[test]
fn warm_runtime_and_iomod_hold_memory_and_descriptors_under_load() {
    let total = count("IOMOD_SOAK_INVOCATIONS", 5_000);
    let warmup = (total / 10).max(1_000).min(total / 2);
    let dir = TempDir::new();
    let manifest = proxy_function(&dir.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let serve = Serve::start(
        &bin("iomod"),
        &dir.0,
        &[manifest.to_str().unwrap()],
        &[("IOMOD_LOG", "warn".to_owned())],
    );
    runtime.block_on(serve.wait_ready(Duration::from_secs(30)));
    let echo_pid = serve
        .iomod_pid(&bin("iomod"), iomod_echo::COORDINATES)
        .expect("the echo IOmod is not listed");
    let mut watches = [
        Watch::new("iomod serve", serve.pid()),
        Watch::new("iomod-echo (started by serve)", echo_pid),
    ];
    let idle_fds: Vec<usize> = watches.iter().map(|w| fd_count(w.pid)).collect();
    for w in &mut watches {
        w.sample(0);
    }

    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            runtime.spawn(invoke_on_one_connection(
                serve.addr,
                next.clone(),
                done.clone(),
                total,
            ))
        })
        .collect();
    // Samples at every 1% of the invocations, and at the end of the warm-up.
    let every = (total / SAMPLES).max(1);
    let mut marks: Vec<u64> = (1..=total / every).map(|k| k * every).collect();
    marks.push(warmup);
    marks.sort_unstable();
    marks.dedup();
    let mut marks = marks.into_iter().peekable();
    while let Some(&mark) = marks.peek() {
        let now = done.load(Ordering::Relaxed);
        if now >= mark {
            for w in &mut watches {
                w.sample(now);
            }
            while marks.next_if(|&m| m <= now).is_some() {}
            continue;
        }
        assert!(
            clients.iter().any(|c| !c.is_finished()) || done.load(Ordering::Relaxed) >= mark,
            "the clients stopped after {now} invocations"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut latencies: Vec<u32> = Vec::with_capacity(total as usize);
    let mut connections = Vec::new();
    for client in clients {
        let (l, connection) = runtime.block_on(client).unwrap();
        latencies.extend(l);
        connections.push(connection);
    }
    let elapsed = started.elapsed();
    for (sender, connection) in connections {
        drop(sender);
        let _ = runtime.block_on(connection);
    }
    assert_eq!(latencies.len() as u64, total);
    latencies.sort_unstable();

    // Every connection closed: both processes are back to their descriptors before the load.
    settle_fds("iomod serve", serve.pid(), idle_fds[0]);
    settle_fds("iomod-echo", echo_pid, idle_fds[1]);

    header(&format!(
        "Warm-runtime soak: {total} invocations ({warmup} of warm-up), {IN_FLIGHT} connections, {:.1} s, {:.0} invocations/s, latency p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    ));
    for w in &watches {
        println!("{}", w.row(warmup));
    }
    for w in &watches {
        w.check(warmup);
    }
    drop(serve);
}
