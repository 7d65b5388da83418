//! `iomod layer`: IOmod packages as an AWS Lambda layer (`iomod/<coordinates>@<version>.iomod`).
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct LayerArgs {
    /// The packages: `.iomod` files or package directories.
    #[arg(required = true)]
    pub packages: Vec<PathBuf>,
    /// The layer zip to write.
    #[arg(short, long)]
    pub out: PathBuf,
}

pub fn main(args: LayerArgs) -> anyhow::Result<()> {
    let layer = iomod::lambda::artifacts::layer(&args.packages, &args.out)?;
    for package in &layer.packages {
        println!("iomod/{}", package.file_name());
    }
    println!("{}: {} bytes", args.out.display(), layer.bytes);
    Ok(())
}
