//! The baseline of the HTTP benchmark (`scripts/bench-http.sh`): the todo function's `get`, written as a
//! native Rust HTTP server (hyper, tokio's multi-threaded runtime) that calls DynamoDB directly with
//! `aws-sdk-dynamodb`, configured from the environment like the DynamoDB IOmod. It answers
//! `POST /functions/todo` with `{"action": "get", "id": ..}` exactly as the wasm function does.
//!
//! `cargo run --release -p iomod-dynamodb --example native_todo -- 127.0.0.1:8081`
#![allow(clippy::print_stdout)]

use std::convert::Infallible;

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    let settings = iomod_dynamodb::config::Settings::from_env()?;
    let client = aws_sdk_dynamodb::Client::from_conf(settings.sdk_config());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("native todo listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let client = client.clone();
                async move { Ok::<_, Infallible>(handle(&client, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    client: &aws_sdk_dynamodb::Client,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return answer(json!({ "error": format!("bad request: {e}") })),
    };
    let id = match serde_json::from_slice::<Value>(&body) {
        Ok(request) if request["action"] == "get" => {
            request["id"].as_str().unwrap_or("").to_owned()
        }
        _ => return answer(json!({ "error": "only get is served here" })),
    };
    let found = client
        .get_item()
        .table_name("todos")
        .key("id", AttributeValue::S(id.clone()))
        .consistent_read(true)
        .send()
        .await;
    answer(match found {
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
    })
}

fn answer(value: Value) -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from(value.to_string())))
}
