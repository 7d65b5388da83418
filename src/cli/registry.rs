//! `iomod registry`: run a registry in the foreground.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use iomod::registry::{Registry, RegistryConfig, TcpConfig};
use iomod_sdk::transport::{REGISTRY_ENV, RegistryAddress, TOKEN_ENV};

#[derive(clap::Args, Debug)]
pub struct RegistryArgs {
    /// The Unix socket to listen on (mode 0600) [default: $IOMOD_REGISTRY when it is a path, else
    /// $XDG_RUNTIME_DIR/iomod/registry.sock or /tmp/iomod-<uid>/registry.sock].
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Also listen on TCP at this address (loopback unless --allow-remote). Every TCP connection must present
    /// the token from $IOMOD_REGISTRY_TOKEN or --token-file.
    #[arg(long)]
    pub tcp: Option<std::net::SocketAddr>,
    /// Read the TCP token from this file (its first line).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Allow --tcp to name a non-loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// The largest input or output of one call, in bytes.
    #[arg(long, default_value_t = iomod_sdk::DEFAULT_MAX_PAYLOAD_BYTES)]
    pub max_payload_bytes: usize,
    /// Seconds between health checks of each IOmod.
    #[arg(long, default_value_t = 5.0)]
    pub health_interval: f64,
    /// The most connections open at once (Unix and TCP); more are closed as soon as they are accepted.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// The most TCP connections open at once that have not presented the token yet.
    #[arg(long, default_value_t = 1024)]
    pub max_unauthenticated: usize,
    /// Seconds a TCP connection has to present the token before it is closed.
    #[arg(long, default_value_t = 5.0)]
    pub handshake_timeout: f64,
    /// Start and supervise every IOmod package in this directory (each subdirectory with an iomod.toml
    /// whose [process] names its entrypoint); crashed ones are restarted with backoff.
    #[arg(long)]
    pub packages: Option<PathBuf>,
}

pub fn main(args: RegistryArgs) -> anyhow::Result<()> {
    let socket = match args.socket {
        Some(path) => path,
        None => match RegistryAddress::from_env()? {
            RegistryAddress::Unix(path) => path,
            RegistryAddress::Tcp(_) => match RegistryAddress::default_unix() {
                RegistryAddress::Unix(path) => path,
                RegistryAddress::Tcp(_) => unreachable!("the default address is a socket"),
            },
        },
    };
    let mut config = RegistryConfig::unix(socket);
    config.max_payload_bytes = args.max_payload_bytes;
    config.health_interval = Duration::try_from_secs_f64(args.health_interval)
        .ok()
        .filter(|d| !d.is_zero())
        .context("--health-interval must be a positive number of seconds")?;
    config.max_connections = args.max_connections;
    config.max_unauthenticated = args.max_unauthenticated;
    config.handshake_timeout = Duration::try_from_secs_f64(args.handshake_timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .context("--handshake-timeout must be a positive number of seconds")?;
    if let Some(addr) = args.tcp {
        let token = match &args.token_file {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned(),
            None => std::env::var(TOKEN_ENV).unwrap_or_default(),
        };
        if token.is_empty() {
            bail!("--tcp needs a token: set {TOKEN_ENV} or pass --token-file");
        }
        config.tcp = Some(TcpConfig {
            addr,
            token,
            allow_remote: args.allow_remote,
        });
    }
    // Kept until the end: files of `.iomod` packages are extracted for as long as their IOmods run.
    let package_set = match &args.packages {
        Some(dir) => Some(iomod::package::PackageSet::open(
            dir,
            &iomod::package::Limits::default(),
        )?),
        None => None,
    };
    let packages = package_set
        .as_ref()
        .map(iomod::package::PackageSet::processes)
        .unwrap_or_default();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let registry = Registry::start(config).await?;
        let supervisor_address = match (registry.socket_path(), registry.tcp_addr()) {
            (Some(path), _) => RegistryAddress::Unix(path.to_owned()),
            (None, Some(addr)) => RegistryAddress::Tcp(addr.to_string()),
            (None, None) => unreachable!("a registry listens somewhere"),
        };
        let mut supervisor_config = iomod::supervisor::SupervisorConfig::new(supervisor_address);
        supervisor_config.token = std::env::var(TOKEN_ENV).ok();
        for package in &packages {
            eprintln!(
                "starting {} ({})",
                package.coordinates,
                package.program.display()
            );
        }
        let supervisor = iomod::supervisor::Supervisor::start(packages, supervisor_config);
        if let Some(path) = registry.socket_path() {
            eprintln!(
                "iomod registry listening on {} (set {REGISTRY_ENV} to this path)",
                path.display()
            );
        }
        if let Some(addr) = registry.tcp_addr() {
            eprintln!("iomod registry listening on tcp://{addr}");
        }
        iomod_sdk::shutdown_signal().await;
        supervisor.shutdown().await;
        registry.shutdown();
        drop(package_set);
        Ok(())
    })
}
