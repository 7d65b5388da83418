//! Isolation between a function and the IOmods it did not declare, and between invocations: crafted method
//! paths never reach an IOmod outside the allow-list; an invocation never sees another's memory, globals or
//! IOmod results, whether the runs follow each other on a reused instance slot or run at the same time.
//! Real guests (WebAssembly text in wasmtime), a real registry and the echo IOmod as a separate process.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use iomod::host::{FunctionConfig, Host};
use iomod_sdk::ErrorCode;

/// Paths a function allowed to call only `example.test.allowed` might try, to reach the echo IOmod
/// (`example.test.echo`): other case, empty and extra parts, `..`, separators, Unicode look-alikes of the
/// letters and of the dot, invisible characters, control characters, and tricks with the `@fingerprint`
/// suffix (the host and the registry both cut the path at its first `@`).
fn crafted_paths() -> Vec<String> {
    let mut paths: Vec<String> = [
        // The path itself.
        "example.test.echo.echo",
        "example.test.echo.reverse",
        // Other case.
        "EXAMPLE.TEST.ECHO.ECHO",
        "Example.test.echo.echo",
        "example.test.Echo.echo",
        "example.test.ECHO.echo",
        // Empty and extra parts, extra dots.
        "example.test.echo..echo",
        "example..test.echo.echo",
        ".example.test.echo.echo",
        "example.test.echo.echo.",
        "example.test.echo.",
        "..example.test.echo.echo",
        "example.test.allowed.echo.echo",
        "example.test.allowed..echo",
        "example.test.allowed.example.test.echo.echo",
        "example.test.echo",
        "example.test.echo.echo.echo",
        // Path traversal and other separators.
        "example.test.allowed/../echo.echo",
        "example.test.allowed.../echo.echo",
        "example.test/../test.echo.echo",
        "../example.test.echo.echo",
        "example/test/echo/echo",
        "example.test.echo/echo",
        "example:test:echo.echo",
        "example.test.echo%2eecho",
        "example%2etest%2eecho.echo",
        "example.test.echo\\echo",
        // Unicode look-alikes: Cyrillic `е` and `с`, Greek `ο`, the fullwidth and one-dot-leader dots, the
        // fullwidth letters.
        "example.test.\u{0435}cho.echo",
        "example.test.e\u{0441}ho.echo",
        "example.test.ech\u{03bf}.echo",
        "example.test.echo\u{ff0e}echo",
        "example\u{2024}test\u{2024}echo.echo",
        "\u{ff45}xample.test.echo.echo",
        // Invisible and control characters.
        "example.test.echo\u{200b}.echo",
        "example.test.\u{200d}echo.echo",
        "\u{feff}example.test.echo.echo",
        "example.test.echo.echo\u{0}",
        "example.test.allowed.echo\u{0}example.test.echo.echo",
        "example.test.echo.echo\n",
        " example.test.echo.echo",
        "example.test.echo.echo ",
        "example.test.echo.echo\t",
        "example.test.echo.\u{0130}cho",
        // The fingerprint suffix.
        "example.test.echo.echo@",
        "example.test.echo.echo@example.test.allowed.echo",
        "example.test.allowed@example.test.echo.echo",
        "@example.test.echo.echo",
        "example.test.allowed.echo@@example.test.echo.echo",
        "example.test.echo@allowed.echo",
        "example.test.echo.echo@sha256:0000",
        // Empty.
        "",
        ".",
        "...",
        "@",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    // Very long: identifiers over their limit, and a path over the host's.
    paths.push(format!("example.test.echo.echo{}", "o".repeat(70)));
    paths.push(format!("example.test.{}.echo", "e".repeat(70)));
    paths.push(format!("example.test.echo.echo@{}", "f".repeat(2000)));
    paths
}

#[tokio::test(flavor = "multi_thread")]
async fn crafted_paths_never_reach_an_iomod_outside_the_allow_list() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    let allowed = FunctionConfig {
        allow: vec!["example.test.allowed".parse().unwrap()],
        ..FunctionConfig::default()
    };
    let function = host.load(proxy().as_bytes(), allowed).unwrap();
    let input = echo_input(b"secret", 0, "", false);

    let mut refused = 0;
    for path in crafted_paths() {
        let output = function
            .run(&registry, proxy_input(&path, &input))
            .await
            .unwrap();
        let status = i64::from_le_bytes(output[..8].try_into().unwrap());
        if status < 0 {
            // `call_start` refused the path itself (longer than the host reads).
            assert!(path.len() > 1024, "{path:?}: call_start returned {status}");
        } else {
            let err = proxy_outcome(&output).expect_err(&path);
            // Refused, or sent to the declared IOmod (which is not running).
            let to_allowed = err.code == ErrorCode::Unavailable
                && err.message.contains("`example.test.allowed`");
            assert!(
                matches!(err.code, ErrorCode::Forbidden | ErrorCode::InvalidInput) || to_allowed,
                "{path:?}: {err}"
            );
        }
        refused += 1;
    }
    let echo = &registry.list().await.unwrap()[0];
    assert_eq!(echo.info.coordinates.as_str(), "example.test.echo");
    assert_eq!(
        echo.calls_started, 0,
        "no crafted path reached the echo IOmod"
    );

    // The same guest reaches the echo IOmod by its exact path once it declares it: the paths above were
    // refused for what they are, not because the guest cannot call.
    let declared = FunctionConfig {
        allow: vec![echo_coordinates()],
        ..FunctionConfig::default()
    };
    let function = host.load(proxy().as_bytes(), declared).unwrap();
    let output = function
        .run(&registry, proxy_input("example.test.echo.echo", &input))
        .await
        .unwrap();
    assert_eq!(
        echo_output(&proxy_outcome(&output).unwrap()).unwrap(),
        b"secret"
    );
    assert_eq!(registry.list().await.unwrap()[0].calls_started, 1);
    assert!(refused > 50, "{refused} crafted paths tried");
}

/// Input byte 0: `1` writes, `0` reads. Grows its memory by 16 pages. Writing fills every page past the
/// first with 0xA5 and sets a global; reading counts the bytes past the first page that are not zero.
/// Outputs `[u32 nonzero bytes][u32 global][u32 pages before growing]`.
const SNOOP: &str = r#"(module
  (memory (export "memory") 1)
  (global $mark (mut i32) (i32.const 0))
  (func (export "iomod_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "iomod_main") (param $ptr i32) (param $len i32) (result i64)
    (local $before i32) (local $end i32) (local $at i32) (local $nonzero i32)
    (local.set $before (memory.grow (i32.const 16)))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.eq (i32.load8_u (local.get $ptr)) (i32.const 1))
      (then
        (memory.fill (i32.const 65536) (i32.const 0xa5) (i32.sub (local.get $end) (i32.const 65536)))
        (global.set $mark (i32.const 0x5ec2e7)))
      (else
        (local.set $at (i32.const 65536))
        (block $done
          (loop $scan
            (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
            (if (i64.ne (i64.load (local.get $at)) (i64.const 0))
              (then (local.set $nonzero (i32.add (local.get $nonzero) (i32.const 1)))))
            (local.set $at (i32.add (local.get $at) (i32.const 8)))
            (br $scan)))))
    (i32.store (i32.const 2048) (local.get $nonzero))
    (i32.store (i32.const 2052) (global.get $mark))
    (i32.store (i32.const 2056) (local.get $before))
    (i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.const 12))))"#;

fn snoop_output(output: &[u8]) -> (u32, u32, u32) {
    let word = |i: usize| u32::from_le_bytes(output[i * 4..i * 4 + 4].try_into().unwrap());
    (word(0), word(1), word(2))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_never_sees_the_memory_or_globals_of_another() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    let function = host
        .load(SNOOP.as_bytes(), FunctionConfig::default())
        .unwrap();

    // One after the other: each run gets the instance slot (and memory) the previous one used.
    for round in 0..20 {
        let written = function.run(&registry, vec![1]).await.unwrap();
        assert_eq!(snoop_output(&written).1, 0x5ec2e7);
        let read = snoop_output(&function.run(&registry, vec![0]).await.unwrap());
        assert_eq!(
            read,
            (0, 0, 1),
            "round {round}: (nonzero words past the first page, global, pages before growing)"
        );
    }
    // At the same time: writers and readers interleaved.
    let runs = (0..32).map(|i| {
        let function = &function;
        let registry = &registry;
        async move {
            let input = vec![u8::from(i % 2 == 0)];
            (
                i,
                snoop_output(&function.run(registry, input).await.unwrap()),
            )
        }
    });
    for (i, (nonzero, mark, before)) in futures::future::join_all(runs).await {
        assert_eq!(before, 1, "run {i}: the memory starts at its declared size");
        if i % 2 == 1 {
            assert_eq!((nonzero, mark), (0, 0), "reader {i} saw another run's data");
        }
    }
}

/// Input `[u32 path length][path][call input]`: starts that call, then tries to poll and read the calls
/// with ids 1 to 63, which it never started (another run's, if ids were shared), and waits for its own
/// (id 0). Outputs `[u32 foreign ids that answered anything but unknown][i64 own status][own result]`.
fn prober() -> String {
    format!(
        r#"(module {IMPORTS}
  (func (export "iomod_main") (param $ptr i32) (param $len i32) (result i64)
    (local $plen i32) (local $id i64) (local $st i64) (local $n i32) (local $other i64) (local $seen i32)
    (local.set $plen (i32.load (local.get $ptr)))
    (local.set $id (call $start
      (i32.add (local.get $ptr) (i32.const 4)) (local.get $plen)
      (i32.add (i32.add (local.get $ptr) (i32.const 4)) (local.get $plen))
      (i32.sub (i32.sub (local.get $len) (i32.const 4)) (local.get $plen))))
    (if (i64.ne (local.get $id) (i64.const 0)) (then unreachable))
    (local.set $other (i64.const 1))
    (block $probed
      (loop $probe
        (br_if $probed (i64.ge_u (local.get $other) (i64.const 64)))
        (if (i64.ne (call $poll (local.get $other)) (i64.const -2))
          (then (local.set $seen (i32.add (local.get $seen) (i32.const 1)))))
        (if (i32.ne (call $read (local.get $other) (i32.const 196608) (i32.const 8)) (i32.const -2))
          (then (local.set $seen (i32.add (local.get $seen) (i32.const 1)))))
        (local.set $other (i64.add (local.get $other) (i64.const 1)))
        (br $probe)))
    (block $done
      (loop $again
        (local.set $st (call $poll (local.get $id)))
        (br_if $done (i64.ne (local.get $st) (i64.const -1)))
        (drop (call $wait))
        (br $again)))
    (i32.store (i32.const 131068) (local.get $seen))
    (i64.store (i32.const 131072) (local.get $st))
    (local.set $n (i32.wrap_i64 (i64.shr_u (local.get $st) (i64.const 1))))
    (drop (call $read (local.get $id) (i32.const 131080) (local.get $n)))
    (i64.or (i64.shl (i64.const 131068) (i64.const 32)) (i64.extend_i32_u (i32.add (local.get $n) (i32.const 12))))))"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_invocations_never_see_each_others_iomod_results() {
    let dir = TempDir::new();
    let (registry, _echo) = registry_with_echo(&dir).await;
    let host = Host::new().unwrap();
    let config = FunctionConfig {
        allow: vec![echo_coordinates()],
        ..FunctionConfig::default()
    };
    let function = host.load(prober().as_bytes(), config).unwrap();
    // 48 runs at once, each with a payload of its own; the echo IOmod answers after a delay that varies, so
    // their calls are in flight together and finish in another order than they started.
    let runs = (0..48u32).map(|i| {
        let function = &function;
        let registry = &registry;
        async move {
            let payload = format!("run {i}: {}", "x".repeat(i as usize * 7));
            let input = proxy_input(
                "example.test.echo.echo",
                &echo_input(payload.as_bytes(), (i * 37) % 200, "", false),
            );
            let output = function.run(registry, input).await.unwrap();
            (payload, output)
        }
    });
    for (payload, output) in futures::future::join_all(runs).await {
        let seen = u32::from_le_bytes(output[..4].try_into().unwrap());
        assert_eq!(seen, 0, "{payload}: another run's call ids answered");
        let echoed = echo_output(&proxy_outcome(&output[4..]).unwrap()).unwrap();
        assert_eq!(String::from_utf8(echoed).unwrap(), payload);
    }
}
