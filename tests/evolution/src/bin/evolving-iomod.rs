//! `evolving-iomod VERSION`: serves one version of the evolving IOmod (`v1`, `v2`, or the name of a
//! breaking change in `src/cases.rs`), registering with the registry named by `IOMOD_REGISTRY`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    iomod_sdk::logging::init();
    let version = std::env::args().nth(1).unwrap_or_default();
    match iomod_evolution::serve(&version).await {
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(e)) => {
            eprintln!("evolving-iomod: {e}");
            ExitCode::from(2)
        }
        None => {
            eprintln!(
                "evolving-iomod: no version `{version}` (v1, v2, or a change of src/cases.rs)"
            );
            ExitCode::from(2)
        }
    }
}
