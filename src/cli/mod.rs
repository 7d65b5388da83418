//! The `iomod` commands, one module each, and what they share.

pub mod bundle;
pub mod call;
pub mod compile;
pub mod lambda;
pub mod layer;
pub mod ls;
pub mod new;
pub mod pack;
pub mod registry;
pub mod run;
pub mod serve;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use iomod::function::FunctionManifest;
use iomod::serve::cache::ModuleCache;

/// Options every command that loads functions takes.
#[derive(clap::Args, Debug, Clone)]
pub struct CacheArgs {
    /// Where compiled modules are kept [default: $IOMOD_CACHE_DIR, else $XDG_CACHE_HOME/iomod/modules,
    /// else ~/.cache/iomod/modules].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Compile every module at start, without the cache.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
}

impl CacheArgs {
    /// The cache to use, if any.
    pub fn cache(&self) -> Option<ModuleCache> {
        if self.no_cache {
            return None;
        }
        self.cache_dir
            .clone()
            .or_else(ModuleCache::default_dir)
            .map(ModuleCache::new)
    }
}

/// Reads function manifests: each path is a `function.toml`, or a directory holding one, or a directory
/// whose subdirectories hold them.
pub fn load_functions(paths: &[PathBuf]) -> anyhow::Result<Vec<FunctionManifest>> {
    let mut manifests = Vec::new();
    for path in paths {
        for file in manifest_files(path)? {
            manifests.push(FunctionManifest::load(&file)?);
        }
    }
    Ok(manifests)
}

fn manifest_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let direct = path.join("function.toml");
    if direct.is_file() {
        return Ok(vec![direct]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path().join("function.toml")))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    anyhow::ensure!(
        !found.is_empty(),
        "{} holds no function.toml, directly or in a subdirectory",
        path.display()
    );
    Ok(found)
}

/// Seconds from a command-line flag.
pub fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a non-negative number of seconds"))
}
