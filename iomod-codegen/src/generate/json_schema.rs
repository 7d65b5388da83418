//! JSON Schemas (draft 2020-12) of each method's input, output and errors, as the generated types'
//! serde derives encode values: structs are objects, enums strings (an open enum's any string, its known
//! names documented), unions objects with one key (or a string for `void` variants), `bytes` arrays of
//! byte values, maps objects.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::manifest::{EnumValue, Field, Manifest, Method, Type, TypeKind};

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema of a method's input struct.
pub fn input(m: &Manifest, method: &Method) -> Value {
    with_defs(
        m,
        json!({ "$ref": format!("#/$defs/{}", method.input) }),
        [method.input.as_str()],
    )
}

/// The schema of a method's output struct.
pub fn output(m: &Manifest, method: &Method) -> Value {
    with_defs(
        m,
        json!({ "$ref": format!("#/$defs/{}", method.output) }),
        [method.output.as_str()],
    )
}

/// The schema of a method's named errors: an object with one key, the error's name. `null` when the method
/// declares none.
pub fn errors(m: &Manifest, method: &Method) -> Value {
    if method.errors.is_empty() {
        return Value::Null;
    }
    let mut variants = Vec::new();
    let mut roots = Vec::new();
    for name in &method.errors {
        let Some(def) = m.error_def(name) else {
            continue;
        };
        let mut body = object(m, &def.fields);
        describe(&mut body, &def.doc);
        let mut collect = BTreeSet::new();
        for f in &def.fields {
            named_in(&f.ty, &mut collect);
        }
        roots.extend(collect);
        variants.push(json!({
            "type": "object",
            "properties": { name.clone(): body },
            "required": [name],
            "additionalProperties": false,
        }));
    }
    let root = json!({ "oneOf": variants });
    with_defs(
        m,
        root,
        roots.iter().map(String::as_str).collect::<Vec<_>>(),
    )
}

fn with_defs<'a>(m: &Manifest, mut root: Value, roots: impl IntoIterator<Item = &'a str>) -> Value {
    let mut needed = BTreeSet::new();
    let mut queue: Vec<String> = roots.into_iter().map(str::to_owned).collect();
    while let Some(name) = queue.pop() {
        if !needed.insert(name.clone()) {
            continue;
        }
        if let Some(def) = m.type_def(&name) {
            if let TypeKind::Struct(fields) | TypeKind::Union(fields) = &def.kind {
                let mut found = BTreeSet::new();
                for f in fields {
                    named_in(&f.ty, &mut found);
                }
                queue.extend(found);
            }
        }
    }
    let mut defs = Map::new();
    for name in needed {
        if let Some(def) = m.type_def(&name) {
            let mut schema = match &def.kind {
                TypeKind::Struct(fields) => object(m, fields),
                TypeKind::Enum { values, open } => enum_schema(values, *open),
                TypeKind::Union(variants) => json!({
                    "oneOf": variants.iter().map(|v| variant(m, v)).collect::<Vec<_>>(),
                }),
            };
            describe(&mut schema, &def.doc);
            defs.insert(name, schema);
        }
    }
    if let Value::Object(obj) = &mut root {
        obj.insert("$schema".into(), DRAFT.into());
        if !defs.is_empty() {
            obj.insert("$defs".into(), Value::Object(defs));
        }
    }
    root
}

/// A closed enum is one of its names; an open enum documents its names and accepts any string.
pub(crate) fn enum_schema(values: &[EnumValue], open: bool) -> Value {
    let known = json!({
        "type": "string",
        "enum": values.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
    });
    if open {
        json!({ "anyOf": [known, { "type": "string" }] })
    } else {
        known
    }
}

fn named_in(ty: &Type, out: &mut BTreeSet<String>) {
    match ty {
        Type::Named(n) => {
            out.insert(n.clone());
        }
        Type::List(t) | Type::Map(t) | Type::Option(t) => named_in(t, out),
        _ => {}
    }
}

fn describe(schema: &mut Value, doc: &str) {
    if let (Value::Object(obj), false) = (schema, doc.is_empty()) {
        obj.insert("description".into(), doc.into());
    }
}

fn object(m: &Manifest, fields: &[Field]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for f in fields {
        let mut schema = of(m, &f.ty);
        describe(&mut schema, &f.doc);
        if !matches!(f.ty, Type::Option(_)) {
            required.push(f.name.clone());
        }
        properties.insert(f.name.clone(), schema);
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn variant(m: &Manifest, v: &Field) -> Value {
    if v.ty == Type::Void {
        let mut schema = json!({ "const": v.name });
        describe(&mut schema, &v.doc);
        return schema;
    }
    let mut inner = of(m, &v.ty);
    describe(&mut inner, &v.doc);
    json!({
        "type": "object",
        "properties": { v.name.clone(): inner },
        "required": [v.name],
        "additionalProperties": false,
    })
}

/// The schema of one type expression.
pub fn of(m: &Manifest, ty: &Type) -> Value {
    let _ = m;
    match ty {
        Type::Void => json!({ "type": "null" }),
        Type::Bool => json!({ "type": "boolean" }),
        Type::Int(bits) => {
            let max = (1i128 << (bits - 1)) - 1;
            json!({ "type": "integer", "minimum": -max - 1, "maximum": max })
        }
        Type::UInt(bits) => {
            json!({ "type": "integer", "minimum": 0, "maximum": (1u128 << bits) - 1 })
        }
        Type::F32 | Type::F64 => json!({ "type": "number" }),
        Type::String => json!({ "type": "string" }),
        Type::Bytes => {
            json!({ "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 255 } })
        }
        Type::List(t) => json!({ "type": "array", "items": of(m, t) }),
        Type::Map(t) => json!({ "type": "object", "additionalProperties": of(m, t) }),
        Type::Option(t) => json!({ "anyOf": [of(m, t), { "type": "null" }] }),
        Type::Named(n) => json!({ "$ref": format!("#/$defs/{n}") }),
    }
}
