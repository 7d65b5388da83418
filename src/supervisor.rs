//! The supervisor: starts IOmod processes, points them at the registry, restarts a crashed one with
//! backoff, and stops them all (SIGTERM, then SIGKILL after a grace period) on shutdown. Each IOmod runs
//! in a process group of its own, and is stopped with everything in its group. What an IOmod
//! prints goes to the runtime's log, never to its standard output ([`output`]).

pub mod output;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use iomod_sdk::transport::{LANES_ENV, REGISTRY_ENV, RegistryAddress, TOKEN_ENV, format_lanes};
use iomod_sdk::{Coordinates, Error, ErrorCode};
use tokio::process::Command;
use tokio::sync::watch;
use tracing::{info, warn};

/// One IOmod to run.
#[derive(Debug, Clone)]
pub struct IomodProcess {
    /// The coordinates it registers as (used in logs and to wait for it).
    pub coordinates: Coordinates,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub arguments: Vec<String>,
}

impl IomodProcess {
    /// Reads an IOmod package directory's `iomod.toml` (`[iomod] coordinates`, `[process] entrypoint,
    /// arguments`; the entrypoint is relative to the directory). See [`crate::package`] for packages
    /// whose entrypoint is checked, and for package files.
    pub fn from_package(dir: &Path) -> Result<IomodProcess, Error> {
        let path = dir.join("iomod.toml");
        let invalid =
            |m: String| Error::new(ErrorCode::InvalidInput, format!("{}: {m}", path.display()));
        let text = std::fs::read_to_string(&path).map_err(|e| invalid(e.to_string()))?;
        let manifest = crate::package::PackageManifest::parse(&text).map_err(invalid)?;
        Ok(IomodProcess {
            coordinates: manifest.coordinates,
            program: dir.join(manifest.entrypoint),
            arguments: manifest.arguments,
        })
    }
}

/// How the supervisor treats its processes.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// The registry the processes register with (passed as `IOMOD_REGISTRY`).
    pub registry: RegistryAddress,
    /// The TCP token to pass (`IOMOD_REGISTRY_TOKEN`), if the registry is on TCP.
    pub token: Option<String>,
    /// The runtime's lanes (passed as `IOMOD_REGISTRY_LANES`): IOmods register with each of them too.
    pub lanes: Vec<PathBuf>,
    /// The first restart delay, doubled after each quick crash up to `backoff_max` (see [`restart_delay`]).
    pub backoff_initial: Duration,
    /// The longest restart delay.
    pub backoff_max: Duration,
    /// A process that ran at least this long before exiting restarts after `backoff_initial` again.
    pub healthy_after: Duration,
    /// How long a process has to exit after SIGTERM before it is killed.
    pub stop_grace: Duration,
}

impl SupervisorConfig {
    /// Defaults: restart after 100 ms, backing off to 10 s for processes that keep exiting soon after they
    /// start; 30 s of running resets the backoff; 10 s grace.
    pub fn new(registry: RegistryAddress) -> Self {
        Self {
            registry,
            token: None,
            lanes: Vec::new(),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            healthy_after: Duration::from_secs(30),
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// Live counters of one supervised process.
#[derive(Debug, Default)]
pub struct ProcessStats {
    /// How many times it was started.
    pub starts: AtomicU64,
    /// The pid of the running process (0 when none runs).
    pub pid: AtomicU32,
    /// How many times it exited (or could not be started).
    pub exits: AtomicU64,
    /// How it last exited, or why it could not be started.
    pub last_exit: std::sync::Mutex<Option<String>>,
}

impl ProcessStats {
    fn exited(&self, how: String) {
        self.pid.store(0, Ordering::Relaxed);
        if let Ok(mut last) = self.last_exit.lock() {
            *last = Some(how);
        }
        self.exits.fetch_add(1, Ordering::Release);
    }

    /// How it last exited, if it did.
    pub fn last_exit(&self) -> Option<String> {
        self.last_exit.lock().ok().and_then(|l| l.clone())
    }
}

/// Running IOmod processes. [`Supervisor::shutdown`] stops them; dropping the supervisor kills them.
#[derive(Debug)]
pub struct Supervisor {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stats: Vec<(Coordinates, Arc<ProcessStats>)>,
}

impl Supervisor {
    /// Starts every process (on the current tokio runtime).
    pub fn start(processes: Vec<IomodProcess>, config: SupervisorConfig) -> Supervisor {
        let stats = processes.iter().map(|_| Arc::default()).collect();
        Self::start_with_stats(processes, config, stats)
    }

    /// Starts every process, counting into `stats` (one per process, in order; for metrics).
    pub fn start_with_stats(
        processes: Vec<IomodProcess>,
        config: SupervisorConfig,
        stats: Vec<Arc<ProcessStats>>,
    ) -> Supervisor {
        let (stop, stopping) = watch::channel(false);
        let mut tasks = Vec::new();
        let counters = stats;
        let mut stats = Vec::new();
        for (process, counters) in processes.into_iter().zip(counters) {
            stats.push((process.coordinates.clone(), counters.clone()));
            tasks.push(tokio::spawn(supervise(
                process,
                config.clone(),
                counters,
                stopping.clone(),
            )));
        }
        Supervisor { stop, tasks, stats }
    }

    /// The counters of the process registering as `coordinates`.
    pub fn stats(&self, coordinates: &Coordinates) -> Option<&ProcessStats> {
        self.stats
            .iter()
            .find(|(c, _)| c == coordinates)
            .map(|(_, s)| &**s)
    }

    /// The coordinates of every process, with its counters.
    pub fn all_stats(&self) -> impl Iterator<Item = (&Coordinates, &ProcessStats)> {
        self.stats.iter().map(|(c, s)| (c, &**s))
    }

    /// Stops every process: SIGTERM, then SIGKILL after the grace period; returns when all have exited.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A process that ran at least this many times its last restart delay was not crash-looping: restarts
/// then took at most about a tenth of the time.
const RAN_PER_DELAY: u32 = 10;

/// The delay before restarting a process that exited after running `ran`, given the delay before its
/// previous restart (`None` for its first).
///
/// A process that keeps exiting soon after it starts (a crash loop) waits longer each time, doubling up to
/// `backoff_max`; one that ran `healthy_after` starts over at `backoff_initial`. In between, a process
/// that ran at least [`RAN_PER_DELAY`] times its last delay (killed now and then, by the OOM killer or an
/// operator, after serving a while) has its delay halved rather than doubled, so that it comes back
/// quickly however often that happens, while restarts keep taking at most about a tenth of the time.
pub fn restart_delay(last: Option<Duration>, ran: Duration, config: &SupervisorConfig) -> Duration {
    let initial = config.backoff_initial;
    match last {
        None => initial,
        Some(_) if ran >= config.healthy_after => initial,
        Some(last) if ran >= last.saturating_mul(RAN_PER_DELAY) => (last / 2).max(initial),
        Some(last) => last.saturating_mul(2).min(config.backoff_max.max(initial)),
    }
}

async fn supervise(
    process: IomodProcess,
    config: SupervisorConfig,
    stats: Arc<ProcessStats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_delay: Option<Duration> = None;
    let name = process.coordinates.to_string();
    loop {
        if *stop.borrow() {
            return;
        }
        let mut command = Command::new(&process.program);
        command
            .args(&process.arguments)
            .env(REGISTRY_ENV, config.registry.to_string())
            .env(LANES_ENV, format_lanes(&config.lanes))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        match &config.token {
            Some(token) => command.env(TOKEN_ENV, token),
            None => command.env_remove(TOKEN_ENV),
        };
        // Its own process group, so that stopping it reaches whatever it started as well.
        command.process_group(0);
        die_with_parent(&mut command);
        let started = tokio::time::Instant::now();
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                warn!(iomod = %name, program = %process.program.display(), error = %e, "cannot start the IOmod");
                stats.exited(format!(
                    "could not be started ({}): {e}",
                    process.program.display()
                ));
                let delay = restart_delay(last_delay, Duration::ZERO, &config);
                last_delay = Some(delay);
                if wait_or_stop(&mut stop, delay).await {
                    return;
                }
                continue;
            }
        };
        let pid = child.id().unwrap_or(0);
        stats.starts.fetch_add(1, Ordering::Relaxed);
        stats.pid.store(pid, Ordering::Relaxed);
        info!(iomod = %name, pid, "IOmod started");
        let relay = output::Relay::start(&mut child, &name, pid);
        tokio::select! {
            status = child.wait() => {
                let ran = started.elapsed();
                stats.exited(match &status {
                    Ok(status) => format!("exited with {status} after {} ms", ran.as_millis()),
                    Err(e) => format!("could not be waited for: {e}"),
                });
                relay.finish(output::DRAIN_GRACE).await;
                match status {
                    Ok(status) => warn!(iomod = %name, %status, ran_ms = ran.as_millis() as u64, "IOmod exited; restarting"),
                    Err(e) => warn!(iomod = %name, error = %e, "cannot wait for the IOmod; restarting"),
                }
                let delay = restart_delay(last_delay, ran, &config);
                last_delay = Some(delay);
                if wait_or_stop(&mut stop, delay).await {
                    return;
                }
            }
            _ = stop.changed() => {
                terminate(&mut child, config.stop_grace, &name).await;
                relay.finish(output::DRAIN_GRACE).await;
                stats.pid.store(0, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// Makes the IOmod receive SIGKILL when the runtime's thread that started it dies (Linux), so that a
/// runtime killed without a chance to stop its IOmods does not leave them running.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    // SAFETY: the closure runs in the child between fork and exec and only calls `prctl`, which is
    // async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// Sleeps `delay`; true when asked to stop meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// Stops the IOmod's process group: SIGTERM (the IOmod drains its calls), then SIGKILL after `grace`.
async fn terminate(child: &mut tokio::process::Child, grace: Duration, name: &str) {
    // The child leads its group (spawned with `process_group(0)`), so its pid is the group's id. A child
    // already reaped has no pid: there is nothing to signal, and its pid may belong to another process.
    let group = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok());
    if let Some(group) = group {
        signal_group(group, libc::SIGTERM, name);
    }
    match tokio::time::timeout(grace, child.wait()).await {
        // Once the IOmod is reaped its group id may be reused: the group is not signalled again.
        Ok(_) => info!(iomod = %name, "IOmod stopped"),
        Err(_) => {
            warn!(iomod = %name, grace_ms = grace.as_millis() as u64, "IOmod did not stop in time; killing it");
            // Still running (not reaped): its group is still its own.
            if let Some(group) = group {
                signal_group(group, libc::SIGKILL, name);
            }
            let _ = child.kill().await;
        }
    }
}

/// Sends `signal` to the process group `group` (a group that no longer exists is not an error).
fn signal_group(group: libc::pid_t, signal: libc::c_int, name: &str) {
    if group <= 1 {
        return;
    }
    // SAFETY: `kill` has no memory-safety preconditions; a negative pid names a process group.
    if unsafe { libc::kill(-group, signal) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            warn!(iomod = %name, group, signal, error = %e, "cannot signal the IOmod's process group");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SupervisorConfig {
        SupervisorConfig::new(RegistryAddress::Unix("/nonexistent".into()))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_crash_loop_backs_off_to_the_maximum() {
        let config = config();
        let mut delays = Vec::new();
        let mut last = None;
        for _ in 0..10 {
            let delay = restart_delay(last, ms(50), &config);
            delays.push(delay.as_millis());
            last = Some(delay);
        }
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        );
        // Running `healthy_after` starts over.
        assert_eq!(restart_delay(last, ms(30_000), &config), ms(100));
    }

    #[test]
    fn a_process_killed_now_and_then_comes_back_quickly() {
        // Killed every 1.5 s after serving: the delay never grows (it grew to 10 s before).
        let config = config();
        let mut last = None;
        for _ in 0..20 {
            let delay = restart_delay(last, ms(1_500), &config);
            assert_eq!(delay, ms(100));
            last = Some(delay);
        }
        // After a crash loop, runs of ten times the delay bring it back down, halving it each time.
        let mut last = Some(ms(1_600));
        let mut delays = Vec::new();
        for _ in 0..5 {
            let delay = restart_delay(last, last.unwrap() * 10, &config);
            delays.push(delay.as_millis());
            last = Some(delay);
        }
        assert_eq!(delays, [800, 400, 200, 100, 100]);
        // Shorter runs still double it.
        assert_eq!(restart_delay(Some(ms(800)), ms(7_000), &config), ms(1_600));
    }

    #[test]
    fn huge_settings_do_not_overflow() {
        let mut config = config();
        config.backoff_initial = Duration::MAX;
        config.backoff_max = Duration::MAX;
        assert_eq!(
            restart_delay(Some(Duration::MAX), Duration::ZERO, &config),
            Duration::MAX
        );
        assert_eq!(
            restart_delay(Some(Duration::MAX), Duration::MAX, &config),
            Duration::MAX
        );
    }
}
