//! The host-side skeleton: plain types, the trait an IOmod implements, and its Cap'n Proto server.

use serde::Serialize;

use crate::generate::capnp::method_name;
use crate::generate::rust::rustdoc_lines;
use crate::generate::rust::{Flavor, LIST_LEN_HELPER, RustGen};
use crate::generate::{GenerateError, Names, Options, format, json_schema, render};
use crate::manifest::Manifest;
use crate::naming::{capnpc_module, capnpc_variant, rust_ident, upper_camel};

/// A method as the templates see it.
#[derive(Serialize)]
pub(crate) struct MethodView {
    /// The manifest's name.
    name: String,
    /// The Rust functions' name (`r#type`, `self_`).
    rust: String,
    /// capnpc-rust's server method (`type_`).
    server_fn: String,
    /// capnpc-rust's module of the params (`type_params`) and the results.
    params_module: String,
    results_module: String,
    /// The prefix of capnpc-rust's `<It>Params`/`<It>Results` aliases.
    camel: String,
    ordinal: usize,
    input: String,
    output: String,
    error: String,
    doc: Vec<String>,
    doc_literal: String,
    input_schema: String,
    output_schema: String,
    error_schema: String,
    fingerprint: String,
    /// The method's contract, as a Rust string literal.
    contract: String,
}

fn literal(text: &str) -> String {
    format!("{text:?}")
}

pub(crate) fn methods(m: &Manifest) -> Vec<MethodView> {
    m.methods
        .iter()
        .enumerate()
        .map(|(ordinal, method)| {
            let compact = |v: serde_json::Value| {
                if v.is_null() {
                    String::new()
                } else {
                    v.to_string()
                }
            };
            let capnp = method_name(&method.name);
            MethodView {
                name: method.name.clone(),
                rust: rust_ident(&method.name),
                server_fn: capnpc_module(&capnp),
                params_module: capnpc_module(&format!("{capnp}Params")),
                results_module: capnpc_module(&format!("{capnp}Results")),
                camel: capnpc_variant(&capnp),
                ordinal,
                input: rust_ident(&method.input),
                output: rust_ident(&method.output),
                error: format!("{}Error", upper_camel(&method.name)),
                doc: rustdoc_lines(&method.doc),
                doc_literal: literal(&method.doc),
                input_schema: literal(&compact(json_schema::input(m, method))),
                output_schema: literal(&compact(json_schema::output(m, method))),
                error_schema: literal(&compact(json_schema::errors(m, method))),
                fingerprint: crate::generate::method_fingerprint(m, method),
                contract: literal(&crate::generate::method_contract(m, method)),
            }
        })
        .collect()
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{by}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// `host/<module>.rs`, to be included at `options.host_parent_module`.
pub(crate) fn host(
    m: &Manifest,
    names: &Names,
    capnp_code: &str,
    options: &Options,
) -> Result<String, GenerateError> {
    let mut path = vec!["crate".to_owned()];
    path.extend(options.host_parent_module.iter().cloned());
    path.push(format!("{}_capnp", names.schema_stem));
    let cap = path.join("::");
    let flavor = if options.host_serde {
        Flavor::HostSerde
    } else {
        Flavor::Host
    };
    let types = RustGen::new(m, "cap".into(), flavor).types(names);
    let mut context = tera::Context::new();
    context.insert("generator_version", env!("CARGO_PKG_VERSION"));
    context.insert("coordinates", &m.coordinates);
    context.insert("version", &m.version);
    context.insert("digest", &m.digest);
    context.insert("module", &names.module);
    context.insert("rust_module", &names.rust_module);
    context.insert("schema_stem", &names.schema_stem);
    context.insert("interface", &names.rust_interface);
    context.insert("interface_module", &names.interface_module);
    context.insert("cap", &cap);
    context.insert("capnp_code", &indent(capnp_code, "    "));
    context.insert("types", &indent(&types, "    "));
    context.insert("list_len_helper", &indent(LIST_LEN_HELPER, "    "));
    context.insert("methods", &methods(m));
    context.insert("host_serde", &options.host_serde);
    let host = render(
        "host.rs",
        include_str!("../../templates/host.rs.tera"),
        &context,
    )?;
    format::rust(&format!("host/{}.rs", names.module), &host)
}
