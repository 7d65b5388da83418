//! The runtime registry: IOmods register with it, and the runtime calls their methods through it.
//!
//! [`Registry::start`] binds the listeners and runs the Cap'n Proto RPC system on a thread of its own (RPC
//! objects are `!Send`); the returned [`Registry`] handle is `Send + Sync` and talks to that thread through
//! channels. See `schemas/iomod.capnp` for the protocol.

mod admission;
pub mod contracts;
mod server;
mod socket;
mod status;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iomod_sdk::{CallContext, Coordinates, Error, ErrorCode, MethodPath, deadline_after};
use tokio::sync::{mpsc, oneshot, watch};

pub use server::LocalRegistry;
pub use status::{CallerStatus, IomodState, IomodStatus};

/// The oldest protocol version this registry accepts.
pub const MIN_PROTOCOL_VERSION: u32 = 1;
/// The newest protocol version this registry accepts.
pub const MAX_PROTOCOL_VERSION: u32 = iomod_sdk::PROTOCOL_VERSION;

/// A TCP listener of the registry.
#[derive(Clone)]
pub struct TcpConfig {
    /// Where to listen. Must be a loopback address unless `allow_remote` is set.
    pub addr: SocketAddr,
    /// The shared token every TCP connection must present (at least 16 characters).
    pub token: String,
    /// Allow listening on a non-loopback address.
    pub allow_remote: bool,
}

impl std::fmt::Debug for TcpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpConfig")
            .field("addr", &self.addr)
            .field("token", &"<redacted>")
            .field("allow_remote", &self.allow_remote)
            .finish()
    }
}

/// The shortest token a TCP listener accepts.
pub const MIN_TOKEN_LEN: usize = 16;

/// How a registry listens and behaves.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The Unix socket to listen on (created with mode 0600). `None` for no Unix listener.
    pub socket: Option<PathBuf>,
    /// A TCP listener, if any.
    pub tcp: Option<TcpConfig>,
    /// The largest input or output of one call, in bytes.
    pub max_payload_bytes: usize,
    /// The deadline of a call that does not name one.
    pub default_timeout: Duration,
    /// How often each IOmod's health is checked.
    pub health_interval: Duration,
    /// How long a health check may take before the IOmod is reported unhealthy.
    pub health_timeout: Duration,
    /// After this many failed health checks in a row an instance is evicted (deregistered, and its
    /// connection closed).
    pub evict_after: u32,
    /// The most connections open at once (Unix and TCP); more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// The most TCP connections open at once that have not opened the `Gate` with the token yet.
    pub max_unauthenticated: usize,
    /// How long a TCP connection has to open the `Gate` with the token before it is closed.
    pub handshake_timeout: Duration,
}

impl RegistryConfig {
    /// A registry listening on the Unix socket at `path`, with defaults: 16 MiB payloads, a 30 s call
    /// deadline, a health check every 5 s with a 2 s timeout (three failed in a row evict the instance),
    /// at most 4,096 connections of which 1,024
    /// unauthenticated TCP connections, and 5 s for a TCP connection to present its token.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Self {
            socket: Some(path.into()),
            tcp: None,
            max_payload_bytes: iomod_sdk::DEFAULT_MAX_PAYLOAD_BYTES,
            default_timeout: Duration::from_secs(30),
            health_interval: Duration::from_secs(5),
            health_timeout: Duration::from_secs(2),
            evict_after: 3,
            max_connections: 4096,
            max_unauthenticated: 1024,
            handshake_timeout: Duration::from_secs(5),
        }
    }

    fn check(&self) -> Result<(), Error> {
        let invalid = |m: String| Err(Error::new(ErrorCode::InvalidInput, m));
        if self.socket.is_none() && self.tcp.is_none() {
            return invalid(
                "the registry needs a Unix socket or a TCP address to listen on".into(),
            );
        }
        if let Some(tcp) = &self.tcp {
            if tcp.token.len() < MIN_TOKEN_LEN {
                return invalid(format!(
                    "the TCP token must be at least {MIN_TOKEN_LEN} characters long"
                ));
            }
            if !tcp.addr.ip().is_loopback() && !tcp.allow_remote {
                return invalid(format!(
                    "{} is not a loopback address; allow remote connections explicitly to listen there",
                    tcp.addr
                ));
            }
        }
        if self.max_payload_bytes == 0 || self.max_payload_bytes > 1 << 30 {
            return invalid("the payload limit must be between 1 byte and 1 GiB".into());
        }
        if self.health_interval.is_zero() || self.health_timeout.is_zero() {
            return invalid("health interval and timeout must be positive".into());
        }
        if self.evict_after == 0 {
            return invalid("evict_after must be at least 1".into());
        }
        if self.max_connections == 0 || self.max_unauthenticated == 0 {
            return invalid("the connection limits must be at least 1".into());
        }
        if self.handshake_timeout.is_zero() {
            return invalid("the handshake timeout must be positive".into());
        }
        Ok(())
    }
}

enum Command {
    Invoke {
        path: MethodPath,
        fingerprint: Option<String>,
        input: Vec<u8>,
        context: CallContext,
        reply: oneshot::Sender<Result<Vec<u8>, Error>>,
    },
    List {
        reply: oneshot::Sender<Vec<IomodStatus>>,
    },
    Local(Box<dyn FnOnce(LocalRegistry) + Send>),
}

/// Coordinates → instance id of every registered IOmod, published on each change.
type Registered = Arc<BTreeMap<String, u64>>;

/// A running registry. Dropping it (or [`Registry::shutdown`]) stops it and removes its socket.
#[derive(Debug)]
pub struct Registry {
    commands: mpsc::UnboundedSender<Command>,
    registered: watch::Receiver<Registered>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    socket: Option<PathBuf>,
    tcp_addr: Option<SocketAddr>,
    max_payload_bytes: usize,
    default_timeout: Duration,
}

impl Registry {
    /// Binds the listeners and starts serving. Fails when the configuration is invalid or a listener cannot
    /// be bound (for example, another registry listens on the socket).
    pub async fn start(config: RegistryConfig) -> Result<Registry, Error> {
        config.check()?;
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (registered_tx, registered) = watch::channel(Registered::default());
        let (stop, stop_rx) = oneshot::channel();
        let (bound_tx, bound_rx) = oneshot::channel();
        let thread_config = config.clone();
        let thread = std::thread::Builder::new()
            .name("iomod-registry".into())
            .spawn(move || server::run(thread_config, command_rx, registered_tx, stop_rx, bound_tx))
            .map_err(|e| {
                Error::new(
                    ErrorCode::Internal,
                    format!("cannot start the registry thread: {e}"),
                )
            })?;
        let tcp_addr = match bound_rx.await {
            Ok(Ok(tcp_addr)) => tcp_addr,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(Error::new(
                    ErrorCode::Internal,
                    "the registry thread stopped while starting",
                ));
            }
        };
        Ok(Registry {
            commands,
            registered,
            stop: Some(stop),
            thread: Some(thread),
            socket: config.socket,
            tcp_addr,
            max_payload_bytes: config.max_payload_bytes,
            default_timeout: config.default_timeout,
        })
    }

    /// The Unix socket the registry listens on.
    pub fn socket_path(&self) -> Option<&std::path::Path> {
        self.socket.as_deref()
    }

    /// The TCP address the registry listens on (with the port the system chose, when it was 0).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// Calls the method at `path` (`org.ns.name.method`) with `input`, a Cap'n Proto message (standard
    /// framing) whose root is the method's params struct, and returns the results message the same way.
    ///
    /// The path may end with `@<fingerprint>`, the method's fingerprint the caller was built with
    /// (generated guest crates send it): a method whose registered fingerprint differs fails with
    /// `incompatible`. `timeout` defaults to the configured one. Errors: `invalidInput` (bad path or message),
    /// `notFound` (no IOmod ever registered here under the coordinates), `methodNotFound`, `tooLarge`,
    /// `deadlineExceeded`, `unavailable` (the IOmod disconnected, is draining or unhealthy, or has left and
    /// not registered again), `internal`. A method's own typed errors are part of its results, not errors here.
    pub async fn invoke(
        &self,
        path: &str,
        input: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>, Error> {
        self.handle().invoke(path, input, timeout).await
    }

    /// A handle for calls from any thread, cheap to clone; it fails with `unavailable` once the registry
    /// stopped.
    pub fn handle(&self) -> RegistryHandle {
        RegistryHandle {
            commands: self.commands.clone(),
            max_payload_bytes: self.max_payload_bytes,
            default_timeout: self.default_timeout,
        }
    }

    /// Runs `task` on the registry's own thread and returns its output.
    ///
    /// [`Registry::invoke`] hands each call to the registry thread and the answer back, two thread
    /// wake-ups per call; calls made through the [`LocalRegistry`] given to `task` need neither. Use it for
    /// work that makes many calls and can live on one thread (the task must not block).
    pub async fn run_local<F, Fut, T>(&self, task: F) -> Result<T, Error>
    where
        F: FnOnce(LocalRegistry) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let (reply, response) = oneshot::channel();
        self.send(Command::Local(Box::new(move |local| {
            tokio::task::spawn_local(async move {
                let _ = reply.send(task(local).await);
            });
        })))?;
        response.await.map_err(|_| stopped())
    }

    /// Calls the method at `path` with its input as JSON; see [`LocalRegistry::invoke_json`].
    pub async fn invoke_json(
        &self,
        path: &str,
        input: String,
        timeout: Option<Duration>,
    ) -> Result<String, Error> {
        let path = path.to_owned();
        self.run_local(move |local| async move { local.invoke_json(&path, &input, timeout).await })
            .await?
    }

    /// Every registered IOmod, sorted by coordinates.
    pub async fn list(&self) -> Result<Vec<IomodStatus>, Error> {
        self.handle().list().await
    }

    /// Waits until every IOmod in `coordinates` is registered. Fails with `deadlineExceeded`, naming the
    /// missing ones, when `timeout` passes first.
    pub async fn wait_ready(
        &self,
        coordinates: &[Coordinates],
        timeout: Duration,
    ) -> Result<(), Error> {
        wait_registered(self.registered.clone(), coordinates, timeout).await
    }

    /// The instance id of the IOmod registered under `coordinates`, if any.
    pub fn instance_of(&self, coordinates: &Coordinates) -> Option<u64> {
        self.registered.borrow().get(coordinates.as_str()).copied()
    }

    /// Stops the registry: closes every connection and removes the socket file.
    pub fn shutdown(mut self) {
        self.stop_thread();
    }

    fn send(&self, command: Command) -> Result<(), Error> {
        self.commands.send(command).map_err(|_| stopped())
    }

    fn stop_thread(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// A `Send` handle on a running registry, for calls from any thread (each crosses to the registry's thread
/// and back). See [`Registry::handle`].
#[derive(Debug, Clone)]
pub struct RegistryHandle {
    commands: mpsc::UnboundedSender<Command>,
    max_payload_bytes: usize,
    default_timeout: Duration,
}

impl RegistryHandle {
    /// See [`Registry::invoke`].
    pub async fn invoke(
        &self,
        path: &str,
        input: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>, Error> {
        let context = CallContext {
            deadline: Some(deadline_after(timeout.unwrap_or(self.default_timeout))),
            ..CallContext::default()
        };
        self.invoke_with(path, input, context).await
    }

    /// Every registered IOmod, sorted by coordinates.
    pub async fn list(&self) -> Result<Vec<IomodStatus>, Error> {
        let (reply, response) = oneshot::channel();
        self.commands
            .send(Command::List { reply })
            .map_err(|_| stopped())?;
        response.await.map_err(|_| stopped())
    }

    /// [`Registry::invoke`] with the call's context: its deadline (the registry's default timeout when
    /// `None`) and trace context travel to the IOmod.
    pub async fn invoke_with(
        &self,
        path: &str,
        input: Vec<u8>,
        mut context: CallContext,
    ) -> Result<Vec<u8>, Error> {
        let deadline = *context
            .deadline
            .get_or_insert_with(|| deadline_after(self.default_timeout));
        let (path, fingerprint) = check_call(path, &input, deadline, self.max_payload_bytes)?;
        let (reply, response) = oneshot::channel();
        self.commands
            .send(Command::Invoke {
                path,
                fingerprint,
                input,
                context,
                reply,
            })
            .map_err(|_| stopped())?;
        response.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// Checks a call before it is forwarded: the path (with its optional `@fingerprint`), the input size, and
/// the deadline.
fn check_call(
    path: &str,
    input: &[u8],
    deadline: Instant,
    max_payload_bytes: usize,
) -> Result<(MethodPath, Option<String>), Error> {
    if deadline <= Instant::now() {
        return Err(Error::new(
            ErrorCode::DeadlineExceeded,
            "the call's deadline passed before it was sent",
        ));
    }
    let (path, fingerprint) = match path.split_once('@') {
        Some((path, fingerprint)) => (path, Some(fingerprint.to_owned())),
        None => (path, None),
    };
    let path: MethodPath = path
        .parse()
        .map_err(|e: iomod_sdk::ParseError| Error::new(ErrorCode::InvalidInput, e.to_string()))?;
    if input.len() > max_payload_bytes {
        return Err(Error::new(
            ErrorCode::TooLarge,
            format!(
                "the input is {} bytes; the limit is {max_payload_bytes} bytes",
                input.len()
            ),
        ));
    }
    Ok((path, fingerprint))
}

/// Raises this process's soft limit on open files to its hard limit, so that the registry can hold as
/// many connections as the system allows it (a soft limit of 1,024 is common). Best effort.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; raising the soft limit up to the hard one is always allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "cannot raise the open files limit");
        }
    }
}

fn stopped() -> Error {
    Error::new(ErrorCode::Unavailable, "the registry has stopped")
}

async fn wait_registered(
    mut registered: watch::Receiver<Registered>,
    coordinates: &[Coordinates],
    timeout: Duration,
) -> Result<(), Error> {
    let missing = |map: &Registered| -> Vec<String> {
        coordinates
            .iter()
            .filter(|c| !map.contains_key(c.as_str()))
            .map(ToString::to_string)
            .collect()
    };
    let outcome = tokio::time::timeout(timeout, registered.wait_for(|map| missing(map).is_empty()))
        .await
        .map(|r| r.map(|_| ()));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(stopped()),
        Err(_) => Err(Error::new(
            ErrorCode::DeadlineExceeded,
            format!(
                "not registered after {} ms: {}",
                timeout.as_millis(),
                missing(&registered.borrow()).join(", ")
            ),
        )),
    }
}
