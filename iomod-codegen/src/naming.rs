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

/// The longest name (type, field, method, value) a manifest may use.
pub const MAX_NAME_LEN: usize = 64;

/// Words Rust reserves: not usable as field, method or value names.
pub const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// The Rust variant of an open enum that carries the values its manifest does not list.
pub const OPEN_ENUM_UNKNOWN: &str = "Unknown";

/// Words Cap'n Proto reserves.
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

/// Type names the generated code uses itself (Rust's prelude, Cap'n Proto's built-in types).
pub const RESERVED_TYPE_NAMES: &[&str] = &[
    "AnyPointer",
    "Bool",
    "Box",
    "Capability",
    "Data",
    "Error",
    "Float32",
    "Float64",
    "Int16",
    "Int32",
    "Int64",
    "Int8",
    "Iomod",
    "List",
    "Option",
    "Result",
    "Self",
    "String",
    "Text",
    "UInt16",
    "UInt32",
    "UInt64",
    "UInt8",
    "Vec",
    "Void",
    "BTreeMap",
    "Client",
    "Server",
    "Ok",
    "Failed",
];

/// The name of the generated entry struct of `map<string, value>`.
pub fn map_entry_name(value: &crate::Type) -> String {
    format!("{}Entry", mangle(value))
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
        Type::Named(n) => n.clone(),
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
}
