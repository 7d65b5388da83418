//! What is deployed to Lambda: a layer holding IOmod packages, and a function bundle holding the
//! `bootstrap`, the precompiled module and the function manifest. Both are deterministic zips.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::function::FunctionManifest;
use crate::package::archive::{self, Entry};
use crate::package::{Limits, PackageManifest};
use crate::serve::cache;

/// The bundle's manifest, module and runtime names (in `$LAMBDA_TASK_ROOT`, i.e. `/var/task`).
pub const BUNDLE_MANIFEST: &str = "function.toml";
/// The precompiled module in a bundle.
pub const BUNDLE_MODULE: &str = "function.cwasm";
/// The runtime in a bundle: Lambda starts it.
pub const BOOTSTRAP: &str = "bootstrap";

/// What [`layer`] wrote.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The packages, in the layer's order (by coordinates).
    pub packages: Vec<PackageManifest>,
    /// The layer's size in bytes.
    pub bytes: u64,
}

/// Writes a layer: each input (a `.iomod` file, checked whole, or a package directory, packed) as
/// `iomod/<coordinates>@<version>.iomod`, which Lambda mounts as `/opt/iomod/…`. Two inputs with the same
/// coordinates are refused.
pub fn layer(inputs: &[PathBuf], out: &Path) -> anyhow::Result<Layer> {
    anyhow::ensure!(!inputs.is_empty(), "no packages to put in the layer");
    let mut packages: Vec<(PackageManifest, Vec<u8>, &Path)> = Vec::new();
    for input in inputs {
        let (manifest, bytes) = crate::package::read_any(input, &Limits::default())?;
        if let Some((_, _, first)) = packages
            .iter()
            .find(|(m, _, _)| m.coordinates == manifest.coordinates)
        {
            anyhow::bail!(
                "{} and {} are both {}; a layer holds one package per IOmod",
                first.display(),
                input.display(),
                manifest.coordinates
            );
        }
        packages.push((manifest, bytes, input));
    }
    packages.sort_by(|a, b| a.0.coordinates.as_str().cmp(b.0.coordinates.as_str()));
    let entries: Vec<Entry> = packages
        .iter()
        .map(|(manifest, bytes, _)| Entry {
            name: format!("iomod/{}", manifest.file_name()),
            data: bytes.clone(),
            executable: false,
            // `iomod pack` stores a package's entries: the layer compresses them.
            compress: true,
        })
        .collect();
    archive::write(out, &entries).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Layer {
        packages: packages.into_iter().map(|(m, _, _)| m).collect(),
        bytes: std::fs::metadata(out).map(|m| m.len()).unwrap_or(0),
    })
}

/// What [`bundle`] wrote.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The function's name.
    pub name: String,
    /// The bundle's size in bytes.
    pub bytes: u64,
    /// The precompiled module's size in bytes.
    pub module_bytes: u64,
    /// The bootstrap's size in bytes.
    pub bootstrap_bytes: u64,
}

/// Writes a function bundle: `bootstrap` (the runtime binary, executable), `function.toml` (the
/// function's manifest with its module replaced by the precompiled one and its IOmods' `package` and
/// `entrypoint` removed: on Lambda they come from the layer) and `function.cwasm` (the module compiled
/// for the Lambda runtime's engine by this binary, so `bootstrap` should be this binary, built for the
/// Lambda target).
pub fn bundle(manifest_path: &Path, bootstrap: &Path, out: &Path) -> anyhow::Result<Bundle> {
    let manifest = FunctionManifest::load(manifest_path)?;
    let wasm = std::fs::read(&manifest.module)
        .with_context(|| format!("cannot read the module {}", manifest.module.display()))?;
    anyhow::ensure!(
        !cache::is_precompiled(&wasm),
        "{} is precompiled already; give the manifest the .wasm module",
        manifest.module.display()
    );
    let functions = std::slice::from_ref(&manifest);
    let host = crate::serve::engine(functions, &super::serve_config(None))?;
    let artifact = host
        .precompile(&wasm)
        .with_context(|| format!("function `{}`", manifest.name))?;
    let module = cache::precompiled_bytes(&artifact);
    let module_bytes = module.len() as u64;
    let text = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let bundled = bundled_manifest(&text, &manifest.name)
        .with_context(|| format!("cannot rewrite {}", manifest_path.display()))?;
    let metadata = std::fs::metadata(bootstrap)
        .with_context(|| format!("the bootstrap {}", bootstrap.display()))?;
    anyhow::ensure!(
        metadata.is_file() && archive::is_executable(&metadata),
        "the bootstrap {} is not an executable file",
        bootstrap.display()
    );
    let runtime = std::fs::read(bootstrap)
        .with_context(|| format!("cannot read the bootstrap {}", bootstrap.display()))?;
    let entries = [
        Entry {
            name: BOOTSTRAP.into(),
            data: runtime,
            executable: true,
            compress: true,
        },
        Entry {
            name: BUNDLE_MANIFEST.into(),
            data: bundled.into_bytes(),
            executable: false,
            compress: true,
        },
        Entry {
            name: BUNDLE_MODULE.into(),
            data: module,
            executable: false,
            compress: true,
        },
    ];
    archive::write(out, &entries).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Bundle {
        name: manifest.name,
        bytes: std::fs::metadata(out).map(|m| m.len()).unwrap_or(0),
        module_bytes,
        bootstrap_bytes: metadata.len(),
    })
}

/// The function manifest as it is bundled: `[function] module` is the precompiled module, `name` is
/// set, and dependencies keep only their coordinates and version.
fn bundled_manifest(text: &str, name: &str) -> anyhow::Result<String> {
    let mut table: toml::Table = toml::from_str(text)?;
    let function = table
        .get_mut("function")
        .and_then(toml::Value::as_table_mut)
        .context("no [function] table")?;
    function.insert("module".into(), BUNDLE_MODULE.into());
    function.insert("name".into(), name.into());
    if let Some(dependencies) = table
        .get_mut("iomod")
        .and_then(toml::Value::as_table_mut)
        .and_then(|t| t.get_mut("dependencies"))
        .and_then(toml::Value::as_table_mut)
    {
        for (_, dependency) in dependencies.iter_mut() {
            if let Some(dependency) = dependency.as_table_mut() {
                for key in ["package", "entrypoint", "arguments"] {
                    dependency.remove(key);
                }
            }
        }
    }
    Ok(format!(
        "# Bundled by `iomod bundle`: the IOmods come from the function's layer (/opt/iomod).\n{}",
        toml::to_string(&table)?
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bundled_manifests_name_the_precompiled_module_and_no_programs() {
        let text = "[function]\nmodule = \"../target/todo.wasm\"\ntime_budget_ms = 100\n\n\
                    [iomod.dependencies.dynamodb]\ncoordinates = \"example.aws.dynamodb\"\nversion = \"0.1.0\"\n\
                    entrypoint = \"../../target/debug/iomod-dynamodb\"\narguments = [\"-v\"]\n";
        let bundled: toml::Table =
            toml::from_str(&bundled_manifest(text, "todo").unwrap()).unwrap();
        assert_eq!(
            bundled["function"]["module"].as_str(),
            Some("function.cwasm")
        );
        assert_eq!(bundled["function"]["name"].as_str(), Some("todo"));
        assert_eq!(
            bundled["function"]["time_budget_ms"].as_integer(),
            Some(100)
        );
        let dependency = bundled["iomod"]["dependencies"]["dynamodb"]
            .as_table()
            .unwrap();
        assert_eq!(
            dependency.keys().collect::<Vec<_>>(),
            ["coordinates", "version"]
        );
    }
}
