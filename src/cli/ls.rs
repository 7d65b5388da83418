//! `iomod ls`: the IOmods registered with a running registry.
#![allow(clippy::print_stdout)]

use iomod::registry::IomodStatus;
use iomod_sdk::transport::{ConnectionLimits, RegistryAddress, RegistryConnection, TOKEN_ENV};

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// The registry: a socket path or tcp://host:port [default: $IOMOD_REGISTRY, else the default socket].
    #[arg(long)]
    pub registry: Option<String>,
    /// Print JSON, with every method's JSON Schemas.
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: LsArgs) -> anyhow::Result<()> {
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

/// The human-readable listing: one line per IOmod, then its methods indented below it, each with the
/// callers seen (the version of the manifest they were generated from, and whether they are served).
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
            for c in s.callers.iter().filter(|c| c.method == m.name) {
                let version = if c.version.is_empty() {
                    "unknown"
                } else {
                    &c.version
                };
                let served = if c.refused.is_empty() {
                    "served".to_owned()
                } else {
                    format!("refused: {}", c.refused)
                };
                let _ = writeln!(
                    out,
                    "      caller {version:<10}  {}  {:>7} calls  {served}",
                    c.fingerprint, c.calls
                );
            }
        }
    }
    out
}
