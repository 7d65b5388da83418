//! Plain Rust types for a manifest's types, errors and method outcomes, and their conversions to and
//! from Cap'n Proto: shared by the host skeleton and the guest crate.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::generate::Names;
use crate::generate::capnp::{doc_lines, error_member, field_name, value_name};
use crate::manifest::{EnumValue, Field, Manifest, Method, Type, TypeKind};
use crate::naming::{
    OPEN_ENUM_UNKNOWN, capnp_type, capnpc_accessor, capnpc_module, capnpc_variant, rust_ident,
    upper_camel,
};
use crate::validate::direct_target;

/// What the generated types derive besides `Debug, Clone, PartialEq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Host side: no serialization derives.
    Host,
    /// Host side with serde derives.
    HostSerde,
    /// Guest side: serde and schemars derives.
    Guest,
}

pub(crate) struct RustGen<'m> {
    m: &'m Manifest,
    /// Path of the capnpc-rust module, such as `crate::documents_capnp`.
    cap: String,
    flavor: Flavor,
}

/// The name in capnpc-rust's accessors of a field (`get_<it>`).
fn getter(field: &str) -> String {
    capnpc_accessor(&field_name(field))
}

/// The capnpc-rust module of a type (`AttributeValue` → `attribute_value`, `Type` → `type_`).
fn module_of(type_name: &str) -> String {
    capnpc_module(&capnp_type(type_name))
}

/// The Rust variant of a union variant or enum value (`all_old` → `AllOld`, `self` → `Self_`).
fn variant(name: &str) -> String {
    rust_ident(&upper_camel(name))
}

impl<'m> RustGen<'m> {
    pub(crate) fn new(m: &'m Manifest, cap: String, flavor: Flavor) -> Self {
        Self { m, cap, flavor }
    }

    fn is_open(&self, name: &str) -> bool {
        self.m.is_open_enum(name)
    }

    /// Whether `target` can hold `owner` directly (through fields and variants, options included): then
    /// `option<target>` inside `owner` needs a `Box`.
    fn needs_box(&self, owner: &str, target: &str) -> bool {
        let mut stack = vec![target.to_owned()];
        let mut seen = BTreeSet::new();
        while let Some(name) = stack.pop() {
            if name == owner {
                return true;
            }
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(TypeKind::Struct(fs) | TypeKind::Union(fs)) =
                self.m.type_def(&name).map(|t| &t.kind)
            {
                stack.extend(
                    fs.iter()
                        .filter_map(|f| direct_target(&f.ty))
                        .map(|(n, _)| n.to_owned()),
                );
            }
        }
        false
    }

    fn boxed(&self, owner: &str, ty: &Type) -> bool {
        matches!(ty, Type::Option(inner) if matches!(&**inner, Type::Named(n) if self.needs_box(owner, n)))
    }

    pub(crate) fn rust_type(&self, ty: &Type, owner: &str) -> String {
        match ty {
            Type::Void => "()".into(),
            Type::Bool => "bool".into(),
            Type::Int(b) => format!("i{b}"),
            Type::UInt(b) => format!("u{b}"),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::String => "::std::string::String".into(),
            Type::Bytes => "::std::vec::Vec<u8>".into(),
            Type::List(t) => format!("::std::vec::Vec<{}>", self.rust_type(t, owner)),
            Type::Map(t) => format!(
                "::std::collections::BTreeMap<::std::string::String, {}>",
                self.rust_type(t, owner)
            ),
            Type::Option(t) if self.boxed(owner, ty) => format!(
                "::std::option::Option<::std::boxed::Box<{}>>",
                self.rust_type(t, owner)
            ),
            Type::Option(t) => format!("::std::option::Option<{}>", self.rust_type(t, owner)),
            Type::Named(n) => rust_ident(n),
        }
    }

    /// `#[non_exhaustive]` on the guest's enums, unions and error types: a compatible version of the
    /// manifest may add values, variants and named errors, and code matching them today (with the `_` arm
    /// this asks for) keeps compiling against the guest crate generated from it. The host's types live in
    /// the IOmod's own crate, where the attribute would change nothing.
    fn non_exhaustive(&self) -> &'static str {
        if self.flavor == Flavor::Guest {
            "#[non_exhaustive]\n"
        } else {
            ""
        }
    }

    /// The derives of a generated type: `Debug, Clone, PartialEq`, then `extra` (`Eq`, `Default`, ...),
    /// then, when `serde`, the flavor's serialization traits.
    fn derives(&self, extra: &[&str], serde: bool) -> String {
        let mut d = String::from("#[derive(Debug, Clone, PartialEq");
        for e in extra {
            d.push_str(", ");
            d.push_str(e);
        }
        match self.flavor {
            _ if !serde => {}
            Flavor::Host => {}
            Flavor::HostSerde => d.push_str(
                ", ::iomod_sdk::__private::serde::Serialize, ::iomod_sdk::__private::serde::Deserialize",
            ),
            Flavor::Guest => {
                d.push_str(", ::serde::Serialize, ::serde::Deserialize, ::schemars::JsonSchema")
            }
        }
        d.push_str(")]\n");
        if serde && self.flavor == Flavor::HostSerde {
            d.push_str("#[serde(crate = \"::iomod_sdk::__private::serde\")]\n");
        }
        d
    }

    /// The path of the `serde` crate in generated code: the guest crate depends on it; host skeletons
    /// use the SDK's, so an IOmod crate needs no serde dependency of its own.
    fn serde(&self) -> &'static str {
        match self.flavor {
            Flavor::Guest => "::serde",
            Flavor::Host | Flavor::HostSerde => "::iomod_sdk::__private::serde",
        }
    }

    /// `#[serde(rename = "<manifest name>")]` where the Rust name differs from the manifest's: JSON keeps
    /// the manifest's names (`http_1_1`, not `Http11`; `type`, not `r#type`; `self`, not `self_`).
    fn serde_rename(&self, out: &mut String, manifest: &str, rust: &str, indent: &str) {
        if self.flavor != Flavor::Host && rust.trim_start_matches("r#") != manifest {
            let _ = writeln!(out, "{indent}#[serde(rename = \"{manifest}\")]");
        }
    }

    fn has_float(&self, ty: &Type, seen: &mut BTreeSet<String>) -> bool {
        match ty {
            Type::F32 | Type::F64 => true,
            Type::List(t) | Type::Map(t) | Type::Option(t) => self.has_float(t, seen),
            Type::Named(n) => {
                if !seen.insert(n.clone()) {
                    return false;
                }
                match self.m.type_def(n).map(|t| &t.kind) {
                    Some(TypeKind::Struct(fs) | TypeKind::Union(fs)) => {
                        fs.iter().any(|f| self.has_float(&f.ty, seen))
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }

    fn fields_eq(&self, fields: &[Field]) -> bool {
        !fields
            .iter()
            .any(|f| self.has_float(&f.ty, &mut BTreeSet::new()))
    }

    /// Every type definition, error and method outcome type, with conversions.
    pub(crate) fn types(&self, names: &Names) -> String {
        let mut out = String::new();
        for t in &self.m.types {
            match &t.kind {
                TypeKind::Struct(fields) => self.struct_def(&mut out, &t.name, &t.doc, fields),
                TypeKind::Union(variants) => self.union_def(&mut out, &t.name, &t.doc, variants),
                TypeKind::Enum {
                    values,
                    open: false,
                } => self.enum_def(&mut out, &t.name, &t.doc, values),
                TypeKind::Enum { values, open: true } => {
                    self.open_enum_def(&mut out, &t.name, &t.doc, values)
                }
            }
        }
        for e in &self.m.errors {
            self.struct_def(&mut out, &e.name, &e.doc, &e.fields);
        }
        for method in &self.m.methods {
            self.method_outcome(&mut out, method, names);
        }
        out
    }

    /// A closed enum: a Cap'n Proto enum on the wire.
    fn enum_def(&self, out: &mut String, name: &str, docs: &str, values: &[EnumValue]) {
        let notes: Vec<String> = values
            .first()
            .map(|v| default_value_note(&v.name))
            .into_iter()
            .collect();
        doc_with_notes(out, docs, &notes);
        out.push_str(&self.derives(&["Copy", "Eq", "Hash", "Default"], true));
        out.push_str(self.non_exhaustive());
        let cap = format!("{}::{}", self.cap, capnp_type(name));
        let owner = name;
        let name = rust_ident(name);
        if self.flavor != Flavor::Host && name != owner {
            let _ = writeln!(out, "#[serde(rename = \"{owner}\")]");
        }
        let _ = writeln!(out, "pub enum {name} {{");
        for (i, v) in values.iter().enumerate() {
            doc(out, &v.doc, "    ");
            self.serde_rename(out, &v.name, &variant(&v.name), "    ");
            if i == 0 {
                out.push_str("    #[default]\n");
            }
            let _ = writeln!(out, "    {},", variant(&v.name));
        }
        out.push_str("}\n\n");
        let _ = writeln!(out, "impl {name} {{");
        let _ = writeln!(
            out,
            "    /// The Cap'n Proto value.\n    pub fn to_capnp(self) -> {cap} {{\n        match self {{"
        );
        for v in values {
            let _ = writeln!(
                out,
                "            Self::{} => {cap}::{},",
                variant(&v.name),
                capnpc_variant(&value_name(&v.name))
            );
        }
        let _ = writeln!(
            out,
            "        }}\n    }}\n\n    /// From the Cap'n Proto value.\n    pub fn from_capnp(value: {cap}) -> Self {{\n        match value {{"
        );
        for v in values {
            let _ = writeln!(
                out,
                "            {cap}::{} => Self::{},",
                capnpc_variant(&value_name(&v.name)),
                variant(&v.name)
            );
        }
        out.push_str("        }\n    }\n}\n\n");
    }

    /// An open enum: its values travel as their names (Cap'n Proto `Text`, a JSON string), and a name
    /// the manifest does not list is kept in `Unknown`.
    fn open_enum_def(&self, out: &mut String, name: &str, docs: &str, values: &[EnumValue]) {
        let mut notes = vec![format!(
            "Open: a value this manifest does not list is kept, as [`{name}::{OPEN_ENUM_UNKNOWN}`] with its name."
        )];
        notes.extend(values.first().map(|v| default_value_note(&v.name)));
        doc_with_notes(out, docs, &notes);
        out.push_str(&self.derives(&["Eq", "Hash", "Default"], false));
        out.push_str(self.non_exhaustive());
        let schema_name = name;
        let name = &rust_ident(name);
        let _ = writeln!(out, "pub enum {name} {{");
        for (i, v) in values.iter().enumerate() {
            doc(out, &v.doc, "    ");
            if i == 0 {
                out.push_str("    #[default]\n");
            }
            let _ = writeln!(out, "    {},", variant(&v.name));
        }
        let _ = writeln!(
            out,
            "    /// A value this manifest does not list, as it was sent.\n    {OPEN_ENUM_UNKNOWN}(::std::string::String),\n}}\n"
        );
        let _ = writeln!(out, "impl {name} {{");
        let _ = writeln!(
            out,
            "    /// The value's name: the manifest's name of a listed value, the name as it was sent of another."
        );
        out.push_str("    pub fn as_str(&self) -> &str {\n        match self {\n");
        for v in values {
            let _ = writeln!(
                out,
                "            Self::{} => \"{}\",",
                variant(&v.name),
                v.name
            );
        }
        let _ = writeln!(
            out,
            "            Self::{OPEN_ENUM_UNKNOWN}(name) => name,\n        }}\n    }}\n}}\n"
        );
        for (source, scrutinee, unknown) in [
            ("&str", "name", "name.to_owned()"),
            ("::std::string::String", "name.as_str()", "name"),
        ] {
            let _ = writeln!(
                out,
                "impl ::std::convert::From<{source}> for {name} {{\n    /// The value the manifest lists under `name`, or [`{name}::{OPEN_ENUM_UNKNOWN}`].\n    fn from(name: {source}) -> Self {{\n        match {scrutinee} {{"
            );
            for v in values {
                let _ = writeln!(
                    out,
                    "            \"{}\" => Self::{},",
                    v.name,
                    variant(&v.name)
                );
            }
            let _ = writeln!(
                out,
                "            _ => Self::{OPEN_ENUM_UNKNOWN}({unknown}),\n        }}\n    }}\n}}\n"
            );
        }
        if self.flavor == Flavor::Host {
            return;
        }
        let serde = self.serde();
        let _ = writeln!(
            out,
            "/// As JSON: the value's name, a string.\nimpl {serde}::Serialize for {name} {{\n    fn serialize<S: {serde}::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {{\n        serializer.serialize_str(self.as_str())\n    }}\n}}\n"
        );
        let _ = writeln!(
            out,
            "/// From JSON: any string; a name the manifest does not list is\n/// [`{name}::{OPEN_ENUM_UNKNOWN}`].\nimpl<'de> {serde}::Deserialize<'de> for {name} {{\n    fn deserialize<D: {serde}::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {{\n        <::std::string::String as {serde}::Deserialize<'de>>::deserialize(deserializer).map(Self::from)\n    }}\n}}\n"
        );
        if self.flavor == Flavor::Guest {
            let names = values
                .iter()
                .map(|v| format!("\"{}\"", v.name))
                .collect::<Vec<_>>()
                .join(", ");
            let description = if docs.is_empty() {
                String::new()
            } else {
                format!("\"description\": {docs:?}, ")
            };
            let _ = writeln!(
                out,
                "/// Any string; the names the manifest lists are documented.\nimpl ::schemars::JsonSchema for {name} {{\n    fn schema_name() -> ::std::borrow::Cow<'static, str> {{\n        ::std::borrow::Cow::Borrowed(\"{schema_name}\")\n    }}\n\n    fn schema_id() -> ::std::borrow::Cow<'static, str> {{\n        ::std::borrow::Cow::Borrowed(::std::concat!(::std::module_path!(), \"::{schema_name}\"))\n    }}\n\n    fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {{\n        ::schemars::json_schema!({{ {description}\"anyOf\": [{{ \"type\": \"string\", \"enum\": [{names}] }}, {{ \"type\": \"string\" }}] }})\n    }}\n}}\n"
            );
        }
    }

    fn struct_def(&self, out: &mut String, name: &str, docs: &str, fields: &[Field]) {
        doc(out, docs, "");
        let owner = name;
        let module = format!("{}::{}", self.cap, module_of(name));
        let name = &rust_ident(name);
        let eq: &[&str] = if self.fields_eq(fields) {
            &["Eq", "Default"]
        } else {
            &["Default"]
        };
        out.push_str(&self.derives(eq, true));
        if self.flavor != Flavor::Host {
            out.push_str("#[serde(deny_unknown_fields)]\n");
            if name != owner {
                let _ = writeln!(out, "#[serde(rename = \"{owner}\")]");
            }
        }
        if fields.is_empty() {
            let _ = writeln!(out, "pub struct {name} {{}}\n");
        } else {
            let _ = writeln!(out, "pub struct {name} {{");
            for f in fields {
                doc(out, &f.doc, "    ");
                if self.flavor != Flavor::Host && matches!(f.ty, Type::Option(_)) {
                    out.push_str("    #[serde(default, skip_serializing_if = \"::std::option::Option::is_none\")]\n");
                }
                let ident = rust_ident(&f.name);
                self.serde_rename(out, &f.name, &ident, "    ");
                let _ = writeln!(out, "    pub {ident}: {},", self.rust_type(&f.ty, owner));
            }
            out.push_str("}\n\n");
        }
        let _ = writeln!(out, "impl {name} {{");
        let _ = writeln!(
            out,
            "    /// Writes this value into its Cap'n Proto builder."
        );
        let _ = writeln!(out, "    #[allow(unused_mut, unused_variables)]");
        let _ = writeln!(
            out,
            "    pub fn write_to(&self, mut builder: {module}::Builder<'_>) -> ::capnp::Result<()> {{"
        );
        for f in fields {
            self.write_field(
                out,
                "builder",
                f,
                &format!("&self.{}", rust_ident(&f.name)),
                "        ",
            );
        }
        out.push_str("        Ok(())\n    }\n\n");
        let _ = writeln!(out, "    /// Reads a value from its Cap'n Proto reader.");
        let _ = writeln!(out, "    #[allow(unused_variables)]");
        let _ = writeln!(
            out,
            "    pub fn read_from(reader: {module}::Reader<'_>) -> ::capnp::Result<Self> {{"
        );
        let _ = writeln!(out, "        Ok(Self {{");
        for f in fields {
            let _ = writeln!(
                out,
                "            {}: {},",
                rust_ident(&f.name),
                self.read_field(owner, &module, "reader", f)
            );
        }
        out.push_str("        })\n    }\n}\n\n");
    }

    fn union_def(&self, out: &mut String, name: &str, docs: &str, variants: &[Field]) {
        let notes: Vec<String> = variants
            .first()
            .map(default_variant_note)
            .into_iter()
            .collect();
        doc_with_notes(out, docs, &notes);
        let eq: &[&str] = if self.fields_eq(variants) {
            &["Eq"]
        } else {
            &[]
        };
        out.push_str(&self.derives(eq, true));
        out.push_str(self.non_exhaustive());
        let owner = name;
        let module = format!("{}::{}", self.cap, module_of(name));
        let name = &rust_ident(name);
        if self.flavor != Flavor::Host && name != owner {
            let _ = writeln!(out, "#[serde(rename = \"{owner}\")]");
        }
        let _ = writeln!(out, "pub enum {name} {{");
        for v in variants {
            doc(out, &v.doc, "    ");
            self.serde_rename(out, &v.name, &variant(&v.name), "    ");
            if v.ty == Type::Void {
                let _ = writeln!(out, "    {},", variant(&v.name));
            } else {
                let _ = writeln!(
                    out,
                    "    {}({}),",
                    variant(&v.name),
                    self.rust_type(&v.ty, owner)
                );
            }
        }
        out.push_str("}\n\n");
        if let Some(first) = variants.first() {
            let value = if first.ty == Type::Void {
                String::new()
            } else {
                "(::std::default::Default::default())".to_owned()
            };
            let _ = writeln!(
                out,
                "impl ::std::default::Default for {name} {{\n    fn default() -> Self {{\n        Self::{}{value}\n    }}\n}}\n",
                variant(&first.name)
            );
        }
        let _ = writeln!(out, "impl {name} {{");
        let _ = writeln!(
            out,
            "    /// Writes this value into its Cap'n Proto builder."
        );
        let _ = writeln!(
            out,
            "    pub fn write_to(&self, mut builder: {module}::Builder<'_>) -> ::capnp::Result<()> {{"
        );
        out.push_str("        match self {\n");
        for v in variants {
            let variant = variant(&v.name);
            if v.ty == Type::Void {
                let _ = writeln!(
                    out,
                    "            Self::{variant} => builder.{}(()),",
                    format_args!("set_{}", getter(&v.name))
                );
            } else {
                let _ = writeln!(out, "            Self::{variant}(value) => {{");
                self.write_field(out, "builder", v, "value", "                ");
                out.push_str("            }\n");
            }
        }
        out.push_str("        }\n        Ok(())\n    }\n\n");
        let _ = writeln!(out, "    /// Reads a value from its Cap'n Proto reader.");
        let _ = writeln!(
            out,
            "    pub fn read_from(reader: {module}::Reader<'_>) -> ::capnp::Result<Self> {{"
        );
        out.push_str("        Ok(match reader.which()? {\n");
        for v in variants {
            let which = capnpc_variant(&field_name(&v.name));
            if v.ty == Type::Void {
                let _ = writeln!(
                    out,
                    "            {module}::{which}(()) => Self::{},",
                    variant(&v.name)
                );
            } else {
                let read = self.read_value(&v.ty, "value", true);
                let _ = writeln!(
                    out,
                    "            {module}::{which}(value) => Self::{}({read}),",
                    variant(&v.name)
                );
            }
        }
        out.push_str("        })\n    }\n}\n\n");
    }

    /// Statements that write field `f` (value expression `value`, a reference) into builder `b`.
    fn write_field(&self, out: &mut String, b: &str, f: &Field, value: &str, indent: &str) {
        let name = getter(&f.name);
        match &f.ty {
            Type::Option(inner) if !inner.is_pointer(self.m) => {
                let _ = writeln!(out, "{indent}match {value} {{");
                let _ = writeln!(
                    out,
                    "{indent}    ::std::option::Option::None => {b}.reborrow().init_{name}().set_none(()),"
                );
                let _ = writeln!(
                    out,
                    "{indent}    ::std::option::Option::Some(value) => {b}.reborrow().init_{name}().set_some({}),",
                    self.scalar(inner, "value")
                );
                let _ = writeln!(out, "{indent}}}");
            }
            Type::Option(inner) => {
                let _ = writeln!(
                    out,
                    "{indent}if let ::std::option::Option::Some(value) = {value} {{"
                );
                let f2 = Field {
                    ty: (**inner).clone(),
                    ..f.clone()
                };
                // A boxed value is `&Box<T>`; method calls reach the `T` through it.
                self.write_field(out, b, &f2, "value", &format!("{indent}    "));
                let _ = writeln!(out, "{indent}}}");
            }
            ty if !ty.is_pointer(self.m) => {
                let _ = writeln!(out, "{indent}{b}.set_{name}({});", self.scalar(ty, value));
            }
            Type::String | Type::Bytes => {
                let _ = writeln!(out, "{indent}{b}.set_{name}(__checked(&({value})[..])?);");
            }
            Type::Named(n) if self.is_open(n) => {
                let _ = writeln!(out, "{indent}{b}.set_{name}(({value}).as_str());");
            }
            Type::Named(_) => {
                let _ = writeln!(
                    out,
                    "{indent}({value}).write_to({b}.reborrow().init_{name}())?;"
                );
            }
            Type::List(_) | Type::Map(_) => {
                let _ = writeln!(out, "{indent}{{");
                let _ = writeln!(
                    out,
                    "{indent}    let mut list = {b}.reborrow().init_{name}(__list_len(({value}).len())?);"
                );
                self.write_list_items(out, "list", &f.ty, value, &format!("{indent}    "), 0);
                let _ = writeln!(out, "{indent}}}");
            }
            _ => {}
        }
    }

    /// A non-pointer value for a setter (`value` is a reference).
    fn scalar(&self, ty: &Type, value: &str) -> String {
        match ty {
            Type::Named(_) => format!("({value}).to_capnp()"),
            _ => format!("*{value}"),
        }
    }

    /// Fills list builder `list` from `value` (a reference to a Vec or BTreeMap).
    fn write_list_items(
        &self,
        out: &mut String,
        list: &str,
        ty: &Type,
        value: &str,
        indent: &str,
        depth: usize,
    ) {
        let item = format!("item{depth}");
        let index = format!("index{depth}");
        match ty {
            Type::List(inner) => {
                let _ = writeln!(
                    out,
                    "{indent}for ({index}, {item}) in ({value}).iter().enumerate() {{"
                );
                let at = format!("{index} as u32");
                let indent2 = format!("{indent}    ");
                match &**inner {
                    t if !t.is_pointer(self.m) => {
                        let _ =
                            writeln!(out, "{indent2}{list}.set({at}, {});", self.scalar(t, &item));
                    }
                    Type::String | Type::Bytes => {
                        let _ =
                            writeln!(out, "{indent2}{list}.set({at}, __checked(&{item}[..])?);");
                    }
                    Type::Named(n) if self.is_open(n) => {
                        let _ = writeln!(out, "{indent2}{list}.set({at}, {item}.as_str());");
                    }
                    Type::Named(_) => {
                        let _ = writeln!(
                            out,
                            "{indent2}{item}.write_to({list}.reborrow().get({at}))?;"
                        );
                    }
                    t @ (Type::List(_) | Type::Map(_)) => {
                        let inner_list = format!("list{}", depth + 1);
                        let _ = writeln!(
                            out,
                            "{indent2}let mut {inner_list} = {list}.reborrow().init({at}, __list_len({item}.len())?);"
                        );
                        self.write_list_items(out, &inner_list, t, &item, &indent2, depth + 1);
                    }
                    _ => {}
                }
                let _ = writeln!(out, "{indent}}}");
            }
            Type::Map(inner) => {
                let _ = writeln!(
                    out,
                    "{indent}for ({index}, (key, {item})) in ({value}).iter().enumerate() {{"
                );
                let indent2 = format!("{indent}    ");
                let _ = writeln!(
                    out,
                    "{indent2}let mut entry = {list}.reborrow().get({index} as u32);"
                );
                let _ = writeln!(out, "{indent2}entry.set_key(__checked(&key[..])?);");
                let value_field = Field {
                    name: "value".into(),
                    ty: (**inner).clone(),
                    doc: String::new(),
                    span: 0..0,
                    ty_span: 0..0,
                };
                self.write_field(out, "entry", &value_field, &item, &indent2);
                let _ = writeln!(out, "{indent}}}");
            }
            _ => {}
        }
    }

    /// An expression reading field `f` of struct `owner` from `reader`.
    fn read_field(&self, owner: &str, module: &str, reader: &str, f: &Field) -> String {
        let name = getter(&f.name);
        match &f.ty {
            Type::Option(inner) if !inner.is_pointer(self.m) => {
                let group = format!("{module}::{}", capnpc_module(&field_name(&f.name)));
                format!(
                    "match {reader}.get_{name}().which()? {{ {group}::None(()) => ::std::option::Option::None, {group}::Some(value) => ::std::option::Option::Some({}) }}",
                    self.read_value(inner, "value", false)
                )
            }
            Type::Option(inner) => {
                let mut value = self.read_value(inner, &format!("{reader}.get_{name}()"), true);
                if self.boxed(owner, &f.ty) {
                    value = format!("::std::boxed::Box::new({value})");
                }
                format!(
                    "if {reader}.has_{name}() {{ ::std::option::Option::Some({value}) }} else {{ ::std::option::Option::None }}"
                )
            }
            ty => self.read_value(ty, &format!("{reader}.get_{name}()"), true),
        }
    }

    /// An expression converting `expr` (a getter's result when `wrapped`, else a list item) to the plain
    /// type.
    fn read_value(&self, ty: &Type, expr: &str, wrapped: bool) -> String {
        let unwrap = if wrapped { "?" } else { "" };
        match ty {
            Type::Named(n) if self.m.is_closed_enum(n) => {
                format!("{}::from_capnp({expr}?)", rust_ident(n))
            }
            Type::Named(n) if self.is_open(n) => {
                format!("{}::from({expr}{unwrap}.to_str()?)", rust_ident(n))
            }
            Type::Named(n) => format!("{}::read_from({expr}{unwrap})?", rust_ident(n)),
            Type::String => format!("{expr}{unwrap}.to_string()?"),
            Type::Bytes => format!("{expr}{unwrap}.to_vec()"),
            Type::List(inner) => {
                // Text, data and list items come as results (closed enums too, unwrapped by their
                // reading); struct items do not.
                let wrapped = match &**inner {
                    Type::String | Type::Bytes | Type::List(_) | Type::Map(_) => true,
                    Type::Named(n) => self.is_open(n),
                    _ => false,
                };
                let item = self.read_value(inner, "item", wrapped);
                format!(
                    "{{ let list = {expr}{unwrap}; let mut out = ::std::vec::Vec::with_capacity(::std::cmp::min(list.len() as usize, __PREALLOCATE_MAX)); for item in list.iter() {{ out.push({item}); }} out }}"
                )
            }
            Type::Map(inner) => {
                let value = match &**inner {
                    t if !t.is_pointer(self.m) => self.read_value(t, "entry.get_value()", false),
                    t => self.read_value(t, "entry.get_value()", true),
                };
                format!(
                    "{{ let list = {expr}{unwrap}; let mut out = ::std::collections::BTreeMap::new(); for entry in list.iter() {{ out.insert(entry.get_key()?.to_string()?, {value}); }} out }}"
                )
            }
            _ => expr.to_owned(),
        }
    }

    fn method_outcome(&self, out: &mut String, method: &Method, names: &Names) {
        let camel = upper_camel(&method.name);
        let error = format!("{camel}Error");
        let output = rust_ident(&method.output);
        let result_module = format!("{}::{}", self.cap, module_of(&names.result_struct(method)));
        let _ = writeln!(
            out,
            "/// Why `{}` failed: one of its named errors, or another failure.",
            method.name
        );
        let _ = writeln!(out, "#[derive(Debug, Clone, PartialEq)]");
        out.push_str(self.non_exhaustive());
        let _ = writeln!(out, "pub enum {error} {{");
        for e in &method.errors {
            if let Some(def) = self.m.error_def(e) {
                doc(out, &def.doc, "    ");
            }
            let _ = writeln!(out, "    {0}({0}),", rust_ident(e));
        }
        let _ = writeln!(
            out,
            "    /// A failure that is not one of the method's named errors: the IOmod is unavailable,"
        );
        let _ = writeln!(
            out,
            "    /// the input was invalid, the deadline passed, ..."
        );
        let _ = writeln!(out, "    Failed(::iomod_sdk::Error),");
        out.push_str("}\n\n");
        let _ = writeln!(out, "impl ::std::fmt::Display for {error} {{");
        out.push_str("    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {\n        match self {\n");
        for e in &method.errors {
            let _ = writeln!(
                out,
                "            Self::{}(value) => ::std::write!(f, \"{e}: {{value:?}}\"),",
                rust_ident(e)
            );
        }
        out.push_str("            Self::Failed(error) => error.fmt(f),\n        }\n    }\n}\n\n");
        let _ = writeln!(out, "impl ::std::error::Error for {error} {{}}\n");
        let _ = writeln!(
            out,
            "impl ::std::convert::From<::iomod_sdk::Error> for {error} {{\n    fn from(error: ::iomod_sdk::Error) -> Self {{\n        Self::Failed(error)\n    }}\n}}\n"
        );
        if self.flavor != Flavor::Host {
            let _ = writeln!(
                out,
                "/// As JSON: `{{\"<Error>\": <its value>}}`, the shape of the method's error schema; `Failed` is\n/// `{{\"Failed\": {{\"code\": .., \"message\": ..}}}}`."
            );
            let serde = self.serde();
            let _ = writeln!(out, "impl {serde}::Serialize for {error} {{");
            let _ = writeln!(
                out,
                "    fn serialize<S: {serde}::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {{\n        match self {{"
            );
            for (index, e) in method.errors.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "            Self::{}(value) => serializer.serialize_newtype_variant(\"{error}\", {index}, \"{e}\", value),",
                    rust_ident(e)
                );
            }
            let _ = writeln!(
                out,
                "            Self::Failed(error) => serializer.serialize_newtype_variant(\"{error}\", {}, \"Failed\", &::std::collections::BTreeMap::from([(\"code\", error.code.as_str()), (\"message\", error.message.as_str())])),",
                method.errors.len()
            );
            out.push_str("        }\n    }\n}\n\n");
        }
        if self.flavor == Flavor::HostSerde {
            let _ = writeln!(out, "impl {error} {{");
            let _ = writeln!(
                out,
                "    /// This error for a JSON caller: a named error has code `method`, its name, and its value as JSON."
            );
            let _ = writeln!(
                out,
                "    pub fn into_json_error(self) -> ::iomod_sdk::Error {{"
            );
            out.push_str("        match self {\n");
            for e in &method.errors {
                let _ = writeln!(
                    out,
                    "            Self::{}(value) => ::iomod_sdk::Error::method(\"{e}\", ::std::format!(\"{{value:?}}\"), ::iomod_sdk::__private::serde_json::to_vec(&value).unwrap_or_default()),",
                    rust_ident(e)
                );
            }
            out.push_str("            Self::Failed(error) => error,\n        }\n    }\n}\n\n");
        }
        let _ = writeln!(out, "impl {error} {{");
        let _ = writeln!(
            out,
            "    /// Writes the outcome of `{}` into its Cap'n Proto builder.",
            method.name
        );
        let _ = writeln!(
            out,
            "    pub fn write_outcome(outcome: &::std::result::Result<{output}, Self>, mut builder: {result_module}::Builder<'_>) -> ::capnp::Result<()> {{"
        );
        out.push_str("        match outcome {\n");
        let _ = writeln!(
            out,
            "            Ok(output) => output.write_to(builder.init_ok())?,"
        );
        for e in &method.errors {
            let _ = writeln!(
                out,
                "            Err(Self::{}(value)) => value.write_to(builder.init_{}())?,",
                rust_ident(e),
                capnpc_accessor(&error_member(e))
            );
        }
        out.push_str("            Err(Self::Failed(error)) => error.write(builder.init_failed()),\n        }\n        Ok(())\n    }\n\n");
        let _ = writeln!(
            out,
            "    /// Reads the outcome of `{}` from its Cap'n Proto reader.",
            method.name
        );
        let _ = writeln!(
            out,
            "    pub fn read_outcome(reader: {result_module}::Reader<'_>) -> ::capnp::Result<::std::result::Result<{output}, Self>> {{"
        );
        // A discriminant past the known ones is a named error added by a newer manifest: the method failed,
        // with an error this side cannot name.
        let _ = writeln!(
            out,
            "        let which = match reader.which() {{\n            Ok(which) => which,\n            Err(::capnp::NotInSchema(number)) => return Ok(Err(Self::Failed(::iomod_sdk::Error::new(::iomod_sdk::ErrorCode::Method, format!(\"`{}` failed with a named error (number {{}} of its results) that this side's manifest does not declare: the other side was generated from a newer manifest\", number))))),\n        }};",
            method.name
        );
        out.push_str("        Ok(match which {\n");
        let _ = writeln!(
            out,
            "            {result_module}::Ok(output) => Ok({output}::read_from(output?)?),"
        );
        for e in &method.errors {
            let _ = writeln!(
                out,
                "            {result_module}::{}(value) => Err(Self::{1}({1}::read_from(value?)?)),",
                capnpc_variant(&error_member(e)),
                rust_ident(e)
            );
        }
        let _ = writeln!(
            out,
            "            {result_module}::Failed(error) => Err(Self::Failed(::iomod_sdk::Error::read(error?))),"
        );
        out.push_str("        })\n    }\n}\n\n");
    }
}

/// A type's documentation followed by `notes`, each a paragraph of its own.
fn doc_with_notes(out: &mut String, docs: &str, notes: &[String]) {
    doc(out, docs, "");
    for (i, note) in notes.iter().enumerate() {
        if i > 0 || !docs.is_empty() {
            out.push_str("///\n");
        }
        doc(out, note, "");
    }
}

/// "Default: the first value, `x`." of an enum.
fn default_value_note(first: &str) -> String {
    format!("Default: the first value, `{first}`.")
}

/// "Default: the first variant, `x`, ..." of a union.
fn default_variant_note(first: &Field) -> String {
    if first.ty == Type::Void {
        format!("Default: the first variant, `{}`.", first.name)
    } else {
        format!(
            "Default: the first variant, `{}`, holding its value's default.",
            first.name
        )
    }
}

/// Documentation as `///` lines. Code blocks in it are not Rust to test: a fence gets the `text` info
/// string (unless it names a language other than Rust), and an indented block is fenced as `text`.
fn doc(out: &mut String, text: &str, indent: &str) {
    for line in rustdoc_lines(text) {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {line}");
        }
    }
}

/// `text`'s lines for rustdoc: see [`doc`].
pub(crate) fn rustdoc_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    let mut indented = false;
    let mut previous_blank = true;
    for line in doc_lines(text) {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            if indented {
                out.push("```".to_owned());
                indented = false;
            }
            let fence = &trimmed[..3];
            let info = trimmed[3..].trim();
            if !fenced && (info.is_empty() || info.split(',').any(|i| i.trim() == "rust")) {
                out.push(format!("{fence}text"));
            } else {
                out.push(line.clone());
            }
            fenced = !fenced;
            previous_blank = false;
            continue;
        }
        let is_indented = !fenced && (line.starts_with("    ") || line.starts_with('\t'));
        if is_indented && !indented && previous_blank {
            out.push("```text".to_owned());
            indented = true;
        } else if indented && !is_indented && !line.is_empty() {
            // The fence closes before the blank lines that ended the block.
            let blanks = out.iter().rev().take_while(|l| l.is_empty()).count();
            out.insert(out.len() - blanks, "```".to_owned());
            indented = false;
        }
        previous_blank = line.is_empty();
        if fenced || indented {
            out.push(line);
        } else {
            out.extend(wrap_prose(&line));
        }
    }
    if indented {
        out.push("```".to_owned());
    }
    if fenced {
        out.push("```".to_owned());
    }
    out
}

/// The widest line of prose in generated documentation, after `/// ` and the item's indentation.
const DOC_WIDTH: usize = 88;

/// A line of Markdown prose, wrapped at word boundaries to [`DOC_WIDTH`] (a soft line break, which
/// renders the same). A list item's continuation lines are indented under its text; headings, table rows
/// and words longer than the width (links) stay whole.
fn wrap_prose(line: &str) -> Vec<String> {
    let trimmed = line.trim_start();
    if line.chars().count() <= DOC_WIDTH || trimmed.starts_with('#') || trimmed.starts_with('|') {
        return vec![line.to_owned()];
    }
    let lead = line.len() - trimmed.len();
    let marker = ["- ", "* ", "+ "]
        .iter()
        .find(|m| trimmed.starts_with(**m))
        .map(|m| m.len())
        .or_else(|| {
            let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
            (digits > 0 && trimmed[digits..].starts_with(". ")).then_some(digits + 2)
        })
        .unwrap_or(0);
    let continuation = " ".repeat(lead + marker);
    let mut out = Vec::new();
    let mut current = line[..lead].to_owned();
    let mut width = lead;
    for word in trimmed.split(' ').filter(|w| !w.is_empty()) {
        let len = word.chars().count();
        if width > continuation.len().max(lead) && width + 1 + len > DOC_WIDTH {
            out.push(std::mem::replace(&mut current, continuation.clone()));
            width = continuation.len();
        } else if width > lead && !current.ends_with(' ') {
            current.push(' ');
            width += 1;
        }
        current.push_str(word);
        width += len;
    }
    out.push(current);
    out
}

/// The helpers every generated module defines. Their names start with `__`, which no manifest name can:
/// a type, field or method never shadows them.
pub(crate) const LIST_LEN_HELPER: &str = r#"/// Cap'n Proto's limit on the elements of a list and on the bytes of a text (with its NUL) or data value.
const __CAPNP_MAX_LEN: usize = (1 << 29) - 1;
/// The most elements a reader reserves room for ahead of reading a list: a message's claimed length
/// (zero-sized elements cost it nothing) never makes it allocate more.
const __PREALLOCATE_MAX: usize = 1024;

/// A list's length as Cap'n Proto counts it, or an error past Cap'n Proto's limit (where it would panic).
fn __list_len(len: usize) -> ::capnp::Result<u32> {
    if len > __CAPNP_MAX_LEN {
        return ::std::result::Result::Err(::capnp::Error::failed(::std::format!("a list of {len} elements is too long for Cap'n Proto (at most {__CAPNP_MAX_LEN})")));
    }
    ::std::result::Result::Ok(len as u32)
}

/// A text or data value, or an error past Cap'n Proto's limit (where it would panic).
fn __checked<T: ?::std::marker::Sized + ::std::convert::AsRef<[u8]>>(value: &T) -> ::capnp::Result<&T> {
    let len = value.as_ref().len();
    if len >= __CAPNP_MAX_LEN {
        return ::std::result::Result::Err(::capnp::Error::failed(::std::format!("a value of {len} bytes is too long for Cap'n Proto (at most {} bytes)", __CAPNP_MAX_LEN - 1)));
    }
    ::std::result::Result::Ok(value)
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_prose_wraps_and_code_does_not() {
        let long = "word ".repeat(40).trim_end().to_owned();
        let text = format!(
            "{long}\n\n- item {long}\n\n```\n{long}\n```\n\n| a | {long} |\n\nhttps://example.invalid/{}",
            "x".repeat(120)
        );
        let lines = rustdoc_lines(&text);
        let width = |l: &String| l.chars().count();
        let prose: Vec<_> = lines.iter().take_while(|l| !l.is_empty()).collect();
        assert!(
            prose.len() > 1 && prose.iter().all(|l| width(l) <= DOC_WIDTH),
            "{lines:#?}"
        );
        assert_eq!(
            prose.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "),
            long.trim()
        );
        let item: Vec<_> = lines
            .iter()
            .skip(prose.len() + 1)
            .take_while(|l| !l.is_empty())
            .collect();
        assert!(item[0].starts_with("- item word"), "{item:#?}");
        assert!(
            item[1..].iter().all(|l| l.starts_with("  word")),
            "{item:#?}"
        );
        // Code, tables and words longer than a line stay whole.
        assert!(lines.contains(&long));
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("| a |") && width(l) > DOC_WIDTH)
        );
        assert!(
            lines.last().unwrap().starts_with("https://")
                && width(lines.last().unwrap()) > DOC_WIDTH
        );
    }
}
