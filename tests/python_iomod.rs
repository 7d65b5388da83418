//! An IOmod written in Python (`examples/python-iomod`, pycapnp), driven through the real `iomod` binary: a
//! wasm function (`functions/greeter`) calls it through its generated guest crate under `iomod run`, and
//! `iomod call` calls it with JSON through a standalone registry.
//!
//! The IOmod runs in the virtualenv `scripts/setup.sh` makes (`.venv/pycapnp`). Without it the tests say
//! so and pass, unless `CI` is set: then a missing virtualenv fails them.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Process, TempDir};
use serde_json::{Value, json};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn example() -> PathBuf {
    repository().join("examples/python-iomod")
}

/// The virtualenv with pycapnp, or `None` (after saying why) when it is missing outside CI.
fn pycapnp_venv() -> Option<PathBuf> {
    let venv = std::env::var_os("IOMOD_PYCAPNP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository().join(".venv/pycapnp"));
    let python = venv.join("bin/python");
    let problem = if !python.is_file() {
        format!("{} is missing", python.display())
    } else {
        let import = Command::new(&python)
            .args(["-c", "import capnp"])
            .output()
            .unwrap();
        if import.status.success() {
            return Some(venv);
        }
        format!(
            "{} cannot import pycapnp: {}",
            python.display(),
            String::from_utf8_lossy(&import.stderr).trim()
        )
    };
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(
        !ci,
        "{problem}: scripts/setup.sh installs pycapnp into .venv/pycapnp (CI is set, so this fails)"
    );
    eprintln!(
        "skipping the Python IOmod tests: {problem}; run scripts/setup.sh to install pycapnp"
    );
    None
}

/// The sample functions (`functions/`), built once for `wasm32-unknown-unknown`; the `greeter` module.
fn greeter_module() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
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
            functions.join("target/wasm32-unknown-unknown/release/greeter.wasm")
        })
        .clone()
}

fn iomod() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iomod"));
    command.env("IOMOD_LOG", "warn").stdin(Stdio::null());
    command
}

/// `iomod run MANIFEST --input INPUT`: the function's output, parsed as JSON (all of standard output: what
/// the IOmod prints must not reach it).
fn run(manifest: &Path, input: Value, cache: &TempDir, venv: &Path) -> Value {
    let output = iomod()
        .arg("run")
        .arg(manifest)
        .arg("--input")
        .arg(input.to_string())
        .arg("--cache-dir")
        .arg(&cache.0)
        .env("IOMOD_PYCAPNP_VENV", venv)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "iomod run failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("the function's output is not its JSON alone ({e}): {stdout:?}"))
}

#[test]
fn a_wasm_function_calls_the_python_iomod() {
    let Some(venv) = pycapnp_venv() else { return };
    greeter_module();
    let manifest = repository().join("functions/greeter/function.toml");
    let cache = TempDir::new();

    // A result: each `iomod run` starts the IOmod afresh, so its counters start at zero.
    assert_eq!(
        run(
            &manifest,
            json!({ "name": "Ada", "style": "shout" }),
            &cache,
            &venv
        ),
        json!({
            "ok": { "greeting": "HELLO, ADA!", "count": 1 },
            "stats": { "greeted": 1, "blocked": 0 },
        })
    );
    // The method's named error, with its fields.
    assert_eq!(
        run(&manifest, json!({ "name": "Mallory" }), &cache, &venv),
        json!({ "error": { "Blocked": { "name": "Mallory", "reason": "listens in on conversations" } } })
    );
    // Any other failure: the `failed` member of the result union, with its code.
    let failed = run(&manifest, json!({ "name": "" }), &cache, &venv);
    assert_eq!(
        failed["error"]["Failed"],
        json!({ "code": "invalidInput", "message": "the name is empty" }),
        "{failed}"
    );
}

#[test]
fn a_caller_built_for_another_contract_is_refused() {
    let Some(venv) = pycapnp_venv() else { return };
    let module = greeter_module();
    // A copy of the IOmod registered as version 1.0.0 from a manifest where `greet`'s `count` became a
    // string: its contract, and the contract's fingerprint, say so.
    let dir = TempDir::new();
    let copy = dir.0.join("greeter");
    for sub in ["schema", "registration"] {
        std::fs::create_dir_all(copy.join(sub)).unwrap();
    }
    for file in [
        "server.py",
        "run.sh",
        "schema/iomod.capnp",
        "schema/greeter.capnp",
    ] {
        std::fs::copy(example().join(file), copy.join(file)).unwrap();
    }
    let descriptor_path = "registration/greeter.json";
    let mut descriptor: Value =
        serde_json::from_slice(&std::fs::read(example().join(descriptor_path)).unwrap()).unwrap();
    assert_eq!(descriptor["methods"][0]["name"], "greet");
    descriptor["version"] = json!("1.0.0");
    for method in descriptor["methods"].as_array_mut().unwrap() {
        let contract = method["contract"]
            .as_str()
            .unwrap()
            .replace("\"0.1.0\"", "\"1.0.0\"")
            .replace("[\"count\",\"u64\"]", "[\"count\",\"string\"]");
        method["fingerprint"] = json!(iomod_sdk::contract::Contract::fingerprint_of(&contract));
        method["contract"] = json!(contract);
    }
    assert!(
        descriptor["methods"][0]["contract"]
            .as_str()
            .unwrap()
            .contains("[\"count\",\"string\"]")
    );
    std::fs::write(copy.join(descriptor_path), descriptor.to_string()).unwrap();
    let manifest = dir.0.join("function.toml");
    std::fs::write(
        &manifest,
        format!(
            "[function]\nmodule = {:?}\n\n[iomod.dependencies.greeter]\ncoordinates = \"example.demo.greeter\"\nentrypoint = \"greeter/run.sh\"\n",
            module.display().to_string()
        ),
    )
    .unwrap();
    let cache = TempDir::new();
    let answer = run(&manifest, json!({ "name": "Ada" }), &cache, &venv);
    let failed = &answer["error"]["Failed"];
    assert_eq!(failed["code"], "incompatible", "{answer}");
    let message = failed["message"].as_str().unwrap();
    for part in [
        "(built for version 0.1.0)",
        "(version 1.0.0)",
        "field `count` of `GreetOutput` changed type: `u64` → `string`",
    ] {
        assert!(message.contains(part), "{part}: {answer}");
    }
}

/// `iomod ls --json` against the registry at `socket`.
fn list(socket: &Path) -> Value {
    let output = iomod()
        .args(["ls", "--json", "--registry"])
        .arg(socket)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `iomod call PATH INPUT` against the registry at `socket`.
fn call(socket: &Path, path: &str, input: Value) -> Output {
    iomod()
        .args(["call", "--registry"])
        .arg(socket)
        .arg(path)
        .arg(input.to_string())
        .output()
        .unwrap()
}

fn wait_for(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn json_calls_registration_health_and_sigterm() {
    let Some(venv) = pycapnp_venv() else { return };
    let dir = TempDir::new();
    let socket = dir.socket();
    let _registry = Process {
        child: iomod()
            .args(["registry", "--health-interval", "0.2", "--socket"])
            .arg(&socket)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    wait_for(Duration::from_secs(10), "the registry's socket", || {
        socket.exists()
    });
    let mut greeter = Process {
        child: Command::new(example().join("run.sh"))
            .env("IOMOD_REGISTRY", &socket)
            .env("IOMOD_PYCAPNP_VENV", &venv)
            .env_remove("IOMOD_REGISTRY_LANES")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    wait_for(
        Duration::from_secs(20),
        "the greeter's registration",
        || list(&socket).as_array().is_some_and(|l| !l.is_empty()),
    );

    // It registered what the generated files say: digest, protocol version, methods and their schemas.
    let descriptor: Value = serde_json::from_slice(
        &std::fs::read(example().join("registration/greeter.json")).unwrap(),
    )
    .unwrap();
    let status = &list(&socket)[0];
    assert_eq!(status["coordinates"], "example.demo.greeter");
    assert_eq!(status["version"], "0.1.0");
    assert_eq!(status["protocol_version"], 2);
    assert_eq!(status["manifest_digest"], descriptor["manifestDigest"]);
    assert_eq!(status["pid"], greeter.pid());
    let methods = status["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 2);
    assert_eq!(
        (&methods[0]["name"], &methods[0]["ordinal"]),
        (&json!("greet"), &json!(0))
    );
    assert_eq!(
        (&methods[1]["name"], &methods[1]["ordinal"]),
        (&json!("stats"), &json!(1))
    );
    let generated = |file: &str| -> Value {
        serde_json::from_slice(&std::fs::read(example().join("json").join(file)).unwrap()).unwrap()
    };
    assert_eq!(methods[0]["input_schema"], generated("greet.input.json"));
    assert_eq!(methods[0]["output_schema"], generated("greet.output.json"));
    assert_eq!(methods[0]["error_schema"], generated("greet.errors.json"));

    // JSON calls: a result, the named error (its value as JSON), another failure.
    let ok = call(
        &socket,
        "example.demo.greeter.greet",
        json!({ "name": "Ada" }),
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&ok.stdout).unwrap(),
        json!({ "greeting": "Hello, Ada!", "count": 1 })
    );
    let blocked = call(
        &socket,
        "example.demo.greeter.greet",
        json!({ "name": "Mallory" }),
    );
    let stderr = String::from_utf8_lossy(&blocked.stderr);
    assert!(!blocked.status.success());
    assert!(
        stderr.contains("returned its error Blocked")
            && stderr.contains(r#"{"name": "Mallory", "reason": "listens in on conversations"}"#),
        "{stderr}"
    );
    let bad = call(
        &socket,
        "example.demo.greeter.greet",
        json!({ "nom": "Ada" }),
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(stderr.contains("invalidInput"), "{stderr}");
    let stats = call(&socket, "example.demo.greeter.stats", json!({}));
    assert_eq!(
        serde_json::from_slice::<Value>(&stats.stdout).unwrap(),
        json!({ "greeted": 1, "blocked": 1 }),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );

    // Health checks (every 200 ms here) keep it `ready`.
    std::thread::sleep(Duration::from_millis(600));
    let status = &list(&socket)[0];
    assert_eq!(status["state"], "ready", "{status}");
    assert_eq!(status["calls_started"], 4, "{status}");

    // SIGTERM: it deregisters, drains and exits 0.
    greeter.signal("TERM");
    let exit = greeter.wait_exit(Duration::from_secs(10));
    assert!(
        exit.is_some_and(|s| s.success()),
        "the greeter did not exit cleanly on SIGTERM: {exit:?}"
    );
    assert_eq!(list(&socket), json!([]));
}
