//! Faults under load: 64 calls in flight throughout, each with a deadline, to the echo IOmod (real
//! processes, started and restarted by the supervisor), while the IOmod is killed, stopped or the registry
//! restarted; and peers that connect and never register, or register and never answer health checks.
//!
//! Each test prints its figures (`--nocapture`). The sizes are short here (CI); `scripts/faults.sh` runs
//! the same tests longer through the environment: `FAULTS_KILLS`, `FAULTS_STOPS`, `FAULTS_RESTARTS`,
//! `FAULTS_SEED`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::*;
use iomod::registry::{IomodState, Registry, RegistryConfig, RegistryHandle};
use iomod::supervisor::{IomodProcess, Supervisor, SupervisorConfig};
use iomod_sdk::iomod_capnp::{control, health};
use iomod_sdk::transport::{ConnectionLimits, RegistryAddress, RegistryConnection};
use iomod_sdk::{ErrorCode, IomodInfo, MethodInfo};

const ECHO: &str = "example.test.echo.echo";
/// Calls in flight throughout.
const IN_FLIGHT: usize = 64;
/// How far past its deadline a call may end (the bound).
const OVERSHOOT_BOUND: Duration = Duration::from_millis(100);

/// The load tests share two cores: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seed of a test's random choices: `FAULTS_SEED`, or the clock's; printed so a run can be repeated.
fn seed(test: &str) -> u64 {
    let seed = env_u64(
        "FAULTS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    );
    println!("{test}: seed {seed} (FAULTS_SEED={seed} repeats it)");
    seed
}

/// splitmix64: small, seeded, good enough to pick moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.below(high - low + 1))
    }
}

/// A registry configured for these tests: health checked every 200 ms with a 500 ms timeout (evicted after
/// three failures, the default).
fn faults_config(dir: &TempDir) -> RegistryConfig {
    let mut config = RegistryConfig::unix(dir.socket());
    config.health_interval = Duration::from_millis(200);
    config.health_timeout = Duration::from_millis(500);
    config
}

/// The echo IOmod under the supervisor, with its default settings (what `iomod registry --packages` and
/// `iomod serve` use).
fn supervise_echo(dir: &TempDir) -> Supervisor {
    let process = IomodProcess {
        coordinates: echo_coordinates(),
        program: bin("iomod-echo"),
        arguments: Vec::new(),
    };
    Supervisor::start(
        vec![process],
        SupervisorConfig::new(RegistryAddress::Unix(dir.socket())),
    )
}

fn echo_pid(supervisor: &Supervisor) -> u32 {
    supervisor
        .stats(&echo_coordinates())
        .unwrap()
        .pid
        .load(Ordering::Relaxed)
}

fn signal(pid: u32, signal: libc::c_int) {
    assert!(pid > 1);
    // SAFETY: `kill` has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
}

/// One answered call.
#[derive(Clone, Copy)]
struct Record {
    /// When it was sent, in microseconds since the load started.
    sent: u64,
    /// How long it took, in microseconds.
    took: u64,
    /// `None` for a correct result; the error code otherwise.
    code: Option<ErrorCode>,
}

impl Record {
    fn answered(&self) -> u64 {
        self.sent + self.took
    }
}

#[derive(Default)]
struct Tally {
    records: Vec<Record>,
    /// Results whose payload was not the one sent.
    wrong: u64,
    /// Calls with no answer 5 s after their deadline.
    unanswered: u64,
    /// Errors that are neither `unavailable` nor `deadlineExceeded`, with their messages (the first few).
    unexpected: Vec<String>,
}

/// `IN_FLIGHT` workers, each making one call at a time with a deadline, through whichever registry handle
/// is current. After an error a worker pauses 5 ms (as a client retrying would), so that failing fast
/// does not turn into a busy loop that starves the rest of the machine.
struct Load {
    started: Instant,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    tally: Arc<Mutex<Tally>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    timeout: Duration,
}

impl Load {
    fn start(handle: Arc<RwLock<RegistryHandle>>, timeout: Duration, max_delay_ms: u64) -> Load {
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let workers = (0..IN_FLIGHT)
            .map(|worker| {
                let (handle, stop, sent, tally) =
                    (handle.clone(), stop.clone(), sent.clone(), tally.clone());
                tokio::spawn(async move {
                    let mut rng = Rng(worker as u64);
                    let mut seq = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        seq += 1;
                        let payload = format!("{worker}/{seq}").into_bytes();
                        let delay = rng.below(max_delay_ms + 1) as u32;
                        let input = echo_input(&payload, delay, "", false);
                        let registry = handle.read().unwrap().clone();
                        sent.fetch_add(1, Ordering::Relaxed);
                        let at = Instant::now();
                        let outcome = tokio::time::timeout(
                            timeout + Duration::from_secs(5),
                            registry.invoke(ECHO, input, Some(timeout)),
                        )
                        .await;
                        let took = at.elapsed();
                        let Ok(outcome) = outcome else {
                            tally
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .unanswered += 1;
                            continue;
                        };
                        let failed = {
                            let mut tally = tally
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            let code = match outcome {
                                Ok(out) => {
                                    if echo_output(&out).ok() != Some(payload) {
                                        tally.wrong += 1;
                                    }
                                    None
                                }
                                Err(e) => {
                                    if !matches!(
                                        e.code,
                                        ErrorCode::Unavailable | ErrorCode::DeadlineExceeded
                                    ) && tally.unexpected.len() < 5
                                    {
                                        tally.unexpected.push(e.to_string());
                                    }
                                    Some(e.code)
                                }
                            };
                            tally.records.push(Record {
                                sent: (at - started).as_micros() as u64,
                                took: took.as_micros() as u64,
                                code,
                            });
                            code.is_some()
                        };
                        if failed {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                })
            })
            .collect();
        Load {
            started,
            stop,
            sent,
            tally,
            workers,
            timeout,
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_micros() as u64
    }

    /// Correct results answered in `[from, to)` (microseconds since the start).
    fn ok_between(&self, from: u64, to: u64) -> u64 {
        let tally = self
            .tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tally
            .records
            .iter()
            .filter(|r| r.code.is_none() && (from..to).contains(&r.answered()))
            .count() as u64
    }

    /// Correct results per second over the second before `at`.
    fn rate_before(&self, at: Instant) -> f64 {
        let at = self.micros(at);
        self.ok_between(at.saturating_sub(1_000_000), at) as f64
    }

    /// How long after `from` the load is back: the end of the first 100 ms window (stepped by 10 ms) that
    /// holds at least half the correct results `rate` (per second) would give; waits up to `limit`.
    async fn recovery(&self, from: Instant, rate: f64, limit: Duration) -> Option<Duration> {
        let start = self.micros(from);
        let wanted = (rate * 0.1 * 0.5).max(1.0) as u64;
        let mut window = start;
        loop {
            let now = self.micros(Instant::now());
            while window + 100_000 <= now {
                if self.ok_between(window, window + 100_000) >= wanted {
                    return Some(Duration::from_micros(window + 100_000 - start));
                }
                window += 10_000;
            }
            if now - start > limit.as_micros() as u64 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finish(self) -> Summary {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            worker.await.unwrap();
        }
        let tally = Arc::try_unwrap(self.tally)
            .ok()
            .unwrap()
            .into_inner()
            .unwrap();
        Summary::new(tally, self.sent.load(Ordering::Relaxed), self.timeout)
    }
}

/// What a load saw.
struct Summary {
    tally: Tally,
    sent: u64,
    timeout: Duration,
}

impl Summary {
    fn new(tally: Tally, sent: u64, timeout: Duration) -> Self {
        Self {
            tally,
            sent,
            timeout,
        }
    }

    fn answers(&self) -> u64 {
        self.tally.records.len() as u64
    }

    fn by_kind(&self) -> BTreeMap<String, u64> {
        let mut kinds = BTreeMap::new();
        for r in &self.tally.records {
            let kind = r.code.map_or("ok".to_owned(), |c| c.to_string());
            *kinds.entry(kind).or_default() += 1;
        }
        kinds
    }

    /// How far the latest answer came after its call's deadline (zero when none was late).
    fn worst_overshoot(&self) -> Duration {
        let timeout = self.timeout.as_micros() as u64;
        let worst = self
            .tally
            .records
            .iter()
            .map(|r| r.took.saturating_sub(timeout))
            .max()
            .unwrap_or(0);
        Duration::from_micros(worst)
    }

    fn line(&self) -> String {
        let kinds: Vec<String> = self
            .by_kind()
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        format!(
            "calls {} answered {} ({}), wrong results {}, unanswered {}, worst overshoot past the deadline {} ms",
            self.sent,
            self.answers(),
            kinds.join(", "),
            self.tally.wrong,
            self.tally.unanswered,
            self.worst_overshoot().as_secs_f64() * 1000.0
        )
    }

    /// Every call got exactly one answer, correct or `unavailable` or `deadlineExceeded`, none later than
    /// the bound past its deadline.
    fn check(&self) {
        assert_eq!(self.tally.unanswered, 0, "calls never answered");
        assert_eq!(self.answers(), self.sent, "calls sent and answers differ");
        assert_eq!(self.tally.wrong, 0, "results with the wrong payload");
        assert!(
            self.tally.unexpected.is_empty(),
            "answers other than a result, `unavailable` or `deadlineExceeded`: {:?}",
            self.tally.unexpected
        );
        assert!(
            self.worst_overshoot() <= OVERSHOOT_BOUND,
            "a call ended {:?} past its deadline",
            self.worst_overshoot()
        );
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn median_max(values: &[Duration]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort();
    match (sorted.get(sorted.len() / 2), sorted.last()) {
        (Some(median), Some(max)) => format!("median {} ms, max {} ms", ms(*median), ms(*max)),
        _ => "none".into(),
    }
}

/// Polls `condition` every 2 ms; the time it took to hold, or `None` after `limit`.
async fn time_until(limit: Duration, mut condition: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if condition() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_iomods_restart_and_every_call_is_answered_once() {
    let _serial = serial().await;
    let kills = env_u64("FAULTS_KILLS", 5);
    let mut rng = Rng(seed("kill"));
    let dir = TempDir::new();
    let registry = Registry::start(faults_config(&dir)).await.unwrap();
    let supervisor = supervise_echo(&dir);
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    let timeout = Duration::from_millis(1_000);
    let load = Load::start(Arc::new(RwLock::new(registry.handle())), timeout, 20);
    let stats = supervisor.stats(&echo_coordinates()).unwrap();
    let (mut restarts, mut registered, mut recovered) = (Vec::new(), Vec::new(), Vec::new());
    let mut rates = Vec::new();
    for kill in 0..kills {
        // A random moment, 1 to 3 s after the IOmod came back.
        tokio::time::sleep(rng.millis(1_000, 3_000)).await;
        let (pid, starts) = (echo_pid(&supervisor), stats.starts.load(Ordering::Relaxed));
        let instance = registry.instance_of(&echo_coordinates());
        let at = Instant::now();
        let rate = load.rate_before(at);
        signal(pid, libc::SIGKILL);
        let restarted = time_until(Duration::from_secs(20), || {
            stats.starts.load(Ordering::Relaxed) > starts
        })
        .await
        .unwrap_or_else(|| panic!("kill {kill}: the supervisor did not restart the IOmod"));
        time_until(Duration::from_secs(20), || {
            let now = registry.instance_of(&echo_coordinates());
            now.is_some() && now != instance
        })
        .await
        .unwrap_or_else(|| panic!("kill {kill}: the IOmod did not register again"));
        let back = at.elapsed();
        let recovery = load
            .recovery(at, rate, Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("kill {kill}: throughput never came back"));
        restarts.push(restarted);
        registered.push(back);
        recovered.push(recovery);
        rates.push(rate);
    }
    let summary = load.finish().await;
    supervisor.shutdown().await;
    let mean_rate = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    println!(
        "kill: {kills} SIGKILLs under {IN_FLIGHT} calls in flight ({} ms deadline): {}",
        timeout.as_millis(),
        summary.line()
    );
    println!(
        "kill: from the kill to the restart {}; to registered {}; to throughput back at >= 50% of the \
         {mean_rate:.0} calls/s before the kill {}",
        median_max(&restarts),
        median_max(&registered),
        median_max(&recovered)
    );
    let each: Vec<String> = registered
        .iter()
        .zip(&recovered)
        .zip(&rates)
        .map(|((back, recovery), rate)| format!("{}:{}:{rate:.0}", ms(*back), ms(*recovery)))
        .collect();
    println!(
        "kill: each kill (registered ms:throughput back ms:calls/s before) {}",
        each.join(" ")
    );
    summary.check();
    let worst = recovered.iter().max().copied().unwrap_or_default();
    assert!(
        worst <= Duration::from_secs(2),
        "throughput came back {worst:?} after a kill"
    );
}

/// Waits for the echo IOmod's listed state to be `wanted` (`None`: not listed); the time it took.
async fn until_state(
    registry: &Registry,
    wanted: Option<IomodState>,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    loop {
        let state = registry.list().await.unwrap().first().map(|s| s.state);
        if state == wanted {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_iomod_fails_calls_at_their_deadline_then_fast_and_comes_back() {
    let _serial = serial().await;
    let stops = env_u64("FAULTS_STOPS", 2);
    let mut rng = Rng(seed("stop"));
    let dir = TempDir::new();
    let registry = Registry::start(faults_config(&dir)).await.unwrap();
    let supervisor = supervise_echo(&dir);
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    let timeout = Duration::from_millis(1_000);
    let load = Load::start(Arc::new(RwLock::new(registry.handle())), timeout, 20);
    let mut unhealthy = Vec::new();
    let mut ready = Vec::new();
    let mut recovered = Vec::new();
    let mut fast = Vec::new();
    let mut evictions = 0;
    for stop in 0..stops {
        tokio::time::sleep(rng.millis(1_000, 2_000)).await;
        // The first stop is short (the instance comes back by passing a health check), the second long
        // (it is evicted, and registers anew); the rest are random.
        let hold = match stop {
            0 => Duration::from_millis(1_200),
            1 => Duration::from_millis(3_500),
            _ => rng.millis(1_200, 5_000),
        };
        // Stopped while ready (a health check can time out on a busy machine), so that calls are in its
        // hands.
        until_state(&registry, Some(IomodState::Ready), Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("stop {stop}: not ready before the stop"));
        let pid = echo_pid(&supervisor);
        let rate = load.rate_before(Instant::now());
        let stopped = Instant::now();
        signal(pid, libc::SIGSTOP);
        let to_unhealthy = until_state(&registry, Some(IomodState::Unhealthy), hold)
            .await
            .unwrap_or_else(|| panic!("stop {stop}: not reported unhealthy in {hold:?}"));
        let unhealthy_at = Instant::now();
        let rest = hold.saturating_sub(stopped.elapsed());
        tokio::time::sleep(rest).await;
        let evicted = registry.list().await.unwrap().is_empty();
        evictions += u32::from(evicted);
        let continued = Instant::now();
        signal(pid, libc::SIGCONT);
        let to_ready = until_state(&registry, Some(IomodState::Ready), Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("stop {stop}: not ready again after SIGCONT"));
        let recovery = load
            .recovery(continued, rate, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("stop {stop}: throughput never came back"));
        // Calls sent while it was known unhealthy (or gone) and stopped: all failed at once.
        let (from, to) = (
            load.micros(unhealthy_at) + 20_000,
            load.micros(continued).saturating_sub(20_000),
        );
        {
            let tally = load
                .tally
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let during: Vec<&Record> = tally
                .records
                .iter()
                .filter(|r| (from..to).contains(&r.sent))
                .collect();
            assert!(!during.is_empty(), "stop {stop}: no call while unhealthy");
            for r in &during {
                assert_eq!(
                    r.code,
                    Some(ErrorCode::Unavailable),
                    "stop {stop}: a call to the stopped IOmod"
                );
            }
            fast.push(Duration::from_micros(
                during.iter().map(|r| r.took).max().unwrap_or(0),
            ));
            // Calls sent to it after it stopped and before it was known unhealthy ended at their deadline.
            let (at, known) = (load.micros(stopped), load.micros(unhealthy_at));
            let timed_out = tally
                .records
                .iter()
                .filter(|r| r.answered() > at && r.sent < known)
                .filter(|r| r.code == Some(ErrorCode::DeadlineExceeded))
                .count();
            assert!(timed_out > 0, "stop {stop}: no call ended at its deadline");
        }
        unhealthy.push(to_unhealthy);
        ready.push(to_ready);
        recovered.push(recovery);
    }
    let summary = load.finish().await;
    supervisor.shutdown().await;
    println!(
        "stop: {stops} SIGSTOPs ({evictions} long enough to be evicted) under {IN_FLIGHT} calls in flight \
         ({} ms deadline): {}",
        timeout.as_millis(),
        summary.line()
    );
    println!(
        "stop: from SIGSTOP to unhealthy {}; slowest failure while unhealthy {}; from SIGCONT to ready {}, \
         to throughput back {}",
        median_max(&unhealthy),
        median_max(&fast),
        median_max(&ready),
        median_max(&recovered)
    );
    summary.check();
    assert!(evictions >= 1, "no stop was long enough to be evicted");
    for took in &fast {
        assert!(
            *took < timeout / 2,
            "a call to a stopped IOmod took {took:?}"
        );
    }
}

/// Starts `iomod registry` on `socket`.
fn start_registry_process(socket: &std::path::Path) -> Process {
    Process {
        child: std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
            .args(["registry", "--socket", socket.to_str().unwrap()])
            .env("IOMOD_LOG", "error")
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    }
}

/// Connects to the registry at `socket` as soon as it listens, then waits for the echo IOmod to register;
/// returns when it listened and when the IOmod was registered.
async fn until_registered(socket: &std::path::Path, started: Instant) -> (Duration, Duration) {
    let address = RegistryAddress::Unix(socket.to_owned());
    let connection = loop {
        match RegistryConnection::connect(&address, None, ConnectionLimits::default()).await {
            Ok(connection) => break connection,
            Err(_) => {
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "the registry never listened"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };
    let listening = started.elapsed();
    let mut request = connection.registry.wait_ready_request();
    request
        .get()
        .init_coordinates(1)
        .set(0, iomod_echo::COORDINATES);
    request.get().set_timeout_ms(20_000);
    let response = request.send().promise.await.unwrap();
    assert!(
        !response.get().unwrap().has_error(),
        "the IOmod did not register again"
    );
    let registered = started.elapsed();
    connection.disconnect().await;
    (listening, registered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iomods_register_again_within_a_second_of_a_registry_restart() {
    let _serial = serial().await;
    let restarts = env_u64("FAULTS_RESTARTS", 4);
    let mut rng = Rng(seed("restart"));
    let dir = TempDir::new();
    let socket = dir.socket();
    let mut registry = start_registry_process(&socket);
    let echo = spawn_echo(socket.to_str().unwrap(), None);
    let local = tokio::task::LocalSet::new();
    let (mut listening, mut registered, mut downs) = (Vec::new(), Vec::new(), Vec::new());
    local
        .run_until(async {
            until_registered(&socket, Instant::now()).await;
            for restart in 0..restarts {
                tokio::time::sleep(rng.millis(200, 1_000)).await;
                registry.signal("KILL");
                registry.wait_exit(Duration::from_secs(10)).unwrap();
                // Down for a while: at once, then longer and longer (up to 6 s), then at random.
                let down = match restart {
                    0 => Duration::ZERO,
                    1 => Duration::from_millis(1_500),
                    2 => Duration::from_millis(3_500),
                    3 => Duration::from_millis(6_000),
                    _ => rng.millis(0, 6_000),
                };
                tokio::time::sleep(down).await;
                let started = Instant::now();
                registry = start_registry_process(&socket);
                let (listened, back) = until_registered(&socket, started).await;
                listening.push(listened);
                registered.push(back);
                downs.push(down);
            }
        })
        .await;
    let each: Vec<String> = downs
        .iter()
        .zip(&registered)
        .map(|(down, back)| format!("{}:{}", down.as_millis(), ms(*back)))
        .collect();
    println!(
        "restart: {restarts} registry SIGKILLs and restarts on the same socket: from the new registry's \
         start to listening {}, to the IOmod registered {} (down ms:registered ms {})",
        median_max(&listening),
        median_max(&registered),
        each.join(" ")
    );
    // The same IOmod process registered each time: it reconnected, nobody restarted it.
    assert!(echo_alive(&echo));
    let worst = registered.iter().max().copied().unwrap_or_default();
    assert!(
        worst <= Duration::from_secs(1),
        "an IOmod registered {worst:?} after the registry started"
    );
}

fn echo_alive(echo: &Process) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", echo.pid())).is_ok_and(|s| !s.contains(") Z "))
}

/// A `Control` that registers and then never answers anything: a hung peer.
struct Hung;

impl control::Server for Hung {
    async fn health(
        self: std::rc::Rc<Self>,
        _: control::HealthParams,
        _: control::HealthResults,
    ) -> Result<(), capnp::Error> {
        std::future::pending().await
    }

    async fn call(
        self: std::rc::Rc<Self>,
        _: control::CallParams,
        _: control::CallResults,
    ) -> Result<(), capnp::Error> {
        std::future::pending().await
    }
}

/// A `Control` that answers health checks as serving, for a peer that comes back.
struct Healthy;

impl control::Server for Healthy {
    async fn health(
        self: std::rc::Rc<Self>,
        _: control::HealthParams,
        mut results: control::HealthResults,
    ) -> Result<(), capnp::Error> {
        results
            .get()
            .init_health()
            .set_status(health::Status::Serving);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_that_never_register_or_never_answer_do_not_disturb_the_others() {
    let _serial = serial().await;
    let dir = TempDir::new();
    let mut config = faults_config(&dir);
    // Room for the IOmod, the peers below and the test's own connections, and no more.
    config.max_connections = 40;
    let registry = Registry::start(config).await.unwrap();
    let supervisor = supervise_echo(&dir);
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    let timeout = Duration::from_millis(1_000);
    let load = Load::start(Arc::new(RwLock::new(registry.handle())), timeout, 5);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rate_before = load.rate_before(Instant::now());
    let address = RegistryAddress::Unix(dir.socket());
    let silent: iomod_sdk::Coordinates = "example.test.silent".parse().unwrap();
    let local = tokio::task::LocalSet::new();
    let (to_unhealthy, to_evicted, to_closed, refused, held) = local
        .run_until(async {
            // Connections that send nothing, and one that opens the gate and never registers.
            let mut idle = Vec::new();
            for _ in 0..30 {
                idle.push(tokio::net::UnixStream::connect(dir.socket()).await.unwrap());
            }
            let unregistered =
                RegistryConnection::connect(&address, None, ConnectionLimits::default())
                    .await
                    .unwrap();
            // A peer that registers, then never answers a health check (nor a call).
            let hung = RegistryConnection::connect(&address, None, ConnectionLimits::default())
                .await
                .unwrap();
            let mut request = hung.registry.register_request();
            IomodInfo::new(silent.clone(), "1.0.0", 1)
                .method(MethodInfo::new("echo", 0))
                .write(request.get().init_info());
            request.get().set_control(capnp_rpc::new_client(Hung));
            let service: control::Client = capnp_rpc::new_client(Hung);
            request
                .get()
                .init_service()
                .set_as_capability(service.client.hook);
            let response = request.send().promise.await.unwrap();
            assert!(matches!(
                response.get().unwrap().get_result().unwrap().which(),
                Ok(iomod_sdk::iomod_capnp::register_result::Registration(_))
            ));
            let registered_at = Instant::now();
            let state = || async {
                registry
                    .list()
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|s| s.info.coordinates == silent)
                    .map(|s| s.state)
            };
            while state().await != Some(IomodState::Unhealthy) {
                assert!(
                    registered_at.elapsed() < Duration::from_secs(10),
                    "never unhealthy"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let to_unhealthy = registered_at.elapsed();
            // Calls to it fail at once.
            let started = Instant::now();
            let r = registry
                .invoke(
                    "example.test.silent.echo",
                    echo_input(b"x", 0, "", false),
                    Some(Duration::from_secs(30)),
                )
                .await;
            assert_code(r, ErrorCode::Unavailable, "failed its last health check");
            assert!(started.elapsed() < Duration::from_secs(1));
            while state().await.is_some() {
                assert!(
                    registered_at.elapsed() < Duration::from_secs(10),
                    "never evicted"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let to_evicted = registered_at.elapsed();
            // Its connection is closed by the registry.
            tokio::time::timeout(Duration::from_secs(5), hung.closed())
                .await
                .expect("the hung peer's connection stays open");
            let to_closed = registered_at.elapsed();
            // The connections that never register are counted against the connection limit: past it,
            // the registry closes new ones at once.
            let mut refused = 0;
            for _ in 0..20 {
                let mut stream = tokio::net::UnixStream::connect(dir.socket()).await.unwrap();
                let mut byte = [0u8; 1];
                let read = tokio::time::timeout(
                    Duration::from_millis(300),
                    tokio::io::AsyncReadExt::read(&mut stream, &mut byte),
                )
                .await;
                if matches!(read, Ok(Ok(0) | Err(_))) {
                    refused += 1;
                } else {
                    idle.push(stream);
                }
            }
            let held = idle.len();
            // Once they go, a peer that answers its health checks registers and stays ready.
            drop(idle);
            drop(unregistered);
            tokio::time::sleep(Duration::from_millis(200)).await;
            let healthy = RegistryConnection::connect(&address, None, ConnectionLimits::default())
                .await
                .unwrap();
            let mut request = healthy.registry.register_request();
            IomodInfo::new(silent.clone(), "1.0.1", 1)
                .method(MethodInfo::new("echo", 0))
                .write(request.get().init_info());
            request.get().set_control(capnp_rpc::new_client(Healthy));
            let service: control::Client = capnp_rpc::new_client(Healthy);
            request
                .get()
                .init_service()
                .set_as_capability(service.client.hook);
            let response = request.send().promise.await.unwrap();
            let _registration = match response.get().unwrap().get_result().unwrap().which() {
                Ok(iomod_sdk::iomod_capnp::register_result::Registration(r)) => r.unwrap(),
                _ => panic!("the registration was refused"),
            };
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_eq!(state().await, Some(IomodState::Ready));
            (to_unhealthy, to_evicted, to_closed, refused, held)
        })
        .await;
    let rate_after = load.rate_before(Instant::now());
    let summary = load.finish().await;
    supervisor.shutdown().await;
    println!(
        "silent peers: {held} connections that never register held open, {refused} more refused at the \
         limit of 40; a peer that never answers health checks: unhealthy after {} ms, evicted after {} ms, \
         its connection closed after {} ms; the echo IOmod meanwhile: {} ({rate_before:.0} calls/s before, \
         {rate_after:.0} after)",
        ms(to_unhealthy),
        ms(to_evicted),
        ms(to_closed),
        summary.line()
    );
    summary.check();
    // The echo IOmod was never touched: every one of its calls succeeded.
    assert_eq!(summary.by_kind().keys().collect::<Vec<_>>(), ["ok"]);
    assert!(refused > 0, "the connection limit never applied");
}
