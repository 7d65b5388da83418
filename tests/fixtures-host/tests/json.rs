//! JSON calls: through `Registry::invoke_json` and through `iomod call` from the shell, to a generated
//! skeleton built with serde support.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use iomod::registry::{Registry, RegistryConfig};
use iomod_sdk::ErrorCode;

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The workspace's `iomod` binary (built by `cargo build --workspace --bins`, as scripts/test.sh does).
fn iomod_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join("iomod");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn json_calls_reach_the_generated_skeleton() {
    let dir = std::env::temp_dir().join(format!("iomod-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("registry.sock");
    let registry = Registry::start(RegistryConfig::unix(&socket))
        .await
        .unwrap();
    let _bank = Kill(
        Command::new(env!("CARGO_BIN_EXE_bank-iomod"))
            .env("IOMOD_REGISTRY", &socket)
            .env("IOMOD_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    registry
        .wait_ready(
            &["example.test.bank".parse().unwrap()],
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    let out = registry
        .invoke_json("example.test.bank.open", r#"{"id": "carol"}"#.into(), None)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!({"id": "carol", "balance": 100})
    );
    let err = registry
        .invoke_json(
            "example.test.bank.withdraw",
            r#"{"id": "carol", "amount": 500}"#.into(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.name.as_str()),
        (ErrorCode::Method, "InsufficientFunds")
    );
    let detail: serde_json::Value = serde_json::from_slice(&err.detail).unwrap();
    assert_eq!(
        detail,
        serde_json::json!({"balance": 100, "requested": 500})
    );
    let err = registry
        .invoke_json("example.test.bank.withdraw", r#"{"id": 7}"#.into(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput, "{err}");
    assert!(
        err.message
            .contains("the input of `withdraw` is not valid JSON for it"),
        "{err}"
    );
    let err = registry
        .invoke_json("example.test.bank.close", r#"{"id": "carol"}"#.into(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal, "{err}");
    let err = registry
        .invoke_json("example.test.bank.steal", "{}".into(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::MethodNotFound);

    // From the shell.
    let call = |args: &[&str]| {
        Command::new(iomod_bin())
            .arg("call")
            .args(args)
            .arg("--registry")
            .arg(&socket)
            .output()
            .unwrap()
    };
    let ok = call(&[
        "example.test.bank.withdraw",
        r#"{"id": "carol", "amount": 30}"#,
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(printed["balance"], 70);
    let failed = call(&[
        "example.test.bank.withdraw",
        r#"{"id": "dave", "amount": 1}"#,
    ]);
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("returned its error AccountNotFound: {\"id\":\"dave\"}"),
        "{stderr}"
    );
    let bad = call(&["example.test.bank.withdraw", "{not json"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("the input is not valid JSON"));
    let unknown = call(&["example.test.nothing.do", "{}"]);
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("notFound"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
