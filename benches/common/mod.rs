//! What the benchmarks share: the release echo IOmod as a process, its messages, and a raw Cap'n Proto
//! client of it (the baseline).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use capnp::{message, serialize};
use capnp_rpc::{RpcSystem, rpc_twoparty_capnp};
use iomod_echo::echo_capnp::{echo, echo_result};

pub fn echo_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("iomod-echo");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --release -p iomod-echo` first",
        path.display()
    );
    path
}

pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn(args: &[&str], registry: Option<&Path>) -> Kill {
    let mut command = Command::new(echo_binary());
    command
        .args(args)
        .env("IOMOD_LOG", "error")
        .stdin(Stdio::null());
    if let Some(registry) = registry {
        command.env("IOMOD_REGISTRY", registry);
    }
    Kill(command.spawn().unwrap())
}

pub fn input(payload: &[u8]) -> Vec<u8> {
    let mut message = message::Builder::new_default();
    message
        .init_root::<echo::echo_params::Builder<'_>>()
        .set_payload(payload);
    serialize::write_message_to_words(&message)
}

pub fn check_output(bytes: &[u8], len: usize) {
    let reader =
        serialize::read_message_from_flat_slice(&mut &bytes[..], message::ReaderOptions::new())
            .unwrap();
    let results = reader.get_root::<echo::echo_results::Reader<'_>>().unwrap();
    match results.get_result().unwrap().which().unwrap() {
        echo_result::Ok(payload) => assert_eq!(payload.unwrap().len(), len),
        echo_result::Err(_) => panic!("echo failed"),
    }
}

/// A client of `iomod-echo --raw <socket>` (raw capnp-rpc, no registry, no SDK), on the current `LocalSet`.
pub async fn connect_raw(socket: &Path) -> echo::Client {
    let start = Instant::now();
    let stream = loop {
        match tokio::net::UnixStream::connect(socket).await {
            Ok(stream) => break stream,
            Err(_) if start.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err(e) => panic!("raw echo server: {e}"),
        }
    };
    let network = iomod_sdk::transport::rpc_network(
        stream,
        rpc_twoparty_capnp::Side::Client,
        Default::default(),
    );
    let mut system = RpcSystem::new(network, None);
    let client: echo::Client = system.bootstrap(rpc_twoparty_capnp::Side::Server);
    tokio::task::spawn_local(system);
    client
}

/// One raw echo call of `payload`, checked.
pub async fn raw_echo(client: &echo::Client, payload: &[u8]) {
    let mut request = client.echo_request();
    request.get().set_payload(payload);
    let response = request.send().promise.await.unwrap();
    match response
        .get()
        .unwrap()
        .get_result()
        .unwrap()
        .which()
        .unwrap()
    {
        echo_result::Ok(p) => assert_eq!(p.unwrap().len(), payload.len()),
        echo_result::Err(_) => panic!("echo failed"),
    }
}

/// The input of the `call_loop.wat` guest: make `n` calls of `example.test.echo.echo` with `call_input`.
pub fn loop_input(n: u32, call_input: &[u8]) -> Vec<u8> {
    let path = b"example.test.echo.echo";
    let mut input = n.to_le_bytes().to_vec();
    input.extend_from_slice(&(path.len() as u32).to_le_bytes());
    input.extend_from_slice(path);
    input.extend_from_slice(call_input);
    input
}
