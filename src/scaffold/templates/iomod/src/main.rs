//! `{{name}}`: registers with the registry named by `IOMOD_REGISTRY` and serves until SIGTERM.

#[tokio::main]
async fn main() -> Result<(), iomod_sdk::Error> {
    iomod_sdk::logging::init();
    iomod_sdk::serve({{crate}}::{{module}}::service({{crate}}::{{interface}})).await
}
