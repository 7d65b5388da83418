//! `iomod`: run a registry, and inspect the IOmods registered with it.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use iomod::registry::{IomodStatus, Registry, RegistryConfig, TcpConfig};
use iomod_sdk::transport::{
    ConnectionLimits, REGISTRY_ENV, RegistryAddress, RegistryConnection, TOKEN_ENV,
};

#[derive(Parser, Debug)]
#[command(
    name = "iomod",
    version,
    about = "Run and inspect IOmods: the IO modules of sandboxed wasm functions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a registry in the foreground until SIGTERM or Ctrl-C.
    Registry(RegistryArgs),
    /// List the IOmods registered with a running registry, their versions and methods.
    Ls(LsArgs),
    /// Call an IOmod method with JSON from the shell, through a running registry; prints the output JSON.
    Call(CallArgs),
    /// Run a function with its IOmods: start a registry and the IOmods its function.toml names, run it
    /// once on the input, print its output, stop everything.
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
struct CallArgs {
    /// The method: organization.namespace.name.method.
    path: String,
    /// The input, as JSON shaped like the method's input schema (`iomod ls --json` shows it).
    #[arg(default_value = "{}")]
    input: String,
    /// The registry: a socket path or tcp://host:port [default: $IOMOD_REGISTRY, else the default socket].
    #[arg(long)]
    registry: Option<String>,
    /// The call's deadline, in seconds [default: the registry's].
    #[arg(long)]
    timeout: Option<f64>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The function manifest.
    #[arg(default_value = "function.toml")]
    manifest: PathBuf,
    /// The input (by convention JSON); read from standard input when neither this nor --input-file is given.
    #[arg(long, conflicts_with = "input_file")]
    input: Option<String>,
    /// Read the input from this file.
    #[arg(long)]
    input_file: Option<PathBuf>,
    /// How long to wait for the IOmods to register, in seconds.
    #[arg(long, default_value_t = 10.0)]
    ready_timeout: f64,
}

#[derive(clap::Args, Debug)]
struct RegistryArgs {
    /// The Unix socket to listen on (mode 0600) [default: $IOMOD_REGISTRY when it is a path, else
    /// $XDG_RUNTIME_DIR/iomod/registry.sock or /tmp/iomod-<uid>/registry.sock].
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Also listen on TCP at this address (loopback unless --allow-remote). Every TCP connection must present
    /// the token from $IOMOD_REGISTRY_TOKEN or --token-file.
    #[arg(long)]
    tcp: Option<std::net::SocketAddr>,
    /// Read the TCP token from this file (its first line).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Allow --tcp to name a non-loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// The largest input or output of one call, in bytes.
    #[arg(long, default_value_t = iomod_sdk::DEFAULT_MAX_PAYLOAD_BYTES)]
    max_payload_bytes: usize,
    /// Seconds between health checks of each IOmod.
    #[arg(long, default_value_t = 5.0)]
    health_interval: f64,
    /// Start and supervise every IOmod package in this directory (each subdirectory with an iomod.toml
    /// whose [process] names its entrypoint); crashed ones are restarted with backoff.
    #[arg(long)]
    packages: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct LsArgs {
    /// The registry: a socket path or tcp://host:port [default: $IOMOD_REGISTRY, else the default socket].
    #[arg(long)]
    registry: Option<String>,
    /// Print JSON, with every method's JSON Schemas.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    iomod_sdk::logging::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Registry(args) => run_registry(args),
        Command::Ls(args) => ls(args),
        Command::Run(args) => run_function(args),
        Command::Call(args) => call(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iomod: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_registry(args: RegistryArgs) -> anyhow::Result<()> {
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
    let packages = match &args.packages {
        Some(dir) => iomod::supervisor::IomodProcess::from_packages_dir(dir)?,
        None => Vec::new(),
    };
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
        Ok(())
    })
}

fn call(args: CallArgs) -> anyhow::Result<()> {
    serde_json::from_str::<serde_json::Value>(&args.input)
        .context("the input is not valid JSON")?;
    let address = match &args.registry {
        Some(text) => text.parse()?,
        None => RegistryAddress::from_env()?,
    };
    let timeout_ms = match args.timeout {
        Some(secs) => {
            let ms = Duration::try_from_secs_f64(secs)
                .context("--timeout must be a number of seconds")?
                .as_millis();
            u32::try_from(ms.max(1)).context("--timeout is too long")?
        }
        None => 0,
    };
    let token = std::env::var(TOKEN_ENV).ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = tokio::task::LocalSet::new().block_on(&runtime, async {
        let connection =
            RegistryConnection::connect(&address, token.as_deref(), ConnectionLimits::default())
                .await?;
        let mut request = connection.registry.call_json_request();
        request.get().set_path(&args.path[..]);
        request.get().set_input(&args.input[..]);
        request.get().set_timeout_ms(timeout_ms);
        let response = request.send().promise.await?;
        let result = response.get()?.get_result()?;
        let outcome = match result.which()? {
            iomod_sdk::iomod_capnp::json_result::Ok(text) => Ok(text?.to_string()?),
            iomod_sdk::iomod_capnp::json_result::Err(error) => Err(iomod_sdk::Error::read(error?)),
        };
        connection.disconnect().await;
        anyhow::Ok(outcome)
    })?;
    match outcome {
        Ok(output) => {
            let pretty = serde_json::from_str::<serde_json::Value>(&output)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or(output);
            println!("{pretty}");
            Ok(())
        }
        Err(error) if error.code == iomod_sdk::ErrorCode::Method => {
            let detail = String::from_utf8_lossy(&error.detail);
            bail!("{} returned its error {}: {detail}", args.path, error.name)
        }
        Err(error) => bail!("{}: {error}", args.path),
    }
}

fn run_function(args: RunArgs) -> anyhow::Result<()> {
    use iomod::function::FunctionManifest;
    use iomod::host::Host;
    use iomod::supervisor::{Supervisor, SupervisorConfig};
    use std::io::{Read, Write};

    let manifest = FunctionManifest::load(&args.manifest)?;
    let wasm = std::fs::read(&manifest.module)
        .with_context(|| format!("cannot read the module {}", manifest.module.display()))?;
    let input = match (&args.input, &args.input_file) {
        (Some(text), _) => text.clone().into_bytes(),
        (None, Some(file)) => {
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
        }
        (None, None) => {
            let mut buffer = Vec::new();
            std::io::stdin().read_to_end(&mut buffer)?;
            buffer
        }
    };
    let ready_timeout = Duration::try_from_secs_f64(args.ready_timeout)
        .context("--ready-timeout must be a number of seconds")?;
    let dir = std::env::temp_dir().join(format!("iomod-run-{}", std::process::id()));
    let runtime = tokio::runtime::Runtime::new()?;
    let output = runtime.block_on(async {
        let registry = Registry::start(RegistryConfig::unix(dir.join("registry.sock"))).await?;
        let host = Host::new()?;
        let function = host.load(&wasm, manifest.config.clone())?;
        let supervisor = Supervisor::start(
            manifest.processes.clone(),
            SupervisorConfig::new(RegistryAddress::Unix(dir.join("registry.sock"))),
        );
        let waited = registry
            .wait_ready(&manifest.config.allow, ready_timeout)
            .await;
        let result = match waited {
            Ok(()) => function
                .run(&registry, input)
                .await
                .map_err(anyhow::Error::from),
            Err(e) => Err(anyhow::anyhow!("the function's IOmods did not start: {e}")),
        };
        supervisor.shutdown().await;
        registry.shutdown();
        result
    });
    let _ = std::fs::remove_dir_all(&dir);
    let output = output?;
    std::io::stdout().write_all(&output)?;
    Ok(())
}

fn ls(args: LsArgs) -> anyhow::Result<()> {
    let address = match &args.registry {
        Some(text) => text.parse()?,
        None => RegistryAddress::from_env()?,
    };
    let token = std::env::var(TOKEN_ENV).ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let statuses = tokio::task::LocalSet::new().block_on(&runtime, async {
        let connection =
            RegistryConnection::connect(&address, token.as_deref(), ConnectionLimits::default())
                .await?;
        let response = connection.registry.list_request().send().promise.await?;
        let mut statuses = Vec::new();
        for status in response.get()?.get_iomods()?.iter() {
            statuses.push(IomodStatus::read(status)?);
        }
        connection.disconnect().await;
        anyhow::Ok(statuses)
    })?;
    if args.json {
        let json: Vec<_> = statuses.iter().map(IomodStatus::to_json).collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", table(&statuses));
    }
    Ok(())
}

/// The human-readable listing: one line per IOmod, then its methods indented below it.
fn table(statuses: &[IomodStatus]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if statuses.is_empty() {
        out.push_str("no IOmods registered\n");
        return out;
    }
    let width = statuses
        .iter()
        .map(|s| s.info.coordinates.as_str().len())
        .max()
        .unwrap_or(0)
        .max(11);
    let _ = writeln!(
        out,
        "{:<width$}  {:<10}  {:<9}  {:>8}  {:>8}  {:>7}",
        "COORDINATES", "VERSION", "STATE", "INSTANCE", "PID", "CALLS"
    );
    for s in statuses {
        let _ = writeln!(
            out,
            "{:<width$}  {:<10}  {:<9}  {:>8}  {:>8}  {:>7}",
            s.info.coordinates.as_str(),
            s.info.version,
            s.state.as_str(),
            s.instance_id,
            s.info.pid,
            s.calls_started
        );
        for m in &s.info.methods {
            let doc = m.doc.lines().next().unwrap_or("");
            let _ = writeln!(
                out,
                "  .{:<width$}  @{:<3} {doc}",
                m.name,
                m.ordinal,
                width = width - 1
            );
        }
    }
    out
}
