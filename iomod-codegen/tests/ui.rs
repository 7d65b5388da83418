//! Bad manifests: each `tests/ui/<case>.toml` must fail with exactly the messages in `<case>.stderr`.
//! Refresh the expectations with `IOMOD_BLESS=1 cargo test -p iomod-codegen --test ui`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn bad_manifests_report_every_problem_with_its_position() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let bless = std::env::var_os("IOMOD_BLESS").is_some_and(|v| v == "1");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 25,
        "expected at least 25 bad manifests, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in cases {
        let name = format!("tests/ui/{}", case.file_name().unwrap().to_string_lossy());
        let text = std::fs::read_to_string(&case).unwrap();
        let rendered = match iomod_codegen::Manifest::parse(&name, &text) {
            Ok(_) => {
                failures.push(format!("{name}: parsed without errors"));
                continue;
            }
            Err(diagnostics) => {
                assert!(!diagnostics.items.is_empty());
                format!("{diagnostics}\n")
            }
        };
        let expected_path = case.with_extension("stderr");
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
                "{name}: no {} (bless with IOMOD_BLESS=1)",
                expected_path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
