//! Generates the host skeleton of every version of the evolving IOmod into OUT_DIR: `v1`, `v2` and each
//! breaking change of `src/cases.rs`, and `variants.rs`, which declares their modules.

include!("src/cases.rs");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo::rerun-if-changed=src/cases.rs");
    let v1 = std::fs::read_to_string(here.join("manifests/v1.toml"))?;
    let v2 = std::fs::read_to_string(here.join("manifests/v2.toml"))?;
    let mut versions = vec![("v1".to_owned(), v1.clone()), ("v2".to_owned(), v2)];
    for (name, from, to, _, _) in BREAKING {
        assert!(v1.contains(from), "{name}: v1.toml has no `{from}`");
        let text = v1
            .replacen(from, to, 1)
            .replace("version = \"1.0.0\"", "version = \"2.0.0\"");
        versions.push(((*name).to_owned(), text));
    }
    let mut modules = String::new();
    for (name, text) in &versions {
        let dir = out.join(name);
        std::fs::create_dir_all(&dir)?;
        let manifest = dir.join("iomod.toml");
        iomod_codegen::write_if_changed(&manifest, text)?;
        iomod_codegen::configure()
            .manifest(&manifest)
            .out_dir(&dir)
            .parent_module(&[name.as_str()])
            // Versions made here on purpose move members: no lock.
            .verify_lock(false)
            .generate()
            .map_err(|e| format!("{name}: {e}"))?;
        modules.push_str(&format!(
            "/// The evolving IOmod, version `{name}`.\npub mod {name} {{\n    include!(concat!(env!(\"OUT_DIR\"), \"/{name}/evolving.rs\"));\n}}\n\n"
        ));
    }
    // The breaking versions implement nothing: calls from older guests never reach them.
    modules.push_str("/// Serves the breaking version `name` (its methods unimplemented), if there is one.\npub async fn serve_breaking(name: &str) -> Option<Result<(), iomod_sdk::Error>> {\n    match name {\n");
    for (name, ..) in BREAKING {
        modules.push_str(&format!(
            "        \"{name}\" => {{\n            struct Unimplemented;\n            impl {name}::evolving::Evolving for Unimplemented {{}}\n            Some(iomod_sdk::serve({name}::evolving::service(Unimplemented)).await)\n        }}\n"
        ));
    }
    modules.push_str("        _ => None,\n    }\n}\n");
    iomod_codegen::write_if_changed(&out.join("variants.rs"), &modules)?;
    Ok(())
}
