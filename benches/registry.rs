//! Calls through the registry to the echo IOmod, against raw Cap'n Proto RPC echo over the same kind of
//! socket, in one run. Also: how long an IOmod process takes from spawn to registered.
//!
//! Run with `scripts/bench.sh` (it builds the release `iomod-echo` first), or
//! `cargo build --release -p iomod-echo && cargo bench --bench registry`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use capnp::{message, serialize};
use futures::StreamExt;
use iomod::registry::{Registry, RegistryConfig};
use iomod_echo::echo_capnp::echo;

mod common;
use common::*;

const ROUNDS: usize = 3;
const WARMUP: usize = 500;
const SEQUENTIAL: usize = 5_000;
const CONCURRENT: usize = 10_000;
const IN_FLIGHT: usize = 64;
const SPAWNS: usize = 30;

struct Stats {
    median_us: f64,
    p99_us: f64,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let at =
        |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    Stats {
        median_us: at(0.5),
        p99_us: at(0.99),
    }
}

/// Raw capnp-rpc: a typed client on one thread, the echo server in another process.
fn raw(dir: &Path, size: usize) -> (Stats, f64) {
    let socket = dir.join(format!("raw-{size}.sock"));
    let _server = spawn(&["--raw", socket.to_str().unwrap()], None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, async {
        let client = connect_raw(&socket).await;
        let payload = vec![0x5a; size];
        measure(|| {
            let (client, payload) = (client.clone(), payload.clone());
            async move { raw_echo(&client, &payload).await }
        })
        .await
    })
}

/// Sequential latency and throughput of `call` (after a warm-up), on whatever thread this runs.
async fn measure<F, Fut>(call: F) -> (Stats, f64)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..WARMUP {
        call().await;
    }
    let mut samples = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let t = Instant::now();
        call().await;
        samples.push(t.elapsed());
    }
    let t = Instant::now();
    futures::stream::iter(0..CONCURRENT)
        .map(|_| call())
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    (
        stats(samples),
        CONCURRENT as f64 / t.elapsed().as_secs_f64(),
    )
}

/// Through the registry with `Registry::invoke` from the runtime's multi-threaded side (two thread
/// hand-offs per call), forwarded over the Unix socket to the echo IOmod served by the SDK.
fn via_invoke(
    runtime: &tokio::runtime::Runtime,
    registry: &Arc<Registry>,
    size: usize,
) -> (Stats, f64) {
    let payload = input(&vec![0x5a; size]);
    runtime.block_on(measure(|| {
        let (registry, payload) = (registry.clone(), payload.clone());
        async move {
            let out = registry
                .invoke("example.test.echo.echo", payload, None)
                .await
                .unwrap();
            check_output(&out, size);
        }
    }))
}

/// Through the registry from its own thread (`Registry::run_local`): the same forwarding, no hand-off.
fn via_local(
    runtime: &tokio::runtime::Runtime,
    registry: &Arc<Registry>,
    size: usize,
) -> (Stats, f64) {
    let payload = input(&vec![0x5a; size]);
    runtime
        .block_on(registry.run_local(move |local| async move {
            measure(|| {
                let (local, payload) = (local.clone(), &payload);
                async move {
                    let out = local
                        .invoke("example.test.echo.echo", payload, None)
                        .await
                        .unwrap();
                    check_output(&out, size);
                }
            })
            .await
        }))
        .unwrap()
}

/// CPU time this thread has used (`/proc/thread-self/schedstat`, nanoseconds).
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(
        text.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    )
}

/// The registry thread's CPU time while a guest waits for one call that takes 100 ms in the IOmod.
fn waiting_cpu(
    runtime: &tokio::runtime::Runtime,
    registry: &Arc<Registry>,
    function: &iomod::host::Function,
) -> (Duration, Duration) {
    let mut message = message::Builder::new_default();
    {
        let mut params = message.init_root::<echo::echo_params::Builder<'_>>();
        params.set_payload(b"slow");
        params.set_delay_ms(100);
    }
    let input = loop_input(1, &serialize::write_message_to_words(&message));
    let function = function.clone();
    let mut samples = Vec::new();
    for _ in 0..5 {
        let (function, input) = (function.clone(), input.clone());
        let (cpu, wall) = runtime
            .block_on(registry.run_local(move |local| async move {
                let (cpu, wall) = (thread_cpu(), Instant::now());
                function
                    .run_local(local, input, Default::default())
                    .await
                    .unwrap();
                (thread_cpu() - cpu, wall.elapsed())
            }))
            .unwrap();
        samples.push((cpu, wall));
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn spawn_to_registered(
    runtime: &tokio::runtime::Runtime,
    registry: &Registry,
    socket: &Path,
) -> Stats {
    let coordinates: iomod_sdk::Coordinates = iomod_echo::COORDINATES.parse().unwrap();
    let mut samples = Vec::with_capacity(SPAWNS);
    for _ in 0..SPAWNS {
        runtime.block_on(async {
            let t = Instant::now();
            let child = spawn(&[], Some(socket));
            registry
                .wait_ready(std::slice::from_ref(&coordinates), Duration::from_secs(10))
                .await
                .unwrap();
            samples.push(t.elapsed());
            drop(child);
            while registry.instance_of(&coordinates).is_some() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
    }
    stats(samples)
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (`cargo test --benches`) just checks that it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("iomod-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("registry.sock");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let registry = Arc::new(
        runtime
            .block_on(Registry::start(RegistryConfig::unix(&socket)))
            .unwrap(),
    );

    let coordinates: iomod_sdk::Coordinates = iomod_echo::COORDINATES.parse().unwrap();
    let echo = spawn(&[], Some(&socket));
    runtime
        .block_on(registry.wait_ready(std::slice::from_ref(&coordinates), Duration::from_secs(10)))
        .unwrap();
    // Rounds interleave the paths so that the machine's slow and fast moments fall on all of them.
    let sizes = [("100 B", 100), ("64 KiB", 64 * 1024)];
    let paths = ["raw capnp-rpc", "Registry::invoke", "Registry::run_local"];
    let mut results: Vec<Vec<Vec<(Stats, f64)>>> = sizes
        .iter()
        .map(|_| paths.iter().map(|_| Vec::new()).collect())
        .collect();
    for round in 0..ROUNDS {
        eprintln!("round {}/{ROUNDS}", round + 1);
        for (s, (_, size)) in sizes.iter().enumerate() {
            results[s][0].push(raw(&dir, *size));
            results[s][1].push(via_invoke(&runtime, &registry, *size));
            results[s][2].push(via_local(&runtime, &registry, *size));
        }
    }
    // A guest waiting on a slow call (its calls from a worker thread: `benches/serve.rs`).
    let host = iomod::host::Host::new().unwrap();
    let config = iomod::host::FunctionConfig {
        allow: vec![coordinates.clone()],
        ..Default::default()
    };
    let function = host
        .load(include_bytes!("guests/call_loop.wat"), config)
        .unwrap();
    let (cpu, wall) = waiting_cpu(&runtime, &registry, &function);
    drop(echo);
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "Medians over {ROUNDS} rounds; each round: {SEQUENTIAL} sequential calls, then {CONCURRENT} calls with {IN_FLIGHT} in flight."
    );
    println!();
    println!(
        "| payload | path | median latency | p99 latency | throughput | latency ratio (≤ 1.3) | throughput ratio (≥ 0.7) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (s, (label, _)) in sizes.iter().enumerate() {
        for (p, path) in paths.iter().enumerate() {
            let rounds = &results[s][p];
            let latency = median(rounds.iter().map(|r| r.0.median_us).collect());
            let p99 = median(rounds.iter().map(|r| r.0.p99_us).collect());
            let rate = median(rounds.iter().map(|r| r.1).collect());
            let ratios = if p == 0 {
                "baseline | baseline".to_owned()
            } else {
                let base = &results[s][0];
                let lat = median(
                    (0..ROUNDS)
                        .map(|i| rounds[i].0.median_us / base[i].0.median_us)
                        .collect(),
                );
                let thr = median((0..ROUNDS).map(|i| rounds[i].1 / base[i].1).collect());
                format!("{lat:.2} | {thr:.2}")
            };
            println!(
                "| {label} | {path} | {latency:.1} µs | {p99:.1} µs | {rate:.0} calls/s | {ratios} |"
            );
        }
    }
    println!();
    println!(
        "registry thread CPU while a guest waits on a 100 ms call: {:.2} ms over {:.0} ms (median of 5; target < 5 ms)",
        cpu.as_secs_f64() * 1e3,
        wall.as_secs_f64() * 1e3
    );
    runtime.block_on(async {
        let coordinates: iomod_sdk::Coordinates = iomod_echo::COORDINATES.parse().unwrap();
        while registry.instance_of(&coordinates).is_some() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let spawn = spawn_to_registered(&runtime, &registry, &socket);
    println!();
    println!(
        "spawn to registered ({SPAWNS} spawns): median {:.1} ms, p99 {:.1} ms (target: median < 30 ms)",
        spawn.median_us / 1000.0,
        spawn.p99_us / 1000.0
    );
    drop(registry);
    let _ = std::fs::remove_dir_all(&dir);
}
