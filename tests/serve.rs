//! `iomod serve` as a real process: HTTP answers and errors (404, 405, 413, 500, 503, 504), readiness while
//! IOmods start and after one is killed, a busy function next to an IO-bound one on the same worker, no
//! state between invocations, the drain on SIGTERM, metrics checked by `promtool`, and the call context
//! (deadline, trace id) as the IOmod sees it. The IOmod is the echo IOmod; the functions are WebAssembly
//! text.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use capnp::{message, serialize};
use common::serve::*;
use common::*;
use iomod_echo::echo_capnp::echo;
use iomod_sdk::ErrorCode;

/// Keeps a memory cell and a global across invocations, if anything did: outputs both (two u32).
const COUNTER: &str = r#"(module
  (memory (export "memory") 1)
  (global $runs (mut i32) (i32.const 0))
  (func (export "iomod_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "iomod_main") (param i32 i32) (result i64)
    (global.set $runs (i32.add (global.get $runs) (i32.const 1)))
    (i32.store (i32.const 16) (i32.add (i32.load (i32.const 16)) (i32.const 1)))
    (i32.store (i32.const 20) (global.get $runs))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 8))))"#;

/// Computes forever (until its time budget stops it).
const BUSY: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "iomod_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "iomod_main") (param i32 i32) (result i64) (loop $forever (br $forever)) (i64.const 0)))"#;

/// Traps at once.
const TRAP: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "iomod_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "iomod_main") (param i32 i32) (result i64) unreachable))"#;

fn iomod() -> PathBuf {
    bin("iomod")
}

/// The echo IOmod as a dependency, started after `delay_s` seconds (through `sh`).
fn echo_dependency(delay_s: f64) -> String {
    let echo = bin("iomod-echo");
    if delay_s == 0.0 {
        return dependency("echo", iomod_echo::COORDINATES, &echo, &[]);
    }
    dependency(
        "echo",
        iomod_echo::COORDINATES,
        Path::new("/bin/sh"),
        &["-c", &format!("sleep {delay_s}; exec '{}'", echo.display())],
    )
}

/// The proxy function (one IOmod call per invocation, see `common::proxy`) with the echo IOmod.
fn proxy_function(dir: &Path, name: &str, echo_delay_s: f64, extra: &str) -> PathBuf {
    let proxy = proxy();
    write_function(
        dir,
        name,
        Module::Wat(&proxy),
        &format!("{extra}{}", echo_dependency(echo_delay_s)),
    )
}

fn echo_call(payload: &[u8], delay_ms: u32) -> Vec<u8> {
    proxy_input(
        "example.test.echo.echo",
        &echo_input(payload, delay_ms, "", false),
    )
}

/// The echo payload of a proxy invocation's output, or the call's typed error.
fn echoed(answer: &Answer) -> Result<Vec<u8>, iomod_sdk::Error> {
    assert_eq!(answer.status, 200, "{}", answer.text());
    proxy_outcome(&answer.body).and_then(|results| echo_output(&results))
}

fn args(manifests: &[&Path], extra: &[&str]) -> Vec<String> {
    manifests
        .iter()
        .map(|p| p.display().to_string())
        .chain(extra.iter().map(|s| (*s).to_owned()))
        .collect()
}

fn start(dir: &TempDir, manifests: &[&Path], extra: &[&str]) -> Serve {
    let args = args(manifests, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Serve::start(&iomod(), &dir.0, &args, &[])
}

#[tokio::test(flavor = "multi_thread")]
async fn http_answers_errors_and_metrics() {
    let dir = TempDir::new();
    let proxy = proxy_function(&dir.0, "proxy", 0.0, "max_payload_bytes = 4096\n");
    let counter = write_function(&dir.0, "counter", Module::Wat(COUNTER), "");
    let busy = write_function(&dir.0, "busy", Module::Wat(BUSY), "time_budget_ms = 300\n");
    let trap = write_function(&dir.0, "trap", Module::Wat(TRAP), "");
    let serve = start(&dir, &[&proxy, &counter, &busy, &trap], &[]);
    let addr = serve.addr;
    assert_eq!(
        http(addr, "GET", "/healthz", &[], Vec::new()).await.status,
        200
    );
    serve.wait_ready(Duration::from_secs(20)).await;

    // A function's output, and its IOmod call's typed errors as values inside it.
    let answer = invoke(addr, "proxy", &echo_call(b"over http", 0)).await;
    assert_eq!(echoed(&answer).unwrap(), b"over http");
    let failed = invoke(
        addr,
        "proxy",
        &proxy_input("example.test.echo.shout", &echo_input(b"x", 0, "", false)),
    )
    .await;
    assert_eq!(failed.status, 200);
    assert_code(
        proxy_outcome(&failed.body),
        ErrorCode::MethodNotFound,
        "shout",
    );

    // Nothing survives an invocation: the memory cell and the global start at zero every time.
    for _ in 0..3 {
        let answer = invoke(addr, "counter", b"").await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, [1, 0, 0, 0, 1, 0, 0, 0]);
    }

    // Errors.
    let missing = invoke(addr, "nothing", b"").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["type"], "not_found");
    assert_eq!(
        http(addr, "GET", "/nowhere", &[], Vec::new()).await.status,
        404
    );
    let get = http(addr, "GET", "/functions/counter", &[], Vec::new()).await;
    assert_eq!(get.status, 405);
    assert_eq!(get.headers["allow"], "POST");
    let large = invoke(addr, "proxy", &vec![0u8; 5000]).await;
    assert_eq!(large.status, 413, "{}", large.text());
    assert_eq!(large.json()["type"], "too_large");
    let started = Instant::now();
    let timeout = invoke(addr, "busy", b"").await;
    assert_eq!(timeout.status, 504, "{}", timeout.text());
    assert_eq!(timeout.json()["type"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    let trapped = invoke(addr, "trap", b"").await;
    assert_eq!(trapped.status, 500);
    let body = trapped.json();
    assert_eq!(body["type"], "trap");
    assert!(
        body["message"].as_str().unwrap().contains("unreachable"),
        "{body}"
    );

    // The metrics pass promtool and count what happened.
    let metrics = http(addr, "GET", "/metrics", &[], Vec::new()).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    promtool_check(&metrics.body);
    let count = |labels: &str| {
        let serve = &serve;
        let sample = format!("iomod_invocations_total{{{labels}}}");
        async move { serve.metric(&sample).await }
    };
    assert_eq!(count(r#"function="counter",outcome="ok""#).await, Some(3.0));
    assert_eq!(count(r#"function="proxy",outcome="ok""#).await, Some(2.0));
    assert_eq!(
        count(r#"function="proxy",outcome="too_large""#).await,
        Some(1.0)
    );
    assert_eq!(
        count(r#"function="busy",outcome="timeout""#).await,
        Some(1.0)
    );
    assert_eq!(count(r#"function="trap",outcome="trap""#).await, Some(1.0));
    let calls = |labels: &str| {
        let serve = &serve;
        let sample = format!("iomod_calls_total{{{labels}}}");
        async move { serve.metric(&sample).await }
    };
    assert_eq!(
        calls(r#"path="example.test.echo.echo",outcome="ok""#).await,
        Some(1.0)
    );
    // An unknown method is counted under one label, whatever name the guest chose.
    assert_eq!(
        calls(r#"path="example.test.echo.<unknown>",outcome="methodNotFound""#).await,
        Some(1.0)
    );
    assert_eq!(
        serve
            .metric(r#"iomod_registered{coordinates="example.test.echo"}"#)
            .await,
        Some(1.0)
    );
    assert_eq!(
        serve
            .metric(r#"iomod_invocation_duration_seconds_count{function="counter"}"#)
            .await,
        Some(3.0)
    );
    assert_eq!(serve.metric("iomod_invocations_in_flight").await, Some(0.0));
    assert_eq!(serve.metric("iomod_calls_in_flight").await, Some(0.0));
}

/// `promtool check metrics` (Debian's `prometheus` package; `scripts/setup.sh` installs it) accepts the
/// exposition.
fn promtool_check(exposition: &[u8]) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is missing: scripts/setup.sh installs it (apt package prometheus)");
    child.stdin.take().unwrap().write_all(exposition).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(exposition)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_is_503_until_the_iomods_register() {
    let dir = TempDir::new();
    let proxy = proxy_function(&dir.0, "proxy", 1.5, "");
    let serve = start(&dir, &[&proxy], &[]);
    let early = http(serve.addr, "GET", "/readyz", &[], Vec::new()).await;
    assert_eq!(early.status, 503, "{}", early.text());
    assert!(
        early.text().contains("example.test.echo"),
        "{}",
        early.text()
    );
    assert_eq!(
        http(serve.addr, "GET", "/healthz", &[], Vec::new())
            .await
            .status,
        200
    );
    serve.wait_ready(Duration::from_secs(20)).await;
    assert_eq!(
        echoed(&invoke(serve.addr, "proxy", &echo_call(b"ready", 0)).await).unwrap(),
        b"ready"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saturated_runtime_answers_503_with_retry_after() {
    let dir = TempDir::new();
    let proxy = proxy_function(&dir.0, "proxy", 0.0, "");
    let serve = start(&dir, &[&proxy], &["--max-concurrency", "1"]);
    serve.wait_ready(Duration::from_secs(20)).await;
    let addr = serve.addr;
    let slow = tokio::spawn(async move { invoke(addr, "proxy", &echo_call(b"slow", 1500)).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let refused = invoke(addr, "proxy", &echo_call(b"second", 0)).await;
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.headers["retry-after"], "1");
    assert_eq!(refused.json()["type"], "saturated");
    assert_eq!(echoed(&slow.await.unwrap()).unwrap(), b"slow");
    assert_eq!(
        echoed(&invoke(addr, "proxy", &echo_call(b"after", 0)).await).unwrap(),
        b"after"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_io_bound_invocation_finishes_while_a_busy_one_loops_on_the_same_worker() {
    let dir = TempDir::new();
    let proxy = proxy_function(&dir.0, "proxy", 0.0, "");
    let busy = write_function(&dir.0, "busy", Module::Wat(BUSY), "time_budget_ms = 2000\n");
    // One worker: the busy function and the IO-bound one share its thread.
    let serve = start(&dir, &[&proxy, &busy], &["--workers", "1"]);
    serve.wait_ready(Duration::from_secs(20)).await;
    let addr = serve.addr;
    let looping = tokio::spawn(async move {
        let started = Instant::now();
        (invoke(addr, "busy", b"").await, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    for i in 0..3 {
        let payload = format!("io {i}");
        let answer = invoke(addr, "proxy", &echo_call(payload.as_bytes(), 0)).await;
        assert_eq!(echoed(&answer).unwrap(), payload.as_bytes());
    }
    let io_bound = started.elapsed();
    let (busy_answer, busy_took) = looping.await.unwrap();
    assert_eq!(busy_answer.status, 504);
    assert!(
        io_bound < Duration::from_millis(1000),
        "three IO-bound invocations took {io_bound:?} next to a busy one"
    );
    assert!(busy_took >= Duration::from_millis(1900), "{busy_took:?}");
    eprintln!("3 IO-bound invocations: {io_bound:?}; the busy one ran {busy_took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_in_flight_invocations_then_stops_the_iomods() {
    let dir = TempDir::new();
    let proxy = proxy_function(&dir.0, "proxy", 0.0, "");
    let mut serve = start(&dir, &[&proxy], &[]);
    serve.wait_ready(Duration::from_secs(20)).await;
    let echo_pid = serve.iomod_pid(&iomod(), iomod_echo::COORDINATES).unwrap();
    let addr = serve.addr;
    let in_flight: Vec<_> = (0..4)
        .map(|i| {
            tokio::spawn(async move {
                invoke(
                    addr,
                    "proxy",
                    &echo_call(format!("drain {i}").as_bytes(), 1000),
                )
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill("TERM", serve.pid());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // New work is refused while the old finishes (with 503, or the listener is already closed).
    if let Ok(answer) = try_http(addr, "POST", "/functions/proxy", &[], echo_call(b"late", 0)).await
    {
        assert_eq!(answer.status, 503, "{}", answer.text());
    }
    for (i, answer) in in_flight.into_iter().enumerate() {
        let answer = answer.await.unwrap();
        assert_eq!(echoed(&answer).unwrap(), format!("drain {i}").as_bytes());
    }
    let started = Instant::now();
    let status = loop {
        if let Some(status) = serve.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still running:\n{}",
            serve.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}:\n{}", serve.log_text());
    assert!(
        !Path::new(&format!("/proc/{echo_pid}")).exists(),
        "the IOmod is still running"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_iomod_fails_invocations_with_a_typed_error_and_comes_back() {
    let dir = TempDir::new();
    let proxy = proxy_function(&dir.0, "proxy", 0.0, "call_timeout_ms = 3000\n");
    let serve = start(&dir, &[&proxy], &[]);
    serve.wait_ready(Duration::from_secs(20)).await;
    let addr = serve.addr;
    let pid = serve.iomod_pid(&iomod(), iomod_echo::COORDINATES).unwrap();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..16)
        .map(|client| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed, mut slowest) = (0, 0, Duration::ZERO);
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let payload = format!("{client}-{n}");
                    n += 1;
                    let started = Instant::now();
                    let answer = invoke(addr, "proxy", &echo_call(payload.as_bytes(), 20)).await;
                    slowest = slowest.max(started.elapsed());
                    match echoed(&answer) {
                        Ok(echoed) => {
                            assert_eq!(echoed, payload.as_bytes());
                            ok += 1;
                        }
                        Err(e) => {
                            assert_eq!(e.code, ErrorCode::Unavailable, "{e}");
                            failed += 1;
                        }
                    }
                }
                (ok, failed, slowest)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    kill("KILL", pid);
    // Readiness notices, then recovers once the supervisor has restarted the IOmod.
    serve.wait_unready_then_ready(Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for client in clients {
        let (o, f, slowest) = client.await.unwrap();
        ok += o;
        failed += f;
        assert!(
            slowest < Duration::from_secs(5),
            "an invocation took {slowest:?}"
        );
    }
    assert!(failed > 0, "no invocation saw the crash");
    assert!(ok > failed, "{ok} succeeded, {failed} failed");
    let new_pid = serve.iomod_pid(&iomod(), iomod_echo::COORDINATES).unwrap();
    assert_ne!(new_pid, pid);
    assert_eq!(
        echoed(&invoke(addr, "proxy", &echo_call(b"after", 0)).await).unwrap(),
        b"after"
    );
    assert_eq!(
        serve
            .metric(r#"iomod_restarts_total{coordinates="example.test.echo"}"#)
            .await,
        Some(1.0)
    );
    eprintln!("{ok} invocations succeeded, {failed} failed with unavailable");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_iomod_sees_the_callers_deadline_and_trace_id() {
    let dir = TempDir::new();
    let proxy = proxy_function(&dir.0, "proxy", 0.0, "call_timeout_ms = 4000\n");
    let serve = start(&dir, &[&proxy], &[]);
    serve.wait_ready(Duration::from_secs(20)).await;
    let mut params = message::Builder::new_default();
    params.init_root::<echo::context_params::Builder<'_>>();
    let input = proxy_input(
        "example.test.echo.context",
        &serialize::write_message_to_words(&params),
    );
    let seen = |answer: Answer| {
        assert_eq!(answer.status, 200, "{}", answer.text());
        let results = proxy_outcome(&answer.body).unwrap();
        let message =
            serialize::read_message(&mut &results[..], message::ReaderOptions::new()).unwrap();
        let r = message
            .get_root::<echo::context_results::Reader<'_>>()
            .unwrap();
        (
            r.get_timeout_micros(),
            r.get_traceparent().unwrap().to_string().unwrap(),
        )
    };

    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let answer = http(
        serve.addr,
        "POST",
        "/functions/proxy",
        &[("traceparent", incoming)],
        input.clone(),
    )
    .await;
    let (micros, traceparent) = seen(answer);
    assert!(
        micros > 3_000_000 && micros <= 4_000_000,
        "the IOmod saw {micros} µs left of a 4 s call timeout"
    );
    let parent: iomod_sdk::TraceParent = traceparent.parse().unwrap();
    assert_eq!(parent.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(
        parent.parent_id_hex(),
        "00f067aa0ba902b7",
        "the call has a span of its own"
    );

    // Without a traceparent the invocation starts a trace; the IOmod sees it too.
    let (_, traceparent) = seen(invoke(serve.addr, "proxy", &input).await);
    let parent: iomod_sdk::TraceParent = traceparent.parse().unwrap();
    assert_ne!(parent.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[test]
fn iomod_compile_fills_the_cache_that_serve_and_run_load() {
    let dir = TempDir::new();
    let counter = write_function(&dir.0, "counter", Module::Wat(COUNTER), "");
    let cache = dir.0.join("precompiled");
    let compile = std::process::Command::new(iomod())
        .arg("compile")
        .arg(&counter)
        .arg("--cache-dir")
        .arg(&cache)
        .output()
        .unwrap();
    assert!(compile.status.success(), "{compile:?}");
    let printed = String::from_utf8(compile.stdout).unwrap();
    let entry = PathBuf::from(printed.trim().strip_prefix("counter: ").unwrap());
    assert!(entry.starts_with(&cache) && entry.is_file(), "{printed}");
    let written = std::fs::metadata(&entry).unwrap().modified().unwrap();

    // `iomod run` finds the entry (and leaves it as it is).
    let run = std::process::Command::new(iomod())
        .arg("run")
        .arg(&counter)
        .args(["--input", "", "--cache-dir"])
        .arg(&cache)
        .env("IOMOD_LOG", "debug")
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    assert_eq!(run.stdout, [1, 0, 0, 0, 1, 0, 0, 0]);
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("loaded from the cache"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
    assert_eq!(
        std::fs::metadata(&entry).unwrap().modified().unwrap(),
        written
    );
}

#[test]
fn bad_functions_stop_serve_at_start_with_the_reason() {
    let dir = TempDir::new();
    let serve = |manifests: &[&Path]| {
        let output = std::process::Command::new(iomod())
            .arg("serve")
            .args(manifests)
            .args(["--listen", "127.0.0.1:0", "--no-cache"])
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let counter = write_function(&dir.0, "counter", Module::Wat(COUNTER), "");
    let twin = dir.0.join("twin");
    std::fs::create_dir_all(&twin).unwrap();
    let twin = twin.join("function.toml");
    std::fs::copy(&counter, &twin).unwrap();
    assert!(serve(&[&counter, &twin]).contains("two functions are named `counter`"));

    let invalid = write_function(&dir.0, "invalid", Module::Wat("(module (func"), "");
    let why = serve(&[&invalid]);
    assert!(why.contains("function `invalid`"), "{why}");

    let missing = dir.0.join("missing.toml");
    std::fs::write(&missing, "[function]\nmodule = \"nowhere.wasm\"\n").unwrap();
    let why = serve(&[&missing]);
    assert!(why.contains("nowhere.wasm"), "{why}");

    let typo = dir.0.join("typo.toml");
    std::fs::write(&typo, "[function]\nmodule = \"x.wasm\"\ntime_budget = 5\n").unwrap();
    let why = serve(&[&typo]);
    assert!(why.contains("time_budget"), "{why}");

    let zero = dir.0.join("zero.toml");
    std::fs::write(
        &zero,
        "[function]\nmodule = \"x.wasm\"\ntime_budget_ms = 0\n",
    )
    .unwrap();
    assert!(serve(&[&zero]).contains("time_budget_ms must be at least 1"));

    let empty = dir.0.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(serve(&[&empty]).contains("holds no function.toml"));
}
