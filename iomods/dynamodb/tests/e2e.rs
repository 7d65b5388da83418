//! The DynamoDB IOmod through the whole path: a wasm function (`functions/dynamodb-json`, calling the
//! checked-in guest crate) → the wasm host → the registry → the `iomod-dynamodb` process → the official AWS
//! SDK → a moto server on 127.0.0.1. Every operation of the manifest, and its error cases.
#![allow(clippy::unwrap_used)]

mod common;

use common::{DynamoServer, Stack};
use serde_json::{Value, json};

fn s(text: &str) -> Value {
    json!({ "s": text })
}

fn n(number: i64) -> Value {
    json!({ "n": number.to_string() })
}

/// A table keyed by `pk` (string) and optionally `sk` (number), on demand.
fn table(name: &str, sort_key: bool) -> Value {
    let mut key_schema = vec![json!({ "attribute_name": "pk", "key_type": "hash" })];
    let mut attributes = vec![json!({ "attribute_name": "pk", "attribute_type": "s" })];
    if sort_key {
        key_schema.push(json!({ "attribute_name": "sk", "key_type": "range" }));
        attributes.push(json!({ "attribute_name": "sk", "attribute_type": "n" }));
    }
    json!({
        "table_name": name,
        "key_schema": key_schema,
        "attribute_definitions": attributes,
        "billing_mode": "pay_per_request",
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn table_operations_and_their_errors() {
    let server = DynamoServer::start();
    let stack = Stack::start(&server, "dynamodb_json").await;

    // CreateTable with a global and a local secondary index.
    let mut input = table("orders", true);
    input["attribute_definitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "attribute_name": "status", "attribute_type": "s" }));
    input["global_secondary_indexes"] = json!([{
        "index_name": "by-status",
        "key_schema": [{ "attribute_name": "status", "key_type": "hash" }],
        "projection": { "projection_type": "keys_only" },
    }]);
    input["local_secondary_indexes"] = json!([{
        "index_name": "by-status-local",
        "key_schema": [
            { "attribute_name": "pk", "key_type": "hash" },
            { "attribute_name": "status", "key_type": "range" },
        ],
        "projection": { "projection_type": "include", "non_key_attributes": ["total"] },
    }]);
    let created = stack.ok("create_table", input.clone()).await;
    let description = &created["table_description"];
    assert_eq!(description["table_name"], "orders");
    assert_eq!(description["table_status"], "active");
    assert_eq!(description["key_schema"][1]["key_type"], "range");
    assert_eq!(
        description["global_secondary_indexes"][0]["index_name"],
        "by-status"
    );
    assert_eq!(
        description["local_secondary_indexes"][0]["projection"]["non_key_attributes"],
        json!(["total"])
    );
    assert!(description["creation_date_time"].as_f64().unwrap() > 1.6e9);

    // Creating it again: ResourceInUse, with AWS's message.
    let error = stack.error("create_table", input).await;
    assert!(
        error["ResourceInUse"]["message"]
            .as_str()
            .unwrap()
            .contains("orders"),
        "{error}"
    );

    // DescribeTable, and a missing table.
    let described = stack
        .ok("describe_table", json!({ "table_name": "orders" }))
        .await;
    assert_eq!(
        described["table"]["billing_mode_summary"]["billing_mode"],
        "pay_per_request"
    );
    let error = stack
        .error("describe_table", json!({ "table_name": "nope" }))
        .await;
    assert!(error["ResourceNotFound"]["message"].is_string(), "{error}");

    // ListTables, a page at a time.
    for name in ["a-table", "b-table"] {
        stack.ok("create_table", table(name, false)).await;
    }
    let first = stack.ok("list_tables", json!({ "limit": 2 })).await;
    let mut names: Vec<String> = serde_json::from_value(first["table_names"].clone()).unwrap();
    assert_eq!(names.len(), 2, "{first}");
    let last = first["last_evaluated_table_name"].as_str().unwrap();
    assert_eq!(last, names[1]);
    let rest = stack
        .ok(
            "list_tables",
            json!({ "exclusive_start_table_name": last, "limit": 2 }),
        )
        .await;
    names.extend(serde_json::from_value::<Vec<String>>(rest["table_names"].clone()).unwrap());
    assert!(rest.get("last_evaluated_table_name").is_none(), "{rest}");
    names.sort();
    assert_eq!(names, ["a-table", "b-table", "orders"]);

    // UpdateTable: provisioned throughput, then a new global index.
    let updated = stack
        .ok(
            "update_table",
            json!({
                "table_name": "a-table",
                "billing_mode": "provisioned",
                "provisioned_throughput": { "read_capacity_units": 5, "write_capacity_units": 3 },
            }),
        )
        .await;
    let throughput = &updated["table_description"]["provisioned_throughput"];
    assert_eq!(throughput["read_capacity_units"], 5);
    assert_eq!(throughput["write_capacity_units"], 3);
    let updated = stack
        .ok(
            "update_table",
            json!({
                "table_name": "b-table",
                "attribute_definitions": [{ "attribute_name": "email", "attribute_type": "s" }],
                "global_secondary_index_updates": [{ "create": {
                    "index_name": "by-email",
                    "key_schema": [{ "attribute_name": "email", "key_type": "hash" }],
                    "projection": { "projection_type": "all" },
                }}],
            }),
        )
        .await;
    assert_eq!(
        updated["table_description"]["global_secondary_indexes"][0]["index_name"],
        "by-email"
    );
    let error = stack
        .error(
            "update_table",
            json!({ "table_name": "nope", "billing_mode": "pay_per_request" }),
        )
        .await;
    assert!(error["ResourceNotFound"].is_object(), "{error}");

    // Time to live.
    let ttl = stack
        .ok(
            "update_time_to_live",
            json!({
                "table_name": "orders",
                "time_to_live_specification": { "enabled": true, "attribute_name": "expires_at" },
            }),
        )
        .await;
    assert_eq!(
        ttl["time_to_live_specification"],
        json!({ "enabled": true, "attribute_name": "expires_at" })
    );
    let ttl = stack
        .ok("describe_time_to_live", json!({ "table_name": "orders" }))
        .await;
    assert_eq!(
        ttl["time_to_live_description"]["time_to_live_status"],
        "enabled"
    );
    assert_eq!(
        ttl["time_to_live_description"]["attribute_name"],
        "expires_at"
    );
    let error = stack
        .error("describe_time_to_live", json!({ "table_name": "nope" }))
        .await;
    assert!(error["ResourceNotFound"].is_object(), "{error}");

    // DeleteTable, then it is gone.
    let deleted = stack
        .ok("delete_table", json!({ "table_name": "a-table" }))
        .await;
    assert_eq!(deleted["table_description"]["table_name"], "a-table");
    let error = stack
        .error("delete_table", json!({ "table_name": "a-table" }))
        .await;
    assert!(error["ResourceNotFound"].is_object(), "{error}");
}

/// Every attribute type, nested: what goes in comes back exactly.
fn document() -> Value {
    json!({
        "pk": s("doc-1"),
        "text": s("héllo, wörld"),
        "count": n(42),
        "precise": { "n": "3.14159265358979323846264338327950288" },
        "blob": { "b": [0, 1, 2, 253, 254, 255] },
        "empty_blob": { "b": [] },
        "tags": { "ss": ["blue", "green"] },
        "scores": { "ns": ["1", "2.5", "-3"] },
        "chunks": { "bs": [[1, 2], [3]] },
        "flag": { "bool": true },
        "nothing": { "null": true },
        "nested": { "m": {
            "list": { "l": [n(1), s("two"), { "l": [] }, { "m": { "deep": { "m": { "x": { "bool": false } } } } }] },
            "empty_map": { "m": {} },
        }},
    })
}

/// `value` with the members of every string, number and binary set in order: DynamoDB keeps no order in a
/// set, so sets compare as sets.
fn sets_sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, member)| {
                    let member = match (key.as_str(), member) {
                        ("ss" | "ns" | "bs", Value::Array(items)) => {
                            let mut items = items.clone();
                            items.sort_by_key(|item| item.to_string());
                            Value::Array(items)
                        }
                        _ => sets_sorted(member),
                    };
                    (key.clone(), member)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(sets_sorted).collect()),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn item_operations_with_conditions_and_every_attribute_type() {
    let server = DynamoServer::start();
    let stack = Stack::start(&server, "dynamodb_json").await;
    stack.ok("create_table", table("items", false)).await;
    let key = json!({ "pk": s("doc-1") });

    // PutItem and GetItem: binary, sets, nested maps and lists survive the round trip.
    let put = stack
        .ok(
            "put_item",
            json!({ "table_name": "items", "item": document() }),
        )
        .await;
    assert_eq!(put, json!({}));
    let got = stack
        .ok(
            "get_item",
            json!({ "table_name": "items", "key": key, "consistent_read": true }),
        )
        .await;
    assert_eq!(sets_sorted(&got["item"]), sets_sorted(&document()));

    // A projection with attribute names.
    let got = stack
        .ok(
            "get_item",
            json!({
                "table_name": "items", "key": key,
                "projection_expression": "#c, #b",
                "expression_attribute_names": { "#c": "count", "#b": "blob" },
            }),
        )
        .await;
    assert_eq!(
        got["item"],
        json!({ "count": n(42), "blob": { "b": [0, 1, 2, 253, 254, 255] } })
    );

    // A missing item: no `item`.
    let got = stack
        .ok(
            "get_item",
            json!({ "table_name": "items", "key": { "pk": s("nobody") } }),
        )
        .await;
    assert!(got.get("item").is_none(), "{got}");

    // A failed condition: ConditionalCheckFailed, with the item it found when asked for it.
    let error = stack
        .error(
            "put_item",
            json!({
                "table_name": "items",
                "item": { "pk": s("doc-1") },
                "condition_expression": "attribute_not_exists(pk)",
                "return_values_on_condition_check_failure": "all_old",
            }),
        )
        .await;
    let failed = &error["ConditionalCheckFailed"];
    assert_eq!(failed["message"], "The conditional request failed");
    assert_eq!(sets_sorted(&failed["item"]), sets_sorted(&document()));

    // PutItem returning the old item.
    let put = stack
        .ok(
            "put_item",
            json!({
                "table_name": "items",
                "item": { "pk": s("doc-2"), "v": n(1) },
            }),
        )
        .await;
    assert_eq!(put, json!({}));
    let put = stack
        .ok(
            "put_item",
            json!({
                "table_name": "items",
                "item": { "pk": s("doc-2"), "v": n(2) },
                "return_values": "all_old",
            }),
        )
        .await;
    assert_eq!(put["attributes"], json!({ "pk": s("doc-2"), "v": n(1) }));

    // UpdateItem: an expression with names and values, returning the new values.
    let updated = stack
        .ok(
            "update_item",
            json!({
                "table_name": "items",
                "key": { "pk": s("doc-2") },
                "update_expression": "SET #v = #v + :inc, tags = :tags REMOVE gone",
                "condition_expression": "#v = :expected",
                "expression_attribute_names": { "#v": "v" },
                "expression_attribute_values": {
                    ":inc": n(10), ":expected": n(2), ":tags": { "ss": ["x"] },
                },
                "return_values": "all_new",
            }),
        )
        .await;
    assert_eq!(
        updated["attributes"],
        json!({ "pk": s("doc-2"), "v": n(12), "tags": { "ss": ["x"] } })
    );
    let error = stack
        .error(
            "update_item",
            json!({
                "table_name": "items",
                "key": { "pk": s("doc-2") },
                "update_expression": "SET v = :v",
                "condition_expression": "v = :old",
                "expression_attribute_values": { ":v": n(0), ":old": n(999) },
            }),
        )
        .await;
    assert!(error["ConditionalCheckFailed"].is_object(), "{error}");

    // DeleteItem: a failed condition, then a delete returning the old item.
    let error = stack
        .error(
            "delete_item",
            json!({
                "table_name": "items",
                "key": { "pk": s("doc-2") },
                "condition_expression": "attribute_not_exists(v)",
            }),
        )
        .await;
    assert!(error["ConditionalCheckFailed"].is_object(), "{error}");
    let deleted = stack
        .ok(
            "delete_item",
            json!({ "table_name": "items", "key": { "pk": s("doc-2") }, "return_values": "all_old" }),
        )
        .await;
    assert_eq!(deleted["attributes"]["v"], n(12));

    // A missing table.
    let error = stack
        .error(
            "put_item",
            json!({ "table_name": "nope", "item": { "pk": s("x") } }),
        )
        .await;
    assert!(error["ResourceNotFound"]["message"].is_string(), "{error}");
    let error = stack
        .error("get_item", json!({ "table_name": "nope", "key": key }))
        .await;
    assert!(error["ResourceNotFound"].is_object(), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_from_the_guest_is_a_typed_error() {
    let server = DynamoServer::start();
    let stack = Stack::start(&server, "dynamodb_json").await;
    stack.ok("create_table", table("items", false)).await;

    // An empty key: AWS's ValidationException, as the typed Validation error.
    let error = stack
        .error(
            "get_item",
            json!({ "table_name": "items", "key": { "pk": s("") } }),
        )
        .await;
    let message = error["Validation"]["message"].as_str().unwrap();
    assert!(message.contains("empty string"), "{message}");

    // An item without its key attribute, a malformed expression.
    let error = stack
        .error(
            "put_item",
            json!({ "table_name": "items", "item": { "other": s("x") } }),
        )
        .await;
    assert!(error["Validation"].is_object(), "{error}");
    let error = stack
        .error(
            "update_item",
            json!({ "table_name": "items", "key": { "pk": s("a") }, "update_expression": "SET = oops" }),
        )
        .await;
    assert!(error["Validation"].is_object(), "{error}");

    // Input the guest crate itself refuses (a misspelt field) never reaches the IOmod.
    let answer = stack
        .call("get_item", json!({ "table_name": "items", "kee": {} }))
        .await;
    assert!(
        answer["bad_request"]
            .as_str()
            .unwrap()
            .contains("unknown field `kee`"),
        "{answer}"
    );

    // Nothing was written by any of it.
    let scan = stack.ok("scan", json!({ "table_name": "items" })).await;
    assert_eq!(scan["count"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn query_and_scan_paginate_across_pages() {
    let server = DynamoServer::start();
    let stack = Stack::start(&server, "dynamodb_json").await;
    stack.ok("create_table", table("events", true)).await;
    // 23 events in partition "a", 5 in "b", written 25 at a time with BatchWriteItem.
    let mut requests: Vec<Value> = (0..23)
        .map(|i| json!({ "put_request": { "item": { "pk": s("a"), "sk": n(i), "even": { "bool": i % 2 == 0 } } } }))
        .collect();
    requests
        .extend((0..5).map(|i| json!({ "put_request": { "item": { "pk": s("b"), "sk": n(i) } } })));
    for chunk in requests.chunks(25) {
        let written = stack
            .ok(
                "batch_write_item",
                json!({ "request_items": { "events": chunk } }),
            )
            .await;
        assert_eq!(written["unprocessed_items"], json!({}));
    }

    // Query partition "a" 10 at a time, backwards: 3 pages, 23 items in descending order.
    let mut sort_keys = Vec::new();
    let mut pages = 0;
    let mut start: Option<Value> = None;
    loop {
        let mut input = json!({
            "table_name": "events",
            "key_condition_expression": "pk = :pk",
            "expression_attribute_values": { ":pk": s("a") },
            "scan_index_forward": false,
            "limit": 10,
        });
        if let Some(key) = start.take() {
            input["exclusive_start_key"] = key;
        }
        let page = stack.ok("query", input).await;
        pages += 1;
        assert_eq!(page["count"], page["items"].as_array().unwrap().len());
        for item in page["items"].as_array().unwrap() {
            sort_keys.push(item["sk"]["n"].as_str().unwrap().parse::<i64>().unwrap());
        }
        match page.get("last_evaluated_key") {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(sort_keys, (0..23).rev().collect::<Vec<_>>());

    // A key condition on the sort key with a filter, and Select count.
    let page = stack
        .ok(
            "query",
            json!({
                "table_name": "events",
                "key_condition_expression": "pk = :pk AND sk BETWEEN :lo AND :hi",
                "filter_expression": "even = :yes",
                "expression_attribute_values": { ":pk": s("a"), ":lo": n(5), ":hi": n(14), ":yes": { "bool": true } },
                "select": "count",
            }),
        )
        .await;
    assert_eq!(page["count"], 5);
    assert_eq!(page["scanned_count"], 10);

    // Scan the whole table 7 at a time: every item exactly once.
    let mut seen = Vec::new();
    let mut start: Option<Value> = None;
    let mut pages = 0;
    loop {
        let mut input =
            json!({ "table_name": "events", "limit": 7, "return_consumed_capacity": "total" });
        if let Some(key) = start.take() {
            input["exclusive_start_key"] = key;
        }
        let page = stack.ok("scan", input).await;
        pages += 1;
        assert_eq!(page["consumed_capacity"]["table_name"], "events");
        for item in page["items"].as_array().unwrap() {
            seen.push(format!(
                "{}/{}",
                item["pk"]["s"].as_str().unwrap(),
                item["sk"]["n"].as_str().unwrap()
            ));
        }
        match page.get("last_evaluated_key") {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
        assert!(pages < 20, "pagination does not end");
    }
    assert!(pages >= 4, "{pages} pages");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 28);

    // Errors of Query and Scan.
    let error = stack
        .error("query", json!({ "table_name": "nope", "key_condition_expression": "pk = :pk", "expression_attribute_values": { ":pk": s("a") } }))
        .await;
    assert!(error["ResourceNotFound"].is_object(), "{error}");
    let error = stack.error("scan", json!({ "table_name": "nope" })).await;
    assert!(error["ResourceNotFound"].is_object(), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_and_transactions() {
    let server = DynamoServer::start();
    let stack = Stack::start(&server, "dynamodb_json").await;
    stack.ok("create_table", table("accounts", false)).await;
    stack.ok("create_table", table("audit", false)).await;

    // BatchWriteItem across two tables, puts and deletes.
    let written = stack
        .ok(
            "batch_write_item",
            json!({ "request_items": {
                "accounts": [
                    { "put_request": { "item": { "pk": s("alice"), "balance": n(100) } } },
                    { "put_request": { "item": { "pk": s("bob"), "balance": n(20) } } },
                    { "put_request": { "item": { "pk": s("carol"), "balance": n(5) } } },
                ],
                "audit": [{ "put_request": { "item": { "pk": s("log-1"), "what": s("opened") } } }],
            }}),
        )
        .await;
    assert_eq!(written["unprocessed_items"], json!({}));
    stack
        .ok(
            "batch_write_item",
            json!({ "request_items": { "accounts": [{ "delete_request": { "key": { "pk": s("carol") } } }] } }),
        )
        .await;

    // BatchGetItem across two tables; carol is gone.
    let got = stack
        .ok(
            "batch_get_item",
            json!({ "request_items": {
                "accounts": { "keys": [{ "pk": s("alice") }, { "pk": s("bob") }, { "pk": s("carol") }], "consistent_read": true },
                "audit": { "keys": [{ "pk": s("log-1") }], "projection_expression": "#w", "expression_attribute_names": { "#w": "what" } },
            }}),
        )
        .await;
    let mut names: Vec<&str> = got["responses"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["pk"]["s"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(got["responses"]["audit"], json!([{ "what": s("opened") }]));
    assert_eq!(got["unprocessed_keys"], json!({}));
    let error = stack
        .error(
            "batch_get_item",
            json!({ "request_items": { "nope": { "keys": [{ "pk": s("x") }] } } }),
        )
        .await;
    assert!(error["ResourceNotFound"].is_object(), "{error}");

    // TransactWriteItems: a transfer that succeeds, all four action kinds.
    let transfer = |amount: i64, log: &str| {
        json!({ "transact_items": [
            { "update": {
                "table_name": "accounts", "key": { "pk": s("alice") },
                "update_expression": "SET balance = balance - :a",
                "condition_expression": "balance >= :a",
                "expression_attribute_values": { ":a": n(amount) },
                "return_values_on_condition_check_failure": "all_old",
            }},
            { "update": {
                "table_name": "accounts", "key": { "pk": s("bob") },
                "update_expression": "SET balance = balance + :a",
                "expression_attribute_values": { ":a": n(amount) },
            }},
            { "put": { "table_name": "audit", "item": { "pk": s(log), "amount": n(amount) } } },
            { "condition_check": {
                "table_name": "audit", "key": { "pk": s("log-1") },
                "condition_expression": "attribute_exists(pk)",
            }},
        ]})
    };
    stack
        .ok("transact_write_items", transfer(30, "log-2"))
        .await;

    // TransactGetItems sees the transfer.
    let got = stack
        .ok(
            "transact_get_items",
            json!({ "transact_items": [
                { "get": { "table_name": "accounts", "key": { "pk": s("alice") } } },
                { "get": { "table_name": "accounts", "key": { "pk": s("bob") }, "projection_expression": "balance" } },
                { "get": { "table_name": "audit", "key": { "pk": s("missing") } } },
            ]}),
        )
        .await;
    assert_eq!(got["responses"][0]["item"]["balance"], n(70));
    assert_eq!(got["responses"][1]["item"]["balance"], n(50));
    assert!(got["responses"][2].get("item").is_none(), "{got}");

    // A transfer alice cannot afford: cancelled, with one reason per action, nothing written.
    let error = stack
        .error("transact_write_items", transfer(1000, "log-3"))
        .await;
    let canceled = &error["TransactionCanceled"];
    assert!(
        canceled["message"]
            .as_str()
            .unwrap()
            .contains("Transaction cancelled"),
        "{error}"
    );
    let reasons = canceled["cancellation_reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 4, "{error}");
    assert_eq!(reasons[0]["code"], "ConditionalCheckFailed");
    assert_eq!(reasons[0]["item"]["balance"], n(70));
    assert_eq!(reasons[1]["code"], "None");
    let after = stack
        .ok(
            "get_item",
            json!({ "table_name": "audit", "key": { "pk": s("log-3") } }),
        )
        .await;
    assert!(
        after.get("item").is_none(),
        "a cancelled transaction wrote: {after}"
    );

    // A transaction on a missing table.
    let error = stack
        .error(
            "transact_write_items",
            json!({ "transact_items": [{ "put": { "table_name": "nope", "item": { "pk": s("x") } } }] }),
        )
        .await;
    assert!(
        error["ResourceNotFound"].is_object() || error["TransactionCanceled"].is_object(),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_reported_not_hung() {
    let server = DynamoServer::start();
    let stack = Stack::start(&server, "dynamodb_json").await;
    stack.ok("list_tables", json!({})).await;
    server.stop();
    let started = std::time::Instant::now();
    let error = stack.error("list_tables", json!({})).await;
    assert_eq!(error["Failed"]["code"], "unavailable", "{error}");
    assert!(
        error["Failed"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach DynamoDB"),
        "{error}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // The IOmod itself is still registered and answering.
    assert!(
        stack
            .registry
            .list()
            .await
            .unwrap()
            .iter()
            .any(|i| i.info.coordinates.to_string() == common::COORDINATES)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_todo_sample_creates_reads_updates_lists_and_deletes() {
    let server = DynamoServer::start();
    let stack = Stack::start(&server, "todo").await;
    assert_eq!(
        stack.run(&json!({ "action": "setup" })).await["ok"]["created"],
        true
    );
    assert_eq!(
        stack.run(&json!({ "action": "setup" })).await["ok"]["created"],
        false
    );
    for title in ["Buy milk", "Write docs", "Ship it"] {
        let created = stack
            .run(&json!({ "action": "create", "title": title }))
            .await;
        assert_eq!(created["ok"]["title"], title);
    }
    let got = stack.run(&json!({ "action": "get", "id": "todo-2" })).await;
    assert_eq!(
        got,
        json!({ "ok": { "id": "todo-2", "title": "Write docs", "done": false } })
    );
    let updated = stack
        .run(&json!({ "action": "update", "id": "todo-1", "done": true }))
        .await;
    assert_eq!(updated["ok"]["done"], true);
    let missing = stack
        .run(&json!({ "action": "update", "id": "todo-9", "done": true }))
        .await;
    assert_eq!(missing, json!({ "error": "no todo todo-9" }));
    let deleted = stack
        .run(&json!({ "action": "delete", "id": "todo-3" }))
        .await;
    assert_eq!(deleted["ok"]["deleted"]["title"], "Ship it");
    let listed = stack.run(&json!({ "action": "list" })).await;
    assert_eq!(
        listed,
        json!({ "ok": { "todos": [
            { "id": "todo-1", "title": "Buy milk", "done": true },
            { "id": "todo-2", "title": "Write docs", "done": false },
        ], "next": null }})
    );
    // One todo a page: the first page's token leads to the other todo, the second page ends the list.
    let first = stack.run(&json!({ "action": "list", "limit": 1 })).await;
    let next = first["ok"]["next"].clone();
    assert!(next.is_string(), "{first}");
    let second = stack
        .run(&json!({ "action": "list", "limit": 1, "next": next }))
        .await;
    let mut paged: Vec<Value> = [&first, &second]
        .iter()
        .flat_map(|page| page["ok"]["todos"].as_array().cloned().unwrap_or_default())
        .collect();
    paged.sort_by_key(|todo| todo["id"].to_string());
    assert_eq!(paged, listed["ok"]["todos"].as_array().cloned().unwrap());
    assert_eq!(second["ok"]["next"], Value::Null, "{second}");
    let counter = stack
        .run(&json!({ "action": "delete", "id": "#counter" }))
        .await;
    assert_eq!(
        counter,
        json!({ "error": "bad id `#counter`: todo ids are `todo-` and a positive number, such as `todo-1`" })
    );
    let created = stack
        .run(&json!({ "action": "create", "title": "Still counting" }))
        .await;
    assert_eq!(created["ok"]["id"], "todo-4");
    let bad = stack
        .run(&json!({ "action": "create", "title": " " }))
        .await;
    assert_eq!(bad, json!({ "error": "a todo needs a title" }));
}

#[test]
fn missing_configuration_stops_the_iomod_with_a_clear_message() {
    let run = |vars: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_iomod-dynamodb"));
        for name in [
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_DYNAMODB",
        ] {
            command.env_remove(name);
        }
        // No profile, and no instance metadata service to wait for: the standard chains find nothing.
        let output = command
            .envs(vars.iter().copied())
            .env("AWS_CONFIG_FILE", "/nonexistent/aws/config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/aws/credentials",
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
            .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .env("IOMOD_REGISTRY", "/nonexistent/registry.sock")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no region: set AWS_REGION"), "{stderr}");
    let (code, stderr) = run(&[("AWS_REGION", "us-east-1")]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("no credentials: set AWS_ACCESS_KEY_ID"),
        "{stderr}"
    );
    let (code, stderr) = run(&[("AWS_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "a")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("incomplete credentials"), "{stderr}");
    let (code, stderr) = run(&[
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "a"),
        ("AWS_SECRET_ACCESS_KEY", "b"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "127.0.0.1:8000"),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("not an http:// or https:// URL"),
        "{stderr}"
    );
    let (code, stderr) = {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_iomod-dynamodb"))
            .arg("--help")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(2));
    assert!(stderr.contains("usage: iomod-dynamodb"), "{stderr}");
}
