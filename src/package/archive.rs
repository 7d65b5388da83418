//! Deterministic zip archives: the same entries always give the same bytes (fixed timestamps, fixed
//! permissions, entries in the order given, no extra fields), so packages, layers and bundles can be
//! compared and cached by their hash. Files are written to a temporary name and renamed into place.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// One entry to write.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its path inside the archive (`/`-separated, relative).
    pub name: String,
    /// Its contents.
    pub data: Vec<u8>,
    /// Whether it is executable (mode 0755, else 0644).
    pub executable: bool,
    /// Deflate it (else stored as is: for entries that are compressed already).
    pub compress: bool,
}

/// Writes `entries`, in order, to the zip file `out` (through a temporary file in the same directory).
pub fn write(out: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let bytes = to_bytes(entries)?;
    let tmp = temporary_name(out);
    let result = write_file(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, out));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The zip archive of `entries`, in order.
pub fn to_bytes(entries: &[Entry]) -> std::io::Result<Vec<u8>> {
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for entry in entries {
        let options = SimpleFileOptions::default()
            .compression_method(if entry.compress {
                CompressionMethod::Deflated
            } else {
                CompressionMethod::Stored
            })
            .last_modified_time(DateTime::default())
            .unix_permissions(if entry.executable { 0o755 } else { 0o644 })
            .large_file(entry.data.len() as u64 >= u64::from(u32::MAX));
        zip.start_file(entry.name.as_str(), options)
            .map_err(std::io::Error::other)?;
        zip.write_all(&entry.data)?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

/// `out`'s temporary name while it is written.
pub fn temporary_name(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    out.with_file_name(name)
}

/// Whether a file's permissions make it executable by someone.
pub fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}
