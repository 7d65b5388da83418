//! The wasm host with real guests (WebAssembly text, compiled by wasmtime), a real registry and the echo
//! IOmod as a separate process: results, typed errors as values, allow-list, bad pointers and ids, time
//! budget, memory limit, many calls in flight.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use iomod::host::{FunctionConfig, Host, RunError};
use iomod_sdk::ErrorCode;

fn allow_echo() -> FunctionConfig {
    FunctionConfig {
        allow: vec![echo_coordinates(), "example.test.nothing".parse().unwrap()],
        ..FunctionConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_calls_an_iomod_and_gets_typed_errors_as_values() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    let function = host.load(proxy().as_bytes(), allow_echo()).unwrap();

    let output = function
        .run(
            &registry,
            proxy_input(
                "example.test.echo.echo",
                &echo_input(b"from wasm", 0, "", false),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        echo_output(&proxy_outcome(&output).unwrap()).unwrap(),
        b"from wasm"
    );

    // The method's own error is part of its results.
    let output = function
        .run(
            &registry,
            proxy_input(
                "example.test.echo.echo",
                &echo_input(b"x", 0, "Nope", false),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        echo_output(&proxy_outcome(&output).unwrap())
            .unwrap_err()
            .name,
        "Nope"
    );

    // Registry and host errors arrive as values.
    let cases = [
        // Declared but not registered: starting or restarting, so worth retrying.
        (
            "example.test.nothing.echo",
            echo_input(b"x", 0, "", false),
            ErrorCode::Unavailable,
        ),
        (
            "example.test.echo.shout",
            echo_input(b"x", 0, "", false),
            ErrorCode::MethodNotFound,
        ),
        (
            "example.test.echo.echo",
            b"garbage".to_vec(),
            ErrorCode::InvalidInput,
        ),
        ("not a path", Vec::new(), ErrorCode::InvalidInput),
        ("example.test.secret.read", Vec::new(), ErrorCode::Forbidden),
    ];
    for (path, input, code) in cases {
        let output = function
            .run(&registry, proxy_input(path, &input))
            .await
            .unwrap();
        let err = proxy_outcome(&output).unwrap_err();
        assert_eq!(err.code, code, "{path}: {err}");
    }
    // A call past its deadline.
    let config = FunctionConfig {
        call_timeout: Duration::from_millis(100),
        ..allow_echo()
    };
    let short = host.load(proxy().as_bytes(), config).unwrap();
    let output = short
        .run(
            &registry,
            proxy_input(
                "example.test.echo.echo",
                &echo_input(b"x", 5_000, "", false),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        proxy_outcome(&output).unwrap_err().code,
        ErrorCode::DeadlineExceeded
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_to_undeclared_iomods_are_refused() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    let function = host
        .load(proxy().as_bytes(), FunctionConfig::default())
        .unwrap();
    let output = function
        .run(
            &registry,
            proxy_input("example.test.echo.echo", &echo_input(b"x", 0, "", false)),
        )
        .await
        .unwrap();
    let err = proxy_outcome(&output).unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    assert!(err.message.contains("does not declare that IOmod"), "{err}");
    assert_eq!(
        registry.list().await.unwrap()[0].calls_started,
        0,
        "a refused call never reaches the IOmod"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_pointers_lengths_and_ids_are_errors_and_the_host_keeps_serving() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    // Reading a finished call with a wrong length, then into a range past memory.
    let probes = format!(
        r#"(module {IMPORTS}
  (func (export "iomod_main") (param i32 i32) (result i64)
    (local $id i64)
    ;; A refused call (no IOmod is allowed) finishes at once: read it with a wrong length, then past memory.
    (local.set $id (call $start (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0)))
    (drop (call $wait))
    (i32.store (i32.const 2048) (call $read (local.get $id) (i32.const 0) (i32.const 1)))
    (i32.store (i32.const 2052) (call $read (local.get $id) (i32.const 262140) (i32.wrap_i64 (i64.shr_u (call $poll (local.get $id)) (i64.const 1)))))
    (i64.store (i32.const 2056) (call $poll (local.get $id)))
    (i64.const 8796093022224)))"#
    );
    let function = host
        .load(probes.as_bytes(), FunctionConfig::default())
        .unwrap();
    let output = function.run(&registry, Vec::new()).await.unwrap();
    // iomod_main output 16 bytes at 2048.
    assert_eq!(
        i32::from_le_bytes(output[0..4].try_into().unwrap()),
        -5,
        "wrong length"
    );
    assert_eq!(
        i32::from_le_bytes(output[4..8].try_into().unwrap()),
        -4,
        "destination out of bounds"
    );
    assert!(
        i64::from_le_bytes(output[8..16].try_into().unwrap()) > 0,
        "the result is still there to read"
    );

    // Each probe outputs what one ABI function answered to a bad argument.
    for (export, expected) in [
        ("start_past_memory", -2i64),
        ("start_huge_length", -2),
        ("input_past_memory", -2),
        ("poll_unknown", -2),
        ("read_unknown", -2),
        ("wait_idle", -1),
    ] {
        let module = format!(
            r#"(module {IMPORTS}
  (func (export "iomod_main") (param i32 i32) (result i64)
    (i64.store (i32.const 2048) {call})
    (i64.const 8796093022216)))"#,
            call = probe_call(export)
        );
        let f = host
            .load(module.as_bytes(), FunctionConfig::default())
            .unwrap();
        let output = f.run(&registry, Vec::new()).await.unwrap();
        assert_eq!(
            i64::from_le_bytes(output[..8].try_into().unwrap()),
            expected,
            "{export}"
        );
    }

    // An output pointer outside memory is the host's error, not a crash.
    let bad_output = format!(
        r#"(module {IMPORTS} (func (export "iomod_main") (param i32 i32) (result i64) (i64.const -1)))"#
    );
    let f = host
        .load(bad_output.as_bytes(), FunctionConfig::default())
        .unwrap();
    assert!(matches!(
        f.run(&registry, Vec::new()).await,
        Err(RunError::BadOutput(_))
    ));

    // And the host still serves.
    let function = host.load(proxy().as_bytes(), allow_echo()).unwrap();
    let output = function
        .run(
            &registry,
            proxy_input("example.test.echo.echo", &echo_input(b"ok", 0, "", false)),
        )
        .await
        .unwrap();
    assert_eq!(
        echo_output(&proxy_outcome(&output).unwrap()).unwrap(),
        b"ok"
    );
}

/// The WAT expression (an i64) one probe evaluates.
fn probe_call(export: &str) -> &'static str {
    match export {
        "start_past_memory" => {
            "(call $start (i32.const 262140) (i32.const 100) (i32.const 0) (i32.const 0))"
        }
        "start_huge_length" => {
            "(call $start (i32.const 0) (i32.const -1) (i32.const 0) (i32.const 0))"
        }
        "input_past_memory" => {
            "(call $start (i32.const 0) (i32.const 4) (i32.const 262000) (i32.const 1000))"
        }
        "poll_unknown" => "(call $poll (i64.const 12345))",
        "read_unknown" => {
            "(i64.extend_i32_s (call $read (i64.const 777) (i32.const 0) (i32.const 8)))"
        }
        _ => "(call $wait)",
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_calls_in_flight_from_one_guest() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    // Starts 100 calls with the input it is given (each sleeps 200 ms in the IOmod), then waits for all of
    // them and outputs how many succeeded.
    let module = format!(
        r#"(module {IMPORTS}
  (data (i32.const 64) "example.test.echo.echo")
  (func (export "iomod_main") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32) (local $done i32) (local $ok i32) (local $id i64) (local $st i64)
    (block $started (loop $start_loop
      (drop (call $start (i32.const 64) (i32.const 22) (local.get $ptr) (local.get $len)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $started (i32.eq (local.get $i) (i32.const 100)))
      (br $start_loop)))
    (block $all (loop $wait_loop
      (local.set $id (call $wait))
      (br_if $all (i64.lt_s (local.get $id) (i64.const 0)))
      (local.set $st (call $poll (local.get $id)))
      (if (i64.eq (i64.and (local.get $st) (i64.const 1)) (i64.const 0))
        (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
      (drop (call $read (local.get $id) (i32.const 4096) (i32.wrap_i64 (i64.shr_u (local.get $st) (i64.const 1)))))
      (br $wait_loop)))
    (i32.store (i32.const 2048) (local.get $ok))
    (i64.const 8796093022212)))"#
    );
    let function = host.load(module.as_bytes(), allow_echo()).unwrap();
    let started = Instant::now();
    let output = function
        .run(&registry, echo_input(b"many", 200, "", false))
        .await
        .unwrap();
    assert_eq!(u32::from_le_bytes(output[..4].try_into().unwrap()), 100);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the calls did not overlap: {:?}",
        started.elapsed()
    );
    assert_eq!(registry.list().await.unwrap()[0].calls_started, 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_is_stopped_by_the_time_budget() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    let spin = format!(
        r#"(module {IMPORTS} (func (export "iomod_main") (param i32 i32) (result i64) (loop $l (br $l)) (i64.const 0)))"#
    );
    let config = FunctionConfig {
        time_budget: Duration::from_millis(300),
        ..allow_echo()
    };
    let function = host.load(spin.as_bytes(), config).unwrap();
    let started = Instant::now();
    let spinning = function.run(&registry, Vec::new());
    // While it spins, the registry (on the same thread) keeps answering: the guest yields every tick.
    let (result, call) = tokio::join!(spinning, async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        registry
            .invoke(
                "example.test.echo.echo",
                echo_input(b"meanwhile", 0, "", false),
                None,
            )
            .await
    });
    assert!(matches!(result, Err(RunError::TimeBudget(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(echo_output(&call.unwrap()).unwrap(), b"meanwhile");
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_beyond_the_limit_is_refused() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    // memory.grow past the limit returns -1 to the guest.
    let grow = format!(
        r#"(module {IMPORTS} (func (export "iomod_main") (param i32 i32) (result i64)
          (i32.store (i32.const 2048) (memory.grow (i32.const 1000)))
          (i64.const 8796093022212)))"#
    );
    let config = FunctionConfig {
        memory_limit_bytes: 1024 * 1024,
        ..FunctionConfig::default()
    };
    let function = host.load(grow.as_bytes(), config.clone()).unwrap();
    let output = function.run(&registry, Vec::new()).await.unwrap();
    assert_eq!(i32::from_le_bytes(output[..4].try_into().unwrap()), -1);
    // A module that starts with more memory than allowed does not run.
    let big = format!(
        r#"(module {})"#,
        IMPORTS.replace(
            "(memory (export \"memory\") 4)",
            "(memory (export \"memory\") 100)"
        ) + r#"(func (export "iomod_main") (param i32 i32) (result i64) (i64.const 0))"#
    );
    let function = host.load(big.as_bytes(), config).unwrap();
    assert!(matches!(
        function.run(&registry, Vec::new()).await,
        Err(RunError::Trap(_))
    ));
}

#[test]
fn modules_without_the_function_exports_or_with_unknown_imports_are_rejected() {
    let host = Host::new().unwrap();
    let err = host
        .load(b"(module)", FunctionConfig::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not export the memory `memory`"),
        "{err}"
    );
    let unknown = r#"(module (import "env" "open" (func)) (memory (export "memory") 1)
        (func (export "iomod_alloc") (param i32) (result i32) (i32.const 0))
        (func (export "iomod_main") (param i32 i32) (result i64) (i64.const 0)))"#;
    let err = host
        .load(unknown.as_bytes(), FunctionConfig::default())
        .unwrap_err();
    assert!(err.to_string().contains("imports `env::open`"), "{err}");
    let err = host
        .load(b"\0asm garbage", FunctionConfig::default())
        .unwrap_err();
    assert!(matches!(err, RunError::InvalidModule(_)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_iomod_fails_the_call_promptly_and_the_supervisor_restarts_it() {
    use iomod::supervisor::{IomodProcess, Supervisor, SupervisorConfig};
    use iomod_sdk::transport::RegistryAddress;

    let dir = TempDir::new();
    let registry = iomod::registry::Registry::start(test_config(&dir))
        .await
        .unwrap();
    let mut config = SupervisorConfig::new(RegistryAddress::Unix(dir.socket()));
    config.backoff_initial = Duration::from_millis(50);
    let echo = echo_coordinates();
    let supervisor = Supervisor::start(
        vec![IomodProcess {
            coordinates: echo.clone(),
            program: bin("iomod-echo"),
            arguments: Vec::new(),
        }],
        config,
    );
    registry
        .wait_ready(std::slice::from_ref(&echo), Duration::from_secs(10))
        .await
        .unwrap();
    let first_instance = registry.instance_of(&echo).unwrap();
    let stats = supervisor.stats(&echo).unwrap();
    assert_eq!(stats.starts.load(std::sync::atomic::Ordering::Relaxed), 1);

    let host = Host::new().unwrap();
    let function = host.load(proxy().as_bytes(), allow_echo()).unwrap();
    let slow_call = function.run(
        &registry,
        proxy_input(
            "example.test.echo.echo",
            &echo_input(b"slow", 10_000, "", false),
        ),
    );
    let kill = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pid = stats.pid.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
        Instant::now()
    };
    let (output, killed_at) = tokio::join!(slow_call, kill);
    let err = proxy_outcome(&output.unwrap()).unwrap_err();
    assert_eq!(err.code, ErrorCode::Unavailable, "{err}");
    assert!(
        killed_at.elapsed() < Duration::from_secs(2),
        "the guest learned of the crash after {:?}",
        killed_at.elapsed()
    );

    // The supervisor restarts it; the next call succeeds.
    eventually(
        Duration::from_secs(10),
        "the restarted IOmod registers",
        || {
            registry
                .instance_of(&echo)
                .is_some_and(|i| i != first_instance)
        },
    )
    .await;
    assert_eq!(stats.starts.load(std::sync::atomic::Ordering::Relaxed), 2);
    let output = function
        .run(
            &registry,
            proxy_input(
                "example.test.echo.echo",
                &echo_input(b"again", 0, "", false),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        echo_output(&proxy_outcome(&output).unwrap()).unwrap(),
        b"again"
    );

    // Shutting down stops it for good (SIGTERM: it drains and deregisters).
    supervisor.shutdown().await;
    eventually(
        Duration::from_secs(5),
        "deregistration after shutdown",
        || registry.instance_of(&echo).is_none(),
    )
    .await;
}

#[test]
fn packages_are_read_from_their_manifests() {
    use iomod::package::{Limits, PackageSet};
    let dir = TempDir::new();
    let package = dir.0.join("echo");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(
        package.join("iomod.toml"),
        "[iomod]\ncoordinates = \"example.test.echo\"\nversion = \"0.1.0\"\n\n[process]\nentrypoint = \"bin/iomod-echo\"\narguments = [\"--quiet\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(package.join("bin")).unwrap();
    std::fs::copy(bin("iomod-echo"), package.join("bin/iomod-echo")).unwrap();
    std::fs::create_dir_all(dir.0.join("not-a-package")).unwrap();
    let set = PackageSet::open(&dir.0, &Limits::default()).unwrap();
    let found = set.processes();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].coordinates, echo_coordinates());
    assert_eq!(found[0].program, package.join("bin/iomod-echo"));
    assert_eq!(found[0].arguments, ["--quiet"]);
    std::fs::write(
        package.join("iomod.toml"),
        "[iomod]\ncoordinates = \"Bad\"\n",
    )
    .unwrap();
    let err = PackageSet::open(&dir.0, &Limits::default()).unwrap_err();
    assert_eq!(err.path, package);
    assert!(err.reason.contains("coordinates"), "{err}");
}

#[test]
fn iomod_run_starts_the_iomods_a_function_declares_and_runs_it() {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("proxy.wat"), proxy()).unwrap();
    let manifest = format!(
        "[function]\nmodule = \"proxy.wat\"\ntime_budget_ms = 10000\n\n[iomod.dependencies.echo]\ncoordinates = \"example.test.echo\"\nentrypoint = {:?}\n",
        bin("iomod-echo").display().to_string()
    );
    std::fs::write(dir.0.join("function.toml"), manifest).unwrap();
    std::fs::write(
        dir.0.join("input.bin"),
        proxy_input(
            "example.test.echo.echo",
            &echo_input(b"via iomod run", 0, "", false),
        ),
    )
    .unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
        .arg("run")
        .arg(dir.0.join("function.toml"))
        .arg("--input-file")
        .arg(dir.0.join("input.bin"))
        .env("IOMOD_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        echo_output(&proxy_outcome(&run.stdout).unwrap()).unwrap(),
        b"via iomod run"
    );

    // Bad manifests and IOmods that never register are reported, not hung on.
    std::fs::write(
        dir.0.join("bad.toml"),
        "[function]\nmodule = \"proxy.wat\"\nmemory = 3\n",
    )
    .unwrap();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
        .arg("run")
        .arg(dir.0.join("bad.toml"))
        .arg("--input=")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown field `memory`"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    std::fs::write(
        dir.0.join("never.toml"),
        "[function]\nmodule = \"proxy.wat\"\n\n[iomod.dependencies.ghost]\ncoordinates = \"example.test.ghost\"\nentrypoint = \"/bin/false\"\n",
    )
    .unwrap();
    let started = Instant::now();
    let never = std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
        .args([
            "run",
            dir.0.join("never.toml").to_str().unwrap(),
            "--input=",
            "--ready-timeout",
            "1",
        ])
        .env("IOMOD_LOG", "error")
        .output()
        .unwrap();
    assert!(!never.status.success());
    assert!(
        String::from_utf8_lossy(&never.stderr).contains("did not start"),
        "{}",
        String::from_utf8_lossy(&never.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn iomod_run_logs_what_iomods_print_and_outputs_only_the_function_output() {
    use std::os::unix::fs::PermissionsExt;

    let dir = TempDir::new();
    std::fs::write(dir.0.join("proxy.wat"), proxy()).unwrap();
    // The echo IOmod behind a script that first prints to both streams: plain lines, invalid UTF-8, an
    // escape sequence, a 100 kB line, and a last line without a newline.
    let noisy = dir.0.join("noisy-echo");
    std::fs::write(
        &noisy,
        format!(
            "#!/bin/sh\n\
             echo 'noisy line on stdout'\n\
             echo 'noisy line on stderr' >&2\n\
             printf 'bad \\377 byte\\n' >&2\n\
             printf 'colour \\033[31mred\\n' >&2\n\
             head -c 100000 /dev/zero | tr '\\0' x\n\
             echo\n\
             printf 'no newline at the end'\n\
             exec '{}'\n",
            bin("iomod-echo").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&noisy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let manifest = format!(
        "[function]\nmodule = \"proxy.wat\"\ntime_budget_ms = 10000\n\n[iomod.dependencies.echo]\ncoordinates = \"example.test.echo\"\nentrypoint = {:?}\n",
        noisy.display().to_string()
    );
    std::fs::write(dir.0.join("function.toml"), manifest).unwrap();
    std::fs::write(
        dir.0.join("input.bin"),
        proxy_input(
            "example.test.echo.echo",
            &echo_input(b"only this", 0, "", false),
        ),
    )
    .unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_iomod"))
        .arg("run")
        .arg(dir.0.join("function.toml"))
        .arg("--input-file")
        .arg(dir.0.join("input.bin"))
        .env("IOMOD_LOG", "info")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{log}");

    // Standard output is the function's output and nothing else.
    assert_eq!(
        echo_output(&proxy_outcome(&run.stdout).unwrap()).unwrap(),
        b"only this"
    );
    assert!(
        !run.stdout
            .windows(5)
            .any(|w| w == b"noisy" || w == b"xxxxx")
    );

    // The log has each line, tagged with the IOmod's coordinates, pid and stream.
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in the log:\n{log}"))
    };
    let tagged = |needle: &str, stream: &str| {
        let found = line(needle);
        assert!(
            found.contains("iomod=example.test.echo pid=")
                && !found.contains("pid=0 ")
                && found.ends_with(&format!("stream={stream}")),
            "{found}"
        );
        found
    };
    tagged("noisy line on stdout", "stdout");
    tagged("noisy line on stderr", "stderr");
    tagged("bad \u{FFFD} byte", "stderr");
    tagged("colour \\u{1b}[31mred", "stderr");
    assert!(!log.contains('\x1b'), "an escape sequence reached the log");
    let long = tagged("xxxxxxxx", "stdout");
    assert!(
        long.contains("[83616 more bytes cut]"),
        "{}",
        &long[long.len() - 200..]
    );
    assert!(long.len() < 17_000, "{}", long.len());
    tagged("no newline at the end", "stdout");

    // The IOmod's own tracing lines keep their level and lose their timestamp; the lines it logs while it
    // stops, after the function ran, are there too.
    let registered = tagged("iomod_sdk::serve: registered", "stderr");
    assert_eq!(registered.matches("INFO").count(), 1, "{registered}");
    let year = &registered[..5];
    assert_eq!(registered.matches(year).count(), 1, "{registered}");
    tagged("SIGTERM received", "stderr");
}

/// A guest making one call of `path` (placed in its memory at 64) with the `input_len` bytes at
/// `input_ptr` of its memory; outputs `[i64 status][result]` as [`proxy`] does.
fn one_call(path: &str, input_ptr: u32, input_len: u32) -> String {
    format!(
        r#"(module {IMPORTS}
  (data (i32.const 64) "{path}")
  (func (export "iomod_main") (param i32 i32) (result i64)
    (local $id i64) (local $st i64) (local $n i32)
    (local.set $id (call $start (i32.const 64) (i32.const {path_len}) (i32.const {input_ptr}) (i32.const {input_len})))
    (block $done
      (loop $again
        (local.set $st (call $poll (local.get $id)))
        (br_if $done (i64.ne (local.get $st) (i64.const -1)))
        (drop (call $wait))
        (br $again)))
    (i64.store (i32.const 131072) (local.get $st))
    (local.set $n (i32.wrap_i64 (i64.shr_u (local.get $st) (i64.const 1))))
    (drop (call $read (local.get $id) (i32.const 131080) (local.get $n)))
    (i64.or (i64.shl (i64.const 131072) (i64.const 32)) (i64.extend_i32_u (i32.add (local.get $n) (i32.const 8))))))"#,
        path_len = path.len()
    )
}

fn i64_at(output: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(output[at..at + 8].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_and_unread_calls_count_against_the_pending_calls_limit() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    // Starts calls of an IOmod it does not declare (each refused at once) until `call_start` fails, reading
    // none; outputs how many it started and what the next one answered, then reads the first call and
    // outputs what one more `call_start` answers.
    let flood = format!(
        r#"(module {IMPORTS}
  (data (i32.const 64) "example.test.secret.read")
  (func (export "iomod_main") (param i32 i32) (result i64)
    (local $i i64) (local $id i64)
    (block $full (loop $again
      (local.set $id (call $start (i32.const 64) (i32.const 24) (i32.const 0) (i32.const 0)))
      (br_if $full (i64.lt_s (local.get $id) (i64.const 0)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $full (i64.eq (local.get $i) (i64.const 100000)))
      (br $again)))
    (i64.store (i32.const 2048) (local.get $i))
    (i64.store (i32.const 2056) (local.get $id))
    (i64.store (i32.const 2064) (i64.extend_i32_s
      (call $read (i64.const 0) (i32.const 4096) (i32.wrap_i64 (i64.shr_u (call $poll (i64.const 0)) (i64.const 1))))))
    (i64.store (i32.const 2072) (call $start (i32.const 64) (i32.const 24) (i32.const 0) (i32.const 0)))
    (i64.const 8796093022240)))"#
    );
    let config = FunctionConfig {
        max_pending_calls: 8,
        ..FunctionConfig::default()
    };
    let function = host.load(flood.as_bytes(), config).unwrap();
    let output = function.run(&registry, Vec::new()).await.unwrap();
    assert_eq!(i64_at(&output, 0), 8, "calls started before the limit");
    assert_eq!(i64_at(&output, 8), -3, "call_start past the limit");
    assert_eq!(i64_at(&output, 16), 0, "reading the first result");
    assert_eq!(
        i64_at(&output, 24),
        8,
        "a read result makes room for a call"
    );

    // A call read before `wait` reported it is not reported afterwards.
    let read_then_wait = format!(
        r#"(module {IMPORTS}
  (data (i32.const 64) "example.test.secret.read")
  (func (export "iomod_main") (param i32 i32) (result i64)
    (local $id i64)
    (local.set $id (call $start (i32.const 64) (i32.const 24) (i32.const 0) (i32.const 0)))
    (i64.store (i32.const 2048) (i64.extend_i32_s
      (call $read (local.get $id) (i32.const 4096) (i32.wrap_i64 (i64.shr_u (call $poll (local.get $id)) (i64.const 1))))))
    (i64.store (i32.const 2056) (call $wait))
    (i64.const 8796093022224)))"#
    );
    let function = host
        .load(read_then_wait.as_bytes(), FunctionConfig::default())
        .unwrap();
    let output = function.run(&registry, Vec::new()).await.unwrap();
    assert_eq!(i64_at(&output, 0), 0, "reading the refused call");
    assert_eq!(i64_at(&output, 8), -1, "wait after every call was read");
}

#[tokio::test(flavor = "multi_thread")]
async fn inputs_in_flight_and_unread_results_are_capped_in_bytes() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    // Its input is an echo call's input: calls A and waits for it (its result is not read), starts B, then
    // C; reads A and starts C again. Outputs what the four `call_start`s and the read answered.
    let module = format!(
        r#"(module {IMPORTS}
  (data (i32.const 64) "example.test.echo.echo")
  (func (export "iomod_main") (param $ptr i32) (param $len i32) (result i64)
    (local $a i64)
    (local.set $a (call $start (i32.const 64) (i32.const 22) (local.get $ptr) (local.get $len)))
    (i64.store (i32.const 2048) (local.get $a))
    (drop (call $wait))
    (i64.store (i32.const 2056) (call $start (i32.const 64) (i32.const 22) (local.get $ptr) (local.get $len)))
    (i64.store (i32.const 2064) (call $start (i32.const 64) (i32.const 22) (local.get $ptr) (local.get $len)))
    (i64.store (i32.const 2072) (i64.extend_i32_s
      (call $read (local.get $a) (i32.const 131072) (i32.wrap_i64 (i64.shr_u (call $poll (local.get $a)) (i64.const 1))))))
    (i64.store (i32.const 2080) (call $start (i32.const 64) (i32.const 22) (local.get $ptr) (local.get $len)))
    (i64.const 8796093022248)))"#
    );
    let config = FunctionConfig {
        max_payload_bytes: 64 * 1024,
        max_pending_bytes: 100 * 1024,
        ..allow_echo()
    };
    let function = host.load(module.as_bytes(), config).unwrap();
    let output = function
        .run(&registry, echo_input(&[7; 40 * 1024], 0, "", false))
        .await
        .unwrap();
    assert_eq!(i64_at(&output, 0), 0, "A");
    assert_eq!(i64_at(&output, 8), 1, "B: A's result and B's input fit");
    assert_eq!(
        i64_at(&output, 16),
        -4,
        "C: A's result and two inputs do not"
    );
    assert_eq!(i64_at(&output, 24), 0, "reading A");
    assert_eq!(i64_at(&output, 32), 2, "C, once A is read");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_allow_list_is_checked_before_the_input() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    // An input over the payload limit to an IOmod the function does not declare: refused as forbidden,
    // without being read.
    let config = FunctionConfig {
        max_payload_bytes: 64 * 1024,
        ..FunctionConfig::default()
    };
    let module = one_call("example.test.echo.echo", 0, 100_000);
    let function = host.load(module.as_bytes(), config).unwrap();
    let output = function.run(&registry, Vec::new()).await.unwrap();
    let err = proxy_outcome(&output).unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err}");

    // Nor is the contract of such a call read (here, one over the contract size limit).
    let path = "example.test.echo.echo@0123456789abcdef";
    let module = format!(
        r#"(module (import "iomod" "call_start_contract" (func $start_contract (param i32 i32 i32 i32 i32 i32) (result i64)))
  {IMPORTS}
  (data (i32.const 64) "{path}")
  (func (export "iomod_main") (param i32 i32) (result i64)
    (local $id i64) (local $st i64) (local $n i32)
    (local.set $id (call $start_contract (i32.const 64) (i32.const {path_len}) (i32.const 0) (i32.const {contract_len}) (i32.const 0) (i32.const 0)))
    (local.set $st (call $poll (local.get $id)))
    (i64.store (i32.const 131072) (local.get $st))
    (local.set $n (i32.wrap_i64 (i64.shr_u (local.get $st) (i64.const 1))))
    (drop (call $read (local.get $id) (i32.const 131080) (local.get $n)))
    (i64.or (i64.shl (i64.const 131072) (i64.const 32)) (i64.extend_i32_u (i32.add (local.get $n) (i32.const 8))))))"#,
        path_len = path.len(),
        contract_len = iomod_sdk::contract::MAX_CONTRACT_BYTES + 1,
    );
    let function = host
        .load(module.as_bytes(), FunctionConfig::default())
        .unwrap();
    let output = function.run(&registry, Vec::new()).await.unwrap();
    let err = proxy_outcome(&output).unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_larger_than_the_payload_limit_is_a_typed_error() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    // The echo IOmod's method error carries the name it is given and a message of its own: its result is
    // larger than its input.
    let call_input = echo_input(b"", 0, &"E".repeat(3000), false);
    let config = FunctionConfig {
        max_payload_bytes: call_input.len() + 32,
        ..allow_echo()
    };
    let function = host.load(proxy().as_bytes(), config.clone()).unwrap();
    let output = function
        .run(
            &registry,
            proxy_input("example.test.echo.echo", &call_input),
        )
        .await
        .unwrap();
    let err = proxy_outcome(&output).unwrap_err();
    assert_eq!(err.code, ErrorCode::TooLarge, "{err}");
    assert!(
        err.message.contains(&format!(
            "the function's limit is {} bytes",
            config.max_payload_bytes
        )),
        "{err}"
    );
    // Within the limit, the same call gives the method's error.
    let function = host
        .load(
            proxy().as_bytes(),
            FunctionConfig {
                max_payload_bytes: call_input.len() + 1024,
                ..allow_echo()
            },
        )
        .unwrap();
    let output = function
        .run(
            &registry,
            proxy_input("example.test.echo.echo", &call_input),
        )
        .await
        .unwrap();
    let err = echo_output(&proxy_outcome(&output).unwrap()).unwrap_err();
    assert_eq!(err.name, "E".repeat(3000));
}

#[test]
fn modules_with_several_memories_or_64_bit_addresses_are_refused() {
    let host = Host::new().unwrap();
    let main = r#"(func (export "iomod_main") (param i32 i32) (result i64) (i64.const 0))"#;
    let two = format!(r#"(module {IMPORTS} (memory $second 1) {main})"#);
    let err = host
        .load(two.as_bytes(), FunctionConfig::default())
        .unwrap_err();
    assert!(matches!(err, RunError::InvalidModule(_)), "{err:?}");
    assert!(err.to_string().contains("one memory"), "{err}");
    let wide = format!(
        r#"(module {} {main})"#,
        IMPORTS.replace(
            "(memory (export \"memory\") 4)",
            "(memory (export \"memory\") i64 4)"
        )
    );
    let err = host
        .load(wide.as_bytes(), FunctionConfig::default())
        .unwrap_err();
    assert!(matches!(err, RunError::InvalidModule(_)), "{err:?}");
    assert!(err.to_string().contains("32-bit addresses"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_beyond_the_limits_are_refused() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    // table.grow past the limit returns -1 to the guest.
    let grow = format!(
        r#"(module {IMPORTS} (table $t 1 funcref) (func (export "iomod_main") (param i32 i32) (result i64)
          (i32.store (i32.const 2048) (table.grow $t (ref.null func) (i32.const 100000)))
          (i32.store (i32.const 2052) (table.grow $t (ref.null func) (i32.const 99)))
          (i64.const 8796093022216)))"#
    );
    let function = host
        .load(grow.as_bytes(), FunctionConfig::default())
        .unwrap();
    let output = function.run(&registry, Vec::new()).await.unwrap();
    assert_eq!(
        i32::from_le_bytes(output[..4].try_into().unwrap()),
        -1,
        "growing to 100,001 elements"
    );
    assert_eq!(
        i32::from_le_bytes(output[4..8].try_into().unwrap()),
        1,
        "growing to 100 elements"
    );
    let main = r#"(func (export "iomod_main") (param i32 i32) (result i64) (i64.const 0))"#;
    // A module that starts with a larger table, or with too many tables, does not run.
    for (tables, needle) in [
        ("(table 20000 funcref)", "table"),
        (
            "(table 1 funcref) (table 1 funcref) (table 1 funcref) (table 1 funcref) (table 1 funcref)",
            "table",
        ),
    ] {
        let module = format!(r#"(module {IMPORTS} {tables} {main})"#);
        let function = host
            .load(module.as_bytes(), FunctionConfig::default())
            .unwrap();
        match function.run(&registry, Vec::new()).await {
            Err(RunError::Trap(message)) => assert!(message.contains(needle), "{message}"),
            other => panic!("{tables}: {other:?}"),
        }
    }
    // The limit is the function's.
    let config = FunctionConfig {
        max_table_elements: 200_000,
        ..FunctionConfig::default()
    };
    let function = host.load(grow.as_bytes(), config).unwrap();
    let output = function.run(&registry, Vec::new()).await.unwrap();
    assert_eq!(i32::from_le_bytes(output[..4].try_into().unwrap()), 1);
}

/// A WASI guest whose `iomod_main` runs `body` with `$random` (`random_get`) imported and a memory of
/// `pages` pages.
fn wasi_random_guest(pages: u32, body: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (memory (export "memory") {pages})
  (func (export "iomod_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "iomod_main") (param i32 i32) (result i64) {body}))"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn random_get_fills_from_the_system_and_a_large_request_stays_within_the_budget() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    // Two requests of 64 bytes, then one past memory: outputs both errnos, both buffers and the third errno.
    let small = wasi_random_guest(
        1,
        r#"(i32.store (i32.const 2048) (call $random (i32.const 2060) (i32.const 64)))
           (i32.store (i32.const 2052) (call $random (i32.const 2124) (i32.const 64)))
           (i32.store (i32.const 2056) (call $random (i32.const 65500) (i32.const 64)))
           (i64.const 8796093022348)"#,
    );
    let function = host
        .load(small.as_bytes(), FunctionConfig::default())
        .unwrap();
    let output = function.run(&registry, Vec::new()).await.unwrap();
    assert_eq!(output.len(), 140);
    let errno = |at: usize| i32::from_le_bytes(output[at..at + 4].try_into().unwrap());
    assert_eq!((errno(0), errno(4)), (0, 0));
    assert_eq!(errno(8), 21, "EFAULT past memory");
    let (first, second) = (&output[12..76], &output[76..140]);
    assert_ne!(first, second);
    assert!(first.iter().any(|&b| b != 0) && second.iter().any(|&b| b != 0));

    // One request of 32 MiB is filled a chunk at a time, and the run's time budget (1 ms) stops it
    // between two chunks instead of after the whole request.
    let large = wasi_random_guest(
        600,
        r#"(drop (call $random (i32.const 65536) (i32.const 33554432))) (i64.const 0)"#,
    );
    let config = FunctionConfig {
        time_budget: Duration::from_millis(1),
        ..FunctionConfig::default()
    };
    let function = host.load(large.as_bytes(), config).unwrap();
    let result = function.run(&registry, Vec::new()).await;
    assert!(matches!(result, Err(RunError::TimeBudget(_))), "{result:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_ends_its_run_with_fail() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    for (ptr, len, expected) in [
        (64, 17, "the function failed: nothing to wake"),
        (
            262_140,
            100,
            "the function failed: (its message, 100 bytes at 262140, lies outside its memory)",
        ),
    ] {
        let module = format!(
            r#"(module (import "iomod" "fail" (func $fail (param i32 i32))) {IMPORTS}
  (data (i32.const 64) "nothing to wake\f0\9f")
  (func (export "iomod_main") (param i32 i32) (result i64)
    (call $fail (i32.const {ptr}) (i32.const {len}))
    (i64.const 0)))"#
        );
        let function = host
            .load(module.as_bytes(), FunctionConfig::default())
            .unwrap();
        let err = function.run(&registry, Vec::new()).await.unwrap_err();
        assert!(matches!(err, RunError::Failed(_)), "{err:?}");
        assert_eq!(err.to_string().replace('\u{FFFD}', ""), expected);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn proc_exit_ends_the_run_without_a_result_and_is_not_a_trap() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    for (code, text, expected) in [
        (
            0,
            "",
            "the function exited with code 0 before returning a result".to_owned(),
        ),
        (
            3,
            "bad input",
            "the function exited with code 3 before returning a result; it wrote: bad input"
                .to_owned(),
        ),
    ] {
        // Writes `text` to standard error, then exits with `code`.
        let module = format!(
            r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 256) "{text}")
  (func (export "iomod_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "iomod_main") (param i32 i32) (result i64)
    (i32.store (i32.const 64) (i32.const 256))
    (i32.store (i32.const 68) (i32.const {len}))
    (drop (call $write (i32.const 2) (i32.const 64) (i32.const 1) (i32.const 72)))
    (call $exit (i32.const {code}))
    (i64.const 0)))"#,
            len = text.len()
        );
        let function = host
            .load(module.as_bytes(), FunctionConfig::default())
            .unwrap();
        let err = function.run(&registry, Vec::new()).await.unwrap_err();
        assert!(
            matches!(&err, RunError::Exited { code: c, .. } if *c == code),
            "{err:?}"
        );
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn imports_with_the_wrong_signature_are_refused_when_loaded() {
    let host = Host::new().unwrap();
    let exports = r#"(memory (export "memory") 1)
        (func (export "iomod_alloc") (param i32) (result i32) (i32.const 0))
        (func (export "iomod_main") (param i32 i32) (result i64) (i64.const 0))"#;
    for (import, name, host_type, found) in [
        (
            r#"(import "iomod" "wait" (func (param i32) (result i64)))"#,
            "iomod::wait",
            "(func (result i64))",
            "`(func (param i32) (result i64))`",
        ),
        (
            r#"(import "iomod" "call_poll" (func (param i32) (result i64)))"#,
            "iomod::call_poll",
            "(func (param i64) (result i64))",
            "`(func (param i32) (result i64))`",
        ),
        (
            r#"(import "wasi_snapshot_preview1" "random_get" (func (param i32 i32)))"#,
            "wasi_snapshot_preview1::random_get",
            "(func (param i32 i32) (result i32))",
            "`(func (param i32 i32))`",
        ),
        (
            r#"(import "iomod" "call_read" (global i32))"#,
            "iomod::call_read",
            "(func (param i64 i32 i32) (result i32))",
            "a global",
        ),
    ] {
        let module = format!("(module {import} {exports})");
        let err = host
            .load(module.as_bytes(), FunctionConfig::default())
            .unwrap_err();
        assert!(matches!(err, RunError::InvalidModule(_)), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "it imports `{name}` as {found}, but this host provides `{host_type}`"
            )),
            "{message}"
        );
    }
    // The function's exports are checked the same way.
    let main = r#"(func (export "iomod_main") (param i32 i32) (result i64) (i64.const 0))"#;
    for (exports, expected) in [
        (
            r#"(memory (export "memory") 1) (func (export "iomod_alloc") (param i64) (result i32) (i32.const 0))"#
                .to_owned()
                + main,
            "it exports `iomod_alloc` as `(func (param i64) (result i32))`, but a function exports it as \
             `(func (param i32) (result i32))`",
        ),
        (
            r#"(memory (export "memory") 1) (func (export "iomod_alloc") (param i32) (result i32) (i32.const 0))
               (func (export "iomod_main") (param i32 i32) (result i32) (i32.const 0))"#
                .to_owned(),
            "it exports `iomod_main` as `(func (param i32 i32) (result i32))`, but a function exports it \
             as `(func (param i32 i32) (result i64))`",
        ),
        (
            r#"(global (export "memory") i32 (i32.const 0)) (memory 1)
               (func (export "iomod_alloc") (param i32) (result i32) (i32.const 0))"#
                .to_owned()
                + main,
            "it exports `memory` as a global, but a function exports it as a memory",
        ),
    ] {
        let err = host
            .load(format!("(module {exports})").as_bytes(), FunctionConfig::default())
            .unwrap_err();
        assert!(matches!(err, RunError::InvalidModule(_)), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

/// Input `[u32 n][u32 path length][path][call input]`: starts that call `n` times, giving each up with
/// `call_forget` at once, then makes it once more and reads it. Outputs `[i64 the first call_start or
/// call_forget error, else 0][i64 wait's answer after forgetting][i64 status][result]`.
fn forgetter() -> String {
    format!(
        r#"(module
  (import "iomod" "call_forget" (func $forget (param i64) (result i32)))
  {IMPORTS}
  (func (export "iomod_main") (param $ptr i32) (param $len i32) (result i64)
    (local $n i32) (local $plen i32) (local $id i64) (local $st i64) (local $size i32) (local $i i32)
    (local $in i32) (local $inlen i32)
    (local.set $n (i32.load (local.get $ptr)))
    (local.set $plen (i32.load (i32.add (local.get $ptr) (i32.const 4))))
    (local.set $in (i32.add (i32.add (local.get $ptr) (i32.const 8)) (local.get $plen)))
    (local.set $inlen (i32.sub (i32.sub (local.get $len) (i32.const 8)) (local.get $plen)))
    (i64.store (i32.const 131056) (i64.const 0))
    (block $started
      (loop $more
        (br_if $started (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $id (call $start (i32.add (local.get $ptr) (i32.const 8)) (local.get $plen)
          (local.get $in) (local.get $inlen)))
        (if (i64.lt_s (local.get $id) (i64.const 0))
          (then (i64.store (i32.const 131056) (local.get $id)) (br $started)))
        (if (i32.ne (call $forget (local.get $id)) (i32.const 0))
          (then (i64.store (i32.const 131056) (i64.const -100)) (br $started)))
        (if (i32.ne (call $forget (local.get $id)) (i32.const -2))
          (then (i64.store (i32.const 131056) (i64.const -101)) (br $started)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (i64.store (i32.const 131064) (call $wait))
    (local.set $id (call $start (i32.add (local.get $ptr) (i32.const 8)) (local.get $plen)
      (local.get $in) (local.get $inlen)))
    (block $done
      (loop $again
        (local.set $st (call $poll (local.get $id)))
        (br_if $done (i64.ne (local.get $st) (i64.const -1)))
        (drop (call $wait))
        (br $again)))
    (i64.store (i32.const 131072) (local.get $st))
    (local.set $size (i32.wrap_i64 (i64.shr_u (local.get $st) (i64.const 1))))
    (drop (call $read (local.get $id) (i32.const 131080) (local.get $size)))
    (i64.or (i64.shl (i64.const 131056) (i64.const 32))
      (i64.extend_i32_u (i32.add (local.get $size) (i32.const 24))))))"#
    )
}

/// Counts the calls an observer is told of, by outcome.
#[derive(Default)]
struct Counted {
    started: std::sync::atomic::AtomicUsize,
    finished: std::sync::Mutex<Vec<&'static str>>,
}

impl iomod::host::CallObserver for Counted {
    fn call_started(&self, _path: &str) {
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn call_finished(&self, _path: &str, outcome: iomod::host::CallOutcome, _elapsed: Duration) {
        self.finished.lock().unwrap().push(outcome.as_str());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forgotten_calls_are_cancelled_and_stop_counting_against_the_limits() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    let config = FunctionConfig {
        max_pending_calls: 16,
        ..allow_echo()
    };
    let function = host.load(forgetter().as_bytes(), config).unwrap();
    let observer = std::sync::Arc::new(Counted::default());
    // 200 calls given up while in flight (the echo IOmod would take 3 s over each), then one read: far
    // more than the 16 pending calls the function may have, had the forgotten ones still counted.
    let path = "example.test.echo.echo";
    let mut input = 200u32.to_le_bytes().to_vec();
    input.extend_from_slice(&proxy_input(path, &echo_input(b"slow", 3_000, "", false)));
    let options = iomod::host::RunOptions {
        observer: Some(observer.clone()),
        ..Default::default()
    };
    let started = Instant::now();
    let function_ = function.clone();
    let output = registry
        .run_local(move |local| async move { function_.run_local(local, input, options).await })
        .await
        .unwrap()
        .unwrap();
    let word = |i: usize| i64::from_le_bytes(output[i * 8..i * 8 + 8].try_into().unwrap());
    assert_eq!(word(0), 0, "call_start or call_forget failed");
    assert_eq!(
        word(1),
        -1,
        "wait reports no call in flight once all are forgotten"
    );
    // The last call was read: the echo IOmod answered it after its 3 s, so the run took that long, not
    // 201 times 3 s: the forgotten calls were not waited for.
    assert!(started.elapsed() < Duration::from_secs(60));
    let (status, body) = (word(2), output[24..].to_vec());
    assert!(status >= 0 && status & 1 == 0, "status {status}");
    assert_eq!(echo_output(&body).unwrap(), b"slow");
    // Forgotten before the registry thread ran them, most never reach the registry; every call the
    // observer saw start, it sees end.
    let started = observer.started.load(std::sync::atomic::Ordering::Relaxed);
    let finished = observer.finished.lock().unwrap().clone();
    assert_eq!(finished.len(), started, "every call's end is reported once");
    assert_eq!(finished.iter().filter(|o| **o == "ok").count(), 1);
    assert_eq!(
        finished.iter().filter(|o| **o == "cancelled").count(),
        started - 1
    );
    assert_eq!(
        registry.list().await.unwrap()[0].calls_started as usize,
        started
    );
}

/// Input `[u32 path length][u32 slow input length][path][slow input][fast input]`: the guest starts a
/// slow call and a fast one, waits for the fast one to finish (by then the slow one is in flight) and
/// returns without reading either.
fn abandoning() -> String {
    format!(
        r#"(module {IMPORTS}
  (func (export "iomod_main") (param $ptr i32) (param $len i32) (result i64)
    (local $plen i32) (local $slen i32) (local $path i32) (local $slow i32) (local $fast i32)
    (local.set $plen (i32.load (local.get $ptr)))
    (local.set $slen (i32.load (i32.add (local.get $ptr) (i32.const 4))))
    (local.set $path (i32.add (local.get $ptr) (i32.const 8)))
    (local.set $slow (i32.add (local.get $path) (local.get $plen)))
    (local.set $fast (i32.add (local.get $slow) (local.get $slen)))
    (drop (call $start (local.get $path) (local.get $plen) (local.get $slow) (local.get $slen)))
    (drop (call $start (local.get $path) (local.get $plen) (local.get $fast)
      (i32.sub (i32.add (local.get $ptr) (local.get $len)) (local.get $fast))))
    (drop (call $wait))
    (i64.const 0)))"#
    )
}

/// The input of [`abandoning`]: its slow call takes `slow_ms`.
fn abandoning_input(slow_ms: u32) -> Vec<u8> {
    let path = b"example.test.echo.echo";
    let slow = echo_input(b"slow", slow_ms, "", false);
    let mut input = (path.len() as u32).to_le_bytes().to_vec();
    input.extend_from_slice(&(slow.len() as u32).to_le_bytes());
    input.extend_from_slice(path);
    input.extend_from_slice(&slow);
    input.extend_from_slice(&echo_input(b"fast", 0, "", false));
    input
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_cut_off_by_the_end_of_their_run_leave_nothing_behind_in_the_iomod() {
    let dir = TempDir::new();
    let (registry, echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    let function = host.load(abandoning().as_bytes(), allow_echo()).unwrap();
    // Each run leaves a call in flight (the echo IOmod answers it after 20 ms). Dropped at once, such a
    // call stayed in the IOmod's answer table and the registry's question table for as long as the
    // connection lasted (capnp-rpc 0.27 forgets a call finished before it returned only once it
    // returns); the registry now keeps it until the IOmod answers.
    let runs = |n: usize| {
        let (function, registry) = (&function, &registry);
        async move {
            for _ in 0..n / 16 {
                let batch = (0..16).map(|_| function.run(registry, abandoning_input(20)));
                for output in futures::future::join_all(batch).await {
                    output.unwrap();
                }
            }
        }
    };
    runs(2_000).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let warm = rss_kib(echo.pid());
    runs(12_000).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss_kib(echo.pid());
    let bound = (warm + warm / 10).max(warm + 1024);
    assert!(
        after <= bound,
        "the echo IOmod grew from {warm} KiB to {after} KiB over 12,000 abandoned calls (bound {bound} KiB)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_still_in_flight_when_a_run_ends_are_reported_cancelled() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    let function = host.load(abandoning().as_bytes(), allow_echo()).unwrap();
    let input = abandoning_input(10_000);
    let observer = std::sync::Arc::new(Counted::default());
    let options = iomod::host::RunOptions {
        observer: Some(observer.clone()),
        ..Default::default()
    };
    let function_ = function.clone();
    registry
        .run_local(move |local| async move { function_.run_local(local, input, options).await })
        .await
        .unwrap()
        .unwrap();
    // An observer that counts calls in flight (the `iomod_calls_in_flight` gauge) comes back to zero.
    eventually(
        Duration::from_secs(5),
        "both calls' ends are reported",
        || observer.finished.lock().unwrap().len() == 2,
    )
    .await;
    assert_eq!(
        observer.started.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert_eq!(*observer.finished.lock().unwrap(), ["ok", "cancelled"]);
}
