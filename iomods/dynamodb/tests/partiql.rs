//! PartiQL, tags, resource-based policies, account limits and endpoints, the table settings of CreateTable
//! and UpdateTable, and the legacy parameters of the item operations, through the whole path: a wasm
//! function (`functions/dynamodb-json`) → the wasm host → the registry → the `iomod-dynamodb` process → the
//! official AWS SDK → a moto server on 127.0.0.1. One server and one stack serve every section.
//!
//! What moto 5 leaves out, these tests leave out too (each section says what): PartiQL INSERTs with
//! parameters, arithmetic, RETURNING, DELETEs with parameters and duplicate-key errors; table classes,
//! on-demand throughput and resource policies in table descriptions; QueryFilter, the `OR` of
//! ConditionalOperator, AttributesToGet of GetItem and Scan, and Expected on DeleteItem. Contributor
//! insights, Kinesis streaming destinations and SearchVectors it does not implement: the last section pins
//! down what reaches the guest then.
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

fn arn(table: &str) -> String {
    format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}")
}

#[tokio::test(flavor = "multi_thread")]
async fn partiql_tags_policies_table_settings_and_legacy_parameters() {
    let server = DynamoServer::start();
    let stack = Stack::start(&server, "dynamodb_json").await;

    table_settings(&stack).await;
    tags(&stack).await;
    resource_policies(&stack).await;
    partiql(&stack).await;
    legacy_parameters(&stack).await;
    limits_and_endpoints(&stack).await;
    operations_moto_does_not_implement(&stack).await;
}

/// CreateTable, DescribeTable and UpdateTable with streams, encryption, warm and on-demand throughput,
/// deletion protection, tags and a global index updated without provisioned throughput. moto accepts but
/// does not describe `table_class`, `on_demand_throughput` and `resource_policy`, keeps encryption as
/// created, and describes no `table_id`.
async fn table_settings(stack: &Stack) {
    let mut input = table("features", false);
    input["attribute_definitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "attribute_name": "genre", "attribute_type": "s" }));
    input["global_secondary_indexes"] = json!([{
        "index_name": "by-genre",
        "key_schema": [{ "attribute_name": "genre", "key_type": "hash" }],
        "projection": { "projection_type": "all" },
        "on_demand_throughput": { "max_read_request_units": 10, "max_write_request_units": 10 },
        "warm_throughput": { "read_units_per_second": 12000, "write_units_per_second": 4000 },
    }]);
    input["stream_specification"] =
        json!({ "stream_enabled": true, "stream_view_type": "new_and_old_images" });
    input["sse_specification"] =
        json!({ "enabled": true, "sse_type": "kms", "kms_master_key_id": "alias/features" });
    input["tags"] = json!([{ "key": "team", "value": "catalog" }]);
    input["table_class"] = json!("standard_infrequent_access");
    input["on_demand_throughput"] =
        json!({ "max_read_request_units": 100, "max_write_request_units": 50 });
    input["warm_throughput"] =
        json!({ "read_units_per_second": 13000, "write_units_per_second": 5000 });
    input["deletion_protection_enabled"] = json!(true);
    input["resource_policy"] = json!(r#"{"Version": "2012-10-17", "Statement": []}"#);
    let created = stack.ok("create_table", input).await;
    let description = &created["table_description"];
    assert_eq!(
        description["stream_specification"],
        json!({ "stream_enabled": true, "stream_view_type": "new_and_old_images" })
    );
    let label = description["latest_stream_label"].as_str().unwrap();
    assert_eq!(
        description["latest_stream_arn"],
        format!("{}/stream/{label}", arn("features"))
    );
    assert_eq!(
        description["sse_description"],
        json!({ "status": "enabled", "sse_type": "kms", "kms_master_key_arn": "alias/features" })
    );
    assert_eq!(description["deletion_protection_enabled"], true);
    assert_eq!(
        description["warm_throughput"],
        json!({ "read_units_per_second": 13000, "write_units_per_second": 5000, "status": "active" })
    );
    assert_eq!(
        description["global_secondary_indexes"][0]["warm_throughput"],
        json!({ "read_units_per_second": 12000, "write_units_per_second": 4000, "status": "active" })
    );

    // The tags given at creation.
    let tags = stack
        .ok(
            "list_tags_of_resource",
            json!({ "resource_arn": arn("features") }),
        )
        .await;
    assert_eq!(tags["tags"], json!([{ "key": "team", "value": "catalog" }]));

    // Deletion protection holds.
    let error = stack
        .error("delete_table", json!({ "table_name": "features" }))
        .await;
    assert!(
        error["Validation"]["message"]
            .as_str()
            .unwrap()
            .contains("DeletionProtectionEnabled"),
        "{error}"
    );

    // UpdateTable: a global index of an on-demand table changes its on-demand and warm throughput, with no
    // provisioned throughput.
    let updated = stack
        .ok(
            "update_table",
            json!({
                "table_name": "features",
                "global_secondary_index_updates": [{ "update": {
                    "index_name": "by-genre",
                    "on_demand_throughput": { "max_read_request_units": 20 },
                    "warm_throughput": { "read_units_per_second": 15000 },
                } }],
            }),
        )
        .await;
    assert_eq!(
        updated["table_description"]["global_secondary_indexes"][0]["index_name"],
        "by-genre"
    );

    // UpdateTable: the stream off (its label and ARN stay), warm throughput up, the table's class and
    // on-demand throughput, and deletion protection off.
    let updated = stack
        .ok(
            "update_table",
            json!({
                "table_name": "features",
                "stream_specification": { "stream_enabled": false },
                "warm_throughput": { "read_units_per_second": 14000 },
                "table_class": "standard",
                "on_demand_throughput": { "max_read_request_units": 200 },
                "deletion_protection_enabled": false,
            }),
        )
        .await;
    let description = &updated["table_description"];
    assert!(
        description.get("stream_specification").is_none(),
        "{description}"
    );
    assert_eq!(description["latest_stream_label"], label);
    assert_eq!(
        description["warm_throughput"]["read_units_per_second"],
        14000
    );
    assert_eq!(description["deletion_protection_enabled"], false);

    let described = stack
        .ok("describe_table", json!({ "table_name": "features" }))
        .await;
    assert_eq!(described["table"]["deletion_protection_enabled"], false);
    assert_eq!(described["table"]["latest_stream_label"], label);
    stack
        .ok("delete_table", json!({ "table_name": "features" }))
        .await;
}

/// TagResource, ListTagsOfResource a page at a time (moto answers ten tags a page) and UntagResource.
/// moto accepts tags for an ARN of no table; it answers ListTagsOfResource for one with ResourceNotFound.
async fn tags(stack: &Stack) {
    stack.ok("create_table", table("tagged", false)).await;
    let tags: Vec<Value> = (0..12)
        .map(|i| json!({ "key": format!("k{i:02}"), "value": format!("v{i}") }))
        .collect();
    let output = stack
        .ok(
            "tag_resource",
            json!({ "resource_arn": arn("tagged"), "tags": tags }),
        )
        .await;
    assert_eq!(output, json!({}));

    let mut listed = Vec::new();
    let mut next_token = Value::Null;
    for page in 0.. {
        assert!(page < 5, "ListTagsOfResource does not end");
        let mut input = json!({ "resource_arn": arn("tagged") });
        if !next_token.is_null() {
            input["next_token"] = next_token.clone();
        }
        let output = stack.ok("list_tags_of_resource", input).await;
        listed.extend(output["tags"].as_array().unwrap().iter().cloned());
        next_token = output.get("next_token").cloned().unwrap_or(Value::Null);
        if next_token.is_null() {
            assert_eq!(page, 1, "two pages of at most ten");
            break;
        }
    }
    assert_eq!(listed, tags);

    stack
        .ok(
            "untag_resource",
            json!({ "resource_arn": arn("tagged"), "tag_keys": ["k00", "k05", "k11"] }),
        )
        .await;
    let output = stack
        .ok(
            "list_tags_of_resource",
            json!({ "resource_arn": arn("tagged") }),
        )
        .await;
    let keys: Vec<&str> = output["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "k01", "k02", "k03", "k04", "k06", "k07", "k08", "k09", "k10"
        ]
    );

    let error = stack
        .error(
            "list_tags_of_resource",
            json!({ "resource_arn": arn("no-such-table") }),
        )
        .await;
    assert!(error["ResourceNotFound"]["message"].is_string(), "{error}");
}

/// PutResourcePolicy, GetResourcePolicy and DeleteResourcePolicy with revisions, and PolicyNotFound. moto
/// answers DeleteResourcePolicy of a table without a policy with ResourceNotFound.
async fn resource_policies(stack: &Stack) {
    let resource_arn = arn("tagged");
    let error = stack
        .error(
            "get_resource_policy",
            json!({ "resource_arn": resource_arn }),
        )
        .await;
    assert!(
        error["PolicyNotFound"]["message"]
            .as_str()
            .unwrap()
            .contains(&resource_arn),
        "{error}"
    );

    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::123456789012:root" },
            "Action": "dynamodb:GetItem",
            "Resource": resource_arn,
        }],
    })
    .to_string();
    let put = stack
        .ok(
            "put_resource_policy",
            json!({ "resource_arn": resource_arn, "policy": policy }),
        )
        .await;
    let revision = put["revision_id"].as_str().unwrap().to_owned();
    let got = stack
        .ok(
            "get_resource_policy",
            json!({ "resource_arn": resource_arn }),
        )
        .await;
    assert_eq!(got["revision_id"], revision.as_str());
    let stored: Value = serde_json::from_str(got["policy"].as_str().unwrap()).unwrap();
    assert_eq!(stored["Statement"][0]["Action"], "dynamodb:GetItem");

    // Replacing another revision than the current one.
    let error = stack
        .error(
            "put_resource_policy",
            json!({ "resource_arn": resource_arn, "policy": policy, "expected_revision_id": "0" }),
        )
        .await;
    assert!(
        error["PolicyNotFound"]["message"]
            .as_str()
            .unwrap()
            .contains(&revision),
        "{error}"
    );

    stack
        .ok(
            "delete_resource_policy",
            json!({ "resource_arn": resource_arn, "expected_revision_id": revision }),
        )
        .await;
    let error = stack
        .error(
            "get_resource_policy",
            json!({ "resource_arn": resource_arn }),
        )
        .await;
    assert!(error["PolicyNotFound"].is_object(), "{error}");
}

/// ExecuteStatement, BatchExecuteStatement and ExecuteTransaction. moto's PartiQL takes parameters in
/// SELECT, UPDATE ... SET and WHERE but not in INSERT values or DELETE; it overwrites an item an INSERT
/// finds instead of failing with DuplicateItem, and answers syntax errors with HTTP 500.
async fn partiql(stack: &Stack) {
    stack.ok("create_table", table("songs", false)).await;
    let inserted = stack
        .ok(
            "execute_statement",
            json!({ "statement": "INSERT INTO songs VALUE {'pk': 'song-1', 'title': 'Blue', 'plays': 3}" }),
        )
        .await;
    assert_eq!(inserted["items"], json!([]));

    let selected = stack
        .ok(
            "execute_statement",
            json!({
                "statement": "SELECT * FROM songs WHERE pk = ?",
                "parameters": [s("song-1")],
                "consistent_read": true,
            }),
        )
        .await;
    assert_eq!(
        selected["items"],
        json!([{ "pk": s("song-1"), "title": s("Blue"), "plays": n(3) }])
    );

    stack
        .ok(
            "execute_statement",
            json!({
                "statement": "UPDATE songs SET title = ? WHERE pk = ?",
                "parameters": [s("Green"), s("song-1")],
            }),
        )
        .await;
    let selected = stack
        .ok(
            "execute_statement",
            json!({ "statement": "SELECT title FROM songs WHERE pk = 'song-1'" }),
        )
        .await;
    assert_eq!(selected["items"], json!([{ "title": s("Green") }]));

    stack
        .ok(
            "execute_statement",
            json!({ "statement": "DELETE FROM songs WHERE pk = 'song-1'" }),
        )
        .await;
    let selected = stack
        .ok(
            "execute_statement",
            json!({ "statement": "SELECT * FROM songs WHERE pk = 'song-1'" }),
        )
        .await;
    assert_eq!(selected["items"], json!([]));

    let error = stack
        .error(
            "execute_statement",
            json!({ "statement": "SELECT * FROM missing" }),
        )
        .await;
    assert!(error["ResourceNotFound"]["message"].is_string(), "{error}");

    // A batch of writes, then a batch of reads in which each statement answers on its own: an item, no
    // item, and the error of a statement on a missing table.
    let written = stack
        .ok(
            "batch_execute_statement",
            json!({ "statements": [
                { "statement": "INSERT INTO songs VALUE {'pk': 'song-2', 'title': 'Red'}" },
                { "statement": "INSERT INTO songs VALUE {'pk': 'song-3', 'title': 'Gold'}" },
                {
                    "statement": "UPDATE songs SET album = ? WHERE pk = 'song-3'",
                    "parameters": [s("Colours")],
                },
            ] }),
        )
        .await;
    assert_eq!(
        written["responses"],
        json!([{ "table_name": "songs" }, { "table_name": "songs" }, { "table_name": "songs" }])
    );
    let read = stack
        .ok(
            "batch_execute_statement",
            json!({ "statements": [
                { "statement": "SELECT * FROM songs WHERE pk = ?", "parameters": [s("song-3")], "consistent_read": true },
                { "statement": "SELECT * FROM songs WHERE pk = 'song-9'" },
                { "statement": "SELECT * FROM missing WHERE pk = 'song-1'" },
            ] }),
        )
        .await;
    let responses = read["responses"].as_array().unwrap();
    assert_eq!(
        responses[0],
        json!({
            "table_name": "songs",
            "item": { "pk": s("song-3"), "title": s("Gold"), "album": s("Colours") },
        })
    );
    assert_eq!(responses[1], json!({ "table_name": "songs" }));
    assert_eq!(responses[2]["error"]["code"], "resource_not_found");
    assert!(responses[2]["error"]["message"].is_string(), "{read}");

    // A transaction of writes (with the caller's idempotency token), then one of reads.
    let written = stack
        .ok(
            "execute_transaction",
            json!({
                "transact_statements": [
                    { "statement": "INSERT INTO songs VALUE {'pk': 'song-4', 'title': 'Grey'}" },
                    {
                        "statement": "UPDATE songs SET title = ? WHERE pk = 'song-2'",
                        "parameters": [s("Crimson")],
                    },
                ],
                "client_request_token": "songs-4",
            }),
        )
        .await;
    assert_eq!(written["responses"], json!([]));
    let read = stack
        .ok(
            "execute_transaction",
            json!({ "transact_statements": [
                { "statement": "SELECT title FROM songs WHERE pk = 'song-4'" },
                { "statement": "SELECT title FROM songs WHERE pk = ?", "parameters": [s("song-2")] },
            ] }),
        )
        .await;
    assert_eq!(
        read["responses"],
        json!([
            { "item": { "title": s("Grey") } },
            { "item": { "title": s("Crimson") } },
        ])
    );
}

/// The legacy parameters: KeyConditions, ScanFilter (with `in_list`, DynamoDB's `IN`), Expected with
/// ConditionalOperator `and`, AttributeUpdates, AttributesToGet of BatchGetItem, and the per-table
/// consumed capacity. moto fails Query with a QueryFilter (HTTP 500), treats ConditionalOperator `or` as
/// `and`, and ignores AttributesToGet in GetItem and Scan and Expected in DeleteItem.
async fn legacy_parameters(stack: &Stack) {
    stack.ok("create_table", table("legacy", true)).await;
    for i in 1..=5 {
        let colour = if i % 2 == 1 { "red" } else { "blue" };
        stack
            .ok(
                "put_item",
                json!({
                    "table_name": "legacy",
                    "item": { "pk": s("a"), "sk": n(i), "colour": s(colour), "count": n(i * 10) },
                }),
            )
            .await;
    }
    let sort_keys = |output: &Value| -> Vec<String> {
        output["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["sk"]["n"].as_str().unwrap().to_owned())
            .collect()
    };

    let queried = stack
        .ok(
            "query",
            json!({
                "table_name": "legacy",
                "key_conditions": {
                    "pk": { "comparison_operator": "eq", "attribute_value_list": [s("a")] },
                    "sk": { "comparison_operator": "between", "attribute_value_list": [n(2), n(4)] },
                },
                "return_consumed_capacity": "indexes",
            }),
        )
        .await;
    assert_eq!(sort_keys(&queried), ["2", "3", "4"]);
    let capacity = &queried["consumed_capacity"];
    assert_eq!(capacity["table_name"], "legacy");
    assert_eq!(
        capacity["table"]["capacity_units"],
        capacity["capacity_units"]
    );

    let scanned = stack
        .ok(
            "scan",
            json!({
                "table_name": "legacy",
                "scan_filter": {
                    "colour": { "comparison_operator": "eq", "attribute_value_list": [s("red")] },
                    "count": { "comparison_operator": "ge", "attribute_value_list": [n(20)] },
                },
                "conditional_operator": "and",
            }),
        )
        .await;
    assert_eq!(sort_keys(&scanned), ["3", "5"]);
    let scanned = stack
        .ok(
            "scan",
            json!({
                "table_name": "legacy",
                "scan_filter": {
                    "sk": { "comparison_operator": "in_list", "attribute_value_list": [n(1), n(4)] },
                },
            }),
        )
        .await;
    assert_eq!(sort_keys(&scanned), ["1", "4"]);

    // Expected: a value that matches, one that does not, and an attribute that must not exist.
    let key = json!({ "pk": s("a"), "sk": n(1) });
    stack
        .ok(
            "put_item",
            json!({
                "table_name": "legacy",
                "item": { "pk": s("a"), "sk": n(1), "colour": s("green") },
                "expected": { "colour": { "value": s("red") } },
            }),
        )
        .await;
    let error = stack
        .error(
            "put_item",
            json!({
                "table_name": "legacy",
                "item": { "pk": s("a"), "sk": n(1), "colour": s("black") },
                "expected": {
                    "colour": { "comparison_operator": "eq", "attribute_value_list": [s("red")] },
                    "pk": { "exists": true, "value": s("a") },
                },
                "conditional_operator": "and",
            }),
        )
        .await;
    assert!(error["ConditionalCheckFailed"].is_object(), "{error}");
    let error = stack
        .error(
            "put_item",
            json!({
                "table_name": "legacy",
                "item": { "pk": s("a"), "sk": n(1) },
                "expected": { "pk": { "exists": false } },
            }),
        )
        .await;
    assert!(error["ConditionalCheckFailed"].is_object(), "{error}");

    // AttributeUpdates: add to a number, put a string, delete an attribute.
    let updated = stack
        .ok(
            "update_item",
            json!({
                "table_name": "legacy",
                "key": { "pk": s("a"), "sk": n(2) },
                "attribute_updates": {
                    "count": { "action": "add", "value": n(5) },
                    "colour": { "action": "put", "value": s("pink") },
                    "note": { "action": "delete" },
                },
                "expected": {
                    "count": { "comparison_operator": "eq", "attribute_value_list": [n(20)] },
                },
                "return_values": "all_new",
            }),
        )
        .await;
    assert_eq!(
        updated["attributes"],
        json!({ "pk": s("a"), "sk": n(2), "colour": s("pink"), "count": n(25) })
    );

    let got = stack
        .ok(
            "batch_get_item",
            json!({ "request_items": { "legacy": {
                "keys": [key, { "pk": s("a"), "sk": n(4) }],
                "attributes_to_get": ["colour"],
                "consistent_read": true,
            } } }),
        )
        .await;
    let mut colours: Vec<&Value> = got["responses"]["legacy"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    colours.sort_by_key(|item| item["colour"]["s"].as_str().unwrap().to_owned());
    assert_eq!(
        colours,
        [
            &json!({ "colour": s("blue") }),
            &json!({ "colour": s("green") })
        ]
    );
}

/// DescribeLimits and DescribeEndpoints (moto answers AWS's default limits and its regional endpoint).
async fn limits_and_endpoints(stack: &Stack) {
    let limits = stack.ok("describe_limits", json!({})).await;
    assert_eq!(
        limits,
        json!({
            "account_max_read_capacity_units": 20000,
            "account_max_write_capacity_units": 20000,
            "table_max_read_capacity_units": 10000,
            "table_max_write_capacity_units": 10000,
        })
    );
    let endpoints = stack.ok("describe_endpoints", json!({})).await;
    assert_eq!(
        endpoints,
        json!({ "endpoints": [
            { "address": "dynamodb.us-east-1.amazonaws.com", "cache_period_in_minutes": 1440 },
        ] })
    );
}

/// moto implements neither contributor insights, nor Kinesis streaming destinations, nor SearchVectors: it
/// answers an HTML page with HTTP 500. The calls go the whole way, and the answer reaches the guest as the
/// method's typed error: `AwsError` with the code `Http500` for the reads and UpdateContributorInsights
/// (which the SDK retries first), `OutcomeUnknown` for the Kinesis writes, which are not resent.
async fn operations_moto_does_not_implement(stack: &Stack) {
    let table_name = json!("legacy");
    let stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/changes";
    let retried = tokio::join!(
        stack.error(
            "describe_contributor_insights",
            json!({ "table_name": table_name, "index_name": "by-colour" }),
        ),
        stack.error(
            "update_contributor_insights",
            json!({
                "table_name": table_name,
                "contributor_insights_action": "enable",
                "contributor_insights_mode": "throttled_keys",
            }),
        ),
        stack.error(
            "list_contributor_insights",
            json!({ "table_name": table_name, "max_results": 5 }),
        ),
        stack.error(
            "describe_kinesis_streaming_destination",
            json!({ "table_name": table_name }),
        ),
        stack.error(
            "search_vectors",
            json!({
                "table_name": table_name,
                "index_name": "by-embedding",
                "search_vector": [{ "n": "0.5" }, { "n": "-1" }],
                "top_k": 3,
            }),
        ),
    );
    let (a, b, c, d, e) = retried;
    for error in [a, b, c, d, e] {
        assert_eq!(error["AwsError"]["code"], "Http500", "{error}");
        assert_eq!(error["AwsError"]["status"], 500, "{error}");
    }
    let configuration = json!({ "approximate_creation_date_time_precision": "microsecond" });
    for (method, input) in [
        (
            "enable_kinesis_streaming_destination",
            json!({
                "table_name": table_name,
                "stream_arn": stream_arn,
                "enable_kinesis_streaming_configuration": configuration,
            }),
        ),
        (
            "update_kinesis_streaming_destination",
            json!({
                "table_name": table_name,
                "stream_arn": stream_arn,
                "update_kinesis_streaming_configuration": configuration,
            }),
        ),
        (
            "disable_kinesis_streaming_destination",
            json!({ "table_name": table_name, "stream_arn": stream_arn }),
        ),
    ] {
        let error = stack.error(method, input).await;
        assert_eq!(
            error["OutcomeUnknown"]["code"], "Http500",
            "{method}: {error}"
        );
    }
}
