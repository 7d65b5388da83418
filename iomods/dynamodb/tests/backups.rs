//! Backups, restores, point-in-time recovery, exports, imports and global tables through the whole path: a
//! wasm function (`functions/dynamodb-json`) → the wasm host → the registry → the `iomod-dynamodb` process
//! → the official AWS SDK → a moto server on 127.0.0.1 (whose S3 holds the exports).
//!
//! moto 5 implements the backup, restore, point-in-time recovery, export and import operations (exports and
//! imports with its own S3, DYNAMODB_JSON only) but not ListImports, the global table operations or the
//! replica auto scaling ones: it answers them with an HTTP 500 page, which the last test pins down.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::task::Poll;
use std::time::Duration;

use common::{DynamoServer, Stack};
use serde_json::{Value, json};

fn s(text: &str) -> Value {
    json!({ "s": text })
}

fn n(number: i64) -> Value {
    json!({ "n": number.to_string() })
}

/// The definition of a table keyed by `author` (string) and `year` (number), on demand.
fn books_table(name: &str) -> Value {
    json!({
        "table_name": name,
        "key_schema": [
            { "attribute_name": "author", "key_type": "hash" },
            { "attribute_name": "year", "key_type": "range" },
        ],
        "attribute_definitions": [
            { "attribute_name": "author", "attribute_type": "s" },
            { "attribute_name": "year", "attribute_type": "n" },
        ],
        "billing_mode": "pay_per_request",
    })
}

fn book(author: &str, year: i64, title: &str) -> Value {
    json!({ "author": s(author), "year": n(year), "title": s(title), "tags": { "ss": ["classic"] } })
}

async fn get_book(stack: &Stack, table: &str, author: &str, year: i64) -> Value {
    let got = stack
        .ok(
            "get_item",
            json!({
                "table_name": table,
                "key": { "author": s(author), "year": n(year) },
                "consistent_read": true,
            }),
        )
        .await;
    got["item"].clone()
}

/// Calls `method` until `done` holds for its output (exports and imports run on after their call).
async fn wait_for(
    stack: &Stack,
    method: &str,
    input: Value,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        let output = stack.ok(method, input.clone()).await;
        if done(&output) {
            return output;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{method} did not finish: {input}");
}

/// Creates an S3 bucket in the moto server (which serves S3 on the same port, unsigned requests included).
fn create_bucket(server: &DynamoServer, bucket: &str) {
    let address = server.endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_restores_point_in_time_recovery_exports_and_imports() {
    let server = DynamoServer::start();
    let stack = Stack::start(&server, "dynamodb_json").await;

    stack.ok("create_table", books_table("books")).await;
    for (author, year, title) in [
        ("Austen", 1813, "Pride and Prejudice"),
        ("Austen", 1815, "Emma"),
        ("Eliot", 1871, "Middlemarch"),
    ] {
        stack
            .ok(
                "put_item",
                json!({ "table_name": "books", "item": book(author, year, title) }),
            )
            .await;
    }

    backups(&stack).await;
    point_in_time_recovery(&stack).await;
    exports_and_imports(&stack, &server).await;
    operations_moto_does_not_implement(&stack).await;
}

async fn backups(stack: &Stack) {
    // CreateBackup of a table with three items.
    let created = stack
        .ok(
            "create_backup",
            json!({ "table_name": "books", "backup_name": "books-1" }),
        )
        .await;
    let details = &created["backup_details"];
    assert_eq!(details["backup_name"], "books-1", "{created}");
    assert_eq!(details["backup_status"], "available");
    assert_eq!(details["backup_type"], "user");
    assert!(details["backup_creation_date_time"].as_f64().unwrap() > 1.6e9);
    assert!(details["backup_size_bytes"].as_i64().is_some(), "{created}");
    let arn = details["backup_arn"].as_str().unwrap().to_owned();
    assert!(arn.contains(":table/books/backup/"), "{arn}");

    // A backup of a missing table: TableNotFound, with AWS's message and request id.
    let error = stack
        .error(
            "create_backup",
            json!({ "table_name": "no-such-table", "backup_name": "nothing" }),
        )
        .await;
    let not_found = &error["TableNotFound"];
    assert!(
        not_found["message"]
            .as_str()
            .unwrap()
            .contains("no-such-table"),
        "{error}"
    );
    assert!(
        !not_found["request_id"].as_str().unwrap().is_empty(),
        "{error}"
    );

    // DescribeBackup: the details and the table as it was.
    let described = stack
        .ok("describe_backup", json!({ "backup_arn": arn }))
        .await;
    let description = &described["backup_description"];
    assert_eq!(description["backup_details"]["backup_arn"], arn.as_str());
    let source = &description["source_table_details"];
    assert_eq!(source["table_name"], "books", "{described}");
    assert_eq!(source["item_count"], 3);
    assert_eq!(source["key_schema"][1]["attribute_name"], "year");
    assert_eq!(source["key_schema"][1]["key_type"], "range");
    assert!(source["table_creation_date_time"].as_f64().unwrap() > 1.6e9);
    assert!(
        source["table_arn"]
            .as_str()
            .unwrap()
            .ends_with(":table/books")
    );
    let error = stack
        .error(
            "describe_backup",
            json!({ "backup_arn": format!("{arn}0") }),
        )
        .await;
    assert!(error["BackupNotFound"]["message"].is_string(), "{error}");

    // ListBackups: of one table, of all tables, of a table without backups.
    let second = stack
        .ok(
            "create_backup",
            json!({ "table_name": "books", "backup_name": "books-2" }),
        )
        .await;
    let second_arn = second["backup_details"]["backup_arn"].as_str().unwrap();
    let listed = stack
        .ok("list_backups", json!({ "table_name": "books" }))
        .await;
    let mut names: Vec<&str> = listed["backup_summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|summary| summary["backup_name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["books-1", "books-2"], "{listed}");
    let summary = &listed["backup_summaries"][0];
    assert_eq!(summary["table_name"], "books");
    assert_eq!(summary["backup_status"], "available");
    assert_eq!(summary["backup_type"], "user");
    assert!(summary["backup_creation_date_time"].as_f64().unwrap() > 1.6e9);
    let all = stack
        .ok(
            "list_backups",
            json!({ "backup_type": "user", "limit": 10 }),
        )
        .await;
    assert_eq!(all["backup_summaries"].as_array().unwrap().len(), 2);
    let none = stack
        .ok("list_backups", json!({ "table_name": "no-such-table" }))
        .await;
    assert_eq!(none["backup_summaries"], json!([]), "{none}");

    // RestoreTableFromBackup to a new table, then read an item back.
    let restored = stack
        .ok(
            "restore_table_from_backup",
            json!({ "target_table_name": "books-restored", "backup_arn": arn }),
        )
        .await;
    let table = &restored["table_description"];
    assert_eq!(table["table_name"], "books-restored", "{restored}");
    assert_eq!(table["table_status"], "active");
    assert_eq!(table["item_count"], 3);
    assert_eq!(
        get_book(stack, "books-restored", "Eliot", 1871).await,
        book("Eliot", 1871, "Middlemarch")
    );

    // Restoring onto an existing table, or from a missing backup.
    let error = stack
        .error(
            "restore_table_from_backup",
            json!({ "target_table_name": "books-restored", "backup_arn": arn }),
        )
        .await;
    assert!(
        error["TableAlreadyExists"]["message"]
            .as_str()
            .unwrap()
            .contains("books-restored"),
        "{error}"
    );
    let error = stack
        .error(
            "restore_table_from_backup",
            json!({ "target_table_name": "books-elsewhere", "backup_arn": format!("{arn}0") }),
        )
        .await;
    assert!(error["BackupNotFound"]["message"].is_string(), "{error}");

    // DeleteBackup: the last description, then BackupNotFound; one backup is left.
    let deleted = stack
        .ok("delete_backup", json!({ "backup_arn": second_arn }))
        .await;
    assert_eq!(
        deleted["backup_description"]["backup_details"]["backup_status"], "deleted",
        "{deleted}"
    );
    assert_eq!(
        deleted["backup_description"]["source_table_details"]["table_name"],
        "books"
    );
    let error = stack
        .error("delete_backup", json!({ "backup_arn": second_arn }))
        .await;
    assert!(error["BackupNotFound"]["message"].is_string(), "{error}");
    let listed = stack
        .ok("list_backups", json!({ "table_name": "books" }))
        .await;
    assert_eq!(listed["backup_summaries"].as_array().unwrap().len(), 1);
}

async fn point_in_time_recovery(stack: &Stack) {
    // DescribeContinuousBackups: continuous backups on, point-in-time recovery off.
    let described = stack
        .ok(
            "describe_continuous_backups",
            json!({ "table_name": "books" }),
        )
        .await;
    let description = &described["continuous_backups_description"];
    assert_eq!(description["continuous_backups_status"], "enabled");
    assert_eq!(
        description["point_in_time_recovery_description"]["point_in_time_recovery_status"],
        "disabled",
        "{described}"
    );
    let error = stack
        .error(
            "describe_continuous_backups",
            json!({ "table_name": "no-such-table" }),
        )
        .await;
    assert!(error["TableNotFound"]["message"].is_string(), "{error}");

    // UpdateContinuousBackups: on, for 7 days.
    let updated = stack
        .ok(
            "update_continuous_backups",
            json!({
                "table_name": "books",
                "point_in_time_recovery_specification": {
                    "point_in_time_recovery_enabled": true,
                    "recovery_period_in_days": 7,
                },
            }),
        )
        .await;
    let recovery = &updated["continuous_backups_description"]["point_in_time_recovery_description"];
    assert_eq!(
        recovery["point_in_time_recovery_status"], "enabled",
        "{updated}"
    );
    assert_eq!(recovery["recovery_period_in_days"], 7);
    let earliest = recovery["earliest_restorable_date_time"].as_f64().unwrap();
    assert!(earliest > 1.6e9);
    assert!(recovery["latest_restorable_date_time"].as_f64().unwrap() >= earliest);
    let described = stack
        .ok(
            "describe_continuous_backups",
            json!({ "table_name": "books" }),
        )
        .await;
    assert_eq!(
        described["continuous_backups_description"]["point_in_time_recovery_description"],
        *recovery
    );
    let error = stack
        .error(
            "update_continuous_backups",
            json!({
                "table_name": "no-such-table",
                "point_in_time_recovery_specification": { "point_in_time_recovery_enabled": true },
            }),
        )
        .await;
    assert!(error["TableNotFound"]["message"].is_string(), "{error}");

    // RestoreTableToPointInTime (the latest restorable time), then read an item back.
    let restored = stack
        .ok(
            "restore_table_to_point_in_time",
            json!({
                "source_table_name": "books",
                "target_table_name": "books-pitr",
                "use_latest_restorable_time": true,
            }),
        )
        .await;
    let table = &restored["table_description"];
    assert_eq!(table["table_name"], "books-pitr", "{restored}");
    assert_eq!(table["item_count"], 3);
    assert_eq!(
        get_book(stack, "books-pitr", "Austen", 1815).await,
        book("Austen", 1815, "Emma")
    );
    let error = stack
        .error(
            "restore_table_to_point_in_time",
            json!({
                "source_table_name": "books",
                "target_table_name": "books-pitr",
                "use_latest_restorable_time": true,
            }),
        )
        .await;
    assert!(
        error["TableAlreadyExists"]["message"].is_string(),
        "{error}"
    );
    let error = stack
        .error(
            "restore_table_to_point_in_time",
            json!({
                "source_table_name": "no-such-table",
                "target_table_name": "books-nowhere",
                "restore_date_time": earliest,
            }),
        )
        .await;
    assert!(
        error["TableNotFound"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-table"),
        "{error}"
    );

    // On and off again for the restored copy (`books` keeps it on for its export).
    stack
        .ok(
            "update_continuous_backups",
            json!({
                "table_name": "books-pitr",
                "point_in_time_recovery_specification": { "point_in_time_recovery_enabled": true },
            }),
        )
        .await;
    let off = stack
        .ok(
            "update_continuous_backups",
            json!({
                "table_name": "books-pitr",
                "point_in_time_recovery_specification": { "point_in_time_recovery_enabled": false },
            }),
        )
        .await;
    assert_eq!(
        off["continuous_backups_description"]["point_in_time_recovery_description"]["point_in_time_recovery_status"],
        "disabled",
        "{off}"
    );
}

async fn exports_and_imports(stack: &Stack, server: &DynamoServer) {
    let table = stack
        .ok("describe_table", json!({ "table_name": "books" }))
        .await;
    let table_arn = table["table"]["table_arn"].as_str().unwrap().to_owned();
    create_bucket(server, "exports");

    // Point-in-time recovery is off for `books-restored`; the table of a made-up ARN does not exist.
    let error = stack
        .error(
            "export_table_to_point_in_time",
            json!({
                "table_arn": table_arn.replace("/books", "/books-restored"),
                "s3_bucket": "exports",
                "s3_prefix": "restored",
            }),
        )
        .await;
    assert!(
        error["PointInTimeRecoveryUnavailable"]["message"]
            .as_str()
            .unwrap()
            .contains("books-restored"),
        "{error}"
    );
    let error = stack
        .error(
            "export_table_to_point_in_time",
            json!({
                "table_arn": table_arn.replace("/books", "/no-such-table"),
                "s3_bucket": "exports",
                "s3_prefix": "nothing",
            }),
        )
        .await;
    assert!(error["TableNotFound"]["message"].is_string(), "{error}");

    // ExportTableToPointInTime into moto's S3, then DescribeExport until it completes.
    let started = stack
        .ok(
            "export_table_to_point_in_time",
            json!({
                "table_arn": table_arn,
                "s3_bucket": "exports",
                "s3_prefix": "books",
                "export_format": "dynamodb_json",
                "export_type": "full_export",
            }),
        )
        .await;
    let export = &started["export_description"];
    assert_eq!(export["table_arn"], table_arn.as_str(), "{started}");
    assert_eq!(export["s3_bucket"], "exports");
    assert_eq!(export["s3_prefix"], "books");
    assert_eq!(export["export_format"], "dynamodb_json");
    assert_eq!(export["export_type"], "full_export");
    let export_arn = export["export_arn"].as_str().unwrap().to_owned();
    let done = wait_for(
        stack,
        "describe_export",
        json!({ "export_arn": export_arn }),
        |output| output["export_description"]["export_status"] != "in_progress",
    )
    .await;
    let export = &done["export_description"];
    assert_eq!(export["export_status"], "completed", "{done}");
    assert_eq!(export["item_count"], 3);
    assert!(export["billed_size_bytes"].as_i64().unwrap() > 0);

    // An export into a bucket that does not exist fails after its call, with the failure's code.
    let started = stack
        .ok(
            "export_table_to_point_in_time",
            json!({
                "table_arn": table_arn,
                "s3_bucket": "no-such-bucket",
                "s3_prefix": "books",
                "export_format": "dynamodb_json",
            }),
        )
        .await;
    let failed_arn = started["export_description"]["export_arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = wait_for(
        stack,
        "describe_export",
        json!({ "export_arn": failed_arn }),
        |output| output["export_description"]["export_status"] != "in_progress",
    )
    .await;
    let export = &failed["export_description"];
    assert_eq!(export["export_status"], "failed", "{failed}");
    assert_eq!(export["failure_code"], "S3NoSuchBucket");
    assert!(export["failure_message"].is_string());

    // ListExports of the table: both, with their status.
    let listed = stack
        .ok("list_exports", json!({ "table_arn": table_arn }))
        .await;
    let mut summaries: Vec<(String, String)> = listed["export_summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|summary| {
            assert_eq!(summary["export_type"], "full_export");
            (
                summary["export_arn"].as_str().unwrap().to_owned(),
                summary["export_status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    summaries.sort();
    let mut expected = vec![
        (export_arn, "completed".to_owned()),
        (failed_arn, "failed".to_owned()),
    ];
    expected.sort();
    assert_eq!(summaries, expected, "{listed}");

    // ImportTable from the export (gzipped DynamoDB JSON), DescribeImport until it completes, then read
    // an item of the new table.
    let started = stack
        .ok(
            "import_table",
            json!({
                "s3_bucket_source": { "s3_bucket": "exports", "s3_key_prefix": "books" },
                "input_format": "dynamodb_json",
                "input_compression_type": "gzip",
                "table_creation_parameters": books_table("books-imported"),
            }),
        )
        .await;
    let import = &started["import_table_description"];
    assert!(
        import["table_arn"]
            .as_str()
            .unwrap()
            .ends_with(":table/books-imported"),
        "{started}"
    );
    let import_arn = import["import_arn"].as_str().unwrap().to_owned();
    let done = wait_for(
        stack,
        "describe_import",
        json!({ "import_arn": import_arn }),
        |output| output["import_table_description"]["import_status"] != "in_progress",
    )
    .await;
    let import = &done["import_table_description"];
    assert_eq!(import["import_status"], "completed", "{done}");
    assert_eq!(import["imported_item_count"], 3);
    assert_eq!(import["processed_item_count"], 3);
    assert_eq!(import["error_count"], 0);
    assert!(import["processed_size_bytes"].as_i64().unwrap() > 0);
    assert_eq!(
        get_book(stack, "books-imported", "Austen", 1813).await,
        book("Austen", 1813, "Pride and Prejudice")
    );
}

/// moto answers the operations it does not implement (and a few lookups of unknown ARNs, which it fails on)
/// with an HTML page and HTTP 500. The requests still go the whole way, and the answer reaches the guest as
/// the method's typed error: `AwsError` with the code `Http500` for a read (after the SDK's retries), and
/// `OutcomeUnknown` for a write, which is not resent.
async fn operations_moto_does_not_implement(stack: &Stack) {
    let unknown_arn =
        "arn:aws:dynamodb:us-east-1:123456789012:table/books/export/01234567890123456789-abcdefgh";
    let reads = [
        ("list_imports", json!({})),
        ("list_exports", json!({})),
        ("describe_export", json!({ "export_arn": unknown_arn })),
        (
            "describe_import",
            json!({ "import_arn": unknown_arn.replace("/export/", "/import/") }),
        ),
        (
            "describe_global_table",
            json!({ "global_table_name": "books" }),
        ),
        ("list_global_tables", json!({ "region_name": "us-east-1" })),
        (
            "describe_global_table_settings",
            json!({ "global_table_name": "books" }),
        ),
        (
            "describe_table_replica_auto_scaling",
            json!({ "table_name": "books" }),
        ),
    ];
    let scaling = json!({
        "minimum_units": 1,
        "maximum_units": 10,
        "scaling_policy_update": {
            "target_tracking_scaling_policy_configuration": { "target_value": 70.0 },
        },
    });
    let writes = [
        (
            "create_global_table",
            json!({ "global_table_name": "books", "replication_group": [{ "region_name": "us-east-1" }] }),
        ),
        (
            "update_global_table",
            json!({
                "global_table_name": "books",
                "replica_updates": [{ "create": { "region_name": "eu-west-1" } }, { "delete": { "region_name": "us-west-2" } }],
            }),
        ),
        (
            "update_global_table_settings",
            json!({
                "global_table_name": "books",
                "global_table_billing_mode": "provisioned",
                "global_table_provisioned_write_capacity_units": 5,
                "global_table_provisioned_write_capacity_auto_scaling_update": scaling,
                "replica_settings_update": [{
                    "region_name": "us-east-1",
                    "replica_provisioned_read_capacity_units": 5,
                    "replica_table_class": "standard_infrequent_access",
                }],
            }),
        ),
        (
            "update_table_replica_auto_scaling",
            json!({
                "table_name": "books",
                "provisioned_write_capacity_auto_scaling_update": scaling,
                "replica_updates": [{ "region_name": "us-east-1", "replica_provisioned_read_capacity_auto_scaling_update": scaling }],
            }),
        ),
    ];
    // The reads wait out the SDK's retry backoff: run them side by side.
    let answers = errors_together(stack, &reads).await;
    for ((method, _), error) in reads.iter().zip(answers) {
        let error = &error["AwsError"];
        assert_eq!(error["code"], "Http500", "{method}: {error}");
        assert_eq!(error["status"], 500, "{method}: {error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("Internal Server Error"),
            "{method}: {error}"
        );
    }
    for (method, input) in writes {
        let error = stack.error(method, input).await;
        let outcome = &error["OutcomeUnknown"];
        assert_eq!(outcome["status"], 500, "{method}: {error}");
        assert_eq!(outcome["code"], "Http500", "{method}: {error}");
    }
}

/// Calls each `(method, input)` at the same time; their errors, in order.
async fn errors_together(stack: &Stack, calls: &[(&str, Value)]) -> Vec<Value> {
    let mut pending: Vec<_> = calls
        .iter()
        .map(|(method, input)| Some(Box::pin(stack.error(method, input.clone()))))
        .collect();
    let mut answers = vec![Value::Null; calls.len()];
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, answer) in pending.iter_mut().zip(answers.iter_mut()) {
            if let Some(call) = slot {
                match call.as_mut().poll(cx) {
                    Poll::Ready(error) => {
                        *answer = error;
                        *slot = None;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    answers
}
