//! Compiles the runtime protocol (`schemas/iomod.capnp`) with the embedded Cap'n Proto compiler, so neither
//! this crate nor its users need a system `capnp` binary.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let schemas = manifest_dir.join("..").join("schemas");
    let schema = schemas.join("iomod.capnp");
    println!("cargo:rerun-if-changed={}", schema.display());
    if !schema.is_file() {
        return Err(format!(
            "the protocol schema is missing: expected {}; build iomod-sdk from the iomod workspace",
            schema.display()
        )
        .into());
    }
    let request = capnpc_embedded::CompileCommand::new()
        .src_prefix(&schemas)
        .file(&schema)
        .compile()?;
    capnpc::codegen::CodeGenerationCommand::new()
        .output_directory(std::env::var("OUT_DIR")?)
        .run(&request[..])?;
    Ok(())
}
