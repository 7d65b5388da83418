//! Plain values → Cap'n Proto → plain values, through the generated conversions: equal, for hundreds of
//! generated values of every fixture type, recursion included.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use iomod_fixtures_host::fixture_primitives::primitives::{Collections, Color, Optionals, Scalars};
use iomod_fixtures_host::fixture_primitives::primitives_capnp as pcap;
use iomod_fixtures_host::fixture_recursive::documents::{AttributeValue, Marker, Tree};
use iomod_fixtures_host::fixture_recursive::documents_capnp as dcap;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self) -> bool {
        self.below(2) == 0
    }
    /// Mostly ordinary values, sometimes the extremes.
    fn int<T: TryFrom<u64> + Copy>(&mut self, extremes: [T; 3]) -> T {
        match self.below(8) {
            0..=2 => extremes[self.below(3) as usize],
            _ => T::try_from(self.below(100)).unwrap_or(extremes[0]),
        }
    }
    fn f64(&mut self) -> f64 {
        match self.below(6) {
            0 => f64::INFINITY,
            1 => f64::MIN_POSITIVE,
            2 => -0.5e300,
            _ => self.next() as f64 / 7.0,
        }
    }
    fn text(&mut self) -> String {
        let pool = [
            "",
            "a",
            "héllo",
            "日本語",
            "tab\there",
            "quote\"",
            "emoji 🦀",
        ];
        let mut s = pool[self.below(pool.len() as u64) as usize].to_owned();
        for _ in 0..self.below(3) {
            s.push(char::from(b'a' + self.below(26) as u8));
        }
        s
    }
    fn bytes(&mut self) -> Vec<u8> {
        (0..self.below(20)).map(|_| self.next() as u8).collect()
    }
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> T) -> Vec<T> {
        (0..self.below(5)).map(|_| item(self)).collect()
    }
    fn map<T>(&mut self, mut item: impl FnMut(&mut Self) -> T) -> BTreeMap<String, T> {
        (0..self.below(5))
            .map(|_| (self.text(), item(self)))
            .collect()
    }
    fn option<T>(&mut self, item: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.chance() {
            Some(item(self))
        } else {
            None
        }
    }
    fn color(&mut self) -> Color {
        [Color::Red, Color::Green, Color::Blue][self.below(3) as usize]
    }

    fn scalars(&mut self) -> Scalars {
        Scalars {
            flag: self.chance(),
            tiny: self.int([i8::MIN, i8::MAX, 0]),
            small: self.int([i16::MIN, i16::MAX, -1]),
            medium: self.int([i32::MIN, i32::MAX, 0]),
            large: self.int([i64::MIN, i64::MAX, -1]),
            utiny: self.int([0, u8::MAX, 1]),
            usmall: self.int([0, u16::MAX, 1]),
            umedium: self.int([0, u32::MAX, 1]),
            ularge: self.int([0, u64::MAX, 1]),
            single: self.f64() as f32,
            double: self.f64(),
            text: self.text(),
            blob: self.bytes(),
        }
    }

    fn optionals(&mut self) -> Optionals {
        Optionals {
            flag: self.option(|g| g.chance()),
            number: self.option(|g| g.int([i64::MIN, i64::MAX, 0])),
            ratio: self.option(Self::f64),
            // Present but empty text and bytes stay present.
            text: self.option(Self::text),
            blob: self.option(Self::bytes),
            numbers: self.option(|g| g.list(|g| g.next() as u32)),
            scalars: self.option(Self::scalars),
            color: self.option(Self::color),
        }
    }

    fn collections(&mut self) -> Collections {
        Collections {
            flags: self.list(|g| g.chance()),
            numbers: self.list(|g| g.next() as i32),
            texts: self.list(Self::text),
            blobs: self.list(Self::bytes),
            nested: self.list(|g| g.list(|g| g.next() as u16)),
            by_name: self.map(Self::f64),
            colors: self.list(Self::color),
            palettes: self.map(|g| g.list(Self::color)),
        }
    }

    fn attribute(&mut self, depth: u32) -> AttributeValue {
        let leaf_only = depth >= 3;
        match self.below(if leaf_only { 8 } else { 10 }) {
            0 => AttributeValue::S(self.text()),
            1 => AttributeValue::N(format!("{}", self.next() as i64)),
            2 => AttributeValue::B(self.bytes()),
            3 => AttributeValue::Ss(self.list(Self::text)),
            4 => AttributeValue::Ns(self.list(|g| g.below(1000).to_string())),
            5 => AttributeValue::Bs(self.list(Self::bytes)),
            6 => AttributeValue::Null(true),
            7 => AttributeValue::Bool(self.chance()),
            8 => AttributeValue::M(self.map(|g| g.attribute(depth + 1))),
            _ => AttributeValue::L(self.list(|g| g.attribute(depth + 1))),
        }
    }

    fn tree(&mut self, depth: u32) -> Tree {
        let child = |g: &mut Self| {
            if depth < 4 && g.chance() {
                Some(Box::new(g.tree(depth + 1)))
            } else {
                None
            }
        };
        Tree {
            label: self.text(),
            left: child(self),
            right: child(self),
        }
    }
}

/// Writes `$value` with the generated `write_to` into a message rooted at `$cap`, reads it back with
/// `read_from`, and checks the two are equal.
macro_rules! assert_round_trip {
    ($value:expr, $ty:ty, $cap:path) => {{
        use $cap as cap;
        let value = $value;
        let mut message = capnp::message::Builder::new_default();
        value
            .write_to(message.init_root::<cap::Builder<'_>>())
            .unwrap();
        let bytes = capnp::serialize::write_message_to_words(&message);
        let reader =
            capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default())
                .unwrap();
        let back = <$ty>::read_from(reader.get_root::<cap::Reader<'_>>().unwrap()).unwrap();
        assert_eq!(back, value);
    }};
}

#[test]
fn every_primitive_round_trips() {
    let mut g = Gen(0x1234_5678_9abc_def1);
    for _ in 0..500 {
        assert_round_trip!(g.scalars(), Scalars, pcap::scalars);
    }
}

#[test]
fn options_round_trip_and_keep_empty_values_present() {
    let mut g = Gen(7);
    for _ in 0..500 {
        assert_round_trip!(g.optionals(), Optionals, pcap::optionals);
    }
    let empty = Optionals {
        flag: Some(false),
        number: Some(0),
        ratio: Some(0.0),
        text: Some(String::new()),
        blob: Some(Vec::new()),
        numbers: Some(Vec::new()),
        scalars: None,
        color: Some(Color::Red),
    };
    assert_round_trip!(empty, Optionals, pcap::optionals);
    let none = Optionals {
        flag: None,
        number: None,
        ratio: None,
        text: None,
        blob: None,
        numbers: None,
        scalars: None,
        color: None,
    };
    assert_round_trip!(none, Optionals, pcap::optionals);
}

#[test]
fn lists_maps_and_nesting_round_trip() {
    let mut g = Gen(99);
    for _ in 0..500 {
        assert_round_trip!(g.collections(), Collections, pcap::collections);
    }
}

#[test]
fn recursive_unions_and_trees_round_trip() {
    let mut g = Gen(2024);
    for _ in 0..500 {
        assert_round_trip!(g.attribute(0), AttributeValue, dcap::attribute_value);
        assert_round_trip!(g.tree(0), Tree, dcap::tree);
    }
    assert_round_trip!(Marker::Present, Marker, dcap::marker);
    assert_round_trip!(Marker::Absent, Marker, dcap::marker);
    assert_round_trip!(deep(15), AttributeValue, dcap::attribute_value);
}

/// Lists of maps of lists..., `levels` down.
fn deep(levels: usize) -> AttributeValue {
    let mut value = AttributeValue::S("bottom".into());
    for i in 0..levels {
        value = if i % 2 == 0 {
            AttributeValue::L(vec![value, AttributeValue::Null(true)])
        } else {
            AttributeValue::M(BTreeMap::from([(format!("level{i}"), value)]))
        };
    }
    value
}

#[test]
fn nesting_deeper_than_the_reader_allows_is_an_error() {
    // DynamoDB allows 32 levels; each map level is three Cap'n Proto pointer levels (value, entry list,
    // entry), more than Cap'n Proto's default nesting limit of 64 allows. Readers must raise the limit
    // (the runtime and the SDK use `iomod_sdk::NESTING_LIMIT`); with the default, reading fails cleanly.
    let mut message = capnp::message::Builder::new_default();
    deep(40)
        .write_to(message.init_root::<dcap::attribute_value::Builder<'_>>())
        .unwrap();
    let bytes = capnp::serialize::write_message_to_words(&message);
    let read = |options: capnp::message::ReaderOptions| {
        let reader =
            capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], options).unwrap();
        AttributeValue::read_from(
            reader
                .get_root::<dcap::attribute_value::Reader<'_>>()
                .unwrap(),
        )
    };
    let err = read(capnp::message::ReaderOptions::new()).unwrap_err();
    assert_eq!(err.kind, capnp::ErrorKind::NestingLimitExceeded);
    let mut raised = capnp::message::ReaderOptions::new();
    raised.nesting_limit(iomod_sdk::NESTING_LIMIT);
    assert_eq!(read(raised).unwrap(), deep(40));
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    // An enum value this build does not know, as a newer peer might send.
    let mut message = capnp::message::Builder::new_default();
    {
        let mut root = message.init_root::<pcap::collections::Builder<'_>>();
        let mut colors = root.reborrow().init_colors(1);
        colors.set(0, pcap::Color::Blue);
    }
    let mut bytes = capnp::serialize::write_message_to_words(&message);
    // Overwrite the enum's 16 bits (the last two bytes of the list's data) with 99.
    let n = bytes.len();
    let at = (0..n - 1)
        .rev()
        .find(|i| bytes[*i] == 2 && bytes[*i + 1] == 0)
        .unwrap();
    bytes[at] = 99;
    let reader =
        capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default())
            .unwrap();
    let result =
        Collections::read_from(reader.get_root::<pcap::collections::Reader<'_>>().unwrap());
    assert!(result.is_err(), "an unknown enum value must be an error");
}

/// JSON has no NaN or infinities: serde_json writes a non-finite `f32`/`f64` as `null` (documented in
/// docs/protocol.md), which does not read back as a number; Cap'n Proto keeps the value.
#[test]
fn non_finite_floats_are_null_in_json_and_kept_in_cap_n_proto() {
    let value = Scalars {
        single: f32::INFINITY,
        double: f64::NAN,
        ..Scalars::default()
    };
    let json = serde_json::to_value(&value).unwrap();
    assert_eq!(json["single"], serde_json::Value::Null);
    assert_eq!(json["double"], serde_json::Value::Null);
    let error = serde_json::from_value::<Scalars>(json)
        .unwrap_err()
        .to_string();
    assert!(error.contains("invalid type: null"), "{error}");

    let mut message = capnp::message::Builder::new_default();
    value
        .write_to(message.init_root::<pcap::scalars::Builder<'_>>())
        .unwrap();
    let bytes = capnp::serialize::write_message_to_words(&message);
    let reader =
        capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default())
            .unwrap();
    let back = Scalars::read_from(reader.get_root::<pcap::scalars::Reader<'_>>().unwrap()).unwrap();
    assert!(back.double.is_nan() && back.single == f32::INFINITY);
}

/// Cap'n Proto holds at most 2^29 - 1 elements in a list and 2^29 - 1 bytes in a text (with its NUL) or
/// data value, and its builders panic past that: the generated writers answer an error instead.
#[test]
fn values_past_cap_n_proto_limits_are_errors_not_panics() {
    const LIMIT: usize = (1 << 29) - 1;
    let write = |value: &Collections| {
        let mut message = capnp::message::Builder::new_default();
        value.write_to(message.init_root::<pcap::collections::Builder<'_>>())
    };
    let flags = Collections {
        flags: vec![false; LIMIT + 1],
        ..Collections::default()
    };
    let error = write(&flags).unwrap_err().to_string();
    assert!(
        error.contains("a list of 536870912 elements is too long for Cap'n Proto"),
        "{error}"
    );
    drop(flags);
    let texts = Collections {
        texts: vec!["a".repeat(LIMIT)],
        ..Collections::default()
    };
    let error = write(&texts).unwrap_err().to_string();
    assert!(
        error.contains("a value of 536870911 bytes is too long for Cap'n Proto"),
        "{error}"
    );
    drop(texts);
    let blobs = Collections {
        blobs: vec![vec![0; LIMIT]],
        ..Collections::default()
    };
    assert!(write(&blobs).is_err());
}
