//! Test harness: real IOmod processes, temporary socket directories, and echo messages.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use capnp::{message, serialize};
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
