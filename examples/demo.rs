//! The end-to-end demo: a registry, the echo IOmod as a separate process, calls through the registry,
//! typed errors, many calls in flight, and a graceful shutdown. Run it with `scripts/demo.sh`.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use capnp::{message, serialize};
use iomod::registry::{Registry, RegistryConfig};
use iomod_echo::echo_capnp::{echo, echo_result, reverse_result};

/// A binary built next to this example (`target/<profile>/<name>`).
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .and_then(Path::parent)
        .context("unexpected example location")?
        .join(name);
    if !path.is_file() {
        bail!(
            "{} is missing: run `cargo build --workspace --bins` first (scripts/demo.sh does)",
            path.display()
        );
    }
    Ok(path)
}

fn echo_input(payload: &[u8], delay_ms: u32) -> Vec<u8> {
    let mut message = message::Builder::new_default();
    let mut params = message.init_root::<echo::echo_params::Builder<'_>>();
    params.set_payload(payload);
    params.set_delay_ms(delay_ms);
    serialize::write_message_to_words(&message)
}

fn echo_output(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let reader =
        serialize::read_message_from_flat_slice(&mut &bytes[..], message::ReaderOptions::new())?;
    match reader
        .get_root::<echo::echo_results::Reader<'_>>()?
        .get_result()?
        .which()?
    {
        echo_result::Ok(payload) => Ok(payload?.to_vec()),
        echo_result::Err(err) => bail!("echo failed: {}", iomod_sdk::Error::read(err?)),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("iomod-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(dir: &Path) -> anyhow::Result<()> {
    let socket = dir.join("registry.sock");
    let registry = Arc::new(Registry::start(RegistryConfig::unix(&socket)).await?);
    println!("1. registry listening on {}", socket.display());

    let started = Instant::now();
    let mut echo = Command::new(sibling("iomod-echo")?)
        .env("IOMOD_REGISTRY", &socket)
        .env("IOMOD_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()?;
    registry
        .wait_ready(&[iomod_echo::COORDINATES.parse()?], Duration::from_secs(10))
        .await?;
    println!(
        "2. iomod-echo (pid {}) registered {:.1} ms after spawn",
        echo.id(),
        started.elapsed().as_secs_f64() * 1e3
    );

    println!("3. `iomod ls`:");
    let ls = Command::new(sibling("iomod")?)
        .args(["ls", "--registry"])
        .arg(&socket)
        .output()?;
    for line in String::from_utf8_lossy(&ls.stdout).lines() {
        println!("     {line}");
    }

    let out = registry
        .invoke(
            "example.test.echo.echo",
            echo_input(b"hello, iomod", 0),
            None,
        )
        .await?;
    println!(
        "4. example.test.echo.echo(\"hello, iomod\") -> {:?}",
        String::from_utf8_lossy(&echo_output(&out)?)
    );
    let mut reverse = message::Builder::new_default();
    reverse
        .init_root::<echo::reverse_params::Builder<'_>>()
        .set_text("stressed");
    let out = registry
        .invoke(
            "example.test.echo.reverse",
            serialize::write_message_to_words(&reverse),
            None,
        )
        .await?;
    let reader =
        serialize::read_message_from_flat_slice(&mut &out[..], message::ReaderOptions::new())?;
    if let reverse_result::Ok(text) = reader
        .get_root::<echo::reverse_results::Reader<'_>>()?
        .get_result()?
        .which()?
    {
        println!(
            "   example.test.echo.reverse(\"stressed\") -> {:?}",
            text?.to_str()?
        );
    }

    println!("5. typed errors, never panics:");
    let cases: [(&str, Vec<u8>, Option<Duration>); 4] = [
        ("example.test.nothing.echo", echo_input(b"x", 0), None),
        ("example.test.echo.shout", echo_input(b"x", 0), None),
        ("example.test.echo.echo", b"garbage".to_vec(), None),
        (
            "example.test.echo.echo",
            echo_input(b"x", 2_000),
            Some(Duration::from_millis(50)),
        ),
    ];
    for (path, input, timeout) in cases {
        match registry.invoke(path, input, timeout).await {
            Err(e) => println!("     {path}: {e}"),
            Ok(_) => bail!("{path} should have failed"),
        }
    }

    let started = Instant::now();
    let calls: Vec<_> = (0..1000u32)
        .map(|i| {
            let registry = registry.clone();
            tokio::spawn(async move {
                let payload = i.to_le_bytes();
                let out = registry
                    .invoke("example.test.echo.echo", echo_input(&payload, 100), None)
                    .await?;
                anyhow::ensure!(echo_output(&out)? == payload, "wrong answer to call {i}");
                anyhow::Ok(())
            })
        })
        .collect();
    for call in calls {
        call.await??;
    }
    println!(
        "6. 1,000 concurrent calls, each sleeping 100 ms in the IOmod: all correct in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let slow = {
        let registry = registry.clone();
        tokio::spawn(async move {
            registry
                .invoke(
                    "example.test.echo.echo",
                    echo_input(b"in flight", 500),
                    None,
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    Command::new("kill")
        .args(["-TERM", &echo.id().to_string()])
        .status()?;
    let answer = echo_output(&slow.await??)?;
    let status = echo.wait()?;
    println!(
        "7. SIGTERM during a call: the call still got {:?}; iomod-echo exited with {status}",
        String::from_utf8_lossy(&answer)
    );
    println!("   registered IOmods now: {}", registry.list().await?.len());
    Ok(())
}
