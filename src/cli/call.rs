//! `iomod call`: call an IOmod method with JSON from the shell.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use anyhow::{Context, bail};
use iomod_sdk::transport::{ConnectionLimits, RegistryAddress, RegistryConnection, TOKEN_ENV};

#[derive(clap::Args, Debug)]
pub struct CallArgs {
    /// The method: organization.namespace.name.method.
    pub path: String,
    /// The input, as JSON shaped like the method's input schema (`iomod ls --json` shows it).
    #[arg(default_value = "{}")]
    pub input: String,
    /// The registry: a socket path or tcp://host:port [default: $IOMOD_REGISTRY, else the default socket].
    #[arg(long)]
    pub registry: Option<String>,
    /// The call's deadline, in seconds [default: the registry's].
    #[arg(long)]
    pub timeout: Option<f64>,
}

pub fn main(args: CallArgs) -> anyhow::Result<()> {
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
