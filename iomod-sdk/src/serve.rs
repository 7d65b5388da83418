//! Serving an IOmod: connect to the registry, register, answer calls, reconnect, drain on shutdown.
//!
//! Cap'n Proto RPC objects are `!Send`, so the RPC system runs inside a `LocalSet` on one thread. The
//! author's handlers are ordinary `Send` futures run on the runtime that called [`serve`]:
//!
//! - [`serve`] (from a multi-threaded runtime such as `#[tokio::main]`): the RPC system gets a thread of
//!   its own (a current-thread runtime); [`Calls::run`] moves each handler that waits onto the author's
//!   runtime and hands its output back. Handlers may use every core; each waiting call crosses threads
//!   twice.
//! - [`serve_local`] (from a current-thread runtime): everything runs on the calling thread: the RPC
//!   system, the handlers and their I/O. No call crosses a thread, which suits IOmods whose handlers mostly
//!   wait on the network (the least latency and memory); CPU-heavy handlers would hold up every other
//!   call.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::protocol_error;
use crate::iomod_capnp::{control, health, register_result, registration};
use crate::transport::{ConnectionLimits, RegistryAddress, RegistryConnection, TOKEN_ENV};
use crate::{CallContext, Error, ErrorCode, IomodInfo};

/// An IOmod: what it registers as, and the capability that serves its interface.
///
/// Generated skeletons implement this; a hand-written IOmod implements it directly (see the crate docs).
pub trait Service: Send + Sync + 'static {
    /// What the IOmod registers with: coordinates, version, digest, interface id and methods.
    fn info(&self) -> IomodInfo;

    /// Builds the Cap'n Proto capability that serves the IOmod's interface. Called once, on the RPC thread.
    /// The server behind it should run each method body through [`Calls::run`].
    fn capability(self: Arc<Self>, calls: Calls) -> capnp::capability::Client;

    /// Calls `method` with its input as JSON and returns its output as JSON (for `iomod call`). A method's
    /// own named error is an [`ErrorCode::Method`] error whose `detail` is the error's value as JSON.
    /// `None` (the default) when the IOmod does not take JSON calls; generated skeletons built with serde
    /// support implement it.
    fn call_json(self: Arc<Self>, method: String, input: String) -> Option<JsonCall> {
        let _ = (method, input);
        None
    }

    /// Starts the call of the method with ordinal `method` whose params struct is `params`, as the
    /// registry asks through `Control.call` (protocol version 2, with the call's context): decodes the
    /// input, runs the body through `calls` ([`Calls::run`], which gives it the context and cancels it at
    /// the deadline), and resolves to what writes the results struct. An unknown ordinal resolves to a
    /// `methodNotFound` error.
    ///
    /// `None` (the default) makes the SDK call [`Service::capability`] locally instead, one more copy of
    /// the params and results; generated skeletons implement it.
    fn dispatch(
        self: Arc<Self>,
        calls: &Calls,
        method: u16,
        params: capnp::any_pointer::Reader<'_>,
    ) -> Option<Dispatched> {
        let _ = (calls, method, params);
        None
    }
}

/// A call started by [`Service::dispatch`]: resolves to what writes the method's results struct.
pub type Dispatched =
    std::pin::Pin<Box<dyn Future<Output = Result<WriteResults, capnp::Error>> + 'static>>;

/// Writes a method's results struct into the `results` of `Control.call`.
pub type WriteResults = Box<dyn FnOnce(capnp::any_pointer::Builder<'_>) -> capnp::Result<()>>;

/// A `methodNotFound` answer for an ordinal the IOmod does not have, for [`Service::dispatch`].
pub fn unknown_method(coordinates: &str, method: u16) -> Dispatched {
    let error = Error::new(
        ErrorCode::MethodNotFound,
        format!("`{coordinates}` has no method with ordinal {method}"),
    );
    Box::pin(async move { Err(error.into_exception()) })
}

/// A JSON call in progress (see [`Service::call_json`]).
pub type JsonCall = std::pin::Pin<Box<dyn Future<Output = Result<String, Error>> + Send>>;

type JsonHandler = Arc<dyn Fn(String, String) -> Option<JsonCall> + Send + Sync>;

#[derive(Debug, Default)]
struct CallState {
    in_flight: AtomicUsize,
    draining: AtomicBool,
    idle: tokio::sync::Notify,
}

/// Runs method bodies on the author's runtime and keeps count of calls in flight. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Calls {
    runtime: tokio::runtime::Handle,
    state: Arc<CallState>,
}

struct InFlight(Arc<CallState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Calls {
    /// A `Calls` that runs method bodies on `runtime`.
    pub fn new(runtime: tokio::runtime::Handle) -> Self {
        Self {
            runtime,
            state: Arc::default(),
        }
    }

    /// Runs one method body on the author's runtime and returns its output.
    ///
    /// The body is first polled right here, inside the author's runtime context (so the timers, sockets
    /// and tasks it creates belong to that runtime); a body that finishes without waiting never leaves
    /// the RPC thread, which saves two thread hops per call. A body that has to wait continues as a task
    /// on the author's runtime. Keep long CPU-bound work behind an `.await` (for example
    /// `tokio::task::spawn_blocking`), as in any async code.
    ///
    /// A call that came with a [`CallContext`] (through `Control.call`) runs with it as
    /// [`CallContext::current`], inside a `tracing` span of the call, and is cancelled when the context's
    /// deadline passes (the call then fails with `deadlineExceeded`).
    ///
    /// Fails with an `unavailable` exception when the IOmod is draining, and with an `internal` one when
    /// the body panics. When the caller goes away (its deadline passed, or it disconnected) the future
    /// returned here is dropped and the body is cancelled.
    pub async fn run<F>(&self, body: F) -> Result<F::Output, capnp::Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.is_draining() {
            return Err(
                Error::new(ErrorCode::Unavailable, "the IOmod is shutting down").into_exception(),
            );
        }
        let Some(context) = CallContext::current() else {
            return self.run_body(body).await;
        };
        // The body sees the context wherever it runs, and stops at the deadline.
        let deadline = context.deadline;
        let body = self.run_body(context.scope(body));
        match deadline {
            None => body.await,
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), body).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Error::new(
                    ErrorCode::DeadlineExceeded,
                    "the caller's deadline passed; the method was cancelled",
                )
                .into_exception()),
            },
        }
    }

    async fn run_body<F>(&self, body: F) -> Result<F::Output, capnp::Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        use tracing::Instrument;
        self.state.in_flight.fetch_add(1, Ordering::AcqRel);
        let _in_flight = InFlight(self.state.clone());
        let mut body = Box::pin(body.instrument(tracing::Span::current()));
        let first_poll = {
            let _context = self.runtime.enter();
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body.as_mut().poll(&mut cx)))
        };
        match first_poll {
            Ok(std::task::Poll::Ready(output)) => return Ok(output),
            Ok(std::task::Poll::Pending) => {}
            Err(payload) => return Err(panicked(payload.as_ref())),
        }
        // The spawned task polls the body again at once, registering its own waker: nothing woken since
        // the first poll is lost.
        let mut task = AbortOnDrop(self.runtime.spawn(body));
        match (&mut task.0).await {
            Ok(output) => Ok(output),
            Err(e) if e.is_panic() => Err(panicked(e.into_panic().as_ref())),
            Err(_) => Err(Error::new(
                ErrorCode::Unavailable,
                "the IOmod's runtime is shutting down",
            )
            .into_exception()),
        }
    }

    /// Calls executing right now.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::Acquire)
    }

    /// Whether the IOmod has stopped accepting calls.
    pub fn is_draining(&self) -> bool {
        self.state.draining.load(Ordering::Acquire)
    }

    fn start_draining(&self) {
        self.state.draining.store(true, Ordering::Release);
    }

    /// Waits until no call is in flight, or `timeout` passes; returns the calls still running.
    async fn wait_idle(&self, timeout: Duration) -> usize {
        let wait = async {
            loop {
                let notified = self.state.idle.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.in_flight() == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        self.in_flight()
    }
}

fn panicked(payload: &(dyn std::any::Any + Send)) -> capnp::Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".to_owned());
    tracing::error!(%message, "an IOmod method panicked");
    Error::new(
        ErrorCode::Internal,
        format!("the method panicked: {message}"),
    )
    .into_exception()
}

/// How an IOmod reaches its registry and behaves around it.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where the registry listens.
    pub registry: RegistryAddress,
    /// The shared token for TCP registries.
    pub token: Option<String>,
    /// How long a shutdown waits for calls in flight before giving up on them.
    pub drain_timeout: Duration,
    /// The first delay before reconnecting to a registry that went away; doubled up to `reconnect_max`.
    pub reconnect_initial: Duration,
    /// The longest delay between reconnection attempts. Short by default: a registry that restarts is
    /// back within this (and its jitter) of listening again.
    pub reconnect_max: Duration,
    /// How long connecting, opening the registry's gate and registering may take together before the
    /// attempt is abandoned (and retried with backoff).
    pub connect_timeout: Duration,
    /// How often a live registration checks that the registry still answers (each check waits up to
    /// `connect_timeout`); a registry that does not is left, and connected to again. Notices a registry
    /// that vanished without closing the connection.
    pub liveness_interval: Duration,
    /// Limits on incoming messages.
    pub limits: ConnectionLimits,
    /// The runtime's lanes (one registry per worker thread): the IOmod registers with each of them too,
    /// so that every worker calls it over a connection of its own.
    pub lanes: Vec<RegistryAddress>,
}

impl ServeOptions {
    /// Options for `registry`, with defaults for the rest: a 30 s drain timeout, reconnecting after 50 ms
    /// and backing off to 500 ms (a failed attempt on a local socket costs next to nothing, and a
    /// restarted registry sees its IOmods again well within a second), 10 s to connect and register, a
    /// liveness check every 15 s.
    pub fn new(registry: RegistryAddress) -> Self {
        Self {
            registry,
            token: None,
            drain_timeout: Duration::from_secs(30),
            reconnect_initial: Duration::from_millis(50),
            reconnect_max: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(10),
            liveness_interval: Duration::from_secs(15),
            limits: ConnectionLimits::default(),
            lanes: Vec::new(),
        }
    }

    /// Reads `IOMOD_REGISTRY` (a socket path, or `tcp://host:port`), `IOMOD_REGISTRY_TOKEN` and
    /// `IOMOD_REGISTRY_LANES` (socket paths separated by `:`).
    pub fn from_env() -> Result<Self, Error> {
        let mut options = Self::new(RegistryAddress::from_env()?);
        options.lanes = crate::transport::lanes_from_env()?;
        options.token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty());
        if matches!(options.registry, RegistryAddress::Tcp(_)) && options.token.is_none() {
            return Err(Error::new(
                ErrorCode::Unauthenticated,
                format!(
                    "{} is a TCP address, so {TOKEN_ENV} must hold the registry's token",
                    options.registry
                ),
            ));
        }
        Ok(options)
    }
}

/// Serves `service` with options from the environment until SIGTERM or SIGINT, then drains and returns.
///
/// Returns an error only for failures that retrying cannot fix: a bad environment, or a registration the
/// registry rejects (incompatible protocol, invalid method list, wrong token).
pub async fn serve<S: Service>(service: S) -> Result<(), Error> {
    let options = ServeOptions::from_env()?;
    serve_with(service, options, shutdown_signal()).await
}

/// Resolves on the first SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; the IOmod will only stop when killed");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

/// What `service` registers with: its info, this process's pid and the SDK version, validated.
fn registration_info<S: Service>(service: &S) -> Result<IomodInfo, Error> {
    let mut info = service.info();
    info.pid = std::process::id();
    info.sdk_version = crate::SDK_VERSION.to_owned();
    info.validate()?;
    Ok(info)
}

/// Serves `service` until `shutdown` resolves, then stops accepting calls, finishes those in flight (up to
/// `options.drain_timeout`), deregisters and returns.
pub async fn serve_with<S, F>(service: S, options: ServeOptions, shutdown: F) -> Result<(), Error>
where
    S: Service,
    F: Future<Output = ()>,
{
    let info = registration_info(&service)?;
    let calls = Calls::new(tokio::runtime::Handle::current());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let rpc_calls = calls.clone();
    std::thread::Builder::new()
        .name("iomod-rpc".into())
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => tokio::task::LocalSet::new().block_on(
                    &runtime,
                    run_connections(Arc::new(service), info, options, rpc_calls, stop_rx),
                ),
                Err(e) => Err(Error::new(
                    ErrorCode::Internal,
                    format!("cannot start the RPC runtime: {e}"),
                )),
            };
            let _ = done_tx.send(result);
        })
        .map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("cannot start the RPC thread: {e}"),
            )
        })?;

    tokio::pin!(done_rx);
    tokio::select! {
        result = &mut done_rx => return flatten(result),
        () = shutdown => {}
    }
    let _ = stop_tx.send(true);
    flatten(done_rx.await)
}

/// [`serve`] on the calling thread: the RPC system, the handlers and their I/O all run there, so no call
/// crosses a thread. Call it from a current-thread runtime (the returned future is not `Send`):
///
/// ```no_run
/// # async fn example<S: iomod_sdk::Service>(service: S) -> Result<(), iomod_sdk::Error> {
/// // fn main() { tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(..) }
/// iomod_sdk::serve_local(service).await
/// # }
/// ```
///
/// Suits IOmods whose handlers mostly wait on the network: the least latency and memory. A handler that
/// computes for long holds up every other call; use [`serve`] on a multi-threaded runtime for those.
pub async fn serve_local<S: Service>(service: S) -> Result<(), Error> {
    let options = ServeOptions::from_env()?;
    serve_local_with(service, options, shutdown_signal()).await
}

/// [`serve_with`] on the calling thread (see [`serve_local`]).
pub async fn serve_local_with<S, F>(
    service: S,
    options: ServeOptions,
    shutdown: F,
) -> Result<(), Error>
where
    S: Service,
    F: Future<Output = ()>,
{
    let info = registration_info(&service)?;
    let calls = Calls::new(tokio::runtime::Handle::current());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let local = tokio::task::LocalSet::new();
    let connections = local.run_until(run_connections(
        Arc::new(service),
        info,
        options,
        calls,
        stop_rx,
    ));
    tokio::pin!(connections);
    tokio::select! {
        result = &mut connections => return result,
        () = shutdown => {}
    }
    let _ = stop_tx.send(true);
    connections.await
}

fn flatten(
    result: Result<Result<(), Error>, tokio::sync::oneshot::error::RecvError>,
) -> Result<(), Error> {
    result.unwrap_or_else(|_| {
        Err(Error::new(
            ErrorCode::Internal,
            "the RPC thread stopped unexpectedly",
        ))
    })
}

/// Errors that retrying will not fix.
fn is_fatal(err: &Error) -> bool {
    matches!(
        err.code,
        ErrorCode::Incompatible
            | ErrorCode::InvalidInput
            | ErrorCode::Unauthenticated
            | ErrorCode::TooLarge
    )
}

struct Session {
    connection: RegistryConnection,
    registration: registration::Client,
}

/// The live session with each registry address (the main one first, then the lanes).
type Sessions = std::rc::Rc<std::cell::RefCell<Vec<Option<Session>>>>;

async fn run_connections<S: Service>(
    service: Arc<S>,
    info: IomodInfo,
    options: ServeOptions,
    calls: Calls,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), Error> {
    let json_service = service.clone();
    let json: JsonHandler =
        Arc::new(move |method, input| json_service.clone().call_json(method, input));
    let dispatch_service = service.clone();
    let capability = service.capability(calls.clone());
    let dispatch_calls = calls.clone();
    let dispatch: DispatchHandler = std::rc::Rc::new(move |method, params| {
        dispatch_service
            .clone()
            .dispatch(&dispatch_calls, method, params)
    });
    let control: control::Client = capnp_rpc::new_client(ControlServer {
        calls: calls.clone(),
        json,
        dispatch,
        capability: capability.clone(),
        interface_id: info.interface_id,
        method_names: info
            .methods
            .iter()
            .map(|m| (m.ordinal, m.name.clone()))
            .collect(),
        coordinates: info.coordinates.to_string(),
    });
    let addresses: Vec<RegistryAddress> = std::iter::once(options.registry.clone())
        .chain(options.lanes.iter().cloned())
        .collect();
    let sessions: Sessions = std::rc::Rc::new(std::cell::RefCell::new(
        addresses.iter().map(|_| None).collect(),
    ));
    let keep_all =
        futures::future::try_join_all(addresses.iter().enumerate().map(|(slot, address)| {
            keep_registered(
                slot,
                address,
                &info,
                &options,
                control.clone(),
                capability.clone(),
                sessions.clone(),
            )
        }));
    let stopped = async {
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        result = keep_all => result.map(|_| ())?,
        () = stopped => {}
    }
    let live: Vec<Session> = sessions
        .borrow_mut()
        .iter_mut()
        .filter_map(Option::take)
        .collect();
    drain(&calls, live, &options).await;
    Ok(())
}

/// Registers with `address` and registers again whenever the connection is lost, until cancelled; keeps
/// the live session in `sessions[slot]`. Returns only for errors that retrying cannot fix.
async fn keep_registered(
    slot: usize,
    address: &RegistryAddress,
    info: &IomodInfo,
    options: &ServeOptions,
    control: control::Client,
    capability: capnp::capability::Client,
    sessions: Sessions,
) -> Result<(), Error> {
    let mut backoff = options.reconnect_initial;
    let mut attempt: u32 = 0;
    loop {
        let attempted = tokio::time::timeout(
            options.connect_timeout,
            register(info, address, options, control.clone(), capability.clone()),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Error::new(
                ErrorCode::Unavailable,
                format!(
                    "the registry at {address} did not take the registration within {} ms",
                    options.connect_timeout.as_millis()
                ),
            ))
        });
        match attempted {
            Ok(session) => {
                tracing::info!(coordinates = %info.coordinates, registry = %address, "registered");
                backoff = options.reconnect_initial;
                attempt = 0;
                let closed = session.connection.closed();
                let registration = session.registration.clone();
                sessions.borrow_mut()[slot] = Some(session);
                tokio::select! {
                    () = closed => {
                        sessions.borrow_mut()[slot] = None;
                        tracing::warn!(registry = %address, "lost the registry connection; reconnecting");
                    }
                    () = unresponsive(&registration, options) => {
                        tracing::warn!(registry = %address, "the registry stopped answering; reconnecting");
                        let session = sessions.borrow_mut()[slot].take();
                        if let Some(session) = session {
                            drop(session.registration);
                            let _ = tokio::time::timeout(
                                Duration::from_secs(1),
                                session.connection.disconnect(),
                            )
                            .await;
                        }
                    }
                }
            }
            Err(err) if is_fatal(&err) => {
                tracing::error!(error = %err, registry = %address, "the registry rejected this IOmod");
                return Err(err);
            }
            Err(err) => {
                attempt += 1;
                // Say it loudly once, then quietly while it keeps failing.
                if attempt == 1 {
                    tracing::warn!(error = %err, registry = %address, "cannot register; retrying with backoff");
                } else {
                    tracing::debug!(error = %err, attempt, "cannot register; retrying");
                }
            }
        }
        tokio::time::sleep(jitter(backoff)).await;
        backoff = next_backoff(backoff, options.reconnect_max);
    }
}

/// Resolves when the registry no longer answers on a live registration: a liveness check (asking the
/// registration its id) failed or took longer than `options.connect_timeout`.
async fn unresponsive(registration: &registration::Client, options: &ServeOptions) {
    loop {
        tokio::time::sleep(options.liveness_interval).await;
        let check = registration.instance_id_request().send().promise;
        match tokio::time::timeout(options.connect_timeout, check).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "liveness check failed");
                return;
            }
            Err(_) => return,
        }
    }
}

/// The delay after `current`: doubled, at most `max`, never overflowing.
fn next_backoff(current: Duration, max: Duration) -> Duration {
    current.saturating_mul(2).min(max)
}

/// Spreads reconnection attempts of many IOmods over ±25% of the delay, at random.
fn jitter(delay: Duration) -> Duration {
    let factor = 0.75 + fastrand::f64() / 2.0;
    Duration::try_from_secs_f64(delay.as_secs_f64() * factor).unwrap_or(delay)
}

async fn register(
    info: &IomodInfo,
    address: &RegistryAddress,
    options: &ServeOptions,
    control: control::Client,
    capability: capnp::capability::Client,
) -> Result<Session, Error> {
    let connection =
        RegistryConnection::connect(address, options.token.as_deref(), options.limits).await?;
    let mut request = connection.registry.register_request();
    {
        let mut params = request.get();
        info.write(params.reborrow().init_info());
        params.set_control(control);
        params.init_service().set_as_capability(capability.hook);
    }
    let response = request
        .send()
        .promise
        .await
        .map_err(|e| Error::from_exception(&e))?;
    let result = response
        .get()
        .and_then(|r| r.get_result())
        .map_err(protocol_error)?;
    match result.which().map_err(|e| protocol_error(e.into()))? {
        register_result::Registration(registration) => Ok(Session {
            connection,
            registration: registration.map_err(protocol_error)?,
        }),
        register_result::Error(err) => Err(Error::read(err.map_err(protocol_error)?)),
    }
}

async fn drain(calls: &Calls, sessions: Vec<Session>, options: &ServeOptions) {
    calls.start_draining();
    let in_flight = calls.in_flight();
    tracing::info!(in_flight, "draining: accepting no new calls");
    // Dropping a registration deregisters: the registry stops routing calls here, while calls it has
    // already forwarded still get their answers on the connection.
    let connections: Vec<RegistryConnection> = sessions
        .into_iter()
        .map(|session| {
            drop(session.registration);
            session.connection
        })
        .collect();
    let left = calls.wait_idle(options.drain_timeout).await;
    if left > 0 {
        tracing::warn!(left, timeout = ?options.drain_timeout, "drain timeout passed with calls still running");
    }
    let disconnect_all =
        futures::future::join_all(connections.into_iter().map(RegistryConnection::disconnect));
    let _ = tokio::time::timeout(Duration::from_secs(2), disconnect_all).await;
    tracing::info!("stopped");
}

type DispatchHandler =
    std::rc::Rc<dyn Fn(u16, capnp::any_pointer::Reader<'_>) -> Option<Dispatched>>;

struct ControlServer {
    calls: Calls,
    json: JsonHandler,
    dispatch: DispatchHandler,
    /// The typed capability, called locally for services that do not dispatch themselves.
    capability: capnp::capability::Client,
    interface_id: u64,
    method_names: std::collections::HashMap<u16, String>,
    coordinates: String,
}

impl ControlServer {
    /// Runs a call of a service without [`Service::dispatch`]: a local call on its typed capability,
    /// bounded by the deadline.
    async fn call_capability(
        &self,
        method: u16,
        params: capnp::any_pointer::Reader<'_>,
        deadline: Option<std::time::Instant>,
    ) -> Result<WriteResults, capnp::Error> {
        let size = params.target_size()?;
        let mut request = self
            .capability
            .new_call::<capnp::any_pointer::Owned, capnp::any_pointer::Owned>(
                self.interface_id,
                method,
                Some(size),
            );
        request.get().set_as(params)?;
        let promise = request.send().promise;
        let response = match deadline {
            None => promise.await?,
            Some(deadline) => tokio::time::timeout_at(deadline.into(), promise)
                .await
                .map_err(|_| {
                    Error::new(
                        ErrorCode::DeadlineExceeded,
                        "the caller's deadline passed; the method was cancelled",
                    )
                    .into_exception()
                })??,
        };
        Ok(Box::new(
            move |mut results: capnp::any_pointer::Builder<'_>| results.set_as(response.get()?),
        ))
    }
}

impl control::Server for ControlServer {
    async fn call_json(
        self: std::rc::Rc<Self>,
        params: control::CallJsonParams,
        mut results: control::CallJsonResults,
    ) -> Result<(), capnp::Error> {
        let p = params.get()?;
        let method = p.get_method()?.to_string()?;
        let input = p.get_input()?.to_string()?;
        let outcome = match (self.json)(method.clone(), input) {
            Some(call) => self.calls.run(call).await?,
            None => Err(Error::new(
                ErrorCode::MethodNotFound,
                "this IOmod does not take JSON calls (generate its skeleton with serde support)",
            )),
        };
        let mut result = results.get().init_result();
        match outcome {
            Ok(output) => result.set_ok(&output[..]),
            Err(error) => error.write(result.init_err()),
        }
        Ok(())
    }

    async fn call(
        self: std::rc::Rc<Self>,
        params: control::CallParams,
        mut results: control::CallResults,
    ) -> Result<(), capnp::Error> {
        use tracing::Instrument;
        let started = std::time::Instant::now();
        let p = params.get()?;
        let context = CallContext::read(p.get_context()?, started);
        let method = p.get_method();
        let name = self
            .method_names
            .get(&method)
            .map_or("<unknown>", String::as_str);
        let span = tracing::info_span!(
            "iomod_call",
            iomod = %self.coordinates,
            method = name,
            trace_id = tracing::field::Empty,
            parent_span_id = tracing::field::Empty,
        );
        if let Some(parent) = &context.traceparent {
            span.record("trace_id", parent.trace_id_hex());
            span.record("parent_span_id", parent.parent_id_hex());
        }
        let deadline = context.deadline;
        let params = p.get_params();
        let call = async {
            match (self.dispatch)(method, params) {
                Some(dispatched) => dispatched.await,
                None => self.call_capability(method, params, deadline).await,
            }
        };
        let outcome = context.scope(call).instrument(span.clone()).await;
        let _entered = span.enter();
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        match outcome {
            Ok(write) => {
                tracing::debug!(outcome = "ok", micros, "call finished");
                write(results.get().init_results())
            }
            Err(e) => {
                tracing::debug!(outcome = "error", micros, error = %e, "call failed");
                Err(e)
            }
        }
    }

    async fn health(
        self: std::rc::Rc<Self>,
        _: control::HealthParams,
        mut results: control::HealthResults,
    ) -> Result<(), capnp::Error> {
        let mut health = results.get().init_health();
        health.set_in_flight(u32::try_from(self.calls.in_flight()).unwrap_or(u32::MAX));
        if self.calls.is_draining() {
            health.set_status(health::Status::Draining);
            health.set_message("shutting down");
        } else {
            health.set_status(health::Status::Serving);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_saturates_at_its_maximum() {
        let max = Duration::from_secs(5);
        assert_eq!(
            next_backoff(Duration::from_millis(50), max),
            Duration::from_millis(100)
        );
        assert_eq!(next_backoff(Duration::from_secs(4), max), max);
        // Huge settings neither overflow nor panic.
        assert_eq!(next_backoff(Duration::MAX, Duration::MAX), Duration::MAX);
        assert_eq!(
            next_backoff(Duration::MAX / 2 + Duration::from_secs(1), Duration::MAX),
            Duration::MAX
        );
    }

    #[test]
    fn jitter_is_random_within_a_quarter() {
        let delay = Duration::from_millis(100);
        let samples: Vec<Duration> = (0..200).map(|_| jitter(delay)).collect();
        for s in &samples {
            assert!(
                *s >= delay.mul_f64(0.75) && *s <= delay.mul_f64(1.25),
                "{s:?}"
            );
        }
        let distinct: std::collections::BTreeSet<Duration> = samples.iter().copied().collect();
        assert!(distinct.len() > 100, "{} distinct delays", distinct.len());
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
        // A delay too large to scale stays as it is.
        assert!(jitter(Duration::MAX) > Duration::ZERO);
    }

    #[test]
    fn deadlines_never_overflow() {
        let far = crate::deadline_after(Duration::MAX);
        assert!(far > std::time::Instant::now() + Duration::from_secs(3600));
        let near = crate::deadline_after(Duration::from_millis(10));
        assert!(near < far);
    }
}
