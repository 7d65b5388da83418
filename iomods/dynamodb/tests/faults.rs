//! Faults between the IOmod and DynamoDB, through the whole path (wasm function → host → registry →
//! `iomod-dynamodb` → AWS SDK → a fault-injecting HTTP proxy → moto): a lost answer must not make a write
//! apply twice or turn its success into a failure, and an answer that is not an AWS error keeps its status
//! and text. And the DynamoDB server killed and started again under 64 writes in flight: typed errors,
//! then recovery, nothing applied twice or reported as failing its own condition.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

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

/// Waits (blocking the thread) until `condition` holds; fails after `deadline`.
fn wait_until(what: &str, deadline: std::time::Duration, condition: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// What one conditional PutItem of the outage test answered.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Written,
    /// `OutcomeUnknown`: the request was sent and its answer lost.
    OutcomeUnknown,
    /// `Failed` with code `unavailable`: DynamoDB refused the connection; nothing was applied.
    Unavailable,
    /// `ResourceNotFound`: the restarted server has no table yet.
    ResourceNotFound,
    /// Anything else (the test fails on it).
    Other(String),
}

#[derive(Debug)]
struct Put {
    key: u64,
    started: std::time::Duration,
    ended: std::time::Duration,
    answer: Answer,
}

fn classify(answer: &Value) -> Answer {
    if answer.get("ok").is_some() {
        return Answer::Written;
    }
    let error = &answer["error"];
    if error.get("OutcomeUnknown").is_some() {
        Answer::OutcomeUnknown
    } else if error["Failed"]["code"] == "unavailable" {
        Answer::Unavailable
    } else if error.get("ResourceNotFound").is_some() {
        Answer::ResourceNotFound
    } else {
        Answer::Other(answer.to_string())
    }
}

fn put_item(key: u64) -> Value {
    json!({
        "method": "put_item",
        "input": {
            "table_name": "outage",
            "item": { "pk": { "s": format!("item-{key}") }, "writer": { "n": key.to_string() } },
            "condition_expression": "attribute_not_exists(pk)",
        },
    })
}

fn create_outage_table() -> Value {
    json!({
        "table_name": "outage",
        "key_schema": [{ "attribute_name": "pk", "key_type": "hash" }],
        "attribute_definitions": [{ "attribute_name": "pk", "attribute_type": "s" }],
        "billing_mode": "pay_per_request",
    })
}

/// Every item of the outage table: key number → `writer`.
async fn scan_outage(stack: &Stack) -> std::collections::BTreeMap<u64, u64> {
    let mut items = std::collections::BTreeMap::new();
    let mut start: Option<Value> = None;
    loop {
        let mut input = json!({ "table_name": "outage", "consistent_read": true });
        if let Some(key) = start.take() {
            input["exclusive_start_key"] = key;
        }
        let page = stack.ok("scan", input).await;
        for item in page["items"].as_array().unwrap() {
            let key: u64 = item["pk"]["s"]
                .as_str()
                .and_then(|pk| pk.strip_prefix("item-"))
                .and_then(|k| k.parse().ok())
                .unwrap_or_else(|| panic!("an item nobody wrote: {item}"));
            let writer = item["writer"]["n"].as_str().unwrap().parse().unwrap();
            assert!(
                items.insert(key, writer).is_none(),
                "item-{key} appears twice in the scan"
            );
        }
        match page.get("last_evaluated_key") {
            Some(key) if !key.is_null() => start = Some(key.clone()),
            _ => return items,
        }
    }
}

/// The DynamoDB server is killed (SIGKILL) under 64 conditional writes in flight and started again on the
/// same port. Every call answers, within its deadline, with a typed error (`OutcomeUnknown` for writes
/// whose answer was lost, `unavailable` for refused connections, `ResourceNotFound` until the table is
/// there again: moto keeps its tables in memory, so the restarted server starts empty and the test
/// creates the table again, as a real DynamoDB would still have it); writes succeed again soon after;
/// every write acknowledged by the restarted server is there exactly once, nothing refused or rejected was
/// applied, and no write was reported as failing its own condition (a resend after a lost answer would).
#[tokio::test(flavor = "multi_thread")]
async fn a_dynamodb_server_killed_mid_load_gives_typed_errors_then_recovers() {
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    const IN_FLIGHT: usize = 64;
    /// After the table is back, calls must succeed again within this (the SDK's retry backoff of calls that
    /// were refused during the outage is at most a few seconds; a machine under load adds some).
    const RECOVERY: Duration = Duration::from_secs(5);
    /// No call may take longer than this (the function's call timeout is 20 s; a hang would reach it).
    const LONGEST_CALL: Duration = Duration::from_secs(15);

    let server = DynamoServer::start();
    let stack = Arc::new(Stack::start(&server, "dynamodb_json").await);
    stack.ok("create_table", create_outage_table()).await;

    let t0 = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let written = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (stack, next, written, failed, stop) = (
                stack.clone(),
                next.clone(),
                written.clone(),
                failed.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut puts = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let key = next.fetch_add(1, Ordering::Relaxed);
                    let started = t0.elapsed();
                    let answer = tokio::time::timeout(LONGEST_CALL, stack.run(&put_item(key)))
                        .await
                        .unwrap_or_else(|_| panic!("put of item-{key} hung for {LONGEST_CALL:?}"));
                    let answer = classify(&answer);
                    match answer {
                        Answer::Written => written.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    puts.push(Put {
                        key,
                        started,
                        ended: t0.elapsed(),
                        answer,
                    });
                    if puts.last().unwrap().answer != Answer::Written {
                        // Not a busy loop against a dead server: the next write after a short pause.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                puts
            })
        })
        .collect();
    // Load, then the kill.
    let w = written.clone();
    tokio::task::block_in_place(|| {
        wait_until("writes before the kill", Duration::from_secs(20), || {
            w.load(Ordering::Relaxed) >= 200
        })
    });
    let killed = t0.elapsed();
    let written_before = written.load(Ordering::Relaxed);
    tokio::task::block_in_place(|| server.kill());
    let dead = t0.elapsed();
    // The outage: at least a second, and until calls have failed.
    let f = failed.clone();
    tokio::task::block_in_place(|| {
        std::thread::sleep(Duration::from_secs(1));
        wait_until(
            "failures during the outage",
            Duration::from_secs(10),
            || f.load(Ordering::Relaxed) >= IN_FLIGHT,
        )
    });
    let restarting = t0.elapsed();
    tokio::task::block_in_place(|| server.restart());
    let listening = t0.elapsed();
    stack.ok("create_table", create_outage_table()).await;
    let table_back = t0.elapsed();
    let back = written.load(Ordering::Relaxed);
    let w = written.clone();
    tokio::task::block_in_place(|| {
        std::thread::sleep(Duration::from_secs(2));
        wait_until("writes after the restart", Duration::from_secs(20), || {
            w.load(Ordering::Relaxed) >= back + 200
        })
    });
    stop.store(true, Ordering::Relaxed);
    let mut puts: Vec<Put> = Vec::new();
    for writer in writers {
        puts.extend(writer.await.unwrap());
    }
    puts.sort_by_key(|p| p.started);

    // Every call answered once, with a typed error at worst, and never "its own condition failed".
    let others: Vec<&Put> = puts
        .iter()
        .filter(|p| matches!(p.answer, Answer::Other(_)))
        .collect();
    assert!(
        others.is_empty(),
        "untyped or unexpected answers: {others:#?}"
    );
    assert_eq!(puts.len() as u64, next.load(Ordering::Relaxed));
    // Nothing failed before the kill; ResourceNotFound only once the empty server listened.
    for p in &puts {
        if p.ended < killed {
            assert_eq!(p.answer, Answer::Written, "{p:?} before the kill");
        }
        if p.answer == Answer::ResourceNotFound {
            assert!(p.ended >= listening, "{p:?} before the restart");
        }
    }
    // Recovery: the first write acknowledged after the table is back, and every call started once the
    // recovery bound has passed succeeds.
    let first_written = puts
        .iter()
        .filter(|p| p.answer == Answer::Written && p.started >= table_back)
        .map(|p| p.ended)
        .min()
        .expect("no write succeeded after the restart");
    let recovery = first_written - table_back;
    assert!(
        recovery < RECOVERY,
        "first write {recovery:?} after the table was back"
    );
    let late_failures: Vec<&Put> = puts
        .iter()
        .filter(|p| p.started >= table_back + RECOVERY && p.answer != Answer::Written)
        .collect();
    assert!(
        late_failures.is_empty(),
        "failures after recovery: {late_failures:#?}"
    );
    let last_failure = puts
        .iter()
        .filter(|p| p.answer != Answer::Written)
        .map(|p| p.ended)
        .max()
        .unwrap();

    // What the restarted server holds: every write it acknowledged, once, with its own value; nothing that
    // was refused, rejected or acknowledged by the killed server; unknown outcomes either way.
    let items = scan_outage(&stack).await;
    for (key, writer) in &items {
        assert_eq!(key, writer, "item-{key} holds another write's value");
    }
    let mut present_unknown = 0;
    for p in &puts {
        let present = items.contains_key(&p.key);
        match p.answer {
            // Sent after the old server was gone: the new one applied it.
            Answer::Written if p.started >= dead => {
                assert!(present, "acknowledged {p:?} is missing")
            }
            // Acknowledged by the killed server: gone with it.
            Answer::Written if p.ended < killed => {
                assert!(!present, "{p:?} from the killed server is present")
            }
            Answer::Written => {}
            Answer::OutcomeUnknown => present_unknown += usize::from(present),
            Answer::Unavailable | Answer::ResourceNotFound => {
                assert!(!present, "{p:?} was not applied, yet is present")
            }
            Answer::Other(_) => unreachable!(),
        }
    }
    let acknowledged_after = puts
        .iter()
        .filter(|p| p.answer == Answer::Written && p.started >= dead)
        .count();

    let count = |answer: Answer| puts.iter().filter(|p| p.answer == answer).count();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "DynamoDB server killed mid-load ({IN_FLIGHT} conditional PutItem calls in flight): {} calls",
        puts.len()
    );
    println!("| phase | figure |");
    println!("|---|---|");
    println!("| acknowledged before the kill | {written_before} |");
    println!(
        "| answers during the outage | OutcomeUnknown {}, unavailable {}, ResourceNotFound {} |",
        count(Answer::OutcomeUnknown),
        count(Answer::Unavailable),
        count(Answer::ResourceNotFound)
    );
    println!(
        "| server down | {:.0} ms (killed at {:.0} ms, started again at {:.0} ms, listening at {:.0} ms, table back at {:.0} ms) |",
        ms(listening - killed),
        ms(killed),
        ms(restarting),
        ms(listening),
        ms(table_back)
    );
    println!(
        "| first write acknowledged after the table was back | {:.0} ms ({:.0} ms after the server listened); the last failure ended {:.0} ms after the table was back |",
        ms(recovery),
        ms(first_written - listening),
        ms(last_failure.saturating_sub(table_back))
    );
    println!(
        "| OutcomeUnknown of calls started after the server was gone | {} |",
        puts.iter()
            .filter(|p| p.answer == Answer::OutcomeUnknown && p.started >= dead)
            .count()
    );
    println!(
        "| acknowledged by the restarted server | {acknowledged_after}, all present once; unknown outcomes present {present_unknown} of {} |",
        count(Answer::OutcomeUnknown)
    );
    println!(
        "| longest call | {:.0} ms |",
        ms(puts.iter().map(|p| p.ended - p.started).max().unwrap())
    );
    println!("| ConditionalCheckFailed, internal or other | 0 |");
}
