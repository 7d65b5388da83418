//! A worker thread: one current-thread event loop that owns a registry lane, runs invocations handed to
//! it, and serves the HTTP connections it accepts. Nothing it runs leaves the thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{mpsc, oneshot, watch};
use tracing::warn;

use super::{InvokeError, InvokeOptions, Loaded, Reply, Shared};
use crate::registry::{LocalRegistry, RegistryConfig};

/// What a worker is asked to do.
struct Job {
    loaded: Arc<Loaded>,
    input: Vec<u8>,
    options: InvokeOptions,
    reply: Reply,
}

/// The phases of a worker's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Accepting connections and jobs.
    Running,
    /// No new connections; connections close once their request in flight is answered.
    Draining,
    /// Exit now.
    Stopped,
}

/// A running worker thread.
#[derive(Debug)]
pub(super) struct Worker {
    pub(super) lane: PathBuf,
    jobs: mpsc::UnboundedSender<Job>,
    active: Arc<AtomicUsize>,
    phase: watch::Sender<Phase>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts worker `index` with its lane at `lane`; serves HTTP on `http` when given. Returns once the
    /// lane listens.
    pub(super) async fn start(
        index: usize,
        lane: PathBuf,
        shared: Arc<Shared>,
        http: Option<std::net::TcpListener>,
    ) -> Result<Worker, String> {
        let (jobs, jobs_rx) = mpsc::unbounded_channel();
        let (phase, phase_rx) = watch::channel(Phase::Running);
        let (started_tx, started) = oneshot::channel();
        let active = Arc::new(AtomicUsize::new(0));
        let thread_lane = lane.clone();
        let thread_active = active.clone();
        let thread = std::thread::Builder::new()
            .name(format!("iomod-worker-{index}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = started_tx.send(Err(format!("cannot start its runtime: {e}")));
                        return;
                    }
                };
                tokio::task::LocalSet::new().block_on(
                    &runtime,
                    run(
                        thread_lane.clone(),
                        shared,
                        http,
                        jobs_rx,
                        phase_rx,
                        thread_active,
                        started_tx,
                    ),
                );
            })
            .map_err(|e| format!("cannot start the thread: {e}"))?;
        match started.await {
            Ok(Ok(())) => Ok(Worker {
                lane,
                jobs,
                active,
                phase,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err("the thread stopped while starting".into())
            }
        }
    }

    /// Invocations running or queued on this worker.
    pub(super) fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Runs `loaded` on this worker.
    pub(super) async fn run(
        &self,
        loaded: Arc<Loaded>,
        input: Vec<u8>,
        options: InvokeOptions,
    ) -> Result<Vec<u8>, InvokeError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                loaded,
                input,
                options,
                reply,
            })
            .map_err(|_| InvokeError::Stopping)?;
        answer.await.unwrap_or(Err(InvokeError::Stopping))
    }

    /// Stops accepting connections; open connections finish their request in flight and close.
    pub(super) fn drain(&self) {
        self.phase.send_replace(Phase::Draining);
    }

    /// Stops the thread and waits for it.
    pub(super) async fn stop(mut self) {
        self.phase.send_replace(Phase::Stopped);
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.phase.send_replace(Phase::Stopped);
    }
}

/// Counts a job or an HTTP request as active on its worker while it lives.
pub(crate) struct Active(Arc<AtomicUsize>);

impl Active {
    pub(crate) fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Active(counter.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn run(
    lane: PathBuf,
    shared: Arc<Shared>,
    http: Option<std::net::TcpListener>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    mut phase: watch::Receiver<Phase>,
    active: Arc<AtomicUsize>,
    started: oneshot::Sender<Result<(), String>>,
) {
    let local = match LocalRegistry::start(RegistryConfig::unix(&lane)).await {
        Ok(local) => local,
        Err(e) => {
            let _ = started.send(Err(format!("its lane did not start: {e}")));
            return;
        }
    };
    if let Some(listener) = http {
        match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => {
                tokio::task::spawn_local(crate::trigger::http::serve(
                    listener,
                    local.clone(),
                    shared.clone(),
                    phase.clone(),
                    active.clone(),
                ));
            }
            Err(e) => {
                let _ = started.send(Err(format!("cannot use the HTTP listener: {e}")));
                return;
            }
        }
    }
    let _ = started.send(Ok(()));
    loop {
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { break };
                let active = Active::new(&active);
                let (local, shared) = (local.clone(), shared.clone());
                tokio::task::spawn_local(async move {
                    let outcome = shared
                        .invoke_here(&local, &job.loaded, job.input, job.options)
                        .await;
                    drop(active);
                    let _ = job.reply.send(outcome);
                });
            }
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow() == Phase::Stopped {
                    break;
                }
            }
        }
    }
    if active.load(Ordering::Relaxed) > 0 {
        warn!("worker stopping with invocations still running");
    }
}
