//! `iomod run`: the warm runtime started for one invocation (one worker, no HTTP), then stopped.
#![allow(clippy::print_stdout)]

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use iomod::serve::{InvokeOptions, Runtime, ServeConfig};

use super::CacheArgs;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The function manifest.
    #[arg(default_value = "function.toml")]
    pub manifest: PathBuf,
    /// The input (by convention JSON); read from standard input when neither this nor --input-file is given.
    #[arg(long, conflicts_with = "input_file")]
    pub input: Option<String>,
    /// Read the input from this file.
    #[arg(long)]
    pub input_file: Option<PathBuf>,
    /// How long to wait for the IOmods to register, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub ready_timeout: f64,
    #[command(flatten)]
    pub cache: CacheArgs,
}

pub fn main(args: RunArgs) -> anyhow::Result<()> {
    let functions = super::load_functions(std::slice::from_ref(&args.manifest))?;
    let name = functions[0].name.clone();
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
    let ready_timeout = super::seconds(args.ready_timeout, "--ready-timeout")?;
    let config = ServeConfig {
        workers: 1,
        max_concurrency: 1,
        cache: args.cache.cache(),
        ..ServeConfig::default()
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let output = runtime.block_on(async {
        let runtime = Runtime::start(functions, config).await?;
        let result = match runtime.wait_ready(ready_timeout).await {
            Ok(()) => runtime
                .invoke(&name, input, InvokeOptions::default())
                .await
                .map_err(anyhow::Error::from),
            Err(e) => Err(anyhow::anyhow!("the function's IOmods did not start: {e}")),
        };
        runtime.shutdown().await;
        result
    })?;
    std::io::stdout().write_all(&output)?;
    Ok(())
}
