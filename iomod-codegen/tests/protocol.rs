//! The runtime protocol's checked-in code. `schemas/iomod.capnp` is the protocol's one source; `iomod-sdk`
//! carries a byte-for-byte copy (`iomod-sdk/schema/iomod.capnp`, its `PROTOCOL_SCHEMA`) and capnpc-rust's
//! output for it (`iomod-sdk/src/iomod_capnp.rs`), so the SDK builds from its own package with no build
//! script and no Cap'n Proto compiler. These tests fail when either file no longer matches the schema.
//! Refresh both with `IOMOD_BLESS=1 cargo test -p iomod-codegen --test protocol`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// What precedes capnpc-rust's own header in `iomod-sdk/src/iomod_capnp.rs`.
const HEADER: &str = "\
// @generated from schemas/iomod.capnp (capnpc-embedded, then capnpc-rust). Do not edit: change the schema and
// regenerate with `IOMOD_BLESS=1 cargo test -p iomod-codegen --test protocol`, which also copies it to
// iomod-sdk/schema/iomod.capnp. `scripts/test.sh` fails while either file is stale.
";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn bless() -> bool {
    std::env::var_os("IOMOD_BLESS").is_some_and(|v| v == "1")
}

/// Passes when `path` holds `expected`; with `IOMOD_BLESS=1`, makes it so.
fn check(path: &Path, expected: &str) {
    if bless() {
        if std::fs::read_to_string(path).ok().as_deref() != Some(expected) {
            std::fs::write(path, expected).unwrap();
        }
        return;
    }
    let actual =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if actual == expected {
        return;
    }
    let line = actual
        .lines()
        .zip(expected.lines())
        .position(|(a, e)| a != e)
        .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
    panic!(
        "{} is stale (first difference at line {}: expected {:?}, found {:?}); \
         regenerate with `IOMOD_BLESS=1 cargo test -p iomod-codegen --test protocol`",
        path.display(),
        line + 1,
        expected.lines().nth(line).unwrap_or("<end of file>"),
        actual.lines().nth(line).unwrap_or("<end of file>"),
    );
}

#[test]
fn the_sdk_schema_is_a_copy_of_the_protocol_schema() {
    let schema = std::fs::read_to_string(root().join("schemas/iomod.capnp")).unwrap();
    check(&root().join("iomod-sdk/schema/iomod.capnp"), &schema);
}

#[test]
fn the_sdk_protocol_code_is_generated_from_the_protocol_schema() {
    let schemas = root().join("schemas");
    let request = capnpc_embedded::CompileCommand::new()
        .src_prefix(&schemas)
        .file(schemas.join("iomod.capnp"))
        .compile()
        .unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("protocol");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    capnpc::codegen::CodeGenerationCommand::new()
        .output_directory(&out)
        .run(&request[..])
        .unwrap();
    let code = std::fs::read_to_string(out.join("iomod_capnp.rs")).unwrap();
    check(
        &root().join("iomod-sdk/src/iomod_capnp.rs"),
        &format!("{HEADER}\n{code}"),
    );
}
