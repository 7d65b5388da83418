//! The host skeletons generated for the code generator's fixtures, compiled.

/// `fixtures/primitives`.
pub mod fixture_primitives {
    include!(concat!(env!("OUT_DIR"), "/primitives/primitives.rs"));
}

/// `fixtures/recursive`.
pub mod fixture_recursive {
    include!(concat!(env!("OUT_DIR"), "/recursive/documents.rs"));
}

/// `fixtures/errors`.
pub mod fixture_errors {
    include!(concat!(env!("OUT_DIR"), "/errors/bank.rs"));
}

/// `fixtures/assemblylift`.
pub mod fixture_assemblylift {
    include!(concat!(env!("OUT_DIR"), "/assemblylift/http.rs"));
}
