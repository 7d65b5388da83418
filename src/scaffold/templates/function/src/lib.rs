//! A wasm function: takes a JSON request, calls `{{coordinates}}.{{method}}` through the IOmod's generated
//! guest crate, and answers `{"ok": <the output>}` or `{"error": <why>}`.

use {{guest_lib}}::methods::{{method}};
use serde_json::json;

/// Runs one invocation: the input is the method's input as JSON. Public so native tests can call it.
pub async fn handler(input: Vec<u8>) -> Vec<u8> {
    let answer = match serde_json::from_slice::<{{method}}::Input>(&input) {
        Ok(input) => match {{guest_lib}}::{{method}}(input).await {
            Ok(output) => json!({ "ok": output }),
            Err(error) => json!({ "error": error }),
        },
        Err(e) => json!({ "error": format!("bad input: {e}") }),
    };
    serde_json::to_vec(&answer).unwrap_or_default()
}

iomod_sdk::function!(handler);
