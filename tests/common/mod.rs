//! Test harness: real IOmod processes, temporary socket directories, and echo messages.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use capnp::{message, serialize};

pub mod fuzz;
pub mod lambda;
pub mod serve;
use iomod::registry::{Registry, RegistryConfig};
use iomod_echo::echo_capnp::{echo, echo_result, reverse_result};
use iomod_sdk::{Coordinates, Error, ErrorCode};

/// A workspace binary, built by `cargo build --workspace --bins` (the test script does it first).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` before the tests (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A private temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "iomod-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn socket(&self) -> PathBuf {
        self.0.join("registry.sock")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed (by its pid) and reaped on drop.
pub struct Process {
    pub child: Child,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the echo IOmod pointed at `registry` (a path or tcp://...), with an optional token.
pub fn spawn_echo(registry: &str, token: Option<&str>) -> Process {
    spawn_echo_with(registry, token, &[])
}

/// `iomod-echo` with arguments (`--local`: everything on one thread).
pub fn spawn_echo_with(registry: &str, token: Option<&str>, args: &[&str]) -> Process {
    let mut command = Command::new(bin("iomod-echo"));
    command
        .args(args)
        .env("IOMOD_REGISTRY", registry)
        .env(
            "IOMOD_LOG",
            std::env::var("IOMOD_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null());
    match token {
        Some(token) => command.env("IOMOD_REGISTRY_TOKEN", token),
        None => command.env_remove("IOMOD_REGISTRY_TOKEN"),
    };
    Process {
        child: command.spawn().unwrap(),
    }
}

pub fn echo_coordinates() -> Coordinates {
    iomod_echo::COORDINATES.parse().unwrap()
}

/// Fast health checks so tests see state changes quickly.
pub fn test_config(dir: &TempDir) -> RegistryConfig {
    let mut config = RegistryConfig::unix(dir.socket());
    config.health_interval = Duration::from_millis(100);
    config.health_timeout = Duration::from_millis(300);
    config
}

/// Starts a registry in this process and an echo IOmod registered with it.
pub async fn registry_with_echo(dir: &TempDir) -> (Registry, Process) {
    registry_with_echo_args(dir, &[]).await
}

pub async fn registry_with_echo_args(dir: &TempDir, args: &[&str]) -> (Registry, Process) {
    let registry = Registry::start(test_config(dir)).await.unwrap();
    let echo = spawn_echo_with(dir.socket().to_str().unwrap(), None, args);
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    (registry, echo)
}

/// The params message of `echo.echo`.
pub fn echo_input(payload: &[u8], delay_ms: u32, fail_with: &str, panic: bool) -> Vec<u8> {
    let mut message = message::Builder::new_default();
    let mut params = message.init_root::<echo::echo_params::Builder<'_>>();
    params.set_payload(payload);
    params.set_delay_ms(delay_ms);
    params.set_fail_with(fail_with);
    params.set_panic(panic);
    serialize::write_message_to_words(&message)
}

/// The params message of `echo.reverse`.
pub fn reverse_input(text: &str) -> Vec<u8> {
    let mut message = message::Builder::new_default();
    message
        .init_root::<echo::reverse_params::Builder<'_>>()
        .set_text(text);
    serialize::write_message_to_words(&message)
}

/// Decodes the results message of `echo.echo`: the payload, or the method's typed error.
pub fn echo_output(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let reader =
        serialize::read_message_from_flat_slice(&mut &bytes[..], message::ReaderOptions::new())
            .unwrap();
    let results = reader.get_root::<echo::echo_results::Reader<'_>>().unwrap();
    match results.get_result().unwrap().which().unwrap() {
        echo_result::Ok(payload) => Ok(payload.unwrap().to_vec()),
        echo_result::Err(err) => Err(Error::read(err.unwrap())),
    }
}

/// Decodes the results message of `echo.reverse`.
pub fn reverse_output(bytes: &[u8]) -> Result<String, Error> {
    let reader =
        serialize::read_message_from_flat_slice(&mut &bytes[..], message::ReaderOptions::new())
            .unwrap();
    let results = reader
        .get_root::<echo::reverse_results::Reader<'_>>()
        .unwrap();
    match results.get_result().unwrap().which().unwrap() {
        reverse_result::Ok(text) => Ok(text.unwrap().to_string().unwrap()),
        reverse_result::Err(err) => Err(Error::read(err.unwrap())),
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Error>, code: ErrorCode, needle: &str) {
    match result {
        Err(e) => {
            assert_eq!(e.code, code, "unexpected error: {e}");
            assert!(
                e.message.contains(needle),
                "`{}` does not mention `{needle}`",
                e.message
            );
        }
        Ok(v) => panic!("expected a {code} error, got Ok({v:?})"),
    }
}

/// WebAssembly text of guests driving the ABI by hand.
pub const IMPORTS: &str = r#"
  (import "iomod" "call_start" (func $start (param i32 i32 i32 i32) (result i64)))
  (import "iomod" "call_poll" (func $poll (param i64) (result i64)))
  (import "iomod" "call_read" (func $read (param i64 i32 i32) (result i32)))
  (import "iomod" "wait" (func $wait (result i64)))
  (memory (export "memory") 4)
  (func (export "iomod_alloc") (param i32) (result i32) (i32.const 1024))
"#;

/// Input `[u32 path length][path][call input]`; makes that one call and outputs `[i64 status][result]`,
/// where status is `call_start`'s error (negative) or `call_poll`'s final answer.
pub fn proxy() -> String {
    format!(
        r#"(module {IMPORTS}
  (func (export "iomod_main") (param $ptr i32) (param $len i32) (result i64)
    (local $plen i32) (local $id i64) (local $st i64) (local $n i32)
    (local.set $plen (i32.load (local.get $ptr)))
    (local.set $id (call $start
      (i32.add (local.get $ptr) (i32.const 4)) (local.get $plen)
      (i32.add (i32.add (local.get $ptr) (i32.const 4)) (local.get $plen))
      (i32.sub (i32.sub (local.get $len) (i32.const 4)) (local.get $plen))))
    (if (i64.lt_s (local.get $id) (i64.const 0))
      (then
        (i64.store (i32.const 131072) (local.get $id))
        (return (i64.or (i64.shl (i64.const 131072) (i64.const 32)) (i64.const 8)))))
    (block $done
      (loop $again
        (local.set $st (call $poll (local.get $id)))
        (br_if $done (i64.ne (local.get $st) (i64.const -1)))
        (drop (call $wait))
        (br $again)))
    (i64.store (i32.const 131072) (local.get $st))
    (local.set $n (i32.wrap_i64 (i64.shr_u (local.get $st) (i64.const 1))))
    (drop (call $read (local.get $id) (i32.const 131080) (local.get $n)))
    (i64.or (i64.shl (i64.const 131072) (i64.const 32)) (i64.extend_i32_u (i32.add (local.get $n) (i32.const 8))))))"#
    )
}

pub fn proxy_input(path: &str, call_input: &[u8]) -> Vec<u8> {
    let mut input = (path.len() as u32).to_le_bytes().to_vec();
    input.extend_from_slice(path.as_bytes());
    input.extend_from_slice(call_input);
    input
}

/// Splits the proxy's output into the call's outcome: results bytes, or the typed error.
pub fn proxy_outcome(output: &[u8]) -> Result<Vec<u8>, iomod_sdk::Error> {
    let status = i64::from_le_bytes(output[..8].try_into().unwrap());
    assert!(status >= 0, "call_start failed with {status}");
    let body = output[8..].to_vec();
    assert_eq!(body.len() as i64, status >> 1);
    if status & 1 == 1 {
        let reader = iomod_sdk::guest::read_message(&body).unwrap();
        Err(iomod_sdk::Error::read(reader.get_root().unwrap()))
    } else {
        Ok(body)
    }
}
