//! Names: the manifest's conventions and their Cap'n Proto and Rust spellings.

/// `put_item` → `PutItem`.
pub fn upper_camel(snake: &str) -> String {
    snake
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// `put_item` → `putItem`.
pub fn lower_camel(snake: &str) -> String {
    let upper = upper_camel(snake);
    let mut chars = upper.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

/// `PutItem` → `put_item` (as capnpc-rust names modules and methods).
pub fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The most `list<..>`, `map<..>` and `option<..>` one type expression may nest (the Cap'n Proto
/// compiler and the generators have limits of their own far above it).
pub const MAX_TYPE_DEPTH: usize = 16;

/// The longest name (type, field, method, value) a manifest may use.
pub const MAX_NAME_LEN: usize = 64;

/// Every Rust keyword: strict (all editions, 2018's `async`, `await`, `dyn`, 2024's `gen`), reserved for
/// the future, and weak (`union`, `macro_rules`, `raw`, `safe`). A manifest may use any of them as a name;
/// [`rust_ident`] escapes them.
pub const RUST_KEYWORDS: &[&str] = &[
    "abstract",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "macro_rules",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "raw",
    "ref",
    "return",
    "safe",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "union",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// The Rust variant of an open enum that carries the values its manifest does not list.
pub const OPEN_ENUM_UNKNOWN: &str = "Unknown";

/// Keywords Rust has no raw identifier for (`r#self` is not valid): escaped with a `_` suffix.
const NO_RAW_FORM: &[&str] = &["self", "Self", "crate", "super", "_"];

/// A manifest name (snake_case or UpperCamelCase) as a Rust identifier: a keyword becomes a raw identifier
/// (`type` → `r#type`), or, where Rust has no raw form, takes a `_` suffix (`self` → `self_`, `Self` →
/// `Self_`). A manifest name never ends with `_`, so a suffixed name never meets another.
pub fn rust_ident(name: &str) -> String {
    if NO_RAW_FORM.contains(&name) {
        format!("{name}_")
    } else if RUST_KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// The words capnpc-rust 0.27 suffixes with `_` when it turns a Cap'n Proto name into a module or method
/// name (its `RUST_KEYWORDS`): Rust 1.0's keywords and reserved words, plus words that were reserved once
/// (`alignof`, `be`, `offsetof`, `once`, `proc`, `pure`, `sizeof`). It lacks the keywords added since
/// (`async`, `await`, `dyn`, `try`, `gen`): see [`capnp_member`] and [`capnp_type`], which keep such names
/// out of the Cap'n Proto schema.
const CAPNPC_RUST_KEYWORDS: &[&str] = &[
    "abstract", "alignof", "as", "be", "become", "box", "break", "const", "continue", "crate",
    "do", "else", "enum", "extern", "false", "final", "fn", "for", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "offsetof", "once", "override", "priv", "proc",
    "pub", "pure", "ref", "return", "self", "sizeof", "static", "struct", "super", "trait", "true",
    "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// capnpc-rust's `camel_to_snake_case`: `_` before every uppercase letter but the first, then lowercase.
fn capnpc_snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The Rust name capnpc-rust 0.27 gives a Cap'n Proto name as a module (of a struct, enum, interface,
/// group, or a method's `Params`/`Results`) and as a server method: its `module_name`, snake_case with a
/// `_` suffix for the words in its keyword list (`Type` → `type_`, `once` → `once_`, `Async` → `async`).
pub fn capnpc_module(capnp_name: &str) -> String {
    let mut name = capnpc_snake(capnp_name);
    if CAPNPC_RUST_KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

/// The name of capnpc-rust's accessors of a field (`get_<it>`, `set_<it>`, `init_<it>`, `has_<it>`):
/// snake_case, never suffixed.
pub fn capnpc_accessor(capnp_name: &str) -> String {
    capnpc_snake(capnp_name)
}

/// The variant capnpc-rust gives a union member or an enumerant, and the prefix of a method's
/// `<It>Params`/`<It>Results` aliases: the Cap'n Proto name with its first letter uppercased.
pub fn capnpc_variant(capnp_name: &str) -> String {
    let mut chars = capnp_name.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// Keywords capnpc-rust would emit unescaped as a module or method (`pub mod async`), or whose capitalized
/// form is a keyword (`self` → `Self`).
fn breaks_capnpc_rust(capnp_name: &str) -> bool {
    let module = capnpc_module(capnp_name);
    (RUST_KEYWORDS.contains(&module.as_str()) && !module.ends_with('_'))
        || RUST_KEYWORDS.contains(&capnpc_variant(capnp_name).as_str())
}

/// Words the Cap'n Proto compiler reserves.
pub const CAPNP_KEYWORDS: &[&str] = &[
    "annotation",
    "const",
    "enum",
    "extends",
    "false",
    "group",
    "import",
    "inf",
    "interface",
    "nan",
    "struct",
    "true",
    "union",
    "using",
    "void",
];

/// Cap'n Proto's built-in type names, and `Iomod`, the generated schema's name for the protocol schema: a
/// declaration under one of these names would hide it.
const CAPNP_TYPE_NAMES: &[&str] = &[
    "AnyPointer",
    "AnyStruct",
    "AnyList",
    "Bool",
    "Capability",
    "Data",
    "Float32",
    "Float64",
    "Int16",
    "Int32",
    "Int64",
    "Int8",
    "Iomod",
    "List",
    "Text",
    "UInt16",
    "UInt32",
    "UInt64",
    "UInt8",
    "Void",
];

/// The Cap'n Proto name of a field, union variant, enum value or method (`put_item` → `putItem`). A name
/// that Cap'n Proto reserves, or that capnpc-rust would turn into invalid Rust, takes the suffix `suffix`
/// (`Field`, `Value`, `Method`): `self` → `selfField`. Collisions this may cause are validation errors.
pub fn capnp_member(name: &str, suffix: &str) -> String {
    let camel = lower_camel(name);
    if CAPNP_KEYWORDS.contains(&camel.as_str()) || breaks_capnpc_rust(&camel) {
        camel + suffix
    } else {
        camel
    }
}

/// The Cap'n Proto name of a type or error: the manifest's name, or, when Cap'n Proto or the generated
/// schema uses it already (`Text`, `Iomod`) or capnpc-rust would turn it into invalid Rust (`Async` →
/// `pub mod async`), the name with `Type` appended.
pub fn capnp_type(name: &str) -> String {
    if CAPNP_TYPE_NAMES.contains(&name) || breaks_capnpc_rust(name) {
        format!("{name}Type")
    } else {
        name.to_owned()
    }
}

/// Type names the host skeleton defines next to the manifest's types (its public API): a type or error of
/// the same name would clash with them.
pub const RESERVED_TYPE_NAMES: &[(&str, &str)] = &[
    ("Client", "the typed client of the host skeleton"),
    ("Server", "the Cap'n Proto server of the host skeleton"),
    ("Service", "the `iomod_sdk::Service` of the host skeleton"),
];

/// The Cap'n Proto name of the generated entry struct of `map<string, value>`.
pub fn map_entry_name(value: &crate::Type) -> String {
    capnp_type(&format!("{}Entry", mangle(value)))
}

fn mangle(ty: &crate::Type) -> String {
    use crate::Type;
    match ty {
        Type::Void => "Void".into(),
        Type::Bool => "Bool".into(),
        Type::Int(b) => format!("I{b}"),
        Type::UInt(b) => format!("U{b}"),
        Type::F32 => "F32".into(),
        Type::F64 => "F64".into(),
        Type::String => "String".into(),
        Type::Bytes => "Bytes".into(),
        Type::List(t) => format!("ListOf{}", mangle(t)),
        Type::Map(t) => format!("MapOf{}", mangle(t)),
        Type::Option(t) => format!("OptionOf{}", mangle(t)),
        Type::Named(n) => capnp_type(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(upper_camel("put_item"), "PutItem");
        assert_eq!(upper_camel("ss"), "Ss");
        assert_eq!(lower_camel("put_item"), "putItem");
        assert_eq!(lower_camel("a"), "a");
        assert_eq!(snake("PutItem"), "put_item");
        assert_eq!(snake("putItem"), "put_item");
    }

    #[test]
    fn rust_identifiers_escape_every_keyword() {
        assert_eq!(rust_ident("type"), "r#type");
        assert_eq!(rust_ident("async"), "r#async");
        assert_eq!(rust_ident("gen"), "r#gen");
        assert_eq!(rust_ident("union"), "r#union");
        assert_eq!(rust_ident("self"), "self_");
        assert_eq!(rust_ident("Self"), "Self_");
        assert_eq!(rust_ident("crate"), "crate_");
        assert_eq!(rust_ident("super"), "super_");
        assert_eq!(rust_ident("table_name"), "table_name");
        assert_eq!(rust_ident("Type"), "Type");
    }

    /// capnpc-rust 0.27's `module_name`: its own keyword list, which has `once` and `pure` and lacks
    /// `async`, `dyn`, `try` and `gen`.
    #[test]
    fn capnpc_rust_module_names() {
        assert_eq!(capnpc_module("PutItemInput"), "put_item_input");
        assert_eq!(capnpc_module("Type"), "type_");
        assert_eq!(capnpc_module("Struct"), "struct_");
        assert_eq!(capnpc_module("once"), "once_");
        assert_eq!(capnpc_module("pure"), "pure_");
        assert_eq!(capnpc_module("Self"), "self_");
        assert_eq!(capnpc_module("async"), "async");
        assert_eq!(capnpc_module("typeParams"), "type_params");
        assert_eq!(capnpc_module("uint32Id"), "uint32_id");
        assert_eq!(capnpc_accessor("type"), "type");
        assert_eq!(capnpc_variant("self"), "Self");
    }

    #[test]
    fn capnp_names_avoid_what_capnp_and_capnpc_rust_reserve() {
        assert_eq!(capnp_member("put_item", "Field"), "putItem");
        assert_eq!(capnp_member("type", "Field"), "type");
        assert_eq!(capnp_member("struct", "Field"), "structField");
        assert_eq!(capnp_member("self", "Value"), "selfValue");
        assert_eq!(capnp_member("async", "Method"), "asyncMethod");
        assert_eq!(capnp_member("dyn", "Field"), "dynField");
        assert_eq!(capnp_type("Text"), "TextType");
        assert_eq!(capnp_type("Iomod"), "IomodType");
        assert_eq!(capnp_type("Async"), "AsyncType");
        assert_eq!(capnp_type("Self"), "SelfType");
        assert_eq!(capnp_type("Type"), "Type");
    }
}
