//! Open enums (`open = true`): a value the manifest does not list passes through, typed as
//! `Unknown(name)`, in Cap'n Proto messages, over the in-process connection and as JSON, in every position
//! (a field, an option, a list, a list of lists, a map, a union variant).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use iomod_fixtures_host::fixture_primitives::primitives::{
    self, Color, Signal, Status, Statuses, StatusesInput, StatusesOutput,
};
use iomod_fixtures_host::fixture_primitives::primitives_capnp as pcap;
use iomod_sdk::Service;

fn unknown(name: &str) -> Status {
    Status::Unknown(name.to_owned())
}

/// Known and unknown values in every position.
fn mixed() -> Statuses {
    Statuses {
        one: unknown("archived"),
        maybe: Some(Status::Paused),
        many: vec![Status::Active, unknown("draining"), unknown("")],
        by_name: BTreeMap::from([
            ("a".to_owned(), Status::Retired),
            ("b".to_owned(), unknown("ÉTAT 🦀")),
        ]),
        nested: vec![vec![], vec![unknown("x"), Status::Paused]],
        signal: Signal::Status(unknown("flashing")),
    }
}

fn write(value: &Statuses) -> Vec<u8> {
    let mut message = capnp::message::Builder::new_default();
    value
        .write_to(message.init_root::<pcap::statuses::Builder<'_>>())
        .unwrap();
    capnp::serialize::write_message_to_words(&message)
}

fn read(bytes: &[u8]) -> Statuses {
    let reader =
        capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default())
            .unwrap();
    Statuses::read_from(reader.get_root::<pcap::statuses::Reader<'_>>().unwrap()).unwrap()
}

#[test]
fn names_and_conversions() {
    assert_eq!(Status::Active.as_str(), "active");
    assert_eq!(Status::Paused.as_str(), "paused");
    assert_eq!(unknown("archived").as_str(), "archived");
    assert_eq!(Status::from("retired"), Status::Retired);
    assert_eq!(Status::from("archived"), unknown("archived"));
    assert_eq!(Status::from(String::from("paused")), Status::Paused);
    assert_eq!(Status::from(String::from("Paused")), unknown("Paused"));
    assert_eq!(Status::from(""), unknown(""));
    for status in [
        Status::Active,
        Status::Paused,
        Status::Retired,
        unknown("z"),
    ] {
        assert_eq!(Status::from(status.as_str()), status);
    }
}

#[test]
fn known_and_unknown_values_round_trip_through_capnp() {
    for value in [mixed(), Statuses::default()] {
        assert_eq!(read(&write(&value)), value);
    }
    let known = Statuses {
        one: Status::Paused,
        maybe: None,
        many: vec![Status::Retired, Status::Active],
        by_name: BTreeMap::from([("k".to_owned(), Status::Active)]),
        nested: vec![vec![Status::Retired]],
        signal: Signal::Color(Color::Blue),
    };
    assert_eq!(read(&write(&known)), known);
    // Present but unknown and empty stays present.
    let empty_name = Statuses {
        maybe: Some(unknown("")),
        signal: Signal::Off,
        ..Statuses::default()
    };
    assert_eq!(read(&write(&empty_name)), empty_name);
}

#[test]
fn a_value_a_newer_writer_adds_reaches_an_older_reader_by_name() {
    // Written by a peer whose manifest lists more values: on the wire, a name.
    let mut message = capnp::message::Builder::new_default();
    {
        let mut root = message.init_root::<pcap::statuses::Builder<'_>>();
        root.set_one("archived");
        root.set_maybe("paused");
        let mut many = root.reborrow().init_many(2);
        many.set(0, "active");
        many.set(1, "updating");
        let mut entries = root.reborrow().init_by_name(1);
        entries.reborrow().get(0).set_key("t");
        entries.get(0).set_value("restoring");
        root.init_signal().set_status("strobing");
    }
    let bytes = capnp::serialize::write_message_to_words(&message);
    let value = read(&bytes);
    assert_eq!(value.one, unknown("archived"));
    assert_eq!(value.maybe, Some(Status::Paused));
    assert_eq!(value.many, vec![Status::Active, unknown("updating")]);
    assert_eq!(value.by_name["t"], unknown("restoring"));
    assert_eq!(value.signal, Signal::Status(unknown("strobing")));
    // And it writes back the name it read.
    let written = write(&value);
    let reader =
        capnp::serialize::read_message_from_flat_slice(&mut &written[..], Default::default())
            .unwrap();
    let root = reader.get_root::<pcap::statuses::Reader<'_>>().unwrap();
    assert_eq!(root.get_one().unwrap().to_str().unwrap(), "archived");
    assert_eq!(
        root.get_many().unwrap().get(1).unwrap().to_str().unwrap(),
        "updating"
    );
}

#[test]
fn unset_members_read_as_the_first_value() {
    // A writer that does not know the field (an older manifest): Cap'n Proto's default, the first value.
    let mut message = capnp::message::Builder::new_default();
    message.init_root::<pcap::statuses::Builder<'_>>();
    let bytes = capnp::serialize::write_message_to_words(&message);
    let value = read(&bytes);
    assert_eq!(value.one, Status::Active);
    assert_eq!(value.signal, Signal::Status(Status::Active));
    assert_eq!(value, Statuses::default());
}

#[test]
fn json_is_the_name_as_a_string() {
    let value = mixed();
    let json = serde_json::to_value(&value).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "one": "archived",
            "maybe": "paused",
            "many": ["active", "draining", ""],
            "by_name": {"a": "retired", "b": "ÉTAT 🦀"},
            "nested": [[], ["x", "paused"]],
            "signal": {"status": "flashing"},
        })
    );
    assert_eq!(serde_json::from_value::<Statuses>(json).unwrap(), value);
    assert_eq!(
        serde_json::from_str::<Status>("\"retired\"").unwrap(),
        Status::Retired
    );
    assert_eq!(
        serde_json::from_str::<Status>("\"Retired\"").unwrap(),
        unknown("Retired")
    );
    assert!(serde_json::from_str::<Status>("3").is_err());
    assert!(serde_json::from_str::<Status>("null").is_err());
}

#[test]
fn the_json_schema_documents_the_names_and_accepts_any_string() {
    let info = primitives::info();
    let method = info.methods.iter().find(|m| m.name == "statuses").unwrap();
    let schema: serde_json::Value = serde_json::from_str(&method.input_schema).unwrap();
    assert_eq!(
        schema["$defs"]["Status"]["anyOf"],
        serde_json::json!([
            {"type": "string", "enum": ["active", "paused", "retired"]},
            {"type": "string"},
        ])
    );
}

/// Echoes its input, and names the statuses it saw.
struct Echo;

impl primitives::Primitives for Echo {
    async fn statuses(
        &self,
        input: StatusesInput,
    ) -> Result<StatusesOutput, primitives::StatusesError> {
        let mut value = input.value;
        value
            .by_name
            .insert("seen".into(), Status::from(value.one.as_str()));
        Ok(StatusesOutput { value })
    }
}

#[tokio::test]
async fn unknown_values_cross_a_call_both_ways() {
    let client = primitives::Client::in_process(Echo);
    let output = client
        .statuses(StatusesInput { value: mixed() })
        .await
        .unwrap();
    let mut expected = mixed();
    expected.by_name.insert("seen".into(), unknown("archived"));
    assert_eq!(output.value, expected);

    // And as JSON, through the skeleton's JSON call path.
    let service = Arc::new(primitives::service(Echo));
    let input = serde_json::json!({ "value": { "one": "paused", "many": ["new"], "by_name": {},
        "nested": [], "signal": "off" } });
    let output = service
        .call_json("statuses".into(), input.to_string())
        .unwrap()
        .await
        .unwrap();
    let output: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert_eq!(
        output,
        serde_json::json!({ "value": { "one": "paused", "many": ["new"],
            "by_name": {"seen": "paused"}, "nested": [], "signal": "off" } })
    );
}
