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
        "typed" => typed(&input).await,
        #[cfg(feature = "v2")]
        "ping" => call(guest::ping, input).await,
        other => json!({ "bad": format!("no method `{other}` in this build") }),
    };
    answer.to_string().into_bytes()
}

/// Typed code as a function author writes it against v1's crate: struct literals ending in
/// `..Default::default()`, and matches with the `_` arm the generated enums ask for. Built unchanged against
/// v2's crate too, it shows that v2's additions (an input field, a union variant, an enum value, a named
/// error) break no code that compiled against v1.
async fn typed(input: &Value) -> Value {
    let id = input["id"].as_str().unwrap_or_default().to_owned();
    let got = match guest::get(guest::methods::get::Input {
        id,
        ..Default::default()
    })
    .await
    {
        Ok(item) => json!({ "count": item.count }),
        Err(guest::GetError::NotFound(missing)) => json!({ "not_found": missing.id }),
        Err(guest::GetError::Failed(error)) => json!({ "failed": error.code.as_str() }),
        Err(_) => json!({ "other_error": true }),
    };
    let painted = guest::paint(guest::methods::paint::Input {
        shape: guest::Shape::Circle(2.0),
        color: guest::Color::Green,
        ..Default::default()
    })
    .await;
    let painted = match painted {
        Ok(output) => {
            let shape = match output.shape {
                guest::Shape::Circle(radius) => json!({ "circle": radius }),
                guest::Shape::None | guest::Shape::Dot => json!("no radius"),
                _ => json!("a shape this source does not know"),
            };
            let color = match output.color {
                guest::Color::Red => "red",
                guest::Color::Green => "green",
                _ => "a color this source does not know",
            };
            json!({ "shape": shape, "color": color })
        }
        Err(error) => json!({ "failed": error.to_string() }),
    };
    json!({ "ok": { "get": got, "paint": painted } })
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
