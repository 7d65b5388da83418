//! The baseline of the HTTP benchmark (`scripts/bench-http.sh`): the todo function's `get`, written as a
//! native Rust HTTP server (hyper, tokio's multi-threaded runtime) that calls DynamoDB directly with
//! `aws-sdk-dynamodb`, configured from the environment like the DynamoDB IOmod. It answers
//! `POST /functions/todo` with `{"action": "get", "id": ..}` exactly as the wasm function does.
//!
//! `cargo run --release -p iomod-dynamodb --example native_todo -- 127.0.0.1:8081`
#![allow(clippy::print_stdout)]

#[path = "native/get.rs"]
mod get;

use std::convert::Infallible;

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
    let client = aws_sdk_dynamodb::Client::from_conf(settings.sdk_config().await?);
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
    answer(match serde_json::from_slice::<Value>(&body) {
        Ok(request) => get::todo_get(client, &request).await,
        Err(e) => json!({ "error": format!("bad request: {e}") }),
    })
}

fn answer(value: Value) -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from(value.to_string())))
}
