//! The command-line tool and the build-script builder, on real files.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iomod-codegen-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of a fixture's manifest in a directory of its own (`generate` writes `iomod.lock` next to it).
fn fixture(case: &str) -> PathBuf {
    static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = scratch(&format!("fixture-{case}-{n}"));
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(case)
        .join("iomod.toml");
    std::fs::copy(source, dir.join("iomod.toml")).unwrap();
    dir.join("iomod.toml")
}

fn codegen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iomod-codegen"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn generate_then_check_detects_stale_files() {
    let dir = scratch("check");
    let out = dir.join("generated");
    let (manifest, out_arg) = (fixture("errors"), out.to_str().unwrap().to_owned());
    let manifest = manifest.to_str().unwrap();
    let run = codegen(&["generate", manifest, "--out", &out_arg]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.join("schema/bank.capnp").is_file() && out.join("guest/src/lib.rs").is_file());
    let check = codegen(&["check", manifest, "--out", &out_arg]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    std::fs::write(out.join("host/bank.rs"), "// edited by hand\n").unwrap();
    std::fs::remove_file(out.join("json/open.input.json")).unwrap();
    let check = codegen(&["check", manifest, "--out", &out_arg]);
    assert_eq!(check.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(stderr.contains("generated files are stale"), "{stderr}");
    assert!(
        stderr.contains("changed: ")
            && stderr.contains("host/bank.rs (first difference at line 1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("missing: ") && stderr.contains("json/open.input.json"),
        "{stderr}"
    );

    // Generating again repairs them, writing only what changed.
    let run = codegen(&["generate", manifest, "--out", &out_arg]);
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("(2 written, 13 unchanged, 0 stale removed)"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        codegen(&["check", manifest, "--out", &out_arg])
            .status
            .success()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn generate_removes_and_check_reports_files_the_manifest_no_longer_produces() {
    let dir = scratch("stale");
    let out = dir.join("generated");
    let out_arg = out.to_str().unwrap().to_owned();
    let manifest = dir.join("iomod.toml");
    let text = std::fs::read_to_string(fixture("errors")).unwrap();
    std::fs::write(&manifest, &text).unwrap();
    let manifest_arg = manifest.to_str().unwrap().to_owned();
    assert!(
        codegen(&["generate", &manifest_arg, "--out", &out_arg])
            .status
            .success()
    );
    assert!(out.join("json/close.input.json").is_file());
    // A user's file next to the generated ones.
    std::fs::write(out.join("schema/notes.capnp"), "# mine\n").unwrap();

    // The method `close` is deleted from the manifest.
    let start = text.find("[methods.close]").unwrap();
    let end = text[start + 1..]
        .find("\n[")
        .map_or(text.len(), |i| start + 1 + i);
    std::fs::write(&manifest, format!("{}{}", &text[..start], &text[end..])).unwrap();
    // A removal on purpose: its line leaves iomod.lock, which `generate` wrote.
    let lock = dir.join("iomod.lock");
    let locked = std::fs::read_to_string(&lock).unwrap();
    let unlocked: String = locked
        .lines()
        .filter(|l| !l.starts_with("close = "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(unlocked, locked);
    std::fs::write(&lock, unlocked).unwrap();
    let check = codegen(&["check", &manifest_arg, "--out", &out_arg]);
    assert_eq!(check.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("no longer generated: ") && stderr.contains("json/close.input.json"),
        "{stderr}"
    );
    assert!(!stderr.contains("notes.capnp"), "{stderr}");

    let run = codegen(&["generate", &manifest_arg, "--out", &out_arg]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success() && stderr.contains("stale removed"),
        "{stderr}"
    );
    assert!(!out.join("json/close.input.json").exists());
    assert!(!out.join("json/close.output.json").exists());
    assert!(
        out.join("schema/notes.capnp").is_file(),
        "a user's file stays"
    );
    assert!(
        codegen(&["check", &manifest_arg, "--out", &out_arg])
            .status
            .success()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn only_selects_parts_for_generate_and_check() {
    let dir = scratch("only");
    let out_arg = dir.to_str().unwrap().to_owned();
    let manifest = fixture("errors");
    let manifest = manifest.to_str().unwrap();
    let run = codegen(&[
        "generate",
        manifest,
        "--out",
        &out_arg,
        "--only",
        "guest,json",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(dir.join("guest/src/lib.rs").is_file() && dir.join("json/open.input.json").is_file());
    assert!(!dir.join("host").exists() && !dir.join("schema").exists());
    // Checking the same parts passes; checking every part finds the others missing.
    let check = codegen(&["check", manifest, "--out", &out_arg, "--only", "guest,json"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let check = codegen(&["check", manifest, "--out", &out_arg]);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stderr).contains("host/bank.rs"));
    // An unknown part is refused with the list of parts.
    let bad = codegen(&["generate", manifest, "--out", &out_arg, "--only", "docs"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("possible values: schema, host, guest, json")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_manifest_fails_with_every_problem_and_writes_nothing() {
    let dir = scratch("bad");
    let manifest = dir.join("iomod.toml");
    std::fs::write(
        &manifest,
        "[iomod]\ncoordinates = \"a.b\"\nversion = \"1\"\n\n[methods.Get]\n",
    )
    .unwrap();
    let out = dir.join("generated");
    let run = codegen(&[
        "generate",
        manifest.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("3 errors in"), "{stderr}");
    assert!(
        stderr.contains("iomod.toml:2:15")
            && stderr.contains("iomod.toml:3:11")
            && stderr.contains("iomod.toml:5:10"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing may be written for a bad manifest");
    let missing = codegen(&["validate", dir.join("absent.toml").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn validate_and_schema_commands() {
    let run = codegen(&["validate", fixture("errors").to_str().unwrap()]);
    assert!(run.status.success());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.starts_with("example.test.bank 2.0.0-beta.1 (sha256:"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "@0 withdraw(WithdrawInput) -> Account ! InsufficientFunds, AccountNotFound, Frozen"
        ),
        "{stdout}"
    );

    let schema = codegen(&["schema"]);
    let json: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert_eq!(json["title"], "iomod.toml");
    // Every key the parser accepts is in the published schema.
    for (table, keys) in [
        ("", &["iomod", "process", "types", "errors", "methods"][..]),
        ("iomod", &["coordinates", "version", "doc"][..]),
        ("process", &["entrypoint", "arguments"][..]),
    ] {
        let properties = if table.is_empty() {
            &json["properties"]
        } else {
            &json["properties"][table]["properties"]
        };
        for key in keys {
            assert!(
                properties.get(key).is_some(),
                "the schema lacks {table}.{key}"
            );
        }
    }
    for key in ["doc", "input", "output", "errors"] {
        assert!(
            json["properties"]["methods"]["additionalProperties"]["properties"]
                .get(key)
                .is_some(),
            "methods.*.{key}"
        );
    }
    for key in ["doc", "fields", "enum", "union", "open"] {
        assert!(
            json["$defs"]["typeDef"]["properties"].get(key).is_some(),
            "types.*.{key}"
        );
    }
}

#[test]
fn the_builder_writes_only_changed_files() {
    let dir = scratch("builder");
    let build = || {
        iomod_codegen::configure()
            .manifest(fixture("recursive"))
            .out_dir(dir.join("out"))
            .guest_crate_dir(dir.join("guest"))
            .emit_rerun_if_changed(false)
            .generate()
            .unwrap()
    };
    let first = build();
    assert_eq!(first.host_file, dir.join("out/documents.rs"));
    assert!(
        first.host_file.is_file()
            && dir.join("guest/Cargo.toml").is_file()
            && dir.join("out/schema/documents.capnp").is_file()
    );
    let modified = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let before = modified(&first.host_file);
    std::thread::sleep(std::time::Duration::from_millis(20));
    build();
    assert_eq!(
        modified(&first.host_file),
        before,
        "an unchanged file must not be rewritten"
    );
    let missing = iomod_codegen::configure()
        .manifest(dir.join("nope.toml"))
        .out_dir(&dir)
        .emit_rerun_if_changed(false)
        .generate();
    assert!(matches!(
        missing,
        Err(iomod_codegen::BuildError::Read { .. })
    ));
    let _ = std::fs::remove_dir_all(dir);
}

/// `generate` lays out the Rust it writes with rustfmt when it is installed, so that checked-in guest
/// crates pass `rustfmt --check`, and `check` compares with the same layout; `--no-rustfmt` keeps the
/// generator's own (prettyplease) layout, for both.
#[test]
fn rust_files_are_laid_out_by_rustfmt_unless_asked_not_to() {
    let dir = scratch("layout");
    let out = dir.join("generated");
    let (manifest, out_arg) = (fixture("primitives"), out.to_str().unwrap().to_owned());
    let manifest = manifest.to_str().unwrap();
    let lib = out.join("guest/src/lib.rs");
    let run = codegen(&["generate", manifest, "--out", &out_arg, "--no-rustfmt"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let printed = std::fs::read_to_string(&lib).unwrap();
    let long: Vec<_> = printed
        .lines()
        .filter(|l| !l.trim_start().starts_with("///") && l.len() > 110)
        .collect();
    assert!(long.is_empty(), "long lines: {long:#?}");
    let check = codegen(&["check", manifest, "--out", &out_arg, "--no-rustfmt"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    if Command::new("rustfmt").arg("--version").output().is_err() {
        return;
    }
    let check = codegen(&["check", manifest, "--out", &out_arg]);
    assert_eq!(
        check.status.code(),
        Some(1),
        "prettyplease and rustfmt lay out differently"
    );
    let run = codegen(&["generate", manifest, "--out", &out_arg]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let fmt = Command::new("rustfmt")
        .args(["--edition", "2024", "--check"])
        .arg(&lib)
        .output()
        .unwrap();
    assert!(
        fmt.status.success(),
        "{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    let check = codegen(&["check", manifest, "--out", &out_arg]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Every file under `dir`, with its contents (directories as empty entries).
fn tree(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.insert(path.clone(), Vec::new());
                dirs.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// A write that fails midway (here a regular file where the `schema/` directory goes, after `guest/`,
/// `host/`, `json/` and `registration/` in the order files are written) leaves the output directory and
/// the lock as they were: no half-written tree, no leftover temporary file.
#[test]
fn a_generation_that_cannot_write_everything_writes_nothing() {
    let dir = scratch("all-or-nothing");
    let out = dir.join("generated");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("schema"), "in the way\n").unwrap();
    let manifest = fixture("errors");
    let manifest_dir = manifest.parent().unwrap().to_path_buf();
    let (before, manifest_before) = (tree(&out), tree(&manifest_dir));
    let run = codegen(&[
        "generate",
        manifest.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("cannot write"), "{stderr}");
    assert_eq!(tree(&out), before, "the output directory changed");
    assert_eq!(
        tree(&manifest_dir),
        manifest_before,
        "the lock was written although the files were not"
    );

    // The build-script builder, likewise.
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("schema"), "in the way\n").unwrap();
    let before = tree(&out);
    let error = iomod_codegen::configure()
        .manifest(&manifest)
        .out_dir(&out)
        .guest_crate_dir(dir.join("guest"))
        .emit_rerun_if_changed(false)
        .verify_lock(false)
        .generate()
        .unwrap_err();
    assert!(error.to_string().contains("cannot write"), "{error}");
    assert_eq!(tree(&out), before, "the output directory changed");
    assert!(!dir.join("guest").exists(), "the guest crate was written");
}
