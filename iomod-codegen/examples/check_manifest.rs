//! Checks a manifest and prints what it describes, or every problem found: `cargo run -p iomod-codegen
//! --example check_manifest -- path/to/iomod.toml`.
#![allow(clippy::print_stdout)]

fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: check_manifest <iomod.toml>");
        return std::process::ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{path}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match iomod_codegen::Manifest::parse(&path, &text) {
        Ok(m) => {
            println!(
                "{} {}: {} types, {} errors, {} methods",
                m.coordinates,
                m.version,
                m.types.len(),
                m.errors.len(),
                m.methods.len()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            std::process::ExitCode::FAILURE
        }
    }
}
