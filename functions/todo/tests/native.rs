//! Native tests of the todo function: `handler` runs in this process, JSON in and out, and its DynamoDB
//! calls, made through the generated guest crate, reach `InMemoryDynamoDb`, a stand-in installed on the
//! test's thread with `dynamodb_guest::native::install`.
//!
//! The stand-in carries out exactly the operations and expressions the function uses. Any other expression
//! or option it refuses with a `Failed` error that names it, so a change in the function surfaces here
//! instead of passing against a model that does not know it. What DynamoDB itself rejects (a key that does
//! not match the table, an undefined or unused placeholder) it rejects with `Validation`, as DynamoDB does.
//!
//! A test can set the statuses a table goes through (CREATING, then ACTIVE, say; or DELETING) and lose the
//! answer of a write, before or after carrying it out, which the write then answers as `OutcomeUnknown`.

#![allow(
    clippy::needless_update,
    reason = "literals of generated types end in `..Default::default()` even when they name every field, so \
              that a field added to the manifest later leaves them compiling"
)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
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
    /// Table name → the statuses the table goes through: CreateTable answers the first, each DescribeTable
    /// answers the current one and moves on to the next; the last one stays. A table without any is ACTIVE.
    /// Item methods find only a table that is ACTIVE or UPDATING, as in DynamoDB.
    statuses: BTreeMap<String, VecDeque<db::TableStatus>>,
    /// Answers to lose, in order: the write method, and whether the write is carried out before its answer
    /// is lost.
    lost: VecDeque<(&'static str, bool)>,
    /// The methods called, in order.
    calls: Vec<&'static str>,
}

impl State {
    /// The table's status now.
    fn status(&self, table: &str) -> db::TableStatus {
        self.statuses
            .get(table)
            .and_then(VecDeque::front)
            .cloned()
            .unwrap_or(db::TableStatus::Active)
    }

    /// The table's status now; the next call sees the following one, if there is one.
    fn advance(&mut self, table: &str) -> db::TableStatus {
        let status = self.status(table);
        if let Some(statuses) = self.statuses.get_mut(table).filter(|s| s.len() > 1) {
            statuses.pop_front();
        }
        status
    }

    /// The items of a table that takes reads and writes now.
    fn usable(&mut self, table: &str) -> Option<&mut BTreeMap<String, Item>> {
        match self.status(table) {
            db::TableStatus::Active | db::TableStatus::Updating => self.tables.get_mut(table),
            _ => None,
        }
    }
}

impl InMemoryDynamoDb {
    /// A new stand-in, installed for every DynamoDB method on the current thread.
    fn install() -> Self {
        let dynamodb = Self::default();
        native::install(dynamodb.clone());
        dynamodb
    }

    /// Adds an empty table, as if made earlier, going through `statuses` (none: ACTIVE).
    fn add_table<const N: usize>(&self, table: &str, statuses: [db::TableStatus; N]) {
        let mut state = self.state.borrow_mut();
        state.tables.insert(table.to_owned(), BTreeMap::new());
        state.statuses.insert(table.to_owned(), statuses.into());
    }

    /// Sets the statuses `table` goes through from now on (a table yet to be created starts with them).
    fn set_statuses<const N: usize>(&self, table: &str, statuses: [db::TableStatus; N]) {
        let mut state = self.state.borrow_mut();
        state.statuses.insert(table.to_owned(), statuses.into());
    }

    /// Loses the answer of the next call of `method` (a write): `applied` says whether the write is carried
    /// out first. The call answers `OutcomeUnknown`, or, when the request set `resend`, the answer of the
    /// same request sent again, as the IOmod does.
    fn lose_answer(&self, method: &'static str, applied: bool) {
        self.state.borrow_mut().lost.push_back((method, applied));
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
                    Fault::Validation(message) => Self::Validation(db::Validation {
                        message,
                        ..Default::default()
                    }),
                    Fault::Unknown(message) => Self::Failed(Error::new(ErrorCode::Internal, message)),
                }
            }
        }
    )*};
}

fault_into!(
    CreateTableError,
    DescribeTableError,
    GetItemError,
    PutItemError,
    UpdateItemError,
    DeleteItemError,
    ScanError
);

fn no_table(table: &str) -> db::ResourceNotFound {
    db::ResourceNotFound {
        message: format!("Requested resource not found: Table: {table} not found"),
        ..Default::default()
    }
}

fn condition_failed() -> db::ConditionalCheckFailed {
    db::ConditionalCheckFailed {
        message: "The conditional request failed".to_owned(),
        ..Default::default()
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

/// The answer a lost write gets when the request did not ask for `resend`.
fn outcome_unknown(method: &str) -> db::OutcomeUnknown {
    db::OutcomeUnknown {
        message: format!("the answer to {method} was lost"),
        ..Default::default()
    }
}

impl InMemoryDynamoDb {
    /// Carries out a write (`apply`), or loses its answer as [`InMemoryDynamoDb::lose_answer`] asked.
    fn write<I: Clone, O, E>(
        &self,
        method: &'static str,
        input: I,
        resend: bool,
        apply: fn(&Self, I) -> Result<O, E>,
        lost: fn(db::OutcomeUnknown) -> E,
    ) -> Result<O, E> {
        let answer = {
            let mut state = self.state.borrow_mut();
            state.calls.push(method);
            let at = state.lost.iter().position(|(m, _)| *m == method);
            at.and_then(|at| state.lost.remove(at))
        };
        match answer {
            None => apply(self, input),
            Some((_, applied)) => {
                if applied {
                    // Its answer is lost, whatever it was.
                    let _ = apply(self, input.clone());
                }
                if resend {
                    apply(self, input)
                } else {
                    Err(lost(outcome_unknown(method)))
                }
            }
        }
    }

    fn create(
        &self,
        input: db::CreateTableInput,
    ) -> Result<db::CreateTableOutput, db::CreateTableError> {
        let mut state = self.state.borrow_mut();
        let id_key = vec![db::KeySchemaElement {
            attribute_name: "id".into(),
            key_type: db::KeyType::Hash,
            ..Default::default()
        }];
        let id_attribute = vec![db::AttributeDefinition {
            attribute_name: "id".into(),
            attribute_type: db::ScalarAttributeType::S,
            ..Default::default()
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
                ..Default::default()
            }));
        }
        state
            .tables
            .insert(input.table_name.clone(), BTreeMap::new());
        let status = state.advance(&input.table_name);
        Ok(db::CreateTableOutput {
            table_description: Some(db::TableDescription {
                table_name: Some(input.table_name),
                table_status: Some(status),
                key_schema: Some(input.key_schema),
                attribute_definitions: Some(input.attribute_definitions),
                item_count: Some(0),
                deletion_protection_enabled: input.deletion_protection_enabled,
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn put(&self, input: db::PutItemInput) -> Result<db::PutItemOutput, db::PutItemError> {
        let mut state = self.state.borrow_mut();
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
            .usable(&input.table_name)
            .ok_or_else(|| db::PutItemError::ResourceNotFound(no_table(&input.table_name)))?;
        if condition.is_some_and(|c| !c.holds(table.get(&id))) {
            return Err(db::PutItemError::ConditionalCheckFailed(condition_failed()));
        }
        let old = table.insert(id, input.item);
        Ok(db::PutItemOutput {
            attributes: old_item(input.return_values, old)?,
            ..Default::default()
        })
    }

    fn update(
        &self,
        input: db::UpdateItemInput,
    ) -> Result<db::UpdateItemOutput, db::UpdateItemError> {
        let mut state = self.state.borrow_mut();
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
            .usable(&input.table_name)
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
            Some(db::ReturnValue::AllOld) => old,
            Some(db::ReturnValue::UpdatedOld) => old.as_ref().map(updated),
            Some(db::ReturnValue::AllNew) => Some(new.clone()),
            Some(db::ReturnValue::UpdatedNew) => Some(updated(&new)),
            _ => None,
        };
        table.insert(id, new);
        Ok(db::UpdateItemOutput {
            attributes,
            ..Default::default()
        })
    }

    fn delete(
        &self,
        input: db::DeleteItemInput,
    ) -> Result<db::DeleteItemOutput, db::DeleteItemError> {
        let mut state = self.state.borrow_mut();
        let id = key_id(&input.key)?;
        let mut placeholders = Placeholders::new(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
        );
        let condition = condition(input.condition_expression.as_deref(), &mut placeholders)?;
        placeholders.finish()?;
        let table = state
            .usable(&input.table_name)
            .ok_or_else(|| db::DeleteItemError::ResourceNotFound(no_table(&input.table_name)))?;
        if condition.is_some_and(|c| !c.holds(table.get(&id))) {
            return Err(db::DeleteItemError::ConditionalCheckFailed(
                condition_failed(),
            ));
        }
        let old = table.remove(&id);
        Ok(db::DeleteItemOutput {
            attributes: old_item(input.return_values, old)?,
            ..Default::default()
        })
    }
}

impl native::Dynamodb for InMemoryDynamoDb {
    /// Creates an empty table. Its answer's status is the first of those set for it (none: ACTIVE).
    async fn create_table(
        &self,
        input: db::CreateTableInput,
    ) -> Result<db::CreateTableOutput, db::CreateTableError> {
        self.write(
            "create_table",
            input,
            false,
            Self::create,
            db::CreateTableError::OutcomeUnknown,
        )
    }

    /// Answers the table's current status and moves it on to the next one set for it.
    async fn describe_table(
        &self,
        input: db::DescribeTableInput,
    ) -> Result<db::DescribeTableOutput, db::DescribeTableError> {
        let mut state = self.state.borrow_mut();
        state.calls.push("describe_table");
        if !state.tables.contains_key(&input.table_name) {
            return Err(db::DescribeTableError::ResourceNotFound(no_table(
                &input.table_name,
            )));
        }
        let status = state.advance(&input.table_name);
        Ok(db::DescribeTableOutput {
            table: Some(db::TableDescription {
                table_name: Some(input.table_name),
                table_status: Some(status),
                ..Default::default()
            }),
            ..Default::default()
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
            .usable(&input.table_name)
            .ok_or_else(|| db::GetItemError::ResourceNotFound(no_table(&input.table_name)))?;
        Ok(db::GetItemOutput {
            item: table.get(&id).cloned(),
            ..Default::default()
        })
    }

    async fn put_item(
        &self,
        input: db::PutItemInput,
    ) -> Result<db::PutItemOutput, db::PutItemError> {
        let resend = input.resend == Some(true);
        self.write(
            "put_item",
            input,
            resend,
            Self::put,
            db::PutItemError::OutcomeUnknown,
        )
    }

    async fn update_item(
        &self,
        input: db::UpdateItemInput,
    ) -> Result<db::UpdateItemOutput, db::UpdateItemError> {
        let resend = input.resend == Some(true);
        self.write(
            "update_item",
            input,
            resend,
            Self::update,
            db::UpdateItemError::OutcomeUnknown,
        )
    }

    async fn delete_item(
        &self,
        input: db::DeleteItemInput,
    ) -> Result<db::DeleteItemOutput, db::DeleteItemError> {
        let resend = input.resend == Some(true);
        self.write(
            "delete_item",
            input,
            resend,
            Self::delete,
            db::DeleteItemError::OutcomeUnknown,
        )
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
            .usable(&input.table_name)
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
            ..Default::default()
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

/// The error of an answer that must be one.
fn error(answer: &Value) -> &str {
    answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {answer}"))
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
        json!({"ok": {"table": "todos", "created": false, "status": "active"}})
    );
    assert_eq!(
        call(json!({"action": "setup", "table": "chores"})),
        json!({"ok": {"table": "chores", "created": true, "status": "active"}})
    );
    assert_eq!(dynamodb.tables(), ["chores", "todos"]);
    // A table CreateTable answers ACTIVE needs no DescribeTable; one that exists needs one.
    assert_eq!(dynamodb.count("describe_table"), 1);
}

#[test]
fn setup_waits_until_a_new_table_is_active() {
    use db::TableStatus::{Active, Creating};
    let dynamodb = InMemoryDynamoDb::install();
    dynamodb.set_statuses("todos", [Creating, Creating, Creating, Active]);
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"ok": {"table": "todos", "created": true, "status": "active"}})
    );
    // CreateTable answered the first CREATING, DescribeTable the other two and then ACTIVE.
    assert_eq!(dynamodb.count("describe_table"), 3);
    assert_eq!(
        create("Buy milk"),
        json!({"ok": todo("todo-1", "Buy milk", false)})
    );
}

#[test]
fn setup_waits_for_a_table_another_setup_is_creating() {
    use db::TableStatus::{Active, Creating};
    let dynamodb = InMemoryDynamoDb::install();
    dynamodb.add_table("todos", [Creating, Creating, Active]);
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"ok": {"table": "todos", "created": false, "status": "active"}})
    );
    assert_eq!(dynamodb.count("describe_table"), 3);
}

#[test]
fn setup_accepts_a_table_being_updated() {
    let dynamodb = InMemoryDynamoDb::install();
    dynamodb.add_table("todos", [db::TableStatus::Updating]);
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"ok": {"table": "todos", "created": false, "status": "updating"}})
    );
    assert_eq!(
        create("Buy milk"),
        json!({"ok": todo("todo-1", "Buy milk", false)})
    );
}

#[test]
fn setup_of_a_table_being_deleted_says_so() {
    let dynamodb = InMemoryDynamoDb::install();
    dynamodb.add_table("todos", [db::TableStatus::Deleting]);
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"error": "the table `todos` is being deleted: run setup again once it is gone"})
    );
    assert_eq!(dynamodb.count("create_table"), 1);
    assert_eq!(dynamodb.count("describe_table"), 1);
}

#[test]
fn setup_of_a_table_that_was_deleted_meanwhile_says_so() {
    let dynamodb = InMemoryDynamoDb::install();
    dynamodb.add_table("todos", []);
    // CreateTable finds the table in use; by the time DescribeTable asks, it is gone.
    native::on_describe_table(|input| async move {
        Err(db::DescribeTableError::ResourceNotFound(no_table(
            &input.table_name,
        )))
    });
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"error": "the table `todos` is being deleted: run setup again once it is gone"})
    );
}

#[test]
fn setup_gives_up_after_a_bounded_number_of_checks() {
    use db::TableStatus::{Active, Creating};
    let dynamodb = InMemoryDynamoDb::install();
    dynamodb.set_statuses("todos", [Creating]);
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"error": "the table `todos` is still being created after 50 checks: \
                         run setup again in a few seconds"})
    );
    assert_eq!(dynamodb.count("describe_table"), 50);
    // Until it is active the table takes no items, as in DynamoDB.
    let answer = create("Buy milk");
    assert!(error(&answer).starts_with("ResourceNotFound: "), "{answer}");
    dynamodb.set_statuses("todos", [Active]);
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"ok": {"table": "todos", "created": false, "status": "active"}})
    );
}

#[test]
fn setup_of_an_unusable_table_names_its_status() {
    let dynamodb = InMemoryDynamoDb::install();
    dynamodb.add_table(
        "todos",
        [db::TableStatus::InaccessibleEncryptionCredentials],
    );
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"error": "the table `todos` cannot be used: \
                         its status is \"inaccessible_encryption_credentials\""})
    );
}

#[test]
fn setup_sends_create_table_again_when_its_answer_was_lost() {
    let dynamodb = InMemoryDynamoDb::install();
    // Lost before DynamoDB made the table: the second CreateTable makes it.
    dynamodb.lose_answer("create_table", false);
    assert_eq!(
        call(json!({"action": "setup"})),
        json!({"ok": {"table": "todos", "created": true, "status": "active"}})
    );
    // Lost after DynamoDB made it: the second one finds it.
    dynamodb.lose_answer("create_table", true);
    assert_eq!(
        call(json!({"action": "setup", "table": "chores"})),
        json!({"ok": {"table": "chores", "created": false, "status": "active"}})
    );
    assert_eq!(dynamodb.count("create_table"), 4);
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
fn create_reads_back_a_put_whose_answer_was_lost_after_it_was_stored() {
    let dynamodb = with_table();
    dynamodb.lose_answer("put_item", true);
    assert_eq!(
        create("Buy milk"),
        json!({"ok": todo("todo-1", "Buy milk", false)})
    );
    // Read back and found: not sent again.
    assert_eq!(dynamodb.count("put_item"), 1);
    assert_eq!(dynamodb.count("get_item"), 1);
    assert_eq!(
        create("Walk the dog"),
        json!({"ok": todo("todo-2", "Walk the dog", false)})
    );
    assert_eq!(
        dynamodb.item("todos", "#counter").unwrap()["seq"],
        json!({"n": "2"})
    );
}

#[test]
fn create_sends_a_put_again_whose_answer_was_lost_before_it_was_stored() {
    let dynamodb = with_table();
    dynamodb.lose_answer("put_item", false);
    assert_eq!(
        create("Buy milk"),
        json!({"ok": todo("todo-1", "Buy milk", false)})
    );
    assert_eq!(dynamodb.count("put_item"), 2);
    assert_eq!(dynamodb.count("get_item"), 1);
    assert_eq!(
        dynamodb.item("todos", "todo-1").unwrap()["title"],
        json!({"s": "Buy milk"})
    );
    // Not stored then lost, then stored then lost: the second attempt's item is read back.
    dynamodb.lose_answer("put_item", false);
    dynamodb.lose_answer("put_item", true);
    assert_eq!(
        create("Walk the dog"),
        json!({"ok": todo("todo-2", "Walk the dog", false)})
    );
    assert_eq!(dynamodb.count("put_item"), 4);
    assert_eq!(dynamodb.count("get_item"), 3);
    assert_eq!(
        call(json!({"action": "list"})),
        json!({"ok": {"todos": [
            todo("todo-1", "Buy milk", false),
            todo("todo-2", "Walk the dog", false),
        ], "next": null}})
    );
}

#[test]
fn create_never_reports_a_todo_that_was_not_stored() {
    let dynamodb = with_table();
    for _ in 0..3 {
        dynamodb.lose_answer("put_item", false);
    }
    assert_eq!(
        create("Buy milk"),
        json!({"error": "todo-1 was not stored: the answers to 3 attempts were lost"})
    );
    assert_eq!(dynamodb.item("todos", "todo-1"), None);
    // The number is spent; the next todo gets a fresh one.
    assert_eq!(
        create("Buy milk"),
        json!({"ok": todo("todo-2", "Buy milk", false)})
    );
}

#[test]
fn create_does_not_replace_an_item_that_holds_its_id() {
    let dynamodb = with_table();
    create("Buy milk");
    // The counter goes back (restored from an old backup, say): the next number is taken.
    dynamodb
        .state
        .borrow_mut()
        .tables
        .get_mut("todos")
        .unwrap()
        .remove("#counter");
    assert_eq!(
        create("Walk the dog"),
        json!({"error": "todo-1 is taken by another item: the counter `#counter` is behind"})
    );
    assert_eq!(
        dynamodb.item("todos", "todo-1").unwrap()["title"],
        json!({"s": "Buy milk"})
    );
}

#[test]
fn create_takes_a_fresh_number_when_the_counter_answer_was_lost() {
    let dynamodb = with_table();
    // The ADD counted, its answer was lost: number 1 is skipped.
    dynamodb.lose_answer("update_item", true);
    assert_eq!(
        create("Buy milk"),
        json!({"ok": todo("todo-2", "Buy milk", false)})
    );
    // The ADD did not count: no number is skipped.
    dynamodb.lose_answer("update_item", false);
    assert_eq!(
        create("Walk the dog"),
        json!({"ok": todo("todo-3", "Walk the dog", false)})
    );
    assert_eq!(dynamodb.count("update_item"), 4);
    assert_eq!(dynamodb.item("todos", "todo-1"), None);
    assert_eq!(
        dynamodb.item("todos", "#counter").unwrap()["seq"],
        json!({"n": "3"})
    );
    // Every answer lost: an error, and no todo.
    for _ in 0..3 {
        dynamodb.lose_answer("update_item", true);
    }
    let answer = create("Call mum");
    assert!(error(&answer).starts_with("OutcomeUnknown: "), "{answer}");
    assert_eq!(dynamodb.count("put_item"), 2);
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
fn ids_the_service_did_not_make_are_refused_before_any_call() {
    let dynamodb = with_table();
    create("Buy milk");
    let calls = dynamodb.state.borrow().calls.len();
    for id in [
        "#counter",
        "todo-0",
        "todo-01",
        "todo-",
        "todo--1",
        "todo-+1",
        "todo-1x",
        "todo-1 ",
        " todo-1",
        "TODO-1",
        "1",
        "",
        "todo-99999999999999999999999",
    ] {
        let bad =
            format!("bad id `{id}`: todo ids are `todo-` and a positive number, such as `todo-1`");
        for request in [
            json!({"action": "get", "id": id}),
            json!({"action": "update", "id": id, "done": true}),
            json!({"action": "delete", "id": id}),
        ] {
            assert_eq!(call(request), json!({"error": bad}));
        }
    }
    assert_eq!(dynamodb.state.borrow().calls.len(), calls);
    assert_eq!(
        dynamodb.item("todos", "#counter"),
        Some(json!({"id": {"s": "#counter"}, "seq": {"n": "1"}}))
    );
    assert_eq!(
        create("Walk the dog"),
        json!({"ok": todo("todo-2", "Walk the dog", false)})
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
fn update_is_sent_again_when_its_answer_was_lost() {
    let dynamodb = with_table();
    create("Buy milk");
    // Applied, answer lost, sent again by the IOmod (`resend`): the same item, the condition still holds.
    dynamodb.lose_answer("update_item", true);
    assert_eq!(
        call(json!({"action": "update", "id": "todo-1", "done": true})),
        json!({"ok": todo("todo-1", "Buy milk", true)})
    );
    dynamodb.lose_answer("update_item", false);
    assert_eq!(
        call(json!({"action": "update", "id": "todo-1", "title": "Buy bread"})),
        json!({"ok": todo("todo-1", "Buy bread", true)})
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
fn update_with_nothing_to_update_or_an_empty_title_is_refused_before_any_call() {
    let dynamodb = with_table();
    create("Buy milk");
    let updates = dynamodb.count("update_item");
    assert_eq!(
        call(json!({"action": "update", "id": "todo-1"})),
        json!({"error": "nothing to update: give `title` and/or `done`"})
    );
    assert_eq!(
        call(json!({"action": "update", "id": "todo-1", "title": " ", "done": true})),
        json!({"error": "a todo needs a title"})
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
fn delete_whose_answer_was_lost_says_the_outcome_is_unknown() {
    let dynamodb = with_table();
    create("Buy milk");
    create("Walk the dog");
    let unknown = |id: &str| {
        json!({"error": format!(
            "the answer to deleting {id} was lost: it may or may not be deleted; get it to find out"
        )})
    };
    dynamodb.lose_answer("delete_item", true);
    assert_eq!(
        call(json!({"action": "delete", "id": "todo-1"})),
        unknown("todo-1")
    );
    assert_eq!(
        call(json!({"action": "get", "id": "todo-1"})),
        json!({"error": "no todo todo-1"})
    );
    dynamodb.lose_answer("delete_item", false);
    assert_eq!(
        call(json!({"action": "delete", "id": "todo-2"})),
        unknown("todo-2")
    );
    assert_eq!(
        call(json!({"action": "get", "id": "todo-2"})),
        json!({"ok": todo("todo-2", "Walk the dog", false)})
    );
    assert_eq!(dynamodb.count("delete_item"), 2);
}

/// Lists every page, following `next`; returns the pages' todos and tokens.
fn pages(limit: Option<u32>) -> Vec<(Vec<Value>, Value)> {
    let mut pages = Vec::new();
    let mut next = Value::Null;
    loop {
        let mut request = json!({"action": "list", "next": next});
        if let Some(limit) = limit {
            request["limit"] = json!(limit);
        }
        let answer = call(request);
        let page = &answer["ok"];
        let todos = page["todos"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .clone();
        next = page["next"].clone();
        pages.push((todos, next.clone()));
        if next.is_null() {
            return pages;
        }
        assert!(pages.len() <= 100, "no end to the pages");
    }
}

fn ids(todos: &[Value]) -> Vec<&str> {
    todos.iter().map(|t| t["id"].as_str().unwrap()).collect()
}

#[test]
fn list_of_an_empty_table_is_one_empty_page() {
    let _dynamodb = with_table();
    assert_eq!(
        call(json!({"action": "list"})),
        json!({"ok": {"todos": [], "next": null}})
    );
}

#[test]
fn list_pages_in_scan_order_each_page_sorted_by_number() {
    let _dynamodb = with_table();
    for n in 1..=12 {
        create(&format!("Task {n}"));
    }
    call(json!({"action": "update", "id": "todo-10", "done": true}));
    // The stand-in scans in `id` order: #counter, todo-1, todo-10, todo-11, todo-12, todo-2, .., todo-9.
    let pages = pages(Some(5));
    let listed: Vec<(Vec<&str>, Value)> = pages
        .iter()
        .map(|(todos, next)| (ids(todos), next.clone()))
        .collect();
    assert_eq!(
        listed,
        [
            (
                vec!["todo-1", "todo-2", "todo-10", "todo-11", "todo-12"],
                json!("todo-2")
            ),
            (
                vec!["todo-3", "todo-4", "todo-5", "todo-6", "todo-7"],
                json!("todo-7")
            ),
            (vec!["todo-8", "todo-9"], Value::Null),
        ]
    );
    assert_eq!(pages[0].0[2], todo("todo-10", "Task 10", true));
    assert_eq!(pages[1].0[0], todo("todo-3", "Task 3", false));
}

#[test]
fn list_pages_through_every_todo_once_with_the_default_page_size() {
    let dynamodb = with_table();
    for n in 1..=60 {
        create(&format!("Task {n}"));
    }
    let scans = dynamodb.count("scan");
    let pages = pages(None);
    let sizes: Vec<usize> = pages.iter().map(|(todos, _)| todos.len()).collect();
    assert_eq!(sizes, [25, 25, 10]);
    let mut listed: Vec<&str> = pages.iter().flat_map(|(todos, _)| ids(todos)).collect();
    listed.sort_by_key(|id| id[5..].parse::<u32>().unwrap());
    let every: Vec<String> = (1..=60).map(|n| format!("todo-{n}")).collect();
    assert_eq!(listed, every);
    // One Scan per page; the first also reads past the counter, which takes a place in its Limit.
    assert_eq!(dynamodb.count("scan") - scans, 4);
}

#[test]
fn list_ends_without_an_empty_page_when_the_last_page_is_full() {
    let _dynamodb = with_table();
    for n in 1..=10 {
        create(&format!("Task {n}"));
    }
    let sizes: Vec<usize> = pages(Some(5))
        .iter()
        .map(|(todos, _)| todos.len())
        .collect();
    assert_eq!(sizes, [5, 5]);
    let all = call(json!({"action": "list", "limit": 10}));
    assert_eq!(all["ok"]["next"], Value::Null);
    assert_eq!(all["ok"]["todos"].as_array().unwrap().len(), 10);
}

#[test]
fn list_goes_on_after_the_todo_its_token_names_is_deleted() {
    let _dynamodb = with_table();
    for n in 1..=4 {
        create(&format!("Task {n}"));
    }
    let first = call(json!({"action": "list", "limit": 2}));
    assert_eq!(first["ok"]["next"], "todo-2");
    call(json!({"action": "delete", "id": "todo-2"}));
    let second = call(json!({"action": "list", "limit": 2, "next": "todo-2"}));
    assert_eq!(
        second,
        json!({"ok": {"todos": [todo("todo-3", "Task 3", false), todo("todo-4", "Task 4", false)],
                      "next": null}})
    );
}

#[test]
fn list_refuses_a_bad_limit_or_token_before_any_call() {
    let dynamodb = with_table();
    let scans = dynamodb.count("scan");
    for limit in [0, 101] {
        assert_eq!(
            call(json!({"action": "list", "limit": limit})),
            json!({"error": format!("bad limit {limit}: a page holds 1 to 100 todos")})
        );
    }
    for token in ["#counter", "todo-0", "", "anything"] {
        assert_eq!(
            call(json!({"action": "list", "next": token})),
            json!({"error": format!(
                "bad next token `{token}`: pass the `next` of the previous page"
            )})
        );
    }
    let answer = call(json!({"action": "list", "limit": -1}));
    assert!(error(&answer).starts_with("bad request: "), "{answer}");
    assert_eq!(dynamodb.count("scan"), scans);
    assert_eq!(
        call(json!({"action": "list", "limit": 100})),
        json!({"ok": {"todos": [], "next": null}})
    );
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
        assert!(error(&answer).starts_with("bad request: "), "{answer}");
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
    let message = error(&answer);
    assert!(message.starts_with("unavailable: "), "{answer}");
    assert!(
        message.contains("`example.aws.dynamodb.get_item`"),
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
            expression_attribute_values: Some(values),
            ..Default::default()
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
