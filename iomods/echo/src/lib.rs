//! A hand-written echo IOmod, `example.test.echo`: the worked example of the SDK and the test IOmod of the
//! runtime.
//!
//! It shows the three pieces every IOmod has (and that the code generator will write for manifest-described
//! IOmods): plain `Send` method bodies ([`echo`], [`reverse`]), a Cap'n Proto server that converts between
//! the wire and those bodies and runs them through [`Calls::run`], and a [`Service`] that tells the registry
//! who the IOmod is.
//!
//! ```no_run
//! // src/main.rs of an IOmod binary:
//! #[tokio::main]
//! async fn main() -> Result<(), iomod_sdk::Error> {
//!     iomod_sdk::logging::init();
//!     iomod_sdk::serve(iomod_echo::EchoService).await
//! }
//! ```

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use capnp::traits::HasTypeId;
use iomod_sdk::{Calls, Error, IomodInfo, MethodInfo, Service};

pub mod echo_capnp {
    //! Generated from `echo.capnp`.
    #![allow(
        clippy::all,
        clippy::unwrap_used,
        missing_debug_implementations,
        rust_2018_idioms,
        unused
    )]
    include!(concat!(env!("OUT_DIR"), "/echo_capnp.rs"));
}

use echo_capnp::echo;

/// The echo IOmod's coordinates.
pub const COORDINATES: &str = "example.test.echo";

/// Echoes `payload` after `delay_ms`; fails with the method error `fail_with` when it is not empty.
pub async fn echo(
    payload: Vec<u8>,
    delay_ms: u32,
    fail_with: String,
    panic: bool,
) -> Result<Vec<u8>, Error> {
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(u64::from(delay_ms))).await;
    }
    if panic {
        panic!("asked to panic");
    }
    if !fail_with.is_empty() {
        return Err(Error::method(fail_with, "failed on request", Vec::new()));
    }
    Ok(payload)
}

/// Reverses `text` by characters.
pub async fn reverse(text: String) -> Result<String, Error> {
    Ok(text.chars().rev().collect())
}

/// The call's context as a method body sees it: the microseconds left before the caller's deadline (0
/// without one) and the caller's traceparent (empty without one).
pub async fn context() -> (u64, String) {
    let context = iomod_sdk::CallContext::current().unwrap_or_default();
    let micros = context.remaining().map_or(0, |left| {
        u64::try_from(left.as_micros()).unwrap_or(u64::MAX)
    });
    let traceparent = context
        .traceparent
        .map(|t| t.to_string())
        .unwrap_or_default();
    (micros, traceparent)
}

/// The echo IOmod as a [`Service`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoService;

impl Service for EchoService {
    fn info(&self) -> IomodInfo {
        let coordinates = COORDINATES
            .parse()
            .unwrap_or_else(|_| unreachable!("COORDINATES is valid"));
        IomodInfo::new(
            coordinates,
            env!("CARGO_PKG_VERSION"),
            <echo::Client as HasTypeId>::TYPE_ID,
        )
        .method(MethodInfo::new("echo", 0).doc("Returns the payload, optionally after a delay."))
        .method(MethodInfo::new("reverse", 1).doc("Returns the text reversed."))
        .method(MethodInfo::new("context", 2).doc("Returns the call's deadline and trace context."))
    }

    fn capability(self: Arc<Self>, calls: Calls) -> capnp::capability::Client {
        capnp_rpc::new_client::<echo::Client, _>(EchoServer { calls: Some(calls) }).client
    }
}

/// The echo IOmod taking JSON calls as well (`iomod-echo --json`): `Registry.callJson` and `iomod call`
/// reach it, so a client with no wasm host (a load generator, a shell) can drive it through a registry.
///
/// - `echo` takes `{"payload": [bytes], "delay_ms": n, "fail_with": "name"}` (all optional) and answers
///   the payload as an array of bytes, or the method error `fail_with` (its detail is JSON `null`);
/// - `reverse` takes `{"text": "..."}` and answers the text reversed, as a JSON string;
/// - `context` takes `{}` and answers `{"timeout_micros": n, "traceparent": ".."}`.
///
/// [`EchoService`] takes no JSON calls: the runtime's tests use it to check what such an IOmod answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonEchoService;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoJson {
    #[serde(default)]
    payload: Vec<u8>,
    #[serde(default)]
    delay_ms: u32,
    #[serde(default)]
    fail_with: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReverseJson {
    text: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextJson {}

fn from_json<T: serde::de::DeserializeOwned>(input: &str) -> Result<T, Error> {
    serde_json::from_str(input).map_err(|e| {
        Error::new(
            iomod_sdk::ErrorCode::InvalidInput,
            format!("the input does not fit the method: {e}"),
        )
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| {
        Error::new(
            iomod_sdk::ErrorCode::Internal,
            format!("cannot write the output as JSON: {e}"),
        )
    })
}

async fn call_json(method: &str, input: &str) -> Result<String, Error> {
    match method {
        "echo" => {
            let EchoJson {
                payload,
                delay_ms,
                fail_with,
            } = from_json(input)?;
            match echo(payload, delay_ms, fail_with, false).await {
                Ok(payload) => to_json(&payload),
                Err(mut err) => {
                    err.detail = b"null".to_vec();
                    Err(err)
                }
            }
        }
        "reverse" => {
            let ReverseJson { text } = from_json(input)?;
            to_json(&reverse(text).await?)
        }
        "context" => {
            let ContextJson {} = from_json(input)?;
            let (timeout_micros, traceparent) = context().await;
            to_json(&serde_json::json!({
                "timeout_micros": timeout_micros,
                "traceparent": traceparent,
            }))
        }
        other => Err(Error::new(
            iomod_sdk::ErrorCode::MethodNotFound,
            format!("`{COORDINATES}` has no method `{other}`"),
        )),
    }
}

impl Service for JsonEchoService {
    fn info(&self) -> IomodInfo {
        EchoService.info()
    }

    fn capability(self: Arc<Self>, calls: Calls) -> capnp::capability::Client {
        Arc::new(EchoService).capability(calls)
    }

    fn call_json(self: Arc<Self>, method: String, input: String) -> Option<iomod_sdk::JsonCall> {
        Some(Box::pin(async move { call_json(&method, &input).await }))
    }
}

/// Serves the `Echo` interface. With `calls`, method bodies run through the SDK (on the author's runtime);
/// without, they run inline on the RPC thread: the raw Cap'n Proto baseline the benchmarks compare with.
#[derive(Debug)]
pub struct EchoServer {
    calls: Option<Calls>,
}

impl EchoServer {
    /// A server running method bodies inline, with no SDK in the path.
    pub fn raw() -> Self {
        Self { calls: None }
    }

    async fn run<F>(&self, body: F) -> Result<F::Output, capnp::Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.calls {
            Some(calls) => calls.run(body).await,
            None => Ok(body.await),
        }
    }
}

impl echo::Server for EchoServer {
    async fn echo(
        self: Rc<Self>,
        params: echo::EchoParams,
        mut results: echo::EchoResults,
    ) -> Result<(), capnp::Error> {
        let p = params.get()?;
        let payload = p.get_payload()?.to_vec();
        let fail_with = p.get_fail_with()?.to_string()?;
        let outcome = self
            .run(echo(payload, p.get_delay_ms(), fail_with, p.get_panic()))
            .await?;
        let mut result = results.get().init_result();
        match outcome {
            Ok(payload) => result.set_ok(&payload),
            Err(err) => err.write(result.init_err()),
        }
        Ok(())
    }

    async fn reverse(
        self: Rc<Self>,
        params: echo::ReverseParams,
        mut results: echo::ReverseResults,
    ) -> Result<(), capnp::Error> {
        let text = params.get()?.get_text()?.to_string()?;
        let outcome = self.run(reverse(text)).await?;
        let mut result = results.get().init_result();
        match outcome {
            Ok(text) => result.set_ok(&text[..]),
            Err(err) => err.write(result.init_err()),
        }
        Ok(())
    }

    async fn context(
        self: Rc<Self>,
        _: echo::ContextParams,
        mut results: echo::ContextResults,
    ) -> Result<(), capnp::Error> {
        let (micros, traceparent) = self.run(context()).await?;
        let mut r = results.get();
        r.set_timeout_micros(micros);
        r.set_traceparent(&traceparent[..]);
        Ok(())
    }
}

/// Serves the raw `Echo` interface (no registry, no SDK) on a Unix socket until the process is killed.
pub async fn serve_raw(path: &std::path::Path) -> std::io::Result<()> {
    use capnp_rpc::{RpcSystem, rpc_twoparty_capnp};
    iomod_sdk::transport::prepare_socket_path(path).await?;
    let listener = tokio::net::UnixListener::bind(path)?;
    let client: echo::Client = capnp_rpc::new_client(EchoServer::raw());
    tokio::task::LocalSet::new()
        .run_until(async move {
            loop {
                let (stream, _) = listener.accept().await?;
                let network = iomod_sdk::transport::rpc_network(
                    stream,
                    rpc_twoparty_capnp::Side::Server,
                    Default::default(),
                );
                tokio::task::spawn_local(RpcSystem::new(network, Some(client.clone().client)));
            }
        })
        .await
}
