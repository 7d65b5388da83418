//! The reference wasm host: runs a function (a wasm module) with wasmtime, gives it the IOmod call ABI of
//! `iomod_sdk::guest` (see `docs/abi.md`), and forwards its calls through the registry.
//!
//! A function runs on the registry's own thread ([`Registry::run_local`]): its calls reach the registry
//! with no thread hand-off, and while it waits for them (the ABI's `wait`), the registry thread serves
//! RPC. A function that computes for long yields to the registry every epoch tick (10 ms), so RPC keeps
//! flowing, and is stopped when it exceeds its time budget.
//!
//! The function exports `memory`, `iomod_alloc(len) -> ptr` and `iomod_main(ptr, len) -> u64` (the output's
//! pointer in the high 32 bits, its length in the low 32), as `iomod_sdk::function!` generates.

mod abi;
mod wasi;

use std::sync::Arc;
use std::time::{Duration, Instant};

use iomod_sdk::{Coordinates, DEFAULT_MAX_PAYLOAD_BYTES};
use wasmtime::{Config, Engine, Module, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};

use crate::registry::{LocalRegistry, Registry};

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
    /// The most linear memory the function may have.
    pub memory_limit_bytes: usize,
    /// How long one run may take, waiting included.
    pub time_budget: Duration,
    /// The deadline of each IOmod call.
    pub call_timeout: Duration,
    /// The largest input, output, call input or call result.
    pub max_payload_bytes: usize,
    /// The most IOmod calls in flight at once.
    pub max_calls_in_flight: usize,
}

impl Default for FunctionConfig {
    /// No IOmods, 64 MiB of memory, 30 s per run, 10 s per call, 16 MiB payloads, 1,024 calls in flight.
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            memory_limit_bytes: 64 * 1024 * 1024,
            time_budget: Duration::from_secs(30),
            call_timeout: Duration::from_secs(10),
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_calls_in_flight: 1024,
        }
    }
}

/// A wasmtime engine with epoch interruption, and the thread that advances its epoch.
#[derive(Clone)]
pub struct Host {
    engine: Engine,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").finish_non_exhaustive()
    }
}

impl Host {
    /// A host; its epoch ticker thread stops when the last clone of the host (and of its functions) is
    /// dropped.
    pub fn new() -> Result<Host, RunError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)
            .map_err(|e| RunError::InvalidModule(format!("cannot create the engine: {e}")))?;
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
        Ok(Host { engine })
    }

    /// Compiles a function module (binary wasm or text).
    pub fn load(&self, wasm: &[u8], config: FunctionConfig) -> Result<Function, RunError> {
        let module = Module::new(&self.engine, wasm)
            .map_err(|e| RunError::InvalidModule(format!("{e:#}")))?;
        for (name, what) in [
            ("memory", "memory"),
            ("iomod_alloc", "function"),
            ("iomod_main", "function"),
        ] {
            if module.get_export(name).is_none() {
                return Err(RunError::InvalidModule(format!(
                    "it does not export the {what} `{name}` (write the function with iomod_sdk::function!)"
                )));
            }
        }
        abi::check_imports(&module)?;
        Ok(Function {
            engine: self.engine.clone(),
            module,
            config: Arc::new(config),
        })
    }
}

/// A compiled function, ready to run any number of times (each run gets a fresh instance).
#[derive(Clone)]
pub struct Function {
    engine: Engine,
    module: Module,
    config: Arc<FunctionConfig>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("config", &self.config)
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

impl Function {
    /// Runs the function once with `input` and returns its output. IOmod calls go through `registry`.
    pub async fn run(&self, registry: &Registry, input: Vec<u8>) -> Result<Vec<u8>, RunError> {
        let function = self.clone();
        registry
            .run_local(move |local| async move { function.run_local(local, input).await })
            .await
            .map_err(|_| RunError::RegistryStopped)?
    }

    /// Runs the function once on the registry's thread, from a task started with [`Registry::run_local`]
    /// (for embedders that run many functions there).
    pub async fn run_local(
        &self,
        local: LocalRegistry,
        input: Vec<u8>,
    ) -> Result<Vec<u8>, RunError> {
        let config = &self.config;
        if input.len() > config.max_payload_bytes {
            return Err(RunError::InputTooLarge(
                input.len(),
                config.max_payload_bytes,
            ));
        }
        let budget = config.time_budget;
        let started = Instant::now();
        let (calls, run_guard) = abi::CallTable::new(local, config.clone());
        let state = RunState {
            limits: StoreLimitsBuilder::new()
                .memory_size(config.memory_limit_bytes)
                .instances(1)
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
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let run = async {
            let linker =
                abi::linker(&self.engine).map_err(|e| RunError::InvalidModule(format!("{e:#}")))?;
            let instance = linker
                .instantiate_async(&mut store, &self.module)
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
    let mut message = match e.downcast_ref::<wasi::Exit>() {
        Some(exit) => exit.to_string(),
        None => format!("{e:#}"),
    };
    let log = String::from_utf8_lossy(log);
    let tail: Vec<&str> = log.lines().rev().take(5).collect();
    if !tail.is_empty() {
        message.push_str("; it wrote: ");
        message.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join(" / "));
    }
    RunError::Trap(message)
}
