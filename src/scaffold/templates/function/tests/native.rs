//! The function, natively: the guest crate calls an implementation installed in the test instead of the
//! IOmod, so no wasm, host or IOmod process is needed. `cargo test`.

use {{guest_lib}}::methods::{{method}};
use {{guest_lib}}::native;
use iomod_sdk::guest::block_on;
use serde_json::{Value, json};

fn run(input: Value) -> Value {
    let output = block_on({{lib}}::handler(input.to_string().into_bytes()));
    serde_json::from_slice(&output).expect("the function answers JSON")
}

/// Stands in for the IOmod: answers as the tests need. Methods left out answer "not implemented".
struct StandIn;

impl native::Iomod for StandIn {
    async fn {{method}}(&self, input: {{method}}::Input) -> Result<{{method}}::Output, {{method}}::Error> {
{{stand_in_body}}
    }
}

{{ok_test}}#[test]
fn a_failed_call_is_reported() {
    native::on_{{method}}(|_| async {
        Err({{method}}::Error::Failed(iomod_sdk::Error::new(
            iomod_sdk::ErrorCode::Unavailable,
            "the IOmod is not there",
        )))
    });
    let answer = run(json!({{sample_input}}));
    assert!(answer["error"].to_string().contains("unavailable"), "{answer}");
}

#[test]
fn bad_input_is_reported() {
    native::install(StandIn);
    let answer = run(json!(["not", "the", "input"]));
    assert!(answer["error"].as_str().is_some_and(|e| e.starts_with("bad input")), "{answer}");
}
