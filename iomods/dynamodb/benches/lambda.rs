//! The todo function on the Lambda runtime (its bundle's `bootstrap`, the DynamoDB IOmod from a layer)
//! against a native Rust Lambda function (`examples/native_lambda.rs`: `lambda_runtime` and
//! `aws-sdk-dynamodb`) answering the same `get`, in one run, through one cargo-lambda Runtime API emulator
//! per start and one moto server: cold start (process start to the first answered invocation, with the
//! runtime's own account of its init parts), warm invocation latency, and the sizes of what is deployed.
//!
//! Run with `scripts/bench-lambda.sh` (which builds the static artifacts with `scripts/build-lambda.sh`
//! and passes their directory as `IOMOD_LAMBDA_ARTIFACTS`). Without `--bench` (`cargo test
//! --all-targets`) it is a smoke run: debug builds, 1 start of each, 5 warm invocations.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../../tests/common/lambda.rs"]
mod lambda;
#[path = "../../../tests/common/serve.rs"]
mod serve;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{COORDINATES, DynamoServer, TempDir, dynamodb_package, function_module};
use lambda::{Emulator, Runtime, iomod_ok, unzip};
use serde_json::json;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// What is deployed: the layer, the function bundle and the native baseline.
struct Artifacts {
    layer: PathBuf,
    bundle: PathBuf,
    native: PathBuf,
    /// The runtime binary the bundle holds (for its size).
    bootstrap_size: u64,
}

/// The static artifacts of `scripts/build-lambda.sh`, or (smoke run) debug ones built here.
fn artifacts(dir: &Path) -> Artifacts {
    if let Some(built) = std::env::var_os("IOMOD_LAMBDA_ARTIFACTS") {
        let built = PathBuf::from(built);
        let bundle = built.join("function.zip");
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&bundle).unwrap()).unwrap();
        let bootstrap_size = zip.by_name("bootstrap").unwrap().size();
        return Artifacts {
            layer: built.join("layer.zip"),
            bundle,
            native: built.join("native_lambda"),
            bootstrap_size,
        };
    }
    assert!(
        !full(),
        "set IOMOD_LAMBDA_ARTIFACTS to the output of scripts/build-lambda.sh (scripts/bench-lambda.sh does)"
    );
    let bins = Path::new(env!("CARGO_BIN_EXE_iomod-dynamodb"))
        .parent()
        .unwrap()
        .to_owned();
    let iomod = common::iomod_binary();
    let package = dynamodb_package(dir);
    let layer = dir.join("layer.zip");
    iomod_ok(
        &iomod,
        &[
            "layer",
            "-o",
            layer.to_str().unwrap(),
            package.to_str().unwrap(),
        ],
    );
    let function = dir.join("todo");
    std::fs::create_dir_all(&function).unwrap();
    std::fs::write(
        function.join("function.toml"),
        format!(
            "[function]\nname = \"todo\"\nmodule = {:?}\n\n[iomod.dependencies.dynamodb]\ncoordinates = \"{COORDINATES}\"\n",
            function_module("todo").display().to_string()
        ),
    )
    .unwrap();
    let bundle = dir.join("function.zip");
    iomod_ok(
        &iomod,
        &[
            "bundle",
            function.join("function.toml").to_str().unwrap(),
            "-o",
            bundle.to_str().unwrap(),
        ],
    );
    let native = bins.join("examples/native_lambda");
    assert!(
        native.is_file(),
        "{} is missing: `cargo build -p iomod-dynamodb --examples`",
        native.display()
    );
    Artifacts {
        layer,
        bundle,
        native,
        bootstrap_size: std::fs::metadata(&iomod).unwrap().len(),
    }
}

/// One start of a Lambda function: the process, the emulator it talks to, and its cold start.
struct Started {
    runtime: Runtime,
    emulator: Emulator,
    cold: Duration,
}

/// Starts `program` against a fresh emulator with an invocation of `event` already waiting, and measures
/// from the process start to that invocation's answer.
async fn start(
    dir: &Path,
    program: &Path,
    env: &[(&str, String)],
    event: &str,
    log: &str,
) -> Started {
    let emulator = Emulator::start(dir);
    let addr = emulator.addr;
    let payload = event.as_bytes().to_vec();
    let pending = tokio::spawn(async move {
        let answer = serve::try_http(
            addr,
            "POST",
            "/2015-03-31/functions/_/invocations",
            &[],
            payload,
        )
        .await;
        (answer, Instant::now())
    });
    // The invocation is waiting in the emulator before the process starts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spawned = Instant::now();
    let runtime = Runtime::start(program, &[], &emulator, env, &dir.join(log));
    let (answer, answered) = tokio::time::timeout(Duration::from_secs(60), pending)
        .await
        .unwrap_or_else(|_| panic!("{log}: no answer:\n{}", runtime.log_text()))
        .unwrap();
    let answer = answer.unwrap();
    assert_eq!(answer.status, 200, "{log}: {}", answer.text());
    assert!(
        answer.json().get("ok").is_some(),
        "{log}: {}",
        answer.text()
    );
    Started {
        runtime,
        emulator,
        cold: answered - spawned,
    }
}

/// Warm invocations of `event`, one after the other; their latencies in microseconds.
async fn warm(emulator: &Emulator, event: &str, calls: usize) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let answer = emulator.invoke(event).await;
        latencies.push(started.elapsed().as_secs_f64() * 1e6);
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert!(answer.json().get("ok").is_some(), "{}", answer.text());
    }
    latencies
}

/// A `name=<number>` field of the runtime's log line containing `message`.
fn log_field(log: &str, message: &str, name: &str) -> Option<f64> {
    let line = log.lines().find(|l| l.contains(message))?;
    let start = line.find(&format!("{name}="))? + name.len() + 1;
    line[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() {
    let (rounds, calls) = if full() { (7, 200) } else { (1, 5) };
    let server = DynamoServer::start();
    let dir = TempDir::new("bench-lambda");
    let artifacts = artifacts(&dir.0);
    let opt = dir.0.join("opt");
    let task = dir.0.join("task");
    unzip(&artifacts.layer, &opt);
    unzip(&artifacts.bundle, &task);
    let aws: Vec<(&str, String)> = server.aws_env().into_iter().collect();
    let mut iomod_env = aws.clone();
    iomod_env.push(("LAMBDA_TASK_ROOT", task.display().to_string()));
    iomod_env.push(("IOMOD_LAYER_DIR", opt.join("iomod").display().to_string()));
    let bootstrap = task.join("bootstrap");

    // The table and one todo, made through the runtime itself.
    let seeded = start(
        &dir.0,
        &bootstrap,
        &iomod_env,
        &json!({"action": "setup"}).to_string(),
        "seed.log",
    )
    .await;
    let created = seeded
        .emulator
        .invoke(&json!({"action": "create", "title": "benchmark"}).to_string())
        .await
        .json();
    let id = created["ok"]["id"].as_str().unwrap().to_owned();
    drop(seeded);
    let event = json!({"action": "get", "id": id}).to_string();

    let mut cold = [Vec::new(), Vec::new()];
    let mut hot = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    let mut parts: [Vec<f64>; 4] = Default::default();
    for round in 0..rounds {
        // Alternate which starts first, so neither always meets a warmer machine.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut running: [Option<Started>; 2] = [None, None];
        for which in order {
            let (program, env, log) = if which == 0 {
                (&bootstrap, &iomod_env, format!("iomod-{round}.log"))
            } else {
                (&artifacts.native, &aws, format!("native-{round}.log"))
            };
            let started = start(&dir.0, program, env, &event, &log).await;
            cold[which].push(started.cold.as_secs_f64() * 1e3);
            running[which] = Some(started);
        }
        // Warm: both run at once and take turns, one invocation each, so both meet the same machine and
        // the same moto server at every moment.
        let [Some(iomod), Some(native)] = &running else {
            unreachable!("both started")
        };
        let mut latencies = [Vec::new(), Vec::new()];
        for call in 0..calls {
            for which in if call % 2 == 0 { [0, 1] } else { [1, 0] } {
                let emulator = if which == 0 {
                    &iomod.emulator
                } else {
                    &native.emulator
                };
                latencies[which].extend(warm(emulator, &event, 1).await);
            }
        }
        let (a, b) = (median(latencies[0].clone()), median(latencies[1].clone()));
        hot[0].push(a);
        hot[1].push(b);
        ratios.push(a / b);
        let text = iomod.runtime.log_text();
        for (i, (message, field)) in [
            ("init parts", "packages_us"),
            ("init parts", "module_us"),
            ("init parts", "iomods_registered_us"),
            ("first invocation", "micros"),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(value) = log_field(&text, message, field) {
                parts[i].push(value / 1e3);
            }
        }
    }
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    let (cold_iomod, cold_native) = (median(cold[0].clone()), median(cold[1].clone()));
    let (hot_iomod, hot_native) = (median(hot[0].clone()), median(hot[1].clone()));
    println!(
        "Lambda: the todo function's get on the iomod runtime vs a native lambda_runtime handler \
         ({rounds} starts each; per round {calls} warm invocations each, taking turns; medians)"
    );
    println!("| | iomod runtime | native | difference |");
    println!("|---|---|---|---|");
    println!(
        "| cold start, process start to first answer | {cold_iomod:.1} ms | {cold_native:.1} ms | {:+.1} ms |",
        cold_iomod - cold_native
    );
    println!(
        "| warm invocation, through the emulator | {hot_iomod:.0} µs | {hot_native:.0} µs | ratio {:.2} (median of the rounds' ratios {:.2}) |",
        hot_iomod / hot_native,
        median(ratios.clone())
    );
    let part = |i: usize| {
        if parts[i].is_empty() {
            f64::NAN
        } else {
            median(parts[i].clone())
        }
    };
    println!(
        "Init parts (iomod runtime): packages opened (extracted) {:.1} ms, then the module loaded {:.1} ms \
         while the IOmods were spawned and registered {:.1} ms; first invocation (first instance, first \
         IOmod call, DynamoDB's answer) {:.1} ms",
        part(0),
        part(1),
        part(2),
        part(3)
    );
    println!(
        "Sizes: bootstrap {:.1} MiB, layer.zip {:.1} MiB, function.zip {:.1} MiB, native handler {:.1} MiB",
        mib(artifacts.bootstrap_size),
        mib(size(&artifacts.layer)),
        mib(size(&artifacts.bundle)),
        mib(size(&artifacts.native))
    );
    if !full() {
        println!(
            "Smoke run (no --bench): debug builds; scripts/bench-lambda.sh gives the figures."
        );
    }
}
