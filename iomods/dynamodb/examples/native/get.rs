//! The todo function's `get`, natively: GetItem with `aws-sdk-dynamodb`, answered as the wasm function
//! answers. Shared by the native baselines of the benchmarks (`native_todo`, `native_lambda`).

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

/// Answers a todo request (only `{"action": "get", "id": ..}` is served) like the todo function.
pub async fn todo_get(client: &aws_sdk_dynamodb::Client, request: &Value) -> Value {
    let id = match request {
        request if request["action"] == "get" => request["id"].as_str().unwrap_or("").to_owned(),
        _ => return json!({ "error": "only get is served here" }),
    };
    let found = client
        .get_item()
        .table_name("todos")
        .key("id", AttributeValue::S(id.clone()))
        .consistent_read(true)
        .send()
        .await;
    match found {
        Ok(output) => match output.item() {
            Some(item) => {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                json!({ "ok": {
                    "done": matches!(item.get("done"), Some(AttributeValue::Bool(true))),
                    "id": text("id"),
                    "title": text("title"),
                }})
            }
            None => json!({ "error": format!("no todo {id}") }),
        },
        Err(e) => json!({ "error": e.to_string() }),
    }
}
