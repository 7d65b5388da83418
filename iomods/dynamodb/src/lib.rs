//! The reference DynamoDB IOmod (`example.aws.dynamodb`): Amazon DynamoDB for wasm functions, through the
//! official AWS SDK for Rust.
//!
//! - [`generated`]: the skeleton the build script generates from `iomod.toml` (types, the `Dynamodb` trait,
//!   the Cap'n Proto server, the registration info).
//! - [`service`]: the trait implemented with `aws-sdk-dynamodb`.
//! - [`convert`] and [`error`]: generated types ⇄ SDK types, AWS errors → typed errors.
//! - [`backups`], [`exports`] and [`replicas`]: backups, restores and point-in-time recovery; exports to
//!   and imports from S3; global tables and replica auto scaling.
//! - [`config`]: region, endpoint and credentials, found the way AWS tools find them.
//! - [`retry`]: which failed requests are sent again (writes only when DynamoDB did not apply them).
//!
//! The binary `iomod-dynamodb` serves it; [`serve`] is the same thing as a function.

pub mod backups;
pub mod config;
pub mod convert;
pub mod error;
pub mod exports;
pub mod replicas;
pub mod retry;
pub mod service;

/// Generated from `iomod.toml` by the build script.
pub mod generated {
    iomod_sdk::include_host!("dynamodb");
}

pub use generated::dynamodb;
pub use service::DynamoDb;

/// Registers with the registry named by `IOMOD_REGISTRY` and serves until SIGTERM, with the SDK configured
/// from the environment ([`config::Settings::from_env`]). Everything runs on the calling thread
/// ([`iomod_sdk::serve_local`]): call it from a current-thread runtime.
pub async fn serve() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let settings = config::Settings::from_env()?;
    let client = aws_sdk_dynamodb::Client::from_conf(settings.sdk_config().await?);
    iomod_sdk::serve_local(dynamodb::service(DynamoDb::new(client))).await?;
    Ok(())
}
