//! Generating every output for a 50-method manifest, the in-process Cap'n Proto compile included.
//! Run: `cargo bench -p iomod-codegen --bench generate`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::fmt::Write;
use std::time::{Duration, Instant};

use iomod_codegen::{Manifest, Options, generate};

/// A DynamoDB-like manifest: the recursive AttributeValue, a few shared types and `methods` methods, each
/// with its own input, output and an error.
fn manifest(methods: usize) -> String {
    let mut text = String::from(
        r#"[iomod]
coordinates = "example.bench.store"
version = "1.0.0"

[types.AttributeValue]
union.s = "string"
union.n = "string"
union.b = "bytes"
union.ss = "list<string>"
union.ns = "list<string>"
union.bs = "list<bytes>"
union.m = "map<string, AttributeValue>"
union.l = "list<AttributeValue>"
union.null = "bool"
union.bool = "bool"

[types.ReturnValue]
enum = ["none", "all_old", "updated_old", "all_new", "updated_new"]

[types.Capacity]
fields.table_name = "string"
fields.units = "f64"
fields.read_units = "option<f64>"
fields.write_units = "option<f64>"

[errors.ConditionalCheckFailed]
fields.message = "string"
fields.item = "option<map<string, AttributeValue>>"
"#,
    );
    for i in 0..methods {
        let _ = write!(
            text,
            r#"
[methods.operation_{i}]
doc = "Operation number {i}."
input = {{ table_name = "string", key = "map<string, AttributeValue>", condition = "option<string>", names = "option<map<string, string>>", values = "option<map<string, AttributeValue>>", return_values = "option<ReturnValue>", limit = "option<u32>" }}
output = {{ attributes = "option<map<string, AttributeValue>>", items = "list<map<string, AttributeValue>>", capacity = "option<Capacity>", count = "u32" }}
errors = ["ConditionalCheckFailed"]
"#
        );
    }
    text
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let text = manifest(50);
    let run = || {
        let m = Manifest::parse("store.toml", &text).unwrap();
        generate(&m, &Options::default()).unwrap()
    };
    let files = run();
    let bytes: usize = files.values().map(String::len).sum();
    let mut samples: Vec<Duration> = (0..11)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed()
        })
        .collect();
    samples.sort_unstable();
    println!(
        "50-method manifest: parse + validate + generate {} files ({} KiB), Cap'n Proto compile included: median {:.0} ms (min {:.0} ms, max {:.0} ms, 11 runs; target < 1000 ms)",
        files.len(),
        bytes / 1024,
        samples[5].as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        samples[10].as_secs_f64() * 1e3
    );
}
