//! The generated guest types of `fixtures/primitives`, natively: open enums keep a value the manifest does
//! not list, through Cap'n Proto and JSON, and describe themselves to schemars; every type has `Default`.
//! `tests/guest_build.rs` builds this crate next to the guest crates and runs its tests.
#![cfg(test)]

use std::collections::BTreeMap;

use primitives_guest::primitives_capnp as cap;
use primitives_guest::{Color, Signal, Status, Statuses};

fn statuses() -> Statuses {
    Statuses {
        one: Status::Unknown("archived".into()),
        maybe: Some(Status::Retired),
        many: vec![Status::Paused, Status::Unknown("draining".into())],
        by_name: BTreeMap::from([("a".to_owned(), Status::Unknown("new".into()))]),
        nested: vec![vec![Status::Active]],
        signal: Signal::Status(Status::Unknown("strobing".into())),
    }
}

#[test]
fn open_enums_round_trip_through_capnp() {
    let value = statuses();
    let mut message = capnp::message::Builder::new_default();
    value
        .write_to(message.init_root::<cap::statuses::Builder<'_>>())
        .unwrap();
    let bytes = capnp::serialize::write_message_to_words(&message);
    let reader =
        capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default())
            .unwrap();
    let back =
        Statuses::read_from(reader.get_root::<cap::statuses::Reader<'_>>().unwrap()).unwrap();
    assert_eq!(back, value);
}

#[test]
fn open_enums_are_strings_in_json() {
    let json = serde_json::to_value(statuses()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "one": "archived",
            "maybe": "retired",
            "many": ["paused", "draining"],
            "by_name": {"a": "new"},
            "nested": [["active"]],
            "signal": {"status": "strobing"},
        })
    );
    assert_eq!(
        serde_json::from_value::<Statuses>(json).unwrap(),
        statuses()
    );
    assert_eq!(Status::from("paused").as_str(), "paused");
    assert_eq!(Status::from("later"), Status::Unknown("later".into()));
}

#[test]
fn the_schemars_schema_documents_the_names_and_accepts_any_string() {
    let schema = serde_json::to_value(schemars::schema_for!(Statuses)).unwrap();
    let status = &schema["$defs"]["Status"];
    assert_eq!(
        status["anyOf"],
        serde_json::json!([
            {"type": "string", "enum": ["active", "paused", "retired"]},
            {"type": "string"},
        ]),
        "{schema:#}"
    );
    assert_eq!(
        status["description"],
        "A status another system owns, which may add values at any time."
    );
    assert_eq!(schema["properties"]["one"]["$ref"], "#/$defs/Status");
}

#[test]
fn every_type_has_a_default() {
    assert_eq!(Status::default(), Status::Active);
    assert_eq!(Color::default(), Color::Red);
    assert_eq!(Signal::default(), Signal::Status(Status::Active));
    let value = Statuses {
        maybe: Some(Status::Paused),
        ..Default::default()
    };
    assert_eq!(value.one, Status::Active);
    assert!(value.many.is_empty() && value.by_name.is_empty());
}
