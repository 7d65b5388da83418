//! The warm runtime's costs, each against a baseline measured in the same run, the paths interleaved in
//! rounds and compared with the same statistic on both sides:
//!
//! - invocation overhead of the no-op `hello` function on a worker thread (a fresh instance, run, torn
//!   down): the pooling allocator with `InstancePre` (what `iomod serve` does) against instantiating on demand
//!   (what `iomod run` did before); median per invocation;
//! - a wasm guest's IOmod calls from a worker thread (through its registry lane) against raw capnp-rpc echo:
//!   mean per call over the same number of sequential calls on both sides, in alternating chunks;
//! - the first invocation after `iomod serve` starts (spawn to the first 200), with an empty and with a warm
//!   compiled-module cache.
//!
//! Run with `scripts/bench.sh`, or: `cargo build --release --bin iomod -p iomod-echo`, build the sample
//! functions (`cargo build --release --manifest-path functions/Cargo.toml --target wasm32-unknown-unknown`),
//! then `cargo bench --bench serve`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use iomod::host::{Function, FunctionConfig, Host, HostConfig, PoolingLimits, RunOptions};
use iomod::registry::{LocalRegistry, RegistryConfig};

const ROUNDS: usize = 7;
const INVOCATIONS: usize = 2_000;
const CALLS: usize = 200;
/// Chunks of `CALLS` calls per side and round, alternating raw and wasm, so that both meet the same moments
/// of this shared machine.
const CHUNKS: usize = 10;
const COLD_STARTS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.2}–{max:.2}")
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

fn hello_wasm() -> PathBuf {
    let path = repository().join("functions/target/wasm32-unknown-unknown/release/hello.wasm");
    assert!(
        path.is_file(),
        "{} is missing: build the sample functions first (scripts/bench.sh does)",
        path.display()
    );
    path
}

/// Median microseconds per invocation of `function` (no input) over `n` invocations.
async fn invocation_us(local: &LocalRegistry, function: &Function, n: usize) -> f64 {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let output = function
            .run_local(local.clone(), Vec::new(), RunOptions::default())
            .await
            .unwrap();
        samples.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(output, b"Hello, world!\n");
    }
    median(samples)
}

/// Mean microseconds per call of `CALLS` sequential raw echo calls of 100 B.
async fn raw_call_us(client: &iomod_echo::echo_capnp::echo::Client) -> f64 {
    let payload = [0x5a; 100];
    let t = Instant::now();
    for _ in 0..CALLS {
        raw_echo(client, &payload).await;
    }
    t.elapsed().as_secs_f64() * 1e6 / CALLS as f64
}

/// Mean microseconds per call of `CALLS` sequential 100 B calls through the lane from its own thread, with
/// no wasm: where the registry and the SDK's share of the wasm path ends.
async fn lane_call_us(local: &LocalRegistry) -> f64 {
    let payload = input(&[0x5a; 100]);
    let t = Instant::now();
    for _ in 0..CALLS {
        let out = local
            .invoke("example.test.echo.echo", &payload, None)
            .await
            .unwrap();
        check_output(&out, 100);
    }
    t.elapsed().as_secs_f64() * 1e6 / CALLS as f64
}

/// Mean microseconds per call of a guest making `CALLS` sequential 100 B echo calls in one invocation.
async fn wasm_call_us(local: &LocalRegistry, function: &Function) -> f64 {
    let input = loop_input(CALLS as u32, &input(&[0x5a; 100]));
    let t = Instant::now();
    let output = function
        .run_local(local.clone(), input, RunOptions::default())
        .await
        .unwrap();
    let us = t.elapsed().as_secs_f64() * 1e6 / CALLS as f64;
    assert_eq!(
        u32::from_le_bytes(output[..4].try_into().unwrap()),
        CALLS as u32
    );
    us
}

/// Milliseconds from spawning `iomod serve` (release) with `cache` to its first 200 for `hello`.
fn cold_start_ms(manifest: &Path, cache: &Path) -> f64 {
    let iomod = echo_binary().with_file_name("iomod");
    let started = Instant::now();
    let mut child = Command::new(&iomod)
        .arg("serve")
        .arg(manifest)
        .args(["--listen", "127.0.0.1:0", "--cache-dir"])
        .arg(cache)
        .env("IOMOD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let addr = {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stderr).lines();
        loop {
            let line = lines
                .next()
                .expect("iomod serve ended before listening")
                .unwrap();
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr: std::net::SocketAddr =
                    rest.split_whitespace().next().unwrap().parse().unwrap();
                // Keep reading (and dropping) its log so that it never blocks on a full pipe.
                std::thread::spawn(move || lines.for_each(drop));
                break addr;
            }
        }
    };
    loop {
        let mut stream = match std::net::TcpStream::connect(addr) {
            Ok(stream) => stream,
            Err(_) => continue,
        };
        use std::io::{Read, Write};
        stream
            .write_all(
                b"POST /functions/hello HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
    }
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    ms
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (`cargo test --benches`) just checks that it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("iomod-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hello = std::fs::read(hello_wasm()).unwrap();
    let pooled_host = Host::with_config(&HostConfig {
        pooling: Some(PoolingLimits {
            instances: 256,
            max_memory_bytes: 64 << 20,
        }),
    })
    .unwrap();
    let on_demand_host = Host::new().unwrap();
    let pooled = pooled_host.load(&hello, FunctionConfig::default()).unwrap();
    let on_demand = on_demand_host
        .load(&hello, FunctionConfig::default())
        .unwrap();
    let echo_config = FunctionConfig {
        allow: vec![iomod_echo::COORDINATES.parse().unwrap()],
        ..FunctionConfig::default()
    };
    let call_loop = pooled_host
        .load(include_bytes!("guests/call_loop.wat"), echo_config)
        .unwrap();

    // A worker thread: a current-thread runtime with a registry lane, the echo IOmod registered there.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let lane = dir.join("lane.sock");
    let raw_socket = dir.join("raw.sock");
    let (overheads, calls) = tokio::task::LocalSet::new().block_on(&runtime, async {
        let local = LocalRegistry::start(RegistryConfig::unix(&lane))
            .await
            .unwrap();
        let _echo = spawn(&[], Some(&lane));
        let _raw_server = spawn(&["--raw", raw_socket.to_str().unwrap()], None);
        let coordinates: iomod_sdk::Coordinates = iomod_echo::COORDINATES.parse().unwrap();
        let waited = Instant::now();
        while !local.is_registered(&coordinates) {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "echo did not register"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let client = connect_raw(&raw_socket).await;
        // Warm-up of every path.
        invocation_us(&local, &pooled, 200).await;
        invocation_us(&local, &on_demand, 200).await;
        raw_call_us(&client).await;
        wasm_call_us(&local, &call_loop).await;
        let (mut overheads, mut calls) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            eprintln!("round {}/{ROUNDS}", round + 1);
            let pool = invocation_us(&local, &pooled, INVOCATIONS).await;
            let demand = invocation_us(&local, &on_demand, INVOCATIONS).await;
            overheads.push((pool, demand));
            let (mut raw, mut lane, mut wasm) = (0.0, 0.0, 0.0);
            for _ in 0..CHUNKS {
                raw += raw_call_us(&client).await / CHUNKS as f64;
                lane += lane_call_us(&local).await / CHUNKS as f64;
                wasm += wasm_call_us(&local, &call_loop).await / CHUNKS as f64;
            }
            calls.push((raw, lane, wasm));
        }
        (overheads, calls)
    });

    // Cold starts, interleaved: an empty cache, then one the previous start filled.
    let manifest = dir.join("hello.toml");
    std::fs::write(
        &manifest,
        format!(
            "[function]\nname = \"hello\"\nmodule = \"{}\"\n",
            hello_wasm().display()
        ),
    )
    .unwrap();
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for i in 0..COLD_STARTS {
        let cache = dir.join(format!("cache-{i}"));
        cold.push(cold_start_ms(&manifest, &cache));
        warm.push(cold_start_ms(&manifest, &cache));
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!("## Invocation overhead: the no-op `hello` function on a worker thread");
    println!();
    println!(
        "Medians over {ROUNDS} rounds of {INVOCATIONS} invocations each (fresh instance, run, tear down)."
    );
    println!();
    println!("| instances | median per invocation | range over rounds |");
    println!("|---|---|---|");
    let pool: Vec<f64> = overheads.iter().map(|o| o.0).collect();
    let demand: Vec<f64> = overheads.iter().map(|o| o.1).collect();
    println!(
        "| pooling allocator + InstancePre (`iomod serve`) | {:.1} µs | {} µs |",
        median(pool.clone()),
        spread(&pool)
    );
    println!(
        "| on demand (baseline) | {:.1} µs | {} µs |",
        median(demand.clone()),
        spread(&demand)
    );
    println!();
    println!("## A wasm guest's IOmod calls from a worker thread against raw capnp-rpc echo");
    println!();
    println!(
        "Mean per call over {} sequential 100 B calls per path and round, in {CHUNKS} alternating chunks of {CALLS}; ratios per round, then the median over {ROUNDS} rounds.",
        CALLS * CHUNKS
    );
    println!();
    let raw: Vec<f64> = calls.iter().map(|c| c.0).collect();
    let lane: Vec<f64> = calls.iter().map(|c| c.1).collect();
    let wasm: Vec<f64> = calls.iter().map(|c| c.2).collect();
    let lane_ratios: Vec<f64> = calls.iter().map(|c| c.1 / c.0).collect();
    let ratios: Vec<f64> = calls.iter().map(|c| c.2 / c.0).collect();
    println!("| path | mean per call (median of rounds) | range |");
    println!("|---|---|---|");
    println!(
        "| raw capnp-rpc echo (baseline) | {:.1} µs | {} µs |",
        median(raw.clone()),
        spread(&raw)
    );
    println!(
        "| lane → echo IOmod, from the worker's thread (no wasm) | {:.1} µs | {} µs |",
        median(lane.clone()),
        spread(&lane)
    );
    println!(
        "| wasm guest → host → lane → echo IOmod | {:.1} µs | {} µs |",
        median(wasm.clone()),
        spread(&wasm)
    );
    println!(
        "| ratio lane / raw | {:.2} | {} |",
        median(lane_ratios.clone()),
        spread(&lane_ratios)
    );
    println!(
        "| ratio wasm / raw (target ≤ 1.3) | **{:.2}** | {} |",
        median(ratios.clone()),
        spread(&ratios)
    );
    println!();
    println!("## First invocation after start (`iomod serve`, spawn to the first 200 of `hello`)");
    println!();
    println!("| compiled-module cache | median of {COLD_STARTS} | range |");
    println!("|---|---|---|");
    println!(
        "| empty (compiles at start) | {:.1} ms | {} ms |",
        median(cold.clone()),
        spread(&cold)
    );
    println!(
        "| warm (loads the compiled module) | {:.1} ms | {} ms |",
        median(warm.clone()),
        spread(&warm)
    );
}
