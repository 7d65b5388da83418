//! `iomod`: serve and run functions with their IOmods, run a registry, and inspect the IOmods registered
//! with it. Each command lives in a module of `cli/`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser, Debug)]
#[command(
    name = "iomod",
    version,
    about = "Run and inspect IOmods: the IO modules of sandboxed wasm functions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve functions over HTTP: start their IOmods once, compile their modules once, and run an
    /// invocation per request until SIGTERM or Ctrl-C.
    Serve(cli::serve::ServeArgs),
    /// Run a function with its IOmods: start a registry and the IOmods its function.toml names, run it
    /// once on the input, print its output, stop everything.
    Run(cli::run::RunArgs),
    /// Compile a function's module into the compiled-module cache (for deployment, or a fast first start).
    Compile(cli::compile::CompileArgs),
    /// Run a registry in the foreground until SIGTERM or Ctrl-C.
    Registry(cli::registry::RegistryArgs),
    /// List the IOmods registered with a running registry, their versions and methods.
    Ls(cli::ls::LsArgs),
    /// Call an IOmod method with JSON from the shell, through a running registry; prints the output JSON.
    Call(cli::call::CallArgs),
    /// Create a new IOmod crate, or a function crate calling an IOmod.
    New(cli::new::NewArgs),
    /// Pack an IOmod package directory (iomod.toml and its entrypoint) as a `.iomod` file.
    Pack(cli::pack::PackArgs),
    /// Put IOmod packages in an AWS Lambda layer (iomod/<coordinates>@<version>.iomod, i.e. /opt/iomod).
    Layer(cli::layer::LayerArgs),
    /// Bundle a function for AWS Lambda: this binary as `bootstrap`, the manifest, the precompiled module.
    Bundle(cli::bundle::BundleArgs),
    /// Run as an AWS Lambda custom runtime: start the layer's IOmods, then answer Runtime API events.
    /// A binary named `bootstrap` runs this command.
    Lambda(cli::lambda::LambdaArgs),
}

fn main() -> ExitCode {
    iomod_sdk::logging::init();
    let result = match Cli::parse_from(arguments()).command {
        Command::Serve(args) => cli::serve::main(args),
        Command::Run(args) => cli::run::main(args),
        Command::Compile(args) => cli::compile::main(args),
        Command::Registry(args) => cli::registry::main(args),
        Command::Ls(args) => cli::ls::main(args),
        Command::Call(args) => cli::call::main(args),
        Command::New(args) => cli::new::main(args),
        Command::Pack(args) => cli::pack::main(args),
        Command::Layer(args) => cli::layer::main(args),
        Command::Bundle(args) => cli::bundle::main(args),
        Command::Lambda(args) => cli::lambda::main(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iomod: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The command line; a binary named `bootstrap` (Lambda's custom runtime) is `iomod lambda`.
fn arguments() -> Vec<std::ffi::OsString> {
    let mut arguments: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invoked_as = arguments
        .first()
        .and_then(|a| std::path::Path::new(a).file_name().map(|n| n.to_owned()));
    if invoked_as.is_some_and(|n| n == "bootstrap") {
        arguments.insert(1, "lambda".into());
    }
    arguments
}
