//! The manifest model: one IOmod's identity, process, types, errors and methods, validated.

use std::ops::Range;

/// A parsed and validated `iomod.toml`. Build one with [`Manifest::parse`], or in code and then call
/// [`Manifest::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `organization.namespace.name`.
    pub coordinates: String,
    /// Semantic version.
    pub version: String,
    /// Documentation of the IOmod.
    pub doc: String,
    /// How the runtime starts the IOmod (AssemblyLift's `[process]`).
    pub process: Option<Process>,
    /// Named types, in declaration order (inline method inputs and outputs included).
    pub types: Vec<TypeDef>,
    /// Named errors methods can return, in declaration order.
    pub errors: Vec<ErrorDef>,
    /// Methods, in declaration order; a method's position is its Cap'n Proto ordinal.
    pub methods: Vec<Method>,
    /// `sha256:<hex>` of the manifest's text (of a canonical rendering for manifests built in code).
    pub digest: String,
}

/// `[process]`: how to start the IOmod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// The executable, relative to the IOmod package.
    pub entrypoint: String,
    /// Its arguments.
    pub arguments: Vec<String>,
}

/// A named type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDef {
    /// UpperCamelCase name.
    pub name: String,
    /// Documentation.
    pub doc: String,
    /// What it is.
    pub kind: TypeKind,
    /// Where the name is declared (empty for manifests built in code).
    pub span: Range<usize>,
}

/// The kinds of named types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// A record of fields.
    Struct(Vec<Field>),
    /// One of a set of names.
    Enum {
        /// The values, in order (the first is the default).
        values: Vec<EnumValue>,
        /// Whether values the manifest does not list pass through (`open = true`): such an enum describes
        /// values another system owns and may extend. Its values travel as their names (Cap'n Proto
        /// `Text`), and the Rust enum has an `Unknown(String)` variant for the others.
        open: bool,
    },
    /// A tagged union: exactly one of its variants, each carrying a value (or `void`).
    Union(Vec<Field>),
}

/// A struct field, union variant, or error field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// snake_case name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Documentation.
    pub doc: String,
    /// Where the name is declared.
    pub span: Range<usize>,
    /// Where the type is written.
    pub ty_span: Range<usize>,
}

/// An enum's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumValue {
    /// snake_case name.
    pub name: String,
    /// Documentation.
    pub doc: String,
    /// Where it is declared.
    pub span: Range<usize>,
}

/// A named error a method can return: its name and the data it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDef {
    /// UpperCamelCase name.
    pub name: String,
    /// Documentation.
    pub doc: String,
    /// The data it carries.
    pub fields: Vec<Field>,
    /// Where the name is declared.
    pub span: Range<usize>,
}

/// A method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// snake_case name.
    pub name: String,
    /// Documentation.
    pub doc: String,
    /// Name of the input struct.
    pub input: String,
    /// Name of the output struct.
    pub output: String,
    /// Names of the errors it can return.
    pub errors: Vec<String>,
    /// Where the name is declared.
    pub span: Range<usize>,
    /// Where `input`, `output` and each error are written.
    pub input_span: Range<usize>,
    /// See `input_span`.
    pub output_span: Range<usize>,
    /// See `input_span`.
    pub error_spans: Vec<Range<usize>>,
}

/// A type expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// No value: only as a union variant.
    Void,
    /// `bool`.
    Bool,
    /// `i8`, `i16`, `i32`, `i64`.
    Int(u8),
    /// `u8`, `u16`, `u32`, `u64`.
    UInt(u8),
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `string`: UTF-8 text.
    String,
    /// `bytes`.
    Bytes,
    /// `list<T>`.
    List(Box<Type>),
    /// `map<string, T>`.
    Map(Box<Type>),
    /// `option<T>`.
    Option(Box<Type>),
    /// A named type or error.
    Named(String),
}

impl Type {
    /// The type as the manifest writes it.
    pub fn to_manifest(&self) -> String {
        match self {
            Type::Void => "void".into(),
            Type::Bool => "bool".into(),
            Type::Int(bits) => format!("i{bits}"),
            Type::UInt(bits) => format!("u{bits}"),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::String => "string".into(),
            Type::Bytes => "bytes".into(),
            Type::List(t) => format!("list<{}>", t.to_manifest()),
            Type::Map(t) => format!("map<string, {}>", t.to_manifest()),
            Type::Option(t) => format!("option<{}>", t.to_manifest()),
            Type::Named(n) => n.clone(),
        }
    }

    /// Whether values of this type are Cap'n Proto pointers (text, data, lists, structs, open enums).
    pub fn is_pointer(&self, manifest: &Manifest) -> bool {
        match self {
            Type::String | Type::Bytes | Type::List(_) | Type::Map(_) => true,
            Type::Named(name) => !manifest.is_closed_enum(name),
            Type::Option(inner) => inner.is_pointer(manifest),
            _ => false,
        }
    }
}

impl Manifest {
    /// The named type `name`.
    pub fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|t| t.name == name)
    }

    /// The named error `name`.
    pub fn error_def(&self, name: &str) -> Option<&ErrorDef> {
        self.errors.iter().find(|e| e.name == name)
    }

    /// Whether `name` is a closed enum (a Cap'n Proto enum on the wire).
    pub fn is_closed_enum(&self, name: &str) -> bool {
        matches!(
            self.type_def(name).map(|t| &t.kind),
            Some(TypeKind::Enum { open: false, .. })
        )
    }

    /// Whether `name` is an open enum (Cap'n Proto `Text` on the wire).
    pub fn is_open_enum(&self, name: &str) -> bool {
        matches!(
            self.type_def(name).map(|t| &t.kind),
            Some(TypeKind::Enum { open: true, .. })
        )
    }

    /// The struct fields of type `name` (input and output types are structs).
    pub fn struct_fields(&self, name: &str) -> &[Field] {
        match self.type_def(name).map(|t| &t.kind) {
            Some(TypeKind::Struct(fields)) => fields,
            _ => &[],
        }
    }

    /// The last part of the coordinates (`dynamodb` in `example.aws.dynamodb`).
    pub fn name(&self) -> &str {
        self.coordinates
            .rsplit('.')
            .next()
            .unwrap_or(&self.coordinates)
    }
}
