//! Compiles `echo.capnp` with the embedded Cap'n Proto compiler. Its import of the runtime protocol
//! (`/iomod.capnp`) resolves to the types `iomod-sdk` already provides.

use std::collections::HashMap;
use std::path::PathBuf;

/// The file id of `schemas/iomod.capnp`.
const PROTOCOL_FILE_ID: u64 = 0x84ba_41fc_eea5_8774;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let schemas = dir.join("../../schemas");
    println!("cargo:rerun-if-changed=echo.capnp");
    println!(
        "cargo:rerun-if-changed={}",
        schemas.join("iomod.capnp").display()
    );
    let request = capnpc_embedded::CompileCommand::new()
        .src_prefix(&dir)
        .import_path(&schemas)
        .file(dir.join("echo.capnp"))
        .compile()?;
    capnpc::codegen::CodeGenerationCommand::new()
        .output_directory(std::env::var("OUT_DIR")?)
        .crates_provide_map(HashMap::from([(PROTOCOL_FILE_ID, "iomod_sdk".to_owned())]))
        .run(&request[..])?;
    Ok(())
}
