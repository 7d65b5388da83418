//! A todo service as a wasm function. Its items live in a DynamoDB table, reached through the DynamoDB
//! IOmod's generated guest crate. One request per run, as JSON:
//!
//! | Request | Does |
//! |---|---|
//! | `{"action": "setup"}` | creates the table (CreateTable; an existing table is fine) |
//! | `{"action": "create", "title": "Buy milk"}` | numbers the todo with an atomic counter (UpdateItem) and stores it (PutItem) |
//! | `{"action": "get", "id": "todo-1"}` | reads it (GetItem) |
//! | `{"action": "update", "id": "todo-1", "done": true}` | changes `title` and/or `done` of an existing todo (UpdateItem with a condition) |
//! | `{"action": "list"}` | every todo, page by page (Scan) |
//! | `{"action": "delete", "id": "todo-1"}` | deletes it and returns what it was (DeleteItem) |
//!
//! Every request may name its table with `"table"` (default `todos`). The answer is `{"ok": ..}` or
//! `{"error": "<why>"}`.

use std::collections::BTreeMap;

use dynamodb_guest as db;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type Item = BTreeMap<String, db::AttributeValue>;

/// The key of the item holding the last todo number.
const COUNTER: &str = "#counter";

#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Setup {
        table: Option<String>,
    },
    Create {
        table: Option<String>,
        title: String,
    },
    Get {
        table: Option<String>,
        id: String,
    },
    Update {
        table: Option<String>,
        id: String,
        title: Option<String>,
        done: Option<bool>,
    },
    List {
        table: Option<String>,
    },
    Delete {
        table: Option<String>,
        id: String,
    },
}

/// A todo as the function's callers see it.
#[derive(Serialize, Debug, PartialEq)]
struct Todo {
    id: String,
    title: String,
    done: bool,
}

impl Todo {
    fn from_item(item: &Item) -> Option<Todo> {
        let text = |name: &str| match item.get(name) {
            Some(db::AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        };
        Some(Todo {
            id: text("id")?,
            title: text("title")?,
            done: matches!(item.get("done"), Some(db::AttributeValue::Bool(true))),
        })
    }
}

/// Answers one request: `input` is the request's JSON, the result `{"ok": ..}` or `{"error": ..}` as JSON.
/// The wasm entry point runs it (see `iomod_sdk::function!` below); native tests call it directly, with a
/// DynamoDB stand-in installed through `dynamodb_guest::native`.
pub async fn handler(input: Vec<u8>) -> Vec<u8> {
    let answer = match serde_json::from_slice::<Request>(&input) {
        Ok(request) => match handle(request).await {
            Ok(value) => json!({ "ok": value }),
            Err(why) => json!({ "error": why }),
        },
        Err(e) => json!({ "error": format!("bad request: {e}") }),
    };
    serde_json::to_vec(&answer).unwrap_or_default()
}

fn table(name: Option<String>) -> String {
    name.unwrap_or_else(|| "todos".to_owned())
}

fn key(id: &str) -> Item {
    Item::from([("id".to_owned(), db::AttributeValue::S(id.to_owned()))])
}

fn names(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

async fn handle(request: Request) -> Result<Value, String> {
    match request {
        Request::Setup { table: name } => setup(table(name)).await,
        Request::Create { table: name, title } => create(table(name), title).await,
        Request::Get { table: name, id } => {
            let output = db::get_item(db::GetItemInput {
                table_name: table(name),
                key: key(&id),
                consistent_read: Some(true),
                projection_expression: None,
                expression_attribute_names: None,
                return_consumed_capacity: None,
            })
            .await
            .map_err(|e| e.to_string())?;
            match output.item.as_ref().and_then(Todo::from_item) {
                Some(todo) => Ok(json!(todo)),
                None => Err(format!("no todo {id}")),
            }
        }
        Request::Update {
            table: name,
            id,
            title,
            done,
        } => update(table(name), id, title, done).await,
        Request::List { table: name } => list(table(name)).await,
        Request::Delete { table: name, id } => {
            let result = db::delete_item(db::DeleteItemInput {
                table_name: table(name),
                key: key(&id),
                condition_expression: Some("attribute_exists(id)".to_owned()),
                expression_attribute_names: None,
                expression_attribute_values: None,
                return_values: Some(db::ReturnValue::AllOld),
                return_consumed_capacity: None,
                return_item_collection_metrics: None,
                return_values_on_condition_check_failure: None,
            })
            .await;
            match result {
                Ok(output) => {
                    Ok(json!({ "deleted": output.attributes.as_ref().and_then(Todo::from_item) }))
                }
                Err(db::DeleteItemError::ConditionalCheckFailed(_)) => Err(format!("no todo {id}")),
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

async fn setup(table_name: String) -> Result<Value, String> {
    let result = db::create_table(db::CreateTableInput {
        table_name: table_name.clone(),
        key_schema: vec![db::KeySchemaElement {
            attribute_name: "id".into(),
            key_type: db::KeyType::Hash,
        }],
        attribute_definitions: vec![db::AttributeDefinition {
            attribute_name: "id".into(),
            attribute_type: db::ScalarAttributeType::S,
        }],
        billing_mode: Some(db::BillingMode::PayPerRequest),
        provisioned_throughput: None,
        global_secondary_indexes: None,
        local_secondary_indexes: None,
        deletion_protection_enabled: None,
    })
    .await;
    match result {
        Ok(output) => Ok(json!({
            "table": table_name,
            "created": true,
            "status": output.table_description.and_then(|d| d.table_status),
        })),
        Err(db::CreateTableError::ResourceInUse(_)) => {
            Ok(json!({ "table": table_name, "created": false }))
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn create(table_name: String, title: String) -> Result<Value, String> {
    if title.trim().is_empty() {
        return Err("a todo needs a title".to_owned());
    }
    // The next number, atomically: ADD creates the counter at 0 the first time.
    let counter = db::update_item(db::UpdateItemInput {
        table_name: table_name.clone(),
        key: key(COUNTER),
        update_expression: Some("ADD #seq :one".to_owned()),
        condition_expression: None,
        expression_attribute_names: names(&[("#seq", "seq")]),
        expression_attribute_values: Some(Item::from([(
            ":one".to_owned(),
            db::AttributeValue::N("1".into()),
        )])),
        return_values: Some(db::ReturnValue::UpdatedNew),
        return_consumed_capacity: None,
        return_item_collection_metrics: None,
        return_values_on_condition_check_failure: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    let number = match counter.attributes.as_ref().and_then(|a| a.get("seq")) {
        Some(db::AttributeValue::N(n)) => n.clone(),
        other => return Err(format!("the counter holds {other:?}")),
    };
    let todo = Todo {
        id: format!("todo-{number}"),
        title,
        done: false,
    };
    let mut item = key(&todo.id);
    item.insert("title".into(), db::AttributeValue::S(todo.title.clone()));
    item.insert("done".into(), db::AttributeValue::Bool(false));
    item.insert("number".into(), db::AttributeValue::N(number));
    db::put_item(db::PutItemInput {
        table_name,
        item,
        condition_expression: Some("attribute_not_exists(id)".to_owned()),
        expression_attribute_names: None,
        expression_attribute_values: None,
        return_values: None,
        return_consumed_capacity: None,
        return_item_collection_metrics: None,
        return_values_on_condition_check_failure: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(json!(todo))
}

async fn update(
    table_name: String,
    id: String,
    title: Option<String>,
    done: Option<bool>,
) -> Result<Value, String> {
    let mut sets = Vec::new();
    let mut values = Item::new();
    if let Some(title) = title {
        sets.push("title = :title");
        values.insert(":title".into(), db::AttributeValue::S(title));
    }
    if let Some(done) = done {
        sets.push("done = :done");
        values.insert(":done".into(), db::AttributeValue::Bool(done));
    }
    if sets.is_empty() {
        return Err("nothing to update: give `title` and/or `done`".to_owned());
    }
    let result = db::update_item(db::UpdateItemInput {
        table_name,
        key: key(&id),
        update_expression: Some(format!("SET {}", sets.join(", "))),
        condition_expression: Some("attribute_exists(id)".to_owned()),
        expression_attribute_names: None,
        expression_attribute_values: Some(values),
        return_values: Some(db::ReturnValue::AllNew),
        return_consumed_capacity: None,
        return_item_collection_metrics: None,
        return_values_on_condition_check_failure: None,
    })
    .await;
    match result {
        Ok(output) => Ok(json!(output.attributes.as_ref().and_then(Todo::from_item))),
        Err(db::UpdateItemError::ConditionalCheckFailed(_)) => Err(format!("no todo {id}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn list(table_name: String) -> Result<Value, String> {
    let mut todos = Vec::new();
    let mut numbers = Vec::new();
    let mut start = None;
    loop {
        let page = db::scan(db::ScanInput {
            table_name: table_name.clone(),
            index_name: None,
            filter_expression: Some("id <> :counter".to_owned()),
            projection_expression: None,
            expression_attribute_names: None,
            expression_attribute_values: Some(Item::from([(
                ":counter".to_owned(),
                db::AttributeValue::S(COUNTER.to_owned()),
            )])),
            select: None,
            limit: Some(25),
            consistent_read: Some(true),
            segment: None,
            total_segments: None,
            exclusive_start_key: start.take(),
            return_consumed_capacity: None,
        })
        .await
        .map_err(|e| e.to_string())?;
        for item in &page.items {
            if let Some(todo) = Todo::from_item(item) {
                let number = match item.get("number") {
                    Some(db::AttributeValue::N(n)) => n.parse::<u64>().unwrap_or(u64::MAX),
                    _ => u64::MAX,
                };
                numbers.push(number);
                todos.push(todo);
            }
        }
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => break,
        }
    }
    let mut numbered: Vec<(u64, Todo)> = numbers.into_iter().zip(todos).collect();
    numbered.sort_by_key(|(n, _)| *n);
    Ok(json!(
        numbered
            .into_iter()
            .map(|(_, todo)| todo)
            .collect::<Vec<_>>()
    ))
}

iomod_sdk::function!(handler);
