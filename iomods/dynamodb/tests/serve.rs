//! The todo function served by `iomod serve` over HTTP, with the DynamoDB IOmod and a moto server, all
//! real processes: 200 concurrent invocations with every answer checked, the IOmod SIGKILLed under load
//! (typed errors, readiness 503 then 200, recovery), and metrics that count what was sent.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../../tests/common/serve.rs"]
mod serve;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use serve::*;

async fn todo(serve: &Serve, request: Value) -> Value {
    let answer = invoke(serve.addr, "todo", request.to_string().as_bytes()).await;
    assert_eq!(answer.status, 200, "{request}: {}", answer.text());
    answer.json()
}

fn ok(answer: Value) -> Value {
    match answer.get("ok") {
        Some(ok) => ok.clone(),
        None => panic!("the todo function failed: {answer}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_todo_function_over_http_under_load_and_an_iomod_crash() {
    let server = DynamoServer::start();
    let dir = TempDir::new("serve");
    let manifest = write_function(
        &dir.0,
        "todo",
        Module::File(&function_module("todo")),
        &format!(
            "time_budget_ms = 60000\ncall_timeout_ms = 20000\n{}",
            dependency(
                "dynamodb",
                COORDINATES,
                Path::new(env!("CARGO_BIN_EXE_iomod-dynamodb")),
                &[]
            )
        ),
    );
    let env: Vec<(&str, String)> = server.aws_env().into_iter().collect();
    let serve = Serve::start(&iomod_binary(), &dir.0, &[manifest.to_str().unwrap()], &env);
    serve.wait_ready(Duration::from_secs(60)).await;
    let mut sent = 0u64;
    ok(todo(&serve, json!({"action": "setup"})).await);
    sent += 1;

    // 200 todos, created one after another: moto applies concurrent `ADD`s to the counter without a
    // lock (DynamoDB does not), so concurrent creates could be handed the same number there.
    let mut ids = BTreeSet::new();
    let mut by_id = std::collections::BTreeMap::new();
    for i in 0..200 {
        let created = ok(todo(
            &serve,
            json!({"action": "create", "title": format!("task {i}")}),
        )
        .await);
        assert_eq!(created["title"], format!("task {i}"));
        assert_eq!(created["done"], false);
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(ids.insert(id.clone()), "{id} was handed out twice");
        by_id.insert(id, format!("task {i}"));
    }
    sent += 200;

    // 200 updates at once, each answered with its own todo, then all of them done.
    let updates: Vec<_> = by_id
        .iter()
        .map(|(id, title)| {
            let (addr, id, title) = (serve.addr, id.clone(), title.clone());
            tokio::spawn(async move {
                let request = json!({"action": "update", "id": id, "done": true});
                let answer = invoke(addr, "todo", request.to_string().as_bytes()).await;
                assert_eq!(answer.status, 200, "{}", answer.text());
                let updated = ok(answer.json());
                assert_eq!(updated["id"], id.as_str());
                assert_eq!(updated["title"], title);
                assert_eq!(updated["done"], true);
            })
        })
        .collect();
    for update in updates {
        update.await.unwrap();
    }
    sent += 200;
    // Every todo, page after page (at most 100 per page).
    let mut pages = Vec::new();
    let mut next = Value::Null;
    loop {
        let page = ok(todo(
            &serve,
            json!({"action": "list", "limit": 100, "next": next}),
        )
        .await);
        sent += 1;
        next = page["next"].clone();
        pages.extend(page["todos"].as_array().unwrap().clone());
        if next.is_null() {
            break;
        }
    }
    let listed: BTreeSet<(String, String)> = pages
        .iter()
        .map(|t| {
            assert_eq!(t["done"], true, "{t}");
            (
                t["id"].as_str().unwrap().to_owned(),
                t["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(listed, by_id.clone().into_iter().collect());

    // 200 reads at once, each answered with its own todo.
    let gets: Vec<_> = by_id
        .iter()
        .map(|(id, title)| {
            let (addr, id, title) = (serve.addr, id.clone(), title.clone());
            tokio::spawn(async move {
                let request = json!({"action": "get", "id": id});
                let answer = invoke(addr, "todo", request.to_string().as_bytes()).await;
                assert_eq!(ok(answer.json())["title"], title);
            })
        })
        .collect();
    for get in gets {
        get.await.unwrap();
    }
    sent += 200;

    // SIGKILL the IOmod while 32 clients keep reading: failures are typed, none hangs, all recover.
    let pid = serve
        .iomod_pid(&iomod_binary(), COORDINATES)
        .expect("the IOmod's pid");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..32)
        .map(|client| {
            let (addr, stop) = (serve.addr, stop.clone());
            let (id, title) = by_id.iter().nth(client).unwrap();
            let (id, title) = (id.clone(), title.clone());
            tokio::spawn(async move {
                let (mut ok_count, mut failed, mut slowest) = (0u64, 0u64, Duration::ZERO);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    let request = json!({"action": "get", "id": id});
                    let answer = invoke(addr, "todo", request.to_string().as_bytes()).await;
                    slowest = slowest.max(started.elapsed());
                    assert_eq!(answer.status, 200, "{}", answer.text());
                    let answer = answer.json();
                    match answer.get("ok") {
                        Some(todo) => {
                            assert_eq!(todo["title"], title);
                            ok_count += 1;
                        }
                        None => {
                            let why = answer["error"].as_str().unwrap_or_default().to_owned();
                            assert!(
                                why.contains("unavailable") || why.contains("deadlineExceeded"),
                                "not a typed transport error: {answer}"
                            );
                            failed += 1;
                        }
                    }
                }
                (ok_count, failed, slowest)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    kill("KILL", pid);
    // Readiness notices, then recovers once the supervisor has restarted the IOmod.
    serve.wait_unready_then_ready(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok_total, mut failed_total) = (0, 0);
    for client in clients {
        let (ok_count, failed, slowest) = client.await.unwrap();
        ok_total += ok_count;
        failed_total += failed;
        assert!(
            slowest < Duration::from_secs(25),
            "an invocation took {slowest:?}"
        );
    }
    sent += ok_total + failed_total;
    assert!(failed_total > 0, "no invocation saw the crash");
    assert_ne!(serve.iomod_pid(&iomod_binary(), COORDINATES), Some(pid));
    let (id, title) = by_id.iter().next().unwrap();
    let again = ok(todo(&serve, json!({"action": "get", "id": id})).await);
    sent += 1;
    assert_eq!(&again["title"], title);

    // Every request was one invocation that returned its output.
    assert_eq!(
        serve
            .metric(r#"iomod_invocations_total{function="todo",outcome="ok"}"#)
            .await,
        Some(sent as f64)
    );
    assert_eq!(
        serve
            .metric(r#"iomod_restarts_total{coordinates="example.aws.dynamodb"}"#)
            .await,
        Some(1.0)
    );
    eprintln!(
        "{sent} invocations; during the crash {ok_total} succeeded and {failed_total} failed with a typed error"
    );
}
