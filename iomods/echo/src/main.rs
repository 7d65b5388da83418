//! `iomod-echo`: the echo IOmod binary.
//!
//! With no arguments it registers with the registry named by `IOMOD_REGISTRY` and serves until SIGTERM;
//! `--local` does the same with everything on one thread (`iomod_sdk::serve_local`); `--json` serves the
//! IOmod that takes JSON calls too (`iomod_echo::JsonEchoService`, for `iomod call` and load generators).
//! `iomod-echo --raw <socket>` instead serves the bare `Echo` interface on a Unix socket with no registry and
//! no SDK in the path (the baseline of the benchmarks).

use std::process::ExitCode;

fn main() -> ExitCode {
    iomod_sdk::logging::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(e) => return fail(&format!("cannot start the runtime: {e}")),
            };
            match runtime.block_on(iomod_sdk::serve(iomod_echo::EchoService)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            }
        }
        [flag] if flag == "--json" => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(e) => return fail(&format!("cannot start the runtime: {e}")),
            };
            match runtime.block_on(iomod_sdk::serve(iomod_echo::JsonEchoService)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            }
        }
        [flag] if flag == "--local" => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => return fail(&format!("cannot start the runtime: {e}")),
            };
            match runtime.block_on(iomod_sdk::serve_local(iomod_echo::EchoService)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            }
        }
        [flag, path] if flag == "--raw" => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => return fail(&format!("cannot start the runtime: {e}")),
            };
            match runtime.block_on(iomod_echo::serve_raw(path.as_ref())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&format!("raw echo server on {path}: {e}")),
            }
        }
        _ => fail("usage: iomod-echo [--local | --json | --raw <socket>]"),
    }
}

fn fail(message: &str) -> ExitCode {
    tracing::error!("{message}");
    eprintln!("iomod-echo: {message}");
    ExitCode::from(2)
}
