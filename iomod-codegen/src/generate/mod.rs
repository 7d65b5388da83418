//! The generators. Each takes the validated [`Manifest`] and returns text; [`generate`] gathers them.

pub(crate) mod capnp;
pub(crate) mod compile;
pub mod format;
pub(crate) mod guest;
pub(crate) mod host;
pub(crate) mod json_schema;
pub(crate) mod registration;
pub(crate) mod rust;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::manifest::{Manifest, Method};

use crate::naming::{capnp_type, capnpc_module, rust_ident, snake, upper_camel};

/// Names derived from a manifest, shared by every generator.
#[derive(Debug, Clone)]
pub struct Names {
    /// The file stem of the host file and the guest crate (`dynamodb` for `example.aws.dynamodb`).
    pub module: String,
    /// The Rust module of the host skeleton: `module`, escaped when it is a keyword (`r#type`).
    pub rust_module: String,
    /// The stem of the IOmod's `.capnp` file (and of capnpc-rust's `<stem>_capnp` module): `module`, or
    /// `iomod_iomod` for an IOmod named `iomod`, whose schema would replace the protocol's `iomod.capnp`.
    pub schema_stem: String,
    /// The Cap'n Proto interface (`Dynamodb`).
    pub interface: String,
    /// The Rust trait of the interface: `interface`, or `Self_`.
    pub rust_interface: String,
    /// capnpc-rust's module of the interface (`dynamodb`, `type_` for an interface `Type`).
    pub interface_module: String,
    /// The Cap'n Proto file id, derived from the coordinates.
    pub file_id: u64,
}

impl Names {
    /// The names of `manifest`.
    pub fn of(manifest: &Manifest) -> Self {
        use sha2::Digest;
        let module = snake(&upper_camel(&manifest.name().replace('-', "_")));
        let hash =
            sha2::Sha256::digest(format!("iomod-codegen:{}", manifest.coordinates).as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(&hash[..8]);
        let interface = capnp_type(&upper_camel(&module));
        Self {
            rust_module: rust_ident(&module),
            schema_stem: if module == "iomod" {
                "iomod_iomod".to_owned()
            } else {
                module.clone()
            },
            rust_interface: rust_ident(&upper_camel(&module)),
            interface_module: capnpc_module(&interface),
            interface,
            module,
            file_id: u64::from_be_bytes(id) | (1 << 63),
        }
    }

    /// The Cap'n Proto struct holding a method's outcome.
    pub fn result_struct(&self, method: &Method) -> String {
        capnp_type(&format!("{}Result", upper_camel(&method.name)))
    }
}

/// `method`'s contract ([`iomod_sdk::contract`]): its ordinal, the manifest's version, and the layout
/// (names, kinds, member order and types) of every type its input, output and named errors reach, as
/// canonical JSON text. Documentation does not count. The registry compares an IOmod's contracts with its
/// callers' by Cap'n Proto's compatibility rules.
pub fn method_contract(m: &Manifest, method: &Method) -> String {
    use crate::manifest::{Type, TypeKind};
    use iomod_sdk::contract::{Contract, TypeDef};

    let ordinal = m
        .methods
        .iter()
        .position(|x| x.name == method.name)
        .unwrap_or(0);
    let mut types = BTreeMap::new();
    let mut queue: Vec<String> = vec![method.input.clone(), method.output.clone()];
    queue.extend(method.errors.iter().cloned());
    fn named(ty: &Type, out: &mut Vec<String>) {
        match ty {
            Type::Named(n) => out.push(n.clone()),
            Type::List(t) | Type::Map(t) | Type::Option(t) => named(t, out),
            _ => {}
        }
    }
    let members = |fields: &[crate::Field], queue: &mut Vec<String>| {
        fields
            .iter()
            .map(|f| {
                named(&f.ty, queue);
                (f.name.clone(), f.ty.to_manifest())
            })
            .collect::<Vec<_>>()
    };
    while let Some(name) = queue.pop() {
        if types.contains_key(&name) {
            continue;
        }
        let def = if let Some(def) = m.type_def(&name) {
            match &def.kind {
                TypeKind::Struct(fields) => TypeDef::Struct(members(fields, &mut queue)),
                TypeKind::Union(variants) => TypeDef::Union(members(variants, &mut queue)),
                TypeKind::Enum { values, open } => {
                    let values = values.iter().map(|v| v.name.clone()).collect();
                    if *open {
                        TypeDef::OpenEnum(values)
                    } else {
                        TypeDef::Enum(values)
                    }
                }
            }
        } else if let Some(def) = m.error_def(&name) {
            TypeDef::Struct(members(&def.fields, &mut queue))
        } else {
            continue;
        };
        types.insert(name, def);
    }
    Contract {
        method: method.name.clone(),
        ordinal: u16::try_from(ordinal).unwrap_or(u16::MAX),
        version: m.version.clone(),
        input: method.input.clone(),
        output: method.output.clone(),
        errors: method.errors.clone(),
        types,
    }
    .to_json()
}

/// The fingerprint of `method`'s contract ([`method_contract`]): 16 hex digits of its SHA-256. A caller
/// sends it with every call, so that the registry compares contracts only when they differ.
pub fn method_fingerprint(m: &Manifest, method: &Method) -> String {
    iomod_sdk::contract::Contract::fingerprint_of(&method_contract(m, method))
}

/// Generated files: relative path → contents.
pub type GeneratedFiles = BTreeMap<PathBuf, String>;

/// Why generation failed (the manifest itself was valid).
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A template failed to render: a bug in the generator.
    #[error("rendering {template}: {message}")]
    Template {
        /// Which template.
        template: String,
        /// The renderer's message.
        message: String,
    },
    /// Generated Rust did not parse: a bug in the generator.
    #[error("laying out {file}: {message}")]
    Format {
        /// Which generated file.
        file: String,
        /// Where and what the parser found.
        message: String,
    },
    /// The Cap'n Proto compiler or code generator failed on the generated schema.
    #[error("Cap'n Proto: {0}")]
    Capnp(String),
}

pub(crate) fn render(
    name: &str,
    template: &str,
    context: &tera::Context,
) -> Result<String, GenerateError> {
    let mut tera = tera::Tera::new();
    tera.autoescape_on(Vec::<&str>::new());
    let error = |e: tera::Error| GenerateError::Template {
        template: name.to_owned(),
        message: format!("{e:?}"),
    };
    tera.add_raw_template(name, template).map_err(error)?;
    tera.render(name, context).map_err(error)
}

/// What to generate, and how generated code is wired in. The builder and the CLI share it (the CLI's
/// flags are these fields).
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The module path where the host file is included, comma-separated (default: the crate root).
    #[arg(long, value_delimiter = ',')]
    pub host_parent_module: Vec<String>,
    /// The `iomod-sdk` dependency of the guest crate, as TOML (`"0.1"`, or `{ path = ".." }`).
    #[arg(long, default_value_t = default_sdk_dependency())]
    pub guest_sdk_dependency: String,
    /// Whether the host skeleton answers JSON calls (`iomod call`): serde's traits on the host types and
    /// `Service::call_json` (through the SDK's own serde, so the IOmod crate needs no serde dependency).
    /// On by default; `--no-json-calls` turns it off.
    #[arg(long = "no-json-calls", action = clap::ArgAction::SetFalse)]
    pub host_serde: bool,
}

/// The guest crate's `iomod-sdk` by default: the published release of the SDK this generator was built
/// with (its generated code and that SDK go together).
fn default_sdk_dependency() -> String {
    format!("\"{}\"", iomod_sdk::SDK_VERSION)
}

impl Default for Options {
    fn default() -> Self {
        Self {
            host_parent_module: Vec::new(),
            guest_sdk_dependency: default_sdk_dependency(),
            host_serde: true,
        }
    }
}

/// Generates every output for `manifest`:
///
/// - `schema/<name>.capnp`: the IOmod's Cap'n Proto schema, and `schema/iomod.capnp`, the protocol schema
///   it imports;
/// - `host/<name>.rs`: the host skeleton (types, trait, Cap'n Proto server, `iomod_sdk::Service`);
/// - `guest/`: the wasm guest crate (`Cargo.toml`, `src/lib.rs`, `src/<name>_capnp.rs`);
/// - `json/<method>.input.json`, `.output.json` and (when the method declares errors) `.errors.json`;
/// - `registration/<name>.json`: what `Registry.register` needs from the manifest, for IOmods written in
///   other languages.
///
/// The result depends only on the manifest and the options. Compiling the schema (which checks it and
/// produces the Rust code embedded in the host and guest files) runs the embedded Cap'n Proto compiler on
/// a scratch copy in the system's temporary directory.
pub fn generate(manifest: &Manifest, options: &Options) -> Result<GeneratedFiles, GenerateError> {
    let names = Names::of(manifest);
    let mut files = GeneratedFiles::new();
    let schema = capnp::schema(manifest, &names)?;
    let request = compile::compile(&names.schema_stem, &schema)?;
    let host_capnp = compile::rust_code(&names.schema_stem, &request, &options.host_parent_module)?;
    files.insert(
        PathBuf::from(format!("host/{}.rs", names.module)),
        host::host(manifest, &names, &host_capnp, options)?,
    );
    let guest_capnp = compile::rust_code(&names.schema_stem, &request, &[])?;
    guest::guest(
        manifest,
        &names,
        &guest_capnp,
        &options.guest_sdk_dependency,
        &mut files,
    )?;
    files.insert(
        PathBuf::from(format!("schema/{}.capnp", names.schema_stem)),
        schema,
    );
    files.insert(
        PathBuf::from(format!("registration/{}.json", names.module)),
        registration::registration(manifest, &names, &request)?,
    );
    files.insert(
        PathBuf::from("schema/iomod.capnp"),
        iomod_sdk::PROTOCOL_SCHEMA.to_owned(),
    );
    for method in &manifest.methods {
        let pretty =
            |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
        files.insert(
            PathBuf::from(format!("json/{}.input.json", method.name)),
            pretty(&json_schema::input(manifest, method)),
        );
        files.insert(
            PathBuf::from(format!("json/{}.output.json", method.name)),
            pretty(&json_schema::output(manifest, method)),
        );
        let errors = json_schema::errors(manifest, method);
        if !errors.is_null() {
            files.insert(
                PathBuf::from(format!("json/{}.errors.json", method.name)),
                pretty(&errors),
            );
        }
    }
    Ok(files)
}
