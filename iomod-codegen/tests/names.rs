//! Generator cases that need no fixture of their own: an IOmod named `iomod`, documentation that would
//! break the schema or become failing doctests, and JSON names that differ from the Rust ones.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use iomod_codegen::{Manifest, Options, generate};

fn files(text: &str) -> iomod_codegen::GeneratedFiles {
    let manifest = Manifest::parse("iomod.toml", text).unwrap_or_else(|d| panic!("{d}"));
    generate(&manifest, &Options::default()).unwrap()
}

#[test]
fn an_iomod_named_iomod_keeps_the_protocol_schema() {
    let files = files(
        "[iomod]\ncoordinates = \"example.test.iomod\"\nversion = \"1.0.0\"\n\
         [methods.get]\ninput = { key = \"string\" }\n",
    );
    assert_eq!(
        files[Path::new("schema/iomod.capnp")],
        iomod_sdk::PROTOCOL_SCHEMA
    );
    assert!(files[Path::new("schema/iomod_iomod.capnp")].contains("interface IomodType"));
    assert!(files.contains_key(Path::new("guest/src/iomod_iomod_capnp.rs")));
    assert!(
        files[Path::new("registration/iomod.json")].contains("\"schema\": \"iomod_iomod.capnp\"")
    );
}

#[test]
fn docs_never_break_the_schema_or_become_doctests() {
    let files = files(
        "[iomod]\ncoordinates = \"example.test.docs\"\nversion = \"1.0.0\"\n\
         [types.Mode]\nenum = [{ name = \"fast\", doc = \"First line.\\nSecond line.\" }, \"http_1_1\"]\n\
         [types.Thing]\ndoc = \"Old Mac line.\\rEnds here.\\n\\n```\\nnot rust\\n```\\n\\n    indented\\n    block\\n\\nAfter.\"\n\
         fields.mode = \"Mode\"\n\
         [methods.get]\ninput = \"Thing\"\n",
    );
    let schema = &files[Path::new("schema/docs.capnp")];
    assert!(schema.contains("fast @0;  # First line.\n"), "{schema}");
    assert!(!schema.contains("Second line."), "{schema}");
    let guest = &files[Path::new("guest/src/lib.rs")];
    assert!(
        guest.contains("/// Old Mac line.\n/// Ends here.\n"),
        "{guest}"
    );
    assert!(
        guest.contains("/// ```text\n/// not rust\n/// ```\n"),
        "{guest}"
    );
    assert!(
        guest.contains("/// ```text\n///     indented\n///     block\n/// ```\n"),
        "{guest}"
    );
    assert!(!guest.contains('\r'));
    // JSON names are the manifest's, value by value.
    assert!(
        guest.contains("#[serde(rename = \"http_1_1\")]\n    Http11,"),
        "{guest}"
    );
    let schema = &files[Path::new("json/get.input.json")];
    assert!(schema.contains("\"http_1_1\""), "{schema}");
}
