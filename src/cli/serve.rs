//! `iomod serve`: the warm runtime behind the HTTP trigger, until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use iomod::serve::{Readiness, Runtime, ServeConfig};
use tracing::{info, warn};

use super::CacheArgs;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Function manifests (`function.toml`), or directories of them.
    #[arg(required = true)]
    pub functions: Vec<PathBuf>,
    /// Where to listen for HTTP (loopback by default; a non-loopback address exposes the functions).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Also start every IOmod package in this directory.
    #[arg(long)]
    pub packages: Option<PathBuf>,
    /// Worker threads [default: one per core].
    #[arg(long)]
    pub workers: Option<usize>,
    /// The most invocations running at once; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 256)]
    pub max_concurrency: usize,
    /// On SIGTERM, how long to wait for invocations in flight, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub drain_timeout: f64,
    /// How long to wait for the IOmods to register before warning, in seconds (/readyz answers 503 until
    /// they have).
    #[arg(long, default_value_t = 30.0)]
    pub ready_timeout: f64,
    #[command(flatten)]
    pub cache: CacheArgs,
}

pub fn main(args: ServeArgs) -> anyhow::Result<()> {
    let functions = super::load_functions(&args.functions)?;
    let defaults = ServeConfig::default();
    let config = ServeConfig {
        workers: args.workers.unwrap_or(defaults.workers),
        max_concurrency: args.max_concurrency,
        cache: args.cache.cache(),
        listen: Some(args.listen),
        packages: args.packages.clone(),
        drain_timeout: super::seconds(args.drain_timeout, "--drain-timeout")?,
        ..defaults
    };
    let ready_timeout = super::seconds(args.ready_timeout, "--ready-timeout")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let runtime = Runtime::start(functions, config).await?;
        let addr = runtime
            .http_addr()
            .map_or_else(String::new, |a| a.to_string());
        eprintln!(
            "iomod serve: listening on http://{addr} (POST /functions/{{{}}}, GET /healthz /readyz /metrics); registry {}",
            runtime.function_names().join(","),
            runtime
                .registry_socket()
                .map_or_else(String::new, |p| p.display().to_string()),
        );
        tokio::select! {
            () = iomod_sdk::shutdown_signal() => {}
            () = report_readiness(&runtime, ready_timeout) => {
                iomod_sdk::shutdown_signal().await;
            }
        }
        info!("stopping: finishing the invocations in flight");
        runtime.shutdown().await;
        anyhow::Ok(())
    })
}

/// Logs when every IOmod is registered, or warns (once) naming those that are not after `timeout`.
async fn report_readiness(runtime: &Runtime, timeout: std::time::Duration) {
    match runtime.wait_ready(timeout).await {
        Ok(()) => info!("ready: every IOmod is registered"),
        Err(e) => match runtime.readiness().await {
            Readiness::NotReady(missing) => {
                warn!(error = %e, missing = %missing.join(", "), "IOmods did not register in time; /readyz answers 503 until they do")
            }
            _ => warn!(error = %e, "IOmods did not register in time"),
        },
    }
}
