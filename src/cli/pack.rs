//! `iomod pack`: an IOmod package directory as a `.iomod` file.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct PackArgs {
    /// The package directory: `iomod.toml` and the entrypoint its `[process]` table names.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The package file to write [default: <coordinates>@<version>.iomod].
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

pub fn main(args: PackArgs) -> anyhow::Result<()> {
    let packed = iomod::package::pack(&args.dir, args.out.as_deref())?;
    println!(
        "{}: {} {} ({} files, {} bytes)",
        packed.path.display(),
        packed.manifest.coordinates,
        packed.manifest.version,
        packed.files,
        packed.bytes
    );
    Ok(())
}
