//! Generates the IOmod's host skeleton from `iomod.toml`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    iomod_codegen::configure()
        .parent_module(&["generated"])
        .host_serde(true)
        .generate()?;
    Ok(())
}
