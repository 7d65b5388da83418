//! `iomod-codegen`: generate an IOmod's schema, host skeleton, guest crate and JSON Schemas from its
//! manifest, check that checked-in generated files are current, and print the manifest format's schema.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use iomod_codegen::breaking::{self, Level, Side};
use iomod_codegen::{Manifest, Options, generate, rustfmt, write_all_if_changed, write_if_changed};

#[derive(Parser, Debug)]
#[command(
    name = "iomod-codegen",
    version,
    about = "Generate code for an IOmod from its manifest (iomod.toml)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write every generated file under --out: schema/, host/, guest/, json/, registration/.
    Generate {
        /// The manifest.
        #[arg(default_value = "iomod.toml")]
        manifest: PathBuf,
        /// The output directory.
        #[arg(long, default_value = "generated")]
        out: PathBuf,
        /// Only these parts, comma-separated: schema, host, guest, json, registration (default: all).
        #[arg(long, value_delimiter = ',', value_parser = ["schema", "host", "guest", "json", "registration"])]
        only: Vec<String>,
        /// Leave Rust files as the generator prints them (prettyplease), instead of laid out by rustfmt
        /// when it is installed; give `check` the same flag.
        #[arg(long)]
        no_rustfmt: bool,
        #[command(flatten)]
        options: Options,
    },
    /// Fail (exit 1) with a summary when the files under --out differ from what the manifest generates.
    Check {
        /// The manifest.
        #[arg(default_value = "iomod.toml")]
        manifest: PathBuf,
        /// The directory holding the generated files.
        #[arg(long, default_value = "generated")]
        out: PathBuf,
        /// Only these parts, comma-separated: schema, host, guest, json, registration (default: all).
        #[arg(long, value_delimiter = ',', value_parser = ["schema", "host", "guest", "json", "registration"])]
        only: Vec<String>,
        /// The previous release's manifest (a path, or git:REF:path): fail when the version does not fit
        /// the changes since (a break needs a new major version, an addition a new minor one).
        #[arg(long, value_name = "OLD")]
        previous: Option<String>,
        /// Compare Rust files as the generator prints them, not laid out by rustfmt (as `generate
        /// --no-rustfmt` writes them).
        #[arg(long)]
        no_rustfmt: bool,
        #[command(flatten)]
        options: Options,
    },
    /// List the changes from an older manifest to this one, breaking ones (WIRE, WIRE_JSON) first with
    /// their places in both files, and check the version against them; fail (exit 1) when any is breaking.
    Breaking {
        /// The new manifest.
        #[arg(default_value = "iomod.toml")]
        manifest: PathBuf,
        /// The old manifest: a path, or git:REF:path (read with `git show REF:path`).
        #[arg(long, value_name = "OLD")]
        against: String,
        /// Which changes count as breaking: `wire` (only what breaks Cap'n Proto callers) or `wire-json`
        /// (also what breaks JSON callers: renames).
        #[arg(long, default_value = "wire-json", value_parser = ["wire", "wire-json"])]
        category: String,
    },
    /// Write iomod.lock next to the manifest, or add the members it lacks (after verifying that none
    /// moved).
    Lock {
        /// The manifest.
        #[arg(default_value = "iomod.toml")]
        manifest: PathBuf,
    },
    /// Validate a manifest and print what it describes.
    Validate {
        /// The manifest.
        #[arg(default_value = "iomod.toml")]
        manifest: PathBuf,
    },
    /// Print the JSON Schema of the manifest format (for editor completion).
    Schema,
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

/// The lock file next to `manifest`.
fn lock_path(manifest: &Path) -> PathBuf {
    manifest.with_file_name(iomod_codegen::lock::FILE_NAME)
}

/// Verifies the manifest against its lock (when there is one): what the lock lacks, or the errors.
fn verify_lock(manifest: &Path) -> Result<Option<Vec<String>>, String> {
    let path = lock_path(manifest);
    let Ok(lock) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("iomod-codegen: cannot read {}: {e}", manifest.display()))?;
    let m = Manifest::parse(&manifest.display().to_string(), &text).map_err(|d| d.to_string())?;
    iomod_codegen::lock::verify(
        &manifest.display().to_string(),
        &text,
        &m,
        &path.display().to_string(),
        &lock,
    )
    .map(|v| Some(v.missing))
    .map_err(|d| d.to_string())
}

/// Verifies the lock, then writes it with the members it lacks.
fn write_lock(manifest: &Path) -> Result<bool, String> {
    verify_lock(manifest)?;
    let m = load(manifest)?;
    write_if_changed(&lock_path(manifest), &iomod_codegen::lock::render(&m))
        .map_err(|e| format!("iomod-codegen: {e}"))
}

fn load(path: &Path) -> Result<Manifest, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("iomod-codegen: cannot read {}: {e}", path.display()))?;
    Manifest::parse(&path.display().to_string(), &text).map_err(|d| d.to_string())
}

/// The generated files (path under the output directory, contents), keeping only the parts in `only`
/// (every part when it is empty), with Rust files laid out by rustfmt when `rustfmt` and it is installed.
fn files(
    manifest: &Path,
    options: &Options,
    only: &[String],
    with_rustfmt: bool,
) -> Result<iomod_codegen::GeneratedFiles, String> {
    let mut files =
        generate(&load(manifest)?, options).map_err(|e| format!("iomod-codegen: {e}"))?;
    if !only.is_empty() {
        files.retain(|path, _| {
            path.components()
                .next()
                .is_some_and(|part| only.iter().any(|o| part.as_os_str() == o.as_str()))
        });
    }
    if with_rustfmt {
        for (path, contents) in files.iter_mut() {
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            match rustfmt(contents)
                .map_err(|e| format!("iomod-codegen: {}: {e}", path.display()))?
            {
                Some(laid_out) => *contents = laid_out,
                None => {
                    eprintln!(
                        "iomod-codegen: rustfmt is not installed: Rust files are compared and written \
                         as the generator prints them"
                    );
                    break;
                }
            }
        }
    }
    Ok(files)
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Generate {
            manifest,
            out,
            only,
            no_rustfmt,
            options,
        } => {
            let files = files(&manifest, &options, &only, !no_rustfmt)?;
            // The lock and every generated file are written together, or none of them.
            verify_lock(&manifest)?;
            let lock = iomod_codegen::lock::render(&load(&manifest)?);
            let lock_path = lock_path(&manifest);
            let lock_changed = std::fs::read_to_string(&lock_path).ok().as_deref() != Some(&lock);
            let mut targets: Vec<(PathBuf, &str)> = files
                .iter()
                .map(|(path, contents)| (out.join(path), contents.as_str()))
                .collect();
            targets.push((lock_path, &lock));
            let written = write_all_if_changed(&targets)
                .map_err(|e| format!("iomod-codegen: {e}"))?
                - usize::from(lock_changed);
            let stale = iomod_codegen::stale::stale_files(&out, &files, &only)
                .map_err(|e| format!("iomod-codegen: {}: {e}", out.display()))?;
            for path in &stale {
                std::fs::remove_file(out.join(path))
                    .map_err(|e| format!("iomod-codegen: {}: {e}", out.join(path).display()))?;
            }
            eprintln!(
                "iomod-codegen: {} files in {} ({written} written, {} unchanged, {} stale removed)",
                files.len(),
                out.display(),
                files.len() - written,
                stale.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            manifest,
            out,
            only,
            previous,
            no_rustfmt,
            options,
        } => {
            if let Some(previous) = previous {
                let load = |spec: &str| Side::load(spec).map_err(|e| format!("iomod-codegen: {e}"));
                let (old, new) = (load(&previous)?, load(&manifest.display().to_string())?);
                if let Err(problem) = breaking::check_version(&old, &new, Level::Json) {
                    eprintln!("{problem}");
                    return Ok(ExitCode::FAILURE);
                }
            }
            let files = files(&manifest, &options, &only, !no_rustfmt)?;
            let mut stale = Vec::new();
            match verify_lock(&manifest) {
                Err(errors) => {
                    eprintln!("{errors}");
                    return Ok(ExitCode::FAILURE);
                }
                Ok(None) => stale.push(format!("  missing: {}", lock_path(&manifest).display())),
                Ok(Some(missing)) if !missing.is_empty() => stale.push(format!(
                    "  changed: {} lacks {}",
                    lock_path(&manifest).display(),
                    missing.join(", ")
                )),
                Ok(Some(_)) => {}
            }
            for (path, contents) in &files {
                let target = out.join(path);
                match std::fs::read_to_string(&target) {
                    Ok(existing) if &existing == contents => {}
                    Ok(existing) => {
                        let line = existing
                            .lines()
                            .zip(contents.lines())
                            .position(|(a, b)| a != b)
                            .unwrap_or_else(|| {
                                existing.lines().count().min(contents.lines().count())
                            });
                        stale.push(format!(
                            "  changed: {} (first difference at line {})",
                            target.display(),
                            line + 1
                        ));
                    }
                    Err(_) => stale.push(format!("  missing: {}", target.display())),
                }
            }
            for path in iomod_codegen::stale::stale_files(&out, &files, &only)
                .map_err(|e| format!("iomod-codegen: {}: {e}", out.display()))?
            {
                stale.push(format!(
                    "  no longer generated: {}",
                    out.join(path).display()
                ));
            }
            if stale.is_empty() {
                eprintln!(
                    "iomod-codegen: {} generated files in {} are up to date",
                    files.len(),
                    out.display()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "iomod-codegen: generated files are stale; run `iomod-codegen generate {} --out {}{}` \
                     with the same options:",
                    manifest.display(),
                    out.display(),
                    if only.is_empty() {
                        String::new()
                    } else {
                        format!(" --only {}", only.join(","))
                    }
                );
                for line in stale {
                    eprintln!("{line}");
                }
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Breaking {
            manifest,
            against,
            category,
        } => {
            let level = if category == "wire" {
                Level::Wire
            } else {
                Level::Json
            };
            let load = |spec: &str| Side::load(spec).map_err(|e| format!("iomod-codegen: {e}"));
            let old = load(&against)?;
            let new = load(&manifest.display().to_string())?;
            let report = breaking::compare(&old, &new);
            println!("{}", report.render(level));
            let failed =
                report.breaking(level).next().is_some() || report.version_problem(level).is_some();
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Lock { manifest } => {
            let written = write_lock(&manifest)?;
            eprintln!(
                "iomod-codegen: {} {}",
                lock_path(&manifest).display(),
                if written { "written" } else { "unchanged" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { manifest } => {
            let m = load(&manifest)?;
            println!("{} {} ({})", m.coordinates, m.version, m.digest);
            for (ordinal, method) in m.methods.iter().enumerate() {
                let errors = if method.errors.is_empty() {
                    String::new()
                } else {
                    format!(" ! {}", method.errors.join(", "))
                };
                println!(
                    "  @{ordinal} {}({}) -> {}{errors}",
                    method.name, method.input, method.output
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema => {
            print!("{}", iomod_codegen::MANIFEST_SCHEMA);
            Ok(ExitCode::SUCCESS)
        }
    }
}
