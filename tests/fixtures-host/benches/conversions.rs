//! Encode plus decode of a 100-attribute DynamoDB-like item through the generated Cap'n Proto conversions,
//! against serde_json of the same value, in one run. Run: `cargo bench -p iomod-fixtures-host --bench
//! conversions`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use iomod_fixtures_host::fixture_recursive::documents::{AttributeValue, PutItemInput};
use iomod_fixtures_host::fixture_recursive::documents_capnp as wire;

const SAMPLES: usize = 31;
const PER_SAMPLE: usize = 500;

/// An item like an application stores: strings, numbers, binary, flags, sets, a nested map and a list.
fn item() -> BTreeMap<String, AttributeValue> {
    let mut item = BTreeMap::new();
    for i in 0..100 {
        let value = match i % 10 {
            0 => AttributeValue::S(format!("customer-{i:05}@example.com")),
            1 => AttributeValue::N(format!("{}", i * 7919)),
            2 => AttributeValue::B((0..32).map(|b| (b * i) as u8).collect()),
            3 => AttributeValue::Bool(i % 4 == 3),
            4 => AttributeValue::Null(true),
            5 => AttributeValue::Ss(vec!["red".into(), "green".into(), format!("tag-{i}")]),
            6 => AttributeValue::Ns(vec!["1".into(), "2.5".into(), format!("{i}")]),
            7 => AttributeValue::M(BTreeMap::from([
                ("street".into(), AttributeValue::S("1 Main St".into())),
                ("zip".into(), AttributeValue::N("12345".into())),
            ])),
            8 => AttributeValue::L(vec![
                AttributeValue::S("a".into()),
                AttributeValue::N("1".into()),
            ]),
            _ => {
                AttributeValue::S("lorem ipsum dolor sit amet, consectetur adipiscing elit".into())
            }
        };
        item.insert(format!("attribute_{i:03}"), value);
    }
    item
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1e6 / PER_SAMPLE as f64
}

fn measure(mut round_trip: impl FnMut()) -> f64 {
    for _ in 0..PER_SAMPLE {
        round_trip();
    }
    let samples = (0..SAMPLES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..PER_SAMPLE {
                round_trip();
            }
            t.elapsed()
        })
        .collect();
    median(samples)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let value = PutItemInput {
        table_name: "customers".into(),
        item: item(),
    };
    let capnp_bytes = {
        let mut m = capnp::message::Builder::new_default();
        value
            .write_to(m.init_root::<wire::put_item_input::Builder<'_>>())
            .unwrap();
        capnp::serialize::write_message_to_words(&m)
    };
    let json_bytes = serde_json::to_vec(&value).unwrap();
    let capnp_us = measure(|| {
        let mut m = capnp::message::Builder::new_default();
        value
            .write_to(m.init_root::<wire::put_item_input::Builder<'_>>())
            .unwrap();
        let bytes = capnp::serialize::write_message_to_words(&m);
        let reader =
            capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default())
                .unwrap();
        let back = PutItemInput::read_from(reader.get_root().unwrap()).unwrap();
        assert_eq!(back.item.len(), 100);
    });
    let json_us = measure(|| {
        let bytes = serde_json::to_vec(&value).unwrap();
        let back: PutItemInput = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.item.len(), 100);
    });
    println!("100-attribute item, encode + decode (median of {SAMPLES} samples of {PER_SAMPLE}):");
    println!("| format | payload | encode + decode | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| generated Cap'n Proto conversions | {} B | {capnp_us:.1} µs | {:.2} |",
        capnp_bytes.len(),
        capnp_us / json_us
    );
    println!(
        "| serde_json | {} B | {json_us:.1} µs | baseline |",
        json_bytes.len()
    );
}
