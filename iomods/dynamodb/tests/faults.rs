//! Faults between the IOmod and DynamoDB, through the whole path (wasm function → host → registry →
//! `iomod-dynamodb` → AWS SDK → a fault-injecting HTTP proxy → moto): a lost answer must not make a write
//! apply twice or turn its success into a failure, and an answer that is not an AWS error keeps its status
//! and text.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{DynamoServer, Stack};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The queued faults, per operation.
type Faults = Arc<Mutex<Vec<(&'static str, VecDeque<Fault>)>>>;

/// What the proxy does with one request.
#[derive(Clone)]
enum Fault {
    /// Forwards the request to DynamoDB, then closes the connection without answering: the write is
    /// applied and its answer lost.
    LoseAnswer,
    /// Answers by itself, without forwarding.
    Answer {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// Forwards, and rewrites DynamoDB's (JSON) answer.
    Rewrite(fn(&mut Value)),
}

/// An HTTP proxy in front of moto that applies queued faults to the requests of given operations and
/// records every operation it sees.
struct Proxy {
    address: SocketAddr,
    faults: Faults,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let upstream: SocketAddr = upstream.trim_start_matches("http://").parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let faults: Faults = Arc::default();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (f, s) = (faults.clone(), seen.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (faults, seen) = (f.clone(), s.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        forward(request, upstream, faults.clone(), seen.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy {
            address,
            faults,
            seen,
            task,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The next request of `operation` (for example `UpdateItem`) meets `fault`.
    fn inject(&self, operation: &'static str, fault: Fault) {
        let mut faults = self.faults.lock().unwrap();
        match faults.iter_mut().find(|(op, _)| *op == operation) {
            Some((_, queue)) => queue.push_back(fault),
            None => faults.push((operation, VecDeque::from([fault]))),
        }
    }

    /// How many requests of `operation` reached the proxy since the last call.
    fn count(&self, operation: &str) -> usize {
        let mut seen = self.seen.lock().unwrap();
        let n = seen.iter().filter(|op| *op == operation).count();
        seen.clear();
        n
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    request: Request<Incoming>,
    upstream: SocketAddr,
    faults: Faults,
    seen: Arc<Mutex<Vec<String>>>,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    seen.lock().unwrap().push(operation.clone());
    let fault = faults
        .lock()
        .unwrap()
        .iter_mut()
        .find(|(op, _)| *op == operation)
        .and_then(|(_, queue)| queue.pop_front());
    if let Some(Fault::Answer {
        status,
        content_type,
        body,
    }) = &fault
    {
        return Ok(Response::builder()
            .status(*status)
            .header("content-type", *content_type)
            .header("x-amzn-requestid", "PROXY-REQUEST-ID")
            .body(Full::new(Bytes::from(body.clone())))?);
    }
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (mut parts, body) = response.into_parts();
    let mut body = body.collect().await?.to_bytes();
    match fault {
        Some(Fault::LoseAnswer) => return Err("the answer is lost".into()),
        Some(Fault::Rewrite(rewrite)) => {
            let mut value: Value = serde_json::from_slice(&body)?;
            rewrite(&mut value);
            body = Bytes::from(serde_json::to_vec(&value)?);
            parts.headers.remove(hyper::header::CONTENT_LENGTH);
            // The SDK checks DynamoDB's CRC32 of the body; the rewritten body has another.
            parts.headers.remove("x-amz-crc32");
        }
        _ => {}
    }
    Ok(Response::from_parts(parts, Full::new(body)))
}

fn env_via(proxy: &Proxy) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        // Throttled requests are retried twice at most, so the test does not wait for long backoffs.
        ("AWS_MAX_ATTEMPTS", "2".to_owned()),
    ]
}

fn key(pk: &str) -> Value {
    json!({ "pk": { "s": pk } })
}

async fn count_of(stack: &Stack, pk: &str) -> Option<String> {
    let item = stack
        .ok(
            "get_item",
            json!({ "table_name": "faults", "key": key(pk), "consistent_read": true }),
        )
        .await;
    item["item"]["count"]["n"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_answers_never_apply_a_write_twice_and_error_answers_keep_status_and_text() {
    let server = DynamoServer::start();
    let proxy = Proxy::start(&server.endpoint).await;
    let stack = Stack::start_with_env(&env_via(&proxy), "dynamodb_json").await;
    stack
        .ok(
            "create_table",
            json!({
                "table_name": "faults",
                "key_schema": [{ "attribute_name": "pk", "key_type": "hash" }],
                "attribute_definitions": [{ "attribute_name": "pk", "attribute_type": "s" }],
                "billing_mode": "pay_per_request",
            }),
        )
        .await;
    let add_one = json!({
        "table_name": "faults",
        "key": key("counter"),
        "update_expression": "ADD #c :one",
        "expression_attribute_names": { "#c": "count" },
        "expression_attribute_values": { ":one": { "n": "1" } },
    });
    stack.ok("update_item", add_one.clone()).await;
    assert_eq!(count_of(&stack, "counter").await.as_deref(), Some("1"));
    proxy.count("");

    // The answer of an UpdateItem ADD is lost: the guest hears that the outcome is unknown, and the
    // counter went up exactly once (the SDK's standard retry would have sent the ADD again).
    proxy.inject("UpdateItem", Fault::LoseAnswer);
    let error = stack.error("update_item", add_one.clone()).await;
    let outcome = &error["OutcomeUnknown"];
    assert!(
        outcome["message"]
            .as_str()
            .unwrap()
            .contains("may or may not have been applied"),
        "{error}"
    );
    assert_eq!(proxy.count("UpdateItem"), 1, "the ADD was sent again");
    assert_eq!(count_of(&stack, "counter").await.as_deref(), Some("2"));

    // A conditional PutItem whose answer is lost: it was applied once; the guest is not told that its
    // own condition failed.
    let create_once = json!({
        "table_name": "faults",
        "item": { "pk": { "s": "order-1" }, "total": { "n": "10" } },
        "condition_expression": "attribute_not_exists(pk)",
    });
    proxy.inject("PutItem", Fault::LoseAnswer);
    let error = stack.error("put_item", create_once.clone()).await;
    assert!(error.get("OutcomeUnknown").is_some(), "{error}");
    assert_eq!(proxy.count("PutItem"), 1);
    let item = stack
        .ok(
            "get_item",
            json!({ "table_name": "faults", "key": key("order-1") }),
        )
        .await;
    assert_eq!(item["item"]["total"]["n"], "10");

    // Asked to, the IOmod resends: the second attempt then meets the first one's effect, which is why
    // it is not the default.
    let mut resent = create_once.clone();
    resent["item"]["pk"]["s"] = json!("order-2");
    resent["resend"] = json!(true);
    proxy.inject("PutItem", Fault::LoseAnswer);
    let error = stack.error("put_item", resent).await;
    assert!(error.get("ConditionalCheckFailed").is_some(), "{error}");
    assert_eq!(proxy.count("PutItem"), 2);
    // ... and so does the SDK's standard retry for reads.
    proxy.inject("GetItem", Fault::LoseAnswer);
    assert_eq!(count_of(&stack, "counter").await.as_deref(), Some("2"));
    assert_eq!(proxy.count("GetItem"), 2);

    // Errors keep AWS's request id.
    let error = stack.error("put_item", create_once.clone()).await;
    let failed = &error["ConditionalCheckFailed"];
    assert!(
        failed["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{error}"
    );

    // A proxy's 502 page is no AWS error: its status and text reach the guest. A read is retried first
    // (AWS_MAX_ATTEMPTS=2 here); a write is not, and its outcome is unknown.
    let page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    for _ in 0..2 {
        proxy.inject(
            "DescribeTable",
            Fault::Answer {
                status: 502,
                content_type: "text/html",
                body: page.into(),
            },
        );
    }
    let error = stack
        .error("describe_table", json!({ "table_name": "faults" }))
        .await;
    assert_eq!(
        error["AwsError"],
        json!({
            "code": "Http502",
            "message": page,
            "status": 502,
            "request_id": "PROXY-REQUEST-ID",
        }),
        "{error}"
    );
    assert_eq!(proxy.count("DescribeTable"), 2);
    proxy.inject(
        "PutItem",
        Fault::Answer {
            status: 502,
            content_type: "text/html",
            body: page.into(),
        },
    );
    let error = stack.error("put_item", create_once.clone()).await;
    assert_eq!(error["OutcomeUnknown"]["status"], 502, "{error}");
    assert_eq!(error["OutcomeUnknown"]["code"], "Http502", "{error}");
    assert_eq!(proxy.count("PutItem"), 1);

    // Throttling is retried (DynamoDB applied nothing), and its reasons reach the guest.
    let throttled = json!({
        "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "message": "Throughput exceeds the current capacity of your table or index.",
        "ThrottlingReasons": [{
            "reason": "TableWriteKeyRangeThroughputExceeded",
            "resource": "arn:aws:dynamodb:us-east-1:123456789012:table/faults",
        }],
    });
    for _ in 0..2 {
        proxy.inject(
            "UpdateItem",
            Fault::Answer {
                status: 400,
                content_type: "application/x-amz-json-1.0",
                body: throttled.to_string(),
            },
        );
    }
    let error = stack.error("update_item", add_one.clone()).await;
    let throttling = &error["Throttling"];
    assert_eq!(
        throttling["throttling_reasons"], throttled["ThrottlingReasons"],
        "{error}"
    );
    assert_eq!(throttling["request_id"], "PROXY-REQUEST-ID");
    assert_eq!(proxy.count("UpdateItem"), 2, "throttled writes are retried");
    assert_eq!(count_of(&stack, "counter").await.as_deref(), Some("2"));

    // One throttled attempt, then the write goes through: applied once.
    proxy.inject(
        "UpdateItem",
        Fault::Answer {
            status: 400,
            content_type: "application/x-amz-json-1.0",
            body: throttled.to_string(),
        },
    );
    stack.ok("update_item", add_one).await;
    assert_eq!(count_of(&stack, "counter").await.as_deref(), Some("3"));

    // A value the manifest does not know yet reaches the guest as what AWS sent, and the rest of the
    // answer with it; a value it knows converts.
    proxy.inject(
        "DescribeTable",
        Fault::Rewrite(|answer| {
            answer["Table"]["TableStatus"] = json!("REPLICATION_NOT_AUTHORIZED");
        }),
    );
    let described = stack
        .ok("describe_table", json!({ "table_name": "faults" }))
        .await;
    assert_eq!(
        described["table"]["table_status"], "replication_not_authorized",
        "{described}"
    );
    proxy.inject(
        "DescribeTable",
        Fault::Rewrite(|answer| {
            answer["Table"]["TableStatus"] = json!("SOME_STATUS_ADDED_LATER");
            answer["Table"]["BillingModeSummary"]["BillingMode"] = json!("SOME_MODE_ADDED_LATER");
        }),
    );
    let described = stack
        .ok("describe_table", json!({ "table_name": "faults" }))
        .await;
    let table = &described["table"];
    assert_eq!(
        table["table_status"], "SOME_STATUS_ADDED_LATER",
        "{described}"
    );
    assert_eq!(
        table["billing_mode_summary"]["billing_mode"], "SOME_MODE_ADDED_LATER",
        "{described}"
    );
    assert_eq!(table["table_name"], "faults");
    assert_eq!(table["key_schema"][0]["attribute_name"], "pk");
}
