//! Fuzzes the registry's sockets: a real `iomod registry` process, listening on a Unix socket and on TCP
//! with a token, with the echo IOmod registered, receives random bytes and mutated Cap'n Proto RPC
//! messages (bootstraps, calls to `Gate.open`, `Registry.list`, `Registry.callJson` and others with right
//! and wrong interface, method, question and capability ids, returns for questions never asked,
//! finishes and releases of unknown ids, disembargoes, resolves, aborts), huge segment tables, segment
//! sizes claiming gigabytes, truncated messages and messages cut short on connections then held open,
//! over Unix, TCP without the token, and TCP after a valid `Gate.open`.
//!
//! Throughout, two well-behaved clients (one over Unix, one over TCP with the token) keep calling
//! `Registry.list` and `Registry.callJson` to the echo IOmod: every answer must come, and be right. The
//! registry must never panic nor exit, its resident memory must stay within a bound of its value after
//! warm-up, and its open descriptors must come back once the fuzzing connections are closed.
//!
//! `IOMOD_FUZZ_SECONDS` (default 25) sets the time; `scripts/fuzz-runtime.sh` runs it long.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capnp::message::Builder;
use capnp::traits::HasTypeId;
use capnp_rpc::rpc_capnp::{cap_descriptor, disembargo, exception, message, message_target};
use common::fuzz::{self, Target};
use common::*;
use iomod_sdk::iomod_capnp::{control, gate, json_result, registry};
use iomod_sdk::transport::{ConnectionLimits, RegistryAddress, RegistryConnection};

const TOKEN: &str = "fuzz-token-0123456789abcdef";
/// Connections cut short and held open at once; the oldest is closed when another is held.
const HELD: usize = 32;
/// How far the registry's resident memory may grow past its value after warm-up.
const RSS_BOUND_KIB: u64 = 64 * 1024;

/// Transports of an input (its first byte's low two bits).
const UNIX: u8 = 0;
const TCP_NO_TOKEN: u8 = 1;
const TCP_AFTER_TOKEN: u8 = 2;
const UNIX_AFTER_OPEN: u8 = 3;
/// Leave the connection open after writing (its third bit).
const HOLD: u8 = 4;
/// Write in small pieces (its fourth bit).
const CHUNKED: u8 = 8;

/// What the registry wrote to standard error: line count, and the lines that report a panic.
#[derive(Default)]
struct Stderr {
    lines: u64,
    panics: Vec<String>,
    tail: Vec<String>,
}

/// What the well-behaved clients saw.
#[derive(Default)]
struct Clients {
    rounds: AtomicU64,
    errors: Mutex<Vec<String>>,
    latencies_us: Mutex<Vec<u64>>,
}

struct RegistryTarget {
    _dir: TempDir,
    registry: Process,
    _echo: Process,
    socket: std::path::PathBuf,
    tcp: std::net::SocketAddr,
    stderr: Arc<Mutex<Stderr>>,
    clients: Arc<Clients>,
    stop: Arc<AtomicBool>,
    client_thread: Option<std::thread::JoinHandle<()>>,
    held: std::collections::VecDeque<Box<dyn std::any::Any>>,
    /// Resident memory after warm-up (KiB), and the most seen.
    rss_baseline: Option<u64>,
    rss_max: u64,
    fds_start: usize,
    started: Instant,
    by_transport: [u64; 4],
    hwm: u64,
    hwm_jumps: Vec<(u64, u64, Vec<u8>)>,
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// One round of a well-behaved client: `list` names the echo IOmod, and `callJson` reaches it (it takes
/// no JSON calls and says so: the answer comes from the IOmod itself).
async fn well_behaved_round(registry: &registry::Client) -> Result<(), String> {
    let response = registry
        .list_request()
        .send()
        .promise
        .await
        .map_err(|e| format!("list: {e}"))?;
    let iomods = response
        .get()
        .and_then(|r| r.get_iomods())
        .map_err(|e| format!("list: {e}"))?;
    let listed: Vec<String> = iomods
        .iter()
        .filter_map(|s| s.get_info().ok()?.get_coordinates().ok()?.to_string().ok())
        .collect();
    if !listed.iter().any(|c| c == "example.test.echo") {
        return Err(format!("list does not name the echo IOmod: {listed:?}"));
    }
    let mut request = registry.call_json_request();
    request.get().set_path("example.test.echo.reverse");
    request.get().set_input(r#"{"text": "abc"}"#);
    request.get().set_timeout_ms(20_000);
    let response = request
        .send()
        .promise
        .await
        .map_err(|e| format!("callJson: {e}"))?;
    let result = response
        .get()
        .and_then(|r| r.get_result())
        .map_err(|e| format!("callJson: {e}"))?;
    match result.which() {
        Ok(json_result::Err(Ok(e))) => {
            let e = iomod_sdk::Error::read(e);
            if e.code == iomod_sdk::ErrorCode::MethodNotFound
                && e.message.contains("does not take JSON calls")
            {
                Ok(())
            } else {
                Err(format!("callJson: unexpected error {e}"))
            }
        }
        _ => Err("callJson: unexpected answer".into()),
    }
}

/// The well-behaved clients: one connection over Unix and one over TCP with the token, each making
/// rounds until `stop`.
fn well_behaved_clients(
    socket: std::path::PathBuf,
    tcp: std::net::SocketAddr,
    clients: Arc<Clients>,
    stop: Arc<AtomicBool>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let unix = RegistryConnection::connect(
            &RegistryAddress::Unix(socket),
            None,
            ConnectionLimits::default(),
        )
        .await
        .unwrap();
        let tcp = RegistryConnection::connect(
            &RegistryAddress::Tcp(tcp.to_string()),
            Some(TOKEN),
            ConnectionLimits::default(),
        )
        .await
        .unwrap();
        while !stop.load(Ordering::Relaxed) {
            for connection in [&unix, &tcp] {
                let started = Instant::now();
                let outcome = tokio::time::timeout(
                    Duration::from_secs(30),
                    well_behaved_round(&connection.registry),
                )
                .await
                .unwrap_or_else(|_| Err("no answer within 30 s".into()));
                let elapsed = started.elapsed();
                match outcome {
                    Ok(()) => {
                        clients.rounds.fetch_add(1, Ordering::Relaxed);
                        clients
                            .latencies_us
                            .lock()
                            .unwrap()
                            .push(elapsed.as_micros() as u64);
                    }
                    Err(e) => clients.errors.lock().unwrap().push(e),
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

impl RegistryTarget {
    fn start() -> RegistryTarget {
        let dir = TempDir::new();
        let socket = dir.socket();
        let token_file = dir.0.join("token");
        std::fs::write(&token_file, TOKEN).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_iomod"))
            .args(["registry", "--socket"])
            .arg(&socket)
            .args(["--tcp", "127.0.0.1:0", "--token-file"])
            .arg(&token_file)
            .args(["--handshake-timeout", "2", "--health-interval", "1"])
            .env("IOMOD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Stderr::default()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        {
            let pipe = child.stderr.take().unwrap();
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = line.split("listening on tcp://").nth(1) {
                        let _ = addr_tx.send(addr.trim().to_owned());
                    }
                    let mut s = stderr.lock().unwrap();
                    s.lines += 1;
                    if line.contains("panicked") {
                        s.panics.push(line.clone());
                    }
                    s.tail.push(line);
                    if s.tail.len() > 20 {
                        s.tail.remove(0);
                    }
                }
            });
        }
        let registry = Process { child };
        let tcp: std::net::SocketAddr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the registry did not say where it listens")
            .parse()
            .unwrap();
        let echo = spawn_echo(socket.to_str().unwrap(), None);
        // Wait for the echo IOmod to register.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new(env!("CARGO_BIN_EXE_iomod"))
                .args(["ls", "--json", "--registry"])
                .arg(&socket)
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("example.test.echo") {
                break;
            }
            assert!(Instant::now() < deadline, "the echo IOmod did not register");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The raw messages reach the registry's methods: after the token, a `list` on the pipelined
        // `Gate.open` answer is answered with the echo IOmod's status.
        let mut raw = open_gate(TOKEN);
        raw.extend(list_call());
        let mut stream = std::net::TcpStream::connect(tcp).unwrap();
        stream.write_all(&raw).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answered = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answered).contains("example.test.echo") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => panic!("the raw list call got no answer"),
                Ok(n) => answered.extend_from_slice(&buf[..n]),
            }
        }
        drop(stream);
        let clients = Arc::new(Clients::default());
        let stop = Arc::new(AtomicBool::new(false));
        let client_thread = {
            let (socket, clients, stop) = (socket.clone(), clients.clone(), stop.clone());
            std::thread::spawn(move || well_behaved_clients(socket, tcp, clients, stop))
        };
        let fds_start = open_fds(registry.pid());
        RegistryTarget {
            _dir: dir,
            registry,
            _echo: echo,
            socket,
            tcp,
            stderr,
            clients,
            stop,
            client_thread: Some(client_thread),
            held: Default::default(),
            rss_baseline: None,
            rss_max: 0,
            fds_start,
            started: Instant::now(),
            by_transport: [0; 4],
            hwm: 0,
            hwm_jumps: Vec::new(),
        }
    }

    fn alive(&mut self) -> Result<(), String> {
        if let Some(status) = self.registry.child.try_wait().unwrap() {
            let s = self.stderr.lock().unwrap();
            return Err(format!(
                "the registry exited ({status}); it wrote: {}",
                s.tail.join(" / ")
            ));
        }
        let s = self.stderr.lock().unwrap();
        if !s.panics.is_empty() {
            return Err(format!("the registry panicked: {}", s.panics.join(" / ")));
        }
        Ok(())
    }
}

/// Writes `bytes` (in pieces of 1 to 7 bytes when `chunked`), ignoring errors (the registry may close the
/// connection at any point).
fn write_all(stream: &mut dyn Write, bytes: &[u8], chunked: bool) {
    if chunked {
        let mut at = 0;
        let mut step = 1;
        while at < bytes.len() {
            let end = bytes.len().min(at + step);
            if stream.write_all(&bytes[at..end]).is_err() {
                return;
            }
            at = end;
            step = step % 7 + 1;
        }
    } else {
        let _ = stream.write_all(bytes);
    }
}

/// Reads until the peer closes or `timeout` passes.
fn drain(stream: &mut dyn Read, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

impl Target for RegistryTarget {
    fn run(&mut self, input: &[u8]) -> Result<(), String> {
        let Some((&mode, payload)) = input.split_first() else {
            return Ok(());
        };
        let transport = mode & 3;
        self.by_transport[transport as usize] += 1;
        let preamble = match transport {
            TCP_AFTER_TOKEN => open_gate(TOKEN),
            UNIX_AFTER_OPEN => open_gate(""),
            UNIX | TCP_NO_TOKEN => Vec::new(),
            _ => unreachable!(),
        };
        let timeout = Some(Duration::from_millis(500));
        if transport == UNIX || transport == UNIX_AFTER_OPEN {
            let mut stream = UnixStream::connect(&self.socket).map_err(|e| e.to_string())?;
            stream.set_write_timeout(timeout).unwrap();
            stream.set_read_timeout(timeout).unwrap();
            write_all(&mut stream, &preamble, false);
            write_all(&mut stream, payload, mode & CHUNKED != 0);
            if mode & HOLD != 0 {
                self.held.push_back(Box::new(stream));
            } else {
                let _ = stream.shutdown(std::net::Shutdown::Write);
                drain(&mut stream, Duration::from_millis(500));
            }
        } else {
            let mut stream = std::net::TcpStream::connect(self.tcp).map_err(|e| e.to_string())?;
            stream.set_nodelay(true).unwrap();
            stream.set_write_timeout(timeout).unwrap();
            stream.set_read_timeout(timeout).unwrap();
            write_all(&mut stream, &preamble, false);
            write_all(&mut stream, payload, mode & CHUNKED != 0);
            if mode & HOLD != 0 {
                self.held.push_back(Box::new(stream));
            } else {
                let _ = stream.shutdown(std::net::Shutdown::Write);
                drain(&mut stream, Duration::from_millis(500));
            }
        }
        while self.held.len() > HELD {
            self.held.pop_front();
        }
        // The inputs after which the registry's peak resident memory jumped (reported at the end).
        let hwm = status_kib(self.registry.pid(), "VmHWM:");
        if self.hwm > 0 && hwm > self.hwm + 16 * 1024 {
            self.hwm_jumps.push((self.hwm, hwm, input.to_vec()));
        }
        self.hwm = hwm;
        self.alive()
    }

    fn generate(&mut self, rng: &mut fastrand::Rng) -> Vec<u8> {
        generate(rng)
    }

    fn check(&mut self) -> Result<(), String> {
        self.alive()?;
        let errors = std::mem::take(&mut *self.clients.errors.lock().unwrap());
        if !errors.is_empty() {
            return Err(format!(
                "a well-behaved client was not answered: {}",
                errors.join(" / ")
            ));
        }
        let rss = status_kib(self.registry.pid(), "VmRSS:");
        self.rss_max = self.rss_max.max(rss);
        // Warm-up: the first few seconds of fuzzing.
        match self.rss_baseline {
            None if self.started.elapsed() > Duration::from_secs(5) => {
                self.rss_baseline = Some(rss)
            }
            Some(baseline) if rss > baseline + RSS_BOUND_KIB => {
                return Err(format!(
                    "the registry's resident memory grew from {baseline} KiB to {rss} KiB"
                ));
            }
            _ => {}
        }
        Ok(())
    }

    fn report(&mut self) -> String {
        // Close the held connections: the registry's descriptors come back.
        self.held.clear();
        let pid = self.registry.pid();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut fds = open_fds(pid);
        while fds > self.fds_start + 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            fds = open_fds(pid);
        }
        assert!(
            fds <= self.fds_start + 2,
            "the registry holds {fds} descriptors after the fuzzing connections closed ({} before)",
            self.fds_start
        );
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.client_thread.take() {
            thread.join().unwrap();
        }
        self.check().unwrap();
        let mut latencies = self.clients.latencies_us.lock().unwrap().clone();
        latencies.sort_unstable();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-hwm");
        let _ = std::fs::create_dir_all(&dir);
        for (i, (from, to, input)) in self.hwm_jumps.iter().enumerate() {
            let path = dir.join(format!("jump-{i}.bin"));
            let _ = std::fs::write(&path, input);
            eprintln!("peak RSS {from} KiB -> {to} KiB after {}", path.display());
        }
        let s = self.stderr.lock().unwrap();
        format!(
            "inputs by transport [unix, tcp without token, tcp after Gate.open, unix after Gate.open] \
             {:?}; well-behaved rounds (list + callJson) {} with none failed, latency p50 {} us p99 {} \
             us max {} us; registry RSS after warm-up {} KiB, max {} KiB (bound: +{} KiB), peak {} KiB; \
             descriptors {} at start, {} at the end; {} lines on its stderr, no panic",
            self.by_transport,
            self.clients.rounds.load(Ordering::Relaxed),
            pct(0.5),
            pct(0.99),
            latencies.last().copied().unwrap_or(0),
            self.rss_baseline.unwrap_or(0),
            self.rss_max,
            RSS_BOUND_KIB,
            status_kib(pid, "VmHWM:"),
            self.fds_start,
            fds,
            s.lines,
        )
    }
}

// ---- RPC messages ----

fn gate_id() -> u64 {
    gate::Client::TYPE_ID
}

fn registry_id() -> u64 {
    registry::Client::TYPE_ID
}

/// One framed message.
fn frame(builder: &Builder<capnp::message::HeapAllocator>) -> Vec<u8> {
    capnp::serialize::write_message_to_words(builder)
}

/// `Bootstrap` (question 0), then `Gate.open(token)` (question 1) on the bootstrap's promised answer:
/// afterwards the registry is question 1's `result.registry`.
fn open_gate(token: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut m = Builder::new_default();
    m.init_root::<message::Builder<'_>>()
        .init_bootstrap()
        .set_question_id(0);
    out.extend(frame(&m));
    let mut m = Builder::new_default();
    let mut call = m.init_root::<message::Builder<'_>>().init_call();
    call.set_question_id(1);
    call.set_interface_id(gate_id());
    call.set_method_id(0);
    call.reborrow()
        .init_target()
        .init_promised_answer()
        .set_question_id(0);
    call.init_params()
        .init_content()
        .init_as::<gate::open_params::Builder<'_>>()
        .set_token(token);
    out.extend(frame(&m));
    out
}

/// `Registry.list` (question 2) on the registry that `Gate.open` (question 1) returned.
fn list_call() -> Vec<u8> {
    let mut m = Builder::new_default();
    let mut call = m.init_root::<message::Builder<'_>>().init_call();
    call.set_question_id(2);
    call.set_interface_id(registry_id());
    call.set_method_id(1);
    let mut answer = call.reborrow().init_target().init_promised_answer();
    answer.set_question_id(1);
    let mut ops = answer.init_transform(2);
    ops.reborrow().get(0).set_get_pointer_field(0);
    ops.reborrow().get(1).set_get_pointer_field(0);
    call.init_params().init_content().clear();
    frame(&m)
}

fn id(rng: &mut fastrand::Rng) -> u32 {
    match rng.u8(0..10) {
        0 => u32::MAX,
        1 => rng.u32(..),
        2 => 1 << 31,
        _ => rng.u32(0..6),
    }
}

fn target(rng: &mut fastrand::Rng, mut t: message_target::Builder<'_>) {
    if rng.bool() {
        t.set_imported_cap(id(rng));
    } else {
        let mut p = t.init_promised_answer();
        // Question 1 is Gate.open's answer when the input starts with it.
        p.set_question_id(if rng.bool() { 1 } else { id(rng) });
        let n = match rng.u8(0..4) {
            0 => 0,
            1 | 2 => 2,
            _ => rng.u32(0..5),
        };
        let mut ops = p.init_transform(n);
        for i in 0..n {
            if rng.u8(0..4) == 0 {
                ops.reborrow().get(i).set_noop(());
            } else {
                ops.reborrow()
                    .get(i)
                    .set_get_pointer_field(if rng.u8(0..3) == 0 { rng.u16(..) } else { 0 });
            }
        }
    }
}

fn cap_descriptor(rng: &mut fastrand::Rng, mut d: cap_descriptor::Builder<'_>) {
    match rng.u8(0..7) {
        0 => d.set_none(()),
        1 => d.set_sender_hosted(id(rng)),
        2 => d.set_sender_promise(id(rng)),
        3 => d.set_receiver_hosted(id(rng)),
        4 => {
            let mut p = d.init_receiver_answer();
            p.set_question_id(id(rng));
            let n = rng.u32(0..3);
            let mut ops = p.init_transform(n);
            for i in 0..n {
                ops.reborrow().get(i).set_get_pointer_field(rng.u16(0..3));
            }
        }
        5 => {
            d.init_third_party_hosted().set_vine_id(id(rng));
        }
        _ => d.set_attached_fd(rng.u8(..)),
    }
}

fn exception(rng: &mut fastrand::Rng, mut e: exception::Builder<'_>) {
    e.set_reason("fuzz");
    e.set_type(match rng.u8(0..4) {
        0 => exception::Type::Failed,
        1 => exception::Type::Overloaded,
        2 => exception::Type::Disconnected,
        _ => exception::Type::Unimplemented,
    });
}

fn text(rng: &mut fastrand::Rng) -> String {
    match rng.u8(0..6) {
        0 => "example.test.echo.reverse".into(),
        1 => "example.test.echo.echo".into(),
        2 => TOKEN.into(),
        3 => "fuzz.test.thing".into(),
        4 => "x".repeat(rng.usize(0..3000)),
        _ => (0..rng.usize(0..40)).map(|_| rng.alphanumeric()).collect(),
    }
}

/// Params content for a call of `method` of `interface`, right or not.
fn params(
    rng: &mut fastrand::Rng,
    interface: u64,
    method: u16,
    p: capnp::any_pointer::Builder<'_>,
) {
    if rng.u8(0..5) == 0 {
        // The wrong struct, or none.
        if rng.bool() {
            p.init_as::<gate::open_params::Builder<'_>>()
                .set_token(text(rng));
        }
        return;
    }
    match (interface == gate_id(), interface == registry_id(), method) {
        (true, _, _) => p
            .init_as::<gate::open_params::Builder<'_>>()
            .set_token(if rng.bool() { TOKEN } else { "wrong" }),
        (_, true, 0) => {
            // A registration under coordinates of its own (never the echo IOmod's).
            let r = p.init_as::<registry::register_params::Builder<'_>>();
            let mut info = r.init_info();
            info.set_coordinates("fuzz.test.thing");
            info.set_version("1.0.0");
            info.set_protocol_version(rng.u32(0..4));
            info.set_interface_id(rng.u64(..));
            let n = rng.u32(0..3);
            let mut methods = info.init_methods(n);
            for i in 0..n {
                let mut m = methods.reborrow().get(i);
                m.set_name(text(rng));
                m.set_ordinal(rng.u16(0..4));
            }
        }
        (_, true, 2) => {
            let mut w = p.init_as::<registry::wait_ready_params::Builder<'_>>();
            w.set_timeout_ms(rng.u32(0..2000));
            let n = rng.u32(0..3);
            let mut list = w.init_coordinates(n);
            for i in 0..n {
                list.set(i, text(rng));
            }
        }
        (_, true, 3) => {
            let mut c = p.init_as::<registry::call_json_params::Builder<'_>>();
            c.set_path(text(rng));
            c.set_input(if rng.bool() {
                r#"{"text": "abc"}"#.into()
            } else {
                text(rng)
            });
            c.set_timeout_ms(rng.u32(0..2000));
        }
        _ => {
            let mut c = p.init_as::<control::call_json_params::Builder<'_>>();
            c.set_method(text(rng));
            c.set_input(text(rng));
        }
    }
}

/// One RPC message, of any kind, with ids that may or may not exist.
fn rpc_message(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut m = Builder::new_default();
    let root = m.init_root::<message::Builder<'_>>();
    match rng.u8(0..14) {
        0 => root.init_bootstrap().set_question_id(id(rng)),
        1..=5 => {
            let mut call = root.init_call();
            call.set_question_id(if rng.bool() { rng.u32(2..12) } else { id(rng) });
            let interface = match rng.u8(0..6) {
                0 => gate_id(),
                1..=3 => registry_id(),
                4 => control::Client::TYPE_ID,
                _ => rng.u64(..),
            };
            let method = if rng.u8(0..5) == 0 {
                rng.u16(..)
            } else {
                rng.u16(0..5)
            };
            call.set_interface_id(interface);
            call.set_method_id(method);
            target(rng, call.reborrow().init_target());
            match rng.u8(0..8) {
                0 => call.reborrow().init_send_results_to().set_yourself(()),
                1 => {
                    call.reborrow().init_send_results_to().init_third_party();
                }
                _ => {}
            }
            let mut payload = call.init_params();
            params(rng, interface, method, payload.reborrow().init_content());
            if rng.u8(0..3) == 0 {
                let n = rng.u32(0..4);
                let mut caps = payload.init_cap_table(n);
                for i in 0..n {
                    cap_descriptor(rng, caps.reborrow().get(i));
                }
            }
        }
        6 => {
            let mut ret = root.init_return();
            ret.set_answer_id(id(rng));
            ret.set_release_param_caps(rng.bool());
            ret.set_no_finish_needed(rng.bool());
            match rng.u8(0..5) {
                0 => {
                    let mut payload = ret.init_results();
                    let n = rng.u32(0..3);
                    let mut caps = payload.reborrow().init_cap_table(n);
                    for i in 0..n {
                        cap_descriptor(rng, caps.reborrow().get(i));
                    }
                    payload
                        .init_content()
                        .init_as::<gate::open_params::Builder<'_>>()
                        .set_token("r");
                }
                1 => exception(rng, ret.init_exception()),
                2 => ret.set_canceled(()),
                3 => ret.set_take_from_other_question(id(rng)),
                _ => ret.set_results_sent_elsewhere(()),
            }
        }
        7 => {
            let mut finish = root.init_finish();
            finish.set_question_id(id(rng));
            finish.set_release_result_caps(rng.bool());
            finish.set_require_early_cancellation_workaround(rng.bool());
        }
        8 => {
            let mut resolve = root.init_resolve();
            resolve.set_promise_id(id(rng));
            if rng.bool() {
                cap_descriptor(rng, resolve.init_cap());
            } else {
                exception(rng, resolve.init_exception());
            }
        }
        9 => {
            let mut release = root.init_release();
            release.set_id(id(rng));
            release.set_reference_count(id(rng));
        }
        10 => {
            let mut d = root.init_disembargo();
            target(rng, d.reborrow().init_target());
            let mut context: disembargo::context::Builder<'_> = d.init_context();
            match rng.u8(0..4) {
                0 => context.set_sender_loopback(id(rng)),
                1 => context.set_receiver_loopback(id(rng)),
                2 => context.set_accept(()),
                _ => context.set_provide(id(rng)),
            }
        }
        11 => exception(rng, root.init_abort()),
        12 => {
            // `Unimplemented` echoing back one of the registry's own kinds of messages.
            let inner = root.init_unimplemented();
            match rng.u8(0..3) {
                0 => {
                    let mut r = inner.init_resolve();
                    r.set_promise_id(id(rng));
                    cap_descriptor(rng, r.init_cap());
                }
                1 => {
                    let mut call = inner.init_call();
                    call.set_question_id(id(rng));
                    target(rng, call.reborrow().init_target());
                    let n = rng.u32(0..3);
                    let mut caps = call.init_params().init_cap_table(n);
                    for i in 0..n {
                        cap_descriptor(rng, caps.reborrow().get(i));
                    }
                }
                _ => inner.init_bootstrap().set_question_id(id(rng)),
            }
        }
        _ => match rng.u8(0..3) {
            0 => {
                let mut p = root.init_provide();
                p.set_question_id(id(rng));
                target(rng, p.init_target());
            }
            1 => {
                root.init_accept().set_question_id(id(rng));
            }
            _ => {
                let mut j = root.init_join();
                j.set_question_id(id(rng));
                target(rng, j.init_target());
            }
        },
    }
    frame(&m)
}

/// A frame whose segment table lies: huge counts, sizes claiming gigabytes, or cut short.
fn lying_frame(rng: &mut fastrand::Rng) -> Vec<u8> {
    let count_minus_one: u32 = *rng
        .choice(&[
            0u32,
            1,
            63,
            64,
            510,
            511,
            512,
            0x7fff_ffff,
            u32::MAX - 1,
            u32::MAX,
        ])
        .unwrap();
    let mut out = count_minus_one.to_le_bytes().to_vec();
    let listed = (count_minus_one as usize).min(rng.usize(0..8));
    for _ in 0..=listed {
        let words: u32 = *rng
            .choice(&[0u32, 1, 2, 0x1fff_ffff, 0x2000_0000, 0x0800_0000, u32::MAX])
            .unwrap();
        out.extend_from_slice(&words.to_le_bytes());
    }
    out.extend((0..rng.usize(0..64)).map(|_| rng.u8(..)));
    out
}

/// An input: a mode byte, then messages.
fn generate(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut mode = rng.u8(0..4);
    if rng.u8(0..4) == 0 {
        mode |= HOLD;
    }
    if rng.u8(0..6) == 0 {
        mode |= CHUNKED;
    }
    let mut out = vec![mode];
    match rng.u8(0..10) {
        0 => out.extend((0..rng.usize(0..256)).map(|_| rng.u8(..))),
        1 => out.extend(lying_frame(rng)),
        _ => {
            for _ in 0..rng.usize(1..8) {
                out.extend(rpc_message(rng));
            }
            if rng.u8(0..4) == 0 {
                // Cut mid-way.
                let cut = rng.usize(1..out.len().max(2));
                out.truncate(cut);
            }
        }
    }
    out
}

#[test]
fn fuzz_registry_sockets() {
    let mut target = RegistryTarget::start();
    fuzz::fuzz("registry", &mut target, fuzz::seconds(25));
}

/// Headers announcing large messages, never followed by their bodies, on connections held open: the
/// registry holds no memory for what was not sent, and refuses messages over its limit at their header.
/// (The Cap'n Proto reader allocates and zeroes a whole announced message before reading it: 5 such
/// headers of 60 MiB took a registry from 17 MiB to 326 MiB resident.)
#[test]
fn announced_messages_pin_no_memory() {
    let dir = TempDir::new();
    let socket = dir.socket();
    let registry = Process {
        child: Command::new(env!("CARGO_BIN_EXE_iomod"))
            .args(["registry", "--socket"])
            .arg(&socket)
            .env("IOMOD_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while UnixStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "the registry did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = registry.pid();
    let before = status_kib(pid, "VmRSS:");
    let header = |words: u32| {
        let mut h = 0u32.to_le_bytes().to_vec();
        h.extend_from_slice(&words.to_le_bytes());
        h
    };
    // 16 MiB (under the default limit of 17 MiB) and 64 MiB (over it, under the reader's traversal
    // limit of 68 MiB), 20 connections each.
    let mut held = Vec::new();
    for words in [2 << 20, 8 << 20] {
        for _ in 0..20 {
            let mut stream = UnixStream::connect(&socket).unwrap();
            stream.write_all(&header(words)).unwrap();
            held.push(stream);
        }
    }
    std::thread::sleep(Duration::from_millis(1000));
    let after = status_kib(pid, "VmRSS:");
    eprintln!(
        "40 announced messages (16 and 64 MiB) held: registry RSS {before} KiB -> {after} KiB"
    );
    assert!(
        after < before + 32 * 1024,
        "announced messages took the registry from {before} KiB to {after} KiB resident"
    );
    // The 64 MiB ones were refused and closed; the others are still open.
    let mut closed = 0;
    for stream in &mut held[20..] {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // (The registry may send an `Abort` first.)
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => {
                    closed += 1;
                    break;
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    closed += 1;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    assert_eq!(
        closed, 20,
        "messages over the limit are refused at their header"
    );
    drop(held);
}

/// Writes the corpus from a fixed seed (run by hand: `IOMOD_FUZZ_WRITE_CORPUS=1`).
#[test]
fn write_registry_corpus() {
    if std::env::var_os("IOMOD_FUZZ_WRITE_CORPUS").is_none() {
        return;
    }
    let dir = fuzz::corpus_dir("registry");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = fastrand::Rng::with_seed(14);
    for i in 0..48 {
        std::fs::write(dir.join(format!("gen-{i:03}.bin")), generate(&mut rng)).unwrap();
    }
}
