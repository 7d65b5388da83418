//! Harness for tests of the Lambda runtime: cargo-lambda's Runtime API emulator (installed by
//! `scripts/lambda-emulator.sh`) as a real process on a free port, the runtime (`iomod lambda`, or a
//! bundle's `bootstrap`) started against it, zips unpacked the way Lambda does. Every process is stopped by
//! its pid. Shared by the runtime's tests and the DynamoDB IOmod's (`#[path]`); uses `serve.rs`'s HTTP
//! client.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::serve::{Answer, stop, try_http};

/// The repository's root.
fn root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("scripts/lambda-emulator.sh").is_file() {
        assert!(dir.pop(), "no scripts/lambda-emulator.sh above the crate");
    }
    dir
}

/// A running emulator.
pub struct Emulator {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Emulator {
    /// Starts the emulator in `dir` (it needs a Cargo project there) on a free port; returns once it
    /// listens.
    pub fn start(dir: &Path) -> Emulator {
        let binary = std::env::var_os("IOMOD_LAMBDA_EMULATOR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join(".venv/lambda/bin/cargo-lambda"));
        assert!(
            binary.is_file(),
            "{} is missing: run scripts/lambda-emulator.sh install (scripts/test.sh does)",
            binary.display()
        );
        let project = dir.join("emulator");
        std::fs::create_dir_all(project.join("src")).unwrap();
        std::fs::write(
            project.join("Cargo.toml"),
            "[package]\nname = \"emulated\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        )
        .unwrap();
        std::fs::write(project.join("src/main.rs"), "fn main() {}\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("emulator.log");
        let child = Command::new(&binary)
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(&project)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap();
        let mut emulator = Emulator {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(emulator.addr).is_err() {
            if let Some(status) = emulator.child.try_wait().unwrap() {
                panic!(
                    "the emulator exited ({status}):\n{}",
                    std::fs::read_to_string(&emulator.log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the emulator did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        emulator
    }

    /// `AWS_LAMBDA_RUNTIME_API` as the emulator hands it to runtimes (a scheme and a path prefix).
    pub fn runtime_api(&self) -> String {
        format!("http://{}/.rt", self.addr)
    }

    /// The environment Lambda gives a runtime.
    pub fn lambda_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_LAMBDA_RUNTIME_API", self.runtime_api()),
            ("AWS_LAMBDA_FUNCTION_NAME", "_".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "1".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512".into()),
        ]
    }

    /// Invokes the function with `payload` (as `aws lambda invoke` does), waiting up to `limit`.
    pub async fn try_invoke(&self, payload: &str, limit: Duration) -> Result<Answer, String> {
        tokio::time::timeout(
            limit,
            try_http(
                self.addr,
                "POST",
                "/2015-03-31/functions/_/invocations",
                &[("content-type", "application/json")],
                payload.as_bytes().to_vec(),
            ),
        )
        .await
        .map_err(|_| format!("no answer within {} ms", limit.as_millis()))?
    }

    /// Invokes the function with `payload`; panics without an answer within 60 s.
    pub async fn invoke(&self, payload: &str) -> Answer {
        self.try_invoke(payload, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("invoke {payload}: {e}"))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A running Lambda runtime.
pub struct Runtime {
    pub child: Child,
    pub log: PathBuf,
}

impl Runtime {
    /// Starts `program` with `args` against `emulator`, with `env` added, logging to `log`.
    pub fn start(
        program: &Path,
        args: &[&str],
        emulator: &Emulator,
        env: &[(&str, String)],
        log: &Path,
    ) -> Runtime {
        let child = Command::new(program)
            .args(args)
            .envs(emulator.lambda_env().iter().map(|(k, v)| (*k, v.as_str())))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env(
                "IOMOD_LOG",
                std::env::var("IOMOD_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        Runtime {
            child,
            log: log.to_owned(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `limit` for the runtime to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The pid of the process running `program` whose parent is this runtime.
    pub fn child_pid(&self, program: &str) -> Option<u32> {
        let parent = self.child.id().to_string();
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...
            let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
                continue;
            };
            let ppid = rest.split_whitespace().nth(1);
            let exe = std::fs::read_link(entry.path().join("exe")).unwrap_or_default();
            if ppid == Some(parent.as_str()) && exe.to_string_lossy().contains(program) {
                return Some(pid);
            }
        }
        None
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Unpacks `zip` into `into` as Lambda does with layers (under `/opt`) and bundles (`/var/task`),
/// keeping the executable bits.
pub fn unzip(zip: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    archive.extract(into).unwrap();
}

/// Runs `iomod` with `args`; panics with its output unless it succeeds.
pub fn iomod_ok(iomod: &Path, args: &[&str]) -> String {
    let output = Command::new(iomod).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "iomod {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A package directory: `iomod.toml` naming `coordinates` and `bin/<name>`, a copy of `program`.
pub fn package_dir(dir: &Path, coordinates: &str, program: &Path) -> PathBuf {
    let name = program.file_name().unwrap().to_string_lossy().into_owned();
    let package = dir.join(format!("{coordinates}-package"));
    std::fs::create_dir_all(package.join("bin")).unwrap();
    std::fs::write(
        package.join("iomod.toml"),
        format!(
            "[iomod]\ncoordinates = \"{coordinates}\"\nversion = \"0.1.0\"\n\n[process]\nentrypoint = \"bin/{name}\"\n"
        ),
    )
    .unwrap();
    std::fs::copy(program, package.join("bin").join(&name)).unwrap();
    package
}
