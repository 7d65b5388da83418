//! The compatibility matrix, from real generated crates and processes: wasm functions built against the
//! guest crates of v1 and of v2 (`manifests/`) call, through the runtime's host and registry, the evolving
//! IOmod served as a process at v2 and at v1, and at each breaking version of `src/cases.rs`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use iomod::host::{FunctionConfig, Host};
use iomod::registry::{Registry, RegistryConfig};
use iomod_codegen::{Manifest, Options, generate, write_if_changed};
use iomod_evolution::cases::BREAKING;
use serde_json::{Value, json};

const TARGET: &str = "wasm32-unknown-unknown";

/// Builds the function twice, against v1's guest crate and against v2's; returns their `.wasm` files.
fn functions() -> &'static [PathBuf; 2] {
    static BUILT: OnceLock<[PathBuf; 2]> = OnceLock::new();
    BUILT.get_or_init(|| {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = here.join("../../target/evolution");
        let sdk = here.join("../../iomod-sdk").canonicalize().unwrap();
        let source = here.join("function/src/lib.rs").canonicalize().unwrap();
        let options = Options {
            guest_sdk_dependency: format!("{{ path = {:?} }}", sdk.display().to_string()),
            ..Options::default()
        };
        for version in ["v1", "v2"] {
            let text = std::fs::read_to_string(here.join(format!("manifests/{version}.toml"))).unwrap();
            let manifest = Manifest::parse(&format!("{version}.toml"), &text).unwrap();
            let guest = format!("evolving-guest-{version}");
            for (path, contents) in generate(&manifest, &options).unwrap() {
                if let Ok(rest) = path.strip_prefix("guest") {
                    let contents = contents.replace("name = \"evolving-guest\"", &format!("name = \"{guest}\""));
                    write_if_changed(&root.join(&guest).join(rest), &contents).unwrap();
                }
            }
            let features = if version == "v2" { "\n[features]\ndefault = [\"v2\"]\nv2 = []\n" } else { "\n[features]\nv2 = []\n" };
            let function = format!(
                "[package]\nname = \"evolving-function-{version}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\npath = {:?}\n\n[dependencies]\nevolving-guest = {{ path = \"../{guest}\", package = \"{guest}\" }}\niomod-sdk = {{ path = {:?} }}\nserde = \"1\"\nserde_json = \"1\"\n{features}",
                source.display().to_string(),
                sdk.display().to_string()
            );
            write_if_changed(&root.join(format!("evolving-function-{version}/Cargo.toml")), &function).unwrap();
        }
        let workspace = "[workspace]\nresolver = \"3\"\nmembers = [\"evolving-guest-v1\", \"evolving-guest-v2\", \"evolving-function-v1\", \"evolving-function-v2\"]\n\n[profile.release]\nopt-level = 1\n";
        write_if_changed(&root.join("Cargo.toml"), workspace).unwrap();
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--workspace", "--target", TARGET])
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(root.join("target"))
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap();
        assert!(output.status.success(), "building the functions failed:\n{}", String::from_utf8_lossy(&output.stderr));
        let wasm = |version: &str| root.join(format!("target/{TARGET}/release/evolving_function_{version}.wasm"));
        [wasm("v1"), wasm("v2")]
    })
}

/// A registry with one version of the evolving IOmod registered, served by its own process.
struct Served {
    registry: Registry,
    process: Child,
    dir: PathBuf,
}

impl Served {
    async fn start(version: &str) -> Served {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("iomod-evolution-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("registry.sock");
        let registry = Registry::start(RegistryConfig::unix(&socket))
            .await
            .unwrap();
        let process = Command::new(env!("CARGO_BIN_EXE_evolving-iomod"))
            .arg(version)
            .env("IOMOD_REGISTRY", &socket)
            .env("IOMOD_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let served = Served {
            registry,
            process,
            dir,
        };
        served
            .registry
            .wait_ready(
                &["example.test.evolving".parse().unwrap()],
                Duration::from_secs(20),
            )
            .await
            .unwrap_or_else(|e| panic!("version {version} did not register: {e}"));
        served
    }

    /// Runs the function built against `guest` (0: v1, 1: v2) with a call of `method`.
    async fn call(&self, guest: usize, method: &str, input: Value) -> Value {
        let module = tokio::task::spawn_blocking(functions).await.unwrap()[guest].clone();
        let config = FunctionConfig {
            allow: vec!["example.test.evolving".parse().unwrap()],
            ..FunctionConfig::default()
        };
        let function = host()
            .load(&std::fs::read(module).unwrap(), config)
            .unwrap();
        let request = json!({ "method": method, "input": input }).to_string();
        let output = function
            .run(&self.registry, request.into_bytes())
            .await
            .unwrap();
        serde_json::from_slice(&output).unwrap()
    }

    /// Calls that reached the IOmod.
    async fn calls_started(&self) -> u64 {
        self.registry.list().await.unwrap()[0].calls_started
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::new().unwrap())
}

const V1: usize = 0;
const V2: usize = 1;

/// The error of a failed call: its code and message.
fn failed(answer: &Value) -> (&str, &str) {
    let failed = &answer["err"]["Failed"];
    (
        failed["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not a failure: {answer}")),
        failed["message"].as_str().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_built_against_v1_calls_an_iomod_built_from_v2() {
    let served = Served::start("v2").await;
    // A new field at the end of the output (`tags`) is ignored; an option added to text (`id`) reads as the
    // text; a new input field (`verbose`) is not sent and reads as `None`.
    assert_eq!(
        served.call(V1, "get", json!({ "id": "a" })).await,
        json!({ "ok": { "id": "a", "count": 7 } })
    );
    assert_eq!(
        served.call(V1, "get", json!({ "id": "missing" })).await,
        json!({ "err": { "NotFound": { "id": "missing" } } })
    );
    // A named error v1 does not declare: `Failed` with code `method`.
    let answer = served.call(V1, "get", json!({ "id": "locked" })).await;
    let (code, message) = failed(&answer);
    assert_eq!(code, "method", "{answer}");
    assert!(
        message.contains("`get` failed with a named error (number 3 of its results)"),
        "{answer}"
    );
    // What both know passes both ways; renamed fields travel by ordinal.
    let painted = json!({ "shape": { "circle": 1.5 }, "color": "green", "status": "paused" });
    assert_eq!(
        served.call(V1, "paint", painted.clone()).await,
        json!({ "ok": painted })
    );
    assert_eq!(
        served.call(V1, "label", json!({ "name": "ada" })).await,
        json!({ "ok": { "name": "ADA" } })
    );
    // A union variant and a closed enum value v1 does not know: `incompatible`, saying so.
    for (radius, number) in [(98.0, 3), (97.0, 2)] {
        let answer = served
            .call(
                V1,
                "paint",
                json!({ "shape": { "circle": radius }, "color": "red", "status": "active" }),
            )
            .await;
        let (code, message) = failed(&answer);
        assert_eq!(code, "incompatible", "{answer}");
        assert!(
            message.contains(&format!("enum value or union variant (number {number})")),
            "{answer}"
        );
        assert!(message.contains("generated from version 1.0.0"), "{answer}");
    }
    // An open enum's new value: the value itself.
    let answer = served
        .call(
            V1,
            "paint",
            json!({ "shape": { "circle": 96.0 }, "color": "red", "status": "active" }),
        )
        .await;
    assert_eq!(answer["ok"]["status"], "archived", "{answer}");
    assert_eq!(served.calls_started().await, 8);
    // The registry lists the caller's version with its calls, per method.
    let status = &served.registry.list().await.unwrap()[0];
    assert_eq!(status.info.version, "1.1.0");
    let callers: Vec<_> = status
        .callers
        .iter()
        .map(|c| {
            (
                c.method.as_str(),
                c.version.as_str(),
                c.calls,
                c.refused.as_str(),
            )
        })
        .collect();
    assert_eq!(
        callers,
        [
            ("get", "1.0.0", 3, ""),
            ("label", "1.0.0", 1, ""),
            ("paint", "1.0.0", 4, "")
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_built_against_v2_calls_an_iomod_built_from_v1() {
    let served = Served::start("v1").await;
    // New output fields read as their defaults; the new input field is ignored.
    assert_eq!(
        served
            .call(V2, "get", json!({ "id": "a", "verbose": true }))
            .await,
        json!({ "ok": { "id": "a", "count": 7, "tags": [] } })
    );
    assert_eq!(
        served.call(V2, "get", json!({ "id": "missing" })).await,
        json!({ "err": { "NotFound": { "id": "missing" } } })
    );
    assert_eq!(
        served.call(V2, "label", json!({ "title": "ada" })).await,
        json!({ "ok": { "title": "ADA" } })
    );
    // A union variant or closed enum value v1 does not know: the IOmod answers `invalidInput`.
    for (painted, number) in [
        (
            json!({ "shape": { "square": 2.0 }, "color": "red", "status": "active" }),
            3,
        ),
        (
            json!({ "shape": { "circle": 2.0 }, "color": "blue", "status": "active" }),
            2,
        ),
    ] {
        let answer = served.call(V2, "paint", painted).await;
        let (code, message) = failed(&answer);
        assert_eq!(code, "invalidInput", "{answer}");
        let expected = format!(
            "enum value or union variant (number {number}) that this IOmod (version 1.0.0) does not know"
        );
        assert!(message.contains(&expected), "{answer}");
    }
    // An open enum's value v1 does not list comes back as it went.
    let painted = json!({ "shape": { "circle": 1.0 }, "color": "green", "status": "archived" });
    assert_eq!(
        served.call(V2, "paint", painted.clone()).await,
        json!({ "ok": painted })
    );
    // A new method: the older IOmod does not have it.
    let answer = served.call(V2, "ping", json!({ "text": "hi" })).await;
    let (code, message) = failed(&answer);
    assert_eq!(code, "incompatible", "{answer}");
    assert!(
        message.contains("has no method `ping`") && message.contains("built for version 1.1.0"),
        "{answer}"
    );
    assert_eq!(served.calls_started().await, 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn same_versions_work_as_before() {
    for (version, guest) in [("v1", V1), ("v2", V2)] {
        let served = Served::start(version).await;
        let answer = served.call(guest, "get", json!({ "id": "a" })).await;
        assert_eq!(answer["ok"]["count"], 7, "{version}: {answer}");
    }
    let served = Served::start("v2").await;
    assert_eq!(
        served
            .call(V2, "get", json!({ "id": "a", "verbose": true }))
            .await["ok"]["tags"],
        json!(["verbose"])
    );
    assert_eq!(
        served.call(V2, "ping", json!({ "text": "hi" })).await,
        json!({ "ok": { "pong": "hi" } })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_built_against_v1_gets_incompatible_from_each_breaking_version() {
    assert!(BREAKING.len() >= 10);
    for (name, _, _, method, expected) in BREAKING {
        let served = Served::start(name).await;
        let input = match *method {
            "paint" => json!({ "shape": { "circle": 1.0 }, "color": "green", "status": "paused" }),
            "label" => json!({ "name": "ada" }),
            _ => json!({ "id": "a" }),
        };
        let answer = served.call(V1, method, input).await;
        let (code, message) = failed(&answer);
        assert_eq!(code, "incompatible", "{name}: {answer}");
        assert!(message.contains(expected), "{name}: {answer}");
        assert!(message.contains("version 1.0.0"), "{name}: {answer}");
        if *name != "removed_method" {
            assert!(message.contains("(version 2.0.0)"), "{name}: {answer}");
        }
        // Refused before the IOmod ran anything, and listed with both versions and the reason.
        assert_eq!(served.calls_started().await, 0, "{name}");
        let status = &served.registry.list().await.unwrap()[0];
        if *name == "removed_method" {
            assert!(status.callers.is_empty(), "{name}: {:?}", status.callers);
        } else {
            let caller = &status.callers[0];
            assert_eq!(
                (
                    caller.method.as_str(),
                    caller.version.as_str(),
                    caller.calls
                ),
                (*method, "1.0.0", 1),
                "{name}"
            );
            assert!(caller.refused.contains(expected), "{name}: {caller:?}");
        }
    }
}

/// The function's typed code (struct literals with `..Default::default()`, matches with a `_` arm) is v1
/// source; the v2 function is that same source built against v2's guest crate. Both run against both IOmods.
#[tokio::test(flavor = "multi_thread")]
async fn typed_v1_source_builds_against_v2_crate_and_runs_both_ways() {
    for version in ["v1", "v2"] {
        let served = Served::start(version).await;
        for guest in [V1, V2] {
            assert_eq!(
                served.call(guest, "typed", json!({ "id": "a" })).await,
                json!({ "ok": {
                    "get": { "count": 7 },
                    "paint": { "shape": { "circle": 2.0 }, "color": "green" },
                } }),
                "IOmod {version}, guest {guest}"
            );
            assert_eq!(
                served
                    .call(guest, "typed", json!({ "id": "missing" }))
                    .await["ok"]["get"],
                json!({ "not_found": "missing" }),
                "IOmod {version}, guest {guest}"
            );
        }
    }
}
