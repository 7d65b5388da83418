//! A real wasm function (Rust, `tests/functions/bank`), built by this test for `wasm32-unknown-unknown` and
//! `wasm32-wasip1` against the generated guest crate of `example.test.bank`, run by the wasm host; its calls
//! go through the registry to the bank IOmod served by the SDK.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use iomod::host::{FunctionConfig, Host, RunError};
use iomod::registry::{Registry, RegistryConfig};
use iomod_codegen::{Manifest, Options, generate, write_if_changed};
use iomod_fixtures_host::TestBank;
use iomod_fixtures_host::fixture_errors::bank;
use iomod_sdk::ServeOptions;
use iomod_sdk::transport::RegistryAddress;

const TARGETS: [&str; 2] = ["wasm32-unknown-unknown", "wasm32-wasip1"];

/// Builds the bank function for both targets once, against the current manifest and against an older one
/// whose `Account` had another field; returns the `.wasm` files: `[current; 2]` then `[older; 2]`.
fn function_modules() -> &'static [PathBuf; 4] {
    static BUILT: OnceLock<[PathBuf; 4]> = OnceLock::new();
    BUILT.get_or_init(|| {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = here.join("../../target/wasm-functions");
        let sdk = here.join("../../iomod-sdk").canonicalize().unwrap();
        let source = here.join("../functions/bank/src/lib.rs").canonicalize().unwrap();
        let text = std::fs::read_to_string(here.join("../../iomod-codegen/tests/fixtures/errors/iomod.toml")).unwrap();
        let options = Options {
            guest_sdk_dependency: format!("{{ path = {:?} }}", sdk.display().to_string()),
            ..Options::default()
        };
        let older = text.replace("fields.balance = \"i64\"\n\n[errors", "fields.balance = \"i64\"\nfields.currency = \"string\"\n\n[errors");
        assert_ne!(older, text);
        for (dir, manifest) in [("bank-guest", &text), ("bank-guest-old", &older)] {
            for (path, contents) in generate(&Manifest::parse("bank", manifest).unwrap(), &options).unwrap() {
                if let Ok(rest) = path.strip_prefix("guest") {
                    let contents = if dir.ends_with("-old") { contents.replace("name = \"bank-guest\"", "name = \"bank-guest-old\"") } else { contents };
                    write_if_changed(&root.join(dir).join(rest), &contents).unwrap();
                }
            }
        }
        for (crate_name, guest) in [("bank-function", "bank-guest"), ("bank-function-old", "bank-guest-old")] {
            let function = format!(
                "[package]\nname = \"{crate_name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\npath = {:?}\n\n[dependencies]\nbank-guest = {{ path = \"../{guest}\", package = \"{guest}\" }}\niomod-sdk = {{ path = {:?} }}\n",
                source.display().to_string(),
                sdk.display().to_string()
            );
            write_if_changed(&root.join(crate_name).join("Cargo.toml"), &function).unwrap();
        }
        let workspace = "[workspace]\nresolver = \"3\"\nmembers = [\"bank-guest\", \"bank-guest-old\", \"bank-function\", \"bank-function-old\"]\n\n[profile.release]\nopt-level = \"s\"\nlto = true\nstrip = true\n";
        write_if_changed(&root.join("Cargo.toml"), workspace).unwrap();
        let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        command.args(["build", "--release", "--workspace"]).arg("--manifest-path").arg(root.join("Cargo.toml"));
        for target in TARGETS {
            command.args(["--target", target]);
        }
        let output = command.arg("--target-dir").arg(root.join("target")).env_remove("RUSTFLAGS").output().unwrap();
        assert!(output.status.success(), "building the function failed:\n{}", String::from_utf8_lossy(&output.stderr));
        let wasm = |target: &str, name: &str| root.join("target").join(target).join("release").join(format!("{name}.wasm"));
        [
            wasm(TARGETS[0], "bank_function"),
            wasm(TARGETS[1], "bank_function"),
            wasm(TARGETS[0], "bank_function_old"),
            wasm(TARGETS[1], "bank_function_old"),
        ]
    })
}

async fn start() -> (Registry, tokio::sync::oneshot::Sender<()>, PathBuf) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("iomod-functions-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("registry.sock");
    let registry = Registry::start(RegistryConfig::unix(&socket))
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(iomod_sdk::serve_with(
        bank::service(TestBank::default()),
        ServeOptions::new(RegistryAddress::Unix(socket)),
        async {
            let _ = stopped.await;
        },
    ));
    registry
        .wait_ready(
            &["example.test.bank".parse().unwrap()],
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    (registry, stop, dir)
}

fn allow_bank() -> FunctionConfig {
    FunctionConfig {
        allow: vec!["example.test.bank".parse().unwrap()],
        ..FunctionConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rust_function_calls_the_bank_through_its_generated_guest_crate() {
    let modules = tokio::task::spawn_blocking(function_modules).await.unwrap();
    let host = Host::new().unwrap();
    for (target, module) in TARGETS.iter().zip(&modules[..2]) {
        let (registry, _stop, dir) = start().await;
        let function = host
            .load(&std::fs::read(module).unwrap(), allow_bank())
            .unwrap();
        let script = "open alice\nwithdraw alice 30\nwithdraw alice 500\nwithdraw bob 1\nopen frozen-x\nwithdraw frozen-x 1\nclose alice\nburst 100\n";
        let output = function
            .run(&registry, script.as_bytes().to_vec())
            .await
            .unwrap();
        let output = String::from_utf8(output).unwrap();
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(
            lines[..6],
            [
                "opened alice 100",
                "balance 70",
                "insufficient 70 < 500",
                "not-found bob",
                "opened frozen-x 100",
                "frozen"
            ],
            "{target}"
        );
        assert!(
            lines[6].starts_with(
                "error internal: method `close` of example.test.bank is not implemented"
            ),
            "{target}: {}",
            lines[6]
        );
        assert_eq!(
            lines[7], "burst 100",
            "{target}: 100 calls in flight from one function"
        );

        // Not on the allow-list: the guest sees a typed `forbidden` error, and the IOmod sees nothing.
        let denied = host
            .load(&std::fs::read(module).unwrap(), FunctionConfig::default())
            .unwrap();
        let output = String::from_utf8(
            denied
                .run(&registry, b"open mallory\n".to_vec())
                .await
                .unwrap(),
        )
        .unwrap();
        assert!(
            output.starts_with("error forbidden: this function may not call `example.test.bank`"),
            "{target}: {output}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_built_against_an_older_manifest_gets_incompatible() {
    let modules = tokio::task::spawn_blocking(function_modules).await.unwrap();
    let host = Host::new().unwrap();
    for (target, module) in TARGETS.iter().zip(&modules[2..]) {
        let (registry, _stop, dir) = start().await;
        let function = host
            .load(&std::fs::read(module).unwrap(), allow_bank())
            .unwrap();
        let output = String::from_utf8(
            function
                .run(&registry, b"open alice\n".to_vec())
                .await
                .unwrap(),
        )
        .unwrap();
        // The older manifest's `Account` had a third field: the IOmod's lacks it, a removal.
        assert!(
            output.starts_with(
                "error incompatible: example.test.bank: `open` of the caller (built for version 2.0.0-beta.1) \
                 and of the IOmod (version 2.0.0-beta.1) are not compatible: field `currency` of `Account` \
                 (ordinal 2) was removed"
            ),
            "{target}: {output}"
        );
        assert!(
            output.contains("Rebuild the function with the guest crate of the IOmod's manifest"),
            "{target}: {output}"
        );
        // Nothing reached the IOmod.
        assert_eq!(registry.list().await.unwrap()[0].calls_started, 0);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn futures_that_wake_themselves_run_and_a_stalled_function_fails_clearly() {
    let modules = tokio::task::spawn_blocking(function_modules).await.unwrap();
    let host = Host::new().unwrap();
    for (target, module) in TARGETS.iter().zip(&modules[..2]) {
        let (registry, _stop, dir) = start().await;
        let function = host
            .load(&std::fs::read(module).unwrap(), allow_bank())
            .unwrap();
        // Woken while polled, with no call in flight (a yield, a channel between two branches of a join),
        // and with one.
        let output = function
            .run(
                &registry,
                b"yield 3\nchannel\nyield-during carol\n".to_vec(),
            )
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(output).unwrap(),
            "yielded 3\nreceived 42\nopened carol while yielding\n",
            "{target}"
        );
        // Calls dropped while in flight are given up (`call_forget`): 1,500 of them, more than the 1,024
        // calls the function may have pending, do not stop the next one.
        let output = function
            .run(&registry, b"abandon 1500 dave\n".to_vec())
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(output).unwrap(),
            "abandoned 1500, opened dave\n",
            "{target}"
        );
        // Waiting for what nothing wakes is an error that says so.
        match function.run(&registry, b"stall\n".to_vec()).await {
            Err(RunError::Failed(message)) => assert!(
                message.contains("nothing can wake it")
                    && message.contains("no IOmod call is in flight"),
                "{target}: {message}"
            ),
            other => panic!("{target}: {other:?}"),
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
