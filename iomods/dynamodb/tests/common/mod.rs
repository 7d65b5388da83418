//! Harness for the end-to-end tests and the benchmark: a DynamoDB-compatible server (moto, started and
//! stopped by its pid through `scripts/dynamodb-server.sh`), the sample functions built for wasm, and a
//! stack of registry + `iomod-dynamodb` process + wasm host.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use iomod::host::{Function, FunctionConfig, Host};
use iomod::registry::{Registry, RegistryConfig};
use serde_json::Value;

pub const COORDINATES: &str = "example.aws.dynamodb";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A private temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "iomod-dynamodb-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A moto server on 127.0.0.1, stopped (by its pid) on drop.
pub struct DynamoServer {
    pub endpoint: String,
    port: u16,
    pidfile: PathBuf,
    _dir: TempDir,
}

impl DynamoServer {
    pub fn start() -> DynamoServer {
        let dir = TempDir::new("moto");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pidfile = dir.0.join("moto.pid");
        let server = DynamoServer {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            pidfile,
            _dir: dir,
        };
        server.restart();
        server
    }

    /// Starts the server (again) on its port; returns once it accepts connections. A restarted moto
    /// server starts empty: it keeps its tables in memory.
    pub fn restart(&self) {
        let status = Command::new("bash")
            .arg(repository().join("scripts/dynamodb-server.sh"))
            .args(["start", &self.port.to_string()])
            .arg(&self.pidfile)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "starting the DynamoDB-compatible server failed"
        );
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        std::fs::read_to_string(&self.pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Kills the server with SIGKILL (by its pid) and returns once the process is gone: connections in
    /// flight break, new ones are refused.
    pub fn kill(&self) {
        let pid = self.pid();
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -KILL {pid} failed");
        let started = std::time::Instant::now();
        // Gone, or a zombie waiting for init to reap it (it was started detached).
        while std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the DynamoDB server {pid} survived SIGKILL"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The environment an IOmod process needs to reach this server.
    pub fn aws_env(&self) -> [(&'static str, String); 4] {
        [
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ]
    }

    pub fn stop(&self) {
        let _ = Command::new("bash")
            .arg(repository().join("scripts/dynamodb-server.sh"))
            .arg("stop")
            .arg(&self.pidfile)
            .status();
    }
}

impl Drop for DynamoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The sample functions (`functions/`), built once for `wasm32-unknown-unknown`; returns the `.wasm` path
/// of `name` (`dynamodb_json`, `todo`).
pub fn function_module(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let functions = repository().join("functions");
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
            .arg("--manifest-path")
            .arg(functions.join("Cargo.toml"))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "building the functions failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        functions.join("target/wasm32-unknown-unknown/release")
    });
    dir.join(format!("{name}.wasm"))
}

/// The `iomod-dynamodb` process, killed and reaped on drop.
pub struct IomodProcess(pub Child);

impl IomodProcess {
    /// Starts `binary` (an `iomod-dynamodb`) registering with the registry at `socket` and reaching `server`.
    pub fn spawn(binary: &Path, socket: &Path, server: &DynamoServer) -> IomodProcess {
        Self::spawn_with_env(binary, socket, &server.aws_env())
    }

    /// Starts `binary` registering with the registry at `socket`, with `env` (the AWS settings).
    pub fn spawn_with_env(binary: &Path, socket: &Path, env: &[(&str, String)]) -> IomodProcess {
        IomodProcess(
            Command::new(binary)
                .env("IOMOD_REGISTRY", socket)
                .env("RUST_LOG", "warn")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for IomodProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A registry, the DynamoDB IOmod registered with it, and a wasm host with a function loaded.
pub struct Stack {
    pub registry: Registry,
    pub iomod: IomodProcess,
    pub function: Function,
    pub host: Host,
    _dir: TempDir,
}

impl Stack {
    pub async fn start(server: &DynamoServer, function: &str) -> Stack {
        Self::start_with_env(&server.aws_env(), function).await
    }

    /// A stack whose IOmod gets `env` (the AWS settings: region, endpoint, credentials, ...).
    pub async fn start_with_env(env: &[(&str, String)], function: &str) -> Stack {
        let dir = TempDir::new("stack");
        let socket = dir.0.join("registry.sock");
        let registry = Registry::start(RegistryConfig::unix(&socket))
            .await
            .unwrap();
        let iomod = IomodProcess::spawn_with_env(
            Path::new(env!("CARGO_BIN_EXE_iomod-dynamodb")),
            &socket,
            env,
        );
        registry
            .wait_ready(&[COORDINATES.parse().unwrap()], Duration::from_secs(20))
            .await
            .unwrap();
        let host = Host::new().unwrap();
        let module = function_module(function);
        let wasm = tokio::task::spawn_blocking(move || std::fs::read(module).unwrap())
            .await
            .unwrap();
        let config = FunctionConfig {
            allow: vec![COORDINATES.parse().unwrap()],
            call_timeout: Duration::from_secs(20),
            time_budget: Duration::from_secs(120),
            ..FunctionConfig::default()
        };
        let function = host.load(&wasm, config).unwrap();
        Stack {
            registry,
            iomod,
            function,
            host,
            _dir: dir,
        }
    }

    /// Runs the function once on `input` (JSON) and parses its JSON output.
    pub async fn run(&self, input: &Value) -> Value {
        let output = self
            .function
            .run(&self.registry, serde_json::to_vec(input).unwrap())
            .await
            .unwrap();
        serde_json::from_slice(&output).unwrap_or_else(|e| {
            panic!(
                "the function's output is not JSON ({e}): {}",
                String::from_utf8_lossy(&output)
            )
        })
    }

    /// One DynamoDB call through `dynamodb-json`: its `ok` value, or a panic naming the error.
    pub async fn ok(&self, method: &str, input: Value) -> Value {
        let answer = self.call(method, input).await;
        match answer.get("ok") {
            Some(ok) => ok.clone(),
            None => panic!("{method} failed: {answer}"),
        }
    }

    /// One DynamoDB call through `dynamodb-json`: its typed error `{"<Error>": ..}`, or a panic.
    pub async fn error(&self, method: &str, input: Value) -> Value {
        let answer = self.call(method, input).await;
        match answer.get("error") {
            Some(error) => error.clone(),
            None => panic!("{method} did not fail: {answer}"),
        }
    }

    pub async fn call(&self, method: &str, input: Value) -> Value {
        self.run(&serde_json::json!({ "method": method, "input": input }))
            .await
    }
}

/// An IOmod package directory of this IOmod in `dir`: its manifest and the binary under test
/// (`bin/iomod-dynamodb`, as `[process] entrypoint` names it).
pub fn dynamodb_package(dir: &Path) -> PathBuf {
    let package = dir.join("dynamodb-package");
    std::fs::create_dir_all(package.join("bin")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("iomod.toml"),
        package.join("iomod.toml"),
    )
    .unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_iomod-dynamodb"),
        package.join("bin/iomod-dynamodb"),
    )
    .unwrap();
    package
}

/// `iomod`, built next to this package's binaries by `cargo build --workspace --bins`.
pub fn iomod_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_iomod-dynamodb")).with_file_name("iomod");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        path.display()
    );
    path
}
