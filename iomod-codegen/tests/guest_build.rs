//! The guest crate generated for every fixture (and for the DynamoDB IOmod) builds for `wasm32-unknown-unknown` and `wasm32-wasip1`,
//! with no build script of its own and no system tools (the targets come from `scripts/setup.sh`); the
//! types of one of them are then tested natively (`tests/guest_native/lib.rs`).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use iomod_codegen::{Manifest, Options, generate, write_if_changed};

#[test]
fn guest_crates_build_for_both_wasm_targets() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("../target/guest-builds");
    let sdk = here.join("../iomod-sdk").canonicalize().unwrap();
    let options = Options {
        guest_sdk_dependency: format!("{{ path = {:?} }}", sdk.display().to_string()),
        ..Options::default()
    };
    let mut members = Vec::new();
    let mut cases: Vec<_> = std::fs::read_dir(here.join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    // And the reference DynamoDB IOmod, the largest real manifest.
    cases.push(here.join("../iomods/dynamodb"));
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(case.join("iomod.toml")).unwrap();
        let manifest = Manifest::parse(&name, &text).unwrap();
        for (path, contents) in generate(&manifest, &options).unwrap() {
            if let Ok(rest) = path.strip_prefix("guest") {
                write_if_changed(&root.join(&name).join(rest), &contents).unwrap();
            }
        }
        assert!(
            !root.join(&name).join("build.rs").exists(),
            "guest crates have no build script"
        );
        members.push(format!("{name:?}"));
    }
    // The guest types of `fixtures/primitives`, tested natively (below).
    let check = root.join("guest-native-check");
    write_if_changed(
        &check.join("Cargo.toml"),
        "[package]\nname = \"guest-native-check\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\ncapnp = \"0.27\"\nprimitives-guest = { path = \"../primitives\" }\n\
         schemars = \"1\"\nserde_json = \"1\"\n",
    )
    .unwrap();
    write_if_changed(
        &check.join("src/lib.rs"),
        &std::fs::read_to_string(here.join("tests/guest_native/lib.rs")).unwrap(),
    )
    .unwrap();
    members.push("\"guest-native-check\"".to_owned());
    let workspace = format!(
        "[workspace]\nresolver = \"3\"\nmembers = [{}]\n",
        members.join(", ")
    );
    write_if_changed(&root.join("Cargo.toml"), &workspace).unwrap();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args([
            "build",
            "--workspace",
            "--target",
            "wasm32-unknown-unknown",
            "--target",
            "wasm32-wasip1",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the guest crates did not build (are the wasm targets installed? scripts/setup.sh adds them):\n{stderr}"
    );
    assert!(
        !stderr.contains("warning:"),
        "the guest crates built with warnings:\n{stderr}"
    );

    let output = Command::new(&cargo)
        .args(["test", "-p", "guest-native-check"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the guest types misbehave natively:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
