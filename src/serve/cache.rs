//! The compiled-module cache: a function's module is compiled once per wasm file, wasmtime version and
//! engine configuration, and later starts load the compiled code from disk.
//!
//! An entry is named `<sha256 of the wasm>-<engine compatibility key>.cwasm`, so a changed module, another
//! wasmtime or other engine settings never meet an old entry. Loading compiled code means trusting it, so
//! the cache lives in a directory only this user may write (mode 0700, checked before use), each entry
//! carries a SHA-256 of its contents that is verified before wasmtime sees it, and entries are written to a
//! temporary file and renamed into place (a reader never sees half an entry). An entry that fails any check
//! is compiled again and replaced.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tracing::{debug, warn};
use wasmtime::Module;

use crate::host::{Host, RunError};

/// The first bytes of every entry.
const MAGIC: &[u8; 16] = b"iomod-cwasm-v1\n\0";

/// Where compiled modules are kept.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: PathBuf,
}

/// How a module was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Compiled, and stored for next time.
    Compiled,
    /// Compiled; the cache is off or could not be used.
    Uncached,
    /// The manifest named a precompiled module (see [`load_precompiled`]).
    Precompiled,
}

impl ModuleCache {
    /// A cache in `dir` (created on first use, mode 0700).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$IOMOD_CACHE_DIR`, else `$XDG_CACHE_HOME/iomod/modules`, else `~/.cache/iomod/modules`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var("IOMOD_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        let base = match var("XDG_CACHE_HOME") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(var("HOME")?).join(".cache"),
        };
        Some(base.join("iomod").join("modules"))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry of `wasm` for `host`'s engine.
    pub fn entry_path(&self, host: &Host, wasm: &[u8]) -> PathBuf {
        let digest = hex(&Sha256::digest(wasm));
        self.dir
            .join(format!("{digest}-{}.cwasm", host.compatibility_key()))
    }

    /// The compiled `wasm`: from the cache when a sound entry is there, else compiled (and stored).
    pub fn load(&self, host: &Host, wasm: &[u8]) -> Result<(Module, CacheOutcome), RunError> {
        if let Err(why) = self.check_dir() {
            warn!(dir = %self.dir.display(), why, "not using the module cache");
            return Ok((host.compile(wasm)?, CacheOutcome::Uncached));
        }
        let path = self.entry_path(host, wasm);
        match std::fs::read(&path) {
            Ok(bytes) => match verified(&bytes) {
                Some(artifact) => {
                    // SAFETY: the entry was written by `store` into a directory only this user can write,
                    // and its checksum matches: these are the bytes `Host::precompile` produced for an
                    // engine with the same compatibility key (wasmtime checks that too).
                    match unsafe { host.deserialize(artifact) } {
                        Ok(module) => {
                            debug!(path = %path.display(), "compiled module loaded from the cache");
                            return Ok((module, CacheOutcome::Hit));
                        }
                        Err(e) => {
                            warn!(path = %path.display(), error = %e, "cache entry refused; compiling again")
                        }
                    }
                }
                None => warn!(path = %path.display(), "cache entry is corrupt; compiling again"),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!(path = %path.display(), error = %e, "cannot read the cache entry"),
        }
        match self.store(host, wasm) {
            Ok((_, artifact)) => {
                // SAFETY: `Host::precompile` produced these bytes a moment ago, in this process.
                let module = unsafe { host.deserialize(&artifact) }?;
                Ok((module, CacheOutcome::Compiled))
            }
            Err(StoreError::Compile(e)) => Err(e),
            Err(StoreError::Io(e)) => {
                warn!(dir = %self.dir.display(), error = %e, "cannot write to the module cache");
                Ok((host.compile(wasm)?, CacheOutcome::Uncached))
            }
        }
    }

    /// Compiles `wasm` and writes its entry (replacing any); returns the entry's path and the compiled code.
    pub fn store(&self, host: &Host, wasm: &[u8]) -> Result<(PathBuf, Vec<u8>), StoreError> {
        let artifact = host.precompile(wasm).map_err(StoreError::Compile)?;
        self.prepare_dir().map_err(StoreError::Io)?;
        let path = self.entry_path(host, wasm);
        let mut temp = tempfile_in(&self.dir).map_err(StoreError::Io)?;
        let written = temp
            .1
            .write_all(&precompiled_bytes(&artifact))
            .and_then(|()| temp.1.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp.0);
            return Err(StoreError::Io(e));
        }
        if let Err(e) = std::fs::rename(&temp.0, &path) {
            let _ = std::fs::remove_file(&temp.0);
            return Err(StoreError::Io(e));
        }
        Ok((path, artifact))
    }

    fn prepare_dir(&self) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        if !self.dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)?;
        }
        self.check_dir().map_err(std::io::Error::other)
    }

    /// The directory is ours and nobody else may write to it (when it exists).
    fn check_dir(&self) -> Result<(), String> {
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::metadata(&self.dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        let me = std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(0);
        if !meta.is_dir() {
            return Err("it is not a directory".into());
        }
        if meta.uid() != me {
            return Err(format!(
                "it belongs to uid {}, not to this user",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(format!(
                "others may write to it (mode {:o}); make it 0700",
                meta.mode() & 0o777
            ));
        }
        Ok(())
    }
}

/// Why [`ModuleCache::store`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The module does not compile.
    #[error(transparent)]
    Compile(RunError),
    /// The cache directory or the entry could not be written.
    #[error("cannot write the cache entry: {0}")]
    Io(std::io::Error),
}

/// Compiled code in the entry format: the magic, the SHA-256 of the code, the code. Cache entries and the
/// precompiled module of a function bundle (`iomod bundle`) are such files.
pub fn precompiled_bytes(artifact: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(MAGIC.len() + 32 + artifact.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&Sha256::digest(artifact));
    bytes.extend_from_slice(artifact);
    bytes
}

/// Whether `bytes` claim to be a precompiled module (they start with the entry format's magic).
pub fn is_precompiled(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Loads a precompiled module (see [`precompiled_bytes`]) that a function manifest names: its checksum is
/// verified, and wasmtime refuses code compiled by another version or for other engine settings.
///
/// A manifest is trusted like the programs it may start: name only precompiled files you built.
pub fn load_precompiled(host: &Host, bytes: &[u8]) -> Result<Module, RunError> {
    let artifact = verified(bytes).ok_or_else(|| {
        RunError::InvalidModule(
            "the precompiled module is corrupt (its checksum does not match)".into(),
        )
    })?;
    // SAFETY: the file is named by the function's manifest, which is trusted like the IOmod programs it
    // starts; its checksum matches, and wasmtime checks that it was compiled for this engine.
    unsafe { host.deserialize(artifact) }.map_err(|e| {
        RunError::InvalidModule(format!(
            "the precompiled module does not fit this runtime (compiled by another iomod or wasmtime, or for \
             other engine settings; build it again with this iomod): {e}"
        ))
    })
}

/// The artifact inside an entry, if the entry is whole.
fn verified(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(&MAGIC[..])?;
    if rest.len() < 32 {
        return None;
    }
    let (checksum, artifact) = rest.split_at(32);
    (Sha256::digest(artifact).as_slice() == checksum).then_some(artifact)
}

/// A new file (mode 0600) in `dir` with a unique name.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    loop {
        let path = dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const WAT: &str = r#"(module (memory (export "memory") 1)
        (func (export "iomod_alloc") (param i32) (result i32) (i32.const 0))
        (func (export "iomod_main") (param i32 i32) (result i64) (i64.const 0)))"#;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("iomod-cache-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn compiles_once_then_loads_and_recompiles_corrupt_entries() {
        let dir = temp_dir("basic");
        let cache = ModuleCache::new(&dir);
        let host = Host::new().unwrap();
        let (_, first) = cache.load(&host, WAT.as_bytes()).unwrap();
        assert_eq!(first, CacheOutcome::Compiled);
        let (_, second) = cache.load(&host, WAT.as_bytes()).unwrap();
        assert_eq!(second, CacheOutcome::Hit);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );

        // A flipped byte in the compiled code is caught by the checksum, never loaded.
        let entry = cache.entry_path(&host, WAT.as_bytes());
        let mut bytes = std::fs::read(&entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&entry, &bytes).unwrap();
        let (_, third) = cache.load(&host, WAT.as_bytes()).unwrap();
        assert_eq!(third, CacheOutcome::Compiled);
        // Truncated and foreign files too.
        std::fs::write(&entry, b"iomod-cwasm-v1\n\0short").unwrap();
        assert_eq!(
            cache.load(&host, WAT.as_bytes()).unwrap().1,
            CacheOutcome::Compiled
        );
        std::fs::write(&entry, b"\0asm garbage").unwrap();
        assert_eq!(
            cache.load(&host, WAT.as_bytes()).unwrap().1,
            CacheOutcome::Compiled
        );
        assert_eq!(
            cache.load(&host, WAT.as_bytes()).unwrap().1,
            CacheOutcome::Hit
        );
        // Only the entry is left: no temporary files.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_others_may_write_to_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("shared");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let cache = ModuleCache::new(&dir);
        let host = Host::new().unwrap();
        let (_, outcome) = cache.load(&host, WAT.as_bytes()).unwrap();
        assert_eq!(outcome, CacheOutcome::Uncached);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "nothing written there"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn invalid_wasm_is_an_error_not_an_entry() {
        let dir = temp_dir("invalid");
        let cache = ModuleCache::new(&dir);
        let host = Host::new().unwrap();
        assert!(matches!(
            cache.load(&host, b"not wasm"),
            Err(RunError::InvalidModule(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
