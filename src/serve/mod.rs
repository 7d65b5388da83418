//! The warm runtime: one registry, the IOmods its functions declare (each started once and supervised),
//! every function's module compiled once (or loaded from the compiled-module cache), and worker threads
//! that run invocations until the runtime is stopped.
//!
//! Each worker thread is one event loop holding three things: a registry lane (its own Unix socket, which
//! every IOmod also registers with, see `IOMOD_REGISTRY_LANES` in `schemas/iomod.capnp`), the invocations
//! it runs, and the HTTP connections it accepted. An invocation therefore runs on the thread that received
//! it, and its IOmod calls travel over that thread's own connection to the IOmod: no thread hand-off on the
//! way in or out. A CPU-bound function holds only its own worker, and yields every epoch tick (10 ms) even
//! there; the main registry (registrations, health checks, `iomod ls`) has a thread of its own.
//!
//! Triggers only translate: [`crate::trigger::http`] turns requests into [`Runtime`] invocations on the
//! worker that accepted them; [`Runtime::invoke`] is the in-process entry (`iomod run`, benchmarks, the
//! Lambda loop).

pub mod cache;
pub mod metrics;
pub(crate) mod worker;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use iomod_sdk::transport::RegistryAddress;
use iomod_sdk::{Coordinates, Error};
use tokio::sync::{Notify, oneshot};
use tracing::{Instrument, debug, info, warn};

use crate::function::FunctionManifest;
use crate::host::{Function, Host, HostConfig, PoolingLimits, RunError, RunOptions};
use crate::package::{Limits as PackageLimits, PackageSet};
use crate::registry::{IomodState, LocalRegistry, Registry, RegistryConfig, RegistryHandle};
use crate::supervisor::{IomodProcess, ProcessStats, Supervisor, SupervisorConfig};
use cache::{CacheOutcome, ModuleCache};
use metrics::Metrics;

/// How a runtime runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Worker threads (each runs invocations and HTTP connections). Default: one per core.
    pub workers: usize,
    /// The most invocations running at once; more are refused (`saturated`, HTTP 503).
    pub max_concurrency: usize,
    /// The compiled-module cache; `None` compiles every module at start.
    pub cache: Option<ModuleCache>,
    /// Serve HTTP on this address (see [`crate::trigger::http`]).
    pub listen: Option<SocketAddr>,
    /// Also start every IOmod package in this directory (package directories and `.iomod` files, see
    /// [`crate::package`]).
    pub packages: Option<PathBuf>,
    /// How long [`Runtime::shutdown`] waits for invocations in flight.
    pub drain_timeout: Duration,
    /// Health-check period of the registry.
    pub health_interval: Duration,
}

impl Default for ServeConfig {
    /// One worker per core, 256 invocations at once, the default cache directory, no HTTP, a 30 s drain,
    /// health checks every 2 s.
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_concurrency: 256,
            cache: ModuleCache::default_dir().map(ModuleCache::new),
            listen: None,
            packages: None,
            drain_timeout: Duration::from_secs(30),
            health_interval: Duration::from_secs(2),
        }
    }
}

/// Why the runtime did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A function or package is not valid, or two of them conflict.
    #[error("{0}")]
    Invalid(String),
    /// A function's module did not load.
    #[error("function `{0}`: {1}")]
    Module(String, RunError),
    /// The registry, a worker or the HTTP listener did not start.
    #[error("{0}")]
    Start(String),
    /// An IOmod exited, or could not be started, before it registered.
    #[error("IOmod {0} {1} before it registered (its output is in the runtime's log)")]
    Iomod(String, String),
}

/// Why an invocation did not produce an output.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// No function has this name.
    #[error("no function is named `{0}`")]
    UnknownFunction(String),
    /// As many invocations as allowed are running.
    #[error("{0} invocations are running, the most this runtime allows; retry shortly")]
    Saturated(usize),
    /// The runtime is stopping and takes no new invocations.
    #[error("the runtime is stopping")]
    Stopping,
    /// The function failed (trap, its own failure, time budget, bad output, input too large).
    #[error(transparent)]
    Run(#[from] RunError),
}

impl InvokeError {
    /// A short name of the failure, for metrics, logs and HTTP error bodies.
    pub fn kind(&self) -> &'static str {
        match self {
            InvokeError::UnknownFunction(_) => "not_found",
            InvokeError::Saturated(_) => "saturated",
            InvokeError::Stopping => "stopping",
            InvokeError::Run(RunError::TimeBudget(_)) => "timeout",
            InvokeError::Run(RunError::InputTooLarge(..)) => "too_large",
            InvokeError::Run(RunError::Trap(_)) => "trap",
            InvokeError::Run(RunError::Failed(_)) => "failed",
            InvokeError::Run(RunError::Exited { .. }) => "exit",
            InvokeError::Run(RunError::BadOutput(_)) => "bad_output",
            InvokeError::Run(RunError::InvalidModule(_)) => "invalid_module",
            InvokeError::Run(RunError::RegistryStopped) => "stopping",
        }
    }
}

/// What an invocation carries besides its input.
#[derive(Debug, Clone, Default)]
pub struct InvokeOptions {
    /// The caller's W3C `traceparent`, if any: the invocation joins that trace.
    pub traceparent: Option<String>,
    /// A time budget shorter than the function's own.
    pub budget: Option<Duration>,
}

/// A loaded function.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) name: String,
    pub(crate) function: Function,
}

/// Counts invocations in flight against the limit.
#[derive(Debug)]
struct Limiter {
    max: usize,
    in_flight: AtomicUsize,
    idle: Notify,
}

/// An invocation's place under the limit; released on drop.
struct Permit<'a>(&'a Limiter);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Limiter {
    fn try_acquire(&self) -> Option<Permit<'_>> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let permit = Permit(self);
        (before < self.max).then_some(permit)
    }

    async fn wait_idle(&self, timeout: Duration) -> usize {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        self.in_flight.load(Ordering::Acquire)
    }
}

/// What every worker shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The loaded functions; set once their modules are loaded (the IOmods start meanwhile).
    pub(crate) functions: std::sync::OnceLock<HashMap<String, Arc<Loaded>>>,
    pub(crate) metrics: Arc<Metrics>,
    /// The main registry, where IOmods that know no lanes are reached and readiness is read.
    pub(crate) main: RegistryHandle,
    /// The IOmods the functions declare.
    pub(crate) declared: Vec<Coordinates>,
    limiter: Limiter,
    accepting: AtomicBool,
}

/// Whether every declared IOmod is registered and healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Every declared IOmod is registered and answers its health checks.
    Ready,
    /// The runtime is stopping.
    Stopping,
    /// These IOmods are not registered, or not healthy (with their state).
    NotReady(Vec<String>),
}

impl Shared {
    /// The loaded functions (none while their modules load, during [`Runtime::start`]).
    pub(crate) fn loaded(&self) -> &HashMap<String, Arc<Loaded>> {
        static NONE: std::sync::OnceLock<HashMap<String, Arc<Loaded>>> = std::sync::OnceLock::new();
        self.functions
            .get()
            .unwrap_or_else(|| NONE.get_or_init(HashMap::new))
    }

    /// Runs one invocation on this worker: counted against the limit, traced, measured.
    pub(crate) async fn invoke_here(
        &self,
        local: &LocalRegistry,
        loaded: &Loaded,
        input: Vec<u8>,
        options: InvokeOptions,
    ) -> Result<Vec<u8>, InvokeError> {
        let name = &loaded.name;
        if !self.accepting.load(Ordering::Acquire) {
            self.metrics.invocation_refused(name, "stopping");
            return Err(InvokeError::Stopping);
        }
        let Some(_permit) = self.limiter.try_acquire() else {
            self.metrics.invocation_refused(name, "saturated");
            return Err(InvokeError::Saturated(self.limiter.max));
        };
        let trace = crate::trace::invocation(options.traceparent.as_deref());
        let span = tracing::info_span!(
            "invocation",
            function = %name,
            trace_id = %trace.trace_id_hex(),
            span_id = %trace.parent_id_hex(),
        );
        self.metrics.invocation_started();
        let started = Instant::now();
        let run_options = RunOptions {
            trace: Some(trace),
            fallback: Some(self.main.clone()),
            observer: Some(self.metrics.clone()),
            budget: options.budget,
        };
        let result = loaded
            .function
            .run_local(local.clone(), input, run_options)
            .instrument(span.clone())
            .await
            .map_err(InvokeError::from);
        let elapsed = started.elapsed();
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.kind(),
        };
        self.metrics.invocation_finished(name, outcome, elapsed);
        let _entered = span.enter();
        match &result {
            Ok(_) => debug!(
                outcome,
                micros = elapsed.as_micros() as u64,
                "invocation finished"
            ),
            Err(e) => {
                info!(outcome, micros = elapsed.as_micros() as u64, error = %e, "invocation failed")
            }
        }
        result
    }

    /// The metrics in the Prometheus text format, with the registration gauges read just now.
    pub(crate) async fn metrics_text(&self) -> String {
        let _ = self.readiness().await;
        self.metrics.encode()
    }

    /// Reads the main registry: every declared IOmod registered and ready? Updates the registration gauge.
    pub(crate) async fn readiness(&self) -> Readiness {
        if !self.accepting.load(Ordering::Acquire) {
            return Readiness::Stopping;
        }
        let Ok(statuses) = self.main.list().await else {
            return Readiness::Stopping;
        };
        let by_coordinates: BTreeMap<&str, IomodState> = statuses
            .iter()
            .map(|s| (s.info.coordinates.as_str(), s.state))
            .collect();
        let mut missing = Vec::new();
        if self.functions.get().is_none() {
            missing.push("the functions' modules (loading)".to_owned());
        }
        for coordinates in &self.declared {
            let state = by_coordinates.get(coordinates.as_str()).copied();
            self.metrics
                .set_registered(coordinates.as_str(), state == Some(IomodState::Ready));
            match state {
                Some(IomodState::Ready) => {}
                Some(other) => missing.push(format!("{coordinates} ({})", other.as_str())),
                None => missing.push(format!("{coordinates} (not registered)")),
            }
        }
        if missing.is_empty() {
            Readiness::Ready
        } else {
            Readiness::NotReady(missing)
        }
    }
}

/// How long the parts of [`Runtime::start`] took.
#[derive(Debug, Clone, Copy)]
pub struct StartTimings {
    /// Reading the packages (and extracting package files).
    pub packages: Duration,
    /// Loading every function's module (compiled, from the cache, or precompiled); the IOmods start
    /// meanwhile.
    pub modules: Duration,
    /// When the IOmods were spawned.
    pub iomods_spawned: Option<Instant>,
}

/// A running runtime. Stop it with [`Runtime::shutdown`].
#[derive(Debug)]
pub struct Runtime {
    shared: Arc<Shared>,
    registry: Registry,
    workers: Vec<worker::Worker>,
    supervisor: Supervisor,
    /// Kept until the IOmods have stopped: their extracted package files.
    packages: Option<PackageSet>,
    timings: StartTimings,
    /// The registration (instance id) last seen of each supervised IOmod, with its exit count then.
    seen: std::sync::Mutex<HashMap<String, (u64, u64)>>,
    http_addr: Option<SocketAddr>,
    dir: PathBuf,
    drain_timeout: Duration,
    next_worker: AtomicUsize,
}

impl Runtime {
    /// Loads the functions, starts the registry, the workers (and their HTTP listener) and the IOmods.
    /// Does not wait for the IOmods to register: see [`Runtime::wait_ready`].
    pub async fn start(
        functions: Vec<FunctionManifest>,
        config: ServeConfig,
    ) -> Result<Runtime, StartError> {
        if functions.is_empty() {
            return Err(StartError::Invalid("no functions to serve".into()));
        }
        if config.workers == 0 || config.max_concurrency == 0 {
            return Err(StartError::Invalid(
                "workers and the concurrency limit must be at least 1".into(),
            ));
        }
        let opening = Instant::now();
        let packages = match &config.packages {
            Some(dir) => Some(
                PackageSet::open(dir, &PackageLimits::default())
                    .map_err(|e| StartError::Invalid(e.to_string()))?,
            ),
            None => None,
        };
        let from_packages = packages.as_ref().map(PackageSet::processes);
        let processes = iomods_to_start(&functions, from_packages.unwrap_or_default())?;
        let declared = declared_iomods(&functions);
        let packages_opened = opening.elapsed();
        // The modules load on a blocking thread while the registry, the workers and the IOmods start: an
        // IOmod's start (its own process) and a module's load overlap.
        let loading = {
            let (functions, config) = (functions.clone(), config.clone());
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                load_functions(&functions, &config).map(|loaded| (loaded, started.elapsed()))
            })
        };

        let dir = socket_dir().map_err(|e| {
            StartError::Start(format!("cannot create the runtime's socket directory: {e}"))
        })?;
        let mut registry_config = RegistryConfig::unix(dir.join("registry.sock"));
        registry_config.health_interval = config.health_interval;
        let registry = Registry::start(registry_config)
            .await
            .map_err(|e| StartError::Start(format!("the registry did not start: {e}")))?;
        let stats: Vec<Arc<ProcessStats>> = processes.iter().map(|_| Arc::default()).collect();
        let metrics = Arc::new(Metrics::new(
            processes
                .iter()
                .zip(&stats)
                .map(|(p, s)| (p.coordinates.to_string(), s.clone()))
                .collect(),
        ));
        let shared = Arc::new(Shared {
            functions: std::sync::OnceLock::new(),
            metrics,
            main: registry.handle(),
            declared,
            limiter: Limiter {
                max: config.max_concurrency,
                in_flight: AtomicUsize::new(0),
                idle: Notify::new(),
            },
            accepting: AtomicBool::new(true),
        });
        let listener = match config.listen {
            Some(addr) => Some(
                std::net::TcpListener::bind(addr)
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                    .map_err(|e| StartError::Start(format!("cannot listen on {addr}: {e}")))?,
            ),
            None => None,
        };
        let http_addr = listener.as_ref().and_then(|l| l.local_addr().ok());
        let mut workers = Vec::new();
        for index in 0..config.workers {
            let lane = dir.join(format!("lane-{index}.sock"));
            let http = match &listener {
                Some(l) => Some(l.try_clone().map_err(|e| {
                    StartError::Start(format!("cannot share the HTTP listener: {e}"))
                })?),
                None => None,
            };
            workers.push(
                worker::Worker::start(index, lane, shared.clone(), http)
                    .await
                    .map_err(|e| StartError::Start(format!("worker {index}: {e}")))?,
            );
        }
        let mut supervisor_config =
            SupervisorConfig::new(RegistryAddress::Unix(dir.join("registry.sock")));
        supervisor_config.lanes = workers.iter().map(|w| w.lane.clone()).collect();
        let supervisor = Supervisor::start_with_stats(processes, supervisor_config, stats);
        let iomods_spawned = Instant::now();
        let loaded = match loading.await {
            Ok(Ok(loaded)) => Ok(loaded),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(StartError::Start(format!(
                "loading the modules failed: {e}"
            ))),
        };
        let (loaded, modules) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                supervisor.shutdown().await;
                for worker in workers {
                    worker.stop().await;
                }
                registry.shutdown();
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        info!(
            functions = loaded.len(),
            millis = modules.as_millis() as u64,
            "functions loaded"
        );
        let _ = shared.functions.set(loaded);
        let timings = StartTimings {
            packages: packages_opened,
            modules,
            iomods_spawned: Some(iomods_spawned),
        };
        Ok(Runtime {
            shared,
            registry,
            workers,
            supervisor,
            packages,
            timings,
            seen: std::sync::Mutex::default(),
            http_addr,
            dir,
            drain_timeout: config.drain_timeout,
            next_worker: AtomicUsize::new(0),
        })
    }

    /// Waits until every declared IOmod is registered, or fails after `timeout` naming the missing ones.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), Error> {
        self.registry
            .wait_ready(&self.shared.declared, timeout)
            .await
    }

    /// At start: waits until every declared IOmod is registered. Fails after `timeout` naming the missing
    /// ones, or as soon as an IOmod the runtime started exits (or cannot be started) before it registered,
    /// naming it and how it exited.
    pub async fn wait_started(&self, timeout: Duration) -> Result<(), StartError> {
        let deadline = tokio::time::Instant::from_std(iomod_sdk::deadline_after(timeout));
        loop {
            let step = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .min(Duration::from_millis(5));
            match self.registry.wait_ready(&self.shared.declared, step).await {
                Ok(()) => {
                    self.note_instances();
                    return Ok(());
                }
                Err(e) if step.is_zero() => {
                    return Err(StartError::Start(format!(
                        "the IOmods did not register within {} ms: {}",
                        timeout.as_millis(),
                        e.message
                    )));
                }
                Err(_) => {}
            }
            for (coordinates, stats) in self.supervisor.all_stats() {
                if self.registry.instance_of(coordinates).is_none()
                    && stats.exits.load(Ordering::Acquire) > 0
                {
                    let how = stats.last_exit().unwrap_or_else(|| "exited".into());
                    return Err(StartError::Iomod(coordinates.to_string(), how));
                }
            }
        }
    }

    /// Before an invocation: waits (up to `timeout`) until every IOmod the runtime started that exited
    /// since it last registered has registered again, so that an IOmod that crashed between invocations
    /// (or while the process was frozen, on Lambda) is back before the next one runs.
    pub async fn wait_restarted(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = tokio::time::Instant::from_std(iomod_sdk::deadline_after(timeout));
        loop {
            let stale: Vec<&Coordinates> = self
                .supervisor
                .all_stats()
                .filter(|(c, s)| !self.is_current(c, s))
                .map(|(c, _)| c)
                .collect();
            if stale.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let names: Vec<String> = stale.iter().map(|c| c.to_string()).collect();
                return Err(Error::new(
                    iomod_sdk::ErrorCode::Unavailable,
                    format!(
                        "restarted IOmods did not register again within {} ms: {}",
                        timeout.as_millis(),
                        names.join(", ")
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Whether the IOmod registered as `coordinates` is the process running now: registered, and no exit
    /// of its process since that registration was first seen.
    fn is_current(&self, coordinates: &Coordinates, stats: &ProcessStats) -> bool {
        let Some(instance) = self.registry.instance_of(coordinates) else {
            return false;
        };
        let exits = stats.exits.load(Ordering::Acquire);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get(coordinates.as_str()) {
            Some(&(known, exits_then)) if known == instance => exits == exits_then,
            _ => {
                // A registration not seen before: the process that made it is the current one.
                seen.insert(coordinates.to_string(), (instance, exits));
                true
            }
        }
    }

    fn note_instances(&self) {
        for (coordinates, stats) in self.supervisor.all_stats() {
            let _ = self.is_current(coordinates, stats);
        }
    }

    /// How long the parts of the start took.
    pub fn start_timings(&self) -> StartTimings {
        self.timings
    }

    /// The coordinates of the IOmods this runtime started (and supervises).
    pub fn supervised(&self) -> Vec<Coordinates> {
        self.supervisor
            .all_stats()
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// The IOmods the functions may call.
    pub fn declared(&self) -> &[Coordinates] {
        &self.shared.declared
    }

    /// Whether every declared IOmod is registered and healthy (`/readyz`).
    pub async fn readiness(&self) -> Readiness {
        self.shared.readiness().await
    }

    /// The HTTP address, when serving HTTP (with the port the system chose for port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The main registry's socket (for `iomod ls` and `iomod call`).
    pub fn registry_socket(&self) -> Option<&Path> {
        self.registry.socket_path()
    }

    /// The functions' names, sorted.
    pub fn function_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared.loaded().keys().cloned().collect();
        names.sort();
        names
    }

    /// The metrics in the Prometheus text format (`/metrics`).
    pub async fn metrics_text(&self) -> String {
        self.shared.metrics_text().await
    }

    /// Runs the function `name` once on `input`, on the least busy worker.
    pub async fn invoke(
        &self,
        name: &str,
        input: Vec<u8>,
        options: InvokeOptions,
    ) -> Result<Vec<u8>, InvokeError> {
        let loaded = self
            .shared
            .loaded()
            .get(name)
            .cloned()
            .ok_or_else(|| InvokeError::UnknownFunction(name.to_owned()))?;
        let worker = self.pick_worker();
        worker.run(loaded, input, options).await
    }

    /// The worker with the fewest invocations, starting the search at a rotating index.
    fn pick_worker(&self) -> &worker::Worker {
        let n = self.workers.len();
        let start = self.next_worker.fetch_add(1, Ordering::Relaxed) % n;
        (0..n)
            .map(|i| &self.workers[(start + i) % n])
            .min_by_key(|w| w.active())
            .unwrap_or(&self.workers[0])
    }

    /// Stops: takes no new invocations or connections, finishes those in flight (up to the drain
    /// timeout), stops the workers, the IOmods and the registry.
    pub async fn shutdown(mut self) {
        self.shared.accepting.store(false, Ordering::Release);
        for worker in &self.workers {
            worker.drain();
        }
        let left = self.shared.limiter.wait_idle(self.drain_timeout).await;
        if left > 0 {
            warn!(
                left,
                "invocations still running after the drain timeout; stopping anyway"
            );
        } else {
            info!("in-flight invocations finished");
        }
        // The IOmods first (they deregister everywhere), then the lanes and the registry they left.
        self.supervisor.shutdown().await;
        for worker in self.workers.drain(..) {
            worker.stop().await;
        }
        self.registry.shutdown();
        drop(self.packages.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every IOmod process the functions (and the packages) name, each once.
fn iomods_to_start(
    functions: &[FunctionManifest],
    from_packages: Vec<IomodProcess>,
) -> Result<Vec<IomodProcess>, StartError> {
    let mut by_coordinates: BTreeMap<String, IomodProcess> = BTreeMap::new();
    let declared = functions.iter().flat_map(|f| f.processes.iter().cloned());
    for process in from_packages.into_iter().chain(declared) {
        match by_coordinates.get(process.coordinates.as_str()) {
            Some(existing)
                if existing.program != process.program
                    || existing.arguments != process.arguments =>
            {
                return Err(StartError::Invalid(format!(
                    "{} is started from two different programs: {} and {}",
                    process.coordinates,
                    existing.program.display(),
                    process.program.display()
                )));
            }
            Some(_) => {}
            None => {
                by_coordinates.insert(process.coordinates.to_string(), process);
            }
        }
    }
    Ok(by_coordinates.into_values().collect())
}

/// Every IOmod some function may call, each once.
fn declared_iomods(functions: &[FunctionManifest]) -> Vec<Coordinates> {
    let mut declared: Vec<Coordinates> = functions
        .iter()
        .flat_map(|f| f.config.allow.iter().cloned())
        .collect();
    declared.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    declared.dedup();
    declared
}

/// The engine that runs `functions` under `config`: the pooling allocator with a slot per invocation the
/// limit allows, each as large as the largest memory limit. (`iomod compile` compiles with it too: compiled
/// modules fit only an engine configured alike.)
pub fn engine(functions: &[FunctionManifest], config: &ServeConfig) -> Result<Host, StartError> {
    let max_memory_bytes = functions
        .iter()
        .map(|f| f.config.memory_limit_bytes)
        .max()
        .unwrap_or(64 << 20);
    Host::with_config(&HostConfig {
        pooling: Some(PoolingLimits {
            instances: u32::try_from(config.max_concurrency).unwrap_or(u32::MAX),
            max_memory_bytes,
        }),
    })
    .map_err(|e| StartError::Start(e.to_string()))
}

/// Compiles (or loads from the cache) every function's module.
fn load_functions(
    functions: &[FunctionManifest],
    config: &ServeConfig,
) -> Result<HashMap<String, Arc<Loaded>>, StartError> {
    let host = engine(functions, config)?;
    let mut loaded = HashMap::new();
    for manifest in functions {
        let name = manifest.name.clone();
        if loaded.contains_key(&name) {
            return Err(StartError::Invalid(format!(
                "two functions are named `{name}`; give one a `name` in its [function] table"
            )));
        }
        let wasm = std::fs::read(&manifest.module).map_err(|e| {
            StartError::Invalid(format!(
                "function `{name}`: cannot read its module {}: {e}",
                manifest.module.display()
            ))
        })?;
        let (module, outcome) = match &config.cache {
            _ if cache::is_precompiled(&wasm) => (
                cache::load_precompiled(&host, &wasm)
                    .map_err(|e| StartError::Module(name.clone(), e))?,
                CacheOutcome::Precompiled,
            ),
            Some(cache) => cache
                .load(&host, &wasm)
                .map_err(|e| StartError::Module(name.clone(), e))?,
            None => (
                host.compile(&wasm)
                    .map_err(|e| StartError::Module(name.clone(), e))?,
                CacheOutcome::Uncached,
            ),
        };
        debug!(function = %name, ?outcome, "module ready");
        let function = host
            .function(module, manifest.config.clone())
            .map_err(|e| StartError::Module(name.clone(), e))?;
        loaded.insert(name.clone(), Arc::new(Loaded { name, function }));
    }
    Ok(loaded)
}

/// A new directory only this user can enter, for the runtime's sockets.
fn socket_dir() -> std::io::Result<PathBuf> {
    let base = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir(),
    };
    crate::package::private_dir(&base, "iomod-serve")
}

/// A oneshot reply, for the workers.
pub(crate) type Reply = oneshot::Sender<Result<Vec<u8>, InvokeError>>;
