//! Testing an IOmod in process: no registry, no socket, no process.
//!
//! [`InProcess::start`] serves a [`Service`] over an in-memory Cap'n Proto connection, with the same RPC
//! system, encoding, limits and typed errors as a served IOmod; only the transport differs. Generated
//! skeletons wrap it in a typed client (`<module>::Client::in_process(implementation)`), so a test calls
//! methods with plain Rust types:
//!
//! ```ignore
//! #[tokio::test]
//! async fn greets() {
//!     let client = greeter::Client::in_process(MyGreeter);
//!     let output = client.greet(greeter::GreetInput { name: "Ada".into() }).await.unwrap();
//!     assert_eq!(output.greeting, "Hello, Ada!");
//! }
//! ```
//!
//! Method bodies run on the tokio runtime that is current when [`InProcess::start`] is called (as
//! [`crate::serve`] runs them on the author's runtime), or on a runtime of the harness's own when there
//! is none. The RPC system runs on a thread of its own, which stops when the [`InProcess`] is dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use capnp_rpc::{RpcSystem, rpc_twoparty_capnp};

use crate::transport::{ConnectionLimits, rpc_network};
use crate::{Calls, Error, ErrorCode, IomodInfo, Service};

/// Bytes the in-memory connection buffers in each direction.
const PIPE_BYTES: usize = 256 * 1024;

type Job = Box<
    dyn FnOnce(capnp::capability::Client) -> Pin<Box<dyn Future<Output = ()> + 'static>> + Send,
>;

/// An IOmod served in process over an in-memory Cap'n Proto connection. See the [module docs](self).
#[derive(Debug)]
pub struct InProcess {
    info: IomodInfo,
    /// `None` once dropped: closing the channel ends the RPC thread's loop.
    jobs: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The runtime that runs method bodies when none was current at the start.
    _own_runtime: Option<Arc<tokio::runtime::Runtime>>,
}

impl InProcess {
    /// Serves `service` in process with the default connection limits.
    pub fn start<S: Service>(service: S) -> Result<Self, Error> {
        Self::start_with(service, ConnectionLimits::default())
    }

    /// Serves `service` in process; messages larger than `limits` allow are refused as they would be on
    /// a registry connection.
    pub fn start_with<S: Service>(service: S, limits: ConnectionLimits) -> Result<Self, Error> {
        let internal = |what: &str, e: std::io::Error| {
            Error::new(ErrorCode::Internal, format!("cannot start the {what}: {e}"))
        };
        let mut info = service.info();
        info.pid = std::process::id();
        info.sdk_version = crate::SDK_VERSION.to_owned();
        info.validate()?;
        let (own_runtime, handle) = match tokio::runtime::Handle::try_current() {
            Ok(handle) => (None, handle),
            Err(_) => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(|e| internal("method runtime", e))?;
                let handle = runtime.handle().clone();
                (Some(Arc::new(runtime)), handle)
            }
        };
        let calls = Calls::new(handle);
        let (jobs, receiver) = tokio::sync::mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| internal("RPC runtime", e))?;
        let thread = std::thread::Builder::new()
            .name("iomod-in-process".into())
            .spawn(move || {
                tokio::task::LocalSet::new()
                    .block_on(&runtime, run(Arc::new(service), calls, limits, receiver));
            })
            .map_err(|e| internal("RPC thread", e))?;
        Ok(Self {
            info,
            jobs: Some(jobs),
            thread: Some(thread),
            _own_runtime: own_runtime,
        })
    }

    /// What the IOmod would register with.
    pub fn info(&self) -> &IomodInfo {
        &self.info
    }

    /// Calls the method with ordinal `method` of the IOmod's interface: `write` fills its params struct,
    /// `read` reads its results struct. Failures come back as the protocol's typed errors, as a registry
    /// would report them (`methodNotFound`, `invalidInput`, `internal` for a panicking body, ...).
    pub async fn call<R, W, F>(&self, method: u16, write: W, read: F) -> Result<R, Error>
    where
        R: Send + 'static,
        W: FnOnce(capnp::any_pointer::Builder<'_>) -> capnp::Result<()> + Send + 'static,
        F: FnOnce(capnp::any_pointer::Reader<'_>) -> capnp::Result<R> + Send + 'static,
    {
        let interface = self.info.interface_id;
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |client| {
            Box::pin(async move {
                let outcome = async {
                    let mut request = client
                        .new_call::<capnp::any_pointer::Owned, capnp::any_pointer::Owned>(
                            interface, method, None,
                        );
                    write(request.get()).map_err(|e| {
                        Error::new(
                            ErrorCode::InvalidInput,
                            format!("cannot encode the input: {e}"),
                        )
                    })?;
                    let response = request
                        .send()
                        .promise
                        .await
                        .map_err(|e| Error::from_exception(&e))?;
                    let results = response.get().map_err(|e| Error::from_exception(&e))?;
                    read(results).map_err(|e| {
                        Error::new(
                            ErrorCode::Internal,
                            format!("the IOmod's results are malformed: {e}"),
                        )
                    })
                }
                .await;
                let _ = answer.send(outcome);
            })
        });
        let stopped = || Error::new(ErrorCode::Unavailable, "the in-process IOmod has stopped");
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        // Closing the channel ends the RPC thread's loop; the connection and its calls go with it.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn run<S: Service>(
    service: Arc<S>,
    calls: Calls,
    limits: ConnectionLimits,
    mut jobs: tokio::sync::mpsc::UnboundedReceiver<Job>,
) {
    let (server_end, client_end) = tokio::io::duplex(PIPE_BYTES);
    let capability = service.capability(calls);
    let server = RpcSystem::new(
        rpc_network(server_end, rpc_twoparty_capnp::Side::Server, limits),
        Some(capability),
    );
    let mut client_system = RpcSystem::new(
        rpc_network(client_end, rpc_twoparty_capnp::Side::Client, limits),
        None,
    );
    let client: capnp::capability::Client =
        client_system.bootstrap(rpc_twoparty_capnp::Side::Server);
    let server = tokio::task::spawn_local(server);
    let client_system = tokio::task::spawn_local(client_system);
    let mut in_flight = tokio::task::JoinSet::new();
    while let Some(job) = jobs.recv().await {
        while in_flight.try_join_next().is_some() {}
        in_flight.spawn_local(job(client.clone()));
    }
    in_flight.abort_all();
    drop(client);
    server.abort();
    client_system.abort();
}
