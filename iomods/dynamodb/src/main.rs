//! `iomod-dynamodb`: the DynamoDB IOmod binary. It registers with the registry named by `IOMOD_REGISTRY`
//! and serves until SIGTERM. Configuration comes from the environment (see the crate's `config` module).

use std::process::ExitCode;

fn main() -> ExitCode {
    iomod_sdk::logging::init();
    if std::env::args().len() > 1 {
        eprintln!(
            "usage: iomod-dynamodb (no arguments; configured by IOMOD_REGISTRY and the AWS settings: \
             AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, credentials from the environment or the standard \
             chain (profiles, SSO, web identity, container, instance))"
        );
        return ExitCode::from(2);
    }
    // One thread for everything: the calls mostly wait on DynamoDB, and no call then crosses a thread
    // (see `iomod_sdk::serve`).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(iomod_dynamodb::serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    tracing::error!("{message}");
    eprintln!("iomod-dynamodb: {message}");
    ExitCode::from(2)
}
