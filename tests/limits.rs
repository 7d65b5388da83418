//! The registry under many idle or unauthenticated connections, over real Unix and TCP sockets. These
//! tests open thousands of descriptors and change the process's open files limit: they run one at a
//! time, in a test binary of their own.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use capnp_rpc::{RpcSystem, rpc_twoparty_capnp::Side};
use common::*;
use iomod::registry::{Registry, RegistryConfig, TcpConfig};
use iomod_sdk::ErrorCode;
use iomod_sdk::iomod_capnp::{gate, open_result};
use iomod_sdk::transport::{ConnectionLimits, rpc_network};

const TOKEN: &str = "test-token-0123456789";
const CONNECTIONS: usize = 1000;

/// One test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn tcp_config(dir: &TempDir, handshake_timeout: Duration) -> RegistryConfig {
    let mut config = test_config(dir);
    config.tcp = Some(TcpConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        token: TOKEN.into(),
        allow_remote: false,
    });
    config.handshake_timeout = handshake_timeout;
    config
}

/// `iomod ls --json` against `registry`; the coordinates it lists.
fn ls(registry: &str) -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
        .args(["ls", "--json", "--registry", registry])
        .env("IOMOD_REGISTRY_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "iomod ls failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["coordinates"].as_str().unwrap().to_owned())
        .collect()
}

async fn echo_call(registry: &Registry, payload: &[u8]) {
    let out = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(payload, 0, "", false),
            Some(Duration::from_secs(20)),
        )
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), payload);
}

/// Waits until the peer closes `stream` (end of file or a reset), up to `deadline`; false when it is
/// still open then.
fn closed_by(stream: &mut std::net::TcpStream, deadline: Instant) -> bool {
    let mut byte = [0u8; 1];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut byte) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(e) => panic!("reading an idle connection: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_tcp_connections_are_closed_while_calls_go_on() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new();
    let handshake = Duration::from_secs(3);
    let registry = Registry::start(tcp_config(&dir, handshake)).await.unwrap();
    let addr = registry.tcp_addr().unwrap();
    let url = format!("tcp://{addr}");
    let _echo = spawn_echo(&url, Some(TOKEN));
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();

    // Connections that never present the token.
    let opened = Instant::now();
    let mut idle: Vec<std::net::TcpStream> = (0..CONNECTIONS)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let connected = opened.elapsed();
    // The registry still answers, over TCP and to calls.
    assert_eq!(ls(&url), ["example.test.echo"]);
    echo_call(&registry, b"while idle connections wait").await;

    // Each is closed once the handshake timeout passes (generously bounded on a busy machine).
    let deadline = opened + handshake + Duration::from_secs(30);
    let mut still_open = 0;
    for stream in &mut idle {
        if !closed_by(stream, deadline) {
            still_open += 1;
        }
    }
    let all_closed = opened.elapsed();
    assert_eq!(
        still_open, 0,
        "unauthenticated connections still open after {all_closed:?}"
    );
    eprintln!(
        "{CONNECTIONS} unauthenticated TCP connections: opened in {connected:?}, all closed {all_closed:?} \
         after the first was opened (handshake timeout {handshake:?})"
    );
    assert!(
        all_closed >= handshake,
        "closed before the handshake timeout"
    );
    // And the IOmod, authenticated, was not affected.
    assert_eq!(ls(&url), ["example.test.echo"]);
    echo_call(&registry, b"after").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_gate_opens_and_large_messages_close_a_tcp_connection() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new();
    // A long handshake timeout: only the failures or the message size may close these connections.
    let registry = Registry::start(tcp_config(&dir, Duration::from_secs(120)))
        .await
        .unwrap();
    let addr = registry.tcp_addr().unwrap();

    // A message announcing 8 MiB before the token: closed at its header.
    let mut big = std::net::TcpStream::connect(addr).unwrap();
    big.write_all(&0u32.to_le_bytes()).unwrap();
    big.write_all(&(1u32 << 20).to_le_bytes()).unwrap();
    assert!(
        closed_by(&mut big, Instant::now() + Duration::from_secs(20)),
        "a connection announcing 8 MiB before authentication stays open"
    );

    // Wrong tokens: three answers, then the connection is closed.
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let network = rpc_network(stream, Side::Client, ConnectionLimits::default());
            let mut system = RpcSystem::new(network, None);
            let gate: gate::Client = system.bootstrap(Side::Server);
            tokio::task::spawn_local(system);
            let open = || {
                let mut request = gate.open_request();
                request.get().set_token("wrong-token-0123456789");
                request.send().promise
            };
            for _ in 0..3 {
                let response = open().await.unwrap();
                match response.get().unwrap().get_result().unwrap().which() {
                    Ok(open_result::Error(e)) => {
                        let e = iomod_sdk::Error::read(e.unwrap());
                        assert_eq!(e.code, ErrorCode::Unauthenticated);
                    }
                    _ => panic!("a wrong token opened the gate"),
                }
            }
            let start = Instant::now();
            loop {
                if open().await.is_err() {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "the connection stays open after three wrong tokens"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_unix_connections_do_not_stop_the_registry() {
    let _serial = SERIAL.lock().await;
    // A common default soft limit on open files; the registry raises it to the hard limit.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    if limit.rlim_max < 4 * CONNECTIONS as libc::rlim_t {
        eprintln!(
            "skipped: the hard limit on open files ({}) is too low for this test",
            limit.rlim_max
        );
        return;
    }
    limit.rlim_cur = 1024;
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);

    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let socket = dir.socket();
    let idle: Vec<std::os::unix::net::UnixStream> = (0..CONNECTIONS)
        .map(|_| std::os::unix::net::UnixStream::connect(&socket).unwrap())
        .collect();
    assert_eq!(ls(socket.to_str().unwrap()), ["example.test.echo"]);
    echo_call(&registry, b"with idle Unix connections").await;
    // Idle Unix connections are authenticated by the socket's permissions: they stay open.
    drop(idle);
    echo_call(&registry, b"after").await;
}
