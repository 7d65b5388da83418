//! `iomod-codegen breaking`: pairs of manifests (v1 → v2), each change reported with its category and its
//! place in both files; the version-bump rules; the command line, with `git:REF:path`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use iomod_codegen::Diagnostics;
use iomod_codegen::breaking::{Change, Level, Report, Side, compare};

const V1: &str = r#"[iomod]
coordinates = "example.test.store"
version = "1.2.0"

[types.Item]
doc = "An item."
fields = { id = "string", count = "i32", tags = "list<string>", status = "Status", shape = "Shape", size = "option<u32>", note = "string" }

[types.Status]
enum = ["active", "archived", "deleted"]

[types.Shape]
union = { none = "void", circle = "f64", square = "f64" }

[errors.NotFound]
fields = { key = "string" }

[errors.Throttled]
doc = "Slow down."

[methods.get]
input = { id = "string" }
output = "Item"
errors = ["NotFound", "Throttled"]

[methods.put]
input = { item = "Item" }
errors = ["Throttled"]

[methods.delete]
input = { id = "string" }
"#;

fn side(file: &str, text: &str) -> Side {
    Side::parse(file, text).unwrap_or_else(|d| panic!("{d}"))
}

fn report(v2: &str) -> Report {
    compare(&side("v1.toml", V1), &side("v2.toml", v2))
}

/// `line:col` of a span in `text`.
fn at(text: &str, span: &Option<std::ops::Range<usize>>) -> Option<String> {
    let d = Diagnostics {
        file: String::new(),
        source: text.to_owned(),
        items: Vec::new(),
    };
    span.as_ref().map(|s| {
        let (line, col) = d.line_col(s.start);
        format!("{line}:{col}")
    })
}

/// The change whose message holds `fragment`, with its old and new positions.
fn find<'r>(report: &'r Report, fragment: &str) -> (&'r Change, Option<String>, Option<String>) {
    let change = report
        .changes
        .iter()
        .find(|c| c.message.contains(fragment))
        .unwrap_or_else(|| panic!("no change `{fragment}` in\n{}", report.render(Level::Json)));
    (
        change,
        at(&report.old.source, &change.old),
        at(&report.new.source, &change.new),
    )
}

fn edit(replacements: &[(&str, &str)]) -> String {
    let mut text = V1.to_owned();
    for (from, to) in replacements {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    text
}

#[test]
fn breaking_changes_are_reported_with_their_places_in_both_files() {
    // (what, edits, expected message, old position, new position)
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "changed field type",
            vec![(r#"count = "i32""#, r#"count = "i64""#)],
            "field `count` of `Item` changed type: `i32` → `i64`",
            Some("7:27"),
            Some("7:27"),
        ),
        (
            "removed field",
            vec![(r#", note = "string""#, "")],
            "field `note` of `Item` (ordinal 6) was removed",
            Some("7:123"),
            Some("5:8"),
        ),
        (
            "reordered fields",
            vec![(
                r#"id = "string", count = "i32""#,
                r#"count = "i32", id = "string""#,
            )],
            "field `id` of `Item` moved from ordinal 0 to 1",
            Some("7:12"),
            Some("7:12"),
        ),
        (
            "removed method",
            vec![("[methods.delete]\ninput = { id = \"string\" }\n", "")],
            "method `delete` was removed",
            Some("30:10"),
            None,
        ),
        (
            "renamed method",
            vec![("[methods.delete]", "[methods.remove]")],
            "method `delete` is now `remove`",
            Some("30:10"),
            Some("30:10"),
        ),
        (
            "removed enum value",
            vec![(r#", "deleted"]"#, "]")],
            "value `deleted` of `Status` (ordinal 2) was removed",
            Some("10:31"),
            Some("9:8"),
        ),
        (
            "removed union variant",
            vec![(r#", square = "f64""#, "")],
            "variant `square` of `Shape` (ordinal 2) was removed",
            Some("13:42"),
            Some("12:8"),
        ),
        (
            "removed named error",
            vec![("errors = [\"Throttled\"]\n", "")],
            "named error `Throttled` of `put` was removed",
            Some("28:12"),
            Some("26:10"),
        ),
        (
            "list instead of a scalar",
            vec![(r#"tags = "list<string>""#, r#"tags = "string""#)],
            "field `tags` of `Item` changed type: `list<string>` → `string`",
            Some("7:42"),
            Some("7:42"),
        ),
        (
            "option added to a number",
            vec![(r#"count = "i32""#, r#"count = "option<i32>""#)],
            "`i32` → `option<i32>`",
            Some("7:27"),
            Some("7:27"),
        ),
        (
            "option removed from a number",
            vec![(r#"size = "option<u32>""#, r#"size = "u32""#)],
            "`option<u32>` → `u32`",
            Some("7:101"),
            Some("7:101"),
        ),
        (
            "closed enum opened",
            vec![("[types.Status]\n", "[types.Status]\nopen = true\n")],
            "enum `Status` → open enum `Status`",
            Some("7:65"),
            Some("7:65"),
        ),
        (
            "method moved",
            vec![
                (
                    "[methods.put]\ninput = { item = \"Item\" }\nerrors = [\"Throttled\"]\n\n",
                    "",
                ),
                (
                    "[methods.get]",
                    "[methods.put]\ninput = { item = \"Item\" }\nerrors = [\"Throttled\"]\n\n[methods.get]",
                ),
            ],
            "method `put` moved from ordinal 1 to 0",
            Some("26:10"),
            Some("21:10"),
        ),
        (
            "coordinates changed",
            vec![("example.test.store", "example.test.shop")],
            "the coordinates `example.test.store` are now `example.test.shop`",
            Some("2:15"),
            Some("2:15"),
        ),
        (
            "error field type changed",
            vec![(r#"key = "string""#, r#"key = "bytes""#)],
            "field `key` of `NotFound` changed type",
            Some("16:12"),
            Some("16:12"),
        ),
    ];
    assert!(cases.len() >= 10);
    for (what, edits, message, old, new) in cases {
        let v2 = edit(&edits).replace("version = \"1.2.0\"", "version = \"2.0.0\"");
        let report = report(&v2);
        let (change, old_at, new_at) = find(&report, message);
        assert_eq!(change.category, Level::Wire, "{what}: {}", change.message);
        assert_eq!(
            (old_at.as_deref(), new_at.as_deref()),
            (old, new),
            "{what}: positions of `{}`",
            change.message
        );
        // The rendered report shows both places, under WIRE.
        let text = report.render(Level::Json);
        assert!(
            text.starts_with("WIRE (breaks Cap'n Proto callers):"),
            "{what}: {text}"
        );
        if let Some(old) = old {
            assert!(text.contains(&format!("v1.toml:{old}\n")), "{what}: {text}");
        }
        if let Some(new) = new {
            assert!(
                text.contains(&format!("--> v2.toml:{new}\n")),
                "{what}: {text}"
            );
        }
        // 2.0.0 is the major version a break needs.
        assert_eq!(report.version_problem(Level::Json), None, "{what}");
    }
}

#[test]
fn compatible_changes_are_not_breaking() {
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Option<(&'a str, Level)>);
    let cases: Vec<Case<'_>> = vec![
        (
            "new field at the end",
            vec![(
                r#"note = "string" }"#,
                r#"note = "string", extra = "option<u64>" }"#,
            )],
            Some(("new field `extra` of `Item` (ordinal 7)", Level::Compatible)),
        ),
        (
            "new method",
            vec![(
                "[methods.delete]\ninput = { id = \"string\" }\n",
                "[methods.delete]\ninput = { id = \"string\" }\n\n[methods.list]\n",
            )],
            None,
        ),
        (
            "new union variant",
            vec![(
                r#"square = "f64" }"#,
                r#"square = "f64", label = "string" }"#,
            )],
            Some((
                "new variant `label` of `Shape` (ordinal 3)",
                Level::Compatible,
            )),
        ),
        (
            "new enum value",
            vec![(r#""deleted"]"#, r#""deleted", "pending"]"#)],
            Some((
                "new value `pending` of `Status` (ordinal 3)",
                Level::Compatible,
            )),
        ),
        (
            "new named error",
            vec![
                (
                    "errors = [\"Throttled\"]\n",
                    "errors = [\"Throttled\", \"Full\"]\n",
                ),
                ("[methods.get]", "[errors.Full]\n\n[methods.get]"),
            ],
            Some(("new named error `Full` of `put`", Level::Compatible)),
        ),
        (
            "renamed field",
            vec![(r#"note = "string""#, r#"remark = "string""#)],
            Some((
                "field `note` of `Item` (ordinal 6) is now `remark`",
                Level::Json,
            )),
        ),
        (
            "renamed type",
            vec![
                ("[types.Shape]", "[types.Form]"),
                (r#"shape = "Shape""#, r#"shape = "Form""#),
            ],
            Some(("type `Shape` is now `Form`", Level::Compatible)),
        ),
        (
            "documentation",
            vec![
                ("doc = \"An item.\"", "doc = \"A stored item.\""),
                ("Slow down.", "Slow down, please."),
            ],
            None,
        ),
        (
            "option added to a text field",
            vec![(r#"id = "string", count"#, r#"id = "option<string>", count"#)],
            Some(("field `id` of `Item` became optional", Level::Compatible)),
        ),
    ];
    assert!(cases.len() >= 8);
    for (what, edits, expected) in cases {
        let v2 = edit(&edits).replace("version = \"1.2.0\"", "version = \"1.3.0\"");
        let report = report(&v2);
        assert_eq!(
            report.breaking(Level::Wire).count(),
            0,
            "{what}: {}",
            report.render(Level::Wire)
        );
        if let Some((message, category)) = expected {
            let (change, _, new_at) = find(&report, message);
            assert_eq!(change.category, category, "{what}");
            assert!(new_at.is_some(), "{what}: the new place");
        }
        if what == "new method" {
            let (change, old_at, new_at) = find(&report, "new method `list` (ordinal 3)");
            assert_eq!((old_at, new_at.as_deref()), (None, Some("33:10")));
            assert_eq!(change.category, Level::Compatible);
        }
        if what == "documentation" {
            assert!(report.changes.is_empty(), "{:?}", report.changes);
        }
        let rendered = report.render(Level::Wire);
        assert!(
            rendered.ends_with("0 breaking changes from v1.toml to v2.toml"),
            "{rendered}"
        );
    }
}

#[test]
fn a_type_shared_by_methods_is_reported_once() {
    // `Item` is reached from `get` (output) and `put` (input).
    let report = report(&edit(&[(r#"count = "i32""#, r#"count = "u32""#)]));
    let n = report
        .changes
        .iter()
        .filter(|c| c.message.contains("field `count` of `Item`"))
        .count();
    assert_eq!(n, 1, "{:?}", report.changes);
}

#[test]
fn the_version_must_fit_the_changes() {
    let problem = |old: &str, new: &str, edits: &[(&str, &str)]| {
        let v1 = V1.replace("1.2.0", old);
        let v2 = edit(edits).replace("1.2.0", new);
        compare(&side("v1.toml", &v1), &side("v2.toml", &v2))
            .version_problem(Level::Json)
            .map(|p| (p.message, at(&v2, &Some(p.span)).unwrap()))
    };
    let breaking = [(r#"count = "i32""#, r#"count = "i64""#)];
    let additive = [(r#""deleted"]"#, r#""deleted", "pending"]"#)];
    let renamed = [(r#"note = "string""#, r#"remark = "string""#)];
    let needs = |old, new, edits: &[(&str, &str)], version: &str| {
        let (message, position) =
            problem(old, new, edits).unwrap_or_else(|| panic!("{old} → {new}"));
        assert!(
            message.contains(&format!("needs version {version} or later")),
            "{message}"
        );
        assert_eq!(position, "3:11");
    };
    // A break: a new major version, a new minor one for 0.x.
    needs("1.2.0", "1.3.0", &breaking, "2.0.0");
    needs("1.2.0", "1.2.0", &breaking, "2.0.0");
    assert_eq!(problem("1.2.0", "2.0.0", &breaking), None);
    assert_eq!(problem("1.2.0", "3.0.0", &breaking), None);
    needs("0.3.1", "0.3.2", &breaking, "0.4.0");
    assert_eq!(problem("0.3.1", "0.4.0", &breaking), None);
    assert_eq!(problem("0.3.1", "1.0.0", &breaking), None);
    // A rename breaks JSON callers.
    needs("1.2.0", "1.3.0", &renamed, "2.0.0");
    // An addition: a new minor version, a new patch for 0.x; the same version is not enough.
    needs("1.2.0", "1.2.1", &additive, "1.3.0");
    needs("1.2.0", "1.2.0", &additive, "1.3.0");
    assert_eq!(problem("1.2.0", "1.3.0", &additive), None);
    needs("0.3.1", "0.3.1", &additive, "0.3.2");
    assert_eq!(problem("0.3.1", "0.3.2", &additive), None);
    // A pre-release of the needed version comes before it.
    needs("1.2.0", "2.0.0-beta.1", &breaking, "2.0.0");
    // No change: any version not older.
    assert_eq!(problem("1.2.0", "1.2.0", &[]), None);
    let (message, _) = problem("1.2.0", "1.1.0", &[]).unwrap();
    assert!(
        message.contains("older than the previous version 1.2.0"),
        "{message}"
    );
}

fn codegen(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iomod-codegen"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "iomod-codegen-breaking-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn the_command_compares_against_a_file_or_a_git_revision() {
    let dir = scratch("git");
    git(&dir, &["init", "-q"]);
    std::fs::create_dir_all(dir.join("store")).unwrap();
    std::fs::write(dir.join("store/iomod.toml"), V1).unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "v1"]);
    git(&dir, &["tag", "v1.2.0"]);
    std::fs::write(dir.join("v1.toml"), V1).unwrap();

    // The same manifest: nothing to report.
    let same = codegen(
        &dir,
        &[
            "breaking",
            "store/iomod.toml",
            "--against",
            "git:v1.2.0:store/iomod.toml",
        ],
    );
    let stdout = String::from_utf8_lossy(&same.stdout);
    assert_eq!(same.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("0 breaking changes from git:v1.2.0:store/iomod.toml to store/iomod.toml"),
        "{stdout}"
    );

    // A break without the major version: exit 1, both places, the version needed.
    let v2 = V1
        .replace(r#"count = "i32""#, r#"count = "i64""#)
        .replace("1.2.0", "1.3.0");
    std::fs::write(dir.join("store/iomod.toml"), &v2).unwrap();
    let run = codegen(
        &dir,
        &[
            "breaking",
            "store/iomod.toml",
            "--against",
            "git:HEAD:store/iomod.toml",
        ],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("WIRE (breaks Cap'n Proto callers):"),
        "{stdout}"
    );
    assert!(stdout.contains("--> store/iomod.toml:7:27\n"), "{stdout}");
    assert!(
        stdout.contains("::: git:HEAD:store/iomod.toml:7:27\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("needs version 2.0.0 or later\n  --> store/iomod.toml:3:11"),
        "{stdout}"
    );
    // Against a plain file, the same.
    let file = codegen(
        &dir,
        &["breaking", "store/iomod.toml", "--against", "v1.toml"],
    );
    assert_eq!(file.status.code(), Some(1));

    // A rename is WIRE_JSON: breaking by default, not with --category wire.
    let renamed = V1
        .replace(r#"note = "string""#, r#"remark = "string""#)
        .replace("1.2.0", "1.3.0");
    std::fs::write(dir.join("store/iomod.toml"), &renamed).unwrap();
    let run = codegen(
        &dir,
        &["breaking", "store/iomod.toml", "--against", "v1.toml"],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("WIRE_JSON (breaks JSON callers"),
        "{stdout}"
    );
    let run = codegen(
        &dir,
        &[
            "breaking",
            "store/iomod.toml",
            "--against",
            "v1.toml",
            "--category",
            "wire",
        ],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("compatible:\n  field `note` of `Item` (ordinal 6) is now `remark`"),
        "{stdout}"
    );

    // A bad revision, a missing file, and a manifest that does not parse on either side: exit 2 with why.
    let bad = codegen(
        &dir,
        &[
            "breaking",
            "store/iomod.toml",
            "--against",
            "git:nope:store/iomod.toml",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("`git show nope:store/iomod.toml` failed")
    );
    let bad = codegen(
        &dir,
        &["breaking", "store/iomod.toml", "--against", "git:HEAD"],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("write git:REF:path"));
    let bad = codegen(&dir, &["breaking", "absent.toml", "--against", "v1.toml"]);
    assert_eq!(bad.status.code(), Some(2));
    std::fs::write(dir.join("broken.toml"), V1.replace("\"i32\"", "\"int\"")).unwrap();
    for args in [
        ["breaking", "broken.toml", "--against", "v1.toml"],
        ["breaking", "v1.toml", "--against", "broken.toml"],
    ] {
        let bad = codegen(&dir, &args);
        assert_eq!(bad.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(
            stderr.contains("unknown type `int`") && stderr.contains("--> broken.toml:7:36"),
            "{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_and_the_builder_verify_the_version_against_the_previous_manifest() {
    let dir = scratch("previous");
    std::fs::write(dir.join("v1.toml"), V1).unwrap();
    let manifest = dir.join("iomod.toml");
    let added = edit(&[(r#""deleted"]"#, r#""deleted", "pending"]"#)]);
    std::fs::write(&manifest, &added).unwrap();
    let out = dir.join("generated");
    let (m, o) = (manifest.to_str().unwrap(), out.to_str().unwrap());
    assert!(codegen(&dir, &["generate", m, "--out", o]).status.success());
    // The same version with an addition: check fails at the version line.
    let check = codegen(&dir, &["check", m, "--out", o, "--previous", "v1.toml"]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("needs version 1.3.0 or later") && stderr.contains("iomod.toml:3:11"),
        "{stderr}"
    );
    let build = |previous: &str| {
        iomod_codegen::configure()
            .manifest(&manifest)
            .out_dir(&out)
            .previous(previous)
            .emit_rerun_if_changed(false)
            .generate()
    };
    let previous = dir.join("v1.toml");
    match build(previous.to_str().unwrap()) {
        Err(iomod_codegen::BuildError::Version(d)) => {
            assert!(
                d.to_string().contains("needs version 1.3.0 or later"),
                "{d}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        build(dir.join("absent.toml").to_str().unwrap()),
        Err(iomod_codegen::BuildError::Previous(_))
    ));
    // With the minor version, both pass.
    std::fs::write(&manifest, added.replace("1.2.0", "1.3.0")).unwrap();
    build(previous.to_str().unwrap()).unwrap();
    let check = codegen(
        &dir,
        &[
            "check",
            m,
            "--out",
            o,
            "--previous",
            "v1.toml",
            "--only",
            "schema",
        ],
    );
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
