//! The baseline of the Lambda benchmark (`scripts/bench-lambda.sh`): the todo function's `get` as a native
//! Rust Lambda function on the official `lambda_runtime` crate, calling DynamoDB directly with
//! `aws-sdk-dynamodb` (configured from the environment like the DynamoDB IOmod). It answers
//! `{"action": "get", "id": ..}` events exactly as the todo function does on the iomod runtime.
//!
//! `cargo build --profile dist --target x86_64-unknown-linux-musl -p iomod-dynamodb --example native_lambda`

#[path = "native/get.rs"]
mod get;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let settings = iomod_dynamodb::config::Settings::from_env()?;
    let client = aws_sdk_dynamodb::Client::from_conf(settings.sdk_config().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let client = client.clone();
        async move { Ok::<Value, Error>(get::todo_get(&client, &event.payload).await) }
    }))
    .await
}
