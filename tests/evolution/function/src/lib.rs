//! A wasm function calling the evolving IOmod through a generated guest crate (`evolving_guest`, of v1, or of
//! v2 with the `v2` feature). Its input is `{"method": NAME, "input": JSON}`; its output is `{"ok": OUTPUT}`,
//! `{"err": ERROR}` (the method's typed error as JSON) or `{"bad": WHY}`.

use evolving_guest as guest;
use serde_json::{Value, json};

async fn handler(input: Vec<u8>) -> Vec<u8> {
    let request: Value = serde_json::from_slice(&input).unwrap_or_default();
    let input = request["input"].clone();
    let answer = match request["method"].as_str().unwrap_or_default() {
        "get" => call(guest::get, input).await,
        "paint" => call(guest::paint, input).await,
        "label" => call(guest::label, input).await,
        #[cfg(feature = "v2")]
        "ping" => call(guest::ping, input).await,
        other => json!({ "bad": format!("no method `{other}` in this build") }),
    };
    answer.to_string().into_bytes()
}

async fn call<I, O, E, F>(method: impl FnOnce(I) -> F, input: Value) -> Value
where
    I: serde::de::DeserializeOwned,
    O: serde::Serialize,
    E: serde::Serialize,
    F: std::future::Future<Output = Result<O, E>>,
{
    match serde_json::from_value::<I>(input) {
        Ok(input) => match method(input).await {
            Ok(output) => json!({ "ok": output }),
            Err(error) => json!({ "err": error }),
        },
        Err(e) => json!({ "bad": e.to_string() }),
    }
}

iomod_sdk::function!(handler);
