//! The reference DynamoDB IOmod (`example.aws.dynamodb`): its generated skeleton, and the conversions
//! between the generated types and the official AWS SDK's.

pub mod convert;

/// Generated from `iomod.toml` by the build script.
pub mod generated {
    iomod_sdk::include_host!("dynamodb");
}

pub use generated::dynamodb;
