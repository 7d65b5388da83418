//! The build-script front end, in the style of `tonic-build` and `capnpc`:
//!
//! ```no_run
//! // build.rs of an IOmod crate
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     iomod_codegen::configure().manifest("iomod.toml").generate()?;
//!     Ok(())
//! }
//! // src/main.rs: iomod_sdk::include_host!("dynamodb"); then `dynamodb::service(MyImpl)`.
//! ```

use std::path::{Path, PathBuf};

use crate::{Diagnostics, GenerateError, GeneratedFiles, Manifest, Names, Options};

/// Why a build step failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The manifest could not be read.
    #[error("cannot read the manifest {path}: {source}")]
    Read {
        /// The manifest's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is invalid (every problem is listed).
    #[error("{0}")]
    Manifest(#[from] Diagnostics),
    /// Generation failed.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// A generated file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The previous release's manifest could not be read.
    #[error("the previous manifest: {0}")]
    Previous(#[from] crate::breaking::LoadError),
    /// The version does not fit the changes since the previous release's manifest.
    #[error("{0}")]
    Version(Diagnostics),
    /// A member moved from the ordinal `iomod.lock` records (or the lock does not read).
    #[error("{0}")]
    Lock(Diagnostics),
    /// No output directory: not running in a build script and none was given.
    #[error("no output directory: set one with .out_dir(..), or run from a build script (OUT_DIR)")]
    NoOutDir,
}

/// Starts configuring generation for a build script.
pub fn configure() -> Builder {
    Builder::default()
}

/// Configures what a build script generates. See [`configure`].
#[derive(Debug, Clone, Default)]
pub struct Builder {
    manifest: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    guest_dir: Option<PathBuf>,
    options: Options,
    emit_rerun: Option<bool>,
    previous: Option<String>,
    /// Do not verify `iomod.lock` (manifests that tests derive on the fly).
    skip_lock: bool,
}

/// What a build step produced.
#[derive(Debug)]
pub struct Generated {
    /// The validated manifest.
    pub manifest: Manifest,
    /// Every generated file, by path relative to its output directory.
    pub files: GeneratedFiles,
    /// The host file written into the output directory (`<out_dir>/<module>.rs`).
    pub host_file: PathBuf,
}

impl Builder {
    /// The manifest to read (default `iomod.toml` in the crate's directory).
    pub fn manifest(mut self, path: impl Into<PathBuf>) -> Self {
        self.manifest = Some(path.into());
        self
    }

    /// Where to write the host file, the schema and the JSON Schemas (default `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Also write the guest crate into `dir` (for example a checked-in `guest/` directory).
    pub fn guest_crate_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.guest_dir = Some(dir.into());
        self
    }

    /// The module path where the host file is included, when not the crate root (for example
    /// `["generated"]` for `mod generated { iomod_sdk::include_host!(..); }`).
    pub fn parent_module(mut self, path: &[&str]) -> Self {
        self.options.host_parent_module = path.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// The guest crate's `iomod-sdk` dependency, as TOML (default: this generator's version).
    pub fn guest_sdk_dependency(mut self, toml: impl Into<String>) -> Self {
        self.options.guest_sdk_dependency = toml.into();
        self
    }

    /// Whether the IOmod answers JSON calls (`iomod call`): serde's traits on the host types and
    /// `Service::call_json` (default: yes). The SDK provides serde; the crate needs no dependency for it.
    pub fn json_calls(mut self, yes: bool) -> Self {
        self.options.host_serde = yes;
        self
    }

    /// The same as [`Builder::json_calls`].
    pub fn host_serde(mut self, yes: bool) -> Self {
        self.options.host_serde = yes;
        self
    }

    /// The previous release's manifest (a path, or `git:REF:path`): generation fails when the manifest's
    /// version does not fit the changes since (a break needs a new major version, an addition a new minor
    /// one; see `iomod-codegen breaking`).
    pub fn previous(mut self, path: impl Into<String>) -> Self {
        self.previous = Some(path.into());
        self
    }

    /// Whether to verify the manifest against its `iomod.lock` (default: yes). Turn it off only for
    /// manifests made on the fly, such as the versions a test derives from another manifest, whose members
    /// move on purpose.
    pub fn verify_lock(mut self, verify: bool) -> Self {
        self.skip_lock = !verify;
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (default: when running in a build script).
    pub fn emit_rerun_if_changed(mut self, emit: bool) -> Self {
        self.emit_rerun = Some(emit);
        self
    }

    /// Reads, validates and generates; writes only files whose contents changed.
    pub fn generate(self) -> Result<Generated, BuildError> {
        let in_build_script = std::env::var_os("OUT_DIR").is_some()
            && std::env::var_os("CARGO_MANIFEST_DIR").is_some();
        let manifest_path = match self.manifest {
            Some(path) => path,
            None => PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
                .join("iomod.toml"),
        };
        if self.emit_rerun.unwrap_or(in_build_script) {
            rerun_if_changed(&manifest_path);
        }
        let text = std::fs::read_to_string(&manifest_path).map_err(|source| BuildError::Read {
            path: manifest_path.clone(),
            source,
        })?;
        let manifest = Manifest::parse(&manifest_path.display().to_string(), &text)?;
        let emit = self.emit_rerun.unwrap_or(in_build_script);
        let lock_path = manifest_path.with_file_name(crate::lock::FILE_NAME);
        if emit {
            rerun_if_changed(&lock_path);
        }
        // Only verified: a build script writes nothing into the source tree.
        let update = format!(
            "run `iomod-codegen lock {}` to record them",
            manifest_path.display()
        );
        match std::fs::read_to_string(&lock_path) {
            _ if self.skip_lock => {}
            Ok(lock) => {
                let verified = crate::lock::verify(
                    &manifest_path.display().to_string(),
                    &text,
                    &manifest,
                    &lock_path.display().to_string(),
                    &lock,
                )
                .map_err(BuildError::Lock)?;
                if emit && !verified.missing.is_empty() {
                    warning(&format!(
                        "{} lacks {}: {update}",
                        lock_path.display(),
                        verified.missing.join(", ")
                    ));
                }
            }
            Err(_) if emit => warning(&format!(
                "no {} records the ordinals of the manifest's members: {update}",
                lock_path.display()
            )),
            Err(_) => {}
        }
        if let Some(previous) = &self.previous {
            if self.emit_rerun.unwrap_or(in_build_script) && !previous.starts_with("git:") {
                rerun_if_changed(Path::new(previous));
            }
            let old = crate::breaking::Side::load(previous)?;
            let new = crate::breaking::Side {
                file: manifest_path.display().to_string(),
                source: text.clone(),
                manifest: manifest.clone(),
            };
            crate::breaking::check_version(&old, &new, crate::breaking::Level::Json)
                .map_err(BuildError::Version)?;
        }
        let files = crate::generate(&manifest, &self.options)?;
        let out_dir = match self.out_dir {
            Some(dir) => dir,
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(BuildError::NoOutDir)?,
        };
        let module = Names::of(&manifest).module;
        let mut targets = Vec::new();
        for (path, contents) in &files {
            let target = match path.strip_prefix("guest") {
                Ok(rest) => match &self.guest_dir {
                    Some(dir) => dir.join(rest),
                    None => continue,
                },
                Err(_) => match path.strip_prefix("host") {
                    Ok(rest) => out_dir.join(rest),
                    Err(_) => out_dir.join(path),
                },
            };
            targets.push((target, contents.as_str()));
        }
        write_all_if_changed(&targets)?;
        Ok(Generated {
            manifest,
            files,
            host_file: out_dir.join(format!("{module}.rs")),
        })
    }
}

#[allow(clippy::print_stdout)] // the build-script protocol
fn rerun_if_changed(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}

#[allow(clippy::print_stdout)] // the build-script protocol
fn warning(message: &str) {
    println!("cargo:warning={message}");
}

/// Writes `contents` to `path` unless it already holds exactly that (so that unchanged outputs keep their
/// modification time and trigger no rebuild).
pub fn write_if_changed(path: &Path, contents: &str) -> Result<bool, BuildError> {
    if std::fs::read(path).is_ok_and(|old| old == contents.as_bytes()) {
        return Ok(false);
    }
    let error = |source| BuildError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(error)?;
    }
    std::fs::write(path, contents).map_err(error)?;
    Ok(true)
}

/// Writes every `(path, contents)` whose file does not already hold exactly that, all or none: each is
/// first written to a temporary file next to its target, and only when every one of them is written are
/// they renamed over their targets (a rename within a directory replaces a file whole). When a write fails
/// (a full disk, a file where a directory goes), the temporary files and the directories created for them
/// are removed and no target is touched. Returns how many files changed.
pub fn write_all_if_changed(files: &[(PathBuf, &str)]) -> Result<usize, BuildError> {
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let mut staged: Vec<(PathBuf, &Path)> = Vec::new();
    let cleanup = |staged: &[(PathBuf, &Path)], created_dirs: &[PathBuf]| {
        for (temporary, _) in staged {
            let _ = std::fs::remove_file(temporary);
        }
        // Deepest first; only the directories this call created, and only when empty.
        for dir in created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    };
    for (path, contents) in files {
        if std::fs::read(path).is_ok_and(|old| old == contents.as_bytes()) {
            continue;
        }
        let error = |source| BuildError::Write {
            path: path.clone(),
            source,
        };
        let mut stage = || -> Result<PathBuf, BuildError> {
            if let Some(dir) = path.parent() {
                let mut missing = Vec::new();
                let mut at = Some(dir);
                while let Some(d) = at {
                    if d.as_os_str().is_empty() || d.exists() {
                        break;
                    }
                    missing.push(d.to_path_buf());
                    at = d.parent();
                }
                std::fs::create_dir_all(dir).map_err(error)?;
                created_dirs.extend(missing.into_iter().rev());
            }
            let name = path.file_name().ok_or_else(|| {
                error(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a file path",
                ))
            })?;
            let mut temporary_name = std::ffi::OsString::from(".");
            temporary_name.push(name);
            temporary_name.push(format!(".iomod-codegen-{}.tmp", std::process::id()));
            let temporary = path.with_file_name(temporary_name);
            std::fs::write(&temporary, contents).map_err(|source| {
                let _ = std::fs::remove_file(&temporary);
                error(source)
            })?;
            Ok(temporary)
        };
        match stage() {
            Ok(temporary) => staged.push((temporary, path.as_path())),
            Err(e) => {
                cleanup(&staged, &created_dirs);
                return Err(e);
            }
        }
    }
    let changed = staged.len();
    for (i, (temporary, path)) in staged.iter().enumerate() {
        if let Err(source) = std::fs::rename(temporary, path) {
            // Only when a rename fails can some targets be replaced and others not.
            cleanup(&staged[i..], &[]);
            return Err(BuildError::Write {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    Ok(changed)
}
