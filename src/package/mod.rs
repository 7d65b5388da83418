//! IOmod packages: an IOmod's manifest and its entrypoint, as a directory or as a `.iomod` file.
//!
//! A `.iomod` file is AssemblyLift's package format: a zip holding `iomod.toml` at its root and the
//! entrypoint binary at the path the manifest's `[process] entrypoint` names, executable. AssemblyLift's
//! packages (entries prefixed `./`, stored, mode 0777) read as well. [`pack`] writes one deterministically
//! (the same directory gives the same bytes), with its entries stored uncompressed as AssemblyLift did: on
//! Lambda a package is extracted at every cold start, where a copy is several times faster than an
//! inflate, and the layer that carries it is deflated as a whole.
//!
//! A package file comes from outside, so it is read as hostile: it is extracted into a new directory only
//! this user can enter (mode 0700, under `$TMPDIR`), and refused, naming the file, when it is not a
//! readable zip, an entry would land outside that directory (`..`, an absolute path) or is a symlink or
//! a special file, an entry appears twice, or the archive is larger, holds more entries or unpacks to
//! more bytes than [`Limits`] allow (decompressed bytes are counted as they are written, not taken from
//! the archive's own claims). Two packages registering the same coordinates are refused too.

pub mod archive;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use iomod_sdk::Coordinates;
use tracing::debug;

use crate::supervisor::IomodProcess;
use archive::Entry;

/// The extension of package files.
pub const EXTENSION: &str = "iomod";

/// A package that cannot be read or used, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("IOmod package {}: {reason}", path.display())]
pub struct PackageError {
    /// The package file or directory.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

impl PackageError {
    fn new(path: &Path, reason: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// What a package file may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest package file, in bytes.
    pub max_archive_bytes: u64,
    /// The most bytes a package unpacks to.
    pub max_unpacked_bytes: u64,
    /// The most entries (files and directories) in a package.
    pub max_entries: usize,
}

impl Default for Limits {
    /// 256 MiB packed and unpacked (a Lambda layer unpacks to at most 250 MB), 1,024 entries.
    fn default() -> Self {
        Self {
            max_archive_bytes: 256 << 20,
            max_unpacked_bytes: 256 << 20,
            max_entries: 1024,
        }
    }
}

/// The package part of an IOmod's manifest: who it is and how to start it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageManifest {
    /// `[iomod] coordinates`.
    pub coordinates: Coordinates,
    /// `[iomod] version`.
    pub version: String,
    /// `[process] entrypoint`: a relative path inside the package.
    pub entrypoint: PathBuf,
    /// `[process] arguments`.
    pub arguments: Vec<String>,
}

impl PackageManifest {
    /// Reads `iomod.toml`'s text (the rest of the manifest, its methods and types, is the generator's).
    pub fn parse(text: &str) -> Result<PackageManifest, String> {
        #[derive(serde::Deserialize)]
        struct Raw {
            iomod: Option<Identity>,
            process: Option<Process>,
        }
        #[derive(serde::Deserialize)]
        struct Identity {
            coordinates: Option<String>,
            version: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Process {
            entrypoint: Option<String>,
            #[serde(default)]
            arguments: Vec<String>,
        }
        let raw: Raw =
            toml::from_str(text).map_err(|e| format!("iomod.toml: {}", e.to_string().trim()))?;
        let identity = raw
            .iomod
            .ok_or("iomod.toml has no [iomod] table (coordinates, version)")?;
        let coordinates: Coordinates = identity
            .coordinates
            .ok_or("iomod.toml: [iomod] has no `coordinates`")?
            .parse()
            .map_err(|e: iomod_sdk::ParseError| format!("iomod.toml: {e}"))?;
        let version = identity
            .version
            .ok_or("iomod.toml: [iomod] has no `version`")?;
        iomod_sdk::check_version(&version).map_err(|e| format!("iomod.toml: {e}"))?;
        let process = raw
            .process
            .ok_or("iomod.toml has no [process] table: nothing to start")?;
        let entrypoint = process
            .entrypoint
            .ok_or("iomod.toml: [process] has no `entrypoint`")?;
        let entrypoint = relative_path(&entrypoint).map_err(|why| {
            format!(
                "iomod.toml: the entrypoint `{entrypoint}` {why}; name a path inside the package"
            )
        })?;
        Ok(PackageManifest {
            coordinates,
            version,
            entrypoint,
            arguments: process.arguments,
        })
    }

    /// `<coordinates>@<version>.iomod`: the package's file name, and its name in a Lambda layer.
    pub fn file_name(&self) -> String {
        format!("{}@{}.{EXTENSION}", self.coordinates, self.version)
    }
}

/// A package ready to start: a directory holding `iomod.toml` and the entrypoint.
#[derive(Debug, Clone)]
pub struct Package {
    /// What its manifest says.
    pub manifest: PackageManifest,
    /// The directory (the package's own, or where its file was extracted).
    pub dir: PathBuf,
    /// Where it came from (the `.iomod` file, or the directory).
    pub source: PathBuf,
}

impl Package {
    /// Reads a package directory and checks that its entrypoint is an executable file inside it.
    pub fn open_dir(dir: &Path) -> Result<Package, PackageError> {
        Self::open_extracted(dir, dir)
    }

    fn open_extracted(dir: &Path, source: &Path) -> Result<Package, PackageError> {
        let fail = |reason: String| PackageError::new(source, reason);
        let text = std::fs::read_to_string(dir.join("iomod.toml"))
            .map_err(|e| fail(format!("cannot read iomod.toml: {e}")))?;
        let manifest = PackageManifest::parse(&text).map_err(fail)?;
        let entrypoint = dir.join(&manifest.entrypoint);
        let shown = manifest.entrypoint.display();
        let metadata = std::fs::symlink_metadata(&entrypoint)
            .map_err(|e| fail(format!("the entrypoint {shown}: {e}")))?;
        if !metadata.is_file() {
            return Err(fail(format!(
                "the entrypoint {shown} is not a regular file"
            )));
        }
        if !archive::is_executable(&metadata) {
            return Err(fail(format!(
                "the entrypoint {shown} is not executable (chmod +x it)"
            )));
        }
        Ok(Package {
            manifest,
            dir: dir.to_owned(),
            source: source.to_owned(),
        })
    }

    /// The process that runs it.
    pub fn process(&self) -> IomodProcess {
        IomodProcess {
            coordinates: self.manifest.coordinates.clone(),
            program: self.dir.join(&self.manifest.entrypoint),
            arguments: self.manifest.arguments.clone(),
        }
    }
}

/// Packages read from a directory of them, with the private directory their files were extracted to
/// (removed when this is dropped: keep it while their processes run).
#[derive(Debug)]
pub struct PackageSet {
    /// The packages, sorted by coordinates.
    pub packages: Vec<Package>,
    extracted: Option<PathBuf>,
}

impl PackageSet {
    /// Every package in `dir`: each `*.iomod` file and each subdirectory holding an `iomod.toml`. Files
    /// are extracted into a new private directory under `$TMPDIR`. Any bad package, or two with the
    /// same coordinates, fails the whole set.
    pub fn open(dir: &Path, limits: &Limits) -> Result<PackageSet, PackageError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| PackageError::new(dir, format!("cannot read the directory: {e}")))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        let mut set = PackageSet {
            packages: Vec::new(),
            extracted: None,
        };
        let mut by_coordinates: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in paths {
            let package = if is_package_file(&path) {
                let root = set.extraction_root(dir)?;
                let into = root.join(format!("{}", set.packages.len()));
                extract(&path, &into, limits)?
            } else if path.join("iomod.toml").is_file() {
                Package::open_dir(&path)?
            } else {
                debug!(path = %path.display(), "not an IOmod package; skipped");
                continue;
            };
            let coordinates = package.manifest.coordinates.to_string();
            if let Some(first) = by_coordinates.get(&coordinates) {
                return Err(PackageError::new(
                    &path,
                    format!(
                        "{coordinates} is also provided by {}; keep one package per IOmod",
                        first.display()
                    ),
                ));
            }
            by_coordinates.insert(coordinates, path);
            set.packages.push(package);
        }
        set.packages.sort_by(|a, b| {
            a.manifest
                .coordinates
                .as_str()
                .cmp(b.manifest.coordinates.as_str())
        });
        Ok(set)
    }

    /// The processes that run the packages.
    pub fn processes(&self) -> Vec<IomodProcess> {
        self.packages.iter().map(Package::process).collect()
    }

    fn extraction_root(&mut self, dir: &Path) -> Result<PathBuf, PackageError> {
        if let Some(root) = &self.extracted {
            return Ok(root.clone());
        }
        let root = private_dir(&std::env::temp_dir(), "iomod-packages").map_err(|e| {
            PackageError::new(
                dir,
                format!("cannot create a directory to extract into: {e}"),
            )
        })?;
        self.extracted = Some(root.clone());
        Ok(root)
    }
}

impl Drop for PackageSet {
    fn drop(&mut self) {
        if let Some(root) = self.extracted.take() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// Whether `path` is a package file (by its extension).
pub fn is_package_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == EXTENSION) && path.is_file()
}

/// Extracts the package file `file` into `into` (created, mode 0700; it must not exist) and checks it.
pub fn extract(file: &Path, into: &Path, limits: &Limits) -> Result<Package, PackageError> {
    let result =
        extract_unchecked(file, into, limits).and_then(|()| Package::open_extracted(into, file));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(into);
    }
    result
}

fn extract_unchecked(file: &Path, into: &Path, limits: &Limits) -> Result<(), PackageError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let fail = |reason: String| PackageError::new(file, reason);
    let size = std::fs::metadata(file)
        .map_err(|e| fail(format!("cannot read: {e}")))?
        .len();
    if size > limits.max_archive_bytes {
        return Err(fail(format!(
            "{size} bytes, more than the {} a package may have",
            limits.max_archive_bytes
        )));
    }
    let reader = File::open(file).map_err(|e| fail(format!("cannot read: {e}")))?;
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| {
        fail(format!(
            "not a readable zip archive (corrupt or truncated?): {e}"
        ))
    })?;
    if zip.len() > limits.max_entries {
        return Err(fail(format!(
            "{} entries, more than the {} a package may hold",
            zip.len(),
            limits.max_entries
        )));
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(into)
        .map_err(|e| fail(format!("cannot create {}: {e}", into.display())))?;
    let mut unpacked: u64 = 0;
    for index in 0..zip.len() {
        let mut entry = zip
            .by_index(index)
            .map_err(|e| fail(format!("entry {index} cannot be read: {e}")))?;
        let name = entry.name().to_owned();
        let relative = relative_path(&name)
            .map_err(|why| fail(format!("the entry `{name}` {why}; refusing the package")))?;
        if entry.is_symlink() {
            return Err(fail(format!(
                "the entry `{name}` is a symbolic link; packages hold regular files only"
            )));
        }
        let kind = entry.unix_mode().map(|m| m & 0o170000);
        if matches!(kind, Some(k) if k != 0 && k != 0o100000 && k != 0o040000) {
            return Err(fail(format!(
                "the entry `{name}` is a special file; packages hold regular files only"
            )));
        }
        let target = into.join(&relative);
        if entry.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&target)
                .map_err(|e| fail(format!("cannot create `{name}`: {e}")))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .map_err(|e| fail(format!("cannot create the directory of `{name}`: {e}")))?;
        }
        let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if executable { 0o755 } else { 0o644 })
            .open(&target)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    fail(format!("the entry `{name}` appears twice"))
                }
                _ => fail(format!("cannot write `{name}`: {e}")),
            })?;
        let left = limits.max_unpacked_bytes - unpacked;
        let mut out = std::io::BufWriter::with_capacity(256 << 10, out);
        let written = std::io::copy(&mut (&mut entry).take(left + 1), &mut out)
            .and_then(|n| out.flush().map(|()| n))
            .map_err(|e| fail(format!("the entry `{name}` is corrupt: {e}")))?;
        unpacked += written;
        if unpacked > limits.max_unpacked_bytes {
            return Err(fail(format!(
                "unpacks to more than {} bytes, the most a package may hold",
                limits.max_unpacked_bytes
            )));
        }
    }
    Ok(())
}

/// Checks that `name` is a relative path that stays inside its directory, and returns it without `.`
/// components (AssemblyLift's packages name entries `./iomod.toml`).
fn relative_path(name: &str) -> Result<PathBuf, &'static str> {
    if name.contains('\\') || name.contains('\0') {
        return Err("has a backslash or NUL in its path");
    }
    let mut path = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("climbs out of the package with `..`"),
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
        }
    }
    if path.as_os_str().is_empty() {
        return Err("has an empty path");
    }
    Ok(path)
}

/// What [`pack`] wrote.
#[derive(Debug, Clone)]
pub struct Packed {
    /// The package's manifest.
    pub manifest: PackageManifest,
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// How many files it holds.
    pub files: usize,
}

/// Packs the package directory `dir` into a `.iomod` file: its manifest is checked, its entrypoint must be
/// an executable file inside it, and every regular file under it is included (`iomod.toml` first, then
/// by path; symbolic links and special files are refused). `out` defaults to `<coordinates>@<version>.iomod`
/// in the current directory.
pub fn pack(dir: &Path, out: Option<&Path>) -> Result<Packed, PackageError> {
    let manifest = Package::open_dir(dir)?.manifest;
    let out = out.map_or_else(|| PathBuf::from(manifest.file_name()), Path::to_owned);
    let skip =
        [out.clone(), archive::temporary_name(&out)].map(|p| std::path::absolute(&p).unwrap_or(p));
    let (_, files) = package_entries(dir, &skip)?;
    archive::write(&out, &files)
        .map_err(|e| PackageError::new(dir, format!("cannot write {}: {e}", out.display())))?;
    let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    Ok(Packed {
        manifest,
        path: out,
        bytes,
        files: files.len(),
    })
}

/// The package directory `dir` as a `.iomod` file's bytes (see [`pack`]).
pub fn pack_to_bytes(dir: &Path) -> Result<(PackageManifest, Vec<u8>), PackageError> {
    let (manifest, files) = package_entries(dir, &[])?;
    let bytes = archive::to_bytes(&files)
        .map_err(|e| PackageError::new(dir, format!("cannot pack: {e}")))?;
    Ok((manifest, bytes))
}

/// Reads any package, a `.iomod` file (extracted into a temporary directory to check it whole, then
/// removed) or a directory (packed), as a package file's bytes.
pub fn read_any(path: &Path, limits: &Limits) -> Result<(PackageManifest, Vec<u8>), PackageError> {
    if path.is_dir() {
        return pack_to_bytes(path);
    }
    let scratch = private_dir(&std::env::temp_dir(), "iomod-check")
        .map_err(|e| PackageError::new(path, format!("cannot create a scratch directory: {e}")))?;
    let checked = extract(path, &scratch.join("package"), limits);
    let _ = std::fs::remove_dir_all(&scratch);
    let manifest = checked?.manifest;
    let bytes =
        std::fs::read(path).map_err(|e| PackageError::new(path, format!("cannot read: {e}")))?;
    Ok((manifest, bytes))
}

/// The checked manifest of the package directory `dir` and its files, `iomod.toml` first, then by path.
fn package_entries(
    dir: &Path,
    skip: &[PathBuf],
) -> Result<(PackageManifest, Vec<Entry>), PackageError> {
    let package = Package::open_dir(dir)?;
    let mut files = Vec::new();
    collect_files(dir, dir, skip, &mut files)?;
    files.sort_by(|a, b| (a.name != "iomod.toml", &a.name).cmp(&(b.name != "iomod.toml", &b.name)));
    Ok((package.manifest, files))
}

fn collect_files(
    root: &Path,
    dir: &Path,
    skip: &[PathBuf],
    files: &mut Vec<Entry>,
) -> Result<(), PackageError> {
    let fail = |reason: String| PackageError::new(root, reason);
    let entries =
        std::fs::read_dir(dir).map_err(|e| fail(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| fail(format!("cannot read {}: {e}", dir.display())))?;
        let path = entry.path();
        if skip.contains(&std::path::absolute(&path).unwrap_or_else(|_| path.clone())) {
            continue;
        }
        let metadata = std::fs::symlink_metadata(&path)
            .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
        let relative = path.strip_prefix(root).unwrap_or(&path);
        if metadata.is_dir() {
            collect_files(root, &path, skip, files)?;
        } else if metadata.is_file() {
            let name = relative
                .to_str()
                .ok_or_else(|| fail(format!("{} is not a UTF-8 path", relative.display())))?
                .to_owned();
            let data = std::fs::read(&path)
                .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
            files.push(Entry {
                name,
                data,
                executable: archive::is_executable(&metadata),
                // Stored, as AssemblyLift stored them: extracting at a cold start is then a copy, not an
                // inflate (a layer deflates the package as a whole).
                compress: false,
            });
        } else {
            return Err(fail(format!(
                "{} is a symbolic link or a special file; packages hold regular files only",
                relative.display()
            )));
        }
    }
    Ok(())
}

/// A new directory under `base` only this user can enter.
pub(crate) fn private_dir(base: &Path, prefix: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    for attempt in 0..100u32 {
        let dir = base.join(format!("{prefix}-{}-{attempt}", std::process::id()));
        // `create` (not `create_dir_all`) fails on an existing path: never reuse someone else's directory.
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "no free name for a {prefix} directory in {}",
        base.display()
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MANIFEST: &str = "[iomod]\ncoordinates = \"example.test.pkg\"\nversion = \"1.2.3\"\n\n\
                            [process]\nentrypoint = \"bin/run\"\narguments = [\"-q\"]\n";

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            Scratch(
                private_dir(&std::env::temp_dir(), &format!("iomod-package-test-{name}")).unwrap(),
            )
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn zip_file(path: &Path, entries: &[(&str, &[u8], u32)]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, data, mode) in entries {
            zip.start_file(
                *name,
                zip::write::SimpleFileOptions::default().unix_permissions(*mode),
            )
            .unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
    }

    fn package_dir(root: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = root.join("pkg");
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("iomod.toml"), MANIFEST).unwrap();
        std::fs::write(dir.join("bin/run"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(dir.join("bin/run"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(dir.join("README"), b"data").unwrap();
        dir
    }

    #[test]
    fn packs_deterministically_and_extracts_what_it_packed() {
        use std::os::unix::fs::PermissionsExt;
        let scratch = Scratch::new("roundtrip");
        let dir = package_dir(&scratch.0);
        let a = scratch.0.join("a.iomod");
        let packed = pack(&dir, Some(&a)).unwrap();
        assert_eq!(packed.files, 3);
        assert_eq!(packed.manifest.file_name(), "example.test.pkg@1.2.3.iomod");
        // Other times and modes of the same files give the same bytes.
        std::fs::set_permissions(dir.join("README"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let b = scratch.0.join("b.iomod");
        pack(&dir, Some(&b)).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        // Packing into the package directory itself leaves the output out of the package.
        let inside = dir.join("self.iomod");
        assert_eq!(pack(&dir, Some(&inside)).unwrap().files, 3);
        std::fs::remove_file(&inside).unwrap();

        let into = scratch.0.join("out");
        let package = extract(&a, &into, &Limits::default()).unwrap();
        assert_eq!(package.manifest.arguments, ["-q"]);
        let process = package.process();
        assert_eq!(process.program, into.join("bin/run"));
        let mode = std::fs::metadata(&process.program)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::metadata(&into).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(std::fs::read(into.join("README")).unwrap(), b"data");
    }

    #[test]
    fn assemblylift_packages_read() {
        // `./` prefixes, stored entries, mode 0777 everywhere.
        let scratch = Scratch::new("assemblylift");
        let file = scratch.0.join("old.iomod");
        zip_file(
            &file,
            &[
                ("./iomod.toml", MANIFEST.as_bytes(), 0o777),
                ("./bin/run", b"#!/bin/sh\n", 0o777),
            ],
        );
        let package = extract(&file, &scratch.0.join("out"), &Limits::default()).unwrap();
        assert_eq!(package.manifest.coordinates.as_str(), "example.test.pkg");
    }

    fn refused(entries: &[(&str, &[u8], u32)], limits: Limits) -> String {
        let scratch = Scratch::new("refused");
        let file = scratch.0.join("bad.iomod");
        zip_file(&file, entries);
        let into = scratch.0.join("out");
        let err = extract(&file, &into, &limits).unwrap_err();
        assert_eq!(err.path, file);
        assert!(!into.exists(), "a refused package leaves nothing behind");
        err.reason
    }

    #[test]
    fn hostile_and_broken_packages_are_refused_with_their_reason() {
        let manifest = ("iomod.toml", MANIFEST.as_bytes(), 0o644);
        let run = ("bin/run", b"#!/bin/sh\n".as_slice(), 0o755);
        let limits = Limits::default();
        for (entries, reason) in [
            (
                vec![manifest, ("../x", b"".as_slice(), 0o644)],
                "climbs out",
            ),
            (
                vec![manifest, ("bin/../../x", b"".as_slice(), 0o644)],
                "climbs out",
            ),
            (
                vec![manifest, ("/etc/x", b"".as_slice(), 0o644)],
                "absolute path",
            ),
            (
                vec![manifest, ("bin\\..\\x", b"".as_slice(), 0o644)],
                "backslash",
            ),
            (
                vec![
                    manifest,
                    run,
                    ("./bin/run", b"#!/bin/sh\n".as_slice(), 0o755),
                ],
                "appears twice",
            ),
            (vec![run], "cannot read iomod.toml"),
            (vec![manifest], "the entrypoint bin/run"),
            (
                vec![manifest, ("bin/run", b"#!/bin/sh\n".as_slice(), 0o644)],
                "not executable",
            ),
            (
                vec![
                    (
                        "iomod.toml",
                        b"[iomod]\ncoordinates = \"x\"".as_slice(),
                        0o644,
                    ),
                    run,
                ],
                "coordinates",
            ),
            (
                vec![
                    (
                        "iomod.toml",
                        MANIFEST.replace("bin/run", "../../bin/sh").as_bytes(),
                        0o644,
                    ),
                    run,
                ],
                "name a path inside the package",
            ),
        ] {
            let why = refused(&entries, limits);
            assert!(
                why.contains(reason),
                "{entries:?}: expected `{reason}` in: {why}"
            );
        }
        // A FIFO entry (the writer keeps permission bits only: the type is set in the central directory).
        {
            let scratch = Scratch::new("fifo");
            let file = scratch.0.join("bad.iomod");
            zip_file(&file, &[manifest, run, ("fifo", b"", 0o644)]);
            let mut bytes = std::fs::read(&file).unwrap();
            let header = bytes
                .windows(4 + 42 + 4)
                .position(|w| w.starts_with(b"PK\x01\x02") && &w[46..] == b"fifo")
                .unwrap();
            let mode: u32 = 0o010644 << 16;
            bytes[header + 38..header + 42].copy_from_slice(&mode.to_le_bytes());
            std::fs::write(&file, bytes).unwrap();
            let err = extract(&file, &scratch.0.join("out"), &limits).unwrap_err();
            assert!(err.reason.contains("`fifo` is a special file"), "{err}");
        }
        // Limits: decompressed bytes are counted as they are written.
        let big = vec![0u8; 4096];
        let small = Limits {
            max_unpacked_bytes: 4000,
            ..limits
        };
        let why = refused(&[manifest, run, ("big", &big, 0o644)], small);
        assert!(why.contains("unpacks to more than 4000 bytes"), "{why}");
        let few = Limits {
            max_entries: 2,
            ..limits
        };
        let why = refused(&[manifest, run, ("x", b"", 0o644)], few);
        assert!(why.contains("3 entries"), "{why}");
        let tiny = Limits {
            max_archive_bytes: 10,
            ..limits
        };
        let why = refused(&[manifest, run], tiny);
        assert!(why.contains("more than the 10"), "{why}");
    }

    #[test]
    fn corrupt_archives_are_refused() {
        let scratch = Scratch::new("corrupt");
        let dir = package_dir(&scratch.0);
        let good = scratch.0.join("good.iomod");
        pack(&dir, Some(&good)).unwrap();
        let bytes = std::fs::read(&good).unwrap();
        for (name, damaged) in [
            ("empty", Vec::new()),
            ("truncated", bytes[..bytes.len() / 2].to_vec()),
            ("garbage", b"PK\x03\x04garbage".to_vec()),
        ] {
            let file = scratch.0.join(format!("{name}.iomod"));
            std::fs::write(&file, &damaged).unwrap();
            let err = extract(&file, &scratch.0.join(name), &Limits::default()).unwrap_err();
            assert!(err.reason.contains("not a readable zip"), "{name}: {err}");
        }
        // A flipped byte inside the compressed data: the checksum catches it.
        let mut flipped = bytes.clone();
        let at = flipped.len() / 3;
        flipped[at] ^= 0x55;
        let file = scratch.0.join("flipped.iomod");
        std::fs::write(&file, &flipped).unwrap();
        assert!(extract(&file, &scratch.0.join("flipped"), &Limits::default()).is_err());
    }

    #[test]
    fn a_directory_of_packages_refuses_two_of_one_iomod() {
        let scratch = Scratch::new("set");
        let dir = package_dir(&scratch.0);
        let layer = scratch.0.join("layer");
        std::fs::create_dir_all(&layer).unwrap();
        pack(&dir, Some(&layer.join("a.iomod"))).unwrap();
        let set = PackageSet::open(&layer, &Limits::default()).unwrap();
        assert_eq!(set.packages.len(), 1);
        let extracted = set.packages[0].dir.clone();
        assert!(extracted.join("bin/run").is_file());
        drop(set);
        assert!(
            !extracted.exists(),
            "extracted files are removed with the set"
        );
        pack(&dir, Some(&layer.join("b.iomod"))).unwrap();
        let err = PackageSet::open(&layer, &Limits::default()).unwrap_err();
        assert!(
            err.reason.contains("example.test.pkg is also provided by"),
            "{err}"
        );
        assert!(err.path.ends_with("b.iomod"), "{err}");
    }
}
