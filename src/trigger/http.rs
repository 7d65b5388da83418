//! The HTTP trigger (hyper 1, HTTP/1.1): every worker accepts connections on the shared listener and runs
//! their invocations itself.
//!
//! | request | answer |
//! |---|---|
//! | `POST /functions/<name>`, the input as body | 200 with the function's output; 500 `{"type", "message"}` when it traps or fails; 404 unknown function; 413 body over the function's payload limit; 503 with `Retry-After` when saturated or stopping; 504 past its time budget |
//! | `GET /healthz` | 200 while the process serves |
//! | `GET /readyz` | 200 while every declared IOmod is registered and healthy, else 503 naming the others |
//! | `GET /metrics` | the Prometheus text format |
//!
//! A request may carry a W3C `traceparent` header: the invocation, and every IOmod call it makes, joins that
//! trace. Connections must send their request headers within 10 s (slow clients do not hold a worker's
//! connection slots forever); on shutdown, open connections finish the request in flight and close.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::registry::LocalRegistry;
use crate::serve::worker::{Active, Phase};
use crate::serve::{InvokeError, InvokeOptions, Readiness, Shared};

/// How long a client has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The prefix of function routes.
const FUNCTIONS: &str = "/functions/";

/// Accepts connections on `listener` until the worker drains, serving each on this thread.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    local: LocalRegistry,
    shared: Arc<Shared>,
    phase: watch::Receiver<Phase>,
    active: Arc<AtomicUsize>,
) {
    let mut draining = phase.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::task::spawn_local(connection(
                        stream,
                        local.clone(),
                        shared.clone(),
                        phase.clone(),
                        active.clone(),
                    ));
                }
                Err(e) => {
                    // Out of file descriptors, for example: wait a little instead of spinning.
                    warn!(error = %e, "accept failed on the HTTP listener");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = draining.wait_for(|p| *p != Phase::Running) => return,
        }
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    local: LocalRegistry,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
    active: Arc<AtomicUsize>,
) {
    let service = service_fn(move |request| {
        let (local, shared, active) = (local.clone(), shared.clone(), active.clone());
        async move { Ok::<_, Infallible>(handle(request, &local, &shared, &active).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                debug!(error = %e, "HTTP connection ended with an error");
            }
            return;
        }
        _ = phase.wait_for(|p| *p != Phase::Running) => {}
    }
    // Draining: answer the request in flight, then close (or stop at once when the worker stops).
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection => {}
        _ = phase.wait_for(|p| *p == Phase::Stopped) => {}
    }
}

async fn handle(
    request: Request<Incoming>,
    local: &LocalRegistry,
    shared: &Shared,
    active: &Arc<AtomicUsize>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if let Some(name) = path.strip_prefix(FUNCTIONS) {
        let name = name.to_owned();
        return invoke(request, &name, local, shared, active).await;
    }
    match (request.method(), path) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n".into()),
        (&Method::GET, "/readyz") => match shared.readiness().await {
            Readiness::Ready => text(StatusCode::OK, "ready\n".into()),
            Readiness::Stopping => text(StatusCode::SERVICE_UNAVAILABLE, "stopping\n".into()),
            Readiness::NotReady(missing) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {}\n", missing.join(", ")),
            ),
        },
        (&Method::GET, "/metrics") => {
            let mut response = text(StatusCode::OK, shared.metrics_text().await);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        (_, "/healthz" | "/readyz" | "/metrics") => method_not_allowed("GET"),
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no route for {path}: functions are at {FUNCTIONS}<name>"),
        ),
    }
}

/// `POST /functions/<name>`.
async fn invoke(
    request: Request<Incoming>,
    name: &str,
    local: &LocalRegistry,
    shared: &Shared,
    active: &Arc<AtomicUsize>,
) -> Response<Full<Bytes>> {
    let Some(functions) = shared.functions.get() else {
        let mut response = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "the runtime is starting: its functions' modules are loading",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let Some(loaded) = functions.get(name) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            &InvokeError::UnknownFunction(name.to_owned()).to_string(),
        );
    };
    if request.method() != Method::POST {
        return method_not_allowed("POST");
    }
    let limit = loaded.function.config().max_payload_bytes;
    let too_large = || {
        shared.metrics.invocation_refused(name, "too_large");
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("the input is larger than this function's limit of {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return too_large();
    }
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _active = Active::new(active);
    let input = match Limited::new(request.into_body(), limit).collect().await {
        Ok(body) => body.to_bytes().to_vec(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("cannot read the request body: {e}"),
            );
        }
    };
    let options = InvokeOptions {
        traceparent,
        budget: None,
    };
    match shared.invoke_here(local, loaded, input, options).await {
        Ok(output) => {
            let mut response = Response::new(Full::new(Bytes::from(output)));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            response
        }
        Err(e) => {
            let status = match &e {
                InvokeError::UnknownFunction(_) => StatusCode::NOT_FOUND,
                InvokeError::Saturated(_) | InvokeError::Stopping => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                InvokeError::Run(crate::host::RunError::TimeBudget(_)) => {
                    StatusCode::GATEWAY_TIMEOUT
                }
                InvokeError::Run(crate::host::RunError::InputTooLarge(..)) => {
                    StatusCode::PAYLOAD_TOO_LARGE
                }
                InvokeError::Run(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let mut response = error(status, e.kind(), &e.to_string());
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            response
        }
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `{"type": .., "message": ..}` with `status`.
fn error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "type": kind, "message": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!("use {allow}"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}
