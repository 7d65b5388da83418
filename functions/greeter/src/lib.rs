//! Greets through the `example.demo.greeter` IOmod, an IOmod written in Python
//! (`examples/python-iomod`), with its generated guest crate: the function does not know, nor need to
//! know, what language serves the calls.
//!
//! The input is the `greet` method's input as JSON (`{"name": "Ada", "style": "shout"}`). The function
//! greets, then asks for the greeter's counters, and answers
//! `{"ok": {"greeting": .., "count": ..}, "stats": {"greeted": .., "blocked": ..}}`, or
//! `{"error": {"Blocked": {"name": .., "reason": ..}}}` for the method's named error, or
//! `{"error": {"Failed": {"code": .., "message": ..}}}` for any other failure (`invalidInput` for an empty
//! name).

use greeter_guest as greeter;
use serde_json::{Value, json};

async fn handler(input: Vec<u8>) -> Vec<u8> {
    let answer = match serde_json::from_slice::<greeter::GreetInput>(&input) {
        Ok(request) => greet(request).await,
        Err(e) => json!({ "error": format!("bad request: {e}") }),
    };
    serde_json::to_vec(&answer).unwrap_or_default()
}

async fn greet(request: greeter::GreetInput) -> Value {
    let greeted = match greeter::greet(request).await {
        Ok(output) => output,
        Err(error) => return json!({ "error": error }),
    };
    match greeter::stats(greeter::StatsInput {}).await {
        Ok(stats) => json!({ "ok": greeted, "stats": stats }),
        Err(error) => json!({ "error": error }),
    }
}

iomod_sdk::function!(handler);
