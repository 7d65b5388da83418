//! `iomod.toml` text to a [`Manifest`], collecting every problem on the way.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostics::{Diagnostic, did_you_mean};
use crate::manifest::{
    EnumValue, ErrorDef, Field, Manifest, Method, Process, Type, TypeDef, TypeKind,
};
use crate::naming::upper_camel;

type Table<'i> = DeTable<'i>;

pub(crate) struct Parser<'s> {
    source: &'s str,
    pub(crate) problems: Vec<Diagnostic>,
}

impl<'s> Parser<'s> {
    pub(crate) fn new(source: &'s str) -> Self {
        Self {
            source,
            problems: Vec::new(),
        }
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        self.problems.push(Diagnostic::new(span, message));
        self.problems.last_mut().unwrap_or_else(|| unreachable!())
    }

    pub(crate) fn parse(&mut self) -> Option<Manifest> {
        let root = match DeTable::parse(self.source) {
            Ok(root) => root,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let mut message = format!("invalid TOML: {}", e.message().trim());
                if message.contains("duplicate key") {
                    let key = self.source.get(span.clone()).unwrap_or("").trim();
                    message = format!("`{key}` is declared more than once");
                }
                let hint = if message.contains("more than once") {
                    "each key, method and type can be declared only once"
                } else {
                    "see the TOML syntax at https://toml.io"
                };
                self.error(span, message).hint = Some(hint.into());
                return None;
            }
        };
        let root_span = root.span();
        let root = root.into_inner();
        self.unknown_keys(
            &root,
            &["iomod", "process", "types", "errors", "methods"],
            "the top level",
        );

        let mut manifest = Manifest {
            coordinates: String::new(),
            version: String::new(),
            doc: String::new(),
            process: None,
            types: Vec::new(),
            errors: Vec::new(),
            methods: Vec::new(),
            digest: crate::digest(self.source),
        };
        match self.table_at(&root, "iomod") {
            Some((iomod, _)) => {
                self.unknown_keys(iomod, &["coordinates", "version", "doc"], "[iomod]");
                if let Some((c, span)) =
                    self.required_str(iomod, "coordinates", "[iomod]", root_span.clone())
                {
                    if let Err(e) = c.parse::<iomod_sdk::Coordinates>() {
                        let (_, reason) = e
                            .to_string()
                            .split_once(": ")
                            .map_or((String::new(), e.to_string()), |(a, b)| {
                                (a.to_owned(), b.to_owned())
                            });
                        self.error(span.clone(), format!("invalid coordinates `{c}`: {reason}")).hint =
                            Some("coordinates are organization.namespace.name, for example `example.aws.dynamodb`".into());
                    }
                    manifest.coordinates = c;
                }
                if let Some((v, span)) =
                    self.required_str(iomod, "version", "[iomod]", root_span.clone())
                {
                    if let Err(e) = iomod_sdk::check_version(&v) {
                        let reason = e.to_string();
                        let reason = reason
                            .split_once(": ")
                            .map_or(reason.as_str(), |(_, r)| r)
                            .to_owned();
                        self.error(span, format!("invalid version `{v}`: {reason}"))
                            .hint = Some("use a semantic version such as `1.0.0`".into());
                    }
                    manifest.version = v;
                }
                manifest.doc = self.optional_str(iomod, "doc").unwrap_or_default();
            }
            None => {
                self.error(0..0, "the manifest has no [iomod] table").hint = Some(
                    "start with [iomod] coordinates = \"org.namespace.name\", version = \"0.1.0\""
                        .into(),
                );
            }
        }
        if let Some((process, span)) = self.table_at(&root, "process") {
            self.unknown_keys(process, &["entrypoint", "arguments"], "[process]");
            let entrypoint = self
                .required_str(process, "entrypoint", "[process]", span)
                .map(|(e, _)| e)
                .unwrap_or_default();
            let arguments = self
                .string_list(process, "arguments")
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            manifest.process = Some(Process {
                entrypoint,
                arguments,
            });
        }
        if let Some((types, _)) = self.table_at(&root, "types") {
            for (name, value) in types.iter() {
                if let Some(def) = self.type_def(name, value) {
                    manifest.types.push(def);
                }
            }
        }
        if let Some((errors, _)) = self.table_at(&root, "errors") {
            for (name, value) in errors.iter() {
                let Some(table) = self.expect_table(value, &format!("error `{}`", name.get_ref()))
                else {
                    continue;
                };
                self.unknown_keys(
                    table,
                    &["doc", "fields"],
                    &format!("[errors.{}]", name.get_ref()),
                );
                let fields = match self.table_at(table, "fields") {
                    Some((fields, _)) => self.fields(fields, false),
                    None => Vec::new(),
                };
                manifest.errors.push(ErrorDef {
                    name: name.get_ref().to_string(),
                    doc: self.optional_str(table, "doc").unwrap_or_default(),
                    fields,
                    span: name.span(),
                });
            }
        }
        if let Some((methods, _)) = self.table_at(&root, "methods") {
            for (name, value) in methods.iter() {
                if let Some(method) = self.method(name, value, &mut manifest.types) {
                    manifest.methods.push(method);
                }
            }
        }
        Some(manifest)
    }

    fn type_def(
        &mut self,
        name: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<TypeDef> {
        let type_name = name.get_ref().to_string();
        let table = self.expect_table(value, &format!("type `{type_name}`"))?;
        let section = format!("[types.{type_name}]");
        self.unknown_keys(table, &["doc", "fields", "enum", "union", "open"], &section);
        let doc = self.optional_str(table, "doc").unwrap_or_default();
        let open = self.open(table, &type_name);
        let kinds: Vec<&str> = ["fields", "enum", "union"]
            .into_iter()
            .filter(|k| table.get(*k).is_some())
            .collect();
        if kinds.len() != 1 {
            let message = if kinds.is_empty() {
                format!(
                    "type `{type_name}` says neither what fields it has, nor its enum values, nor its union variants"
                )
            } else {
                format!(
                    "type `{type_name}` declares {}; a type is exactly one of them",
                    kinds.join(" and ")
                )
            };
            self.error(name.span(), message).hint = Some(
                "use `fields = { .. }` for a struct, `enum = [..]` for an enum, or `union = { .. }` for a tagged union".into(),
            );
            return None;
        }
        if let (Some(_), Some(what)) = (open, kind_name(kinds[0])) {
            let span = key_span(table, "open").unwrap_or_else(|| name.span());
            self.error(
                span,
                format!("`open` applies only to enums, and type `{type_name}` is {what}"),
            )
            .hint = Some(
                "`open = true` lets an enum carry values its manifest does not list; remove it here"
                    .into(),
            );
        }
        let kind = match kinds[0] {
            "fields" => TypeKind::Struct(
                self.table_at(table, "fields")
                    .map(|(f, _)| self.fields(f, false))
                    .unwrap_or_default(),
            ),
            "union" => TypeKind::Union(
                self.table_at(table, "union")
                    .map(|(f, _)| self.fields(f, true))
                    .unwrap_or_default(),
            ),
            _ => TypeKind::Enum {
                values: self.enum_values(table),
                open: open.unwrap_or(false),
            },
        };
        Some(TypeDef {
            name: type_name,
            doc,
            kind,
            span: name.span(),
        })
    }

    /// `open = true | false` of a type, when written.
    fn open(&mut self, table: &Table<'_>, type_name: &str) -> Option<bool> {
        let value = table.get("open")?;
        match value.get_ref() {
            DeValue::Boolean(open) => Some(*open),
            other => {
                self.error(
                    value.span(),
                    format!(
                        "`open` in [types.{type_name}] must be a boolean, found {}",
                        other.type_str()
                    ),
                )
                .hint = Some("write open = true (or leave it out for a closed enum)".into());
                None
            }
        }
    }

    fn enum_values(&mut self, table: &Table<'_>) -> Vec<EnumValue> {
        let Some(value) = table.get("enum") else {
            return Vec::new();
        };
        let Some(array) = value.get_ref().as_array() else {
            self.error(
                value.span(),
                format!(
                    "`enum` must be an array of value names, found {}",
                    value.get_ref().type_str()
                ),
            )
            .hint = Some("for example enum = [\"all_old\", \"all_new\"]".into());
            return Vec::new();
        };
        let mut values = Vec::new();
        for item in array.iter() {
            match item.get_ref() {
                DeValue::String(s) => values.push(EnumValue {
                    name: s.to_string(),
                    doc: String::new(),
                    span: item.span(),
                }),
                DeValue::Table(t) => {
                    self.unknown_keys(t, &["name", "doc"], "an enum value");
                    if let Some((name, span)) =
                        self.required_str(t, "name", "an enum value", item.span())
                    {
                        values.push(EnumValue {
                            name,
                            doc: self.optional_str(t, "doc").unwrap_or_default(),
                            span,
                        });
                    }
                }
                other => {
                    self.error(
                        item.span(),
                        format!(
                            "an enum value must be a name (a string), found {}",
                            other.type_str()
                        ),
                    );
                }
            }
        }
        values
    }

    /// Fields (or union variants): `name = "type"` or `name = { type = "..", doc = ".." }`.
    fn fields(&mut self, table: &Table<'_>, union: bool) -> Vec<Field> {
        let mut fields = Vec::new();
        for (name, value) in table.iter() {
            let what = if union { "variant" } else { "field" };
            let (ty_text, ty_span, doc) = match value.get_ref() {
                DeValue::String(s) => (
                    s.to_string(),
                    string_inner_span(self.source, value.span()),
                    String::new(),
                ),
                DeValue::Table(t) => {
                    self.unknown_keys(t, &["type", "doc"], &format!("{what} `{}`", name.get_ref()));
                    let Some((ty, span)) = self.required_str(
                        t,
                        "type",
                        &format!("{what} `{}`", name.get_ref()),
                        value.span(),
                    ) else {
                        continue;
                    };
                    (
                        ty,
                        string_inner_span(self.source, span),
                        self.optional_str(t, "doc").unwrap_or_default(),
                    )
                }
                other => {
                    self.error(
                        value.span(),
                        format!(
                            "{what} `{}` must be a type name or a table, found {}",
                            name.get_ref(),
                            other.type_str()
                        ),
                    )
                    .hint = Some(format!(
                        "for example {} = \"string\", or {} = {{ type = \"string\", doc = \"..\" }}",
                        name.get_ref(),
                        name.get_ref()
                    ));
                    continue;
                }
            };
            let Some(ty) = self.type_expr(&ty_text, ty_span.clone()) else {
                continue;
            };
            fields.push(Field {
                name: name.get_ref().to_string(),
                ty,
                doc,
                span: name.span(),
                ty_span,
            });
        }
        fields
    }

    fn method(
        &mut self,
        name: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
        types: &mut Vec<TypeDef>,
    ) -> Option<Method> {
        let method_name = name.get_ref().to_string();
        let table = self.expect_table(value, &format!("method `{method_name}`"))?;
        self.unknown_keys(
            table,
            &["doc", "input", "output", "errors"],
            &format!("[methods.{method_name}]"),
        );
        let mut io = |parser: &mut Self, key: &str| -> (String, Range<usize>) {
            let synthesized = format!("{}{}", upper_camel(&method_name), upper_camel(key));
            match table.get(key) {
                None => {
                    // No input or output: an empty struct.
                    types.push(TypeDef {
                        name: synthesized.clone(),
                        doc: format!("The {key} of `{method_name}`."),
                        kind: TypeKind::Struct(Vec::new()),
                        span: name.span(),
                    });
                    (synthesized, name.span())
                }
                Some(v) => match v.get_ref() {
                    DeValue::String(s) => {
                        (s.to_string(), string_inner_span(parser.source, v.span()))
                    }
                    DeValue::Table(t) => {
                        let fields = parser.fields(t, false);
                        types.push(TypeDef {
                            name: synthesized.clone(),
                            doc: format!("The {key} of `{method_name}`."),
                            kind: TypeKind::Struct(fields),
                            span: v.span(),
                        });
                        (synthesized, v.span())
                    }
                    other => {
                        parser.error(v.span(), format!("`{key}` of method `{method_name}` must be a struct type name or a table of fields, found {}", other.type_str()));
                        (String::new(), v.span())
                    }
                },
            }
        };
        let (input, input_span) = io(self, "input");
        let (output, output_span) = io(self, "output");
        let errors = self.string_list(table, "errors");
        Some(Method {
            name: method_name,
            doc: self.optional_str(table, "doc").unwrap_or_default(),
            input,
            output,
            error_spans: errors.iter().map(|(_, s)| s.clone()).collect(),
            errors: errors.into_iter().map(|(e, _)| e).collect(),
            span: name.span(),
            input_span,
            output_span,
        })
    }

    /// Parses a type expression such as `map<string, list<AttributeValue>>`.
    pub(crate) fn type_expr(&mut self, text: &str, inner: Range<usize>) -> Option<Type> {
        let mut cursor = TypeCursor {
            text,
            pos: 0,
            depth: 0,
        };
        match cursor.parse() {
            Ok(ty) => {
                cursor.skip_ws();
                if cursor.pos < text.len() {
                    let at = inner.start + cursor.pos;
                    self.error(
                        at..inner.end,
                        format!(
                            "unexpected `{}` after the type in `{text}`",
                            &text[cursor.pos..]
                        ),
                    )
                    .hint =
                        Some("a type is one name, or list<T>, map<string, T> or option<T>".into());
                    return None;
                }
                Some(ty)
            }
            Err((range, message, hint)) => {
                let start = (inner.start + range.start).min(inner.end);
                let end = (inner.start + range.end).clamp(start + 1, inner.end.max(start + 1));
                self.error(start..end, message).hint = hint;
                None
            }
        }
    }

    fn table_at<'t, 'i>(
        &mut self,
        table: &'t Table<'i>,
        key: &str,
    ) -> Option<(&'t Table<'i>, Range<usize>)> {
        let value = table.get(key)?;
        let span = value.span();
        self.expect_table(value, &format!("`{key}`"))
            .map(|t| (t, span))
    }

    fn expect_table<'t, 'i>(
        &mut self,
        value: &'t Spanned<DeValue<'i>>,
        what: &str,
    ) -> Option<&'t Table<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn required_str(
        &mut self,
        table: &Table<'_>,
        key: &str,
        section: &str,
        missing_span: Range<usize>,
    ) -> Option<(String, Range<usize>)> {
        match table.get(key) {
            Some(v) => match v.get_ref() {
                DeValue::String(s) => Some((s.to_string(), v.span())),
                other => {
                    self.error(
                        v.span(),
                        format!(
                            "`{key}` in {section} must be a string, found {}",
                            other.type_str()
                        ),
                    );
                    None
                }
            },
            None => {
                self.error(missing_span, format!("{section} has no `{key}`"));
                None
            }
        }
    }

    fn optional_str(&mut self, table: &Table<'_>, key: &str) -> Option<String> {
        let v = table.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.error(
                    v.span(),
                    format!("`{key}` must be a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn string_list(&mut self, table: &Table<'_>, key: &str) -> Vec<(String, Range<usize>)> {
        let Some(v) = table.get(key) else {
            return Vec::new();
        };
        let Some(array) = v.get_ref().as_array() else {
            self.error(
                v.span(),
                format!(
                    "`{key}` must be an array of strings, found {}",
                    v.get_ref().type_str()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in array.iter() {
            match item.get_ref() {
                DeValue::String(s) => {
                    out.push((s.to_string(), string_inner_span(self.source, item.span())))
                }
                other => {
                    self.error(
                        item.span(),
                        format!("`{key}` must hold strings, found {}", other.type_str()),
                    );
                }
            }
        }
        out
    }

    fn unknown_keys(&mut self, table: &Table<'_>, known: &[&str], section: &str) {
        for (key, _) in table.iter() {
            let key_text = key.get_ref().as_ref();
            if !known.contains(&key_text) {
                let hint = match did_you_mean(key_text, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("{section} accepts: {}", known.join(", ")),
                };
                self.error(key.span(), format!("unknown key `{key_text}` in {section}"))
                    .hint = Some(hint);
            }
        }
    }
}

/// How a message names a kind of type other than an enum (`None` for an enum).
fn kind_name(key: &str) -> Option<&'static str> {
    match key {
        "fields" => Some("a struct"),
        "union" => Some("a union"),
        _ => None,
    }
}

/// Where `key` is written in `table`.
fn key_span(table: &Table<'_>, key: &str) -> Option<Range<usize>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(k, _)| k.span())
}

/// The span of a string's contents, without its quotes (for basic and literal strings on one line).
fn string_inner_span(source: &str, span: Range<usize>) -> Range<usize> {
    let text = source.get(span.clone()).unwrap_or("");
    if text.len() >= 2
        && (text.starts_with('"') || text.starts_with('\''))
        && !text.starts_with("\"\"\"")
        && !text.starts_with("'''")
    {
        span.start + 1..span.end - 1
    } else {
        span
    }
}

struct TypeCursor<'t> {
    text: &'t str,
    pos: usize,
    /// How many `list<`, `map<` and `option<` enclose the position.
    depth: usize,
}

type TypeError = (Range<usize>, String, Option<String>);

impl TypeCursor<'_> {
    fn skip_ws(&mut self) {
        while self.text[self.pos..].starts_with(' ') {
            self.pos += 1;
        }
    }

    fn ident(&mut self) -> &str {
        self.skip_ws();
        let start = self.pos;
        while self.text[self.pos..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn expect(&mut self, c: char, context: &str) -> Result<(), TypeError> {
        self.skip_ws();
        if self.text[self.pos..].starts_with(c) {
            self.pos += 1;
            Ok(())
        } else {
            let found = self.text[self.pos..]
                .chars()
                .next()
                .map_or("the end".to_owned(), |c| format!("`{c}`"));
            Err((
                self.pos..self.pos + 1,
                format!("expected `{c}` {context}, found {found} in `{}`", self.text),
                None,
            ))
        }
    }

    fn parse(&mut self) -> Result<Type, TypeError> {
        let start = {
            self.skip_ws();
            self.pos
        };
        let name = self.ident().to_owned();
        if name.is_empty() {
            let found = self.text[self.pos..]
                .chars()
                .next()
                .map_or("nothing".to_owned(), |c| format!("`{c}`"));
            return Err((self.pos..self.pos + 1, format!("expected a type, found {found}"), Some("types are bool, i8..i64, u8..u64, f32, f64, string, bytes, list<T>, map<string, T>, option<T>, or a named type".into())));
        }
        if matches!(name.as_str(), "list" | "map" | "option") {
            self.depth += 1;
            if self.depth > crate::naming::MAX_TYPE_DEPTH {
                return Err((
                    start..self.pos,
                    format!(
                        "this type nests more than {} levels of list<..>, map<..> and option<..>",
                        crate::naming::MAX_TYPE_DEPTH
                    ),
                    Some("name an inner type in [types] and use it here".into()),
                ));
            }
        }
        let generic = |this: &mut Self, what: &str| -> Result<Type, TypeError> {
            this.expect('<', &format!("after `{what}`"))?;
            let inner = this.parse()?;
            this.expect('>', &format!("to close `{what}<`"))?;
            Ok(inner)
        };
        Ok(match name.as_str() {
            "void" => Type::Void,
            "bool" => Type::Bool,
            "i8" => Type::Int(8),
            "i16" => Type::Int(16),
            "i32" => Type::Int(32),
            "i64" => Type::Int(64),
            "u8" => Type::UInt(8),
            "u16" => Type::UInt(16),
            "u32" => Type::UInt(32),
            "u64" => Type::UInt(64),
            "f32" => Type::F32,
            "f64" => Type::F64,
            "string" => Type::String,
            "bytes" => Type::Bytes,
            "list" => Type::List(Box::new(generic(self, "list")?)),
            "option" => Type::Option(Box::new(generic(self, "option")?)),
            "map" => {
                self.expect('<', "after `map`")?;
                let key_at = {
                    self.skip_ws();
                    self.pos
                };
                let key = self.parse()?;
                if key != Type::String {
                    return Err((
                        key_at..self.pos,
                        format!("map keys must be `string`, not `{}`", key.to_manifest()),
                        Some("write map<string, T>".into()),
                    ));
                }
                self.expect(',', "between the key and value types of `map`")?;
                let value = self.parse()?;
                self.expect('>', "to close `map<`")?;
                Type::Map(Box::new(value))
            }
            other => {
                const BUILTIN: [&str; 17] = [
                    "void", "bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32",
                    "f64", "string", "bytes", "list", "map", "option",
                ];
                if other.starts_with(|c: char| c.is_ascii_uppercase()) {
                    Type::Named(other.to_owned())
                } else {
                    let hint = did_you_mean(other, BUILTIN).map_or_else(
                        || "named types start with an uppercase letter".to_owned(),
                        |s| format!("did you mean `{s}`?"),
                    );
                    return Err((
                        start..start + other.len(),
                        format!("unknown type `{other}`"),
                        Some(hint),
                    ));
                }
            }
        })
    }
}
