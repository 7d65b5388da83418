//! Logging set-up for IOmod binaries.

/// Sends `tracing` output to standard error, filtered by `IOMOD_LOG` (or `RUST_LOG`), `info` by default.
/// Call it once at the start of `main`; later calls do nothing.
pub fn init() {
    let filter = std::env::var("IOMOD_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
