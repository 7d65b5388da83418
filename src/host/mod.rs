//! The reference wasm host: runs a function (a wasm module) with wasmtime, gives it the IOmod call ABI of
//! `iomod_sdk::guest` (see `docs/abi.md`), and forwards its calls through the registry.
//!
//! A function runs on the thread of a registry ([`Registry::run_local`], or a worker's lane in the warm
//! runtime): its calls reach the registry with no thread hand-off, and while it waits for them (the ABI's
//! `wait`), that thread serves RPC. A function that computes for long yields every epoch tick (10 ms), so
//! RPC and other invocations keep flowing, and is stopped when it exceeds its time budget.
//!
//! Each run gets a fresh instance and store from a pre-linked [`wasmtime::InstancePre`] (with the pooling
//! allocator when the host is configured for it): nothing survives from one run to the next.
//!
//! The function exports `memory`, `iomod_alloc(len) -> ptr` and `iomod_main(ptr, len) -> u64` (the output's
//! pointer in the high 32 bits, its length in the low 32), as `iomod_sdk::function!` generates.

mod abi;
mod wasi;

use std::sync::Arc;
use std::time::{Duration, Instant};

use iomod_sdk::{Coordinates, DEFAULT_MAX_PAYLOAD_BYTES, TraceParent};
use wasmtime::{
    Config, Engine, InstancePre, Linker, Module, Store, StoreLimits, StoreLimitsBuilder,
    UpdateDeadline,
};

use crate::registry::{LocalRegistry, Registry, RegistryHandle};

pub use abi::{CallObserver, CallOutcome};

/// How often the engine's epoch advances: the granularity of time budgets and of a busy guest's yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a function run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The module is not valid wasm, or does not have the exports a function needs.
    #[error("invalid function module: {0}")]
    InvalidModule(String),
    /// The function ran longer than its time budget and was stopped.
    #[error("the function exceeded its time budget of {0:?}")]
    TimeBudget(Duration),
    /// The function trapped (a bug in the function, or a limit such as memory).
    #[error("the function trapped: {0}")]
    Trap(String),
    /// The function ended its run with an error of its own (the ABI's `fail`), for example because it
    /// waits for something that can never happen.
    #[error("the function failed: {0}")]
    Failed(String),
    /// The function called WASI's `proc_exit` instead of returning. A function's result is what
    /// `iomod_main` returns, so even code 0 leaves the run without one.
    #[error("the function exited with code {code} before returning a result{}", written(.wrote))]
    Exited {
        /// The exit code.
        code: u32,
        /// The last lines the function wrote to standard output and error (empty if none).
        wrote: String,
    },
    /// The function returned an output outside its memory, or larger than the payload limit.
    #[error("the function's output is invalid: {0}")]
    BadOutput(String),
    /// The input is larger than the payload limit.
    #[error("the input is {0} bytes; the limit is {1} bytes")]
    InputTooLarge(usize, usize),
    /// The registry has stopped.
    #[error("the registry is not running")]
    RegistryStopped,
}

/// Limits and permissions of one function.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The IOmods the function may call (its declared dependencies). Calls to others fail with `forbidden`.
    pub allow: Vec<Coordinates>,
    /// The most linear memory the function may have (a function has one memory, with 32-bit addresses).
    pub memory_limit_bytes: usize,
    /// The most elements each of the function's tables may have (a table holds the targets of indirect
    /// calls: one element per function whose address is taken).
    pub max_table_elements: usize,
    /// How long one run may take, waiting included.
    pub time_budget: Duration,
    /// The deadline of each IOmod call.
    pub call_timeout: Duration,
    /// The largest input, output, call input or call result.
    pub max_payload_bytes: usize,
    /// The most IOmod calls pending at once: started and not yet read (in flight, or finished with a
    /// result the function has not read). `call_start` fails with `-3` beyond it.
    pub max_pending_calls: usize,
    /// The most bytes the host holds for the function's pending calls at once: the inputs of the calls in
    /// flight and the results not read yet. A call whose input would take it past this fails to start
    /// (`-4`), and a result that would is replaced by a `tooLarge` error; a call alone always fits.
    pub max_pending_bytes: usize,
}

/// The default of [`FunctionConfig::max_table_elements`].
pub const DEFAULT_MAX_TABLE_ELEMENTS: usize = 10_000;

/// The most tables a function may have (the functions `rustc` and `clang` build have one).
pub const MAX_TABLES: usize = 4;

impl Default for FunctionConfig {
    /// No IOmods, 64 MiB of memory, tables of 10,000 elements, 30 s per run, 10 s per call, 16 MiB
    /// payloads, 1,024 calls pending holding 64 MiB at most.
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            memory_limit_bytes: 64 * 1024 * 1024,
            max_table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
            time_budget: Duration::from_secs(30),
            call_timeout: Duration::from_secs(10),
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_pending_calls: 1024,
            max_pending_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How the host's engine allocates instances.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Preallocate instance slots with wasmtime's pooling allocator, for this many instances alive at once
    /// (memories, tables and async stacks are reused from slot to slot, reset between uses). `None`
    /// allocates each instance on demand.
    pub pooling: Option<PoolingLimits>,
}

/// The size of the pooling allocator's preallocated slots.
#[derive(Debug, Clone, Copy)]
pub struct PoolingLimits {
    /// Instances alive at once (the most concurrent runs).
    pub instances: u32,
    /// The largest linear memory one instance may have, in bytes (each function's own limit still
    /// applies).
    pub max_memory_bytes: usize,
}

/// A wasmtime engine with epoch interruption, the ABI's linker, and the thread that advances the epoch.
#[derive(Clone)]
pub struct Host {
    engine: Engine,
    linker: Arc<Linker<RunState>>,
    /// What the linker provides, with the types imports are checked against.
    provided: Arc<abi::Provided>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").finish_non_exhaustive()
    }
}

impl Host {
    /// A host allocating instances on demand; its epoch ticker thread stops when the last clone of the
    /// host (and of its functions) is dropped.
    pub fn new() -> Result<Host, RunError> {
        Self::with_config(&HostConfig::default())
    }

    /// A host with `config`.
    pub fn with_config(host_config: &HostConfig) -> Result<Host, RunError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // One memory per function, with 32-bit addresses: the memory limit is the function's whole memory.
        config.wasm_multi_memory(false);
        config.wasm_memory64(false);
        if let Some(limits) = host_config.pooling {
            let mut pooling = wasmtime::PoolingAllocationConfig::new();
            pooling
                .total_core_instances(limits.instances)
                .total_memories(limits.instances)
                .total_tables(limits.instances)
                .total_stacks(limits.instances)
                .max_memory_size(limits.max_memory_bytes);
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
        }
        let engine = Engine::new(&config)
            .map_err(|e| RunError::InvalidModule(format!("cannot create the engine: {e:#}")))?;
        let linker = abi::linker(&engine)
            .map_err(|e| RunError::InvalidModule(format!("cannot link the ABI: {e:#}")))?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("iomod-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| RunError::InvalidModule(format!("cannot start the epoch thread: {e}")))?;
        let provided = abi::Provided::of(&engine, &linker);
        Ok(Host {
            engine,
            linker: Arc::new(linker),
            provided: Arc::new(provided),
        })
    }

    /// Compiles a function module (binary wasm or text).
    pub fn load(&self, wasm: &[u8], config: FunctionConfig) -> Result<Function, RunError> {
        self.function(self.compile(wasm)?, config)
    }

    /// Compiles a module (binary wasm or text) for this host's engine.
    pub fn compile(&self, wasm: &[u8]) -> Result<Module, RunError> {
        Module::new(&self.engine, wasm).map_err(invalid_wasm)
    }

    /// Compiles a module to the bytes [`Host::deserialize`] loads (for this engine configuration only).
    pub fn precompile(&self, wasm: &[u8]) -> Result<Vec<u8>, RunError> {
        self.engine.precompile_module(wasm).map_err(invalid_wasm)
    }

    /// Loads a module compiled by [`Host::precompile`].
    ///
    /// # Safety
    ///
    /// `bytes` must be exactly what [`Host::precompile`] produced (wasmtime checks the version and the
    /// engine configuration, but it trusts the code in them): read them from a place only this user can
    /// write, and check their integrity first.
    pub unsafe fn deserialize(&self, bytes: &[u8]) -> Result<Module, RunError> {
        // SAFETY: the caller guarantees the bytes came from `precompile`.
        unsafe { Module::deserialize(&self.engine, bytes) }
            .map_err(|e| RunError::InvalidModule(format!("{e:#}")))
    }

    /// A key that changes whenever compiled modules of one engine cannot be loaded by the other: it
    /// hashes the wasmtime version, the target and every compilation setting of the engine.
    pub fn compatibility_key(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// A function from a compiled module: checks its exports and its imports (names and types), and links
    /// it once.
    pub fn function(&self, module: Module, config: FunctionConfig) -> Result<Function, RunError> {
        for (name, what, expected) in [
            ("memory", "memory", "a memory"),
            (
                "iomod_alloc",
                "function",
                "`(func (param i32) (result i32))`",
            ),
            (
                "iomod_main",
                "function",
                "`(func (param i32 i32) (result i64))`",
            ),
        ] {
            let found = match module.get_export(name) {
                None => {
                    return Err(RunError::InvalidModule(format!(
                        "it does not export the {what} `{name}` (write the function with \
                         iomod_sdk::function!)"
                    )));
                }
                Some(wasmtime::ExternType::Func(ty)) => format!("`{}`", abi::signature(&ty)),
                Some(wasmtime::ExternType::Memory(_)) => "a memory".to_owned(),
                Some(wasmtime::ExternType::Global(_)) => "a global".to_owned(),
                Some(wasmtime::ExternType::Table(_)) => "a table".to_owned(),
                Some(wasmtime::ExternType::Tag(_)) => "a tag".to_owned(),
            };
            if found != expected {
                return Err(RunError::InvalidModule(format!(
                    "it exports `{name}` as {found}, but a function exports it as {expected} (write \
                     the function with iomod_sdk::function!)"
                )));
            }
        }
        if !Engine::same(module.engine(), &self.engine) {
            return Err(RunError::InvalidModule(
                "it was compiled by another host's engine".into(),
            ));
        }
        abi::check_imports(&module, &self.provided)?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| RunError::InvalidModule(format!("{e:#}")))?;
        Ok(Function {
            engine: self.engine.clone(),
            pre,
            config: Arc::new(config),
        })
    }
}

/// A compiled function, ready to run any number of times (each run gets a fresh instance).
#[derive(Clone)]
pub struct Function {
    engine: Engine,
    pre: InstancePre<RunState>,
    config: Arc<FunctionConfig>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What one run carries besides its input: its trace, where calls go when the local registry does not
/// have the IOmod, who observes the calls, and a tighter time budget.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// The run's trace context: its IOmod calls carry this trace id, with a span id of their own. A new
    /// trace is started when `None`.
    pub trace: Option<TraceParent>,
    /// Calls to IOmods that are not registered with the local registry go here (the runtime's main
    /// registry, where IOmods that do not know lanes register).
    pub fallback: Option<RegistryHandle>,
    /// Told of every IOmod call (metrics).
    pub observer: Option<Arc<dyn CallObserver>>,
    /// A time budget shorter than the function's own (for example the time Lambda has left).
    pub budget: Option<Duration>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("trace", &self.trace)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

pub(crate) struct RunState {
    limits: StoreLimits,
    pub(crate) calls: abi::CallTable,
    /// What the function wrote to standard output and error (bounded).
    log: Vec<u8>,
    started: Instant,
}

impl RunState {
    /// The state of a store that runs nothing (to learn the types of the linker's functions).
    fn probe() -> RunState {
        RunState {
            limits: StoreLimits::default(),
            calls: abi::CallTable::detached(),
            log: Vec::new(),
            started: Instant::now(),
        }
    }
}

impl Function {
    /// The function's limits and allow-list.
    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }

    /// Runs the function once with `input` and returns its output. IOmod calls go through `registry`.
    pub async fn run(&self, registry: &Registry, input: Vec<u8>) -> Result<Vec<u8>, RunError> {
        let function = self.clone();
        registry
            .run_local(move |local| async move {
                function
                    .run_local(local, input, RunOptions::default())
                    .await
            })
            .await
            .map_err(|_| RunError::RegistryStopped)?
    }

    /// Runs the function once on the thread of `local` (a task started with [`Registry::run_local`], or a
    /// worker of the warm runtime).
    pub async fn run_local(
        &self,
        local: LocalRegistry,
        input: Vec<u8>,
        options: RunOptions,
    ) -> Result<Vec<u8>, RunError> {
        let config = &self.config;
        if input.len() > config.max_payload_bytes {
            return Err(RunError::InputTooLarge(
                input.len(),
                config.max_payload_bytes,
            ));
        }
        let budget = options
            .budget
            .map_or(config.time_budget, |b| b.min(config.time_budget));
        let started = Instant::now();
        let (calls, run_guard) =
            abi::CallTable::new(local, config.clone(), started + budget, options);
        let state = RunState {
            limits: StoreLimitsBuilder::new()
                .memory_size(config.memory_limit_bytes)
                .table_elements(config.max_table_elements)
                .instances(1)
                .memories(1)
                .tables(MAX_TABLES)
                .build(),
            calls,
            log: Vec::new(),
            started,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if started.elapsed() > budget {
                Err(wasmtime::Error::new(BudgetExceeded))
            } else {
                // tokio's yield polls the I/O driver before this run continues, so that the other
                // invocations and the RPC of this thread make progress between two ticks of a busy
                // guest (a plain yield would leave I/O unpolled for dozens of ticks).
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        let run = async {
            let instance = self
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| trap(e, budget, &[]))?;
            let memory = instance
                .get_memory(&mut store, "memory")
                .ok_or_else(|| RunError::InvalidModule("`memory` is not a memory".into()))?;
            let alloc = instance
                .get_typed_func::<u32, u32>(&mut store, "iomod_alloc")
                .map_err(|e| RunError::InvalidModule(format!("iomod_alloc: {e}")))?;
            let main = instance
                .get_typed_func::<(u32, u32), u64>(&mut store, "iomod_main")
                .map_err(|e| RunError::InvalidModule(format!("iomod_main: {e}")))?;
            let len = u32::try_from(input.len())
                .map_err(|_| RunError::InputTooLarge(input.len(), config.max_payload_bytes))?;
            let ptr = alloc
                .call_async(&mut store, len)
                .await
                .map_err(|e| trap(e, budget, &store.data().log))?;
            memory
                .write(&mut store, ptr as usize, &input)
                .map_err(|_| {
                    RunError::BadOutput(format!(
                        "iomod_alloc({len}) returned {ptr}, outside memory"
                    ))
                })?;
            let packed = main
                .call_async(&mut store, (ptr, len))
                .await
                .map_err(|e| trap(e, budget, &store.data().log))?;
            let (out_ptr, out_len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
            if out_len > config.max_payload_bytes {
                return Err(RunError::BadOutput(format!(
                    "{out_len} bytes; the limit is {} bytes",
                    config.max_payload_bytes
                )));
            }
            let data = memory.data(&store);
            data.get(out_ptr..out_ptr.saturating_add(out_len))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| {
                    RunError::BadOutput(format!(
                        "{out_len} bytes at {out_ptr} lie outside its memory"
                    ))
                })
        };
        let result = match tokio::time::timeout(budget, run).await {
            Ok(result) => result,
            Err(_) => Err(RunError::TimeBudget(budget)),
        };
        drop(store);
        drop(run_guard);
        result
    }
}

/// A module this host cannot compile: not WebAssembly, or using a feature the host turns off.
fn invalid_wasm(e: wasmtime::Error) -> RunError {
    let message = format!("{e:#}");
    if message.contains("multiple memories") || message.contains("memory64") {
        RunError::InvalidModule(format!(
            "{message} (a function has one memory, with 32-bit addresses, which its memory limit bounds)"
        ))
    } else {
        RunError::InvalidModule(message)
    }
}

#[derive(Debug)]
struct BudgetExceeded;

impl std::fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("time budget exceeded")
    }
}

impl std::error::Error for BudgetExceeded {}

/// Classifies a failure of the guest; `log` is what it wrote (a panic message, for example).
fn trap(e: wasmtime::Error, budget: Duration, log: &[u8]) -> RunError {
    if e.downcast_ref::<BudgetExceeded>().is_some() {
        return RunError::TimeBudget(budget);
    }
    let log = String::from_utf8_lossy(log);
    let tail: Vec<&str> = log.lines().rev().take(5).collect();
    let wrote = tail.into_iter().rev().collect::<Vec<_>>().join(" / ");
    if let Some(exit) = e.downcast_ref::<wasi::Exit>() {
        return RunError::Exited {
            code: exit.0,
            wrote,
        };
    }
    let mut message = match e.downcast_ref::<abi::Failed>() {
        Some(failed) => failed.to_string(),
        None => format!("{e:#}"),
    };
    message.push_str(&written(&wrote));
    match e.downcast_ref::<abi::Failed>() {
        Some(_) => RunError::Failed(message),
        None => RunError::Trap(message),
    }
}

/// `; it wrote: <wrote>`, or nothing when the function wrote nothing.
fn written(wrote: &str) -> String {
    if wrote.is_empty() {
        String::new()
    } else {
        format!("; it wrote: {wrote}")
    }
}
