//! `iomod.lock`: each `tests/ui-lock/<case>/iomod.toml` must fail verification against the `iomod.lock` next
//! to it with exactly the messages in `expected.stderr`. Refresh the expectations with
//! `IOMOD_BLESS=1 cargo test -p iomod-codegen --test lock`. Also: what the lock accepts, and the scaffold's.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use iomod_codegen::{Manifest, lock};

#[test]
fn members_that_moved_are_errors_at_their_place() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui-lock");
    let bless = std::env::var_os("IOMOD_BLESS").is_some_and(|v| v == "1");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "{cases:?}");
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let file = format!("tests/ui-lock/{name}/iomod.toml");
        let lock_file = format!("tests/ui-lock/{name}/iomod.lock");
        let text = std::fs::read_to_string(case.join("iomod.toml")).unwrap();
        let lock_text = std::fs::read_to_string(case.join("iomod.lock")).unwrap();
        let manifest = Manifest::parse(&file, &text).unwrap();
        let rendered = match lock::verify(&file, &text, &manifest, &lock_file, &lock_text) {
            Ok(v) => {
                failures.push(format!("{name}: verified ({v:?})"));
                continue;
            }
            Err(d) => format!("{d}\n"),
        };
        let expected_path = case.join("expected.stderr");
        if bless {
            std::fs::write(&expected_path, &rendered).unwrap();
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == rendered => {}
            Ok(expected) => failures.push(format!(
                "{name}:\n--- expected\n{expected}\n+++ actual\n{rendered}"
            )),
            Err(_) => failures.push(format!(
                "{name}: no expected.stderr (bless with IOMOD_BLESS=1)"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

const BASE: &str = "[iomod]\ncoordinates = \"example.test.store\"\nversion = \"1.0.0\"\n\n\
    [types.Item]\nfields = { id = \"string\", count = \"i32\", note = \"string\" }\n\n\
    [methods.get]\noutput = \"Item\"\n";

fn verify(text: &str, lock_text: &str) -> Result<lock::Verified, String> {
    let manifest = Manifest::parse("iomod.toml", text).unwrap();
    lock::verify("iomod.toml", text, &manifest, "iomod.lock", lock_text).map_err(|d| d.to_string())
}

#[test]
fn additions_renames_and_deleted_lines_are_accepted() {
    let locked = lock::render(&Manifest::parse("iomod.toml", BASE).unwrap());
    assert_eq!(verify(BASE, &locked).unwrap(), lock::Verified::default());
    // A new field at the end: the lock lacks it (check fails until it is recorded).
    let added = BASE.replace("note = \"string\" }", "note = \"string\", size = \"u64\" }");
    assert_eq!(
        verify(&added, &locked).unwrap().missing,
        ["field `size` of `Item`"]
    );
    // A rename keeps the ordinal.
    let renamed = BASE.replace("note = ", "remark = ");
    assert_eq!(
        verify(&renamed, &locked).unwrap().missing,
        ["field `remark` of `Item`"]
    );
    // A break on purpose: the moved members' lines deleted.
    let swapped = BASE.replace(
        "id = \"string\", count = \"i32\"",
        "count = \"i32\", id = \"string\"",
    );
    assert!(verify(&swapped, &locked).unwrap_err().contains("2 errors"));
    let relaxed = locked.replace("id = 0\ncount = 1\n", "");
    assert_eq!(verify(&swapped, &relaxed).unwrap().missing.len(), 2);
    // A lock that does not read points at itself.
    let error = verify(BASE, "[methods]\nget = \"zero\"\n").unwrap_err();
    assert!(
        error.contains("`get` in [methods] is not an ordinal"),
        "{error}"
    );
    let error = verify(BASE, "[methods\n").unwrap_err();
    assert!(error.contains("--> iomod.lock:1:"), "{error}");
}

#[test]
fn the_scaffolds_lock_is_what_the_generator_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/scaffold/templates/iomod");
    let text = std::fs::read_to_string(root.join("iomod.toml"))
        .unwrap()
        .replace("{{coordinates}}", "example.demo.greeter")
        .replace("{{name}}", "greeter");
    let manifest = Manifest::parse("iomod.toml", &text).unwrap();
    let lock_text = std::fs::read_to_string(root.join("iomod.lock")).unwrap();
    assert_eq!(lock_text, lock::render(&manifest));
}

#[test]
fn the_checked_in_locks_verify() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["iomods/dynamodb", "examples/python-iomod"] {
        let text = std::fs::read_to_string(root.join(dir).join("iomod.toml")).unwrap();
        let manifest = Manifest::parse("iomod.toml", &text).unwrap();
        let lock_text = std::fs::read_to_string(root.join(dir).join("iomod.lock")).unwrap();
        assert_eq!(
            lock_text,
            lock::render(&manifest),
            "{dir}: run iomod-codegen lock"
        );
    }
}
