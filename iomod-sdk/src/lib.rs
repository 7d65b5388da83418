//! The iomod SDK: build IO modules (IOmods) for the iomod runtime.
//!
//! An IOmod is a process that gives sandboxed WebAssembly functions access to the outside world. It serves
//! a typed Cap'n Proto interface and registers it with the runtime's registry at startup; the registry then
//! forwards calls from functions to it. This crate is what an IOmod links:
//!
//! - [`serve`] / [`serve_with`]: connect to the registry named by `IOMOD_REGISTRY` (a Unix socket path, or
//!   `tcp://host:port` with `IOMOD_REGISTRY_TOKEN`), register, answer calls concurrently, reconnect with
//!   backoff when the registry goes away, and on SIGTERM stop accepting calls, finish those in flight and
//!   return. [`serve_local`] / [`serve_local_with`] do the same with everything on the calling thread
//!   (for IOmods whose calls mostly wait on the network).
//! - [`Service`]: what an IOmod is (its [`IomodInfo`] and its capability); generated skeletons implement it.
//! - [`Calls::run`]: runs a method body, an ordinary `Send` future, on the author's multi-threaded runtime,
//!   while the single-threaded Cap'n Proto RPC system stays on its own thread.
//! - [`Error`] and [`ErrorCode`]: the typed errors of the protocol.
//!
//! # Example
//!
//! A hand-written IOmod serving an interface `Greeter { greet @0 (name :Text) -> (greeting :Text); }`,
//! compiled by the IOmod's build script (see `iomods/echo` in the repository for the complete crate):
//!
//! ```
//! use std::rc::Rc;
//! use std::sync::Arc;
//! use iomod_sdk::{Calls, IomodInfo, MethodInfo, Service};
//! # mod greeter_capnp { pub mod greeter {
//! #   pub struct Client { pub client: capnp::capability::Client }
//! #   pub trait Server { }
//! #   pub const TYPE_ID: u64 = 0xb1c0_0000_0000_0001;
//! # } }
//! # fn new_greeter_client(_calls: Calls) -> capnp::capability::Client { unimplemented!() }
//!
//! struct Greeter;
//!
//! impl Service for Greeter {
//!     fn info(&self) -> IomodInfo {
//!         IomodInfo::new("example.demo.greeter".parse().unwrap(), "1.0.0", greeter_capnp::greeter::TYPE_ID)
//!             .method(MethodInfo::new("greet", 0).doc("Greets someone."))
//!     }
//!
//!     fn capability(self: Arc<Self>, calls: Calls) -> capnp::capability::Client {
//!         // `capnp_rpc::new_client::<greeter::Client, _>(GreeterServer { calls }).client`, where
//!         // `GreeterServer::greet` reads its params and awaits `calls.run(async move { .. })`.
//!         new_greeter_client(calls)
//!     }
//! }
//!
//! # fn main() {}
//! # async fn real_main() -> Result<(), iomod_sdk::Error> {
//! // In `#[tokio::main] async fn main()`:
//! iomod_sdk::serve(Greeter).await
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

/// The runtime protocol: capnpc-rust's code for `schemas/iomod.capnp`, checked in (the SDK has no build
/// script) and verified against the schema by the repository's tests.
#[allow(
    clippy::all,
    clippy::unwrap_used,
    missing_debug_implementations,
    missing_docs,
    rust_2018_idioms,
    unused
)]
#[rustfmt::skip]
pub mod iomod_capnp;

#[cfg(not(target_arch = "wasm32"))]
mod context;
#[cfg(not(target_arch = "wasm32"))]
pub mod contract;
mod coordinates;
mod error;
pub mod guest;
mod info;
#[cfg(not(target_arch = "wasm32"))]
pub mod logging;
#[cfg(not(target_arch = "wasm32"))]
mod serve;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
#[cfg(not(target_arch = "wasm32"))]
pub mod transport;

/// What generated host skeletons use, so an IOmod crate needs no dependencies of its own for them. Not
/// part of the SDK's API.
#[doc(hidden)]
#[cfg(not(target_arch = "wasm32"))]
pub mod __private {
    pub use serde;
    pub use serde_json;
}

#[cfg(not(target_arch = "wasm32"))]
pub use capnp_rpc;
#[cfg(not(target_arch = "wasm32"))]
pub use context::{BadTraceParent, CallContext, TraceParent, deadline_after};
pub use coordinates::{
    Coordinates, MAX_IDENTIFIER_LEN, MethodPath, ParseError, check_method_name, check_version,
    parse_version,
};
pub use error::{Error, ErrorCode};
pub use info::{IomodInfo, MAX_INFO_TEXT_BYTES, MAX_METHODS, MethodInfo};
#[cfg(not(target_arch = "wasm32"))]
pub use serve::{
    Calls, Dispatched, JsonCall, ServeOptions, Service, WriteResults, serve, serve_local,
    serve_local_with, serve_with, shutdown_signal, unknown_method,
};

/// The version of the registration protocol this SDK speaks (`protocolVersion` in `schemas/iomod.capnp`).
pub const PROTOCOL_VERSION: u32 = iomod_capnp::PROTOCOL_VERSION;

/// The text of `schemas/iomod.capnp`, the protocol schema that generated IOmod schemas import as
/// `/iomod.capnp` (the crate carries a copy in `schema/iomod.capnp`).
pub const PROTOCOL_SCHEMA: &str = include_str!("../schema/iomod.capnp");

/// This SDK's version, sent at registration.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How deeply pointers may nest in messages the runtime and IOmods read (Cap'n Proto's default is 64). A
/// DynamoDB document may nest 32 levels, and each map level costs three pointer levels.
pub const NESTING_LIMIT: i32 = 128;

/// The default limit on a call's input and output, in bytes (16 MiB).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Includes the host skeleton a build script generated with `iomod_codegen::configure()` into the current
/// module: `iomod_sdk::include_host!("dynamodb");` defines `dynamodb_capnp` and `dynamodb`.
#[macro_export]
macro_rules! include_host {
    ($module:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $module, ".rs"));
    };
}
