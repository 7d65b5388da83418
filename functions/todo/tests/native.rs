//! Native tests of the todo function: `handler` runs in this process, JSON in and out, and its DynamoDB
//! calls, made through the generated guest crate, reach `InMemoryDynamoDb`, a stand-in installed on the
//! test's thread with `dynamodb_guest::native::install`.
//!
//! The stand-in carries out exactly the operations and expressions the function uses. Any other expression
//! or option it refuses with a `Failed` error that names it, so a change in the function surfaces here
//! instead of passing against a model that does not know it. What DynamoDB itself rejects (a key that does
//! not match the table, an undefined or unused placeholder) it rejects with `Validation`, as DynamoDB does.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::rc::Rc;

use dynamodb_guest::{self as db, AttributeValue, native};
use iomod_sdk::{Error, ErrorCode};
use serde_json::{Value, json};

type Item = BTreeMap<String, AttributeValue>;

/// DynamoDB in memory: tables of items keyed by their string `id`. Clones share the tables, so a test keeps
/// one clone to look inside while the installed one answers the function.
#[derive(Clone, Default)]
struct InMemoryDynamoDb {
    state: Rc<RefCell<State>>,
}

#[derive(Default)]
struct State {
    /// Table name → `id` → item. Scans walk a table in `id` order (`todo-1`, `todo-10`, `todo-11`, ..).
    tables: BTreeMap<String, BTreeMap<String, Item>>,
    /// The methods called, in order.
    calls: Vec<&'static str>,
}

impl InMemoryDynamoDb {
    /// A new stand-in, installed for every DynamoDB method on the current thread.
    fn install() -> Self {
        let dynamodb = Self::default();
        native::install(dynamodb.clone());
        dynamodb
    }

    fn tables(&self) -> Vec<String> {
        self.state.borrow().tables.keys().cloned().collect()
    }

    /// The stored item, as DynamoDB JSON (`{"id": {"s": "todo-1"}, ..}`).
    fn item(&self, table: &str, id: &str) -> Option<Value> {
        let state = self.state.borrow();
        let item = state.tables.get(table)?.get(id)?;
        Some(serde_json::to_value(item).expect("an item is JSON"))
    }

    fn count(&self, method: &str) -> usize {
        self.state
            .borrow()
            .calls
            .iter()
            .filter(|&&m| m == method)
            .count()
    }
}

/// Why the stand-in does not carry out a request.
enum Fault {
    /// DynamoDB would reject it: answered as the method's `Validation` error.
    Validation(String),
    /// The stand-in does not know what it asks for: answered as `Failed` (`internal`).
    Unknown(String),
}

fn unknown(what: &str, text: &str) -> Fault {
    Fault::Unknown(format!(
        "the in-memory DynamoDB of the todo tests does not know {what} `{text}`"
    ))
}

macro_rules! fault_into {
    ($($error:ident),*) => {$(
        impl From<Fault> for db::$error {
            fn from(fault: Fault) -> Self {
                match fault {
                    Fault::Validation(message) => Self::Validation(db::Validation { message }),
                    Fault::Unknown(message) => Self::Failed(Error::new(ErrorCode::Internal, message)),
                }
            }
        }
    )*};
}

fault_into!(
    CreateTableError,
    GetItemError,
    PutItemError,
    UpdateItemError,
    DeleteItemError,
    ScanError
);

fn no_table(table: &str) -> db::ResourceNotFound {
    db::ResourceNotFound {
        message: format!("Requested resource not found: Table: {table} not found"),
    }
}

fn condition_failed() -> db::ConditionalCheckFailed {
    db::ConditionalCheckFailed {
        message: "The conditional request failed".to_owned(),
        item: None,
    }
}

/// The `id` of a key, which must be the table's whole key.
fn key_id(key: &Item) -> Result<String, Fault> {
    match key.get("id") {
        Some(AttributeValue::S(id)) if key.len() == 1 && !id.is_empty() => Ok(id.clone()),
        _ => Err(Fault::Validation(
            "The provided key element does not match the schema".to_owned(),
        )),
    }
}

/// The placeholders of one request: resolves `#name`s and `:value`s and checks, as DynamoDB does, that each
/// one given is used and each one used is given.
struct Placeholders<'a> {
    names: Option<&'a BTreeMap<String, String>>,
    values: Option<&'a Item>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl<'a> Placeholders<'a> {
    fn new(names: Option<&'a BTreeMap<String, String>>, values: Option<&'a Item>) -> Self {
        Placeholders {
            names,
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        }
    }

    /// The attribute a path token names: `#name` through the names, or a plain top-level attribute.
    fn path(&mut self, token: &str) -> Result<String, Fault> {
        if let Some(name) = token.strip_prefix('#') {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(unknown("the attribute path", token));
            }
            self.used_names.insert(token.to_owned());
            return self
                .names
                .and_then(|names| names.get(token))
                .cloned()
                .ok_or_else(|| {
                    Fault::Validation(format!(
                        "An expression attribute name used in the document path is not defined; \
                         attribute name: {token}"
                    ))
                });
        }
        let mut chars = token.chars();
        let plain = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            Ok(token.to_owned())
        } else {
            Err(unknown("the attribute path", token))
        }
    }

    /// The value a `:value` token stands for.
    fn value(&mut self, token: &str) -> Result<AttributeValue, Fault> {
        let name = token.strip_prefix(':').unwrap_or_default();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(unknown("the operand", token));
        }
        self.used_values.insert(token.to_owned());
        self.values
            .and_then(|values| values.get(token))
            .cloned()
            .ok_or_else(|| {
                Fault::Validation(format!(
                    "An expression attribute value used in expression is not defined; \
                     attribute value: {token}"
                ))
            })
    }

    /// Fails when a name or value was given but no expression used it.
    fn finish(self) -> Result<(), Fault> {
        if let Some(keys) = unused(self.names, &self.used_names) {
            return Err(Fault::Validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {keys}"
            )));
        }
        if let Some(keys) = unused(self.values, &self.used_values) {
            return Err(Fault::Validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {keys}"
            )));
        }
        Ok(())
    }
}

/// The keys of `given` missing from `used`, as DynamoDB lists them (`{#a, #b}`), if there are any.
fn unused<V>(given: Option<&BTreeMap<String, V>>, used: &BTreeSet<String>) -> Option<String> {
    let unused: Vec<&str> = given
        .into_iter()
        .flat_map(BTreeMap::keys)
        .filter(|key| !used.contains(*key))
        .map(String::as_str)
        .collect();
    (!unused.is_empty()).then(|| format!("{{{}}}", unused.join(", ")))
}

/// A condition the stand-in knows: `attribute_exists(path)` or `attribute_not_exists(path)`.
struct Condition {
    attribute: String,
    exists: bool,
}

impl Condition {
    fn parse(expression: &str, placeholders: &mut Placeholders<'_>) -> Result<Self, Fault> {
        let call = |function: &str| {
            expression
                .trim()
                .strip_prefix(function)
                .and_then(|rest| rest.strip_prefix('('))
                .and_then(|rest| rest.strip_suffix(')'))
                .map(str::trim)
        };
        let (token, exists) = match (call("attribute_exists"), call("attribute_not_exists")) {
            (Some(token), _) => (token, true),
            (_, Some(token)) => (token, false),
            _ => return Err(unknown("the condition expression", expression)),
        };
        Ok(Condition {
            attribute: placeholders.path(token)?,
            exists,
        })
    }

    /// Whether the condition holds for the item as it is now (`None`: there is none).
    fn holds(&self, item: Option<&Item>) -> bool {
        item.is_some_and(|item| item.contains_key(&self.attribute)) == self.exists
    }
}

fn condition(
    expression: Option<&str>,
    placeholders: &mut Placeholders<'_>,
) -> Result<Option<Condition>, Fault> {
    expression
        .map(|expression| Condition::parse(expression, placeholders))
        .transpose()
}

/// An update the stand-in knows: `SET a = :a, b = :b` or `ADD a :n` (a number).
enum Update {
    Set(Vec<(String, AttributeValue)>),
    Add(String, AttributeValue),
}

impl Update {
    fn parse(expression: &str, placeholders: &mut Placeholders<'_>) -> Result<Self, Fault> {
        let refuse = || unknown("the update expression", expression);
        let (action, rest) = expression.trim().split_once(' ').ok_or_else(refuse)?;
        match action {
            "SET" => {
                let mut assignments = Vec::new();
                for assignment in rest.split(',') {
                    let (path, value) = assignment.split_once('=').ok_or_else(refuse)?;
                    let (path, value) = (path.trim(), value.trim());
                    if path.contains(' ') || value.contains(' ') {
                        return Err(refuse());
                    }
                    assignments.push((placeholders.path(path)?, placeholders.value(value)?));
                }
                Ok(Update::Set(assignments))
            }
            "ADD" => match rest.split_whitespace().collect::<Vec<_>>()[..] {
                [path, value] => Ok(Update::Add(
                    placeholders.path(path)?,
                    placeholders.value(value)?,
                )),
                _ => Err(refuse()),
            },
            _ => Err(refuse()),
        }
    }

    fn attributes(&self) -> Vec<&str> {
        match self {
            Update::Set(assignments) => assignments.iter().map(|(a, _)| a.as_str()).collect(),
            Update::Add(attribute, _) => vec![attribute.as_str()],
        }
    }

    fn apply(&self, item: &mut Item) -> Result<(), Fault> {
        if self.attributes().contains(&"id") {
            return Err(Fault::Validation(
                "Cannot update attribute id. This attribute is part of the key".to_owned(),
            ));
        }
        match self {
            Update::Set(assignments) => {
                for (attribute, value) in assignments {
                    item.insert(attribute.clone(), value.clone());
                }
            }
            Update::Add(attribute, AttributeValue::N(n)) => {
                let number = |text: &str| {
                    text.parse::<i128>()
                        .map_err(|_| unknown("the non-integer number", text))
                };
                let sum = match item.get(attribute) {
                    None => number(n)?,
                    Some(AttributeValue::N(old)) => number(old)? + number(n)?,
                    Some(_) => return Err(incorrect_operand()),
                };
                item.insert(attribute.clone(), AttributeValue::N(sum.to_string()));
            }
            Update::Add(..) => return Err(incorrect_operand()),
        }
        Ok(())
    }
}

fn incorrect_operand() -> Fault {
    Fault::Validation("An operand in the update expression has an incorrect data type".to_owned())
}

/// A scan filter the stand-in knows: `path <> :value`.
struct Filter {
    attribute: String,
    value: AttributeValue,
}

impl Filter {
    fn parse(expression: &str, placeholders: &mut Placeholders<'_>) -> Result<Self, Fault> {
        match expression.split_whitespace().collect::<Vec<_>>()[..] {
            [path, "<>", value] => Ok(Filter {
                attribute: placeholders.path(path)?,
                value: placeholders.value(value)?,
            }),
            _ => Err(unknown("the filter expression", expression)),
        }
    }

    fn keeps(&self, item: &Item) -> bool {
        item.get(&self.attribute)
            .is_some_and(|value| *value != self.value)
    }
}

/// `ReturnValues` of PutItem and DeleteItem: the old item, or nothing.
fn old_item(
    return_values: Option<db::ReturnValue>,
    old: Option<Item>,
) -> Result<Option<Item>, Fault> {
    match return_values {
        None | Some(db::ReturnValue::None) => Ok(None),
        Some(db::ReturnValue::AllOld) => Ok(old),
        Some(other) => Err(Fault::Validation(format!(
            "ReturnValues can only be ALL_OLD or NONE, not {other:?}"
        ))),
    }
}

impl native::Dynamodb for InMemoryDynamoDb {
    async fn create_table(
        &self,
        input: db::CreateTableInput,
    ) -> Result<db::CreateTableOutput, db::CreateTableError> {
        let mut state = self.state.borrow_mut();
        state.calls.push("create_table");
        let id_key = vec![db::KeySchemaElement {
            attribute_name: "id".into(),
            key_type: db::KeyType::Hash,
        }];
        let id_attribute = vec![db::AttributeDefinition {
            attribute_name: "id".into(),
            attribute_type: db::ScalarAttributeType::S,
        }];
        if input.key_schema != id_key {
            return Err(unknown("the key schema", &format!("{:?}", input.key_schema)).into());
        }
        if input.attribute_definitions != id_attribute {
            let definitions = format!("{:?}", input.attribute_definitions);
            return Err(unknown("the attribute definitions", &definitions).into());
        }
        if input.global_secondary_indexes.is_some() || input.local_secondary_indexes.is_some() {
            return Err(unknown("secondary indexes on", &input.table_name).into());
        }
        if state.tables.contains_key(&input.table_name) {
            return Err(db::CreateTableError::ResourceInUse(db::ResourceInUse {
                message: format!("Table already exists: {}", input.table_name),
            }));
        }
        state
            .tables
            .insert(input.table_name.clone(), BTreeMap::new());
        Ok(db::CreateTableOutput {
            table_description: Some(db::TableDescription {
                table_name: Some(input.table_name),
                table_arn: None,
                table_id: None,
                table_status: Some(db::TableStatus::Active),
                creation_date_time: None,
                key_schema: Some(input.key_schema),
                attribute_definitions: Some(input.attribute_definitions),
                provisioned_throughput: None,
                billing_mode_summary: None,
                table_size_bytes: Some(0),
                item_count: Some(0),
                global_secondary_indexes: None,
                local_secondary_indexes: None,
                deletion_protection_enabled: input.deletion_protection_enabled,
            }),
        })
    }

    async fn get_item(
        &self,
        input: db::GetItemInput,
    ) -> Result<db::GetItemOutput, db::GetItemError> {
        let mut state = self.state.borrow_mut();
        state.calls.push("get_item");
        if let Some(projection) = &input.projection_expression {
            return Err(unknown("the projection expression", projection).into());
        }
        let id = key_id(&input.key)?;
        Placeholders::new(input.expression_attribute_names.as_ref(), None).finish()?;
        let table = state
            .tables
            .get(&input.table_name)
            .ok_or_else(|| db::GetItemError::ResourceNotFound(no_table(&input.table_name)))?;
        Ok(db::GetItemOutput {
            item: table.get(&id).cloned(),
            consumed_capacity: None,
        })
    }

    async fn put_item(
        &self,
        input: db::PutItemInput,
    ) -> Result<db::PutItemOutput, db::PutItemError> {
        let mut state = self.state.borrow_mut();
        state.calls.push("put_item");
        let Some(AttributeValue::S(id)) = input.item.get("id").cloned() else {
            return Err(Fault::Validation(
                "One or more parameter values were invalid: Missing the key id in the item"
                    .to_owned(),
            )
            .into());
        };
        let mut placeholders = Placeholders::new(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
        );
        let condition = condition(input.condition_expression.as_deref(), &mut placeholders)?;
        placeholders.finish()?;
        let table = state
            .tables
            .get_mut(&input.table_name)
            .ok_or_else(|| db::PutItemError::ResourceNotFound(no_table(&input.table_name)))?;
        if condition.is_some_and(|c| !c.holds(table.get(&id))) {
            return Err(db::PutItemError::ConditionalCheckFailed(condition_failed()));
        }
        let old = table.insert(id, input.item);
        Ok(db::PutItemOutput {
            attributes: old_item(input.return_values, old)?,
            consumed_capacity: None,
            item_collection_metrics: None,
        })
    }

    async fn update_item(
        &self,
        input: db::UpdateItemInput,
    ) -> Result<db::UpdateItemOutput, db::UpdateItemError> {
        let mut state = self.state.borrow_mut();
        state.calls.push("update_item");
        let id = key_id(&input.key)?;
        let mut placeholders = Placeholders::new(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
        );
        let Some(expression) = &input.update_expression else {
            return Err(unknown("an UpdateItem without", "UpdateExpression").into());
        };
        let update = Update::parse(expression, &mut placeholders)?;
        let condition = condition(input.condition_expression.as_deref(), &mut placeholders)?;
        placeholders.finish()?;
        let table = state
            .tables
            .get_mut(&input.table_name)
            .ok_or_else(|| db::UpdateItemError::ResourceNotFound(no_table(&input.table_name)))?;
        let old = table.get(&id).cloned();
        if condition.is_some_and(|c| !c.holds(old.as_ref())) {
            return Err(db::UpdateItemError::ConditionalCheckFailed(
                condition_failed(),
            ));
        }
        // UpdateItem creates the item when there is none.
        let mut new = old.clone().unwrap_or_else(|| input.key.clone());
        update.apply(&mut new)?;
        let updated = |item: &Item| -> Item {
            update
                .attributes()
                .into_iter()
                .filter_map(|a| Some((a.to_owned(), item.get(a)?.clone())))
                .collect()
        };
        let attributes = match input.return_values {
            None | Some(db::ReturnValue::None) => None,
            Some(db::ReturnValue::AllOld) => old,
            Some(db::ReturnValue::UpdatedOld) => old.as_ref().map(updated),
            Some(db::ReturnValue::AllNew) => Some(new.clone()),
            Some(db::ReturnValue::UpdatedNew) => Some(updated(&new)),
        };
        table.insert(id, new);
        Ok(db::UpdateItemOutput {
            attributes,
            consumed_capacity: None,
            item_collection_metrics: None,
        })
    }

    async fn delete_item(
        &self,
        input: db::DeleteItemInput,
    ) -> Result<db::DeleteItemOutput, db::DeleteItemError> {
        let mut state = self.state.borrow_mut();
        state.calls.push("delete_item");
        let id = key_id(&input.key)?;
        let mut placeholders = Placeholders::new(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
        );
        let condition = condition(input.condition_expression.as_deref(), &mut placeholders)?;
        placeholders.finish()?;
        let table = state
            .tables
            .get_mut(&input.table_name)
            .ok_or_else(|| db::DeleteItemError::ResourceNotFound(no_table(&input.table_name)))?;
        if condition.is_some_and(|c| !c.holds(table.get(&id))) {
            return Err(db::DeleteItemError::ConditionalCheckFailed(
                condition_failed(),
            ));
        }
        let old = table.remove(&id);
        Ok(db::DeleteItemOutput {
            attributes: old_item(input.return_values, old)?,
            consumed_capacity: None,
            item_collection_metrics: None,
        })
    }

    /// Walks the table in `id` order from after `ExclusiveStartKey`. `Limit` caps the items read before the
    /// filter, and a page that reached it ends with `LastEvaluatedKey`, as in DynamoDB.
    async fn scan(&self, input: db::ScanInput) -> Result<db::ScanOutput, db::ScanError> {
        let mut state = self.state.borrow_mut();
        state.calls.push("scan");
        if let Some(index) = &input.index_name {
            return Err(unknown("the index", index).into());
        }
        if let Some(projection) = &input.projection_expression {
            return Err(unknown("the projection expression", projection).into());
        }
        if input.select.is_some() || input.segment.is_some() || input.total_segments.is_some() {
            return Err(unknown("a scan with", "Select, Segment or TotalSegments").into());
        }
        let limit = match input.limit {
            None => usize::MAX,
            Some(limit) if limit >= 1 => limit as usize,
            Some(limit) => {
                return Err(Fault::Validation(format!(
                    "Limit must be greater than or equal to 1, not {limit}"
                ))
                .into());
            }
        };
        let start = match &input.exclusive_start_key {
            Some(key) => Bound::Excluded(key_id(key)?),
            None => Bound::Unbounded,
        };
        let mut placeholders = Placeholders::new(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
        );
        let filter = input
            .filter_expression
            .as_deref()
            .map(|expression| Filter::parse(expression, &mut placeholders))
            .transpose()?;
        placeholders.finish()?;
        let table = state
            .tables
            .get(&input.table_name)
            .ok_or_else(|| db::ScanError::ResourceNotFound(no_table(&input.table_name)))?;
        let scanned: Vec<(&String, &Item)> = table
            .range::<String, _>((start, Bound::Unbounded))
            .take(limit)
            .collect();
        let last_evaluated_key = match scanned.last() {
            Some((id, _)) if scanned.len() == limit => Some(Item::from([(
                "id".to_owned(),
                AttributeValue::S((*id).clone()),
            )])),
            _ => None,
        };
        let items: Vec<Item> = scanned
            .iter()
            .map(|(_, item)| *item)
            .filter(|item| filter.as_ref().is_none_or(|f| f.keeps(item)))
            .cloned()
            .collect();
        Ok(db::ScanOutput {
            count: items.len() as i32,
            scanned_count: scanned.len() as i32,
            items,
            last_evaluated_key,
            consumed_capacity: None,
        })
    }
}

/// Runs the function on `input` and returns its answer.
fn run(input: &[u8]) -> Value {
    let output = iomod_sdk::guest::block_on(todo::handler(input.to_vec()));
    serde_json::from_slice(&output).expect("the function answers JSON")
}

fn call(request: Value) -> Value {
    run(&serde_json::to_vec(&request).expect("a request is JSON"))
}

/// A stand-in with the `todos` table, made by the function's setup.
fn with_table() -> InMemoryDynamoDb {
    let dynamodb = InMemoryDynamoDb::install();
    assert_eq!(call(json!({"action": "setup"}))["ok"]["created"], true);
    dynamodb
}

fn create(title: &str) -> Value {
    call(json!({"action": "create", "title": title}))
}

fn todo(id: &str, title: &str, done: bool) -> Value {
    json!({"id": id, "title": title, "done": done})
}

#[test]
fn setup_creates_the_table_then_finds_it() {
    let dynamodb = InMemoryDynamoDb::install();
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"ok": {"table": "todos", "created": true, "status": "active"}})
    );
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"ok": {"table": "todos", "created": false}})
    );
    assert_eq!(
        call(json!({"action": "setup", "table": "chores"})),
        json!({"ok": {"table": "chores", "created": true, "status": "active"}})
    );
    assert_eq!(dynamodb.tables(), ["chores", "todos"]);
}

#[test]
fn create_numbers_todos_and_stores_them() {
    let dynamodb = with_table();
    assert_eq!(
        create("Buy milk"),
        json!({"ok": todo("todo-1", "Buy milk", false)})
    );
    assert_eq!(
        create("Walk the dog"),
        json!({"ok": todo("todo-2", "Walk the dog", false)})
    );
    assert_eq!(
        create("Call mum"),
        json!({"ok": todo("todo-3", "Call mum", false)})
    );
    assert_eq!(
        dynamodb.item("todos", "todo-2"),
        Some(json!({
            "id": {"s": "todo-2"},
            "title": {"s": "Walk the dog"},
            "done": {"bool": false},
            "number": {"n": "2"},
        }))
    );
    assert_eq!(
        dynamodb.item("todos", "#counter"),
        Some(json!({"id": {"s": "#counter"}, "seq": {"n": "3"}}))
    );
    // In the table the request names, with its own counter.
    call(json!({"action": "setup", "table": "chores"}));
    assert_eq!(
        call(json!({"action": "create", "table": "chores", "title": "Mop"})),
        json!({"ok": todo("todo-1", "Mop", false)})
    );
    assert!(dynamodb.item("chores", "todo-1").is_some());
    assert_eq!(
        dynamodb
            .item("todos", "todo-1")
            .map(|item| item["title"].clone()),
        Some(json!({"s": "Buy milk"}))
    );
}

#[test]
fn get_reads_a_todo() {
    let _dynamodb = with_table();
    create("Buy milk");
    create("Walk the dog");
    assert_eq!(
        call(json!({"action": "get", "id": "todo-2"})),
        json!({"ok": todo("todo-2", "Walk the dog", false)})
    );
}

#[test]
fn get_of_a_missing_todo_says_so() {
    let _dynamodb = with_table();
    create("Buy milk");
    assert_eq!(
        call(json!({"action": "get", "id": "todo-9"})),
        json!({"error": "no todo todo-9"})
    );
}

#[test]
fn update_changes_title_and_done() {
    let dynamodb = with_table();
    create("Buy milk");
    assert_eq!(
        call(json!({"action": "update", "id": "todo-1", "done": true})),
        json!({"ok": todo("todo-1", "Buy milk", true)})
    );
    assert_eq!(
        call(json!({"action": "update", "id": "todo-1", "title": "Buy oat milk"})),
        json!({"ok": todo("todo-1", "Buy oat milk", true)})
    );
    assert_eq!(
        call(json!({"action": "update", "id": "todo-1", "title": "Buy bread", "done": false})),
        json!({"ok": todo("todo-1", "Buy bread", false)})
    );
    assert_eq!(
        dynamodb.item("todos", "todo-1"),
        Some(json!({
            "id": {"s": "todo-1"},
            "title": {"s": "Buy bread"},
            "done": {"bool": false},
            "number": {"n": "1"},
        }))
    );
    assert_eq!(
        call(json!({"action": "get", "id": "todo-1"})),
        json!({"ok": todo("todo-1", "Buy bread", false)})
    );
}

#[test]
fn update_of_a_missing_todo_says_so_and_creates_nothing() {
    let dynamodb = with_table();
    assert_eq!(
        call(json!({"action": "update", "id": "todo-9", "done": true})),
        json!({"error": "no todo todo-9"})
    );
    assert_eq!(dynamodb.item("todos", "todo-9"), None);
}

#[test]
fn update_with_nothing_to_update_is_refused_before_any_call() {
    let dynamodb = with_table();
    create("Buy milk");
    let updates = dynamodb.count("update_item");
    assert_eq!(
        call(json!({"action": "update", "id": "todo-1"})),
        json!({"error": "nothing to update: give `title` and/or `done`"})
    );
    assert_eq!(dynamodb.count("update_item"), updates);
}

#[test]
fn delete_returns_the_old_todo_and_a_second_delete_finds_none() {
    let dynamodb = with_table();
    create("Buy milk");
    create("Walk the dog");
    assert_eq!(
        call(json!({"action": "delete", "id": "todo-1"})),
        json!({"ok": {"deleted": todo("todo-1", "Buy milk", false)}})
    );
    assert_eq!(dynamodb.item("todos", "todo-1"), None);
    assert_eq!(
        call(json!({"action": "delete", "id": "todo-1"})),
        json!({"error": "no todo todo-1"})
    );
    assert!(dynamodb.item("todos", "todo-2").is_some());
}

#[test]
fn list_pages_through_every_todo_in_number_order_without_the_counter() {
    let dynamodb = with_table();
    assert_eq!(call(json!({"action": "list"})), json!({"ok": []}));
    for n in 1..=60 {
        create(&format!("Task {n}"));
    }
    call(json!({"action": "update", "id": "todo-42", "done": true}));
    let scans = dynamodb.count("scan");
    let expected: Vec<Value> = (1..=60)
        .map(|n| todo(&format!("todo-{n}"), &format!("Task {n}"), n == 42))
        .collect();
    assert_eq!(call(json!({"action": "list"})), json!({"ok": expected}));
    // 61 items (the counter too) in pages of 25: the function followed LastEvaluatedKey twice.
    assert_eq!(dynamodb.count("scan") - scans, 3);
}

#[test]
fn bad_request_json_is_an_error() {
    let dynamodb = InMemoryDynamoDb::install();
    for input in [
        &b"not json"[..],
        br#"{"action": "archive"}"#,
        br#"{"action": "create"}"#,
        br#"{"action": "get", "id": "todo-1", "colour": "red"}"#,
    ] {
        let answer = run(input);
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("bad request: "), "{answer}");
    }
    assert!(dynamodb.state.borrow().calls.is_empty());
}

#[test]
fn empty_title_is_an_error_and_takes_no_number() {
    let dynamodb = with_table();
    for title in ["", "   "] {
        assert_eq!(create(title), json!({"error": "a todo needs a title"}));
    }
    assert_eq!(dynamodb.item("todos", "#counter"), None);
    assert_eq!(
        create("Buy milk"),
        json!({"ok": todo("todo-1", "Buy milk", false)})
    );
}

#[test]
fn an_iomod_failure_reaches_the_caller() {
    let _dynamodb = with_table();
    create("Buy milk");
    native::on_get_item(|_| async {
        Err(db::GetItemError::Failed(Error::new(
            ErrorCode::Unavailable,
            "the DynamoDB IOmod is restarting",
        )))
    });
    assert_eq!(
        call(json!({"action": "get", "id": "todo-1"})),
        json!({"error": "unavailable: the DynamoDB IOmod is restarting"})
    );
    // The other methods still reach the stand-in.
    assert_eq!(
        call(json!({"action": "delete", "id": "todo-1"})),
        json!({"ok": {"deleted": todo("todo-1", "Buy milk", false)}})
    );
}

#[test]
fn a_call_with_nothing_installed_is_unavailable() {
    InMemoryDynamoDb::install();
    native::reset();
    let answer = call(json!({"action": "get", "id": "todo-1"}));
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("unavailable: "), "{answer}");
    assert!(
        error.contains("`example.aws.dynamodb.get_item`"),
        "{answer}"
    );
}

/// The stand-in's own promise: what it does not know fails loudly, what DynamoDB rejects fails as there.
#[test]
fn the_stand_in_refuses_what_it_does_not_know() {
    let _dynamodb = with_table();
    let update = |expression: &str, values: Item| {
        iomod_sdk::guest::block_on(db::update_item(db::UpdateItemInput {
            table_name: "todos".into(),
            key: Item::from([("id".into(), AttributeValue::S("todo-1".into()))]),
            update_expression: Some(expression.into()),
            condition_expression: None,
            expression_attribute_names: None,
            expression_attribute_values: Some(values),
            return_values: None,
            return_consumed_capacity: None,
            return_item_collection_metrics: None,
            return_values_on_condition_check_failure: None,
        }))
    };
    let one = || Item::from([(":one".into(), AttributeValue::N("1".into()))]);
    match update("SET seq = seq + :one", one()) {
        Err(db::UpdateItemError::Failed(error)) => {
            assert_eq!(error.code, ErrorCode::Internal);
            assert!(error.message.contains("`SET seq = seq + :one`"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    match update("ADD seq :two", one()) {
        Err(db::UpdateItemError::Validation(v)) => assert!(v.message.contains(":two"), "{v:?}"),
        other => panic!("{other:?}"),
    }
    match update(
        "ADD seq :one",
        Item::from([(":one".into(), AttributeValue::S("1".into()))]),
    ) {
        Err(db::UpdateItemError::Validation(v)) => {
            assert!(v.message.contains("data type"), "{v:?}")
        }
        other => panic!("{other:?}"),
    }
    assert!(update("ADD seq :one", one()).is_ok());
}
