//! The todo function deployed as on AWS Lambda, all real processes: the DynamoDB IOmod packed as a `.iomod`
//! file into a layer (`iomod pack`, `iomod layer`), the function bundled with its precompiled module
//! (`iomod bundle`), both unpacked as Lambda does, the bundle's `bootstrap` started against cargo-lambda's
//! Runtime API emulator with a moto server behind the IOmod. Several invocations of one warm runtime, then
//! the IOmod killed between two invocations and restarted before the next.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../../tests/common/lambda.rs"]
mod lambda;
#[path = "../../../tests/common/serve.rs"]
mod serve;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use lambda::*;
use serde_json::{Value, json};
use serve::*;

async fn todo(emulator: &Emulator, request: Value) -> Value {
    let answer = emulator.invoke(&request.to_string()).await;
    assert_eq!(answer.status, 200, "{request}: {}", answer.text());
    match answer.json().get("ok") {
        Some(ok) => ok.clone(),
        None => panic!("{request}: the todo function failed: {}", answer.text()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_todo_function_on_a_lambda_layer_and_bundle() {
    let server = DynamoServer::start();
    let dir = TempDir::new("lambda");
    let iomod = iomod_binary();

    // The IOmod's package directory (its manifest and binary), packed, put in a layer.
    let package = dynamodb_package(&dir.0);
    let file = dir.0.join(format!("{COORDINATES}@0.1.0.iomod"));
    iomod_ok(
        &iomod,
        &[
            "pack",
            package.to_str().unwrap(),
            "-o",
            file.to_str().unwrap(),
        ],
    );
    let layer_zip = dir.0.join("layer.zip");
    iomod_ok(
        &iomod,
        &[
            "layer",
            "-o",
            layer_zip.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );

    // The function's bundle: its development manifest starts the IOmod from a path, the bundled one not.
    let manifest = write_function(
        &dir.0,
        "todo",
        Module::File(&function_module("todo")),
        &format!(
            "time_budget_ms = 60000\ncall_timeout_ms = 20000\n{}",
            dependency(
                "dynamodb",
                COORDINATES,
                Path::new(env!("CARGO_BIN_EXE_iomod-dynamodb")),
                &[]
            )
        ),
    );
    let bundle_zip = dir.0.join("function.zip");
    iomod_ok(
        &iomod,
        &[
            "bundle",
            manifest.to_str().unwrap(),
            "-o",
            bundle_zip.to_str().unwrap(),
        ],
    );
    let opt = dir.0.join("opt");
    let task = dir.0.join("task");
    unzip(&layer_zip, &opt);
    unzip(&bundle_zip, &task);
    let bundled = std::fs::read_to_string(task.join("function.toml")).unwrap();
    assert!(!bundled.contains("entrypoint"), "{bundled}");

    let emulator = Emulator::start(&dir.0);
    let mut env: Vec<(&str, String)> = server.aws_env().into_iter().collect();
    env.push(("LAMBDA_TASK_ROOT", task.display().to_string()));
    env.push(("IOMOD_LAYER_DIR", opt.join("iomod").display().to_string()));
    let runtime = Runtime::start(
        &task.join("bootstrap"),
        &[],
        &emulator,
        &env,
        &dir.0.join("bootstrap.log"),
    );

    // Several invocations of one warm runtime.
    todo(&emulator, json!({"action": "setup"})).await;
    let first = todo(&emulator, json!({"action": "create", "title": "Buy milk"})).await;
    let second = todo(&emulator, json!({"action": "create", "title": "Walk"})).await;
    assert_ne!(first["id"], second["id"]);
    let got = todo(&emulator, json!({"action": "get", "id": first["id"]})).await;
    assert_eq!(got["title"], "Buy milk");
    let listed = todo(&emulator, json!({"action": "list"})).await;
    assert_eq!(listed["todos"].as_array().unwrap().len(), 2, "{listed}");
    let log = runtime.log_text();
    assert_eq!(log.matches("init done").count(), 1, "{log}");

    // The IOmod dies between two invocations: the next one waits for its replacement.
    let pid = runtime
        .child_pid("iomod-dynamodb")
        .unwrap_or_else(|| panic!("the layer's IOmod runs:\n{}", runtime.log_text()));
    kill("KILL", pid);
    let started = Instant::now();
    // Gone from /proc: reaped by the runtime's supervisor.
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{pid} still there"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let listed = todo(&emulator, json!({"action": "list"})).await;
    assert_eq!(listed["todos"].as_array().unwrap().len(), 2, "{listed}");
    let third = todo(&emulator, json!({"action": "create", "title": "Sleep"})).await;
    assert_eq!(third["title"], "Sleep");
    let replacement = runtime.child_pid("iomod-dynamodb").unwrap();
    assert_ne!(replacement, pid);
    let log = runtime.log_text();
    assert!(log.contains("IOmod exited; restarting"), "{log}");
    assert_eq!(
        log.matches("init done").count(),
        1,
        "still the same runtime"
    );
}
