//! The Lambda custom runtime (`iomod lambda`) against cargo-lambda's Runtime API emulator, all real
//! processes: a layer built from real `.iomod` files (the echo IOmod) spawned at init, warm invocations,
//! function errors, an invocation over its time, and init errors posted with their reason (an IOmod
//! that exits at start; corrupt, path-escaping, symlinked and duplicate packages; a missing IOmod).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::lambda::*;
use common::serve::kill;
use common::*;
use serde_json::{Value, json};

const ECHO: &str = "example.test.echo";

/// A function whose output is its input, unless the input's first byte is `1` (it traps), `2` (it loops
/// forever) or `3` (it answers bytes that are not JSON).
const JSON_FUNCTION: &str = r#"(module
  (memory (export "memory") 2)
  (data (i32.const 65536) "not json")
  (func (export "iomod_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "iomod_main") (param $ptr i32) (param $len i32) (result i64)
    (local $first i32)
    (local.set $first (i32.load8_u (local.get $ptr)))
    (if (i32.eq (local.get $first) (i32.const 49)) (then unreachable))
    (if (i32.eq (local.get $first) (i32.const 50)) (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $first) (i32.const 51))
      (then (return (i64.or (i64.shl (i64.const 65536) (i64.const 32)) (i64.const 8)))))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len)))))"#;

/// `<dir>/function/function.toml` for [`JSON_FUNCTION`], allowed to call `allow`.
fn json_function(dir: &Path, allow: &[&str]) -> PathBuf {
    let fdir = dir.join("function");
    std::fs::create_dir_all(&fdir).unwrap();
    std::fs::write(fdir.join("json.wat"), JSON_FUNCTION).unwrap();
    let mut manifest =
        "[function]\nname = \"json\"\nmodule = \"json.wat\"\ntime_budget_ms = 400\n".to_owned();
    for (i, coordinates) in allow.iter().enumerate() {
        manifest.push_str(&format!(
            "\n[iomod.dependencies.d{i}]\ncoordinates = \"{coordinates}\"\n"
        ));
    }
    std::fs::write(fdir.join("function.toml"), manifest).unwrap();
    fdir.join("function.toml")
}

/// The echo IOmod packed as a `.iomod` file in `dir`.
fn echo_package(dir: &Path) -> PathBuf {
    let package = package_dir(dir, ECHO, &bin("iomod-echo"));
    let file = dir.join(format!("{ECHO}@0.1.0.iomod"));
    iomod_ok(
        &bin("iomod"),
        &[
            "pack",
            package.to_str().unwrap(),
            "-o",
            file.to_str().unwrap(),
        ],
    );
    file
}

/// A layer of `packages` built with `iomod layer` and unpacked as Lambda does; returns `/opt/iomod`.
fn layer(dir: &Path, packages: &[&Path]) -> PathBuf {
    let zip = dir.join("layer.zip");
    let mut args = vec!["layer", "-o", zip.to_str().unwrap()];
    args.extend(packages.iter().map(|p| p.to_str().unwrap()));
    iomod_ok(&bin("iomod"), &args);
    unzip(&zip, &dir.join("opt"));
    dir.join("opt/iomod")
}

fn start_runtime(dir: &Path, emulator: &Emulator, function: &Path, layer: &Path) -> Runtime {
    Runtime::start(
        &bin("iomod"),
        &[
            "lambda",
            "--function",
            function.to_str().unwrap(),
            "--layer",
            layer.to_str().unwrap(),
        ],
        emulator,
        &[],
        &dir.join("runtime.log"),
    )
}

fn error_of(answer: &common::serve::Answer) -> (String, String) {
    let body: Value = answer.json();
    (
        body["errorType"].as_str().unwrap_or_default().to_owned(),
        body["errorMessage"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_of_packages_serves_warm_invocations_and_errors() {
    let dir = TempDir::new();
    let package = echo_package(&dir.0);
    let opt = layer(&dir.0, &[&package]);
    assert!(opt.join(format!("{ECHO}@0.1.0.iomod")).is_file());
    let function = json_function(&dir.0, &[ECHO]);
    let emulator = Emulator::start(&dir.0);
    let runtime = start_runtime(&dir.0, &emulator, &function, &opt);

    // Several events, one warm runtime.
    for i in 0..5 {
        let event = json!({"n": i, "text": "é \u{1F980}"}).to_string();
        let answer = emulator.invoke(&event).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.text(), event);
    }
    let log = runtime.log_text();
    assert_eq!(log.matches("init done").count(), 1, "{log}");
    assert_eq!(log.matches("IOmod started").count(), 1, "{log}");
    // What the IOmod logs is in the runtime's log (which CloudWatch reads), tagged with its coordinates.
    assert!(
        log.lines()
            .any(|l| l.contains("iomod_sdk::serve: registered")
                && l.contains(&format!("iomod={ECHO} pid="))
                && l.ends_with("stream=stderr")),
        "{log}"
    );
    assert!(
        runtime.child_pid("iomod-echo").is_some(),
        "the layer's IOmod runs"
    );

    // A trap, a time budget spent, an output that is not JSON: invocation errors with a type.
    let answer = emulator.invoke("1").await;
    assert_eq!(answer.status, 500, "{}", answer.text());
    let (kind, message) = error_of(&answer);
    assert_eq!(kind, "Function.Trap", "{message}");
    assert!(message.contains("unreachable"), "{message}");

    let started = std::time::Instant::now();
    let answer = emulator.invoke("2").await;
    assert_eq!(answer.status, 500, "{}", answer.text());
    let (kind, message) = error_of(&answer);
    assert_eq!(kind, "Function.Timeout", "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 400 ms budget ended the invocation"
    );

    let answer = emulator.invoke("3").await;
    let (kind, message) = error_of(&answer);
    assert_eq!(kind, "Function.InvalidOutput", "{message}");

    // The runtime is still there for the next event.
    let answer = emulator.invoke("[1, 2, 3]").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), "[1, 2, 3]");

    // SIGTERM: the runtime stops its IOmods and exits.
    let mut runtime = runtime;
    let echo = runtime.child_pid("iomod-echo").unwrap();
    kill("TERM", runtime.child.id());
    let status = runtime.wait_exit(Duration::from_secs(20));
    assert!(status.is_some(), "the runtime stops on SIGTERM");
    assert!(
        !Path::new(&format!("/proc/{echo}")).exists(),
        "its IOmod was stopped:\n{}",
        runtime.log_text()
    );
    assert!(
        runtime.log_text().contains("IOmod stopped"),
        "{}",
        runtime.log_text()
    );
}

/// Starts a runtime on `layer` with a function needing `needs`, and returns the init error the waiting
/// invocation receives; checks that the runtime exits with a failure.
async fn init_error(dir: &Path, opt: &Path, needs: &[&str]) -> (String, String) {
    let function = json_function(dir, needs);
    init_error_with(dir, opt, &function).await
}

/// [`init_error`] with the function manifest `function`.
async fn init_error_with(dir: &Path, opt: &Path, function: &Path) -> (String, String) {
    let emulator = Emulator::start(dir);
    // The emulator hands an init error to an invocation that is waiting.
    let pending = {
        let addr = emulator.addr;
        tokio::spawn(async move {
            tokio::time::timeout(
                Duration::from_secs(60),
                common::serve::try_http(
                    addr,
                    "POST",
                    "/2015-03-31/functions/_/invocations",
                    &[],
                    b"{}".to_vec(),
                ),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut runtime = start_runtime(dir, &emulator, function, opt);
    let answer = pending.await.unwrap().unwrap().unwrap();
    let status = runtime.wait_exit(Duration::from_secs(30));
    let log = runtime.log_text();
    assert!(
        matches!(status, Some(s) if !s.success()),
        "the runtime exits with a failure after an init error ({status:?}):\n{log}"
    );
    assert!(log.contains("init failed"), "{log}");
    error_of(&answer)
}

/// A zip at `path` with `entries` (name, contents, unix mode).
fn write_zip(path: &Path, entries: &[(&str, &[u8], u32)], symlink: Option<(&str, &str)>) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, data, mode) in entries {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
        zip.start_file(*name, options).unwrap();
        zip.write_all(data).unwrap();
    }
    if let Some((name, target)) = symlink {
        zip.add_symlink(name, target, zip::write::SimpleFileOptions::default())
            .unwrap();
    }
    zip.finish().unwrap();
}

const SCRIPT_MANIFEST: &str = "[iomod]\ncoordinates = \"example.test.broken\"\nversion = \"1.0.0\"\n\n[process]\nentrypoint = \"run.sh\"\n";

/// Damages a layer directory (`/opt/iomod`).
type BreakLayer = Box<dyn Fn(&Path)>;

#[tokio::test(flavor = "multi_thread")]
async fn init_errors_name_the_failing_iomod_or_package() {
    // An IOmod that exits at start.
    {
        let dir = TempDir::new();
        let package = dir.0.join("broken");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join("iomod.toml"), SCRIPT_MANIFEST).unwrap();
        std::fs::write(
            package.join("run.sh"),
            "#!/bin/sh\necho 'broken: no configuration' >&2\nexit 3\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            package.join("run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let file = dir.0.join("broken.iomod");
        iomod_ok(
            &bin("iomod"),
            &[
                "pack",
                package.to_str().unwrap(),
                "-o",
                file.to_str().unwrap(),
            ],
        );
        let opt = layer(&dir.0, &[&file]);
        let (kind, message) = init_error(&dir.0, &opt, &["example.test.broken"]).await;
        assert_eq!(kind, "Runtime.IomodFailed", "{message}");
        assert!(message.contains("example.test.broken"), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
    }

    // Packages that are refused, each named with its reason.
    let cases: [(&str, BreakLayer, &str); 5] = [
        (
            "corrupt",
            Box::new(|opt: &Path| {
                std::fs::write(opt.join("bad.iomod"), b"PK\x03\x04 not a zip").unwrap()
            }),
            "not a readable zip",
        ),
        (
            "escaping",
            Box::new(|opt: &Path| {
                write_zip(
                    &opt.join("bad.iomod"),
                    &[
                        ("iomod.toml", SCRIPT_MANIFEST.as_bytes(), 0o644),
                        ("../escaped.sh", b"#!/bin/sh\n", 0o755),
                    ],
                    None,
                )
            }),
            "climbs out of the package",
        ),
        (
            "absolute",
            Box::new(|opt: &Path| {
                write_zip(
                    &opt.join("bad.iomod"),
                    &[
                        ("iomod.toml", SCRIPT_MANIFEST.as_bytes(), 0o644),
                        ("/tmp/iomod-absolute.sh", b"#!/bin/sh\n", 0o755),
                    ],
                    None,
                )
            }),
            "is an absolute path",
        ),
        (
            "symlink",
            Box::new(|opt: &Path| {
                write_zip(
                    &opt.join("bad.iomod"),
                    &[("iomod.toml", SCRIPT_MANIFEST.as_bytes(), 0o644)],
                    Some(("run.sh", "/bin/sh")),
                )
            }),
            "is a symbolic link",
        ),
        (
            "duplicate",
            Box::new(|opt: &Path| {
                let first = opt.join(format!("{ECHO}@0.1.0.iomod"));
                std::fs::copy(&first, opt.join("copy-of-echo.iomod")).unwrap();
            }),
            "is also provided by",
        ),
    ];
    for (case, break_layer, reason) in cases {
        let dir = TempDir::new();
        let package = echo_package(&dir.0);
        let opt = layer(&dir.0, &[&package]);
        break_layer(&opt);
        let (kind, message) = init_error(&dir.0, &opt, &[ECHO]).await;
        assert_eq!(kind, "Runtime.InvalidPackage", "{case}: {message}");
        assert!(message.contains(reason), "{case}: {message}");
        assert!(
            message.contains(".iomod"),
            "{case} names the file: {message}"
        );
        assert!(
            !dir.0.join("opt/escaped.sh").exists() && !Path::new("/tmp/iomod-absolute.sh").exists(),
            "{case}: nothing was written outside the package"
        );
    }

    // A precompiled module that does not match its checksum.
    {
        let dir = TempDir::new();
        let package = echo_package(&dir.0);
        let opt = layer(&dir.0, &[&package]);
        let function = json_function(&dir.0, &[ECHO]);
        let mut damaged = b"iomod-cwasm-v1\n\0".to_vec();
        damaged.extend_from_slice(&[0; 32]);
        damaged.extend_from_slice(b"not compiled code");
        std::fs::write(function.with_file_name("function.cwasm"), damaged).unwrap();
        let text = std::fs::read_to_string(&function)
            .unwrap()
            .replace("json.wat", "function.cwasm");
        std::fs::write(&function, text).unwrap();
        let (kind, message) = init_error_with(&dir.0, &opt, &function).await;
        assert_eq!(kind, "Runtime.InvalidModule", "{message}");
        assert!(message.contains("checksum"), "{message}");
    }

    // A function needing an IOmod the layer does not hold.
    {
        let dir = TempDir::new();
        let package = echo_package(&dir.0);
        let opt = layer(&dir.0, &[&package]);
        let (kind, message) = init_error(&dir.0, &opt, &[ECHO, "example.test.absent"]).await;
        assert_eq!(kind, "Runtime.MissingIomod", "{message}");
        assert!(message.contains("example.test.absent"), "{message}");
        assert!(
            message.contains(ECHO),
            "lists what the layer provides: {message}"
        );
    }
}

#[test]
fn layers_refuse_two_packages_of_one_iomod_and_are_deterministic() {
    let dir = TempDir::new();
    let package = echo_package(&dir.0);
    let copy = dir.0.join("copy.iomod");
    std::fs::copy(&package, &copy).unwrap();
    let output = std::process::Command::new(bin("iomod"))
        .args(["layer", "-o"])
        .arg(dir.0.join("layer.zip"))
        .arg(&package)
        .arg(&copy)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("both example.test.echo"), "{stderr}");
    assert!(!dir.0.join("layer.zip").exists(), "nothing written");

    // The same package directory packs to the same bytes, and so does the layer.
    let source = package_dir(&dir.0, ECHO, &bin("iomod-echo"));
    let again = dir.0.join("again.iomod");
    iomod_ok(
        &bin("iomod"),
        &[
            "pack",
            source.to_str().unwrap(),
            "-o",
            again.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(&package).unwrap(),
        std::fs::read(&again).unwrap()
    );
    let (a, b) = (dir.0.join("a.zip"), dir.0.join("b.zip"));
    iomod_ok(
        &bin("iomod"),
        &[
            "layer",
            "-o",
            a.to_str().unwrap(),
            package.to_str().unwrap(),
        ],
    );
    iomod_ok(
        &bin("iomod"),
        &["layer", "-o", b.to_str().unwrap(), source.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn outside_lambda_the_runtime_says_what_is_missing() {
    let output = std::process::Command::new(bin("iomod"))
        .arg("lambda")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("AWS_LAMBDA_RUNTIME_API is not set"),
        "{stderr}"
    );
}
