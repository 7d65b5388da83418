//! The IOmod's Cap'n Proto schema.

use serde::Serialize;

use crate::generate::{Names, render};
use crate::manifest::{Field, Manifest, Type, TypeKind};
use crate::naming::{capnp_member, capnp_type as capnp_type_name, map_entry_name, snake};
use crate::validate::map_types;

#[derive(Serialize)]
struct StructView {
    name: String,
    doc: Vec<String>,
    members: Vec<String>,
}

#[derive(Serialize)]
struct EnumView {
    name: String,
    doc: Vec<String>,
    values: Vec<String>,
}

#[derive(Serialize)]
struct MethodView {
    name: String,
    ordinal: usize,
    input: String,
    result: String,
    doc: Vec<String>,
}

/// Documentation as comment lines: every line break (`\n`, `\r\n` or a bare `\r`) ends a line.
pub(crate) fn doc_lines(doc: &str) -> Vec<String> {
    doc.replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// The Cap'n Proto name of field `name`.
pub(crate) fn field_name(name: &str) -> String {
    capnp_member(name, "Field")
}

/// The Cap'n Proto name of enum value `name`.
pub(crate) fn value_name(name: &str) -> String {
    capnp_member(name, "Value")
}

/// Methods capnpc-rust's own server code would call instead of the standard ones: its `ServerDispatch`
/// clones `self.server` (an `Rc<T>` with `T: Server`) by method call, which a server method `clone`
/// shadows.
const CAPNPC_RUST_SERVER_CALLS: &[&str] = &["clone"];

/// The Cap'n Proto name of method `name`.
pub(crate) fn method_name(name: &str) -> String {
    let camel = capnp_member(name, "Method");
    if CAPNPC_RUST_SERVER_CALLS.contains(&camel.as_str()) {
        camel + "Method"
    } else {
        camel
    }
}

/// The member of a method's result union that holds named error `error`: `ok` and `failed` are taken.
pub(crate) fn error_member(error: &str) -> String {
    let name = capnp_member(&snake(error), "Error");
    if name == "ok" || name == "failed" {
        name + "Error"
    } else {
        name
    }
}

/// The Cap'n Proto spelling of a type. An open enum's values travel as their names: `Text`.
pub(crate) fn capnp_type(m: &Manifest, ty: &Type) -> String {
    match ty {
        Type::Void => "Void".into(),
        Type::Bool => "Bool".into(),
        Type::Int(b) => format!("Int{b}"),
        Type::UInt(b) => format!("UInt{b}"),
        Type::F32 => "Float32".into(),
        Type::F64 => "Float64".into(),
        Type::String => "Text".into(),
        Type::Bytes => "Data".into(),
        Type::List(t) => format!("List({})", capnp_type(m, t)),
        Type::Map(t) => format!("List({})", map_entry_name(t)),
        Type::Option(t) => capnp_type(m, t),
        Type::Named(n) if m.is_open_enum(n) => "Text".into(),
        Type::Named(n) => capnp_type_name(n),
    }
}

/// The open enum a type holds as `Text` (directly, or in an option or a list), if any.
fn open_enum_in<'t>(m: &Manifest, ty: &'t Type) -> Option<&'t str> {
    match ty {
        Type::Named(n) if m.is_open_enum(n) => Some(n),
        Type::List(t) | Type::Option(t) => open_enum_in(m, t),
        _ => None,
    }
}

/// The comment after a member: which open enum its `Text` holds, and the first line of its documentation.
fn member_comment(m: &Manifest, ty: &Type, doc: &str) -> String {
    let mut parts = Vec::new();
    if open_enum_in(m, ty).is_some() {
        parts.push(format!("{} (open enum)", ty.to_manifest()));
    }
    if let Some(line) = doc_lines(doc).into_iter().next().filter(|l| !l.is_empty()) {
        parts.push(line.to_owned());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("  # {}", parts.join(": "))
    }
}

/// The members of a struct: optional non-pointer fields become a group union `{ none; some }`.
fn struct_members(m: &Manifest, fields: &[Field]) -> Vec<String> {
    let mut ordinal = 0;
    let mut members = Vec::new();
    for f in fields {
        let name = field_name(&f.name);
        let comment = member_comment(m, &f.ty, &f.doc);
        match &f.ty {
            Type::Option(inner) if !inner.is_pointer(m) => {
                members.push(format!(
                    "{name} :union {{ none @{} :Void; some @{} :{}; }}{comment}",
                    ordinal,
                    ordinal + 1,
                    capnp_type(m, inner)
                ));
                ordinal += 2;
            }
            ty => {
                members.push(format!(
                    "{name} @{ordinal} :{}{};{comment}",
                    capnp_type(m, ty),
                    open_enum_default(m, ty)
                ));
                ordinal += 1;
            }
        }
    }
    members
}

/// ` = "first_value"` for a member holding an open enum directly: an unset member reads as the enum's
/// first value, as an unset closed enum does.
fn open_enum_default(m: &Manifest, ty: &Type) -> String {
    match ty {
        Type::Named(n) => match m.type_def(n).map(|t| &t.kind) {
            Some(TypeKind::Enum { values, open: true }) => values
                .first()
                .map(|v| format!(" = \"{}\"", v.name))
                .unwrap_or_default(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

fn union_members(m: &Manifest, variants: &[Field]) -> Vec<String> {
    let mut members = vec!["union {".to_owned()];
    for (ordinal, v) in variants.iter().enumerate() {
        members.push(format!(
            "  {} @{ordinal} :{}{};{}",
            field_name(&v.name),
            capnp_type(m, &v.ty),
            open_enum_default(m, &v.ty),
            member_comment(m, &v.ty, &v.doc)
        ));
    }
    members.push("}".to_owned());
    members
}

pub(crate) fn schema(m: &Manifest, names: &Names) -> Result<String, crate::GenerateError> {
    let mut structs = Vec::new();
    let mut enums = Vec::new();
    let mut open_enums = Vec::new();
    for t in &m.types {
        match &t.kind {
            TypeKind::Struct(fields) => structs.push(StructView {
                name: capnp_type_name(&t.name),
                doc: doc_lines(&t.doc),
                members: struct_members(m, fields),
            }),
            TypeKind::Union(variants) => structs.push(StructView {
                name: capnp_type_name(&t.name),
                doc: doc_lines(&t.doc),
                members: union_members(m, variants),
            }),
            TypeKind::Enum { values, open } => {
                let value_line = |(i, v): (usize, &crate::EnumValue)| {
                    let comment = match doc_lines(&v.doc).first() {
                        Some(line) if !line.is_empty() => format!("  # {line}"),
                        _ => String::new(),
                    };
                    if *open {
                        format!("{}{comment}", v.name)
                    } else {
                        format!("{} @{i};{comment}", value_name(&v.name))
                    }
                };
                let view = EnumView {
                    name: capnp_type_name(&t.name),
                    doc: doc_lines(&t.doc),
                    values: values.iter().enumerate().map(value_line).collect(),
                };
                if *open {
                    open_enums.push(view);
                } else {
                    enums.push(view);
                }
            }
        }
    }
    for e in &m.errors {
        structs.push(StructView {
            name: capnp_type_name(&e.name),
            doc: doc_lines(&e.doc),
            members: struct_members(m, &e.fields),
        });
    }
    for value in map_types(m).into_keys() {
        structs.push(StructView {
            name: map_entry_name(&value),
            doc: vec![format!("An entry of map<string, {}>.", value.to_manifest())],
            members: vec![
                "key @0 :Text;".into(),
                format!(
                    "value @1 :{};{}",
                    capnp_type(m, &value),
                    member_comment(m, &value, "")
                ),
            ],
        });
    }
    let mut methods = Vec::new();
    for (ordinal, method) in m.methods.iter().enumerate() {
        let result = names.result_struct(method);
        let mut members = vec![
            "union {".to_owned(),
            format!("  ok @0 :{};", capnp_type_name(&method.output)),
            "  failed @1 :Iomod.Error;  # a failure that is not one of the method's named errors"
                .to_owned(),
        ];
        for (i, error) in method.errors.iter().enumerate() {
            members.push(format!(
                "  {} @{} :{};",
                error_member(error),
                i + 2,
                capnp_type_name(error)
            ));
        }
        members.push("}".to_owned());
        structs.push(StructView {
            name: result.clone(),
            doc: vec![format!("The outcome of `{}`.", method.name)],
            members,
        });
        methods.push(MethodView {
            name: method_name(&method.name),
            ordinal,
            input: capnp_type_name(&method.input),
            result,
            doc: doc_lines(&method.doc),
        });
    }
    let mut context = tera::Context::new();
    context.insert("generator_version", env!("CARGO_PKG_VERSION"));
    context.insert("coordinates", &m.coordinates);
    context.insert("version", &m.version);
    context.insert("digest", &m.digest);
    context.insert("doc", &doc_lines(&m.doc));
    context.insert("file_id", &format!("0x{:016x}", names.file_id));
    context.insert("structs", &structs);
    context.insert("enums", &enums);
    context.insert("open_enums", &open_enums);
    context.insert("interface", &names.interface);
    context.insert(
        "interface_doc",
        &vec![format!("The `{}` IOmod.", m.coordinates)],
    );
    context.insert("methods", &methods);
    render(
        "schema.capnp",
        include_str!("../../templates/schema.capnp.tera"),
        &context,
    )
}
