//! Generates the host skeleton of every code-generator fixture into OUT_DIR, each for its own module.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../iomod-codegen/tests/fixtures");
    for (case, module) in [
        ("primitives", "fixture_primitives"),
        ("recursive", "fixture_recursive"),
        ("errors", "fixture_errors"),
        ("assemblylift", "fixture_assemblylift"),
        ("keywords", "fixture_keywords"),
    ] {
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join(case);
        iomod_codegen::configure()
            .manifest(fixtures.join(case).join("iomod.toml"))
            .out_dir(out)
            .parent_module(&[module])
            .host_serde(true)
            .generate()
            .map_err(|e| format!("{case}: {e}"))?;
    }
    // One fixture without the JSON call path (`json_calls(false)`), so that variant compiles too.
    iomod_codegen::configure()
        .manifest(fixtures.join("errors").join("iomod.toml"))
        .out_dir(std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("errors-plain"))
        .parent_module(&["fixture_errors_plain"])
        .json_calls(false)
        .generate()
        .map_err(|e| format!("errors (no JSON calls): {e}"))?;
    // Every keyword as a name, without the JSON call path too.
    iomod_codegen::configure()
        .manifest(fixtures.join("keywords").join("iomod.toml"))
        .out_dir(std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("keywords-plain"))
        .parent_module(&["fixture_keywords_plain"])
        .json_calls(false)
        .generate()
        .map_err(|e| format!("keywords (no JSON calls): {e}"))?;
    // The reference DynamoDB IOmod's manifest: the largest real one.
    iomod_codegen::configure()
        .manifest(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../iomods/dynamodb/iomod.toml"),
        )
        .out_dir(std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("dynamodb"))
        .parent_module(&["dynamodb_manifest"])
        .host_serde(true)
        .generate()
        .map_err(|e| format!("dynamodb: {e}"))?;
    Ok(())
}
