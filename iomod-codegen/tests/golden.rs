//! Golden files: every fixture's generated outputs against `tests/fixtures/<case>/expected/`.
//! Refresh them with `IOMOD_BLESS=1 cargo test -p iomod-codegen --test golden`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use iomod_codegen::{Manifest, Options, generate};
use iomod_sdk::contract::{Category, Contract, compare};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("iomod.toml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 4, "expected at least four fixtures");
    cases
}

fn load(case: &Path) -> Manifest {
    let path = case.join("iomod.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    Manifest::parse(&path.display().to_string(), &text).unwrap_or_else(|d| panic!("{d}"))
}

/// A readable summary of how `actual` differs from `expected`: the first differing lines with context.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let mut out = format!("first difference at line {}:\n", first + 1);
    for i in first.saturating_sub(2)..(first + 6).min(e.len().max(a.len())) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => out.push_str(&format!("  {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("- {x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("+ {y}\n"));
                }
            }
        }
    }
    out
}

#[test]
fn generated_files_match_the_golden_files() {
    let bless = std::env::var_os("IOMOD_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for case in fixtures() {
        let files = generate(&load(&case), &Options::default()).unwrap();
        let expected_dir = case.join("expected");
        if bless {
            let _ = std::fs::remove_dir_all(&expected_dir);
        }
        for (path, contents) in &files {
            let golden = expected_dir.join(path);
            if bless {
                std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
                std::fs::write(&golden, contents).unwrap();
                continue;
            }
            match std::fs::read_to_string(&golden) {
                Ok(expected) if &expected == contents => {}
                Ok(expected) => failures.push(format!(
                    "{}: {}",
                    golden.display(),
                    diff(&expected, contents)
                )),
                Err(_) => failures.push(format!("{}: missing golden file", golden.display())),
            }
        }
        // No golden file may be left over from an output the generator no longer writes.
        let generated: BTreeSet<PathBuf> = files.keys().cloned().collect();
        for entry in walk(&expected_dir) {
            let relative = entry.strip_prefix(&expected_dir).unwrap().to_path_buf();
            if !generated.contains(&relative) {
                failures.push(format!(
                    "{}: stale golden file (not generated any more)",
                    entry.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden files differ (refresh with IOMOD_BLESS=1):\n\n{}",
        failures.join("\n")
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn generation_is_deterministic() {
    for case in fixtures() {
        let manifest = load(&case);
        assert_eq!(
            generate(&manifest, &Options::default()).unwrap(),
            generate(&manifest, &Options::default()).unwrap(),
            "{}",
            case.display()
        );
        // Parsing again gives the same model, too.
        assert_eq!(load(&case), manifest);
    }
}

#[test]
fn every_file_is_marked_generated() {
    for case in fixtures() {
        for (path, contents) in generate(&load(&case), &Options::default()).unwrap() {
            if path.ends_with("iomod.capnp") || path.extension().is_some_and(|e| e == "json") {
                continue;
            }
            assert!(
                contents.contains("@generated"),
                "{} lacks the @generated marker",
                path.display()
            );
        }
    }
}

/// The contracts of every method of the fixture `name`'s manifest, after `edit`.
fn contracts(name: &str, edit: impl Fn(&str) -> String) -> Vec<(String, String)> {
    let dir = fixtures().into_iter().find(|c| c.ends_with(name)).unwrap();
    let text = edit(&std::fs::read_to_string(dir.join("iomod.toml")).unwrap());
    let m = Manifest::parse(name, &text).unwrap();
    m.methods
        .iter()
        .map(|method| {
            let contract = iomod_codegen::method_contract(&m, method);
            assert_eq!(
                iomod_codegen::method_fingerprint(&m, method),
                Contract::fingerprint_of(&contract)
            );
            (method.name.clone(), contract)
        })
        .collect()
}

/// The categories of the changes from `old`'s contract to `new`'s.
fn changes(old: &str, new: &str) -> Vec<Category> {
    let (old, new) = (Contract::parse(old).unwrap(), Contract::parse(new).unwrap());
    compare(&old, &new)
        .into_iter()
        .map(|c| c.category)
        .collect()
}

#[test]
fn contracts_follow_the_wire_not_the_docs() {
    let base = contracts("errors", str::to_owned);
    // Documentation does not count.
    let redocumented = contracts("errors", |t| {
        t.replace("Takes money out of an account.", "Withdraws.")
    });
    assert_eq!(redocumented, base);
    // A new version is a new contract (the registry compares the two), with no change on the wire.
    let bumped = contracts("errors", |t| t.replace("2.0.0-beta.1", "2.0.1"));
    assert_ne!(bumped[0].1, base[0].1);
    assert_eq!(changes(&base[0].1, &bumped[0].1), vec![]);
    // A changed field type changes the methods whose contract reaches it, and only those.
    let retyped = contracts("errors", |t| {
        t.replace("fields.requested = \"i64\"", "fields.requested = \"u64\"")
    });
    assert_eq!(
        changes(&base[0].1, &retyped[0].1),
        vec![Category::Wire],
        "withdraw returns InsufficientFunds"
    );
    assert_eq!(retyped[1], base[1], "open does not");
    // A method moved to another ordinal breaks.
    let reordered = contracts("errors", |t| {
        t.replace(
            "[methods.withdraw]",
            "[methods.zzz_first]\n\n[methods.withdraw]",
        )
    });
    assert_eq!(changes(&base[0].1, &reordered[1].1), vec![Category::Wire]);
}

#[test]
fn an_open_enum_is_text_in_contracts() {
    let open = "enum = [\"active\", { name = \"paused\", doc = \"Not taking requests.\" }, \"retired\"]\nopen = true";
    let statuses = |edit: &dyn Fn(&str) -> String| {
        contracts("primitives", |t| {
            assert!(t.contains(open));
            edit(t)
        })
        .into_iter()
        .find(|(m, _)| m == "statuses")
        .unwrap()
        .1
    };
    let base = statuses(&str::to_owned);
    // A value added to an open enum reaches older readers by name.
    let extended = statuses(&|t| {
        t.replace(
            open,
            &open.replace("\"retired\"]", "\"retired\", \"archived\"]"),
        )
    });
    assert_eq!(changes(&base, &extended), vec![Category::Compatible]);
    // A value removed breaks: it travels as its name.
    let shrunk = statuses(&|t| t.replace(open, &open.replace(", \"retired\"]", "]")));
    assert_eq!(changes(&base, &shrunk), vec![Category::Wire]);
    // Closing it (Text to a Cap'n Proto enum) breaks.
    let closed = statuses(&|t| t.replace("\nopen = true", ""));
    assert!(changes(&base, &closed).contains(&Category::Wire));
    // A closed enum's values are its layout (`statuses` reaches Color through Signal): one added at the
    // end is compatible, one inserted before others moves them.
    let appended = statuses(&|t| {
        t.replace(
            "doc = \"The blue one.\" }]",
            "doc = \"The blue one.\" }, \"cyan\"]",
        )
    });
    assert_eq!(changes(&base, &appended), vec![Category::Compatible]);
    let inserted = statuses(&|t| t.replace("\"green\",", "\"green\", \"cyan\","));
    assert!(changes(&base, &inserted).contains(&Category::Wire));
}

#[test]
fn the_dynamodb_guest_crate_fits_an_iomod_built_after_an_additive_change() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../iomods/dynamodb/iomod.toml");
    let text = std::fs::read_to_string(path).unwrap();
    // As AWS extends the API: a new input field at the end, a new union variant, a new named error, a new
    // method, a new open enum value.
    // (`put_item`'s input ends with `resend`: the new field goes after it.)
    let resend = text.find("input.resend = {").unwrap();
    let end = resend + text[resend..].find('\n').unwrap() + 1;
    let text_with_field = format!(
        "{}input.idempotency_token = \"option<string>\"\n{}",
        &text[..end],
        &text[end..]
    );
    let extended = text_with_field
        .replace(
            "union.bool = { type = \"bool\", doc = \"A Boolean.\" }\n",
            "union.bool = { type = \"bool\", doc = \"A Boolean.\" }\nunion.vector = \"list<f32>\"\n",
        )
        .replace(
            "enum = [\"none\", \"all_old\", \"updated_old\", \"all_new\", \"updated_new\"]",
            "enum = [\"none\", \"all_old\", \"updated_old\", \"all_new\", \"updated_new\", \"all_changes\"]",
        )
        .replace(
            "\"InternalServer\", \"OutcomeUnknown\", \"AwsError\"]\n\n[methods.get_item]",
            "\"InternalServer\", \"OutcomeUnknown\", \"AwsError\", \"ItemTooLarge\"]\n\n[methods.get_item]",
        )
        + "\n[errors.ItemTooLarge]\nfields.message = \"string\"\n\n[methods.describe_everything]\ninput = { table_name = \"string\" }\noutput = { tables = \"list<string>\" }\n";
    let bump = |t: &str| {
        let version = t
            .lines()
            .find(|l| l.starts_with("version = "))
            .unwrap()
            .to_owned();
        t.replacen(&version, "version = \"99.1.0\"", 1)
    };
    let extended = bump(&extended);
    for (changed, what) in [
        ("idempotency_token", "input field"),
        ("union.vector", "union variant"),
        ("all_changes", "open enum value"),
        ("ItemTooLarge\"]", "named error"),
        ("describe_everything", "method"),
    ] {
        assert!(extended.contains(changed), "{what}");
    }
    let old = Manifest::parse("dynamodb", &text).unwrap();
    let new = Manifest::parse("dynamodb (extended)", &extended).unwrap();
    let mut compatible = 0;
    for method in &old.methods {
        let theirs = new.methods.iter().find(|m| m.name == method.name).unwrap();
        let caller = Contract::parse(&iomod_codegen::method_contract(&old, method)).unwrap();
        let served = Contract::parse(&iomod_codegen::method_contract(&new, theirs)).unwrap();
        assert_eq!(
            iomod_sdk::contract::check_call(&caller, &served),
            Ok(()),
            "{}",
            method.name
        );
        if compare(&caller, &served)
            .iter()
            .any(|c| c.category == Category::Compatible)
        {
            compatible += 1;
        }
    }
    // The item, query, scan, batch, transaction and PartiQL methods reach AttributeValue.
    assert!(compatible > 10, "{compatible}");
}
