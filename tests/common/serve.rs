//! Harness for tests of `iomod serve`: the runtime as a real process (stopped by its pid), function
//! manifests written to a directory, and a real HTTP/1.1 client (hyper's). Shared by the runtime's tests and
//! the DynamoDB IOmod's (`#[path]`).
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// An answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One request on a new connection, with a 60 s limit.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    tokio::time::timeout(
        Duration::from_secs(60),
        try_http(addr, method, path, headers, body),
    )
    .await
    .unwrap_or_else(|_| panic!("{method} {path}: no answer within 60 s"))
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// One request on a new connection; transport errors are returned.
pub async fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Answer, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body))).unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes()
        .to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// `POST /functions/<name>` with `body`.
pub async fn invoke(addr: SocketAddr, name: &str, body: &[u8]) -> Answer {
    http(
        addr,
        "POST",
        &format!("/functions/{name}"),
        &[],
        body.to_vec(),
    )
    .await
}

/// Writes `<dir>/<name>/function.toml` (and the module next to it when `wat` is given; else `module` is
/// a path) and returns the manifest's path.
pub fn write_function(dir: &Path, name: &str, module: Module<'_>, extra: &str) -> PathBuf {
    let fdir = dir.join(name);
    std::fs::create_dir_all(&fdir).unwrap();
    let module_path = match module {
        Module::Wat(text) => {
            let path = fdir.join(format!("{name}.wat"));
            std::fs::write(&path, text).unwrap();
            path
        }
        Module::File(path) => path.to_owned(),
    };
    let manifest = fdir.join("function.toml");
    std::fs::write(
        &manifest,
        format!(
            "[function]\nname = \"{name}\"\nmodule = \"{}\"\n{extra}",
            module_path.display()
        ),
    )
    .unwrap();
    manifest
}

/// A function's module for [`write_function`].
pub enum Module<'a> {
    /// WebAssembly text.
    Wat(&'a str),
    /// A `.wasm` file.
    File(&'a Path),
}

/// A `[iomod.dependencies.<key>]` table starting `program` with `arguments`.
pub fn dependency(key: &str, coordinates: &str, program: &Path, arguments: &[&str]) -> String {
    let arguments: Vec<String> = arguments.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "\n[iomod.dependencies.{key}]\ncoordinates = \"{coordinates}\"\nentrypoint = \"{}\"\narguments = [{}]\n",
        program.display(),
        arguments.join(", ")
    )
}

/// `iomod serve` running as a process; killed (by its pid) and reaped on drop.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    /// The main registry's socket.
    pub registry: PathBuf,
    pub log: PathBuf,
}

impl Serve {
    /// Starts `iomod` (the binary at `iomod`) `serve` with `args` and `env`, logging to `<dir>/serve.log`;
    /// returns once it listens.
    pub fn start(iomod: &Path, dir: &Path, args: &[&str], env: &[(&str, String)]) -> Serve {
        let log = dir.join("serve.log");
        let child = Command::new(iomod)
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--cache-dir"])
            .arg(dir.join("cache"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env(
                "IOMOD_LOG",
                std::env::var("IOMOD_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut serve = Serve {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            registry: PathBuf::new(),
            log,
        };
        let started = Instant::now();
        loop {
            let text = serve.log_text();
            if let Some(line) = text.lines().find(|l| l.contains("listening on http://")) {
                let addr = line
                    .split("http://")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .unwrap();
                serve.addr = addr.parse().unwrap();
                serve.registry = PathBuf::from(line.rsplit("registry ").next().unwrap().trim());
                return serve;
            }
            if let Some(status) = serve.child.try_wait().unwrap() {
                panic!("iomod serve exited ({status}):\n{text}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "iomod serve did not listen within 120 s:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self, timeout: Duration) {
        let started = Instant::now();
        loop {
            if http(self.addr, "GET", "/readyz", &[], Vec::new())
                .await
                .status
                == 200
            {
                return;
            }
            assert!(
                started.elapsed() < timeout,
                "not ready within {timeout:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `/readyz` has answered 503 and then 200 again (an IOmod went down and came back).
    pub async fn wait_unready_then_ready(&self, timeout: Duration) {
        let (mut saw_not_ready, started) = (false, Instant::now());
        loop {
            let ready = http(self.addr, "GET", "/readyz", &[], Vec::new()).await;
            if ready.status == 503 {
                saw_not_ready = true;
            } else if saw_not_ready {
                return;
            }
            assert!(
                started.elapsed() < timeout,
                "readiness did not go down and recover within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The pid of the IOmod registered as `coordinates`, from `iomod ls --json`.
    pub fn iomod_pid(&self, iomod: &Path, coordinates: &str) -> Option<u32> {
        let output = Command::new(iomod)
            .args(["ls", "--json", "--registry"])
            .arg(&self.registry)
            .output()
            .unwrap();
        let list: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        list.as_array()?
            .iter()
            .find(|i| i["coordinates"] == coordinates)
            .and_then(|i| i["pid"].as_u64())
            .map(|pid| pid as u32)
    }

    /// The value of the sample `name` (with its labels, as written) in `/metrics`.
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        let text = http(self.addr, "GET", "/metrics", &[], Vec::new())
            .await
            .text();
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
            .map(|value| value.trim().parse().unwrap())
    }
}

/// Sends `signal` to `pid` with `kill`.
pub fn kill(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
}

impl Drop for Serve {
    /// SIGTERM (the runtime stops its IOmods), then SIGKILL after 10 s.
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Stops a process: SIGTERM, then SIGKILL if it has not exited within 10 s; reaps it.
pub fn stop(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
