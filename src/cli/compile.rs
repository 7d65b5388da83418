//! `iomod compile`: compile functions' modules into the compiled-module cache ahead of time.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;
use iomod::serve::ServeConfig;

use super::CacheArgs;

#[derive(clap::Args, Debug)]
pub struct CompileArgs {
    /// Function manifests (`function.toml`), or directories of them.
    #[arg(required = true)]
    pub functions: Vec<PathBuf>,
    /// Where compiled modules are kept [default: $IOMOD_CACHE_DIR, else $XDG_CACHE_HOME/iomod/modules,
    /// else ~/.cache/iomod/modules]. `iomod serve` and `iomod run` load them from there.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

pub fn main(args: CompileArgs) -> anyhow::Result<()> {
    let functions = super::load_functions(&args.functions)?;
    let cache = CacheArgs {
        cache_dir: args.cache_dir,
        no_cache: false,
    }
    .cache()
    .context("no cache directory: pass --cache-dir or set IOMOD_CACHE_DIR or HOME")?;
    let host = iomod::serve::engine(&functions, &ServeConfig::default())?;
    for function in &functions {
        let wasm = std::fs::read(&function.module)
            .with_context(|| format!("cannot read {}", function.module.display()))?;
        let (path, _) = cache
            .store(&host, &wasm)
            .with_context(|| format!("function `{}`", function.name))?;
        println!("{}: {}", function.name, path.display());
    }
    Ok(())
}
