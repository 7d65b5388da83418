//! Claiming the registry's Unix socket path: one registry per path, a private socket from the moment it
//! exists, and removal on exit of that socket only.
//!
//! [`claim`] takes an exclusive `flock` on `<socket>.lock` (held for the registry's life, so two registries
//! starting at once cannot both claim the path), removes a socket file left by a registry that is gone (only
//! a socket, only when connecting to it is refused), and binds the new socket inside a fresh directory of
//! mode 0700, sets its mode to 0600 there and links it into place: the socket is never reachable with
//! looser permissions, and no symlink is ever followed. The default socket directory
//! (`$XDG_RUNTIME_DIR/iomod` or `/tmp/iomod-<uid>`) must be a directory of ours with mode 0700.
//!
//! Dropping the returned [`SocketClaim`] removes the socket, when the path still names the socket it bound,
//! and the lock file.

use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iomod_sdk::transport::RegistryAddress;
use iomod_sdk::{Error, ErrorCode};
use tracing::warn;

/// How long connecting to an existing socket may take before it counts as in use.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The registry's hold on its socket path; see the module documentation.
#[derive(Debug)]
pub(super) struct SocketClaim {
    path: PathBuf,
    /// The socket this registry bound (device, inode).
    socket: (u64, u64),
    lock_path: PathBuf,
    /// Holds the `flock`; closed (releasing it) after the lock file is removed.
    lock: File,
}

impl Drop for SocketClaim {
    fn drop(&mut self) {
        // Another registry may have replaced a socket it found unreachable: remove only ours.
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_socket() && (m.dev(), m.ino()) == self.socket => {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    warn!(socket = %self.path.display(), error = %e, "cannot remove the socket");
                }
            }
            _ => {}
        }
        // Whoever opens the lock file next checks that the path still names the file it locked, so
        // removing it while holding the lock is safe.
        if let (Ok(path), Ok(held)) = (
            std::fs::symlink_metadata(&self.lock_path),
            self.lock.metadata(),
        ) {
            if (path.dev(), path.ino()) == (held.dev(), held.ino()) {
                let _ = std::fs::remove_file(&self.lock_path);
            }
        }
    }
}

/// Claims `path` for a registry and listens there; see the module documentation.
pub(super) async fn claim(path: &Path) -> Result<(tokio::net::UnixListener, SocketClaim), Error> {
    let unavailable = |m: String| Error::new(ErrorCode::Unavailable, m);
    let Some(name) = path.file_name() else {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("the socket path {} names no file", path.display()),
        ));
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    prepare_dir(&dir, is_default_dir(&dir))?;
    let mut lock_name = name.to_os_string();
    lock_name.push(".lock");
    let lock_path = dir.join(lock_name);
    let lock = lock(&lock_path, path)?;
    remove_stale(path).await?;
    let (listener, socket) = bind_private(&dir, path)
        .map_err(|e| unavailable(format!("cannot listen on {}: {e}", path.display())))?;
    let claim = SocketClaim {
        path: path.to_path_buf(),
        socket,
        lock_path,
        lock,
    };
    listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixListener::from_std(listener))
        .map(|listener| (listener, claim))
        .map_err(|e| unavailable(format!("cannot listen on {}: {e}", path.display())))
}

/// Whether `dir` is the directory of the default socket.
fn is_default_dir(dir: &Path) -> bool {
    match RegistryAddress::default_unix() {
        RegistryAddress::Unix(default) => default.parent() == Some(dir),
        RegistryAddress::Tcp(_) => false,
    }
}

/// Creates `dir` (mode 0700) when it is missing; when it is the default socket directory, checks that it
/// is a directory (not a symlink) owned by this user without group or other access.
fn prepare_dir(dir: &Path, private: bool) -> Result<(), Error> {
    let unavailable = |m: String| Error::new(ErrorCode::Unavailable, m);
    match std::fs::symlink_metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?,
        Err(e) => return Err(unavailable(format!("cannot use {}: {e}", dir.display()))),
    }
    if private {
        check_private_dir(dir)?;
    }
    Ok(())
}

/// Refuses `dir` unless it is a real directory owned by this user with no group or other access.
pub(super) fn check_private_dir(dir: &Path) -> Result<(), Error> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| {
        Error::new(
            ErrorCode::Unavailable,
            format!("cannot use {}: {e}", dir.display()),
        )
    })?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let kind = meta.file_type();
    let what = if kind.is_symlink() {
        Some("it is a symbolic link")
    } else if !kind.is_dir() {
        Some("it is not a directory")
    } else if meta.uid() != uid {
        Some("it belongs to another user")
    } else if meta.mode() & 0o077 != 0 {
        Some("other users can reach it")
    } else {
        None
    };
    match what {
        None => Ok(()),
        Some(what) => Err(Error::new(
            ErrorCode::Unavailable,
            format!(
                "refusing the socket directory {}: {what} (owner uid {}, mode {:04o}); it must be a \
                 directory owned by uid {uid} with mode 0700: remove it, or choose another socket",
                dir.display(),
                meta.uid(),
                meta.mode() & 0o7777,
            ),
        )),
    }
}

/// Opens and locks `lock_path` (exclusive, without waiting), making sure the path still names the locked
/// file afterwards (a registry exiting removes it).
fn lock(lock_path: &Path, socket: &Path) -> Result<File, Error> {
    let unavailable = |m: String| Error::new(ErrorCode::Unavailable, m);
    for _ in 0..8 {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(lock_path)
            .map_err(|e| {
                unavailable(format!(
                    "cannot open the lock file {}: {e}",
                    lock_path.display()
                ))
            })?;
        // SAFETY: the descriptor is open for as long as `file` lives.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return Err(if e.kind() == io::ErrorKind::WouldBlock {
                unavailable(format!(
                    "another registry is listening on {} or starting there (it holds {})",
                    socket.display(),
                    lock_path.display()
                ))
            } else {
                unavailable(format!("cannot lock {}: {e}", lock_path.display()))
            });
        }
        let held = file
            .metadata()
            .map_err(|e| unavailable(format!("cannot read {}: {e}", lock_path.display())))?;
        match std::fs::symlink_metadata(lock_path) {
            Ok(now) if (now.dev(), now.ino()) == (held.dev(), held.ino()) => return Ok(file),
            // Removed or replaced by a registry that exited meanwhile: lock the new one.
            _ => continue,
        }
    }
    Err(unavailable(format!(
        "cannot lock {}: it keeps being replaced",
        lock_path.display()
    )))
}

/// Removes a socket at `path` that nobody listens on. Anything else there is an error: a file that is not
/// a socket, a socket someone listens on, or one whose state cannot be told.
async fn remove_stale(path: &Path) -> Result<(), Error> {
    let unavailable = |m: String| Error::new(ErrorCode::Unavailable, m);
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(unavailable(format!("cannot use {}: {e}", path.display()))),
    };
    let kind = meta.file_type();
    if !kind.is_socket() {
        let what = if kind.is_symlink() {
            "a symbolic link"
        } else if kind.is_dir() {
            "a directory"
        } else if kind.is_file() {
            "a regular file"
        } else {
            "not a socket"
        };
        return Err(unavailable(format!(
            "{} is {what}, not a registry's socket; it is left alone: choose another socket path",
            path.display()
        )));
    }
    match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::UnixStream::connect(path)).await {
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path)
            .map_err(|e| {
                unavailable(format!(
                    "cannot remove the stale socket {}: {e}",
                    path.display()
                ))
            }),
        Ok(Ok(_)) => Err(unavailable(format!(
            "another registry is listening on {}",
            path.display()
        ))),
        Ok(Err(e)) => Err(unavailable(format!(
            "cannot tell whether a registry listens on {} ({e}); it is left alone",
            path.display()
        ))),
        Err(_) => Err(unavailable(format!(
            "another registry is listening on {} (it accepts no connection within {} s)",
            path.display(),
            PROBE_TIMEOUT.as_secs()
        ))),
    }
}

/// Binds a socket in a new directory of mode 0700 inside `dir`, sets its mode to 0600 and links it to
/// `path` (which must not exist). Returns the listener and the socket's (device, inode).
fn bind_private(
    dir: &Path,
    path: &Path,
) -> io::Result<(std::os::unix::net::UnixListener, (u64, u64))> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let private = loop {
        // Short, so that the socket's temporary path is not much longer than its final one.
        let candidate = dir.join(format!(
            ".r{}.{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&candidate) {
            Ok(()) => break candidate,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let temporary = private.join("s");
    let bound = (|| {
        let listener = std::os::unix::net::UnixListener::bind(&temporary)?;
        // Nobody else can reach into `private`: this names the socket just bound.
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))?;
        // Fails if anything appeared at `path` meanwhile; never replaces it.
        std::fs::hard_link(&temporary, path)?;
        let meta = std::fs::symlink_metadata(path)?;
        Ok((listener, (meta.dev(), meta.ino())))
    })();
    let _ = std::fs::remove_file(&temporary);
    let _ = std::fs::remove_dir(&private);
    bound
}
