//! Fuzzing of the generated readers: random and mutated bytes as a method's params or results must give a
//! typed error (or a value), never a panic, within bounded time and memory per input. Over every compiled
//! skeleton (the code generator's fixtures, keywords everywhere and recursion included, and the DynamoDB
//! IOmod's manifest), and the hand-written echo IOmod:
//!
//! - `generated_results`: a method's results as its generated guest crate reads them
//!   (`iomod_sdk::guest::read_message`, the results struct, `<Method>Error::read_outcome`), then written again;
//! - `generated_params`: a method's params through the skeleton's `Service::dispatch`, the path of every call
//!   a registry forwards (decoded with the limits of an IOmod's connection): an input that does not read is
//!   an `invalidInput` error;
//! - `generated_json`: a method's input as JSON through `Service::call_json` (`iomod call`);
//! - `echo_messages`: the echo IOmod's params as its server reads them and its results as a guest would.
//!
//! Inputs start with two selector bytes (skeleton, method); the rest is the message (or JSON text). Seeds
//! are valid encodings of each method's params and results; the Cap'n Proto mutator adds huge segment
//! counts, segment sizes claiming gigabytes, truncation, pointer loops, far pointers and huge list
//! lengths. Budget: `IOMOD_FUZZ_SECONDS` per target (runner: `iomod-codegen/tests/fuzz_support`).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../../../iomod-codegen/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fuzz_support::Bounds;
use iomod_sdk::ErrorCode;

/// One compiled skeleton.
struct Skeleton {
    module: &'static str,
    service: Arc<dyn iomod_sdk::Service>,
    methods: Vec<Method>,
}

/// One method of a skeleton.
struct Method {
    name: &'static str,
    /// Message bytes to whether the outcome was `Ok`.
    read_results: fn(&[u8]) -> capnp::Result<bool>,
    /// JSON of the input (the default value without serde) to params message bytes.
    params_seed: fn(&str) -> Option<Vec<u8>>,
    /// JSON of the output to results message bytes.
    results_seed: fn(&str) -> Option<Vec<u8>>,
}

include!(concat!(env!("OUT_DIR"), "/fuzz_readers.rs"));

/// The targets run one at a time, so that each input's heap growth is its own.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Per input: messages are small, reading one is fast.
const BOUNDS: Bounds = Bounds {
    time: Duration::from_secs(5),
    memory: 64 << 20,
    max_len: 64 * 1024,
};

/// JSON values of inputs and outputs with some depth, for the seeds (those that do not fit a method are
/// skipped).
const JSON_SEEDS: &[&str] = &[
    "{}",
    r#"{"table_name": "t", "item": {"a": {"s": "x"}, "b": {"m": {"c": {"l": [{"n": "1"}, {"bool": true}, {"null": true}]}}}, "d": {"ss": ["p", "q"]}, "e": {"b": [1, 2, 3]}, "f": {"bs": [[1], [2]]}}}"#,
    r#"{"table_name": "t", "key": {"id": {"s": "1"}}}"#,
    r#"{"item": {"id": {"s": "1"}, "n": {"ns": ["1", "2"]}}, "marker": {"present": null}}"#,
    r#"{"tree": {"label": "root", "left": {"label": "l", "left": {"label": "ll"}}, "right": {"label": "r"}}}"#,
    r#"{"labels": ["a", "b", "c"]}"#,
    r#"{"consumed": 1.5}"#,
    r#"{"id": "carol", "amount": 10}"#,
];

fn seeds(skeletons: &[Skeleton], results: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (s, skeleton) in skeletons.iter().enumerate() {
        for (m, method) in skeleton.methods.iter().enumerate() {
            for json in JSON_SEEDS {
                let seed = if results {
                    (method.results_seed)(json)
                } else {
                    (method.params_seed)(json)
                };
                if let Some(bytes) = seed {
                    out.push(framed(s, m, &bytes));
                }
            }
        }
    }
    out
}

fn framed(skeleton: usize, method: usize, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![skeleton as u8, method as u8];
    out.extend_from_slice(bytes);
    out
}

/// The skeleton and method an input selects, and its message.
fn select<'a>(
    skeletons: &'a [Skeleton],
    input: &'a [u8],
) -> Option<(&'a Skeleton, usize, &'a [u8])> {
    let [s, m, rest @ ..] = input else {
        return None;
    };
    let skeleton = &skeletons[usize::from(*s) % skeletons.len()];
    if skeleton.methods.is_empty() {
        return None;
    }
    Some((skeleton, usize::from(*m) % skeleton.methods.len(), rest))
}

/// Cap'n Proto-aware mutations of a framed input (selector bytes first): the segment table, pointers.
fn mutate_message(rng: &mut fastrand::Rng, input: &mut Vec<u8>) {
    if input.len() < 2 + 8 {
        return;
    }
    let message = &mut input[2..];
    let words = message.len() / 8;
    let put = |message: &mut [u8], at: usize, v: u32| {
        if at + 4 <= message.len() {
            message[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
    };
    let put64 = |message: &mut [u8], word: usize, v: u64| {
        if (word + 1) * 8 <= message.len() {
            message[word * 8..word * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
    };
    // Where segment 0 starts (the table is one word for one segment).
    let segments = u32::from_le_bytes(message[0..4].try_into().unwrap()).wrapping_add(1) as usize;
    let table_words = if segments <= 512 {
        (segments + 2) / 2
    } else {
        1
    };
    let first = table_words.min(words.saturating_sub(1));
    let word = first + rng.usize(..words.saturating_sub(first).max(1));
    match rng.u8(..9) {
        // Segment count: huge, at and past the 512 limit.
        0 => put(
            message,
            0,
            [0xffff_ffff, 511, 512, 1_000_000, 1][rng.usize(..5)],
        ),
        // A segment claiming gigabytes (or one word more than there is).
        1 => {
            let claim = [
                0x2000_0000,
                0x7fff_ffff,
                0xffff_ffff,
                (words as u32).wrapping_add(1),
            ];
            put(message, 4, claim[rng.usize(..claim.len())]);
        }
        // Truncation inside the table or a segment.
        2 => {
            let keep = 2 + rng.usize(..input.len() - 2);
            input.truncate(keep);
        }
        // A struct pointer to itself: a loop the reader follows to its nesting limit.
        3 => {
            let ptrs = u64::from(rng.u16(1..4));
            let data = u64::from(rng.u16(..2));
            put64(
                message,
                word,
                ((-1i64 as u64 & 0x3fff_ffff) << 2) | (data << 32) | (ptrs << 48),
            );
        }
        // A struct pointer backwards (to an enclosing struct).
        4 => {
            let back = rng.u32(1..=8) as u64;
            let offset = (0u64.wrapping_sub(back)) & 0x3fff_ffff;
            put64(
                message,
                word,
                (offset << 2) | (1u64 << 48) | (u64::from(rng.u16(..3)) << 32),
            );
        }
        // A far pointer to a random segment and offset, single or double landing pad.
        5 => {
            let segment = [0u64, 1, 2, 511, 0xffff_ffff][rng.usize(..5)];
            let offset = u64::from(rng.u32(..1 << 29));
            let double = u64::from(rng.bool());
            put64(
                message,
                word,
                2 | (double << 2) | (offset << 3) | (segment << 32),
            );
        }
        // A list pointer with a huge element count, any element size (composite included).
        6 => {
            let size = u64::from(rng.u8(..8));
            let count = [0x1fff_ffffu64, 0x1000_0000, 0xffff, 1_000_000][rng.usize(..4)];
            put64(
                message,
                word,
                1 | (u64::from(rng.u8(..4)) << 2) | (size << 32) | (count << 35),
            );
        }
        // An inline-composite tag claiming many zero-sized elements.
        7 => put64(message, word, 0x0fff_ffffu64 << 2),
        // A capability pointer (index random) where data is expected.
        _ => put64(message, word, 3 | (u64::from(rng.u32(..)) << 32)),
    }
}

#[test]
fn generated_results() {
    let skeletons = skeletons();
    let seeds = seeds(&skeletons, true);
    assert!(seeds.len() > skeletons.len(), "{} seeds", seeds.len());
    let _serial = serial();
    let (read, failed) = (Cell::new(0u64), Cell::new(0u64));
    let stats = fuzz_support::run_with(
        "generated_results",
        fuzz_support::budget(5.0),
        BOUNDS,
        seeds,
        |input| {
            let Some((skeleton, m, message)) = select(&skeletons, input) else {
                return;
            };
            // A typed error (`capnp::Error`) or a value; the outcome is written again.
            match (skeleton.methods[m].read_results)(message) {
                Ok(_) => read.set(read.get() + 1),
                Err(e) => {
                    let _ = e.to_string();
                    failed.set(failed.get() + 1);
                }
            }
        },
        mutate_message,
    );
    println!(
        "fuzz generated_results: {} read, {} typed errors",
        read.get(),
        failed.get()
    );
    fuzz_support::check("generated_results", &stats);
    assert!(read.get() > 0 && failed.get() > 0);
}

#[test]
fn generated_params() {
    let _serial = serial();
    let skeletons = skeletons();
    let seeds = seeds(&skeletons, false);
    assert!(seeds.len() > skeletons.len(), "{} seeds", seeds.len());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let calls = iomod_sdk::Calls::new(runtime.handle().clone());
    let (decoded, invalid) = (Cell::new(0u64), Cell::new(0u64));
    let stats = fuzz_support::run_with(
        "generated_params",
        fuzz_support::budget(5.0),
        BOUNDS,
        seeds,
        |input| {
            let Some((skeleton, m, mut message)) = select(&skeletons, input) else {
                return;
            };
            // As an IOmod's connection reads a call (the limits of `iomod_sdk::transport`).
            let mut options = capnp::message::ReaderOptions::new();
            options.traversal_limit_in_words(Some(message.len() / 8 * 4 + 1024));
            options.nesting_limit(iomod_sdk::NESTING_LIMIT + 8);
            let Ok(reader) = capnp::serialize::read_message(&mut message, options) else {
                invalid.set(invalid.get() + 1);
                return;
            };
            let Ok(params) = reader.get_root::<capnp::any_pointer::Reader<'_>>() else {
                invalid.set(invalid.get() + 1);
                return;
            };
            let dispatched = skeleton
                .service
                .clone()
                .dispatch(&calls, m as u16, params)
                .expect("generated skeletons dispatch");
            match runtime.block_on(dispatched) {
                // Decoded: the unimplemented method ran and failed, and its outcome is written.
                Ok(write) => {
                    let mut results = capnp::message::Builder::new_default();
                    write(results.init_root()).unwrap();
                    decoded.set(decoded.get() + 1);
                }
                Err(e) => {
                    let error = iomod_sdk::Error::from_exception(&e);
                    assert_eq!(
                        error.code,
                        ErrorCode::InvalidInput,
                        "{}.{}: {error:?}",
                        skeleton.module,
                        skeleton.methods[m].name
                    );
                    invalid.set(invalid.get() + 1);
                }
            }
        },
        mutate_message,
    );
    println!(
        "fuzz generated_params: {} decoded, {} rejected as invalid",
        decoded.get(),
        invalid.get()
    );
    fuzz_support::check("generated_params", &stats);
    assert!(decoded.get() > 0 && invalid.get() > 0);
}

#[test]
fn generated_json() {
    let _serial = serial();
    let skeletons = skeletons();
    let mut seeds = Vec::new();
    for (s, skeleton) in skeletons.iter().enumerate() {
        for m in 0..skeleton.methods.len() {
            for json in JSON_SEEDS {
                seeds.push(framed(s, m, json.as_bytes()));
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (decoded, invalid) = (Cell::new(0u64), Cell::new(0u64));
    let stats = fuzz_support::run_with(
        "generated_json",
        fuzz_support::budget(3.0),
        BOUNDS,
        seeds,
        |input| {
            let Some((skeleton, m, text)) = select(&skeletons, input) else {
                return;
            };
            let text = String::from_utf8_lossy(text).into_owned();
            let name = skeleton.methods[m].name.to_owned();
            // Skeletons generated without the JSON call path have none.
            let Some(call) = skeleton.service.clone().call_json(name, text) else {
                return;
            };
            match runtime.block_on(call) {
                Ok(_) => decoded.set(decoded.get() + 1),
                Err(error) if error.code == ErrorCode::InvalidInput => {
                    invalid.set(invalid.get() + 1)
                }
                // Decoded: the unimplemented method failed.
                Err(error) => {
                    assert_eq!(error.code, ErrorCode::Internal, "{error:?}");
                    decoded.set(decoded.get() + 1);
                }
            }
        },
        |rng, input| {
            const PIECES: &[&str] = &[
                "{",
                "}",
                "[",
                "]",
                "\"",
                ":",
                ",",
                "null",
                "true",
                "1e999",
                "-0",
                "\\u0000",
                "\\ud800",
                "{\"m\":",
                "{\"l\":[",
                "18446744073709551616",
                "\"s\"",
            ];
            let piece = PIECES[rng.usize(..PIECES.len())];
            let at = 2.min(input.len()) + rng.usize(..=input.len().saturating_sub(2));
            let at = at.min(input.len());
            if rng.u8(..8) == 0 {
                // Deep nesting.
                let depth = rng.usize(1..4000);
                let deep = "{\"m\":{\"a\":".repeat(depth);
                input.splice(at..at, deep.into_bytes());
            } else {
                input.splice(at..at, piece.bytes());
            }
        },
    );
    println!(
        "fuzz generated_json: {} decoded, {} rejected as invalid",
        decoded.get(),
        invalid.get()
    );
    fuzz_support::check("generated_json", &stats);
    assert!(decoded.get() > 0 && invalid.get() > 0);
}

#[test]
fn echo_messages() {
    let _serial = serial();
    use iomod_echo::echo_capnp::{echo, echo_result, reverse_result};
    // Seeds: valid params and results of `echo` and `reverse`.
    let mut seeds = Vec::new();
    for selector in 0u8..4 {
        let mut message = capnp::message::Builder::new_default();
        match selector {
            0 => {
                let mut p = message.init_root::<echo::echo_params::Builder<'_>>();
                p.set_payload(b"hello");
                p.set_fail_with("");
            }
            1 => {
                let mut p = message.init_root::<echo::reverse_params::Builder<'_>>();
                p.set_text("hello");
            }
            2 => {
                let r = message.init_root::<echo::echo_results::Builder<'_>>();
                r.init_result().set_ok(b"hello");
            }
            _ => {
                let r = message.init_root::<echo::reverse_results::Builder<'_>>();
                iomod_sdk::Error::new(ErrorCode::Internal, "no").write(r.init_result().init_err());
            }
        }
        seeds.push(framed(
            usize::from(selector),
            0,
            &capnp::serialize::write_message_to_words(&message),
        ));
    }
    let stats = fuzz_support::run_with(
        "echo_messages",
        fuzz_support::budget(2.0),
        BOUNDS,
        seeds,
        |input| {
            let [selector, _, message @ ..] = input else {
                return;
            };
            let read = || -> capnp::Result<()> {
                let reader = iomod_sdk::guest::read_message(message)?;
                match selector % 4 {
                    // As `EchoServer` reads its params.
                    0 => {
                        let p = reader.get_root::<echo::echo_params::Reader<'_>>()?;
                        let _ = (p.get_payload()?.to_vec(), p.get_delay_ms(), p.get_panic());
                        let _ = p.get_fail_with()?.to_string()?;
                    }
                    1 => {
                        let p = reader.get_root::<echo::reverse_params::Reader<'_>>()?;
                        let _ = p.get_text()?.to_string()?;
                    }
                    // As a guest reads its results.
                    2 => {
                        let r = reader.get_root::<echo::echo_results::Reader<'_>>()?;
                        match r.get_result()?.which()? {
                            echo_result::Ok(data) => drop(data?.to_vec()),
                            echo_result::Err(error) => drop(iomod_sdk::Error::read(error?)),
                        }
                    }
                    _ => {
                        let r = reader.get_root::<echo::reverse_results::Reader<'_>>()?;
                        match r.get_result()?.which()? {
                            reverse_result::Ok(text) => drop(text?.to_string()?),
                            reverse_result::Err(error) => drop(iomod_sdk::Error::read(error?)),
                        }
                    }
                }
                Ok(())
            };
            if let Err(e) = read() {
                let _ = e.to_string();
            }
        },
        mutate_message,
    );
    fuzz_support::check("echo_messages", &stats);
}
