//! Every generated type has `Default`: structs empty (options `None`, lists and maps empty, zero
//! numbers, `false`, empty text), enums their first value, unions their first variant with its value's
//! default. It is also what a message with nothing set reads as.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use iomod_fixtures_host::fixture_errors::bank::{InsufficientFunds, WithdrawInput};
use iomod_fixtures_host::fixture_primitives::primitives::{
    Collections, Color, Optionals, Scalars, ScalarsInput, Signal, Status, Statuses,
};
use iomod_fixtures_host::fixture_primitives::primitives_capnp as pcap;
use iomod_fixtures_host::fixture_recursive::documents::{AttributeValue, Marker, Tree};
use iomod_fixtures_host::fixture_recursive::documents_capnp as dcap;

#[test]
fn structs_are_empty() {
    assert_eq!(
        Scalars::default(),
        Scalars {
            flag: false,
            tiny: 0,
            small: 0,
            medium: 0,
            large: 0,
            utiny: 0,
            usmall: 0,
            umedium: 0,
            ularge: 0,
            single: 0.0,
            double: 0.0,
            text: String::new(),
            blob: Vec::new(),
        }
    );
    assert_eq!(
        Optionals::default(),
        Optionals {
            flag: None,
            number: None,
            ratio: None,
            text: None,
            blob: None,
            numbers: None,
            scalars: None,
            color: None,
        }
    );
    assert_eq!(
        Collections::default(),
        Collections {
            flags: vec![],
            numbers: vec![],
            texts: vec![],
            blobs: vec![],
            nested: vec![],
            by_name: BTreeMap::new(),
            colors: vec![],
            palettes: BTreeMap::new(),
        }
    );
    assert_eq!(
        Tree::default(),
        Tree {
            label: String::new(),
            left: None,
            right: None
        }
    );
    // Inline method inputs and named errors' data, too: a literal names only what it sets.
    let input = ScalarsInput {
        value: Scalars {
            large: 7,
            ..Default::default()
        },
    };
    assert_eq!(input.value.large, 7);
    assert_eq!(ScalarsInput::default().value, Scalars::default());
    assert_eq!(
        InsufficientFunds {
            requested: 5,
            ..Default::default()
        },
        InsufficientFunds {
            balance: 0,
            requested: 5
        }
    );
    assert_eq!(WithdrawInput::default().id, "");
}

#[test]
fn enums_and_unions_start_with_their_first() {
    assert_eq!(Color::default(), Color::Red);
    assert_eq!(Status::default(), Status::Active);
    assert_eq!(Signal::default(), Signal::Status(Status::Active));
    assert_eq!(AttributeValue::default(), AttributeValue::S(String::new()));
    assert_eq!(Marker::default(), Marker::Present);
    assert_eq!(
        Statuses::default(),
        Statuses {
            one: Status::Active,
            maybe: None,
            many: vec![],
            by_name: BTreeMap::new(),
            nested: vec![],
            signal: Signal::Status(Status::Active),
        }
    );
}

/// A message whose root has nothing set, read as `$ty`.
macro_rules! read_unset {
    ($ty:ty, $cap:path) => {{
        use $cap as cap;
        let mut message = capnp::message::Builder::new_default();
        message.init_root::<cap::Builder<'_>>();
        let bytes = capnp::serialize::write_message_to_words(&message);
        let reader =
            capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default())
                .unwrap();
        <$ty>::read_from(reader.get_root::<cap::Reader<'_>>().unwrap()).unwrap()
    }};
}

#[test]
fn a_message_with_nothing_set_reads_as_the_default() {
    assert_eq!(read_unset!(Scalars, pcap::scalars), Scalars::default());
    assert_eq!(
        read_unset!(Optionals, pcap::optionals),
        Optionals::default()
    );
    assert_eq!(
        read_unset!(Collections, pcap::collections),
        Collections::default()
    );
    assert_eq!(read_unset!(Statuses, pcap::statuses), Statuses::default());
    assert_eq!(read_unset!(Signal, pcap::signal), Signal::default());
    assert_eq!(
        read_unset!(AttributeValue, dcap::attribute_value),
        AttributeValue::default()
    );
    assert_eq!(read_unset!(Tree, dcap::tree), Tree::default());
    assert_eq!(read_unset!(Marker, dcap::marker), Marker::default());
}
