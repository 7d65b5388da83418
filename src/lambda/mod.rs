//! The runtime as an AWS Lambda custom runtime (`provided.al2023`): the `bootstrap` of a function bundle.
//!
//! At init it reads the bundle's `function.toml`, opens every IOmod package in the layer directory
//! (`/opt/iomod`: `.iomod` files, see [`crate::package`]), starts the warm runtime ([`crate::serve`]) with
//! one worker, waits until every IOmod is registered and loads the precompiled module. Anything that
//! fails there (a missing or broken package, an IOmod that exits before it registers, a module compiled
//! for another runtime) is posted to the Runtime API's init-error endpoint with the reason, and the
//! process exits. Then each event from the Runtime API (through the `lambda_runtime` crate) is one
//! invocation: the event's JSON is the function's input, the time left before Lambda's deadline its time
//! budget (capped by the function's own), the X-Ray trace its W3C trace context; a trap, a timeout or an
//! output that is not JSON is posted as an invocation error with an `errorType` and an `errorMessage`.
//! An IOmod that crashed (between invocations, or while Lambda froze the environment) is restarted by
//! the supervisor, and the next invocation waits until it has registered again. On SIGTERM the IOmods
//! are stopped.
//!
//! [`artifacts`] writes what is deployed: the layer of packages and the function bundle.

pub mod artifacts;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::value::RawValue;
use tracing::{info, warn};

use crate::function::FunctionManifest;
use crate::serve::{InvokeError, InvokeOptions, Runtime, ServeConfig};

/// Where Lambda mounts layers' `iomod/` directories.
pub const DEFAULT_LAYER_DIR: &str = "/opt/iomod";

/// The environment variable naming the Runtime API (`host:port`, or a URL with a scheme and a path).
pub const RUNTIME_API_ENV: &str = "AWS_LAMBDA_RUNTIME_API";

/// How the Lambda runtime starts.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// The function manifest (in a bundle: `$LAMBDA_TASK_ROOT/function.toml`).
    pub function: PathBuf,
    /// The directory of IOmod packages (`/opt/iomod`).
    pub layer: PathBuf,
    /// How long init may wait for the IOmods to register.
    pub init_timeout: Duration,
    /// How long an invocation waits for a restarted IOmod (at most the time left before the deadline).
    pub restart_timeout: Duration,
}

/// The warm runtime's configuration on Lambda: one invocation at a time (Lambda sends one event per
/// execution environment), one worker, no HTTP, no module cache (the bundle holds the compiled module).
/// `iomod bundle` compiles the module for the engine this configuration gives.
pub fn serve_config(layer: Option<PathBuf>) -> ServeConfig {
    ServeConfig {
        workers: 1,
        max_concurrency: 1,
        cache: None,
        listen: None,
        packages: layer,
        drain_timeout: Duration::from_secs(2),
        ..ServeConfig::default()
    }
}

/// An init failure, posted to the init-error endpoint.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct InitError {
    /// The `errorType` (`Runtime.…`).
    pub error_type: &'static str,
    /// What went wrong, naming the file or the IOmod.
    pub message: String,
}

impl InitError {
    fn new(error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: message.into(),
        }
    }
}

/// Runs the custom runtime until the Runtime API goes away or SIGTERM.
pub async fn run(config: LambdaConfig) -> anyhow::Result<()> {
    let api = api_client()?;
    let started = SystemTime::now();
    let (runtime, name) = match init(&config).await {
        Ok(ready) => ready,
        Err(e) => {
            warn!(error_type = e.error_type, error = %e.message, "init failed");
            report_init_error(&api, &e).await;
            return Err(e.into());
        }
    };
    info!(
        function = %name,
        millis = started.elapsed().unwrap_or_default().as_millis() as u64,
        "init done; waiting for events"
    );
    let runtime = Arc::new(runtime);
    let handler = {
        let runtime = runtime.clone();
        let config = config.clone();
        let invocations = Arc::new(AtomicU64::new(0));
        service_fn(move |event: LambdaEvent<Box<RawValue>>| {
            let runtime = runtime.clone();
            let name = name.clone();
            let restart_timeout = config.restart_timeout;
            let first = invocations.fetch_add(1, Ordering::Relaxed) == 0;
            async move { handle(&runtime, &name, event, started, restart_timeout, first).await }
        })
    };
    let result = tokio::select! {
        result = lambda_runtime::run(handler) => result.map_err(|e| anyhow::anyhow!("the Runtime API loop ended: {e}")),
        () = iomod_sdk::shutdown_signal() => {
            info!("shutting down: stopping the IOmods");
            Ok(())
        }
    };
    // The handler (and its reference) went with the loop.
    if let Ok(runtime) = Arc::try_unwrap(runtime) {
        runtime.shutdown().await;
    }
    result
}

/// Init: the function, the layer's IOmods registered, the module loaded.
async fn init(config: &LambdaConfig) -> Result<(Runtime, String), InitError> {
    check_environment()?;
    let manifest = FunctionManifest::load(&config.function)
        .map_err(|e| InitError::new("Runtime.InvalidFunction", e.message))?;
    let name = manifest.name.clone();
    let layer = config.layer.is_dir().then(|| config.layer.clone());
    if layer.is_none() && !manifest.config.allow.is_empty() {
        return Err(InitError::new(
            "Runtime.MissingIomod",
            format!(
                "the function needs {}, but the layer directory {} does not exist: add the layer of its \
                 IOmods to the function",
                names(&manifest.config.allow),
                config.layer.display()
            ),
        ));
    }
    let runtime = Runtime::start(vec![manifest], serve_config(layer))
        .await
        .map_err(|e| match e {
            crate::serve::StartError::Module(..) => {
                InitError::new("Runtime.InvalidModule", e.to_string())
            }
            crate::serve::StartError::Invalid(m) if m.starts_with("IOmod package") => {
                InitError::new("Runtime.InvalidPackage", m)
            }
            other => InitError::new("Runtime.StartFailed", other.to_string()),
        })?;
    let supervised = runtime.supervised();
    let missing: Vec<_> = runtime
        .declared()
        .iter()
        .filter(|c| !supervised.contains(c))
        .cloned()
        .collect();
    if !missing.is_empty() {
        let provided = if supervised.is_empty() {
            "none".to_owned()
        } else {
            names(&supervised)
        };
        runtime.shutdown().await;
        return Err(InitError::new(
            "Runtime.MissingIomod",
            format!(
                "the function needs {}, which no package in {} provides (it provides: {provided})",
                names(&missing),
                config.layer.display()
            ),
        ));
    }
    if let Err(e) = runtime.wait_started(config.init_timeout).await {
        runtime.shutdown().await;
        return Err(InitError::new("Runtime.IomodFailed", e.to_string()));
    }
    let timings = runtime.start_timings();
    info!(
        packages_us = timings.packages.as_micros() as u64,
        module_us = timings.modules.as_micros() as u64,
        iomods_registered_us = timings
            .iomods_spawned
            .map_or(0, |t| t.elapsed().as_micros() as u64),
        "init parts: packages opened, then the module loaded while the IOmods were spawned and registered"
    );
    Ok((runtime, name))
}

/// `lambda_runtime` panics on a missing variable; say which one instead.
fn check_environment() -> Result<(), InitError> {
    for var in [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    ] {
        if std::env::var_os(var).is_none_or(|v| v.is_empty()) {
            return Err(InitError::new(
                "Runtime.MissingEnvironment",
                format!("{var} is not set: Lambda sets it (in an emulator, set it yourself)"),
            ));
        }
    }
    let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    if memory.parse::<i32>().is_err() {
        return Err(InitError::new(
            "Runtime.MissingEnvironment",
            format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE is `{memory}`, not a number of megabytes"),
        ));
    }
    Ok(())
}

/// One event: one invocation.
async fn handle(
    runtime: &Runtime,
    name: &str,
    event: LambdaEvent<Box<RawValue>>,
    started: SystemTime,
    restart_timeout: Duration,
    first: bool,
) -> Result<Box<RawValue>, Diagnostic> {
    let (payload, context) = event.into_parts();
    let left = time_left(context.deadline(), SystemTime::now(), started);
    let restart_wait = left.map_or(restart_timeout, |l| l.min(restart_timeout));
    runtime
        .wait_restarted(restart_wait)
        .await
        .map_err(|e| diagnostic("Runtime.IomodUnavailable", e.message))?;
    let options = InvokeOptions {
        traceparent: context.xray_trace_id.as_deref().and_then(xray_traceparent),
        budget: left,
    };
    let input = String::from(Box::<str>::from(payload)).into_bytes();
    let invoked = Instant::now();
    let result = runtime.invoke(name, input, options).await;
    if first {
        info!(
            micros = invoked.elapsed().as_micros() as u64,
            "first invocation (its instance is the first)"
        );
    }
    let output = result.map_err(|e| diagnostic(error_type(&e), e.to_string()))?;
    let text = String::from_utf8(output).map_err(|_| {
        diagnostic(
            "Function.InvalidOutput",
            "the function's output is not UTF-8 JSON",
        )
    })?;
    RawValue::from_string(text).map_err(|e| {
        diagnostic(
            "Function.InvalidOutput",
            format!("the function's output is not JSON: {e}"),
        )
    })
}

/// The time left before `deadline`. Lambda's deadline is a wall-clock time; one that lies before the
/// runtime started is not a real deadline (the cargo-lambda emulator always sends 600000, in 1970), so
/// none is taken from it and the function's own budget applies.
pub fn time_left(deadline: SystemTime, now: SystemTime, started: SystemTime) -> Option<Duration> {
    if deadline < started {
        return None;
    }
    Some(deadline.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`)
/// as a W3C `traceparent`: the root's two parts make the trace id, the parent the parent span.
pub fn xray_traceparent(header: &str) -> Option<String> {
    let mut root = None;
    let mut parent = None;
    let mut sampled = false;
    for part in header.split(';') {
        match part.trim().split_once('=') {
            Some(("Root", value)) => root = Some(value),
            Some(("Parent", value)) => parent = Some(value),
            Some(("Sampled", value)) => sampled = value == "1",
            _ => {}
        }
    }
    let mut pieces = root?.split('-');
    let (version, time, id) = (pieces.next()?, pieces.next()?, pieces.next()?);
    let parent = parent?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if version != "1" || !hex(time, 8) || !hex(id, 24) || !hex(parent, 16) {
        return None;
    }
    let traceparent = format!(
        "00-{}{}-{}-{}",
        time.to_ascii_lowercase(),
        id.to_ascii_lowercase(),
        parent.to_ascii_lowercase(),
        if sampled { "01" } else { "00" }
    );
    traceparent
        .parse::<iomod_sdk::TraceParent>()
        .ok()
        .map(|t| t.to_string())
}

/// The `errorType` of a failed invocation.
pub fn error_type(error: &InvokeError) -> &'static str {
    match error.kind() {
        "trap" => "Function.Trap",
        "failed" => "Function.Failed",
        "exit" => "Function.Exit",
        "timeout" => "Function.Timeout",
        "too_large" => "Function.PayloadTooLarge",
        "bad_output" => "Function.InvalidOutput",
        "invalid_module" => "Runtime.InvalidModule",
        "saturated" => "Runtime.Saturated",
        "stopping" => "Runtime.Stopping",
        "not_found" => "Runtime.UnknownFunction",
        _ => "Runtime.Error",
    }
}

fn diagnostic(error_type: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.into(),
    }
}

fn names(coordinates: &[iomod_sdk::Coordinates]) -> String {
    coordinates
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A client of the Runtime API named by `AWS_LAMBDA_RUNTIME_API`.
fn api_client() -> anyhow::Result<lambda_runtime_api_client::Client> {
    let value = std::env::var(RUNTIME_API_ENV).map_err(|_| {
        anyhow::anyhow!(
            "{RUNTIME_API_ENV} is not set: `iomod lambda` (the bootstrap) runs inside AWS Lambda or a \
             Runtime API emulator; use `iomod serve` or `iomod run` elsewhere"
        )
    })?;
    lambda_runtime_api_client::Client::builder()
        .with_endpoint(runtime_api_uri(&value)?)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the Runtime API client: {e}"))
}

/// The Runtime API's base URI from `AWS_LAMBDA_RUNTIME_API`: `host:port` as Lambda gives it, or a URL
/// with a scheme and a path prefix as emulators give it.
pub fn runtime_api_uri(value: &str) -> anyhow::Result<http::Uri> {
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(|e| anyhow::anyhow!("{RUNTIME_API_ENV}={value} is not an address: {e}"))?;
    anyhow::ensure!(
        uri.host().is_some_and(|h| !h.is_empty()),
        "{RUNTIME_API_ENV}={value} names no host"
    );
    anyhow::ensure!(
        matches!(uri.scheme_str(), Some("http" | "https")),
        "{RUNTIME_API_ENV}={value}: the Runtime API is spoken over http"
    );
    Ok(uri)
}

/// Posts an init error. Lambda answers at once; an emulator may hold the request until an invocation
/// is waiting, so it is bounded.
async fn report_init_error(api: &lambda_runtime_api_client::Client, error: &InitError) {
    let body = serde_json::json!({ "errorType": error.error_type, "errorMessage": error.message });
    let request = lambda_runtime_api_client::build_request()
        .method(http::Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", error.error_type)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(lambda_runtime_api_client::body::Body::from(
            body.to_string(),
        ));
    let Ok(request) = request else { return };
    match tokio::time::timeout(Duration::from_secs(5), api.call(request)).await {
        Ok(Ok(response)) if response.status().is_success() => {}
        Ok(Ok(response)) => {
            warn!(status = %response.status(), "the Runtime API refused the init error")
        }
        Ok(Err(e)) => warn!(error = %e, "cannot post the init error"),
        Err(_) => warn!("the Runtime API did not take the init error within 5 s"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn xray_headers_become_traceparents() {
        assert_eq!(
            xray_traceparent(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            )
            .as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
        );
        assert_eq!(
            xray_traceparent(
                "Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=0"
            )
            .as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00")
        );
        for bad in [
            "",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e98-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
            "Root=1-5759e988-bd862e3fe1be46a99427279x;Parent=53995c3f42cd8ad8",
        ] {
            assert_eq!(xray_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn runtime_api_addresses_with_and_without_scheme_and_prefix() {
        let uri = runtime_api_uri("127.0.0.1:9001").unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:9001/");
        let uri = runtime_api_uri("http://127.0.0.1:9000/.rt").unwrap();
        assert_eq!(
            (uri.host(), uri.port_u16(), uri.path()),
            (Some("127.0.0.1"), Some(9000), "/.rt")
        );
        let uri = runtime_api_uri("localhost:9001").unwrap();
        assert_eq!(uri.host(), Some("localhost"));
        for bad in ["", "ftp://host:1", "http://", "a b:1"] {
            assert!(runtime_api_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deadlines_before_start_are_not_deadlines() {
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let now = started + Duration::from_secs(10);
        assert_eq!(
            time_left(now + Duration::from_millis(2500), now, started),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            time_left(now - Duration::from_secs(1), now, started),
            Some(Duration::ZERO)
        );
        let emulator = SystemTime::UNIX_EPOCH + Duration::from_millis(600_000);
        assert_eq!(time_left(emulator, now, started), None);
    }
}
