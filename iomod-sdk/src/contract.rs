//! Method contracts: what a method's messages look like on the wire, and which changes between two versions
//! of it keep both sides working, by Cap'n Proto's rules.
//!
//! The code generator writes one contract per method (JSON text, see `docs/protocol.md`): its ordinal, the
//! manifest version it was generated from, its input and output types, its named errors in order, and every
//! type they reach. An IOmod registers its methods' contracts; a guest crate sends the fingerprint of its own
//! contract with every call, and the contract itself when the host has not seen that fingerprint yet. When the
//! two differ, the registry compares them with [`check_call`] before the IOmod runs anything.
//!
//! What is compatible, in both directions (the older side ignores what it does not know, or meets it as an
//! explicit "unknown"): a new field at the end of a struct, a new union variant or enum value at the end, a
//! new named error at the end of a method's list, an option added to a field that travels as a pointer
//! (text, bytes, lists, maps, structs, unions, open enums), a rename. What breaks: a changed type, a removed,
//! moved or reordered field, variant, value or error, a list where there was a scalar, an option added to or
//! removed from a number, a boolean or a closed enum (it changes the field's layout), a method that moved to
//! another ordinal. Renames keep the wire but break JSON callers: they are reported as [`Category::Json`].
//!
//! ```
//! use iomod_sdk::contract::{Category, Contract, compare};
//!
//! let v1 = Contract::parse(r#"{"method":"get","ordinal":0,"version":"1.0.0","input":"GetInput",
//!     "output":"Item","errors":[],"types":{"GetInput":{"struct":[["id","string"]]},
//!     "Item":{"struct":[["id","string"]]}}}"#).unwrap();
//! let v2 = Contract::parse(r#"{"method":"get","ordinal":0,"version":"1.1.0","input":"GetInput",
//!     "output":"Item","errors":[],"types":{"GetInput":{"struct":[["id","string"]]},
//!     "Item":{"struct":[["id","string"],["size","option<u64>"]]}}}"#).unwrap();
//! let changes = compare(&v1, &v2);
//! assert_eq!(changes.len(), 1);
//! assert_eq!(changes[0].category, Category::Compatible);
//! assert!(changes[0].message.contains("new field `size`"));
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest contract text accepted (bytes).
pub const MAX_CONTRACT_BYTES: usize = 1 << 20;
/// The most types a contract may define.
pub const MAX_TYPES: usize = 10_000;
/// The deepest nesting of `list<…>`, `map<…>` and `option<…>` in one type expression.
pub const MAX_TYPE_DEPTH: usize = 32;
/// The most members (fields, variants, values) one type may have.
pub const MAX_MEMBERS: usize = 65_535;

/// One method's contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// The method's name.
    pub method: String,
    /// Its ordinal in the IOmod's interface.
    pub ordinal: u16,
    /// The version of the manifest the contract was generated from.
    pub version: String,
    /// The input's type (a struct).
    pub input: String,
    /// The output's type (a struct).
    pub output: String,
    /// The method's named errors, in order (the order is their place in the results union).
    pub errors: Vec<String>,
    /// Every type the input, output and errors reach, by name.
    pub types: BTreeMap<String, TypeDef>,
}

/// A named type of a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TypeDef {
    /// A struct (named errors are structs too): `[name, type]` per field, in ordinal order.
    Struct(Vec<(String, String)>),
    /// A union: `[name, type]` per variant, in ordinal order (`void` for a variant without a value).
    Union(Vec<(String, String)>),
    /// A closed enum: its values in ordinal order (they travel as numbers).
    Enum(Vec<String>),
    /// An open enum: the values its manifest lists (they travel as their names, Cap'n Proto `Text`).
    OpenEnum(Vec<String>),
}

/// A type expression, parsed from the manifest syntax contracts use (`list<map<string, Item>>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ty {
    /// `void`.
    Void,
    /// `bool`.
    Bool,
    /// `i8` … `i64`.
    Int(u8),
    /// `u8` … `u64`.
    UInt(u8),
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `string` (Cap'n Proto `Text`).
    String,
    /// `bytes` (Cap'n Proto `Data`).
    Bytes,
    /// `list<T>`.
    List(Box<Ty>),
    /// `map<string, T>` (a list of key/value entries).
    Map(Box<Ty>),
    /// `option<T>`.
    Option(Box<Ty>),
    /// A type of the contract, by name.
    Named(String),
}

impl Ty {
    /// Parses a type expression.
    pub fn parse(text: &str) -> Result<Ty, ContractError> {
        let (ty, rest) = Self::parse_prefix(text.trim_start(), 0)?;
        if !rest.trim().is_empty() {
            return Err(ContractError::new(format!(
                "unexpected `{}` after the type in `{text}`",
                rest.trim()
            )));
        }
        Ok(ty)
    }

    fn parse_prefix(text: &str, depth: usize) -> Result<(Ty, &str), ContractError> {
        if depth > MAX_TYPE_DEPTH {
            return Err(ContractError::new(format!(
                "a type expression nests deeper than {MAX_TYPE_DEPTH} levels"
            )));
        }
        let end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len());
        let (word, rest) = text.split_at(end);
        let rest = rest.trim_start();
        let ty = match word {
            "void" => Ty::Void,
            "bool" => Ty::Bool,
            "i8" | "i16" | "i32" | "i64" => Ty::Int(word[1..].parse().unwrap_or(64)),
            "u8" | "u16" | "u32" | "u64" => Ty::UInt(word[1..].parse().unwrap_or(64)),
            "f32" => Ty::F32,
            "f64" => Ty::F64,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "list" => {
                let (inner, rest) = Self::argument(word, rest, depth)?;
                return Ok((Ty::List(Box::new(inner)), rest));
            }
            "option" => {
                let (inner, rest) = Self::argument(word, rest, depth)?;
                return Ok((Ty::Option(Box::new(inner)), rest));
            }
            "map" => {
                let rest = rest
                    .strip_prefix('<')
                    .and_then(|r| r.trim_start().strip_prefix("string"))
                    .and_then(|r| r.trim_start().strip_prefix(','))
                    .ok_or_else(|| {
                        ContractError::new("a map is written `map<string, T>`".to_owned())
                    })?;
                let (inner, rest) = Self::parse_prefix(rest.trim_start(), depth + 1)?;
                let rest = rest
                    .trim_start()
                    .strip_prefix('>')
                    .ok_or_else(|| ContractError::new("`map<…` is not closed".to_owned()))?;
                return Ok((Ty::Map(Box::new(inner)), rest));
            }
            "" => {
                return Err(ContractError::new(format!(
                    "expected a type at `{}`",
                    text.chars().take(20).collect::<String>()
                )));
            }
            name => Ty::Named(name.to_owned()),
        };
        Ok((ty, rest))
    }

    /// `<T>` after `list` or `option`.
    fn argument<'t>(
        word: &str,
        rest: &'t str,
        depth: usize,
    ) -> Result<(Ty, &'t str), ContractError> {
        let inner = rest.strip_prefix('<').ok_or_else(|| {
            ContractError::new(format!("`{word}` needs a type argument: `{word}<T>`"))
        })?;
        let (ty, rest) = Self::parse_prefix(inner.trim_start(), depth + 1)?;
        let rest = rest
            .trim_start()
            .strip_prefix('>')
            .ok_or_else(|| ContractError::new(format!("`{word}<…` is not closed")))?;
        Ok((ty, rest))
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Void => f.write_str("void"),
            Ty::Bool => f.write_str("bool"),
            Ty::Int(bits) => write!(f, "i{bits}"),
            Ty::UInt(bits) => write!(f, "u{bits}"),
            Ty::F32 => f.write_str("f32"),
            Ty::F64 => f.write_str("f64"),
            Ty::String => f.write_str("string"),
            Ty::Bytes => f.write_str("bytes"),
            Ty::List(t) => write!(f, "list<{t}>"),
            Ty::Map(t) => write!(f, "map<string, {t}>"),
            Ty::Option(t) => write!(f, "option<{t}>"),
            Ty::Named(n) => f.write_str(n),
        }
    }
}

/// A contract that could not be read, or that is not consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractError(String);

impl ContractError {
    fn new(message: String) -> Self {
        Self(message)
    }
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ContractError {}

impl Contract {
    /// Reads a contract from its JSON text and checks it: sizes within the limits, every type expression
    /// valid, every type it names defined, the input and output structs, the errors structs.
    pub fn parse(text: &str) -> Result<Contract, ContractError> {
        if text.len() > MAX_CONTRACT_BYTES {
            return Err(ContractError::new(format!(
                "the contract is {} bytes; the limit is {MAX_CONTRACT_BYTES}",
                text.len()
            )));
        }
        let contract: Contract = serde_json::from_str(text)
            .map_err(|e| ContractError::new(format!("the contract is not valid: {e}")))?;
        contract.check()?;
        Ok(contract)
    }

    /// The contract's canonical JSON text (what the generator writes).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The fingerprint of a contract's text: the first 16 hex digits of its SHA-256.
    pub fn fingerprint_of(text: &str) -> String {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(text.as_bytes());
        hash[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn check(&self) -> Result<(), ContractError> {
        if self.types.len() > MAX_TYPES {
            return Err(ContractError::new(format!(
                "the contract defines {} types; the limit is {MAX_TYPES}",
                self.types.len()
            )));
        }
        let named = |text: &str| -> Result<Ty, ContractError> {
            let ty = Ty::parse(text)?;
            let mut t = &ty;
            loop {
                match t {
                    Ty::List(inner) | Ty::Map(inner) | Ty::Option(inner) => t = inner,
                    Ty::Named(name) if !self.types.contains_key(name) => {
                        return Err(ContractError::new(format!(
                            "type `{name}` is used but not defined"
                        )));
                    }
                    _ => break,
                }
            }
            Ok(ty)
        };
        for (name, def) in &self.types {
            let members = match def {
                TypeDef::Struct(m) | TypeDef::Union(m) => {
                    for (_, ty) in m {
                        named(ty).map_err(|e| ContractError::new(format!("in `{name}`: {e}")))?;
                    }
                    m.len()
                }
                TypeDef::Enum(v) | TypeDef::OpenEnum(v) => v.len(),
            };
            if members > MAX_MEMBERS {
                return Err(ContractError::new(format!(
                    "`{name}` has {members} members; the limit is {MAX_MEMBERS}"
                )));
            }
        }
        for (role, name) in [("input", &self.input), ("output", &self.output)]
            .into_iter()
            .chain(self.errors.iter().map(|e| ("error", e)))
        {
            match self.types.get(name) {
                Some(TypeDef::Struct(_)) => {}
                Some(_) => {
                    return Err(ContractError::new(format!(
                        "the {role} type `{name}` is not a struct"
                    )));
                }
                None => {
                    return Err(ContractError::new(format!(
                        "the {role} type `{name}` is not defined"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// How a change between two versions of a contract affects callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Both sides keep working (an addition): a minor version.
    Compatible,
    /// The wire keeps working, but JSON callers (`iomod call`, `callJson`) break: a rename.
    Json,
    /// Cap'n Proto callers break: refused at call time with `incompatible`.
    Wire,
}

/// Where a change is, in one of the two contracts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// Not in this contract (the other side's addition or removal).
    Absent,
    /// The method itself.
    Method(String),
    /// A type.
    Type(String),
    /// A member of a type (field, variant or value) by name, with its ordinal.
    Member {
        /// The type.
        ty: String,
        /// The member's name.
        name: String,
        /// Its ordinal (position).
        index: usize,
    },
    /// A named error of the method, with its position in the method's list.
    Error {
        /// The error's name.
        name: String,
        /// Its position.
        index: usize,
    },
}

/// One difference between an older and a newer contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// How it affects callers.
    pub category: Category,
    /// Where it is in the older contract.
    pub old: Subject,
    /// Where it is in the newer contract.
    pub new: Subject,
    /// What changed, in words (names the method, the type and the member).
    pub message: String,
}

/// Every difference from `old` to `new` (two versions of one method's contract), each with its category.
/// Types are matched by where they are used (the input, the output, a field's type), not by name, so a
/// renamed type is a rename.
pub fn compare(old: &Contract, new: &Contract) -> Vec<Change> {
    let mut cmp = Comparer {
        old,
        new,
        changes: Vec::new(),
        seen: HashSet::new(),
    };
    let method = &new.method;
    if old.method != new.method {
        cmp.push(
            Category::Wire,
            Subject::Method(old.method.clone()),
            Subject::Method(new.method.clone()),
            format!(
                "method `{}` is now `{}`: callers name a method by its name",
                old.method, new.method
            ),
        );
    }
    if old.ordinal != new.ordinal {
        cmp.push(
            Category::Wire,
            Subject::Method(old.method.clone()),
            Subject::Method(new.method.clone()),
            format!(
                "method `{method}` moved from ordinal {} to {}",
                old.ordinal, new.ordinal
            ),
        );
    }
    cmp.named(&old.input, &new.input, &format!("the input of `{method}`"));
    cmp.named(
        &old.output,
        &new.output,
        &format!("the output of `{method}`"),
    );
    for (index, (o, n)) in old.errors.iter().zip(&new.errors).enumerate() {
        if o != n {
            let moved = new.errors.contains(o);
            cmp.push(
                if moved {
                    Category::Wire
                } else {
                    Category::Json
                },
                Subject::Error {
                    name: o.clone(),
                    index,
                },
                Subject::Error {
                    name: n.clone(),
                    index,
                },
                if moved {
                    format!("named error `{o}` of `{method}` moved from place {index}")
                } else {
                    format!(
                        "named error `{o}` of `{method}` is now `{n}` (callers see error names)"
                    )
                },
            );
        }
        cmp.named(o, n, &format!("named error `{n}` of `{method}`"));
    }
    for (index, e) in old.errors.iter().enumerate().skip(new.errors.len()) {
        cmp.push(
            Category::Wire,
            Subject::Error {
                name: e.clone(),
                index,
            },
            Subject::Method(new.method.clone()),
            format!("named error `{e}` of `{method}` was removed"),
        );
    }
    for (index, e) in new.errors.iter().enumerate().skip(old.errors.len()) {
        cmp.push(
            Category::Compatible,
            Subject::Method(old.method.clone()),
            Subject::Error {
                name: e.clone(),
                index,
            },
            format!("new named error `{e}` of `{method}`"),
        );
    }
    cmp.changes
}

struct Comparer<'c> {
    old: &'c Contract,
    new: &'c Contract,
    changes: Vec<Change>,
    /// Pairs of types already compared (types may be recursive).
    seen: HashSet<(String, String)>,
}

impl Comparer<'_> {
    fn push(&mut self, category: Category, old: Subject, new: Subject, message: String) {
        self.changes.push(Change {
            category,
            old,
            new,
            message,
        });
    }

    /// Compares two types in the same place; `place` says where, for messages.
    fn ty(&mut self, old: &Ty, new: &Ty, subject: (&Subject, &Subject), place: &str) {
        match (old, new) {
            (Ty::List(o), Ty::List(n)) | (Ty::Map(o), Ty::Map(n)) => {
                self.ty(o, n, subject, place);
            }
            (Ty::Option(o), Ty::Option(n)) => self.ty(o, n, subject, place),
            (Ty::Option(inner), other) | (other, Ty::Option(inner))
                if self.is_pointer(inner) && self.is_pointer(other) =>
            {
                let added = matches!(new, Ty::Option(_));
                let (o, n): (&Ty, &Ty) = if added {
                    (other, inner)
                } else {
                    (inner, other)
                };
                self.push(
                    if added {
                        Category::Compatible
                    } else {
                        Category::Json
                    },
                    subject.0.clone(),
                    subject.1.clone(),
                    if added {
                        format!("{place} became optional ({old} → {new})")
                    } else {
                        format!("{place} is no longer optional ({old} → {new}): JSON callers that omit it break")
                    },
                );
                self.ty(o, n, subject, place);
            }
            (Ty::Named(o), Ty::Named(n)) => {
                let same_kind = matches!(
                    (self.old.types.get(o), self.new.types.get(n)),
                    (Some(TypeDef::Struct(_)), Some(TypeDef::Struct(_)))
                        | (Some(TypeDef::Union(_)), Some(TypeDef::Union(_)))
                        | (Some(TypeDef::Enum(_)), Some(TypeDef::Enum(_)))
                        | (Some(TypeDef::OpenEnum(_)), Some(TypeDef::OpenEnum(_)))
                );
                if same_kind {
                    self.named(o, n, place);
                } else {
                    self.changed_type(old, new, subject, place);
                }
            }
            (o, n) if o == n => {}
            _ => self.changed_type(old, new, subject, place),
        }
    }

    fn changed_type(&mut self, old: &Ty, new: &Ty, subject: (&Subject, &Subject), place: &str) {
        let (old_kind, new_kind) = (self.describe(old, true), self.describe(new, false));
        self.push(
            Category::Wire,
            subject.0.clone(),
            subject.1.clone(),
            format!("{place} changed type: {old_kind} → {new_kind}"),
        );
    }

    fn describe(&self, ty: &Ty, old: bool) -> String {
        let types = if old {
            &self.old.types
        } else {
            &self.new.types
        };
        match ty {
            Ty::Named(n) => match types.get(n) {
                Some(TypeDef::Struct(_)) => format!("struct `{n}`"),
                Some(TypeDef::Union(_)) => format!("union `{n}`"),
                Some(TypeDef::Enum(_)) => format!("enum `{n}`"),
                Some(TypeDef::OpenEnum(_)) => format!("open enum `{n}`"),
                None => format!("`{n}`"),
            },
            other => format!("`{other}`"),
        }
    }

    /// Whether a type travels as a Cap'n Proto pointer (so that `option` adds nothing to its layout).
    fn is_pointer(&self, ty: &Ty) -> bool {
        match ty {
            Ty::String | Ty::Bytes | Ty::List(_) | Ty::Map(_) => true,
            Ty::Named(n) => !matches!(
                self.old.types.get(n).or_else(|| self.new.types.get(n)),
                Some(TypeDef::Enum(_))
            ),
            _ => false,
        }
    }

    /// Compares two named types of the same kind.
    fn named(&mut self, old: &str, new: &str, place: &str) {
        if !self.seen.insert((old.to_owned(), new.to_owned())) {
            return;
        }
        let (Some(o), Some(n)) = (self.old.types.get(old), self.new.types.get(new)) else {
            return;
        };
        let (ot, nt) = (Subject::Type(old.to_owned()), Subject::Type(new.to_owned()));
        match (o, n) {
            (TypeDef::Struct(o), TypeDef::Struct(n)) => self.members(old, new, o, n, "field"),
            (TypeDef::Union(o), TypeDef::Union(n)) => self.members(old, new, o, n, "variant"),
            (TypeDef::Enum(o), TypeDef::Enum(n)) => {
                let as_members = |v: &[String]| -> Vec<(String, String)> {
                    v.iter().map(|v| (v.clone(), "void".to_owned())).collect()
                };
                self.members(old, new, &as_members(o), &as_members(n), "value");
            }
            (TypeDef::OpenEnum(o), TypeDef::OpenEnum(n)) => {
                for (index, value) in o.iter().enumerate() {
                    if !n.contains(value) {
                        self.push(
                            Category::Wire,
                            Subject::Member {
                                ty: old.to_owned(),
                                name: value.clone(),
                                index,
                            },
                            nt.clone(),
                            format!("value `{value}` of open enum `{new}` was removed or renamed (its values travel as names)"),
                        );
                    }
                }
                for (index, value) in n.iter().enumerate() {
                    if !o.contains(value) {
                        self.push(
                            Category::Compatible,
                            ot.clone(),
                            Subject::Member {
                                ty: new.to_owned(),
                                name: value.clone(),
                                index,
                            },
                            format!("new value `{value}` of open enum `{new}`"),
                        );
                    }
                }
            }
            // Different kinds never reach here: `ty` reports them as a changed type.
            _ => {}
        }
        if old != new {
            self.push(
                Category::Compatible,
                ot,
                nt,
                format!("type `{old}` is now `{new}` ({place})"),
            );
        }
    }

    /// Compares the members of two structs, unions or enums, by ordinal.
    fn members(
        &mut self,
        old_ty: &str,
        new_ty: &str,
        old: &[(String, String)],
        new: &[(String, String)],
        what: &str,
    ) {
        let member = |ty: &str, (index, (name, _)): (usize, &(String, String))| Subject::Member {
            ty: ty.to_owned(),
            name: name.clone(),
            index,
        };
        for (index, (o, n)) in old.iter().zip(new).enumerate() {
            let (os, ns) = (member(old_ty, (index, o)), member(new_ty, (index, n)));
            if o.0 != n.0 {
                // A name that is still there, elsewhere: the members were reordered, and each now means
                // another on the wire.
                let moved = new.iter().position(|m| m.0 == o.0);
                match moved {
                    Some(to) => self.push(
                        Category::Wire,
                        os.clone(),
                        ns.clone(),
                        format!(
                            "{what} `{}` of `{new_ty}` moved from ordinal {index} to {to}",
                            o.0
                        ),
                    ),
                    None => self.push(
                        Category::Json,
                        os.clone(),
                        ns.clone(),
                        format!(
                            "{what} `{}` of `{new_ty}` (ordinal {index}) is now `{}`",
                            o.0, n.0
                        ),
                    ),
                }
            }
            match (Ty::parse(&o.1), Ty::parse(&n.1)) {
                (Ok(ot), Ok(nt)) => {
                    let place = format!("{what} `{}` of `{new_ty}`", n.0);
                    self.ty(&ot, &nt, (&os, &ns), &place);
                }
                _ => self.push(
                    Category::Wire,
                    os,
                    ns,
                    format!("{what} `{}` of `{new_ty}` has an unreadable type", n.0),
                ),
            }
        }
        for (index, o) in old.iter().enumerate().skip(new.len()) {
            self.push(
                Category::Wire,
                member(old_ty, (index, o)),
                Subject::Type(new_ty.to_owned()),
                format!(
                    "{what} `{}` of `{new_ty}` (ordinal {index}) was removed",
                    o.0
                ),
            );
        }
        for (index, n) in new.iter().enumerate().skip(old.len()) {
            self.push(
                Category::Compatible,
                Subject::Type(old_ty.to_owned()),
                member(new_ty, (index, n)),
                format!("new {what} `{}` of `{new_ty}` (ordinal {index})", n.0),
            );
        }
    }
}

/// The verdict on a call: a caller built from `caller` calls an IOmod serving `served` (same method). The
/// older of the two (by semantic version; the caller when both are the same version) is compared with the
/// newer; any [`Category::Wire`] change refuses the call. The error's text names the method, both versions
/// and what changed (at most the first five changes).
pub fn check_call(caller: &Contract, served: &Contract) -> Result<(), String> {
    let version = |v: &str| semver::Version::parse(v).ok();
    let caller_is_older = match (version(&caller.version), version(&served.version)) {
        (Some(c), Some(s)) => c <= s,
        _ => true,
    };
    let (old, new) = if caller_is_older {
        (caller, served)
    } else {
        (served, caller)
    };
    let breaking: Vec<Change> = compare(old, new)
        .into_iter()
        .filter(|c| c.category == Category::Wire)
        .collect();
    if breaking.is_empty() {
        return Ok(());
    }
    let mut text = format!(
        "`{}` of the caller (built for version {}) and of the IOmod (version {}) are not compatible: ",
        served.method, caller.version, served.version
    );
    for (i, change) in breaking.iter().take(5).enumerate() {
        if i > 0 {
            text.push_str("; ");
        }
        text.push_str(&change.message);
    }
    if breaking.len() > 5 {
        text.push_str(&format!("; and {} more", breaking.len() - 5));
    }
    Err(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(version: &str, types: &str, errors: &str) -> Contract {
        let text = format!(
            r#"{{"method":"m","ordinal":0,"version":"{version}","input":"In","output":"Out","errors":[{errors}],"types":{{{types}}}}}"#
        );
        Contract::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    const BASE: &str = r#""In":{"struct":[["id","string"],["n","i32"]]},"Out":{"struct":[["s","Status"],["shape","Shape"]]},"Status":{"enum":["a","b"]},"Shape":{"union":[["none","void"],["circle","f64"]]},"E":{"struct":[]}"#;

    fn categories(old: &Contract, new: &Contract) -> Vec<Category> {
        compare(old, new).into_iter().map(|c| c.category).collect()
    }

    #[test]
    fn types_parse_and_print() {
        for text in [
            "list<map<string, Item>>",
            "option<u64>",
            "map<string, list<i8>>",
            "void",
        ] {
            assert_eq!(Ty::parse(text).unwrap().to_string(), text);
        }
        for bad in ["lst<i8>", "list<i8", "map<i8, i8>", "", "i32 i32", "list<>"] {
            assert!(Ty::parse(bad).is_err(), "{bad}");
        }
        let deep = format!("{}i8{}", "list<".repeat(1000), ">".repeat(1000));
        assert!(Ty::parse(&deep).unwrap_err().to_string().contains("deeper"));
    }

    #[test]
    fn contracts_are_checked() {
        let bad = r#"{"method":"m","ordinal":0,"version":"1.0.0","input":"In","output":"Out","errors":[],"types":{"In":{"struct":[["x","Missing"]]},"Out":{"struct":[]}}}"#;
        assert!(
            Contract::parse(bad)
                .unwrap_err()
                .to_string()
                .contains("`Missing` is used but not defined")
        );
        let not_struct = r#"{"method":"m","ordinal":0,"version":"1.0.0","input":"In","output":"Out","errors":[],"types":{"In":{"enum":["a"]},"Out":{"struct":[]}}}"#;
        assert!(Contract::parse(not_struct).is_err());
        assert!(Contract::parse("{").is_err());
        assert!(Contract::parse(&" ".repeat(MAX_CONTRACT_BYTES + 1)).is_err());
    }

    #[test]
    fn additions_are_compatible_both_ways() {
        let v1 = contract("1.0.0", BASE, r#""E""#);
        let added = BASE
            .replace(r#"["n","i32"]]"#, r#"["n","i32"],["extra","option<u32>"]]"#)
            .replace(r#"["a","b"]"#, r#"["a","b","c"]"#)
            .replace(
                r#"["circle","f64"]]"#,
                r#"["circle","f64"],["square","f64"]]"#,
            )
            .replace(
                r#""E":{"struct":[]}"#,
                r#""E":{"struct":[]},"F":{"struct":[]}"#,
            );
        let v2 = contract("1.1.0", &added, r#""E","F""#);
        assert_eq!(categories(&v1, &v2), vec![Category::Compatible; 4]);
        assert_eq!(check_call(&v1, &v2), Ok(()));
        assert_eq!(check_call(&v2, &v1), Ok(()));
    }

    #[test]
    fn removals_reorders_and_type_changes_break() {
        let v1 = contract("1.0.0", BASE, r#""E""#);
        let cases = [
            (
                BASE.replace(r#",["n","i32"]"#, ""),
                "field `n` of `In` (ordinal 1) was removed",
            ),
            (
                BASE.replace(
                    r#"[["id","string"],["n","i32"]]"#,
                    r#"[["n","i32"],["id","string"]]"#,
                ),
                "moved from ordinal 0 to 1",
            ),
            (
                BASE.replace(r#"["n","i32"]"#, r#"["n","i64"]"#),
                "changed type: `i32` → `i64`",
            ),
            (
                BASE.replace(r#"["n","i32"]"#, r#"["n","list<i32>"]"#),
                "`i32` → `list<i32>`",
            ),
            (
                BASE.replace(r#"["n","i32"]"#, r#"["n","option<i32>"]"#),
                "`i32` → `option<i32>`",
            ),
            (
                BASE.replace(r#"["a","b"]"#, r#"["a"]"#),
                "value `b` of `Status` (ordinal 1) was removed",
            ),
            (
                BASE.replace(r#""enum":["a","b"]"#, r#""open_enum":["a","b"]"#),
                "enum `Status` → open enum `Status`",
            ),
            (
                BASE.replace(r#"["circle","f64"]"#, r#"["circle","string"]"#),
                "variant `circle` of `Shape` changed type",
            ),
        ];
        for (types, expected) in cases {
            let v2 = contract("2.0.0", &types, r#""E""#);
            let error = check_call(&v1, &v2).unwrap_err();
            assert!(error.contains(expected), "{expected}: {error}");
            assert!(
                error.contains("version 1.0.0") && error.contains("version 2.0.0"),
                "{error}"
            );
            // The older side is always the reference, whoever calls.
            assert_eq!(
                check_call(&v2, &v1).unwrap_err(),
                error.replace(
                    "built for version 1.0.0) and of the IOmod (version 2.0.0",
                    "built for version 2.0.0) and of the IOmod (version 1.0.0"
                )
            );
        }
        let no_error = contract("2.0.0", BASE, "");
        assert!(
            check_call(&v1, &no_error)
                .unwrap_err()
                .contains("named error `E` of `m` was removed")
        );
    }

    #[test]
    fn renames_keep_the_wire_and_break_json() {
        let v1 = contract("1.0.0", BASE, r#""E""#);
        let renamed = BASE
            .replace(r#"["id","string"]"#, r#"["key","string"]"#)
            .replace(r#"["a","b"]"#, r#"["a","bee"]"#);
        let v2 = contract("1.0.1", &renamed, r#""E""#);
        assert_eq!(categories(&v1, &v2), vec![Category::Json, Category::Json]);
        assert_eq!(check_call(&v1, &v2), Ok(()));
        // An option added to text keeps the layout.
        let optional = BASE.replace(r#"["id","string"]"#, r#"["id","option<string>"]"#);
        assert_eq!(
            categories(&v1, &contract("1.1.0", &optional, r#""E""#)),
            vec![Category::Compatible]
        );
    }

    #[test]
    fn recursive_types_terminate() {
        let types =
            r#""In":{"struct":[["next","option<In>"]]},"Out":{"struct":[["all","list<Out>"]]}"#;
        let v1 = contract("1.0.0", types, "");
        assert!(compare(&v1, &v1).is_empty());
    }
}
