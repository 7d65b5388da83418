//! The registry's RPC thread: listeners, the `Gate`, `Registry` and `Registration` servers, health checks
//! and call forwarding. Everything here is single-threaded (`Rc`, `RefCell`) and runs inside a `LocalSet`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use capnp::{any_pointer, message, serialize};
use capnp_rpc::{RpcSystem, rpc_twoparty_capnp};
use iomod_sdk::contract::Contract;
use iomod_sdk::iomod_capnp::{control, gate, health, json_result, registration, registry};
use iomod_sdk::transport::{ConnectionLimits, rpc_network};
use iomod_sdk::{CallContext, Error, ErrorCode, IomodInfo, MethodPath, deadline_after};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{Instrument, debug, info, info_span, warn};

use super::admission::{Handshake, MessageLimit, Throttle};
use super::contracts::{Callers, Served};
use super::socket::{self, SocketClaim};
use super::{
    CallerStatus, Command, IomodState, IomodStatus, MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION,
    Registered, RegistryConfig, check_call, wait_registered,
};

/// The body of the registry thread.
pub(super) fn run(
    config: RegistryConfig,
    commands: mpsc::UnboundedReceiver<Command>,
    registered: watch::Sender<Registered>,
    stop: oneshot::Receiver<()>,
    bound: oneshot::Sender<Result<Option<SocketAddr>, Error>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = bound.send(Err(Error::new(
                ErrorCode::Internal,
                format!("cannot start the registry runtime: {e}"),
            )));
            return;
        }
    };
    // The socket is removed when the state (which holds its claim) goes, with the `LocalSet` at the
    // latest.
    tokio::task::LocalSet::new()
        .block_on(&runtime, serve(config, commands, registered, stop, bound));
}

async fn serve(
    config: RegistryConfig,
    mut commands: mpsc::UnboundedReceiver<Command>,
    registered: watch::Sender<Registered>,
    mut stop: oneshot::Receiver<()>,
    bound: oneshot::Sender<Result<Option<SocketAddr>, Error>>,
) {
    let (state, tcp_addr) = match State::start(config, registered).await {
        Ok(started) => started,
        Err(e) => {
            let _ = bound.send(Err(e));
            return;
        }
    };
    let _ = bound.send(Ok(tcp_addr));
    loop {
        tokio::select! {
            _ = &mut stop => break,
            command = commands.recv() => match command {
                Some(command) => handle(&state, command),
                None => break,
            },
        }
    }
    info!("registry stopping");
    // Dropping the LocalSet that runs this future closes every connection.
}

fn handle(state: &Rc<State>, command: Command) {
    match command {
        Command::Invoke {
            path,
            fingerprint,
            input,
            context,
            reply,
        } => {
            let state = state.clone();
            tokio::task::spawn_local(async move {
                let result = state
                    .invoke(&path, fingerprint.as_deref(), &input, &context)
                    .await;
                let _ = reply.send(result);
            });
        }
        Command::List { reply } => {
            let _ = reply.send(state.list());
        }
        Command::Local(task) => task(LocalRegistry {
            state: state.clone(),
        }),
    }
}

struct Listeners {
    unix: Option<(tokio::net::UnixListener, SocketClaim)>,
    tcp: Option<tokio::net::TcpListener>,
}

async fn bind(config: &RegistryConfig) -> Result<Listeners, Error> {
    let io = |what: String, e: std::io::Error| {
        Error::new(ErrorCode::Unavailable, format!("{what}: {e}"))
    };
    let unix = match &config.socket {
        Some(path) => {
            let claimed = socket::claim(path).await?;
            info!(socket = %path.display(), "registry listening");
            Some(claimed)
        }
        None => None,
    };
    let tcp = match &config.tcp {
        Some(tcp) => {
            let listener = tokio::net::TcpListener::bind(tcp.addr)
                .await
                .map_err(|e| io(format!("cannot listen on {}", tcp.addr), e))?;
            info!(addr = %listener.local_addr().map_err(|e| io("tcp".into(), e))?, "registry listening on TCP");
            Some(listener)
        }
        None => None,
    };
    Ok(Listeners { unix, tcp })
}

async fn accept_unix(state: Weak<State>, listener: tokio::net::UnixListener) {
    loop {
        let accepted = listener.accept().await;
        let Some(state) = state.upgrade() else { return };
        match accepted {
            Ok((stream, _)) => state.serve_connection(stream, false),
            Err(e) => {
                if let Some(held_back) = state.warnings.admit() {
                    warn!(error = %e, held_back, "accept failed on the Unix socket");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn accept_tcp(state: Weak<State>, listener: tokio::net::TcpListener) {
    loop {
        let accepted = listener.accept().await;
        let Some(state) = state.upgrade() else { return };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                debug!(%peer, "TCP connection");
                state.serve_connection(stream, true);
            }
            Err(e) => {
                if let Some(held_back) = state.warnings.admit() {
                    warn!(error = %e, held_back, "accept failed on the TCP listener");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Runs one connection's RPC system until it ends. A connection not authenticated within
/// `handshake_timeout` (when given) is closed (its system dropped), and so is one whose handshake is
/// told to close.
async fn run_connection(
    system: RpcSystem<rpc_twoparty_capnp::Side>,
    handshake: &Handshake,
    handshake_timeout: Option<Duration>,
) -> Result<(), String> {
    let mut system = std::pin::pin!(system);
    let mut deadline = std::pin::pin!(async {
        match handshake_timeout {
            Some(timeout) => tokio::time::sleep(timeout).await,
            None => std::future::pending().await,
        }
    });
    let mut deadline_passed = false;
    loop {
        tokio::select! {
            ended = &mut system => return ended.map_err(|e| e.to_string()),
            () = &mut deadline, if !deadline_passed => {
                deadline_passed = true;
                if !handshake.is_authenticated() {
                    return Err(format!(
                        "not authenticated within the handshake timeout ({} ms)",
                        handshake_timeout.unwrap_or_default().as_millis()
                    ));
                }
            }
            why = handshake.closing() => {
                // Let the last answer out, briefly.
                let _ = tokio::time::timeout(Duration::from_millis(100), &mut system).await;
                return Err(why.into());
            }
        }
    }
}

/// One method of a registered IOmod.
#[derive(Clone)]
struct MethodEntry {
    ordinal: u16,
    /// The fingerprint of its contract (empty when the IOmod registered none).
    fingerprint: String,
    /// Its contract, when the IOmod registered one.
    contract: Option<Arc<Contract>>,
}

/// One registered IOmod instance.
struct Entry {
    info: IomodInfo,
    methods: HashMap<String, MethodEntry>,
    /// The callers seen, with their versions and verdicts.
    callers: Callers,
    instance_id: u64,
    connection_id: u64,
    service: capnp::capability::Client,
    state: Cell<IomodState>,
    registered_at: SystemTime,
    calls_started: Cell<u64>,
    calls_failed: Cell<u64>,
    control: control::Client,
    health_task: tokio::task::AbortHandle,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.health_task.abort();
    }
}

struct State {
    config: RegistryConfig,
    limits: ConnectionLimits,
    /// The registered instances of each coordinates, oldest first. The newest one that is ready serves
    /// calls; an instance replaced by a newer registration stays, as a fallback, until it goes away.
    entries: RefCell<BTreeMap<String, Vec<Rc<Entry>>>>,
    /// Coordinates whose every instance has left (deregistered, disconnected or evicted), with when and
    /// why the last one left: calls to them fail with `unavailable` (the IOmod is known here and may be
    /// restarting), not `notFound`. At most [`MAX_GONE`], the oldest forgotten first.
    gone: RefCell<HashMap<String, (Instant, String)>>,
    /// Every open connection's handshake, through which it can be closed.
    handshakes: RefCell<HashMap<u64, Rc<Handshake>>>,
    next_instance: Cell<u64>,
    next_connection: Cell<u64>,
    /// Open connections, and those of them not yet authenticated (TCP connections before `Gate.open`).
    connections: Cell<usize>,
    unauthenticated: Cell<usize>,
    /// Warnings any peer can provoke (refused connections, wrong tokens, failed accepts), at most one a
    /// second.
    warnings: Throttle,
    registered: watch::Sender<Registered>,
    /// The Unix socket this registry bound; dropping it removes the socket.
    _socket: Option<SocketClaim>,
}

impl State {
    /// Binds the listeners and serves them as tasks of the current `LocalSet`; returns the state and the
    /// bound TCP address.
    async fn start(
        config: RegistryConfig,
        registered: watch::Sender<Registered>,
    ) -> Result<(Rc<State>, Option<SocketAddr>), Error> {
        super::raise_fd_limit();
        let listeners = bind(&config).await?;
        let tcp_addr = listeners.tcp.as_ref().and_then(|l| l.local_addr().ok());
        let (unix, claim) = listeners.unix.unzip();
        let state = Rc::new(State {
            limits: ConnectionLimits {
                max_message_bytes: config.max_payload_bytes + 1024 * 1024,
            },
            config,
            entries: RefCell::default(),
            gone: RefCell::default(),
            handshakes: RefCell::default(),
            next_instance: Cell::new(1),
            next_connection: Cell::new(1),
            connections: Cell::new(0),
            unauthenticated: Cell::new(0),
            warnings: Throttle::new(Duration::from_secs(1)),
            registered,
            _socket: claim,
        });
        if let Some(listener) = unix {
            tokio::task::spawn_local(accept_unix(Rc::downgrade(&state), listener));
        }
        if let Some(listener) = listeners.tcp {
            tokio::task::spawn_local(accept_tcp(Rc::downgrade(&state), listener));
        }
        Ok((state, tcp_addr))
    }

    fn serve_connection<S>(self: Rc<Self>, stream: S, tcp: bool)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
    {
        // Over the limits, the connection is closed at once (dropping the stream).
        let refused = if self.connections.get() >= self.config.max_connections {
            Some(("connections", self.config.max_connections))
        } else if tcp && self.unauthenticated.get() >= self.config.max_unauthenticated {
            Some((
                "unauthenticated connections",
                self.config.max_unauthenticated,
            ))
        } else {
            None
        };
        if let Some((what, limit)) = refused {
            if let Some(held_back) = self.warnings.admit() {
                warn!(
                    limit,
                    held_back, "refused a connection: {limit} {what} are open"
                );
            }
            return;
        }
        self.connections.set(self.connections.get() + 1);
        if tcp {
            self.unauthenticated.set(self.unauthenticated.get() + 1);
        }
        let connection_id = self.next_connection.get();
        self.next_connection.set(connection_id + 1);
        let registry: registry::Client = capnp_rpc::new_client(RegistryServer {
            state: Rc::downgrade(&self),
            connection_id,
        });
        let token = if tcp {
            self.config
                .tcp
                .as_ref()
                .map(|t| Rc::<str>::from(t.token.as_str()))
        } else {
            None
        };
        // The Unix socket's permissions authenticate its peers; a TCP peer must open the gate in time.
        let handshake = Handshake::new(!tcp);
        self.handshakes
            .borrow_mut()
            .insert(connection_id, handshake.clone());
        let gate: gate::Client = capnp_rpc::new_client(GateServer {
            registry,
            token,
            handshake: handshake.clone(),
            state: Rc::downgrade(&self),
        });
        let stream = MessageLimit::new(stream, handshake.clone(), self.limits.max_message_bytes);
        let network = rpc_network(stream, rpc_twoparty_capnp::Side::Server, self.limits);
        let system = RpcSystem::new(network, Some(gate.client));
        let weak = Rc::downgrade(&self);
        let handshake_timeout = tcp.then_some(self.config.handshake_timeout);
        tokio::task::spawn_local(
            async move {
                if let Err(why) = run_connection(system, &handshake, handshake_timeout).await {
                    debug!(why, "connection closed");
                }
                if let Some(state) = weak.upgrade() {
                    state.handshakes.borrow_mut().remove(&connection_id);
                    state
                        .connections
                        .set(state.connections.get().saturating_sub(1));
                    if !handshake.is_authenticated() {
                        state
                            .unauthenticated
                            .set(state.unauthenticated.get().saturating_sub(1));
                    }
                    state.remove_connection(connection_id);
                }
            }
            .instrument(info_span!("connection", id = connection_id, tcp)),
        );
    }

    fn publish(&self) {
        let map: BTreeMap<String, u64> = self
            .entries
            .borrow()
            .iter()
            .filter_map(|(k, instances)| Some((k.clone(), instances.last()?.instance_id)))
            .collect();
        self.registered.send_replace(Arc::new(map));
    }

    fn insert(
        self: &Rc<Self>,
        info: IomodInfo,
        service: capnp::capability::Client,
        control: control::Client,
        connection_id: u64,
    ) -> u64 {
        let instance_id = self.next_instance.get();
        self.next_instance.set(instance_id + 1);
        let coordinates = info.coordinates.to_string();
        let health_task = tokio::task::spawn_local(health_loop(
            Rc::downgrade(self),
            coordinates.clone(),
            instance_id,
            control.clone(),
        ))
        .abort_handle();
        let entry = Rc::new(Entry {
            methods: info
                .methods
                .iter()
                .map(|m| {
                    // Checked by `IomodInfo::validate` at registration.
                    let contract = Contract::parse(&m.contract).ok().map(Arc::new);
                    let method = MethodEntry {
                        ordinal: m.ordinal,
                        fingerprint: m.fingerprint.clone(),
                        contract,
                    };
                    (m.name.clone(), method)
                })
                .collect(),
            callers: Callers::default(),
            info,
            instance_id,
            connection_id,
            service,
            control,
            state: Cell::new(IomodState::Ready),
            registered_at: SystemTime::now(),
            calls_started: Cell::new(0),
            calls_failed: Cell::new(0),
            health_task,
        });
        self.gone.borrow_mut().remove(&coordinates);
        let old = {
            let mut entries = self.entries.borrow_mut();
            let instances = entries.entry(coordinates.clone()).or_default();
            let old = instances.last().map(|e| e.instance_id);
            instances.push(entry);
            old
        };
        match old {
            Some(old) => info!(
                %coordinates,
                old_instance = old,
                new_instance = instance_id,
                "IOmod re-registered; the new instance serves calls, the old one stays as a fallback"
            ),
            None => info!(%coordinates, instance = instance_id, "IOmod registered"),
        }
        self.publish();
        instance_id
    }

    fn remove(&self, coordinates: &str, instance_id: u64, why: &str) {
        let removed = {
            let mut entries = self.entries.borrow_mut();
            let removed = entries.get_mut(coordinates).and_then(|instances| {
                let at = instances
                    .iter()
                    .position(|e| e.instance_id == instance_id)?;
                Some(instances.remove(at))
            });
            if entries.get(coordinates).is_some_and(Vec::is_empty) {
                entries.remove(coordinates);
                self.remember_gone(coordinates, why);
            }
            removed
        };
        if removed.is_some() {
            info!(
                coordinates,
                instance = instance_id,
                why,
                "IOmod deregistered"
            );
            self.publish();
        }
    }

    /// Records that the last instance of `coordinates` left, for `why`.
    fn remember_gone(&self, coordinates: &str, why: &str) {
        let mut gone = self.gone.borrow_mut();
        if gone.len() >= MAX_GONE && !gone.contains_key(coordinates) {
            let oldest = gone
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                gone.remove(&oldest);
            }
        }
        gone.insert(coordinates.to_owned(), (Instant::now(), why.to_owned()));
    }

    fn remove_connection(&self, connection_id: u64) {
        let gone: Vec<(String, u64)> = self
            .entries
            .borrow()
            .iter()
            .flat_map(|(k, instances)| {
                instances
                    .iter()
                    .filter(|e| e.connection_id == connection_id)
                    .map(|e| (k.clone(), e.instance_id))
            })
            .collect();
        for (coordinates, instance_id) in gone {
            self.remove(&coordinates, instance_id, "connection closed");
        }
    }

    /// The newest instance registered as `coordinates`.
    fn current(&self, coordinates: &str) -> Option<Rc<Entry>> {
        self.entries.borrow().get(coordinates)?.last().cloned()
    }

    /// The instance `instance_id` of `coordinates`, while it is registered.
    fn instance(&self, coordinates: &str, instance_id: u64) -> Option<Rc<Entry>> {
        self.entries
            .borrow()
            .get(coordinates)?
            .iter()
            .find(|e| e.instance_id == instance_id)
            .cloned()
    }

    /// The instance that serves calls to `coordinates`: the newest that is ready. When every instance is
    /// draining or unhealthy, or every instance has left, the call fails at once with `unavailable`;
    /// coordinates never registered here are `notFound`.
    fn route(&self, coordinates: &str) -> Result<Rc<Entry>, Error> {
        let entries = self.entries.borrow();
        let Some(newest) = entries.get(coordinates).and_then(|i| i.last()) else {
            if let Some((at, why)) = self.gone.borrow().get(coordinates) {
                return Err(Error::new(
                    ErrorCode::Unavailable,
                    format!(
                        "no instance of `{coordinates}` is registered now: the last one left {} ms ago \
                         ({why}); it may be restarting",
                        at.elapsed().as_millis()
                    ),
                ));
            }
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("no IOmod is registered as `{coordinates}`"),
            ));
        };
        if let Some(ready) = entries[coordinates]
            .iter()
            .rev()
            .find(|e| e.state.get() == IomodState::Ready)
        {
            return Ok(ready.clone());
        }
        let why = match newest.state.get() {
            IomodState::Draining => "is draining",
            _ => "failed its last health check",
        };
        Err(Error::new(
            ErrorCode::Unavailable,
            format!(
                "`{coordinates}` {why} (instance {}); no ready instance is registered",
                newest.instance_id
            ),
        ))
    }

    fn list(&self) -> Vec<IomodStatus> {
        self.entries
            .borrow()
            .values()
            .filter_map(|instances| instances.last())
            .map(|e| IomodStatus {
                info: e.info.clone(),
                instance_id: e.instance_id,
                state: e.state.get(),
                registered_at: e.registered_at,
                calls_started: e.calls_started.get(),
                calls_failed: e.calls_failed.get(),
                callers: e
                    .callers
                    .list()
                    .into_iter()
                    .map(|(method, fingerprint, record)| CallerStatus {
                        method,
                        version: record.version,
                        fingerprint,
                        calls: record.calls,
                        refused: match record.verdict {
                            Ok(()) => String::new(),
                            Err(Some(reason)) => reason,
                            Err(None) => "its contract is not known".to_owned(),
                        },
                    })
                    .collect(),
            })
            .collect()
    }

    async fn invoke(
        &self,
        path: &MethodPath,
        fingerprint: Option<&str>,
        input: &[u8],
        context: &CallContext,
    ) -> Result<Vec<u8>, Error> {
        let (entry, method) = match self.find(path) {
            Ok(found) => found,
            Err(e) => return Err(missing_method(e, fingerprint)),
        };
        if let Some(fingerprint) = fingerprint {
            check_contract(&entry, path, &method, fingerprint)?;
        }
        entry.calls_started.set(entry.calls_started.get() + 1);
        let result = self.forward(&entry, method.ordinal, input, context).await;
        if let Err(e) = &result {
            entry.calls_failed.set(entry.calls_failed.get() + 1);
            debug!(%path, error = %e, "call failed");
        }
        result
    }

    /// The live instance serving `path`, and the method.
    fn find(&self, path: &MethodPath) -> Result<(Rc<Entry>, MethodEntry), Error> {
        let coordinates = path.coordinates().as_str();
        let entry = self.route(coordinates)?;
        let Some(method) = entry.methods.get(path.method()).cloned() else {
            let mut known: Vec<&str> = entry.methods.keys().map(String::as_str).collect();
            known.sort_unstable();
            let has = if known.is_empty() {
                "it declares no methods".to_owned()
            } else {
                format!("it has: {}", known.join(", "))
            };
            return Err(Error::new(
                ErrorCode::MethodNotFound,
                format!("`{coordinates}` has no method `{}`; {has}", path.method()),
            ));
        };
        Ok((entry, method))
    }

    /// Calls the method at `path` with JSON, through the IOmod's `Control.callJson`.
    async fn invoke_json(
        &self,
        path: &MethodPath,
        input: &str,
        deadline: Instant,
    ) -> Result<String, Error> {
        let (entry, _) = self.find(path)?;
        entry.calls_started.set(entry.calls_started.get() + 1);
        let mut request = entry.control.call_json_request();
        request.get().set_method(path.method());
        request.get().set_input(input);
        let outcome = match Unanswered::new(request.send().promise).by(deadline).await {
            None => Err(past_deadline()),
            Some(Err(e)) => Err(Error::from_exception(&e)),
            Some(Ok(response)) => {
                let malformed = |e: capnp::Error| {
                    Error::new(ErrorCode::Internal, format!("malformed JSON result: {e}"))
                };
                let result = response
                    .get()
                    .and_then(|r| r.get_result())
                    .map_err(malformed)?;
                match result.which().map_err(|e| malformed(e.into()))? {
                    json_result::Ok(text) => text
                        .map_err(malformed)?
                        .to_string()
                        .map_err(|e| malformed(e.into())),
                    json_result::Err(error) => Err(Error::read(error.map_err(malformed)?)),
                }
            }
        };
        if matches!(&outcome, Err(e) if e.code != ErrorCode::Method) {
            entry.calls_failed.set(entry.calls_failed.get() + 1);
        }
        outcome
    }

    /// Forwards a call to `entry`: through `Control.call` with its context (protocol version 2), or on the
    /// typed capability (version 1). The input is copied once into the request, the results once out.
    async fn forward(
        &self,
        entry: &Entry,
        ordinal: u16,
        input: &[u8],
        context: &CallContext,
    ) -> Result<Vec<u8>, Error> {
        let max = self.config.max_payload_bytes;
        let deadline = context
            .deadline
            .unwrap_or_else(|| deadline_after(self.config.default_timeout));
        let aligned;
        let bytes = if input.as_ptr().align_offset(8) == 0 {
            input
        } else {
            aligned = input.to_vec();
            &aligned[..]
        };
        let message = read_input(bytes, max)?;
        let root: any_pointer::Reader<'_> = message.get_root().map_err(|e| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("the input's root is invalid: {e}"),
            )
        })?;
        let size = root.target_size().map_err(|e| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("the input is malformed: {e}"),
            )
        })?;
        let malformed = |e: capnp::Error| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("the input is malformed: {e}"),
            )
        };
        if size.cap_count != 0 {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                "the input carries a capability; a call's input must be plain data",
            ));
        }
        if entry.info.protocol_version >= 2 {
            let hint = capnp::MessageSize {
                word_count: size.word_count + 64,
                cap_count: size.cap_count,
            };
            let mut request = entry
                .control
                .client
                .new_call::<control::call_params::Owned, control::call_results::Owned>(
                    <control::Client as capnp::traits::HasTypeId>::TYPE_ID,
                    CONTROL_CALL,
                    Some(hint),
                );
            let mut params = request.get();
            let mut sent = context.clone();
            sent.deadline = Some(deadline);
            sent.write(params.reborrow().init_context());
            params.set_method(ordinal);
            params.init_params().set_as(root).map_err(malformed)?;
            let promise = request.send().promise;
            let response = answer(entry, deadline, promise).await?;
            let results = response
                .get()
                .map(|r| r.get_results())
                .map_err(malformed_results)?;
            results_message(results, max)
        } else {
            let mut request = entry
                .service
                .new_call::<any_pointer::Owned, any_pointer::Owned>(
                    entry.info.interface_id,
                    ordinal,
                    Some(size),
                );
            request.get().set_as(root).map_err(malformed)?;
            let promise = request.send().promise;
            let response = answer(entry, deadline, promise).await?;
            results_message(response.get().map_err(malformed_results)?, max)
        }
    }
}

/// The most coordinates whose instances all left that the registry remembers (see `State::gone`).
const MAX_GONE: usize = 1024;

/// The ordinal of `Control.call` in the protocol.
const CONTROL_CALL: u16 = 2;

/// Reads a call's input message (aligned bytes), refusing trailing bytes.
/// A method the IOmod lacks, called by a caller generated from a manifest that has it (it sent its contract):
/// the two sides were built from different versions, so `incompatible`, with the caller's version when its
/// contract is known. Other callers get `methodNotFound`.
fn missing_method(error: Error, fingerprint: Option<&str>) -> Error {
    let Some(fingerprint) = fingerprint else {
        return error;
    };
    if error.code != ErrorCode::MethodNotFound {
        return error;
    }
    let caller = super::contracts::get(fingerprint)
        .map(|c| format!(" (built for version {})", c.version))
        .unwrap_or_default();
    Error::new(
        ErrorCode::Incompatible,
        format!(
            "{}; the caller{caller} was generated from a manifest that has it: the IOmod is older, or the \
             method was removed",
            error.message
        ),
    )
}

/// Refuses, before the IOmod runs anything, a call whose caller was generated from a contract that does not
/// fit the method's ([`Callers::check`]), and counts the caller. An IOmod that registered no fingerprint
/// accepts every caller.
fn check_contract(
    entry: &Entry,
    path: &MethodPath,
    method: &MethodEntry,
    fingerprint: &str,
) -> Result<(), Error> {
    if method.fingerprint.is_empty() {
        return Ok(());
    }
    let (coordinates, version) = (path.coordinates(), &entry.info.version);
    let served = Served {
        fingerprint: &method.fingerprint,
        contract: method.contract.as_deref(),
        version,
    };
    let reason = match entry.callers.check(path.method(), fingerprint, served) {
        Ok(()) => return Ok(()),
        Err(Some(reason)) => format!("{coordinates}: {reason}"),
        Err(None) => format!(
            "the caller was built for a different `{}` (contract fingerprint {fingerprint}) than version \
             {version} of `{coordinates}` serves ({}), and one of the two contracts is not known",
            path.method(),
            method.fingerprint,
        ),
    };
    Err(Error::new(
        ErrorCode::Incompatible,
        format!(
            "{reason}. Rebuild the function with the guest crate of the IOmod's manifest, or run a version \
             of the IOmod it fits"
        ),
    ))
}

fn read_input(
    mut bytes: &[u8],
    max: usize,
) -> Result<message::Reader<serialize::BufferSegments<&[u8]>>, Error> {
    let mut options = message::ReaderOptions::new();
    options.traversal_limit_in_words(Some(max.div_ceil(8) * 2));
    options.nesting_limit(iomod_sdk::NESTING_LIMIT);
    let message = serialize::read_message_from_flat_slice(&mut bytes, options).map_err(|e| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("the input is not a Cap'n Proto message: {e}"),
        )
    })?;
    if !bytes.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "the input has {} bytes after the end of its message",
                bytes.len()
            ),
        ));
    }
    Ok(message)
}

/// The answer to a forwarded call, or its typed error, by `deadline`.
async fn answer<T: 'static>(
    entry: &Entry,
    deadline: Instant,
    promise: impl std::future::Future<Output = Result<T, capnp::Error>> + 'static,
) -> Result<T, Error> {
    match Unanswered::new(promise).by(deadline).await {
        Some(Ok(response)) => Ok(response),
        Some(Err(e)) => Err(call_failed(entry, &e)),
        None => Err(past_deadline()),
    }
}

fn past_deadline() -> Error {
    Error::new(
        ErrorCode::DeadlineExceeded,
        "the call did not finish before its deadline",
    )
}

/// A forwarded call the IOmod has not answered yet: dropped (past its deadline, or because its caller
/// gave it up, such as a wasm function's `call_forget` or the end of its run) it is lingered.
struct Unanswered<F: std::future::Future + 'static>(Option<std::pin::Pin<Box<F>>>);

impl<F: std::future::Future + 'static> Unanswered<F> {
    fn new(call: F) -> Self {
        Unanswered(Some(Box::pin(call)))
    }

    /// The call's outcome, if it comes by `deadline`; else `None`, and the call lingers once dropped.
    async fn by(mut self, deadline: Instant) -> Option<F::Output> {
        let call = self.0.as_mut()?;
        let outcome = tokio::time::timeout_at(deadline.into(), call.as_mut())
            .await
            .ok()?;
        self.0 = None;
        Some(outcome)
    }
}

impl<F: std::future::Future + 'static> Drop for Unanswered<F> {
    fn drop(&mut self) {
        // Not while unwinding (a second panic would abort), nor once the runtime is gone. Forwarded calls
        // run on the registry's thread, inside its `LocalSet`, where `spawn_local` cannot fail (a
        // `LocalSet` shutting down drops what is spawned into it).
        if let Some(call) = self.0.take() {
            if !std::thread::panicking() && tokio::runtime::Handle::try_current().is_ok() {
                linger(call);
            }
        }
    }
}

/// How long a call past its deadline, or given up, is kept for the IOmod's answer (see [`linger`]).
const LINGER: Duration = Duration::from_secs(10);

/// Keeps a call that outlived its deadline (or that its caller gave up) until the IOmod answers it, for
/// up to [`LINGER`], instead of dropping it at once. Dropping an RPC call sends `Finish` before the
/// IOmod's `Return`; capnp-rpc 0.27 then cancels the method body without ever sending a `Return` or
/// forgetting the call, so its entry stays in the IOmod's answer table and in the registry's question
/// table for as long as the connection lasts (hundreds of bytes per call: the soak found the IOmod 30%
/// larger after 7,800 such calls). The SDK ends a method body at the call's deadline (`Control.call`
/// carries it), so the answer follows at the latest then.
fn linger(call: std::pin::Pin<Box<impl std::future::Future + 'static>>) {
    tokio::task::spawn_local(async move {
        let _ = tokio::time::timeout(LINGER, call).await;
    });
}

/// The typed error of a call that failed in transport or in the IOmod outside its results.
fn call_failed(entry: &Entry, e: &capnp::Error) -> Error {
    let mut err = Error::from_exception(e);
    if err.code == ErrorCode::Unavailable && e.kind == capnp::ErrorKind::Disconnected {
        err.message = format!(
            "`{}` went away during the call: {}",
            entry.info.coordinates, err.message
        );
    }
    err
}

fn malformed_results(e: capnp::Error) -> Error {
    Error::new(
        ErrorCode::Internal,
        format!("the IOmod's results are malformed: {e}"),
    )
}

/// The results message of a call, copied out of the response, within the payload limit.
fn results_message(root: any_pointer::Reader<'_>, max: usize) -> Result<Vec<u8>, Error> {
    let size = root.target_size().map_err(malformed_results)?;
    if size.cap_count != 0 {
        // A results message leaves the connection as bytes, where a capability means nothing.
        return Err(Error::new(
            ErrorCode::Internal,
            format!(
                "the IOmod's results carry {} capabilit{}; results must be plain data",
                size.cap_count,
                if size.cap_count == 1 { "y" } else { "ies" }
            ),
        ));
    }
    let words = usize::try_from(size.word_count).unwrap_or(usize::MAX);
    let estimate = words.saturating_add(2).saturating_mul(8);
    if estimate > max {
        return Err(Error::new(
            ErrorCode::TooLarge,
            format!("the output is about {estimate} bytes; the limit is {max} bytes"),
        ));
    }
    flat_message(root, words).map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("cannot copy the IOmod's results: {e}"),
        )
    })
}

/// The registry as seen from its own thread: calls made here need no thread hand-off. Obtained through
/// [`super::Registry::run_local`]; it cannot leave that thread.
#[derive(Clone)]
pub struct LocalRegistry {
    state: Rc<State>,
}

impl std::fmt::Debug for LocalRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRegistry").finish_non_exhaustive()
    }
}

impl LocalRegistry {
    /// Starts a registry on the current thread, inside a `LocalSet`: binds its listeners and serves them as
    /// local tasks, which end when the `LocalSet` does; the socket is removed when the last of them and
    /// the returned handle are gone. A worker thread of the runtime runs one (its lane), so that its calls
    /// need no thread hand-off.
    pub async fn start(config: RegistryConfig) -> Result<LocalRegistry, Error> {
        config.check()?;
        let (registered, _) = watch::channel(Registered::default());
        let (state, _) = State::start(config, registered).await?;
        Ok(LocalRegistry { state })
    }

    /// Whether an IOmod is registered here as `coordinates`.
    pub fn is_registered(&self, coordinates: &iomod_sdk::Coordinates) -> bool {
        self.state.current(coordinates.as_str()).is_some()
    }

    /// Every IOmod registered here, sorted by coordinates.
    pub fn list(&self) -> Vec<IomodStatus> {
        self.state.list()
    }

    /// Calls the method at `path` with its input as JSON and returns its output as JSON (see
    /// `Control.callJson` in the protocol). A method's own named error is a `method` error whose `detail`
    /// is the error's value as JSON.
    pub async fn invoke_json(
        &self,
        path: &str,
        input: &str,
        timeout: Option<Duration>,
    ) -> Result<String, Error> {
        let config = &self.state.config;
        let deadline = deadline_after(timeout.unwrap_or(config.default_timeout));
        let (path, _) = check_call(path, input.as_bytes(), deadline, config.max_payload_bytes)?;
        self.state.invoke_json(&path, input, deadline).await
    }

    /// Like [`super::Registry::invoke`], on the registry's thread; the input is read in place.
    pub async fn invoke(
        &self,
        path: &str,
        input: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>, Error> {
        let deadline = deadline_after(timeout.unwrap_or(self.state.config.default_timeout));
        let context = CallContext {
            deadline: Some(deadline),
            ..CallContext::default()
        };
        self.invoke_with(path, input, &context).await
    }

    /// [`LocalRegistry::invoke`] with the call's context (deadline and trace context), which travels to
    /// the IOmod; without a deadline the registry's default timeout applies.
    pub async fn invoke_with(
        &self,
        path: &str,
        input: &[u8],
        context: &CallContext,
    ) -> Result<Vec<u8>, Error> {
        let config = &self.state.config;
        let deadline = context
            .deadline
            .unwrap_or_else(|| deadline_after(config.default_timeout));
        let (path, fingerprint) = check_call(path, input, deadline, config.max_payload_bytes)?;
        self.state
            .invoke(&path, fingerprint.as_deref(), input, context)
            .await
    }
}

/// A standalone message whose root is a copy of `root` (of `words` words), in standard framing. The data is
/// copied once, straight into the returned buffer.
fn flat_message(root: any_pointer::Reader<'_>, words: usize) -> capnp::Result<Vec<u8>> {
    // One segment, holding the root pointer and the content, after the 8-byte frame header.
    let allocator = FramedAllocator::new(words + 1);
    if !allocator.is_aligned() {
        let mut message = message::Builder::new_default();
        message.set_root(root)?;
        return Ok(serialize::write_message_to_words(&message));
    }
    let mut message = message::Builder::new(allocator);
    message.set_root(root)?;
    let segments = message.get_segments_for_output();
    if segments.len() != 1 {
        // It did not fit the first segment (it always should): frame the segments as they are.
        return Ok(serialize::write_message_to_words(&message));
    }
    let used_words = segments[0].len() / 8;
    let mut buffer = message.into_allocator().buffer;
    let header = u32::try_from(used_words)
        .map_err(|_| capnp::Error::failed("the message is too large".into()))?;
    // Segment count minus one (0) is already in bytes 0..4.
    buffer[4..8].copy_from_slice(&header.to_le_bytes());
    buffer.truncate(8 + used_words * 8);
    Ok(buffer)
}

/// Hands out, as the first segment of a message, the part of its buffer after an 8-byte frame header, and
/// leaves that segment's contents in place when the message is dropped, so that the buffer holds the framed
/// message. Any further segment comes from the heap.
struct FramedAllocator {
    buffer: Vec<u8>,
    first_handed_out: bool,
    heap: message::HeapAllocator,
}

impl FramedAllocator {
    fn new(first_segment_words: usize) -> Self {
        Self {
            buffer: vec![0; 8 + first_segment_words * 8],
            first_handed_out: false,
            heap: message::HeapAllocator::new(),
        }
    }

    fn first_segment(&mut self) -> *mut u8 {
        self.buffer[8..].as_mut_ptr()
    }

    fn is_aligned(&self) -> bool {
        self.buffer[8..].as_ptr().align_offset(8) == 0
    }
}

// SAFETY: the first segment is the zero-initialized tail of `buffer`, 8-byte aligned (checked by the only
// caller before use), valid until the allocator is dropped (the Vec is never resized while it is lent), and
// handed out at most once, so it never overlaps another segment nor is handed out dirty. Other segments come
// from `HeapAllocator`, which upholds the contract itself.
unsafe impl message::Allocator for FramedAllocator {
    fn allocate_segment(&mut self, minimum_size: u32) -> (std::ptr::NonNull<u8>, u32) {
        let words = (self.buffer.len() - 8) / 8;
        if !self.first_handed_out && minimum_size as usize <= words {
            if let (Some(ptr), Ok(words)) = (
                std::ptr::NonNull::new(self.first_segment()),
                u32::try_from(words),
            ) {
                self.first_handed_out = true;
                return (ptr, words);
            }
        }
        self.heap.allocate_segment(minimum_size)
    }

    unsafe fn deallocate_segment(
        &mut self,
        ptr: std::ptr::NonNull<u8>,
        word_size: u32,
        words_used: u32,
    ) {
        if ptr.as_ptr() == self.first_segment() {
            // Keep the contents: they are the message.
            return;
        }
        // SAFETY: every other segment came from `self.heap`, with these sizes.
        unsafe { self.heap.deallocate_segment(ptr, word_size, words_used) }
    }
}

async fn health_loop(
    state: Weak<State>,
    coordinates: String,
    instance_id: u64,
    control: control::Client,
) {
    let mut failures: u32 = 0;
    loop {
        let Some(interval) = state.upgrade().map(|s| s.config.health_interval) else {
            return;
        };
        tokio::time::sleep(interval).await;
        let Some(timeout) = state.upgrade().map(|s| s.config.health_timeout) else {
            return;
        };
        let check = async {
            let response = control.health_request().send().promise.await?;
            let status = response.get()?.get_health()?.get_status()?;
            Ok::<_, capnp::Error>(status)
        };
        let new_state = match tokio::time::timeout(timeout, check).await {
            Ok(Ok(health::Status::Serving | health::Status::Degraded)) => IomodState::Ready,
            Ok(Ok(health::Status::Draining)) => IomodState::Draining,
            Ok(Err(e)) => {
                warn!(%coordinates, error = %e, "health check failed");
                IomodState::Unhealthy
            }
            Err(_) => {
                warn!(%coordinates, timeout_ms = timeout.as_millis() as u64, "health check timed out");
                IomodState::Unhealthy
            }
        };
        let Some(state) = state.upgrade() else { return };
        let Some(entry) = state.instance(&coordinates, instance_id) else {
            return;
        };
        entry.state.set(new_state);
        failures = match new_state {
            IomodState::Unhealthy => failures.saturating_add(1),
            _ => 0,
        };
        if failures >= state.config.evict_after {
            // A peer that went away without closing its connection (a host gone, a TCP connection cut
            // silently) never answers again: forget it, and close its connection.
            let why = format!("failed {failures} health checks in a row");
            warn!(%coordinates, instance = instance_id, "IOmod evicted: {why}");
            state.remove(&coordinates, instance_id, &why);
            let handshake = state.handshakes.borrow().get(&entry.connection_id).cloned();
            if let Some(handshake) = handshake {
                handshake.close("its IOmod failed its health checks");
            }
            return;
        }
    }
}

struct GateServer {
    registry: registry::Client,
    /// The token TCP connections must present; `None` on the Unix socket.
    token: Option<Rc<str>>,
    handshake: Rc<Handshake>,
    state: Weak<State>,
}

/// Compares in time that depends only on the lengths, not on where the first difference is.
fn tokens_match(expected: &str, presented: &str) -> bool {
    let (a, b) = (expected.as_bytes(), presented.as_bytes());
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(!x);
    }
    diff == 0
}

impl gate::Server for GateServer {
    async fn open(
        self: Rc<Self>,
        params: gate::OpenParams,
        mut results: gate::OpenResults,
    ) -> Result<(), capnp::Error> {
        let presented = params.get()?.get_token()?.to_str().unwrap_or("");
        let mut result = results.get().init_result();
        match &self.token {
            Some(expected) if !tokens_match(expected, presented) => {
                let message = if presented.is_empty() {
                    "this registry requires a token over TCP"
                } else {
                    "wrong token"
                };
                let closing = self.handshake.failed_open();
                let state = self.state.upgrade();
                if let Some(held_back) = state.as_ref().and_then(|s| s.warnings.admit()) {
                    warn!(message, closing, held_back, "rejected a TCP connection");
                }
                Error::new(ErrorCode::Unauthenticated, message).write(result.init_error());
            }
            _ => {
                if self.handshake.authenticate() {
                    if let Some(state) = self.state.upgrade() {
                        state
                            .unauthenticated
                            .set(state.unauthenticated.get().saturating_sub(1));
                    }
                }
                result.set_registry(self.registry.clone());
            }
        }
        Ok(())
    }
}

struct RegistryServer {
    state: Weak<State>,
    connection_id: u64,
}

impl RegistryServer {
    fn state(&self) -> Result<Rc<State>, capnp::Error> {
        self.state
            .upgrade()
            .ok_or_else(|| capnp::Error::disconnected("the registry is stopping".into()))
    }

    fn check_registration(
        &self,
        params: &registry::RegisterParams,
    ) -> Result<(IomodInfo, control::Client, capnp::capability::Client), Error> {
        let malformed = |e: capnp::Error| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("malformed registration: {e}"),
            )
        };
        let p = params.get().map_err(malformed)?;
        let info = IomodInfo::read(p.get_info().map_err(malformed)?)?;
        if !(MIN_PROTOCOL_VERSION..=MAX_PROTOCOL_VERSION).contains(&info.protocol_version) {
            return Err(Error::new(
                ErrorCode::Incompatible,
                format!(
                    "`{}` speaks protocol version {}; this registry supports versions {MIN_PROTOCOL_VERSION} to {MAX_PROTOCOL_VERSION}",
                    info.coordinates, info.protocol_version
                ),
            ));
        }
        info.validate()?;
        let control = p.get_control().map_err(malformed)?;
        let service = p.get_service().get_as_capability().map_err(malformed)?;
        Ok((info, control, service))
    }
}

impl registry::Server for RegistryServer {
    async fn register(
        self: Rc<Self>,
        params: registry::RegisterParams,
        mut results: registry::RegisterResults,
    ) -> Result<(), capnp::Error> {
        let state = self.state()?;
        let mut result = results.get().init_result();
        match self.check_registration(&params) {
            Ok((info, control, service)) => {
                let coordinates = info.coordinates.to_string();
                let instance_id = state.insert(info, service, control, self.connection_id);
                result.set_registration(capnp_rpc::new_client(RegistrationServer {
                    state: Rc::downgrade(&state),
                    coordinates,
                    instance_id,
                }));
            }
            Err(err) => {
                warn!(error = %err, "registration rejected");
                err.write(result.init_error());
            }
        }
        Ok(())
    }

    async fn list(
        self: Rc<Self>,
        _: registry::ListParams,
        mut results: registry::ListResults,
    ) -> Result<(), capnp::Error> {
        let statuses = self.state()?.list();
        let mut list = results.get().init_iomods(statuses.len() as u32);
        for (i, status) in statuses.iter().enumerate() {
            status.write(list.reborrow().get(i as u32));
        }
        Ok(())
    }

    async fn call_json(
        self: Rc<Self>,
        params: registry::CallJsonParams,
        mut results: registry::CallJsonResults,
    ) -> Result<(), capnp::Error> {
        let p = params.get()?;
        let path = p.get_path()?.to_str().unwrap_or("").to_owned();
        let input = p.get_input()?.to_str().unwrap_or("").to_owned();
        let timeout = match p.get_timeout_ms() {
            0 => None,
            ms => Some(Duration::from_millis(u64::from(ms))),
        };
        let local = LocalRegistry {
            state: self.state()?,
        };
        let mut result = results.get().init_result();
        match local.invoke_json(&path, &input, timeout).await {
            Ok(output) => result.set_ok(&output[..]),
            Err(error) => error.write(result.init_err()),
        }
        Ok(())
    }

    async fn wait_ready(
        self: Rc<Self>,
        params: registry::WaitReadyParams,
        mut results: registry::WaitReadyResults,
    ) -> Result<(), capnp::Error> {
        let p = params.get()?;
        let mut coordinates = Vec::new();
        for text in p.get_coordinates()?.iter() {
            let text = text?.to_str().unwrap_or("");
            match text.parse() {
                Ok(c) => coordinates.push(c),
                Err(e) => {
                    Error::new(ErrorCode::InvalidInput, format!("{e}"))
                        .write(results.get().init_error());
                    return Ok(());
                }
            }
        }
        let timeout = Duration::from_millis(u64::from(p.get_timeout_ms()));
        let receiver = self.state()?.registered.subscribe();
        if let Err(err) = wait_registered(receiver, &coordinates, timeout).await {
            err.write(results.get().init_error());
        }
        Ok(())
    }
}

struct RegistrationServer {
    state: Weak<State>,
    coordinates: String,
    instance_id: u64,
}

impl registration::Server for RegistrationServer {
    async fn instance_id(
        self: Rc<Self>,
        _: registration::InstanceIdParams,
        mut results: registration::InstanceIdResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_id(self.instance_id);
        Ok(())
    }
}

impl Drop for RegistrationServer {
    fn drop(&mut self) {
        if let Some(state) = self.state.upgrade() {
            state.remove(&self.coordinates, self.instance_id, "registration dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{any_pointer, flat_message, message, serialize, tokens_match};
    use iomod_sdk::{Error, ErrorCode};

    #[test]
    fn flat_message_copies_the_root_once_and_frames_it() {
        for detail_len in [0, 1, 7, 100, 70_000] {
            let mut source = message::Builder::new_default();
            let original = Error::method("Named", "a message", vec![9; detail_len]);
            original.write(source.init_root());
            let root: any_pointer::Reader<'_> = source.get_root_as_reader().unwrap();
            let words = usize::try_from(root.target_size().unwrap().word_count).unwrap();
            let flat = flat_message(root, words).unwrap();
            let reader = serialize::read_message_from_flat_slice(
                &mut &flat[..],
                message::ReaderOptions::new(),
            )
            .unwrap();
            let copy = Error::read(reader.get_root().unwrap());
            assert_eq!(copy, original);
            assert_eq!(copy.code, ErrorCode::Method);
            assert_eq!(flat.len(), 8 + (words + 1) * 8, "no slack for {detail_len}");
        }
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_match("0123456789abcdef", "0123456789abcdef"));
        assert!(!tokens_match("0123456789abcdef", "0123456789abcdeF"));
        assert!(!tokens_match("0123456789abcdef", "0123456789abcde"));
        assert!(!tokens_match("0123456789abcdef", "0123456789abcdef0"));
        assert!(!tokens_match("0123456789abcdef", ""));
    }
}
