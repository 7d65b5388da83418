//! The function manifest (`function.toml`): the wasm module, its limits, and the IOmods it depends on, in
//! the spirit of AssemblyLift's `[iomod.dependencies]`.
//!
//! ```toml
//! [function]
//! module = "target/wasm32-unknown-unknown/release/todo.wasm"   # relative to this file
//! time_budget_ms = 30000                                         # optional limits
//! memory_limit_mb = 64
//! call_timeout_ms = 10000
//! max_payload_bytes = 16777216                                   # input, output, call input and result
//! max_table_elements = 10000                                     # elements of each table
//! max_pending_calls = 1024                                       # calls started and not read yet
//! max_pending_bytes = 67108864                                   # their inputs in flight and unread results
//!
//! [iomod.dependencies.dynamodb]
//! coordinates = "example.aws.dynamodb"
//! package = "../iomods/dynamodb"        # a package directory (iomod.toml + entrypoint), or:
//! # entrypoint = "bin/iomod-dynamodb"   # a program, with optional `arguments`
//! ```
//!
//! A dependency with neither `package` nor `entrypoint` must already be registered with the registry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use iomod_sdk::{Coordinates, Error, ErrorCode};
use serde::Deserialize;

use crate::host::FunctionConfig;
use crate::supervisor::IomodProcess;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    function: RawFunction,
    #[serde(default)]
    iomod: RawIomods,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    module: String,
    #[serde(default)]
    name: Option<String>,
    time_budget_ms: Option<u64>,
    memory_limit_mb: Option<u64>,
    call_timeout_ms: Option<u64>,
    max_payload_bytes: Option<u64>,
    max_table_elements: Option<u64>,
    max_pending_calls: Option<u64>,
    max_pending_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIomods {
    #[serde(default)]
    dependencies: BTreeMap<String, RawDependency>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDependency {
    coordinates: String,
    #[serde(default)]
    version: Option<String>,
    package: Option<String>,
    entrypoint: Option<String>,
    #[serde(default)]
    arguments: Vec<String>,
}

/// A parsed `function.toml`.
#[derive(Debug, Clone)]
pub struct FunctionManifest {
    /// The function's name (the file's directory name when not given).
    pub name: String,
    /// The wasm module (binary or text).
    pub module: PathBuf,
    /// Limits and the allow-list, from the manifest.
    pub config: FunctionConfig,
    /// The IOmods to start (dependencies with a package or an entrypoint).
    pub processes: Vec<IomodProcess>,
}

impl FunctionManifest {
    /// Reads and checks `path`; relative paths in it are relative to its directory.
    pub fn load(path: &Path) -> Result<FunctionManifest, Error> {
        let invalid =
            |m: String| Error::new(ErrorCode::InvalidInput, format!("{}: {m}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let raw: Raw =
            toml::from_str(&text).map_err(|e| invalid(e.to_string().trim().to_owned()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut config = FunctionConfig::default();
        if let Some(ms) = raw.function.time_budget_ms {
            config.time_budget = Duration::from_millis(ms);
        }
        if let Some(mb) = raw.function.memory_limit_mb {
            config.memory_limit_bytes = usize::try_from(mb.saturating_mul(1024 * 1024))
                .map_err(|_| invalid("memory_limit_mb is too large".into()))?;
        }
        if let Some(ms) = raw.function.call_timeout_ms {
            config.call_timeout = Duration::from_millis(ms);
        }
        if let Some(bytes) = raw.function.max_payload_bytes {
            config.max_payload_bytes = usize::try_from(bytes)
                .ok()
                .filter(|b| (1..=1 << 30).contains(b))
                .ok_or_else(|| invalid("max_payload_bytes must be between 1 and 1 GiB".into()))?;
        }
        let bounded = |key: &str, value: u64, max: u64| {
            Some(value)
                .filter(|v| (1..=max).contains(v))
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| invalid(format!("{key} must be between 1 and {max}")))
        };
        if let Some(n) = raw.function.max_table_elements {
            config.max_table_elements = bounded("max_table_elements", n, 1_000_000)?;
        }
        if let Some(n) = raw.function.max_pending_calls {
            config.max_pending_calls = bounded("max_pending_calls", n, 65_536)?;
        }
        if let Some(bytes) = raw.function.max_pending_bytes {
            config.max_pending_bytes = bounded("max_pending_bytes", bytes, 1 << 34)?;
        }
        for (key, value) in [
            ("time_budget_ms", config.time_budget),
            ("call_timeout_ms", config.call_timeout),
        ] {
            if value.is_zero() {
                return Err(invalid(format!("{key} must be at least 1")));
            }
        }
        let mut processes = Vec::new();
        for (name, dep) in raw.iomod.dependencies {
            let coordinates: Coordinates =
                dep.coordinates
                    .parse()
                    .map_err(|e: iomod_sdk::ParseError| {
                        invalid(format!("[iomod.dependencies.{name}]: {e}"))
                    })?;
            if let Some(version) = &dep.version {
                iomod_sdk::check_version(version)
                    .map_err(|e| invalid(format!("[iomod.dependencies.{name}]: {e}")))?;
            }
            match (dep.package, dep.entrypoint) {
                (Some(_), Some(_)) => {
                    return Err(invalid(format!(
                        "[iomod.dependencies.{name}] has both `package` and `entrypoint`; give one"
                    )));
                }
                (Some(package), None) => {
                    let process = IomodProcess::from_package(&dir.join(package))?;
                    if process.coordinates != coordinates {
                        return Err(invalid(format!(
                            "[iomod.dependencies.{name}] names {coordinates}, but its package is {}",
                            process.coordinates
                        )));
                    }
                    processes.push(process);
                }
                (None, Some(entrypoint)) => processes.push(IomodProcess {
                    coordinates: coordinates.clone(),
                    program: dir.join(entrypoint),
                    arguments: dep.arguments,
                }),
                (None, None) => {}
            }
            config.allow.push(coordinates);
        }
        let name = raw.function.name.unwrap_or_else(|| {
            dir.canonicalize()
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "function".into())
        });
        Ok(FunctionManifest {
            name,
            module: dir.join(raw.function.module),
            config,
            processes,
        })
    }
}
