//! Registry addresses, connections and the Cap'n Proto RPC plumbing shared by the runtime and IOmods.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use capnp_rpc::{RpcSystem, rpc_twoparty_capnp, twoparty};
use futures::AsyncReadExt;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::error::protocol_error;
use crate::iomod_capnp::{gate, registry};
use crate::{Error, ErrorCode};

/// The environment variable that tells an IOmod (or a tool) where the registry listens.
pub const REGISTRY_ENV: &str = "IOMOD_REGISTRY";
/// The environment variable that holds the shared token for TCP connections.
pub const TOKEN_ENV: &str = "IOMOD_REGISTRY_TOKEN";
/// The environment variable that names the runtime's lanes: Unix socket paths separated by `:`, one
/// registry per worker thread of the runtime, which an IOmod registers with besides [`REGISTRY_ENV`].
pub const LANES_ENV: &str = "IOMOD_REGISTRY_LANES";

/// Reads [`LANES_ENV`]: the lanes' socket paths (none when unset or empty).
pub fn lanes_from_env() -> Result<Vec<RegistryAddress>, Error> {
    match std::env::var(LANES_ENV) {
        Ok(value) => Ok(parse_lanes(&value)),
        Err(std::env::VarError::NotPresent) => Ok(Vec::new()),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::new(
            ErrorCode::InvalidInput,
            format!("{LANES_ENV} is not valid UTF-8"),
        )),
    }
}

/// Lane socket paths separated by `:` (empty entries are skipped), as in `PATH`.
pub fn parse_lanes(value: &str) -> Vec<RegistryAddress> {
    value
        .split(':')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| RegistryAddress::Unix(PathBuf::from(p)))
        .collect()
}

/// The value of [`LANES_ENV`] for `lanes`.
pub fn format_lanes(lanes: &[PathBuf]) -> String {
    lanes
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// Where a registry listens: a Unix socket (the default) or a TCP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryAddress {
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// `host:port`, reached over TCP; connections must present the shared token.
    Tcp(String),
}

impl RegistryAddress {
    /// The default socket: `$XDG_RUNTIME_DIR/iomod/registry.sock`, or `/tmp/iomod-<uid>/registry.sock`.
    pub fn default_unix() -> Self {
        let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("iomod"),
            _ => PathBuf::from(format!("/tmp/iomod-{}", current_uid())),
        };
        RegistryAddress::Unix(dir.join("registry.sock"))
    }

    /// Reads [`REGISTRY_ENV`]; [`RegistryAddress::default_unix`] when it is unset or empty.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var(REGISTRY_ENV) {
            Ok(value) if !value.trim().is_empty() => value.parse().map_err(|e: Error| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!("{REGISTRY_ENV}: {}", e.message),
                )
            }),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(Self::default_unix()),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::new(
                ErrorCode::InvalidInput,
                format!("{REGISTRY_ENV} is not valid UTF-8"),
            )),
        }
    }
}

fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0)
}

impl FromStr for RegistryAddress {
    type Err = Error;

    /// `tcp://host:port`, `unix:/path`, or a plain path.
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("tcp://") {
            let (host, port) = rest.rsplit_once(':').ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!("`{s}` has no port: expected tcp://host:port"),
                )
            })?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("`{s}` is not tcp://host:port with a port from 0 to 65535"),
                ));
            }
            return Ok(RegistryAddress::Tcp(rest.to_owned()));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "unsupported scheme `{scheme}://` in `{s}`: use a socket path or tcp://host:port"
                ),
            ));
        }
        let path = s.strip_prefix("unix:").unwrap_or(s);
        if path.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                "the registry socket path is empty",
            ));
        }
        Ok(RegistryAddress::Unix(PathBuf::from(path)))
    }
}

impl fmt::Display for RegistryAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryAddress::Unix(path) => write!(f, "{}", path.display()),
            RegistryAddress::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

/// Limits on what one RPC connection accepts.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The largest message, in bytes, a peer may send (a call's payload plus framing).
    pub max_message_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: crate::DEFAULT_MAX_PAYLOAD_BYTES + 1024 * 1024,
        }
    }
}

impl ConnectionLimits {
    fn reader_options(&self) -> capnp::message::ReaderOptions {
        let mut options = capnp::message::ReaderOptions::new();
        // The traversal limit counts words read; allow reading a maximum-size message a few times over.
        options.traversal_limit_in_words(Some(self.max_message_bytes.div_ceil(8) * 4));
        // The RPC message wraps the payload in a few more levels.
        options.nesting_limit(crate::NESTING_LIMIT + 8);
        options
    }
}

/// Builds the two-party RPC network over any byte stream.
pub fn rpc_network<S>(
    stream: S,
    side: rpc_twoparty_capnp::Side,
    limits: ConnectionLimits,
) -> Box<dyn capnp_rpc::VatNetwork<rpc_twoparty_capnp::Side>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    let (reader, writer) = stream.compat().split();
    Box::new(twoparty::VatNetwork::new(
        futures::io::BufReader::new(reader),
        futures::io::BufWriter::new(writer),
        side,
        limits.reader_options(),
    ))
}

/// A connected stream to a registry.
#[derive(Debug)]
pub enum Stream {
    /// Over a Unix socket.
    Unix(tokio::net::UnixStream),
    /// Over TCP.
    Tcp(tokio::net::TcpStream),
}

/// Opens a byte stream to the registry at `address`.
pub async fn connect_stream(address: &RegistryAddress) -> std::io::Result<Stream> {
    match address {
        RegistryAddress::Unix(path) => {
            Ok(Stream::Unix(tokio::net::UnixStream::connect(path).await?))
        }
        RegistryAddress::Tcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Stream::Tcp(stream))
        }
    }
}

/// A client-side RPC connection to a registry, opened through its gate. Must be used on a `LocalSet`.
pub struct RegistryConnection {
    /// The registry capability.
    pub registry: registry::Client,
    closed: futures::future::Shared<futures::future::LocalBoxFuture<'static, ()>>,
    disconnector: Option<futures::future::LocalBoxFuture<'static, Result<(), capnp::Error>>>,
}

impl fmt::Debug for RegistryConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryConnection").finish_non_exhaustive()
    }
}

impl RegistryConnection {
    /// Connects to the registry at `address` and opens its gate with `token` (needed over TCP).
    ///
    /// Errors: [`ErrorCode::Unavailable`] when nothing listens there, [`ErrorCode::Unauthenticated`] when the
    /// token is missing or wrong, [`ErrorCode::Internal`] for protocol failures.
    pub async fn connect(
        address: &RegistryAddress,
        token: Option<&str>,
        limits: ConnectionLimits,
    ) -> Result<Self, Error> {
        let stream = connect_stream(address).await.map_err(|e| {
            Error::new(
                ErrorCode::Unavailable,
                format!("cannot connect to the registry at {address}: {e}"),
            )
        })?;
        match stream {
            Stream::Unix(s) => Self::open(s, token, limits).await,
            Stream::Tcp(s) => Self::open(s, token, limits).await,
        }
    }

    async fn open<S>(
        stream: S,
        token: Option<&str>,
        limits: ConnectionLimits,
    ) -> Result<Self, Error>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
    {
        let network = rpc_network(stream, rpc_twoparty_capnp::Side::Client, limits);
        let mut system = RpcSystem::new(network, None);
        let gate: gate::Client = system.bootstrap(rpc_twoparty_capnp::Side::Server);
        let disconnector = system.get_disconnector();
        let (closed_tx, closed_rx) = futures::channel::oneshot::channel::<()>();
        tokio::task::spawn_local(async move {
            if let Err(e) = system.await {
                tracing::debug!(error = %e, "registry connection ended");
            }
            let _ = closed_tx.send(());
        });
        let mut request = gate.open_request();
        request.get().set_token(token.unwrap_or(""));
        let response = request.send().promise.await.map_err(|e| {
            let mut err = Error::from_exception(&e);
            err.message = format!("the registry did not answer: {}", err.message);
            err
        })?;
        let result = response
            .get()
            .and_then(|r| r.get_result())
            .map_err(protocol_error)?;
        let registry = match result.which().map_err(|e| protocol_error(e.into()))? {
            crate::iomod_capnp::open_result::Registry(client) => client.map_err(protocol_error)?,
            crate::iomod_capnp::open_result::Error(err) => {
                return Err(Error::read(err.map_err(protocol_error)?));
            }
        };
        Ok(Self {
            registry,
            closed: futures::FutureExt::shared(Box::pin(async move {
                let _ = closed_rx.await;
            })
                as futures::future::LocalBoxFuture<'static, ()>),
            disconnector: Some(Box::pin(disconnector)),
        })
    }

    /// Resolves when the connection ends (any number of times).
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + 'static {
        self.closed.clone()
    }

    /// Closes the connection and waits until it is closed.
    pub async fn disconnect(mut self) {
        if let Some(disconnector) = self.disconnector.take() {
            let _ = disconnector.await;
        }
        self.closed.await;
    }
}

/// Removes a stale socket at `path` (a socket file nobody listens on: connecting to it is refused),
/// creating its directory (mode 0700) if needed. Fails, and leaves the file alone, when another process
/// listens there, when connecting fails for another reason, and when the file is not a socket.
///
/// This does not keep two processes starting at once from both claiming the path; the runtime's registry
/// also holds a lock on `<path>.lock` while it listens.
pub async fn prepare_socket_path(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; it is left alone",
                path.display()
            ),
        ));
    }
    match tokio::net::UnixStream::connect(path).await {
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("another registry is listening on {}", path.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!(
                "cannot tell whether a registry listens on {} ({e}); it is left alone",
                path.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prepare_socket_path_removes_only_stale_sockets() {
        let dir = std::env::temp_dir().join(format!("iomod-prepare-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A regular file is never removed.
        let file = dir.join("notes.txt");
        std::fs::write(&file, "keep me").unwrap();
        let err = prepare_socket_path(&file).await.unwrap_err();
        assert!(err.to_string().contains("not a socket"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
        // A live socket is refused; once nobody listens, it is stale and removed.
        let socket = dir.join("s.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let err = prepare_socket_path(&socket).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        drop(listener);
        prepare_socket_path(&socket).await.unwrap();
        assert!(!socket.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lanes_are_socket_paths_separated_by_colons() {
        assert_eq!(parse_lanes(""), Vec::new());
        assert_eq!(
            parse_lanes("/run/a.sock::/run/b.sock:"),
            vec![
                RegistryAddress::Unix("/run/a.sock".into()),
                RegistryAddress::Unix("/run/b.sock".into())
            ]
        );
        let paths = [
            PathBuf::from("/x/lane-0.sock"),
            PathBuf::from("/x/lane-1.sock"),
        ];
        assert_eq!(
            parse_lanes(&format_lanes(&paths)),
            paths
                .iter()
                .cloned()
                .map(RegistryAddress::Unix)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn parse_addresses() {
        assert_eq!(
            "/run/x.sock".parse::<RegistryAddress>().unwrap(),
            RegistryAddress::Unix("/run/x.sock".into())
        );
        assert_eq!(
            "unix:rel.sock".parse::<RegistryAddress>().unwrap(),
            RegistryAddress::Unix("rel.sock".into())
        );
        assert_eq!(
            "tcp://127.0.0.1:13555".parse::<RegistryAddress>().unwrap(),
            RegistryAddress::Tcp("127.0.0.1:13555".into())
        );
        assert_eq!(
            "tcp://[::1]:1".parse::<RegistryAddress>().unwrap(),
            RegistryAddress::Tcp("[::1]:1".into())
        );
        for bad in [
            "",
            "tcp://host",
            "tcp://:80",
            "tcp://h:99999",
            "http://x:1",
            "unix:",
        ] {
            let err = bad.parse::<RegistryAddress>().unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidInput, "{bad}");
        }
    }
}
