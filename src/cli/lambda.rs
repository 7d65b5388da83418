//! `iomod lambda`: the AWS Lambda custom runtime (what a bundle's `bootstrap` runs).

use std::path::PathBuf;

use iomod::lambda::{DEFAULT_LAYER_DIR, LambdaConfig};

#[derive(clap::Args, Debug)]
pub struct LambdaArgs {
    /// The function manifest [default: $LAMBDA_TASK_ROOT/function.toml, else function.toml next to this
    /// binary].
    #[arg(long, env = "IOMOD_FUNCTION")]
    pub function: Option<PathBuf>,
    /// The directory of IOmod packages to start.
    #[arg(long, env = "IOMOD_LAYER_DIR", default_value = DEFAULT_LAYER_DIR)]
    pub layer: PathBuf,
    /// How long init waits for the IOmods to register, in seconds (Lambda allows init 10 s).
    #[arg(long, default_value_t = 9.0)]
    pub init_timeout: f64,
    /// How long an invocation waits for a restarted IOmod to register again, in seconds (at most the
    /// time left before the deadline).
    #[arg(long, default_value_t = 5.0)]
    pub restart_timeout: f64,
}

pub fn main(args: LambdaArgs) -> anyhow::Result<()> {
    let function = match args.function {
        Some(path) => path,
        None => default_function()?,
    };
    let config = LambdaConfig {
        function,
        layer: args.layer,
        init_timeout: super::seconds(args.init_timeout, "--init-timeout")?,
        restart_timeout: super::seconds(args.restart_timeout, "--restart-timeout")?,
    };
    // One event at a time: the Runtime API loop, the supervisor and the hand-off to the worker need one
    // thread, not one per core (the worker and the registry have their own).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(iomod::lambda::run(config))
}

fn default_function() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("LAMBDA_TASK_ROOT").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_exe()?
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default(),
    };
    Ok(dir.join(iomod::lambda::artifacts::BUNDLE_MANIFEST))
}
