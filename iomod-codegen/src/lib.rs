//! The iomod code generator: from one manifest (`iomod.toml`), an IOmod's Cap'n Proto interface, its
//! host-side server skeleton, the matching wasm guest crate, and JSON Schemas of its methods.
//!
//! The core is [`Manifest::parse`] (which reports every problem at once, each pointing at its place in the
//! file) and [`generate()`] (validated manifest in, files out, deterministic). Two thin front ends write the
//! files: the build-script [`configure`] builder and the `iomod-codegen` command-line tool.
//!
//! ```
//! let text = r#"
//! [iomod]
//! coordinates = "example.demo.greeter"
//! version = "1.0.0"
//!
//! [methods.greet]
//! doc = "Greets someone."
//! input = { name = "string" }
//! output = { greeting = "string" }
//! "#;
//! let manifest = iomod_codegen::Manifest::parse("iomod.toml", text).unwrap();
//! assert_eq!(manifest.methods[0].name, "greet");
//!
//! let files = iomod_codegen::generate(&manifest, &iomod_codegen::Options::default()).unwrap();
//! assert!(files["schema/greeter.capnp".as_ref() as &std::path::Path].contains("interface Greeter"));
//! assert!(files.contains_key(std::path::Path::new("host/greeter.rs")));
//! assert!(files.contains_key(std::path::Path::new("guest/src/lib.rs")));
//!
//! let bad = text.replace("\"string\" }", "\"strng\" }");
//! let err = iomod_codegen::Manifest::parse("iomod.toml", &bad).unwrap_err();
//! assert!(err.to_string().contains("unknown type `strng`"));
//! assert!(err.to_string().contains("--> iomod.toml:9:"));
//! ```

#![warn(missing_docs)]

pub mod breaking;
mod build;
mod diagnostics;
pub mod generate;
pub mod lock;
mod manifest;
pub mod naming;
mod parse;
pub mod stale;
mod validate;

pub use build::{
    BuildError, Builder, Generated, configure, write_all_if_changed, write_if_changed,
};
pub use diagnostics::{Diagnostic, Diagnostics};
pub use generate::format::rustfmt;
pub use generate::{
    GenerateError, GeneratedFiles, Names, Options, generate, method_contract, method_fingerprint,
};
pub use manifest::{
    EnumValue, ErrorDef, Field, Manifest, Method, Process, Type, TypeDef, TypeKind,
};

impl Manifest {
    /// Parses and validates the manifest `source`; `file` names it in messages. On failure, every problem
    /// found is reported.
    pub fn parse(file: &str, source: &str) -> Result<Manifest, Diagnostics> {
        let mut parser = parse::Parser::new(source);
        let manifest = parser.parse();
        let mut problems = parser.problems;
        if let Some(manifest) = &manifest {
            validate::validate(manifest, &mut problems);
        }
        match manifest {
            Some(manifest) if problems.is_empty() => Ok(manifest),
            _ => {
                problems.sort_by_key(|d| (d.span.start, d.span.end));
                problems.dedup();
                Err(Diagnostics {
                    file: file.to_owned(),
                    source: source.to_owned(),
                    items: problems,
                })
            }
        }
    }

    /// Validates a manifest built in code (positions in the messages are then meaningless).
    pub fn validate(&self) -> Result<(), Diagnostics> {
        let mut problems = Vec::new();
        if let Err(e) = self.coordinates.parse::<iomod_sdk::Coordinates>() {
            problems.push(Diagnostic::new(0..0, e.to_string()));
        }
        if let Err(e) = iomod_sdk::check_version(&self.version) {
            problems.push(Diagnostic::new(0..0, e.to_string()));
        }
        validate::validate(self, &mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics {
                file: format!("<manifest of {}>", self.coordinates),
                source: String::new(),
                items: problems,
            })
        }
    }
}

/// The JSON Schema of the manifest format itself, for editors (`iomod-codegen schema` prints it).
pub const MANIFEST_SCHEMA: &str = include_str!("../manifest.schema.json");

/// `sha256:<hex>` of `text`.
pub fn digest(text: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(text.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
