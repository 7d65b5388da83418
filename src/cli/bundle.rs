//! `iomod bundle`: a function as an AWS Lambda deployment package (bootstrap, manifest, precompiled module).
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct BundleArgs {
    /// The function manifest.
    #[arg(default_value = "function.toml")]
    pub manifest: PathBuf,
    /// The bundle zip to write.
    #[arg(short, long)]
    pub out: PathBuf,
    /// The runtime binary to bundle as `bootstrap` [default: this iomod]. The module is compiled by this
    /// iomod, so the bootstrap must be the same iomod version (built for Lambda's target).
    #[arg(long)]
    pub bootstrap: Option<PathBuf>,
}

pub fn main(args: BundleArgs) -> anyhow::Result<()> {
    let bootstrap = match args.bootstrap {
        Some(path) => path,
        None => std::env::current_exe().context("cannot find this iomod's binary")?,
    };
    let bundle = iomod::lambda::artifacts::bundle(&args.manifest, &bootstrap, &args.out)?;
    println!(
        "{}: function `{}`, {} bytes (bootstrap {} bytes, precompiled module {} bytes)",
        args.out.display(),
        bundle.name,
        bundle.bytes,
        bundle.bootstrap_bytes,
        bundle.module_bytes
    );
    Ok(())
}
