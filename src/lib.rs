//! The iomod runtime: the registry IOmods register with, and the `iomod` command-line tool.
//!
//! ```no_run
//! use std::time::Duration;
//! use iomod::registry::{Registry, RegistryConfig};
//!
//! # async fn demo() -> Result<(), iomod_sdk::Error> {
//! let registry = Registry::start(RegistryConfig::unix("/tmp/iomod-demo/registry.sock")).await?;
//! // Start IOmod processes with IOMOD_REGISTRY=/tmp/iomod-demo/registry.sock, then:
//! registry.wait_ready(&["example.test.echo".parse().unwrap()], Duration::from_secs(5)).await?;
//! for iomod in registry.list().await? {
//!     println!("{} {}", iomod.info.coordinates, iomod.info.version);
//! }
//! registry.shutdown();
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod function;
pub mod host;
pub mod lambda;
pub mod package;
pub mod registry;
pub mod scaffold;
pub mod serve;
pub mod supervisor;
pub mod trace;
pub mod trigger;
