//! The registry with real IOmod processes over real Unix and TCP sockets.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use iomod::registry::{IomodState, Registry, RegistryConfig, TcpConfig};
use iomod_sdk::iomod_capnp::control;
use iomod_sdk::transport::{ConnectionLimits, RegistryAddress, RegistryConnection};
use iomod_sdk::{ErrorCode, IomodInfo, MethodInfo};

const TOKEN: &str = "test-token-0123456789";

#[tokio::test(flavor = "multi_thread")]
async fn echo_registers_and_answers_calls() {
    let dir = TempDir::new();
    let (registry, echo) = registry_with_echo(&dir).await;
    let listed = registry.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    let status = &listed[0];
    assert_eq!(status.info.coordinates, echo_coordinates());
    assert_eq!(status.info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(status.info.pid, echo.pid());
    assert_eq!(status.info.protocol_version, iomod_sdk::PROTOCOL_VERSION);
    let methods: Vec<(&str, u16)> = status
        .info
        .methods
        .iter()
        .map(|m| (m.name.as_str(), m.ordinal))
        .collect();
    assert_eq!(methods, [("echo", 0), ("reverse", 1), ("context", 2)]);

    let out = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"hello", 0, "", false),
            None,
        )
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), b"hello");
    let out = registry
        .invoke("example.test.echo.reverse", reverse_input("héllo"), None)
        .await
        .unwrap();
    assert_eq!(reverse_output(&out).unwrap(), "olléh");
    // The socket is private to the runtime's user.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.socket())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread")]
async fn iomod_ls_lists_versions_and_methods() {
    let dir = TempDir::new();
    let socket = dir.socket();
    let mut registry = Process {
        child: std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
            .args(["registry", "--socket", socket.to_str().unwrap()])
            .env("IOMOD_LOG", "warn")
            .spawn()
            .unwrap(),
    };
    let ls = |json: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_iomod"));
        command.args(["ls", "--registry", socket.to_str().unwrap()]);
        if json {
            command.arg("--json");
        }
        command.output().unwrap()
    };
    eventually(Duration::from_secs(10), "the registry listens", || {
        socket.exists()
    })
    .await;
    let empty = ls(false);
    assert!(
        empty.status.success(),
        "{}",
        String::from_utf8_lossy(&empty.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&empty.stdout),
        "no IOmods registered\n"
    );

    let echo = spawn_echo(socket.to_str().unwrap(), None);
    eventually(Duration::from_secs(10), "the echo IOmod is listed", || {
        String::from_utf8_lossy(&ls(false).stdout).contains("example.test.echo")
    })
    .await;
    let text = String::from_utf8(ls(false).stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("COORDINATES"), "{text}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], "example.test.echo");
    assert_eq!(row[1], env!("CARGO_PKG_VERSION"));
    assert_eq!(row[2], "ready");
    assert_eq!(row[4], echo.pid().to_string());
    assert!(
        lines[2].trim_start().starts_with(".echo") && lines[2].contains("@0"),
        "{text}"
    );
    assert!(
        lines[3].trim_start().starts_with(".reverse") && lines[3].contains("@1"),
        "{text}"
    );

    let json: serde_json::Value = serde_json::from_slice(&ls(true).stdout).unwrap();
    assert_eq!(json[0]["coordinates"], "example.test.echo");
    assert_eq!(json[0]["methods"][1]["name"], "reverse");
    assert_eq!(json[0]["pid"], echo.pid());

    // A registry that is not running: a clear error, not a panic.
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
        .args([
            "ls",
            "--registry",
            dir.0.join("nothing.sock").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot connect to the registry"));

    registry.signal("TERM");
    assert!(
        registry
            .wait_exit(Duration::from_secs(10))
            .unwrap()
            .success()
    );
    assert!(!socket.exists(), "the registry removes its socket on exit");
}

#[tokio::test(flavor = "multi_thread")]
async fn reregistration_replaces_the_old_instance() {
    let dir = TempDir::new();
    let (registry, first) = registry_with_echo(&dir).await;
    let coordinates = echo_coordinates();
    let first_instance = registry.instance_of(&coordinates).unwrap();

    let second = spawn_echo(dir.socket().to_str().unwrap(), None);
    eventually(
        Duration::from_secs(10),
        "the second instance replaces the first",
        || {
            registry
                .instance_of(&coordinates)
                .is_some_and(|i| i != first_instance)
        },
    )
    .await;
    let listed = registry.list().await.unwrap();
    assert_eq!(listed.len(), 1, "one entry per coordinates");
    assert_eq!(listed[0].info.pid, second.pid());
    let second_instance = listed[0].instance_id;

    // The old instance going away does not deregister the new one.
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(registry.instance_of(&coordinates), Some(second_instance));
    let out = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"still here", 0, "", false),
            None,
        )
        .await;
    assert_eq!(echo_output(&out.unwrap()).unwrap(), b"still here");
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_in_flight_on_a_replaced_instance_finish() {
    let dir = TempDir::new();
    let (registry, _first) = registry_with_echo(&dir).await;
    let coordinates = echo_coordinates();
    let first_instance = registry.instance_of(&coordinates).unwrap();
    let slow = registry.invoke(
        "example.test.echo.echo",
        echo_input(b"old", 500, "", false),
        None,
    );
    let replace = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let second = spawn_echo(dir.socket().to_str().unwrap(), None);
        eventually(Duration::from_secs(10), "replacement", || {
            registry
                .instance_of(&coordinates)
                .is_some_and(|i| i != first_instance)
        })
        .await;
        second
    };
    let (slow, _second) = tokio::join!(slow, replace);
    assert_eq!(echo_output(&slow.unwrap()).unwrap(), b"old");
}

#[tokio::test(flavor = "multi_thread")]
async fn process_exit_deregisters() {
    let dir = TempDir::new();
    let (registry, mut echo) = registry_with_echo(&dir).await;
    echo.signal("KILL");
    echo.wait_exit(Duration::from_secs(5)).unwrap();
    eventually(
        Duration::from_secs(5),
        "deregistration after the process died",
        || registry.instance_of(&echo_coordinates()).is_none(),
    )
    .await;
    assert!(registry.list().await.unwrap().is_empty());
    let result = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"x", 0, "", false),
            None,
        )
        .await;
    // Known here, gone now: it may be restarting, so `unavailable`, not `notFound`.
    assert_code(result, ErrorCode::Unavailable, "the last one left");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_ready_succeeds_and_times_out() {
    let dir = TempDir::new();
    let registry = Registry::start(test_config(&dir)).await.unwrap();
    let missing: iomod_sdk::Coordinates = "example.test.absent".parse().unwrap();

    let start = Instant::now();
    let result = registry
        .wait_ready(
            &[echo_coordinates(), missing.clone()],
            Duration::from_millis(300),
        )
        .await;
    assert_code(result, ErrorCode::DeadlineExceeded, "example.test.absent");
    assert!(start.elapsed() >= Duration::from_millis(300));

    // Waiting starts before the IOmod exists and ends when it registers.
    let wanted = [echo_coordinates()];
    let (waited, _echo) = tokio::join!(
        registry.wait_ready(&wanted, Duration::from_secs(10)),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            spawn_echo(dir.socket().to_str().unwrap(), None)
        }
    );
    waited.unwrap();
    let result = registry
        .wait_ready(&[echo_coordinates(), missing], Duration::from_millis(100))
        .await;
    assert_code(result, ErrorCode::DeadlineExceeded, "example.test.absent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_concurrent_calls() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let registry = std::sync::Arc::new(registry);
    let start = Instant::now();
    let calls: Vec<_> = (0..1000u32)
        .map(|i| {
            let registry = registry.clone();
            tokio::spawn(async move {
                let payload = format!("call {i}").into_bytes();
                // Every call waits 300 ms inside the IOmod: answered one at a time they would take 300 s.
                let out = registry
                    .invoke(
                        "example.test.echo.echo",
                        echo_input(&payload, 300, "", false),
                        Some(Duration::from_secs(60)),
                    )
                    .await
                    .unwrap();
                assert_eq!(echo_output(&out).unwrap(), payload);
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(30),
        "1,000 calls took {elapsed:?}: they were not concurrent"
    );
    let listed = registry.list().await.unwrap();
    assert_eq!(listed[0].calls_started, 1000);
    assert_eq!(listed[0].calls_failed, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_errors() {
    let dir = TempDir::new();
    let mut config = test_config(&dir);
    config.max_payload_bytes = 64 * 1024;
    let registry = Registry::start(config).await.unwrap();
    let _echo = spawn_echo(dir.socket().to_str().unwrap(), None);
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    let ok = echo_input(b"x", 0, "", false);

    let r = registry
        .invoke("example.test.nothing.echo", ok.clone(), None)
        .await;
    assert_code(r, ErrorCode::NotFound, "example.test.nothing");
    let r = registry
        .invoke("example.test.echo.shout", ok.clone(), None)
        .await;
    assert_code(
        r,
        ErrorCode::MethodNotFound,
        "has no method `shout`; it has: context, echo, reverse",
    );
    let r = registry.invoke("example.test", ok.clone(), None).await;
    assert_code(r, ErrorCode::InvalidInput, "example.test");
    let r = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(&vec![7; 64 * 1024], 0, "", false),
            None,
        )
        .await;
    assert_code(r, ErrorCode::TooLarge, "limit is 65536 bytes");
    let r = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"slow", 5_000, "", false),
            Some(Duration::from_millis(100)),
        )
        .await;
    assert_code(r, ErrorCode::DeadlineExceeded, "deadline");
    let r = registry
        .invoke(
            "example.test.echo.echo",
            b"not a capnp message".to_vec(),
            None,
        )
        .await;
    assert_code(r, ErrorCode::InvalidInput, "not a Cap'n Proto message");
    let r = registry
        .invoke("example.test.echo.echo", Vec::new(), None)
        .await;
    assert_code(r, ErrorCode::InvalidInput, "not a Cap'n Proto message");
    let mut trailing = ok.clone();
    trailing.extend_from_slice(&[0; 8]);
    let r = registry
        .invoke("example.test.echo.echo", trailing, None)
        .await;
    assert_code(r, ErrorCode::InvalidInput, "after the end of its message");

    // The method's own named error travels inside its results.
    let out = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"x", 0, "Refused", false),
            None,
        )
        .await
        .unwrap();
    let err = echo_output(&out).unwrap_err();
    assert_eq!(
        (err.code, err.name.as_str()),
        (ErrorCode::Method, "Refused")
    );
    // A panicking method body is an internal error, and the IOmod keeps serving.
    let r = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"x", 0, "", true),
            None,
        )
        .await;
    assert_code(
        r,
        ErrorCode::Internal,
        "the method panicked: asked to panic",
    );

    // After all that, the IOmod still answers.
    let out = registry
        .invoke("example.test.echo.echo", ok, None)
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), b"x");
    let listed = registry.list().await.unwrap();
    assert_eq!(listed[0].state, IomodState::Ready);
}

fn tcp_config(dir: &TempDir) -> RegistryConfig {
    let mut config = test_config(dir);
    config.socket = None;
    config.tcp = Some(TcpConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        token: TOKEN.into(),
        allow_remote: false,
    });
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_requires_the_token() {
    let dir = TempDir::new();
    let registry = Registry::start(tcp_config(&dir)).await.unwrap();
    let addr = format!("tcp://{}", registry.tcp_addr().unwrap());

    // With the token, an IOmod registers over TCP and answers calls.
    let _echo = spawn_echo(&addr, Some(TOKEN));
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    let out = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"over tcp", 0, "", false),
            None,
        )
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), b"over tcp");

    // Without it, or with a wrong one, the gate refuses with `unauthenticated`.
    let address: RegistryAddress = addr.parse().unwrap();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let r = RegistryConnection::connect(&address, None, ConnectionLimits::default()).await;
            assert_code(r, ErrorCode::Unauthenticated, "requires a token");
            let r = RegistryConnection::connect(
                &address,
                Some("wrong-token-0123456789"),
                ConnectionLimits::default(),
            )
            .await;
            assert_code(r, ErrorCode::Unauthenticated, "wrong token");
            let ok =
                RegistryConnection::connect(&address, Some(TOKEN), ConnectionLimits::default())
                    .await
                    .unwrap();
            ok.disconnect().await;
        })
        .await;

    // An IOmod with a wrong token gives up at once with a clear error instead of retrying forever.
    let mut bad = spawn_echo(&addr, Some("wrong-token-0123456789"));
    let status = bad
        .wait_exit(Duration::from_secs(10))
        .expect("the IOmod exits");
    assert_eq!(status.code(), Some(2));
    // And one with no token at all refuses to start.
    let mut none = spawn_echo(&addr, None);
    assert_eq!(
        none.wait_exit(Duration::from_secs(10))
            .expect("the IOmod exits")
            .code(),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_configuration_is_checked() {
    let dir = TempDir::new();
    let mut config = tcp_config(&dir);
    config.tcp.as_mut().unwrap().token = "short".into();
    assert_code(
        Registry::start(config).await,
        ErrorCode::InvalidInput,
        "at least 16",
    );
    let mut config = tcp_config(&dir);
    config.tcp.as_mut().unwrap().addr = "0.0.0.0:0".parse().unwrap();
    assert_code(
        Registry::start(config).await,
        ErrorCode::InvalidInput,
        "not a loopback address",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_registry_on_the_same_socket_is_refused() {
    let dir = TempDir::new();
    let _first = Registry::start(test_config(&dir)).await.unwrap();
    assert_code(
        Registry::start(test_config(&dir)).await,
        ErrorCode::Unavailable,
        "another registry",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_second_registry_leaves_the_first_reachable() {
    let dir = TempDir::new();
    let first = Registry::start(test_config(&dir)).await.unwrap();
    for _ in 0..2 {
        assert_code(
            Registry::start(test_config(&dir)).await,
            ErrorCode::Unavailable,
            "another registry",
        );
    }
    // The refused registries (whose threads have ended) left the first one's socket in place.
    assert!(dir.socket().exists(), "the first registry's socket is gone");
    let _echo = spawn_echo(dir.socket().to_str().unwrap(), None);
    first
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    let out = first
        .invoke(
            "example.test.echo.echo",
            echo_input(b"still here", 0, "", false),
            None,
        )
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), b"still here");
    // The registry that bound the socket removes it (and its lock file) when it stops.
    first.shutdown();
    assert!(!dir.socket().exists());
    assert!(!dir.0.join("registry.sock.lock").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_removes_nothing_but_a_stale_socket() {
    let dir = TempDir::new();
    let path = dir.0.join("notes.txt");
    std::fs::write(&path, "my notes").unwrap();
    let config = |path: &Path| {
        let mut config = test_config(&dir);
        config.socket = Some(path.to_path_buf());
        config
    };
    assert_code(
        Registry::start(config(&path)).await,
        ErrorCode::Unavailable,
        "is a regular file, not a registry's socket",
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "my notes");
    // A symbolic link is not followed, whatever it points at.
    let link = dir.0.join("link.sock");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert_code(
        Registry::start(config(&link)).await,
        ErrorCode::Unavailable,
        "is a symbolic link",
    );
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    let sub = dir.0.join("sub");
    std::fs::create_dir(&sub).unwrap();
    assert_code(
        Registry::start(config(&sub)).await,
        ErrorCode::Unavailable,
        "is a directory",
    );
    // A socket nobody listens on is stale: it is replaced.
    let stale = dir.socket();
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let registry = Registry::start(config(&stale)).await.unwrap();
    let _echo = spawn_echo(stale.to_str().unwrap(), None);
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_socket_lock_admits_one_registry() {
    use std::os::unix::io::AsRawFd;
    let dir = TempDir::new();
    // Whoever holds `<socket>.lock` owns the path, listening or not yet.
    let lock = std::fs::File::create(dir.0.join("registry.sock.lock")).unwrap();
    assert_eq!(
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    assert_code(
        Registry::start(test_config(&dir)).await,
        ErrorCode::Unavailable,
        "registry.sock.lock",
    );
    assert!(!dir.socket().exists());
    drop(lock);

    // Registries starting at once: exactly one claims the path, and it stays reachable.
    let starts: Vec<_> = (0..6)
        .map(|_| tokio::spawn(Registry::start(test_config(&dir))))
        .collect();
    let mut winners = Vec::new();
    for start in starts {
        match start.await.unwrap() {
            Ok(registry) => winners.push(registry),
            Err(e) => assert_eq!(e.code, ErrorCode::Unavailable, "{e}"),
        }
    }
    assert_eq!(winners.len(), 1, "registries that claimed the path");
    let _echo = spawn_echo(dir.socket().to_str().unwrap(), None);
    winners[0]
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_iomod_reconnects_after_a_registry_restart() {
    let dir = TempDir::new();
    let (registry, echo) = registry_with_echo(&dir).await;
    registry.shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restarted = Registry::start(test_config(&dir)).await.unwrap();
    restarted
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(restarted.list().await.unwrap()[0].info.pid, echo.pid());
    let out = restarted
        .invoke(
            "example.test.echo.echo",
            echo_input(b"again", 0, "", false),
            None,
        )
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), b"again");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_calls_in_flight() {
    sigterm_drains(&[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_calls_in_flight_when_serving_on_one_thread() {
    sigterm_drains(&["--local"]).await;
}

async fn sigterm_drains(echo_args: &[&str]) {
    let dir = TempDir::new();
    let (registry, mut echo) = registry_with_echo_args(&dir, echo_args).await;
    let registry = std::sync::Arc::new(registry);
    let calls: Vec<_> = (0..20u8)
        .map(|i| {
            let registry = registry.clone();
            tokio::spawn(async move {
                registry
                    .invoke(
                        "example.test.echo.echo",
                        echo_input(&[i; 100], 1_000, "", false),
                        None,
                    )
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    echo.signal("TERM");
    // New calls are not accepted once it has deregistered...
    eventually(Duration::from_secs(5), "deregistration on SIGTERM", || {
        registry.instance_of(&echo_coordinates()).is_none()
    })
    .await;
    let late = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"late", 0, "", false),
            None,
        )
        .await;
    assert_code(late, ErrorCode::Unavailable, "the last one left");
    // ...while every call in flight gets its answer.
    for (i, call) in calls.into_iter().enumerate() {
        let out = call.await.unwrap().unwrap();
        assert_eq!(echo_output(&out).unwrap(), vec![i as u8; 100]);
    }
    let status = echo
        .wait_exit(Duration::from_secs(10))
        .expect("the IOmod exits after draining");
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_iomod_turns_unhealthy_and_recovers() {
    let dir = TempDir::new();
    let (registry, echo) = registry_with_echo(&dir).await;
    echo.signal("STOP");
    // (Evicted after three failed checks, it registers again once it runs.)
    let state = || async { registry.list().await.unwrap().first().map(|s| s.state) };
    let start = Instant::now();
    while state().await != Some(IomodState::Unhealthy) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never reported unhealthy"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    echo.signal("CONT");
    let start = Instant::now();
    while state().await != Some(IomodState::Ready) {
        assert!(start.elapsed() < Duration::from_secs(10), "never recovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A registry with `config` and an echo IOmod registered with it.
async fn echo_with(dir: &TempDir, config: RegistryConfig) -> (Registry, Process) {
    let registry = Registry::start(config).await.unwrap();
    let echo = spawn_echo(dir.socket().to_str().unwrap(), None);
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    (registry, echo)
}

async fn wait_state(registry: &Registry, wanted: Option<IomodState>, what: &str) {
    let start = Instant::now();
    while registry.list().await.unwrap().first().map(|s| s.state) != wanted {
        assert!(start.elapsed() < Duration::from_secs(20), "never {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_to_an_unhealthy_instance_fail_fast() {
    let dir = TempDir::new();
    let mut config = test_config(&dir);
    config.evict_after = 1000;
    let (registry, echo) = echo_with(&dir, config).await;
    echo.signal("STOP");
    wait_state(&registry, Some(IomodState::Unhealthy), "unhealthy").await;
    let started = Instant::now();
    let r = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"x", 0, "", false),
            Some(Duration::from_secs(60)),
        )
        .await;
    assert_code(r, ErrorCode::Unavailable, "failed its last health check");
    // At once, not at the call's deadline (60 s).
    assert!(started.elapsed() < Duration::from_secs(30));
    let r = registry
        .invoke_json(
            "example.test.echo.reverse",
            r#"{"text": "x"}"#.into(),
            Some(Duration::from_secs(60)),
        )
        .await;
    assert_code(r, ErrorCode::Unavailable, "failed its last health check");
    echo.signal("CONT");
    wait_state(&registry, Some(IomodState::Ready), "ready again").await;
    let out = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"back", 0, "", false),
            None,
        )
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), b"back");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_iomod_is_evicted_after_failed_health_checks() {
    let dir = TempDir::new();
    let mut config = test_config(&dir);
    config.evict_after = 3;
    let (registry, echo) = echo_with(&dir, config).await;
    let first = registry.instance_of(&echo_coordinates()).unwrap();
    // Stopped, it keeps its connection open and answers nothing, like a peer that vanished.
    echo.signal("STOP");
    wait_state(&registry, None, "evicted").await;
    assert_code(
        registry
            .invoke(
                "example.test.echo.echo",
                echo_input(b"x", 0, "", false),
                None,
            )
            .await,
        ErrorCode::Unavailable,
        "failed 3 health checks in a row",
    );
    // Its connection was closed: running again, it registers anew.
    echo.signal("CONT");
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(20))
        .await
        .unwrap();
    assert_ne!(registry.instance_of(&echo_coordinates()), Some(first));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_instance_serves_again_when_its_replacement_leaves() {
    let dir = TempDir::new();
    let (registry, first) = registry_with_echo(&dir).await;
    let coordinates = echo_coordinates();
    let first_instance = registry.instance_of(&coordinates).unwrap();
    let second = spawn_echo(dir.socket().to_str().unwrap(), None);
    eventually(
        Duration::from_secs(10),
        "the second instance replaces the first",
        || {
            registry
                .instance_of(&coordinates)
                .is_some_and(|i| i != first_instance)
        },
    )
    .await;
    assert_eq!(registry.list().await.unwrap()[0].info.pid, second.pid());
    // The replacement goes away; the first instance, still registered, serves again.
    drop(second);
    eventually(
        Duration::from_secs(10),
        "the first instance serves again",
        || registry.instance_of(&coordinates) == Some(first_instance),
    )
    .await;
    let listed = registry.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].info.pid, first.pid());
    let out = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"fallback", 0, "", false),
            None,
        )
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), b"fallback");
}

struct NoControl;

impl control::Server for NoControl {}

/// A `Control` that answers every call with a capability as its results (and is healthy, so that the
/// registry routes calls to it).
struct CapabilityResults;

impl control::Server for CapabilityResults {
    async fn call(
        self: std::rc::Rc<Self>,
        _: control::CallParams,
        mut results: control::CallResults,
    ) -> Result<(), capnp::Error> {
        let capability: control::Client = capnp_rpc::new_client(NoControl);
        results
            .get()
            .init_results()
            .set_as_capability(capability.client.hook);
        Ok(())
    }

    async fn health(
        self: std::rc::Rc<Self>,
        _: control::HealthParams,
        mut results: control::HealthResults,
    ) -> Result<(), capnp::Error> {
        results
            .get()
            .init_health()
            .set_status(iomod_sdk::iomod_capnp::health::Status::Serving);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn results_carrying_a_capability_fail_the_call_with_a_typed_error() {
    let dir = TempDir::new();
    let registry = Registry::start(test_config(&dir)).await.unwrap();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let address = RegistryAddress::Unix(dir.socket());
            let connection =
                RegistryConnection::connect(&address, None, ConnectionLimits::default())
                    .await
                    .unwrap();
            let mut request = connection.registry.register_request();
            IomodInfo::new(echo_coordinates(), "1.0.0", 1)
                .method(MethodInfo::new("echo", 0))
                .write(request.get().init_info());
            request
                .get()
                .set_control(capnp_rpc::new_client(CapabilityResults));
            let service: control::Client = capnp_rpc::new_client(NoControl);
            request
                .get()
                .init_service()
                .set_as_capability(service.client.hook);
            let response = request.send().promise.await.unwrap();
            let _registration = match response.get().unwrap().get_result().unwrap().which() {
                Ok(iomod_sdk::iomod_capnp::register_result::Registration(r)) => r.unwrap(),
                _ => panic!("the registration was refused"),
            };
            for _ in 0..2 {
                let r = registry
                    .invoke(
                        "example.test.echo.echo",
                        echo_input(b"x", 0, "", false),
                        Some(Duration::from_secs(20)),
                    )
                    .await;
                assert_code(r, ErrorCode::Internal, "results carry 1 capability");
            }
            let listed = registry.list().await.unwrap();
            assert_eq!(listed[0].calls_started, 2);
            assert_eq!(listed[0].calls_failed, 2);
        })
        .await;
}

/// Registers by hand with a given `IomodInfo`, returning the registry's answer.
async fn register_raw(dir: &TempDir, info: IomodInfo) -> Result<(), iomod_sdk::Error> {
    let address = RegistryAddress::Unix(dir.socket());
    let connection =
        RegistryConnection::connect(&address, None, ConnectionLimits::default()).await?;
    let mut request = connection.registry.register_request();
    info.write(request.get().init_info());
    request.get().set_control(capnp_rpc::new_client(NoControl));
    let service = capnp_rpc::new_client::<iomod_echo::echo_capnp::echo::Client, _>(
        iomod_echo::EchoServer::raw(),
    );
    request
        .get()
        .init_service()
        .set_as_capability(service.client.hook);
    let response = request.send().promise.await.unwrap();
    let result = match response
        .get()
        .unwrap()
        .get_result()
        .unwrap()
        .which()
        .unwrap()
    {
        iomod_sdk::iomod_capnp::register_result::Registration(_) => Ok(()),
        iomod_sdk::iomod_capnp::register_result::Error(e) => {
            Err(iomod_sdk::Error::read(e.unwrap()))
        }
    };
    connection.disconnect().await;
    result
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_registrations_are_rejected_with_reasons() {
    let dir = TempDir::new();
    let _registry = Registry::start(test_config(&dir)).await.unwrap();
    let good = || IomodInfo::new(echo_coordinates(), "1.0.0", 1).method(MethodInfo::new("echo", 0));
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            register_raw(&dir, good()).await.unwrap();

            let mut future = good();
            future.protocol_version = 99;
            assert_code(
                register_raw(&dir, future).await,
                ErrorCode::Incompatible,
                "protocol version 99",
            );

            let mut duplicate = good();
            duplicate.methods.push(MethodInfo::new("echo", 1));
            duplicate.version = "one".into();
            let r = register_raw(&dir, duplicate).await;
            assert_code(r, ErrorCode::InvalidInput, "declared twice");

            let mut digest = good();
            digest.manifest_digest = "md5:1234".into();
            assert_code(
                register_raw(&dir, digest).await,
                ErrorCode::InvalidInput,
                "manifest digest",
            );
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn iomod_registry_supervises_a_packages_directory() {
    let dir = TempDir::new();
    let package = dir.0.join("packages/echo");
    std::fs::create_dir_all(package.join("bin")).unwrap();
    // A package holds its entrypoint: a path inside it.
    std::fs::copy(bin("iomod-echo"), package.join("bin/iomod-echo")).unwrap();
    std::fs::write(
        package.join("iomod.toml"),
        "[iomod]\ncoordinates = \"example.test.echo\"\nversion = \"0.1.0\"\n\n[process]\nentrypoint = \"bin/iomod-echo\"\n",
    )
    .unwrap();
    let socket = dir.socket();
    let mut registry = Process {
        child: std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
            .args([
                "registry",
                "--socket",
                socket.to_str().unwrap(),
                "--packages",
            ])
            .arg(dir.0.join("packages"))
            .env("IOMOD_LOG", "warn")
            .spawn()
            .unwrap(),
    };
    let ls = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
            .args(["ls", "--json", "--registry", socket.to_str().unwrap()])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or(serde_json::Value::Null)
    };
    let mut pid = 0;
    eventually(
        Duration::from_secs(10),
        "the supervised echo IOmod registers",
        || {
            let listed = ls();
            pid = listed[0]["pid"].as_u64().unwrap_or(0);
            listed[0]["coordinates"] == "example.test.echo"
        },
    )
    .await;
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    registry.signal("TERM");
    assert!(
        registry
            .wait_exit(Duration::from_secs(15))
            .unwrap()
            .success()
    );
    // Stopping the registry stopped the IOmods it started.
    eventually(Duration::from_secs(5), "the IOmod process is gone", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_iomod_without_json_support_says_so() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let err = registry
        .invoke_json("example.test.echo.echo", "{}".into(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::MethodNotFound);
    assert!(err.message.contains("does not take JSON calls"), "{err}");
    let err = registry
        .invoke_json("example.test.echo.nope", "{}".into(), None)
        .await
        .unwrap_err();
    assert!(err.message.contains("has no method `nope`"), "{err}");
}

/// The echo IOmod served in process, registering with `protocol_version`; keeps its `Calls` for the test.
struct Versioned {
    protocol_version: u32,
    calls: std::sync::Arc<std::sync::OnceLock<iomod_sdk::Calls>>,
}

impl iomod_sdk::Service for Versioned {
    fn info(&self) -> IomodInfo {
        let mut info = iomod_echo::EchoService.info();
        info.protocol_version = self.protocol_version;
        info
    }

    fn capability(
        self: std::sync::Arc<Self>,
        calls: iomod_sdk::Calls,
    ) -> capnp::capability::Client {
        let _ = self.calls.set(calls.clone());
        std::sync::Arc::new(iomod_echo::EchoService).capability(calls)
    }
}

/// Serves [`Versioned`] with the registry at `dir` until the returned sender is dropped.
fn serve_versioned(
    dir: &TempDir,
    protocol_version: u32,
) -> (
    tokio::sync::oneshot::Sender<()>,
    std::sync::Arc<std::sync::OnceLock<iomod_sdk::Calls>>,
) {
    let calls = std::sync::Arc::new(std::sync::OnceLock::new());
    let service = Versioned {
        protocol_version,
        calls: calls.clone(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = iomod_sdk::ServeOptions::new(RegistryAddress::Unix(dir.socket()));
    tokio::spawn(async move {
        iomod_sdk::serve_with(service, options, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (stop, calls)
}

fn context_input() -> Vec<u8> {
    let mut params = capnp::message::Builder::new_default();
    params.init_root::<iomod_echo::echo_capnp::echo::context_params::Builder<'_>>();
    capnp::serialize::write_message_to_words(&params)
}

/// The time left and the traceparent the echo IOmod saw.
fn context_output(bytes: &[u8]) -> (u64, String) {
    let message =
        capnp::serialize::read_message(&mut &bytes[..], capnp::message::ReaderOptions::new())
            .unwrap();
    let r = message
        .get_root::<iomod_echo::echo_capnp::echo::context_results::Reader<'_>>()
        .unwrap();
    (
        r.get_timeout_micros(),
        r.get_traceparent().unwrap().to_string().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_protocol_1_iomod_is_still_called_on_its_typed_capability() {
    let dir = TempDir::new();
    let registry = Registry::start(test_config(&dir)).await.unwrap();
    let (_stop, _) = serve_versioned(&dir, 1);
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(registry.list().await.unwrap()[0].info.protocol_version, 1);
    let out = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"old", 0, "", false),
            None,
        )
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), b"old");
    // Version 1 has no call context: the method body sees none.
    let seen = registry
        .invoke("example.test.echo.context", context_input(), None)
        .await
        .unwrap();
    assert_eq!(context_output(&seen), (0, String::new()));
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_2_carries_the_context_and_the_deadline_cancels_the_method() {
    let dir = TempDir::new();
    let registry = Registry::start(test_config(&dir)).await.unwrap();
    let (_stop, calls) = serve_versioned(&dir, iomod_sdk::PROTOCOL_VERSION);
    registry
        .wait_ready(&[echo_coordinates()], Duration::from_secs(10))
        .await
        .unwrap();
    let trace: iomod_sdk::TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        .parse()
        .unwrap();
    let context = iomod_sdk::CallContext {
        deadline: Some(Instant::now() + Duration::from_secs(3)),
        traceparent: Some(trace),
        tracestate: None,
    };
    let seen = registry
        .handle()
        .invoke_with("example.test.echo.context", context_input(), context)
        .await
        .unwrap();
    let (micros, traceparent) = context_output(&seen);
    assert!(micros > 2_000_000 && micros <= 3_000_000, "{micros}");
    assert_eq!(traceparent, trace.to_string());

    // A body past its deadline is cancelled in the IOmod, not left running.
    let started = Instant::now();
    let result = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"late", 10_000, "", false),
            Some(Duration::from_millis(300)),
        )
        .await;
    assert_code(result, ErrorCode::DeadlineExceeded, "deadline");
    assert!(started.elapsed() < Duration::from_secs(2));
    let calls = calls.get().unwrap().clone();
    eventually(
        Duration::from_secs(2),
        "the method body is cancelled",
        || calls.in_flight() == 0,
    )
    .await;

    // A deadline that passed before the call is refused without reaching the IOmod.
    let expired = iomod_sdk::CallContext {
        deadline: Some(Instant::now() - Duration::from_millis(1)),
        ..Default::default()
    };
    assert_code(
        registry
            .handle()
            .invoke_with(
                "example.test.echo.echo",
                echo_input(b"x", 0, "", false),
                expired,
            )
            .await,
        ErrorCode::DeadlineExceeded,
        "before it was sent",
    );
}

/// Runs `iomod registry` with its default socket under `xdg`; returns its exit status and standard error
/// when it exits within a few seconds, `None` (after stopping it) when it keeps running.
fn registry_under(xdg: &Path) -> Option<(std::process::ExitStatus, String)> {
    let mut registry = Process {
        child: std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
            .arg("registry")
            .env("XDG_RUNTIME_DIR", xdg)
            .env_remove("IOMOD_REGISTRY")
            .env("IOMOD_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    };
    let status = registry.wait_exit(Duration::from_secs(5))?;
    let mut stderr = String::new();
    use std::io::Read;
    registry
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Some((status, stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_socket_directory_must_be_private() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = TempDir::new();
    let xdg = dir.0.join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    let sockets = xdg.join("iomod");
    let refused = |needle: &str| {
        let (status, stderr) = registry_under(&xdg).expect("the registry refuses to start");
        assert!(!status.success());
        assert!(
            stderr.contains(&sockets.display().to_string()) && stderr.contains(needle),
            "`{stderr}` does not name {} and `{needle}`",
            sockets.display()
        );
    };

    // Open to other users.
    std::fs::create_dir(&sockets).unwrap();
    std::fs::set_permissions(&sockets, std::fs::Permissions::from_mode(0o755)).unwrap();
    refused("mode 0755");
    assert!(!sockets.join("registry.sock").exists());
    // Another user's (created before the registry started; only root can make one here).
    std::fs::set_permissions(&sockets, std::fs::Permissions::from_mode(0o700)).unwrap();
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&sockets, Some(4242), Some(4242)).unwrap();
        refused("owner uid 4242");
    }
    std::fs::remove_dir(&sockets).unwrap();
    // A symbolic link to a directory that would pass.
    let elsewhere = dir.0.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &sockets).unwrap();
    refused("symbolic link");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_file(&sockets).unwrap();

    // Missing: created with mode 0700, and the registry runs.
    assert!(
        registry_under(&xdg).is_none(),
        "the registry runs in a directory it created"
    );
    let meta = std::fs::symlink_metadata(&sockets).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.mode() & 0o777, 0o700);
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_an_iomod_signals_its_process_group() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let package = dir.0.join("packages/echo");
    std::fs::create_dir_all(package.join("bin")).unwrap();
    // The IOmod starts a process of its own before it serves.
    let helper_pid = dir.0.join("helper.pid");
    let script = package.join("bin/run");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n/bin/sleep 600 &\necho $! > '{}'\nexec '{}'\n",
            helper_pid.display(),
            bin("iomod-echo").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        package.join("iomod.toml"),
        "[iomod]\ncoordinates = \"example.test.echo\"\nversion = \"0.1.0\"\n\n[process]\nentrypoint = \"bin/run\"\n",
    )
    .unwrap();
    let socket = dir.socket();
    let log = dir.0.join("registry.log");
    let mut registry = Process {
        child: std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
            .args([
                "registry",
                "--socket",
                socket.to_str().unwrap(),
                "--packages",
            ])
            .arg(dir.0.join("packages"))
            // Signals are sent without any program found on PATH.
            .env("PATH", "/nonexistent")
            .env("IOMOD_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    };
    let registered = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
            .args(["ls", "--json", "--registry", socket.to_str().unwrap()])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .map(|v| v[0]["coordinates"] == "example.test.echo")
            .unwrap_or(false)
    };
    eventually(Duration::from_secs(10), "the IOmod registers", registered).await;
    let helper: u32 = std::fs::read_to_string(&helper_pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    };
    assert!(alive(helper));
    registry.signal("TERM");
    assert!(
        registry
            .wait_exit(Duration::from_secs(30))
            .unwrap()
            .success()
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("IOmod stopped") && !log.contains("did not stop in time"),
        "the IOmod was not stopped by SIGTERM:\n{log}"
    );
    // The process the IOmod started was in its group, and went with it.
    eventually(
        Duration::from_secs(5),
        "the IOmod's own process is gone",
        || !alive(helper),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_timeouts_do_not_panic() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let out = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"forever", 0, "", false),
            Some(Duration::MAX),
        )
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), b"forever");
    // (The echo IOmod takes no JSON calls: the call goes through, and it says so.)
    let r = registry
        .invoke_json(
            "example.test.echo.reverse",
            r#"{"text": "abc"}"#.into(),
            Some(Duration::MAX),
        )
        .await;
    assert_code(r, ErrorCode::MethodNotFound, "does not take JSON calls");
    let handle = registry.handle();
    let out = handle
        .invoke(
            "example.test.echo.echo",
            echo_input(b"handle", 0, "", false),
            Some(Duration::MAX),
        )
        .await
        .unwrap();
    assert_eq!(echo_output(&out).unwrap(), b"handle");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_gives_up_on_a_registry_that_never_answers() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A peer that accepts connections and never says anything, like a registry that hangs.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut options = iomod_sdk::ServeOptions::new(RegistryAddress::Tcp(addr.to_string()));
    options.token = Some(TOKEN.into());
    options.connect_timeout = Duration::from_millis(300);
    options.reconnect_initial = Duration::from_millis(10);
    options.reconnect_max = Duration::from_millis(100);
    let service = Versioned {
        protocol_version: 2,
        calls: std::sync::Arc::new(std::sync::OnceLock::new()),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(iomod_sdk::serve_with(service, options, async {
        let _ = stopped.await;
    }));
    eventually(
        Duration::from_secs(20),
        "the SDK abandons the silent registry and connects again",
        || accepted.load(Ordering::SeqCst) >= 3,
    )
    .await;
    // Shutting down does not wait for the attempt under way.
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), served)
        .await
        .expect("serve_with returns after shutdown")
        .unwrap()
        .unwrap();
}
