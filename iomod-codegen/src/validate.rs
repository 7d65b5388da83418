//! Checks that a [`Manifest`] can be generated: names, references, positions of types, recursion.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use crate::diagnostics::{Diagnostic, did_you_mean};
use crate::generate::capnp::{error_member, field_name, method_name, value_name};
use crate::manifest::{Field, Manifest, Type, TypeKind};
use crate::naming::{
    MAX_NAME_LEN, MAX_TYPE_DEPTH, OPEN_ENUM_UNKNOWN, RESERVED_TYPE_NAMES, capnp_type,
    map_entry_name, rust_ident, upper_camel,
};

/// Names that must differ within one scope of a generated language: each name met, with where and what.
struct Scope<'a> {
    what: &'a str,
    seen: BTreeMap<String, (String, Range<usize>)>,
}

impl<'a> Scope<'a> {
    fn new(what: &'a str) -> Self {
        Self {
            what,
            seen: BTreeMap::new(),
        }
    }

    /// Records that `manifest` becomes `generated`; a second manifest name becoming the same is an error.
    fn add(
        &mut self,
        generated: String,
        manifest: &str,
        span: &Range<usize>,
        out: &mut Vec<Diagnostic>,
    ) {
        match self.seen.get(&generated) {
            Some((other, _)) if other != manifest => out.push(
                Diagnostic::new(
                    span.clone(),
                    format!(
                        "`{manifest}` and `{other}` are both `{generated}` in {}",
                        self.what
                    ),
                )
                .hint("rename one of them: case conversion drops `_` and escaping appends a suffix, so the two names would clash"),
            ),
            Some(_) => {}
            None => {
                self.seen
                    .insert(generated, (manifest.to_owned(), span.clone()));
            }
        }
    }
}

/// Where a type is used: some types are not allowed everywhere.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    Field,
    Variant,
    Element,
}

pub(crate) fn validate(m: &Manifest, out: &mut Vec<Diagnostic>) {
    let mut declared: HashMap<&str, Range<usize>> = HashMap::new();
    for (name, span, what) in m
        .types
        .iter()
        .map(|t| (&t.name, &t.span, "type"))
        .chain(m.errors.iter().map(|e| (&e.name, &e.span, "error")))
    {
        if let Some(problem) = check_type_name(name) {
            out.push(
                Diagnostic::new(
                    span.clone(),
                    format!("invalid {what} name `{name}`: {problem}"),
                )
                .hint("type and error names are UpperCamelCase, like `PutItemInput`"),
            );
        }
        if declared.insert(name, span.clone()).is_some() {
            out.push(Diagnostic::new(
                span.clone(),
                format!(
                    "`{name}` is declared more than once (types and errors share one namespace)"
                ),
            ));
        }
    }

    for t in &m.types {
        match &t.kind {
            TypeKind::Struct(fields) => check_fields(
                m,
                fields,
                &format!("type `{}`", t.name),
                Position::Field,
                out,
            ),
            TypeKind::Union(variants) => {
                if variants.len() < 2 {
                    out.push(
                        Diagnostic::new(
                            t.span.clone(),
                            format!(
                                "union `{}` has {} variant(s); a union needs at least two",
                                t.name,
                                variants.len()
                            ),
                        )
                        .hint("use a struct for a single value"),
                    );
                }
                check_fields(
                    m,
                    variants,
                    &format!("union `{}`", t.name),
                    Position::Variant,
                    out,
                );
            }
            TypeKind::Enum { values, open } => {
                if values.is_empty() {
                    out.push(Diagnostic::new(
                        t.span.clone(),
                        format!("enum `{}` has no values", t.name),
                    ));
                }
                let mut seen = BTreeSet::new();
                let mut capnp = Scope::new("Cap'n Proto");
                let mut rust = Scope::new("Rust");
                for v in values {
                    if !*open {
                        capnp.add(value_name(&v.name), &v.name, &v.span, out);
                    }
                    rust.add(rust_ident(&upper_camel(&v.name)), &v.name, &v.span, out);
                    if let Some(problem) = check_member_name(&v.name) {
                        out.push(
                            Diagnostic::new(
                                v.span.clone(),
                                format!("invalid enum value `{}`: {problem}", v.name),
                            )
                            .hint("enum values are snake_case, like `all_old`"),
                        );
                    }
                    if !seen.insert(v.name.as_str()) {
                        out.push(Diagnostic::new(
                            v.span.clone(),
                            format!("enum value `{}` appears twice in `{}`", v.name, t.name),
                        ));
                    }
                    if *open && upper_camel(&v.name) == OPEN_ENUM_UNKNOWN {
                        out.push(
                            Diagnostic::new(
                                v.span.clone(),
                                format!(
                                    "open enum `{}` cannot list `{}`: its Rust variant `{OPEN_ENUM_UNKNOWN}` carries the values the manifest does not list",
                                    t.name, v.name
                                ),
                            )
                            .hint("rename the value, or make the enum closed (leave out `open = true`)"),
                        );
                    }
                }
                if values.len() > usize::from(u16::MAX) {
                    out.push(Diagnostic::new(
                        t.span.clone(),
                        format!("enum `{}` has more than 65535 values", t.name),
                    ));
                }
            }
        }
    }
    for e in &m.errors {
        check_fields(
            m,
            &e.fields,
            &format!("error `{}`", e.name),
            Position::Field,
            out,
        );
    }

    // Names the generator derives must not clash with declared ones: in Rust, the host module holds the
    // manifest's types next to each method's error enum, the IOmod's trait and the skeleton's `Client`,
    // `Server` and `Service`; in Cap'n Proto, the file holds them next to each method's result struct,
    // the map entry structs and the interface.
    let names = crate::generate::Names::of(m);
    let mut generated: BTreeMap<String, String> = BTreeMap::new();
    let mut generated_capnp: BTreeMap<String, String> = BTreeMap::new();
    for method in &m.methods {
        let camel = upper_camel(&method.name);
        generated_capnp.insert(
            names.result_struct(method),
            format!("the results of method `{}`", method.name),
        );
        generated.insert(
            format!("{camel}Error"),
            format!("the errors of method `{}`", method.name),
        );
    }
    for (name, what) in RESERVED_TYPE_NAMES {
        generated.insert((*name).to_owned(), (*what).to_owned());
    }
    generated.insert(
        names.rust_interface.clone(),
        "the trait an implementation of the IOmod implements".to_owned(),
    );
    generated_capnp.insert(
        names.interface.clone(),
        "the IOmod's Cap'n Proto interface".to_owned(),
    );
    let mut entries = Scope::new("Cap'n Proto (as map entry structs)");
    for (ty, span) in map_types(m) {
        let map = Type::Map(Box::new(ty.clone())).to_manifest();
        entries.add(map_entry_name(&ty), &map, &span, out);
        generated_capnp.insert(map_entry_name(&ty), format!("the entries of `{map}`"));
    }
    let mut capnp_types = Scope::new("Cap'n Proto");
    let in_order = m
        .types
        .iter()
        .map(|t| (t.name.as_str(), &t.span))
        .chain(m.errors.iter().map(|e| (e.name.as_str(), &e.span)));
    for (name, span) in in_order {
        capnp_types.add(capnp_type(name), name, span, out);
        let rust = rust_ident(name);
        let capnp = capnp_type(name);
        for (generated_name, table, language) in [
            (&rust, &generated, "Rust"),
            (&capnp, &generated_capnp, "Cap'n Proto"),
        ] {
            if let Some(what) = table.get(generated_name) {
                out.push(
                    Diagnostic::new(
                        span.clone(),
                        format!(
                            "`{name}` clashes with `{generated_name}`, the generated {language} name of {what}"
                        ),
                    )
                    .hint("rename the type"),
                );
            }
        }
    }
    for e in &m.errors {
        if e.name == "Failed" {
            out.push(
                Diagnostic::new(
                    e.span.clone(),
                    "an error cannot be named `Failed`: each method's error enum has a variant `Failed` for the failures that are not its named errors, next to one variant per named error",
                )
                .hint("rename the error"),
            );
        }
    }
    let mut capnp_methods = Scope::new("Cap'n Proto (and in each method's `<Method>Error` enum)");
    for method in &m.methods {
        capnp_methods.add(method_name(&method.name), &method.name, &method.span, out);
        if ["new", "in_process", "try_in_process", "connection"].contains(&method.name.as_str()) {
            out.push(
                Diagnostic::new(
                    method.span.clone(),
                    format!(
                        "a method cannot be named `{}`: the host skeleton's `Client` has a function of that name next to one per method",
                        method.name
                    ),
                )
                .hint("rename the method"),
            );
        }
        let mut members = Scope::new("the Cap'n Proto result union");
        members.add("ok".into(), "ok", &method.span, out);
        members.add("failed".into(), "failed", &method.span, out);
        for (error, span) in method.errors.iter().zip(&method.error_spans) {
            members.add(error_member(error), error, span, out);
        }
    }

    let mut method_names = BTreeSet::new();
    for method in &m.methods {
        if let Some(problem) = check_member_name(&method.name) {
            out.push(
                Diagnostic::new(
                    method.span.clone(),
                    format!("invalid method name `{}`: {problem}", method.name),
                )
                .hint("method names are snake_case, like `put_item`"),
            );
        }
        method_names.insert(method.name.as_str());
        for (what, name, span) in [
            ("input", &method.input, &method.input_span),
            ("output", &method.output, &method.output_span),
        ] {
            if name.is_empty() {
                continue;
            }
            match m.type_def(name).map(|t| &t.kind) {
                Some(TypeKind::Struct(_)) => {}
                Some(_) => out.push(
                    Diagnostic::new(
                        span.clone(),
                        format!(
                            "the {what} of `{}` must be a struct, and `{name}` is not one",
                            method.name
                        ),
                    )
                    .hint("wrap it in a struct, or write the fields inline: input = { .. }"),
                ),
                None if m.error_def(name).is_some() => out.push(
                    Diagnostic::new(span.clone(), format!("`{name}` is an error, not a type"))
                        .hint(format!("the {what} of a method is a struct from [types]")),
                ),
                None => out.push(unknown_type(m, name, span.clone())),
            }
        }
        let mut seen = BTreeSet::new();
        for (error, span) in method.errors.iter().zip(
            method
                .error_spans
                .iter()
                .cloned()
                .chain(std::iter::repeat(0..0)),
        ) {
            if !seen.insert(error.as_str()) {
                out.push(Diagnostic::new(
                    span.clone(),
                    format!("error `{error}` is listed twice for `{}`", method.name),
                ));
            }
            if m.error_def(error).is_none() {
                let hint = match did_you_mean(error, m.errors.iter().map(|e| e.name.as_str())) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if m.type_def(error).is_some() => {
                        format!("`{error}` is a type; declare errors under [errors.{error}]")
                    }
                    None => format!("declare it as [errors.{error}]"),
                };
                out.push(
                    Diagnostic::new(
                        span,
                        format!("method `{}` returns unknown error `{error}`", method.name),
                    )
                    .hint(hint),
                );
            }
        }
    }
    if m.methods.len() > usize::from(u16::MAX) {
        out.push(Diagnostic::new(0..0, "more than 65535 methods"));
    }
    check_recursion(m, out);
}

fn check_type_name(name: &str) -> Option<String> {
    if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Some("it must start with an uppercase ASCII letter".into());
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Some(format!(
            "it contains {c:?}; only letters and digits are allowed"
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!("it is longer than {MAX_NAME_LEN} characters"));
    }
    None
}

/// Fields, variants, values and methods: snake_case (keywords included: generated code escapes them).
fn check_member_name(name: &str) -> Option<String> {
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("it must start with a lowercase ASCII letter".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Some(format!(
            "it contains {c:?}; only a-z, 0-9 and _ are allowed"
        ));
    }
    if name.contains("__") || name.ends_with('_') {
        return Some("underscores separate words: no doubled or trailing `_`".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!("it is longer than {MAX_NAME_LEN} characters"));
    }
    None
}

fn check_fields(
    m: &Manifest,
    fields: &[Field],
    owner: &str,
    position: Position,
    out: &mut Vec<Diagnostic>,
) {
    let what = if position == Position::Variant {
        "variant"
    } else {
        "field"
    };
    let mut seen = BTreeSet::new();
    let mut capnp = Scope::new("Cap'n Proto");
    let mut rust = Scope::new("Rust");
    for f in fields {
        capnp.add(field_name(&f.name), &f.name, &f.span, out);
        if position == Position::Variant {
            rust.add(rust_ident(&upper_camel(&f.name)), &f.name, &f.span, out);
        }
        if let Some(problem) = check_member_name(&f.name) {
            out.push(
                Diagnostic::new(
                    f.span.clone(),
                    format!("invalid {what} name `{}` in {owner}: {problem}", f.name),
                )
                .hint(format!("{what} names are snake_case, like `table_name`")),
            );
        }
        if !seen.insert(f.name.as_str()) {
            out.push(Diagnostic::new(
                f.span.clone(),
                format!("{what} `{}` appears twice in {owner}", f.name),
            ));
        }
        if type_depth(&f.ty) > MAX_TYPE_DEPTH {
            out.push(Diagnostic::new(
                f.ty_span.clone(),
                format!("this type nests more than {MAX_TYPE_DEPTH} levels of list<..>, map<..> and option<..>"),
            ).hint("name an inner type in [types] and use it here"));
            continue;
        }
        check_type(m, &f.ty, &f.ty_span, position, out);
    }
    if fields.len() > usize::from(u16::MAX) / 2 {
        out.push(Diagnostic::new(
            0..0,
            format!("{owner} has too many {what}s"),
        ));
    }
}

fn check_type(
    m: &Manifest,
    ty: &Type,
    span: &Range<usize>,
    position: Position,
    out: &mut Vec<Diagnostic>,
) {
    match ty {
        Type::Void if position != Position::Variant => {
            out.push(
                Diagnostic::new(
                    span.clone(),
                    "`void` can only be the type of a union variant",
                )
                .hint("use option<T> for an optional value"),
            );
        }
        Type::Option(inner) => {
            if position != Position::Field {
                let hint = if position == Position::Variant {
                    "a variant is already optional: use the inner type"
                } else {
                    "wrap it in a struct with an option field"
                };
                out.push(
                    Diagnostic::new(
                        span.clone(),
                        format!(
                            "`{}` cannot be a {}",
                            ty.to_manifest(),
                            if position == Position::Variant {
                                "union variant"
                            } else {
                                "list element or map value"
                            }
                        ),
                    )
                    .hint(hint),
                );
            } else if matches!(**inner, Type::Option(_)) {
                out.push(
                    Diagnostic::new(span.clone(), "`option<option<T>>` is not supported")
                        .hint("use a union to tell the cases apart"),
                );
            } else if matches!(**inner, Type::Void) {
                out.push(
                    Diagnostic::new(span.clone(), "`option<void>` carries nothing")
                        .hint("use bool"),
                );
            } else {
                check_type(m, inner, span, Position::Element, out);
            }
        }
        Type::List(inner) | Type::Map(inner) => check_type(m, inner, span, Position::Element, out),
        Type::Named(name) if m.type_def(name).is_none() => {
            if m.error_def(name).is_some() {
                out.push(Diagnostic::new(
                    span.clone(),
                    format!("`{name}` is an error; fields use types from [types]"),
                ));
            } else {
                out.push(unknown_type(m, name, span.clone()));
            }
        }
        _ => {}
    }
}

fn unknown_type(m: &Manifest, name: &str, span: Range<usize>) -> Diagnostic {
    let hint = match did_you_mean(name, m.types.iter().map(|t| t.name.as_str())) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("declare it as [types.{name}]"),
    };
    Diagnostic::new(span, format!("unknown type `{name}`")).hint(hint)
}

/// How many `list<..>`, `map<..>` and `option<..>` a type nests (without recursion: a type built in code
/// can be any depth).
fn type_depth(mut ty: &Type) -> usize {
    let mut depth = 0;
    while let Type::List(inner) | Type::Map(inner) | Type::Option(inner) = ty {
        depth += 1;
        ty = inner;
    }
    depth
}

/// Every `map<string, V>` value type used, with where it is first used.
pub(crate) fn map_types(m: &Manifest) -> BTreeMap<Type, Range<usize>> {
    let mut found = BTreeMap::new();
    for f in all_fields(m) {
        let mut ty = &f.ty;
        while let Type::List(inner) | Type::Map(inner) | Type::Option(inner) = ty {
            if matches!(ty, Type::Map(_)) {
                found
                    .entry((**inner).clone())
                    .or_insert_with(|| f.ty_span.clone());
            }
            ty = inner;
        }
    }
    found
}

pub(crate) fn all_fields(m: &Manifest) -> impl Iterator<Item = &Field> {
    m.types
        .iter()
        .flat_map(|t| match &t.kind {
            TypeKind::Struct(f) | TypeKind::Union(f) => f.as_slice(),
            TypeKind::Enum { .. } => &[],
        })
        .chain(m.errors.iter().flat_map(|e| e.fields.iter()))
}

/// The named type a field holds directly (not through a list or map), and whether through `option`.
pub(crate) fn direct_target(ty: &Type) -> Option<(&str, bool)> {
    match ty {
        Type::Named(n) => Some((n, false)),
        Type::Option(inner) => match &**inner {
            Type::Named(n) => Some((n, true)),
            _ => None,
        },
        _ => None,
    }
}

/// A type that holds itself directly (not through a list, map or option) would be infinitely large.
fn check_recursion(m: &Manifest, out: &mut Vec<Diagnostic>) {
    for t in &m.types {
        let fields = match &t.kind {
            TypeKind::Struct(f) | TypeKind::Union(f) => f,
            TypeKind::Enum { .. } => continue,
        };
        // Depth-first search over direct, non-optional containment, looking for `t` itself.
        for f in fields {
            let Some((target, false)) = direct_target(&f.ty) else {
                continue;
            };
            let mut stack = vec![(target.to_owned(), vec![t.name.clone(), target.to_owned()])];
            let mut visited = BTreeSet::new();
            while let Some((name, path)) = stack.pop() {
                if name == t.name {
                    out.push(Diagnostic::new(f.ty_span.clone(), format!("`{}` contains itself with no indirection ({}): it would be infinitely large", t.name, path.join(" → "))).hint("hold the recursive value in an option<..>, a list<..> or a map<string, ..>"));
                    break;
                }
                if !visited.insert(name.clone()) {
                    continue;
                }
                if let Some(def) = m.type_def(&name) {
                    if let TypeKind::Struct(fs) | TypeKind::Union(fs) = &def.kind {
                        for g in fs {
                            if let Some((next, false)) = direct_target(&g.ty) {
                                let mut p = path.clone();
                                p.push(next.to_owned());
                                stack.push((next.to_owned(), p));
                            }
                        }
                    }
                }
            }
        }
    }
}
