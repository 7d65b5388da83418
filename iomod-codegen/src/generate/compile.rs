//! Runs the embedded Cap'n Proto compiler on a generated schema: it proves the schema valid and yields
//! the Rust code (capnpc-rust) that the host skeleton and the guest crate embed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::generate::GenerateError;

/// The file id of `schemas/iomod.capnp`: generated code refers to its types in `iomod_sdk::iomod_capnp`.
const PROTOCOL_FILE_ID: u64 = 0x84ba_41fc_eea5_8774;

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, GenerateError> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "iomod-codegen-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("out")).map_err(|e| io(&dir, e))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn io(path: &Path, e: std::io::Error) -> GenerateError {
    GenerateError::Capnp(format!("{}: {e}", path.display()))
}

/// Compiles `schema` (the text of `<module>.capnp`) into a `CodeGeneratorRequest`.
pub(crate) fn compile(module: &str, schema: &str) -> Result<Vec<u8>, GenerateError> {
    let scratch = Scratch::new()?;
    let file = scratch.0.join(format!("{module}.capnp"));
    std::fs::write(&file, schema).map_err(|e| io(&file, e))?;
    let protocol = scratch.0.join("iomod.capnp");
    std::fs::write(&protocol, iomod_sdk::PROTOCOL_SCHEMA).map_err(|e| io(&protocol, e))?;
    let request = capnpc_embedded::CompileCommand::new()
        .src_prefix(&scratch.0)
        .import_path(&scratch.0)
        .file(&file)
        .compile()
        .map_err(|e| GenerateError::Capnp(format!("the generated schema does not compile: {e}")))?;
    Ok(request)
}

/// capnpc-rust's output for a compiled schema, with module paths rooted at `parent_module` (empty: the
/// crate root).
pub(crate) fn rust_code(
    module: &str,
    request: &[u8],
    parent_module: &[String],
) -> Result<String, GenerateError> {
    let scratch = Scratch::new()?;
    let out = scratch.0.join("out");
    capnpc::codegen::CodeGenerationCommand::new()
        .output_directory(&out)
        .default_parent_module(parent_module.to_vec())
        .crates_provide_map(HashMap::from([(PROTOCOL_FILE_ID, "iomod_sdk".to_owned())]))
        .run(request)
        .map_err(|e| {
            GenerateError::Capnp(format!("capnpc-rust failed on the generated schema: {e}"))
        })?;
    let generated = out.join(format!("{module}_capnp.rs"));
    std::fs::read_to_string(&generated).map_err(|e| io(&generated, e))
}
