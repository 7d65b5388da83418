//! The host side of the IOmod call ABI (module `iomod`): `call_start`, `call_start_contract`, `call_poll`,
//! `call_read`, `wait`.
//! Every pointer, length and id from the guest is checked; failures are return values, never traps.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use iomod_sdk::{CallContext, Error, ErrorCode, MethodPath, TraceParent};
use tokio::sync::Notify;
use tracing::Instrument;
use wasmtime::{Caller, Engine, Extern, ExternType, FuncType, Linker, Module, Store};

use super::{FunctionConfig, RunError, RunOptions, RunState};
use crate::registry::{LocalRegistry, contracts};

/// Told of each IOmod call a function makes (the warm runtime's metrics implement it).
pub trait CallObserver: Send + Sync {
    /// A call to `path` (`org.ns.name.method`) was forwarded.
    fn call_started(&self, path: &str);
    /// A call to `path` ended with `outcome` after `elapsed`.
    fn call_finished(&self, path: &str, outcome: CallOutcome, elapsed: Duration);
}

/// How an IOmod call ended, as observed by the host (a method's own named error is part of its results,
/// so it counts as `Ok` here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The IOmod answered with the method's results.
    Ok,
    /// The call failed with this code.
    Error(ErrorCode),
    /// The call was given up before it finished: the function dropped it (`call_forget`), or its run
    /// ended first.
    Cancelled,
}

impl CallOutcome {
    /// `ok`, or the error code's name (`unavailable`, `deadlineExceeded`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Error(code) => code.as_str(),
            CallOutcome::Cancelled => "cancelled",
        }
    }
}

/// The longest method path a guest may pass.
const MAX_PATH_LEN: u32 = 1024;

/// `call_start`: a pointer or length lies outside the guest's memory.
pub const ERR_OUT_OF_BOUNDS: i64 = -2;
/// `call_start`: the function already has as many calls pending (in flight, or finished and not read) as
/// its `max_pending_calls` allows.
pub const ERR_TOO_MANY_CALLS: i64 = -3;
/// `call_start`: the call's input, with the inputs of the calls in flight and the results not read yet,
/// would be more than the function's `max_pending_bytes`.
pub const ERR_TOO_MANY_BYTES: i64 = -4;
/// `call_poll`, `call_read`, `call_forget`: no such call (never started, already read or forgotten).
pub const ERR_UNKNOWN_CALL: i64 = -2;
/// `call_read`: the call has not finished.
pub const ERR_NOT_FINISHED: i32 = -3;
/// `call_read`: the destination lies outside the guest's memory.
pub const ERR_READ_OUT_OF_BOUNDS: i32 = -4;
/// `call_read`: `len` is not the result's length.
pub const ERR_WRONG_LENGTH: i32 = -5;

/// The most of a `fail` message the host keeps.
const MAX_FAIL_MESSAGE: u32 = 4096;

/// The function called `fail`: it ends the run with this message.
#[derive(Debug)]
pub(super) struct Failed(pub(super) String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failed {}

/// The functions this host provides to modules, with their types, by module and name.
pub(super) struct Provided(BTreeMap<(String, String), FuncType>);

impl Provided {
    /// The functions `linker` defines (their types need a store: one that runs nothing).
    pub(super) fn of(engine: &Engine, linker: &Linker<RunState>) -> Provided {
        let mut store = Store::new(engine, RunState::probe());
        let externs: Vec<(String, String, Extern)> = linker
            .iter(&mut store)
            .map(|(module, name, item)| (module.to_owned(), name.to_owned(), item))
            .collect();
        Provided(
            externs
                .into_iter()
                .filter_map(|(module, name, item)| {
                    let ty = item.into_func()?.ty(&store);
                    Some(((module, name), ty))
                })
                .collect(),
        )
    }

    /// `module::{a, b, ...}` for each module, what the host provides.
    fn describe(&self) -> String {
        let mut modules: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (module, name) in self.0.keys() {
            modules.entry(module).or_default().push(name);
        }
        let modules: Vec<String> = modules
            .into_iter()
            .map(|(module, names)| format!("{module}::{{{}}}", names.join(", ")))
            .collect();
        modules.join(" and ")
    }
}

/// Refuses modules that import anything this host does not provide, or with another type than the
/// host's.
pub(super) fn check_imports(module: &Module, provided: &Provided) -> Result<(), RunError> {
    for import in module.imports() {
        let key = (import.module().to_owned(), import.name().to_owned());
        let Some(host) = provided.0.get(&key) else {
            return Err(RunError::InvalidModule(format!(
                "it imports `{}::{}`, which this host does not provide (it provides {})",
                import.module(),
                import.name(),
                provided.describe()
            )));
        };
        let found = match import.ty() {
            ExternType::Func(ty) if host.matches(&ty) => continue,
            ExternType::Func(ty) => format!("`{}`", signature(&ty)),
            ExternType::Global(_) => "a global".to_owned(),
            ExternType::Table(_) => "a table".to_owned(),
            ExternType::Memory(_) => "a memory".to_owned(),
            ExternType::Tag(_) => "a tag".to_owned(),
        };
        return Err(RunError::InvalidModule(format!(
            "it imports `{}::{}` as {found}, but this host provides `{}` (build the function \
             with the iomod-sdk of this runtime)",
            import.module(),
            import.name(),
            signature(host)
        )));
    }
    Ok(())
}

/// A function type in WebAssembly text: `(func (param i32 i32) (result i64))`.
pub(super) fn signature(ty: &FuncType) -> String {
    let list = |kind: &str, types: Vec<String>| {
        if types.is_empty() {
            String::new()
        } else {
            format!(" ({kind} {})", types.join(" "))
        }
    };
    format!(
        "(func{}{})",
        list("param", ty.params().map(|t| t.to_string()).collect()),
        list("result", ty.results().map(|t| t.to_string()).collect())
    )
}

struct Finished {
    bytes: Vec<u8>,
    failed: bool,
}

/// A call in flight: the size of the input it holds, and what cancels its task.
struct InFlight {
    input_bytes: usize,
    abort: Option<tokio::task::AbortHandle>,
}

/// What the host keeps of one run's calls, from `call_start` until `call_read` (or `call_forget`).
#[derive(Default)]
struct Calls {
    /// Calls in flight.
    in_flight: HashMap<u64, InFlight>,
    finished: HashMap<u64, Finished>,
    /// Finished calls `wait` has not reported (and the guest has not read) yet, oldest first.
    unreported: VecDeque<u64>,
    /// The bytes held for the run: the inputs of the calls in flight and the finished calls' bytes.
    held_bytes: usize,
}

impl Calls {
    /// Calls started and not read yet: in flight or finished.
    fn pending(&self) -> usize {
        self.in_flight.len() + self.finished.len()
    }
}

struct Shared {
    calls: Mutex<Calls>,
    notify: Notify,
    /// The largest result the guest may be given (the function's `max_payload_bytes`).
    max_payload_bytes: usize,
    /// The most bytes held for the run (the function's `max_pending_bytes`).
    max_pending_bytes: usize,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the call `id`: its input is released and its outcome kept for the guest to read. A result
    /// larger than the payload limit, or one that would take the bytes held for the run past their limit
    /// (while other bytes are held: one call alone always fits), is replaced by a `tooLarge` error.
    fn finish(&self, id: u64, outcome: Result<Vec<u8>, Error>) {
        let finished = encode(outcome);
        let mut calls = self.lock();
        let Some(in_flight) = calls.in_flight.remove(&id) else {
            // Forgotten by the guest (its result is not wanted), or not a call of this run.
            return;
        };
        calls.held_bytes -= in_flight.input_bytes;
        let len = finished.bytes.len();
        let finished = if len > self.max_payload_bytes {
            encode(Err(Error::new(
                ErrorCode::TooLarge,
                format!(
                    "the call's {} is {len} bytes; the function's limit is {} bytes",
                    if finished.failed { "error" } else { "result" },
                    self.max_payload_bytes
                ),
            )))
        } else if calls.held_bytes > 0 && calls.held_bytes + len > self.max_pending_bytes {
            encode(Err(Error::new(
                ErrorCode::TooLarge,
                format!(
                    "the call's {} is {len} bytes; with the {} bytes of results not read yet and of \
                     inputs of calls in flight, that is more than the function's limit of {} bytes \
                     (read results before starting more calls)",
                    if finished.failed { "error" } else { "result" },
                    calls.held_bytes,
                    self.max_pending_bytes
                ),
            )))
        } else {
            finished
        };
        calls.held_bytes += finished.bytes.len();
        calls.finished.insert(id, finished);
        calls.unreported.push_back(id);
        drop(calls);
        self.notify.notify_one();
    }

    /// Gives up the call `id`: a call in flight is cancelled (its task dropped; the registry keeps the
    /// request until the IOmod answers it), a finished one's result dropped. `false`: no such call.
    fn forget(&self, id: u64) -> bool {
        let mut calls = self.lock();
        if let Some(in_flight) = calls.in_flight.remove(&id) {
            calls.held_bytes -= in_flight.input_bytes;
            drop(calls);
            if let Some(abort) = in_flight.abort {
                abort.abort();
            }
            // `wait` may be waiting for this call alone.
            self.notify.notify_one();
            return true;
        }
        if calls.finished.contains_key(&id) {
            self.take(&mut calls, id);
            return true;
        }
        false
    }

    /// The finished call `id`, removed: the guest has read it.
    fn take(&self, calls: &mut Calls, id: u64) {
        if let Some(finished) = calls.finished.remove(&id) {
            calls.held_bytes -= finished.bytes.len();
        }
        if let Some(at) = calls.unreported.iter().position(|&u| u == id) {
            calls.unreported.remove(at);
        }
    }
}

/// A call's outcome as the guest reads it: the results message, or a protocol `Error` message.
fn encode(outcome: Result<Vec<u8>, Error>) -> Finished {
    match outcome {
        Ok(bytes) => Finished {
            bytes,
            failed: false,
        },
        Err(error) => {
            let mut message = capnp::message::Builder::new_default();
            error.write(message.init_root());
            Finished {
                bytes: capnp::serialize::write_message_to_words(&message),
                failed: true,
            }
        }
    }
}

/// What a run's calls need on the registry thread, where `call_start` runs: the registry, the run's
/// deadline, trace and options, and the calls in flight (dropping the set cancels them).
struct RunContext {
    registry: LocalRegistry,
    deadline: Instant,
    trace: TraceParent,
    options: RunOptions,
    calls: tokio::task::JoinSet<()>,
}

thread_local! {
    /// The runs on this (registry) thread, by run id.
    static RUNS: std::cell::RefCell<HashMap<u64, RunContext>> = std::cell::RefCell::new(HashMap::new());
}

/// Ends a run's registration on the registry thread; cancels its calls still in flight.
pub(crate) struct RunGuard(u64);

impl Drop for RunGuard {
    fn drop(&mut self) {
        let context = RUNS.with(|runs| runs.borrow_mut().remove(&self.0));
        drop(context);
    }
}

/// The calls of one run, in the store's data.
pub(crate) struct CallTable {
    shared: Arc<Shared>,
    run: u64,
    config: Arc<FunctionConfig>,
    next_id: u64,
}

impl CallTable {
    /// A table of no run, for a store that runs nothing: its calls fail as `unavailable`.
    pub(super) fn detached() -> CallTable {
        let config = Arc::new(FunctionConfig::default());
        CallTable {
            shared: Arc::new(Shared {
                calls: Mutex::default(),
                notify: Notify::new(),
                max_payload_bytes: config.max_payload_bytes,
                max_pending_bytes: config.max_pending_bytes,
            }),
            run: u64::MAX,
            config,
            next_id: 0,
        }
    }

    /// The table of a run on the registry thread; the guard ends it (and cancels its calls).
    pub(crate) fn new(
        registry: LocalRegistry,
        config: Arc<FunctionConfig>,
        deadline: Instant,
        options: RunOptions,
    ) -> (CallTable, RunGuard) {
        static NEXT_RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let run = NEXT_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let trace = options
            .trace
            .unwrap_or_else(|| crate::trace::invocation(None));
        RUNS.with(|runs| {
            runs.borrow_mut().insert(
                run,
                RunContext {
                    registry,
                    deadline,
                    trace,
                    options,
                    calls: tokio::task::JoinSet::new(),
                },
            )
        });
        let shared = Arc::new(Shared {
            calls: Mutex::default(),
            notify: Notify::new(),
            max_payload_bytes: config.max_payload_bytes,
            max_pending_bytes: config.max_pending_bytes,
        });
        (
            CallTable {
                shared,
                run,
                config,
                next_id: 0,
            },
            RunGuard(run),
        )
    }

    /// Forwards a checked call through the registry, on this thread, with its context: the earlier of the
    /// call timeout and the run's deadline, and the run's trace with a span id of the call's own.
    fn forward(&self, id: u64, path: String, input: Vec<u8>) {
        let (shared, timeout) = (self.shared.clone(), self.config.call_timeout);
        let spawned = RUNS.with(|runs| {
            let mut runs = runs.borrow_mut();
            let Some(context) = runs.get_mut(&self.run) else {
                return false;
            };
            // Forget the calls that finished, so the set does not grow with the run.
            while context.calls.try_join_next().is_some() {}
            let registry = context.registry.clone();
            let fallback = context.options.fallback.clone();
            let observer = context.options.observer.clone();
            let traceparent = context.trace.child(crate::trace::new_span_id());
            let call = CallContext {
                deadline: Some(iomod_sdk::deadline_after(timeout).min(context.deadline)),
                traceparent: Some(traceparent),
                tracestate: None,
            };
            // The method path without the `@fingerprint`.
            let method_end = path.find('@').unwrap_or(path.len());
            let span = tracing::debug_span!(
                "iomod_call",
                path = &path[..method_end],
                trace_id = %traceparent.trace_id_hex(),
                span_id = %traceparent.parent_id_hex(),
            );
            let task_shared = shared.clone();
            let abort = context.calls.spawn_local(
                async move {
                    let shared = task_shared;
                    let started = Instant::now();
                    let method = &path[..method_end];
                    let observed = Observed::start(observer, method);
                    let mut outcome = registry.invoke_with(&path, &input, &call).await;
                    // An IOmod that registered only with the main registry (no lanes) is reached there.
                    if let (Err(e), Some(fallback)) = (&outcome, &fallback) {
                        if e.code == ErrorCode::NotFound {
                            outcome = fallback.invoke_with(&path, input, call).await;
                        }
                    }
                    // The IOmod is one the function declares: not registered now means starting or
                    // restarting, a failure worth retrying.
                    if let Err(e) = &mut outcome {
                        if e.code == ErrorCode::NotFound {
                            e.code = ErrorCode::Unavailable;
                            e.message = format!(
                                "{} (it is starting, or restarting after a crash)",
                                e.message
                            );
                        }
                    }
                    let elapsed = started.elapsed();
                    let outcome_kind = match &outcome {
                        Ok(_) => CallOutcome::Ok,
                        Err(e) => CallOutcome::Error(e.code),
                    };
                    tracing::debug!(
                        outcome = outcome_kind.as_str(),
                        micros = elapsed.as_micros() as u64,
                        "IOmod call finished"
                    );
                    observed.finish(outcome_kind, elapsed);
                    shared.finish(id, outcome);
                }
                .instrument(span),
            );
            // The task has not run yet (spawned tasks run when this thread next yields): the call is
            // still in flight.
            if let Some(in_flight) = shared.lock().in_flight.get_mut(&id) {
                in_flight.abort = Some(abort);
            }
            true
        });
        if !spawned {
            shared.finish(
                id,
                Err(Error::new(
                    ErrorCode::Unavailable,
                    "the run is not on the registry thread",
                )),
            );
        }
    }

    /// A new call id, counted in flight with the `input_bytes` it holds; an ABI error number when the run
    /// has as many calls pending as it may, or the input would take the bytes held past their limit (one
    /// call alone always fits: its input is within the payload limit).
    fn allocate(&mut self, input_bytes: usize) -> Result<u64, i64> {
        let mut calls = self.shared.lock();
        if calls.pending() >= self.config.max_pending_calls {
            return Err(ERR_TOO_MANY_CALLS);
        }
        if calls.held_bytes > 0
            && calls.held_bytes.saturating_add(input_bytes) > self.config.max_pending_bytes
        {
            return Err(ERR_TOO_MANY_BYTES);
        }
        let id = self.next_id;
        self.next_id += 1;
        calls.in_flight.insert(
            id,
            InFlight {
                input_bytes,
                abort: None,
            },
        );
        calls.held_bytes += input_bytes;
        Ok(id)
    }

    /// Forwards a call whose path [`CallTable::check`] accepted, with its input.
    fn start(&mut self, path: String, input: Vec<u8>) -> i64 {
        match self.allocate(input.len()) {
            Ok(id) => {
                self.forward(id, path, input);
                id as i64
            }
            Err(error) => error,
        }
    }

    /// A call that fails at once with `error`.
    fn reject(&mut self, error: Error) -> i64 {
        match self.allocate(0) {
            Ok(id) => {
                self.shared.finish(id, Err(error));
                id as i64
            }
            Err(error) => error,
        }
    }

    /// Checks a call's path (`org.ns.name.method`, optionally `@fingerprint`) and that the function may
    /// call its IOmod; returns the path to forward, fingerprint included.
    fn check(&self, path: &[u8]) -> Result<String, Error> {
        let full = std::str::from_utf8(path)
            .map_err(|_| Error::new(ErrorCode::InvalidInput, "the method path is not UTF-8"))?;
        let method = full.split_once('@').map_or(full, |(method, _)| method);
        let path: MethodPath = method.parse().map_err(|e: iomod_sdk::ParseError| {
            Error::new(ErrorCode::InvalidInput, e.to_string())
        })?;
        if !self.config.allow.contains(path.coordinates()) {
            return Err(Error::new(
                ErrorCode::Forbidden,
                format!(
                    "this function may not call `{}`: it does not declare that IOmod",
                    path.coordinates()
                ),
            ));
        }
        Ok(full.to_owned())
    }

    fn poll(&self, id: u64) -> i64 {
        let calls = self.shared.lock();
        match calls.finished.get(&id) {
            Some(f) => ((f.bytes.len() as i64) << 1) | i64::from(f.failed),
            None if calls.in_flight.contains_key(&id) => -1,
            None => ERR_UNKNOWN_CALL,
        }
    }
}

/// Tells a run's observer that a call started, then how it ended: `Cancelled` when its task is dropped
/// before it finished (the function forgot the call, or its run ended).
struct Observed<'a> {
    observer: Option<Arc<dyn CallObserver>>,
    method: &'a str,
    started: Instant,
}

impl<'a> Observed<'a> {
    fn start(observer: Option<Arc<dyn CallObserver>>, method: &'a str) -> Self {
        if let Some(observer) = &observer {
            observer.call_started(method);
        }
        Observed {
            observer,
            method,
            started: Instant::now(),
        }
    }

    fn finish(mut self, outcome: CallOutcome, elapsed: Duration) {
        if let Some(observer) = self.observer.take() {
            let label = match outcome {
                // Unknown method names are the guest's to choose: one label for all of them.
                CallOutcome::Error(ErrorCode::MethodNotFound) => unknown_method_label(self.method),
                _ => self.method.to_owned(),
            };
            observer.call_finished(&label, outcome, elapsed);
        }
    }
}

impl Drop for Observed<'_> {
    fn drop(&mut self) {
        if let Some(observer) = self.observer.take() {
            observer.call_finished(self.method, CallOutcome::Cancelled, self.started.elapsed());
        }
    }
}

/// `<coordinates>.<unknown>` for a path whose method the IOmod does not have.
fn unknown_method_label(path: &str) -> String {
    let coordinates = path.rsplit_once('.').map_or(path, |(c, _)| c);
    format!("{coordinates}.<unknown>")
}

/// The method path at `ptr`, if it lies inside the caller's memory and is not too long.
fn read_path(caller: &mut Caller<'_, RunState>, ptr: u32, len: u32) -> Option<Vec<u8>> {
    if len > MAX_PATH_LEN {
        return None;
    }
    read_memory(caller, ptr, len)
}

/// Starts a call of `path` with the input at `input_ptr`; the call's id, or an ABI error number. The input
/// is copied only once the call is known to be allowed and within the limits.
fn start_call(
    caller: &mut Caller<'_, RunState>,
    path: &[u8],
    input_ptr: u32,
    input_len: u32,
) -> i64 {
    if !in_memory(caller, input_ptr, input_len) {
        return ERR_OUT_OF_BOUNDS;
    }
    let calls = &mut caller.data_mut().calls;
    let path = match calls.check(path) {
        Ok(path) => path,
        Err(error) => return calls.reject(error),
    };
    let limit = calls.config.max_payload_bytes;
    if input_len as usize > limit {
        let error = Error::new(
            ErrorCode::TooLarge,
            format!("the call's input is {input_len} bytes; the limit is {limit} bytes"),
        );
        return calls.reject(error);
    }
    let Some(input) = read_memory(caller, input_ptr, input_len) else {
        return ERR_OUT_OF_BOUNDS;
    };
    caller.data_mut().calls.start(path, input)
}

/// Makes the contract of a call's `path` (`…@<fingerprint>`) known to the registries, reading it from the
/// caller's memory only when its fingerprint is new. `Err(None)`: the contract lies outside the memory;
/// `Err(Some)`: the call fails with that error (a contract too large, not UTF-8, malformed, or not the
/// one its fingerprint names).
fn learn_contract(
    caller: &mut Caller<'_, RunState>,
    path: &[u8],
    ptr: u32,
    len: u32,
) -> Result<(), Option<Error>> {
    let Some(fingerprint) = std::str::from_utf8(path)
        .ok()
        .and_then(|p| p.split_once('@'))
        .map(|(_, f)| f)
    else {
        // No fingerprint: nothing to compare; the call goes on as `call_start`'s.
        return Ok(());
    };
    if contracts::known(fingerprint) {
        return Ok(());
    }
    if len as usize > iomod_sdk::contract::MAX_CONTRACT_BYTES {
        return Err(Some(Error::new(
            ErrorCode::TooLarge,
            format!(
                "the call's contract is {len} bytes; the limit is {} bytes",
                iomod_sdk::contract::MAX_CONTRACT_BYTES
            ),
        )));
    }
    let bytes = read_memory(caller, ptr, len).ok_or(None)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Some(Error::new(
            ErrorCode::InvalidInput,
            "the call's contract is not UTF-8",
        ))
    })?;
    contracts::learn(fingerprint, text).map_err(Some)
}

/// Whether `len` bytes at `ptr` lie inside the caller's memory.
fn in_memory(caller: &mut Caller<'_, RunState>, ptr: u32, len: u32) -> bool {
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        return false;
    };
    (ptr as usize)
        .checked_add(len as usize)
        .is_some_and(|end| end <= memory.data_size(&caller))
}

/// `len` bytes at `ptr` of the caller's memory, if they lie inside it.
fn read_memory(caller: &mut Caller<'_, RunState>, ptr: u32, len: u32) -> Option<Vec<u8>> {
    let memory = caller.get_export("memory")?.into_memory()?;
    let data = memory.data(&caller);
    data.get(ptr as usize..(ptr as usize).checked_add(len as usize)?)
        .map(<[u8]>::to_vec)
}

/// The linker with the ABI's functions.
pub(super) fn linker(engine: &Engine) -> wasmtime::Result<Linker<RunState>> {
    let mut linker = Linker::new(engine);
    super::wasi::add_to_linker(&mut linker)?;
    linker.func_wrap(
        "iomod",
        "call_start",
        |mut caller: Caller<'_, RunState>,
         path_ptr: u32,
         path_len: u32,
         input_ptr: u32,
         input_len: u32|
         -> i64 {
            let Some(path) = read_path(&mut caller, path_ptr, path_len) else {
                return ERR_OUT_OF_BOUNDS;
            };
            start_call(&mut caller, &path, input_ptr, input_len)
        },
    )?;
    linker.func_wrap(
        "iomod",
        "call_start_contract",
        |mut caller: Caller<'_, RunState>,
         path_ptr: u32,
         path_len: u32,
         contract_ptr: u32,
         contract_len: u32,
         input_ptr: u32,
         input_len: u32|
         -> i64 {
            let Some(path) = read_path(&mut caller, path_ptr, path_len) else {
                return ERR_OUT_OF_BOUNDS;
            };
            // The contract is read only for a call the function may make.
            if let Err(error) = caller.data().calls.check(&path) {
                return caller.data_mut().calls.reject(error);
            }
            if let Err(error) = learn_contract(&mut caller, &path, contract_ptr, contract_len) {
                return match error {
                    Some(error) => caller.data_mut().calls.reject(error),
                    None => ERR_OUT_OF_BOUNDS,
                };
            }
            start_call(&mut caller, &path, input_ptr, input_len)
        },
    )?;
    linker.func_wrap(
        "iomod",
        "call_poll",
        |caller: Caller<'_, RunState>, id: u64| -> i64 { caller.data().calls.poll(id) },
    )?;
    linker.func_wrap(
        "iomod",
        "call_read",
        |mut caller: Caller<'_, RunState>, id: u64, ptr: u32, len: u32| -> i32 {
            let shared = caller.data().calls.shared.clone();
            let mut calls = shared.lock();
            let Some(finished) = calls.finished.get(&id) else {
                return if calls.in_flight.contains_key(&id) {
                    ERR_NOT_FINISHED
                } else {
                    ERR_UNKNOWN_CALL as i32
                };
            };
            if finished.bytes.len() != len as usize {
                return ERR_WRONG_LENGTH;
            }
            let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
                return ERR_READ_OUT_OF_BOUNDS;
            };
            let Some(target) = memory
                .data_mut(&mut caller)
                .get_mut(ptr as usize..(ptr as usize).saturating_add(len as usize))
            else {
                return ERR_READ_OUT_OF_BOUNDS;
            };
            target.copy_from_slice(&finished.bytes);
            shared.take(&mut calls, id);
            0
        },
    )?;
    linker.func_wrap(
        "iomod",
        "call_forget",
        |caller: Caller<'_, RunState>, id: u64| -> i32 {
            if caller.data().calls.shared.forget(id) {
                0
            } else {
                ERR_UNKNOWN_CALL as i32
            }
        },
    )?;
    linker.func_wrap(
        "iomod",
        "fail",
        |mut caller: Caller<'_, RunState>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            let message = match read_memory(&mut caller, ptr, len.min(MAX_FAIL_MESSAGE)) {
                Some(bytes) => {
                    let mut message = String::from_utf8_lossy(&bytes).into_owned();
                    if len > MAX_FAIL_MESSAGE {
                        message.push_str(" [cut]");
                    }
                    message
                }
                None => format!("(its message, {len} bytes at {ptr}, lies outside its memory)"),
            };
            Err(wasmtime::Error::new(Failed(message)))
        },
    )?;
    linker.func_wrap_async("iomod", "wait", |caller: Caller<'_, RunState>, (): ()| {
        let shared = caller.data().calls.shared.clone();
        Box::new(async move {
            loop {
                let notified = shared.notify.notified();
                {
                    let mut calls = shared.lock();
                    if let Some(id) = calls.unreported.pop_front() {
                        return id as i64;
                    }
                    if calls.in_flight.is_empty() {
                        return -1;
                    }
                }
                notified.await;
            }
        })
    })?;
    Ok(linker)
}
