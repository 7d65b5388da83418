//! Generates the IOmod's Rust code from `iomod.toml`: the host skeleton (in OUT_DIR, included by
//! src/lib.rs) and the guest crate in `guest/`, for the functions that call this IOmod.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    iomod_codegen::configure()
        .guest_crate_dir("guest")
        .guest_sdk_dependency(r#"{{sdk}}"#)
        .generate()?;
    Ok(())
}
