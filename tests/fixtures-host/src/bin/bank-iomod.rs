//! The test bank as an IOmod process (generated skeleton, SDK, JSON calls enabled).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    iomod_sdk::logging::init();
    let bank = iomod_fixtures_host::fixture_errors::bank::service(
        iomod_fixtures_host::TestBank::default(),
    );
    match iomod_sdk::serve(bank).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bank-iomod: {e}");
            ExitCode::from(2)
        }
    }
}
