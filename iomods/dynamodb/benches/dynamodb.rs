//! The DynamoDB IOmod against the same calls made directly with `aws-sdk-dynamodb`, in one run, against one
//! moto server on 127.0.0.1; plus the shipped binary's size, its idle memory, and spawn to registered.
//!
//! Run with `scripts/bench.sh` (which builds the static musl binary first) or
//! `cargo bench -p iomod-dynamodb --bench dynamodb`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::{COORDINATES, DynamoServer, Stack, TempDir};
use iomod::registry::{Registry, RegistryConfig};
use iomod_dynamodb::config::Settings;
use serde_json::{Value, json};

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this file without it, as a quick smoke
/// test of the benchmark (1 round of 5 calls, 2 spawns).
fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn rounds() -> usize {
    if full() { 9 } else { 1 }
}

fn calls() -> usize {
    if full() { 100 } else { 5 }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The item both paths write: 10 attributes, about 200 bytes.
fn item_json() -> Value {
    json!({
        "pk": { "s": "bench-item" },
        "title": { "s": "A benchmark item with a modest payload" },
        "count": { "n": "12345" },
        "price": { "n": "99.95" },
        "done": { "bool": false },
        "tags": { "ss": ["alpha", "beta", "gamma"] },
        "blob": { "b": [1, 2, 3, 4, 5, 6, 7, 8] },
        "owner": { "m": { "name": { "s": "Ann" }, "id": { "n": "7" } } },
        "history": { "l": [{ "n": "1" }, { "n": "2" }] },
        "note": { "null": true },
    })
}

fn item_sdk() -> std::collections::HashMap<String, AttributeValue> {
    use AttributeValue as A;
    std::collections::HashMap::from([
        ("pk".to_owned(), A::S("bench-item".into())),
        (
            "title".to_owned(),
            A::S("A benchmark item with a modest payload".into()),
        ),
        ("count".to_owned(), A::N("12345".into())),
        ("price".to_owned(), A::N("99.95".into())),
        ("done".to_owned(), A::Bool(false)),
        (
            "tags".to_owned(),
            A::Ss(vec!["alpha".into(), "beta".into(), "gamma".into()]),
        ),
        ("blob".to_owned(), A::B(vec![1, 2, 3, 4, 5, 6, 7, 8].into())),
        (
            "owner".to_owned(),
            A::M(std::collections::HashMap::from([
                ("name".to_owned(), A::S("Ann".into())),
                ("id".to_owned(), A::N("7".into())),
            ])),
        ),
        (
            "history".to_owned(),
            A::L(vec![A::N("1".into()), A::N("2".into())]),
        ),
        ("note".to_owned(), A::Null(true)),
    ])
}

/// Microseconds per call of `calls()` sequential direct SDK calls.
async fn direct(client: &aws_sdk_dynamodb::Client, put: bool) -> f64 {
    let start = Instant::now();
    for _ in 0..calls() {
        if put {
            client
                .put_item()
                .table_name("bench")
                .set_item(Some(item_sdk()))
                .send()
                .await
                .unwrap();
        } else {
            let out = client
                .get_item()
                .table_name("bench")
                .key("pk", AttributeValue::S("bench-item".into()))
                .send()
                .await
                .unwrap();
            assert!(out.item.is_some());
        }
    }
    start.elapsed().as_secs_f64() * 1e6 / calls() as f64
}

/// Microseconds per call of `calls()` sequential calls made by one run of the wasm function.
async fn through_iomod(stack: &Stack, put: bool) -> f64 {
    let call = if put {
        json!({ "method": "put_item", "input": { "table_name": "bench", "item": item_json() } })
    } else {
        json!({ "method": "get_item", "input": { "table_name": "bench", "key": { "pk": { "s": "bench-item" } } } })
    };
    let batch = Value::Array(vec![call; calls()]);
    let start = Instant::now();
    let answers = stack.run(&batch).await;
    let elapsed = start.elapsed();
    for answer in answers.as_array().unwrap() {
        assert!(answer.get("ok").is_some(), "{answer}");
    }
    if !put {
        assert_eq!(answers[0]["ok"]["item"], item_json());
    }
    elapsed.as_secs_f64() * 1e6 / calls() as f64
}

/// The binary that ships (static musl, `dist` profile) if `scripts/build-musl.sh` built it, else this
/// build's.
fn shipped_binary() -> (PathBuf, &'static str) {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let musl = here.join("../../target/x86_64-unknown-linux-musl/dist/iomod-dynamodb");
    if musl.is_file() {
        (musl, "static musl, dist profile")
    } else {
        (
            PathBuf::from(env!("CARGO_BIN_EXE_iomod-dynamodb")),
            "this build (glibc)",
        )
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Spawn to registered (ms) for `n` spawns, and the idle RSS (KiB) of each after 2 s, for the last few.
async fn spawns(binary: &Path, server: &DynamoServer, n: usize) -> (Vec<f64>, Vec<u64>) {
    let dir = TempDir::new("bench-spawn");
    let socket = dir.0.join("registry.sock");
    let registry = Registry::start(RegistryConfig::unix(&socket))
        .await
        .unwrap();
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for i in 0..n {
        let start = Instant::now();
        let child = common::IomodProcess::spawn(binary, &socket, server);
        registry
            .wait_ready(&[COORDINATES.parse().unwrap()], Duration::from_secs(10))
            .await
            .unwrap();
        times.push(start.elapsed().as_secs_f64() * 1e3);
        if i + 3 >= n {
            tokio::time::sleep(Duration::from_secs(2)).await;
            rss.push(rss_kib(child.0.id()));
        }
        drop(child);
        // Wait until the registry has seen it go, so the next spawn is timed from nothing.
        let deadline = Instant::now() + Duration::from_secs(5);
        while registry
            .list()
            .await
            .unwrap()
            .iter()
            .any(|s| s.info.coordinates.to_string() == COORDINATES)
        {
            assert!(
                Instant::now() < deadline,
                "the killed IOmod stays registered"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    (times, rss)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = DynamoServer::start();
    let lookup = server.aws_env();
    let settings = Settings::from_lookup(|name| {
        lookup
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let client = aws_sdk_dynamodb::Client::from_conf(settings.sdk_config().await.unwrap());
    client
        .create_table()
        .table_name("bench")
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let stack = Stack::start(&server, "dynamodb_json").await;

    // Warm-up: connections, the function's first instance, moto's caches.
    direct(&client, true).await;
    through_iomod(&stack, true).await;
    direct(&client, false).await;
    through_iomod(&stack, false).await;

    let mut rows: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("PutItem", Vec::new(), Vec::new()),
        ("GetItem", Vec::new(), Vec::new()),
    ];
    for round in 0..rounds() {
        eprintln!("round {}/{}", round + 1, rounds());
        for (name, direct_us, iomod_us) in &mut rows {
            let put = *name == "PutItem";
            // Alternate which path goes first, so drift in the server does not favour one.
            if round % 2 == 0 {
                direct_us.push(direct(&client, put).await);
                iomod_us.push(through_iomod(&stack, put).await);
            } else {
                iomod_us.push(through_iomod(&stack, put).await);
                direct_us.push(direct(&client, put).await);
            }
        }
    }

    if !full() {
        println!(
            "Smoke run (no --bench): 1 round of 5 calls in this build; `cargo bench` gives the figures."
        );
    }
    println!(
        "| operation | direct aws-sdk-dynamodb | wasm → host → registry → IOmod → server | ratio (target ≤ 1.10) |"
    );
    println!("|---|---|---|---|");
    for (name, direct_us, iomod_us) in &rows {
        let ratios: Vec<f64> = direct_us.iter().zip(iomod_us).map(|(d, i)| i / d).collect();
        println!(
            "| {name} | {:.0} µs | {:.0} µs | **{:.3}** (rounds: {:.3}–{:.3}) |",
            median(direct_us.clone()),
            median(iomod_us.clone()),
            median(ratios.clone()),
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
            ratios.iter().copied().fold(0.0, f64::max),
        );
    }
    println!();

    let (binary, kind) = shipped_binary();
    let size = std::fs::metadata(&binary).unwrap().len();
    // `SPAWNS=15 cargo test --workspace --bench dynamodb` times more spawns in the quick (debug) run.
    let n = std::env::var("SPAWNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full() { 15 } else { 2 });
    let (times, rss) = spawns(&binary, &server, n).await;
    println!(
        "Binary: {} ({kind}): {size} bytes ({:.1} MiB; target under 12 MB)",
        binary.display(),
        size as f64 / 1048576.0
    );
    println!(
        "Spawn to registered ({} spawns): median {:.1} ms (min {:.1}, max {:.1})",
        times.len(),
        median(times.clone()),
        times.iter().copied().fold(f64::INFINITY, f64::min),
        times.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "Idle RSS 2 s after registering: {:?} KiB (median {:.1} MiB; target under 15 MB)",
        rss,
        median(rss.iter().map(|&k| k as f64).collect()) / 1024.0
    );
    drop(stack);
}
