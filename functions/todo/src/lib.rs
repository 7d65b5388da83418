//! A todo service as a wasm function. Its items live in a DynamoDB table, reached through the DynamoDB
//! IOmod's generated guest crate. One request per run, as JSON:
//!
//! | Request | Does |
//! |---|---|
//! | `{"action": "setup"}` | creates the table (CreateTable) and waits until it is usable (DescribeTable): `{"table", "created", "status"}`; an existing table is fine (`created: false`), one being deleted is an error |
//! | `{"action": "create", "title": "Buy milk"}` | numbers the todo with an atomic counter (UpdateItem `ADD`) and stores it once (PutItem with a condition; a write whose answer was lost is read back) |
//! | `{"action": "get", "id": "todo-1"}` | reads it (GetItem) |
//! | `{"action": "update", "id": "todo-1", "done": true}` | changes `title` and/or `done` of an existing todo (UpdateItem with a condition) |
//! | `{"action": "list", "limit": 25, "next": ".."}` | one page of todos (Scan): `{"todos": [..], "next": <token or null>}` |
//! | `{"action": "delete", "id": "todo-1"}` | deletes it and returns what it was (DeleteItem with a condition) |
//!
//! Every request may name its table with `"table"` (default `todos`). The answer is `{"ok": ..}` or
//! `{"error": "<why>"}`.
//!
//! **Ids.** `create` names todos `todo-<n>`, `n` counting up from 1. `get`, `update` and `delete` accept
//! only such ids, so no request reaches the counter's item (`#counter`) or anything else in the table.
//!
//! **Pages.** `list` answers at most `limit` todos (default 25, at most 100) and a `next` token while more
//! may follow; pass it back as `next` for the following page. The token is opaque, and anything that
//! cannot be one is refused. Pages follow the table's Scan order, which DynamoDB leaves arbitrary
//! (the order of the key's hashes, not of numbers or of creation); within a page the todos are sorted by
//! number. Todos created or deleted while paging may or may not appear.

#![allow(
    clippy::needless_update,
    reason = "literals of generated types end in `..Default::default()` even when they name every field, so \
              that a field added to the manifest later leaves them compiling"
)]

use std::collections::BTreeMap;

use dynamodb_guest as db;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type Item = BTreeMap<String, db::AttributeValue>;

/// The key of the item holding the last todo number.
const COUNTER: &str = "#counter";
/// What every todo id starts with; a positive number follows.
const ID_PREFIX: &str = "todo-";
/// Todos per `list` page when the request gives no `limit`.
const DEFAULT_PAGE: u32 = 25;
/// The largest `limit` a `list` request may give.
const MAX_PAGE: u32 = 100;
/// DescribeTable calls `setup` makes while a new table is not yet usable. The guest has no timer to
/// sleep with, so the wait is bounded by calls, each a round trip to DynamoDB.
const STATUS_CHECKS: u32 = 50;
/// Times `create` asks the counter for a number, or sends its PutItem, when the answer was lost.
const WRITE_ATTEMPTS: u32 = 3;

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
        limit: Option<u32>,
        next: Option<String>,
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
    /// The todo an item holds; `None` for any other item (the counter, say).
    fn from_item(item: &Item) -> Option<Todo> {
        let text = |name: &str| match item.get(name) {
            Some(db::AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        };
        let id = text("id")?;
        number(&id)?;
        Some(Todo {
            id,
            title: text("title")?,
            done: matches!(item.get("done"), Some(db::AttributeValue::Bool(true))),
        })
    }

    fn to_item(&self, number: u64) -> Item {
        let mut item = key(&self.id);
        item.insert("title".into(), db::AttributeValue::S(self.title.clone()));
        item.insert("done".into(), db::AttributeValue::Bool(self.done));
        item.insert("number".into(), db::AttributeValue::N(number.to_string()));
        item
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

async fn handle(request: Request) -> Result<Value, String> {
    match request {
        Request::Setup { table: name } => setup(table(name)).await,
        Request::Create { table: name, title } => create(table(name), title).await,
        Request::Get { table: name, id } => {
            checked_id(&id)?;
            match get(table(name), &id)
                .await?
                .as_ref()
                .and_then(Todo::from_item)
            {
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
        Request::List {
            table: name,
            limit,
            next,
        } => list(table(name), limit, next).await,
        Request::Delete { table: name, id } => delete(table(name), id).await,
    }
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

/// The number of a todo id `create` could have made (`todo-1`, `todo-2`, ..: no sign, no leading zero).
fn number(id: &str) -> Option<u64> {
    let digits = id.strip_prefix(ID_PREFIX)?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn checked_id(id: &str) -> Result<u64, String> {
    number(id).ok_or_else(|| {
        format!("bad id `{id}`: todo ids are `{ID_PREFIX}` and a positive number, such as `todo-1`")
    })
}

/// The item under `id`, read consistently (so a write that was answered is seen).
async fn get(table_name: String, id: &str) -> Result<Option<Item>, String> {
    let output = db::get_item(db::GetItemInput {
        table_name,
        key: key(id),
        consistent_read: Some(true),
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(output.item)
}

async fn setup(table_name: String) -> Result<Value, String> {
    let mut attempts = 0;
    let (created, status) = loop {
        attempts += 1;
        let result = db::create_table(db::CreateTableInput {
            table_name: table_name.clone(),
            key_schema: vec![db::KeySchemaElement {
                attribute_name: "id".into(),
                key_type: db::KeyType::Hash,
                ..Default::default()
            }],
            attribute_definitions: vec![db::AttributeDefinition {
                attribute_name: "id".into(),
                attribute_type: db::ScalarAttributeType::S,
                ..Default::default()
            }],
            billing_mode: Some(db::BillingMode::PayPerRequest),
            ..Default::default()
        })
        .await;
        match result {
            Ok(output) => break (true, output.table_description.and_then(|d| d.table_status)),
            // The table exists, or is being created, updated or deleted: DescribeTable tells which.
            Err(db::CreateTableError::ResourceInUse(_)) => break (false, None),
            // Sending CreateTable again is safe: if the lost one created the table, this one answers
            // ResourceInUse (and `created` is then false for a table this setup made).
            Err(db::CreateTableError::OutcomeUnknown(_)) if attempts < WRITE_ATTEMPTS => continue,
            Err(e) => return Err(e.to_string()),
        }
    };
    let status = wait_until_usable(&table_name, created, status).await?;
    Ok(json!({ "table": table_name, "created": created, "status": status }))
}

/// Waits, with at most [`STATUS_CHECKS`] DescribeTable calls, until the table takes reads and writes:
/// ACTIVE, or UPDATING (a table being changed still serves them). `status` is the one CreateTable answered
/// (`None`: ask). A table being deleted is an error straight away.
async fn wait_until_usable(
    table_name: &str,
    created: bool,
    mut status: Option<db::TableStatus>,
) -> Result<db::TableStatus, String> {
    let mut checks = 0;
    loop {
        match status {
            Some(usable @ (db::TableStatus::Active | db::TableStatus::Updating)) => {
                return Ok(usable);
            }
            Some(db::TableStatus::Deleting) => return Err(being_deleted(table_name)),
            Some(db::TableStatus::Creating) | None => {}
            Some(other) => {
                return Err(format!(
                    "the table `{table_name}` cannot be used: its status is {}",
                    json!(other)
                ));
            }
        }
        if checks == STATUS_CHECKS {
            return Err(format!(
                "the table `{table_name}` is still being created after {STATUS_CHECKS} checks: \
                 run setup again in a few seconds"
            ));
        }
        checks += 1;
        let described = db::describe_table(db::DescribeTableInput {
            table_name: table_name.to_owned(),
            ..Default::default()
        })
        .await;
        status = match described {
            Ok(output) => output.table.and_then(|t| t.table_status),
            // Right after CreateTable, DescribeTable may not see the new table yet: ask again.
            Err(db::DescribeTableError::ResourceNotFound(_)) if created => None,
            // CreateTable found the table in use and now it is gone: it was being deleted.
            Err(db::DescribeTableError::ResourceNotFound(_)) => {
                return Err(being_deleted(table_name));
            }
            Err(e) => return Err(e.to_string()),
        };
    }
}

fn being_deleted(table_name: &str) -> String {
    format!("the table `{table_name}` is being deleted: run setup again once it is gone")
}

async fn create(table_name: String, title: String) -> Result<Value, String> {
    if title.trim().is_empty() {
        return Err("a todo needs a title".to_owned());
    }
    let number = next_number(&table_name).await?;
    let todo = Todo {
        id: format!("{ID_PREFIX}{number}"),
        title,
        done: false,
    };
    store_new(&table_name, &todo.id, &todo.to_item(number)).await?;
    Ok(json!(todo))
}

/// The next todo number, atomically: ADD creates the counter at 0 the first time.
///
/// An `OutcomeUnknown` answer (the ADD was sent, its answer lost) leaves the counter either as it was or
/// one higher, and nobody holds the number it may have handed out. Asking again gives a number no other
/// create got, so a lost answer costs at most a gap in the numbering; ids need not be contiguous.
async fn next_number(table_name: &str) -> Result<u64, String> {
    let mut attempts = 0;
    let counter = loop {
        attempts += 1;
        let result = db::update_item(db::UpdateItemInput {
            table_name: table_name.to_owned(),
            key: key(COUNTER),
            update_expression: Some("ADD #seq :one".to_owned()),
            expression_attribute_names: names(&[("#seq", "seq")]),
            expression_attribute_values: Some(Item::from([(
                ":one".to_owned(),
                db::AttributeValue::N("1".into()),
            )])),
            return_values: Some(db::ReturnValue::UpdatedNew),
            ..Default::default()
        })
        .await;
        match result {
            Ok(output) => break output,
            Err(db::UpdateItemError::OutcomeUnknown(_)) if attempts < WRITE_ATTEMPTS => continue,
            Err(e) => return Err(e.to_string()),
        }
    };
    match counter.attributes.as_ref().and_then(|a| a.get("seq")) {
        Some(db::AttributeValue::N(n)) => match n.parse::<u64>() {
            Ok(number) if number > 0 => Ok(number),
            _ => Err(format!(
                "the counter holds {n}, not a positive whole number"
            )),
        },
        other => Err(format!("the counter holds {other:?}")),
    }
}

/// Stores a new todo's item exactly once. The PutItem's condition keeps it from replacing anything, so it
/// can be sent again safely. When it answers `OutcomeUnknown` (sent, answer lost), or a condition failure
/// (perhaps on a lost earlier attempt's own write), the item is read back: ours is there, so it was
/// stored; nothing is there, so it was not, and it is sent again; something else is there, so the id is
/// taken.
async fn store_new(table_name: &str, id: &str, item: &Item) -> Result<(), String> {
    for _ in 0..WRITE_ATTEMPTS {
        let result = db::put_item(db::PutItemInput {
            table_name: table_name.to_owned(),
            item: item.clone(),
            condition_expression: Some("attribute_not_exists(id)".to_owned()),
            ..Default::default()
        })
        .await;
        match result {
            Ok(_) => return Ok(()),
            Err(
                db::PutItemError::OutcomeUnknown(_) | db::PutItemError::ConditionalCheckFailed(_),
            ) => match get(table_name.to_owned(), id).await? {
                Some(stored) if stored == *item => return Ok(()),
                Some(_) => {
                    return Err(format!(
                        "{id} is taken by another item: the counter `{COUNTER}` is behind"
                    ));
                }
                None => continue,
            },
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!(
        "{id} was not stored: the answers to {WRITE_ATTEMPTS} attempts were lost"
    ))
}

async fn update(
    table_name: String,
    id: String,
    title: Option<String>,
    done: Option<bool>,
) -> Result<Value, String> {
    checked_id(&id)?;
    let mut sets = Vec::new();
    let mut values = Item::new();
    if let Some(title) = title {
        if title.trim().is_empty() {
            return Err("a todo needs a title".to_owned());
        }
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
        expression_attribute_values: Some(values),
        return_values: Some(db::ReturnValue::AllNew),
        // SET gives the same item however often it is applied, and the condition still holds after the
        // write's own first effect: the IOmod may send it again when an answer is lost.
        resend: Some(true),
        ..Default::default()
    })
    .await;
    match result {
        Ok(output) => Ok(json!(output.attributes.as_ref().and_then(Todo::from_item))),
        Err(db::UpdateItemError::ConditionalCheckFailed(_)) => Err(format!("no todo {id}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn delete(table_name: String, id: String) -> Result<Value, String> {
    checked_id(&id)?;
    // Not sent again after a lost answer: a second DeleteItem would find nothing and fail its condition,
    // hiding the first one's success.
    let result = db::delete_item(db::DeleteItemInput {
        table_name,
        key: key(&id),
        condition_expression: Some("attribute_exists(id)".to_owned()),
        return_values: Some(db::ReturnValue::AllOld),
        ..Default::default()
    })
    .await;
    match result {
        Ok(output) => {
            Ok(json!({ "deleted": output.attributes.as_ref().and_then(Todo::from_item) }))
        }
        Err(db::DeleteItemError::ConditionalCheckFailed(_)) => Err(format!("no todo {id}")),
        Err(db::DeleteItemError::OutcomeUnknown(_)) => Err(format!(
            "the answer to deleting {id} was lost: it may or may not be deleted; get it to find out"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// One page of todos. The Scan reads one item more than the page still needs, so a page that fills up
/// knows whether more follow; `next` is then the last todo of the page in Scan order, where the following
/// page starts (DynamoDB's `ExclusiveStartKey`).
async fn list(
    table_name: String,
    limit: Option<u32>,
    next: Option<String>,
) -> Result<Value, String> {
    let wanted = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&wanted) {
        return Err(format!(
            "bad limit {wanted}: a page holds 1 to {MAX_PAGE} todos"
        ));
    }
    let wanted = wanted as usize;
    let mut start = match next {
        Some(token) if number(&token).is_some() => Some(key(&token)),
        Some(token) => {
            return Err(format!(
                "bad next token `{token}`: pass the `next` of the previous page"
            ));
        }
        None => None,
    };
    let mut todos = Vec::new();
    let next = loop {
        let page = db::scan(db::ScanInput {
            table_name: table_name.clone(),
            filter_expression: Some("id <> :counter".to_owned()),
            expression_attribute_values: Some(Item::from([(
                ":counter".to_owned(),
                db::AttributeValue::S(COUNTER.to_owned()),
            )])),
            // Limit counts the items read, before the filter drops the counter.
            limit: Some((wanted - todos.len() + 1) as i32),
            consistent_read: Some(true),
            exclusive_start_key: start.take(),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        todos.extend(page.items.iter().filter_map(Todo::from_item));
        if todos.len() > wanted {
            todos.truncate(wanted);
            break todos.last().map(|todo| todo.id.clone());
        }
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => break None,
        }
    };
    todos.sort_by_key(|todo| number(&todo.id));
    Ok(json!({ "todos": todos, "next": next }))
}

iomod_sdk::function!(handler);
