//! `fixtures/keywords`: every Rust and Cap'n Proto keyword as a name. Values round-trip through the
//! generated Cap'n Proto conversions and the in-process client, named errors come back typed, methods
//! named `clone`, `into` and `to_owned` reach the implementation (not `Arc`'s methods), and JSON keeps
//! the manifest's names.

use iomod_fixtures_host::fixture_keywords::r#impl::{
    Await, CloneInput, CloneOutput, Crate, Enum, Impl, IntoInput, IntoOutput, Match, SelfError,
    Struct, ToOwnedInput, ToOwnedOutput, Type, TypeError, Union,
};

struct Echo;

impl Impl for Echo {
    async fn r#type(&self, input: Struct) -> Result<Struct, TypeError> {
        if input.r#type == "fail" {
            return Err(TypeError::Crate(Crate {
                r#type: "crate".into(),
                self_: 7,
            }));
        }
        if input.r#type == "await" {
            return Err(TypeError::Await(Await {
                r#dyn: "dyn".into(),
            }));
        }
        Ok(input)
    }

    async fn self_(&self, input: Match) -> Result<Match, SelfError> {
        Ok(input)
    }

    async fn clone(&self, input: CloneInput) -> Result<CloneOutput, impl_::CloneError> {
        Ok(CloneOutput {
            r#ref: format!("clone {}", input.self_),
        })
    }

    async fn into(&self, input: IntoInput) -> Result<IntoOutput, impl_::IntoError> {
        Ok(IntoOutput {
            r#ref: format!("into {}", input.self_),
        })
    }

    async fn to_owned(&self, input: ToOwnedInput) -> Result<ToOwnedOutput, impl_::ToOwnedError> {
        Ok(ToOwnedOutput {
            r#ref: format!("to_owned {}", input.self_),
        })
    }
}

use iomod_fixtures_host::fixture_keywords::r#impl as impl_;

fn a_struct() -> Struct {
    Struct {
        r#type: "type".into(),
        self_: "self".into(),
        crate_: "crate".into(),
        super_: "super".into(),
        r#async: "async".into(),
        r#gen: "gen".into(),
        r#union: "union".into(),
        once: "once".into(),
        void: "void".into(),
        ..Struct::default()
    }
}

fn a_match() -> Match {
    let mut dyn_ = std::collections::BTreeMap::new();
    dyn_.insert("k".to_owned(), Type::Self_);
    Match {
        r#async: Some(-5),
        once: Some(true),
        self_: Some(impl_::Self_ {
            self_: "inner".into(),
        }),
        r#type: vec![Type::Type, Type::Match, Type::Crate, Type::Void, Type::Pure],
        r#dyn: dyn_,
        r#try: Enum::Http11,
        r#gen: Some(Enum::Unknown("added_later".into())),
        r#union: Union::Super,
        crate_: vec![Enum::Self_, Enum::Async],
        option: impl_::Option {
            self_: "option".into(),
        },
    }
}

#[tokio::test]
async fn keyword_names_round_trip_through_cap_n_proto() {
    let client = impl_::Client::in_process(Echo);
    assert_eq!(client.r#type(a_struct()).await, Ok(a_struct()));
    assert_eq!(client.self_(a_match()).await, Ok(a_match()));
    let fail = Struct {
        r#type: "fail".into(),
        ..Struct::default()
    };
    assert_eq!(
        client.r#type(fail).await,
        Err(TypeError::Crate(Crate {
            r#type: "crate".into(),
            self_: 7
        }))
    );
    let input = || CloneInput {
        self_: "x".into(),
        r#type: Type::Struct,
    };
    assert_eq!(
        impl_::Client::clone(&client, input())
            .await
            .map(|o| o.r#ref),
        Ok("clone x".to_owned())
    );
    let into = IntoInput {
        self_: "y".into(),
        r#type: Type::Enum,
    };
    assert_eq!(
        impl_::Client::into(&client, into).await.map(|o| o.r#ref),
        Ok("into y".to_owned())
    );
    let to_owned = ToOwnedInput {
        self_: "z".into(),
        r#type: Type::Union,
    };
    assert_eq!(
        impl_::Client::to_owned(&client, to_owned)
            .await
            .map(|o| o.r#ref),
        Ok("to_owned z".to_owned())
    );
}

#[test]
fn json_keeps_the_manifest_names() {
    let json = serde_json::to_value(a_match()).unwrap_or_default();
    let object = json.as_object().cloned().unwrap_or_default();
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    for key in [
        "async", "once", "self", "type", "dyn", "try", "gen", "union", "crate", "option",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(json["try"], "http_1_1");
    assert_eq!(json["type"][0], "type");
    assert_eq!(json["union"], "super");
    assert_eq!(json["crate"], serde_json::json!(["self", "async"]));
    assert_eq!(json["self"]["self"], "inner");
    let back: Match = serde_json::from_value(json).unwrap_or_default();
    assert_eq!(back, a_match());
    let schema = impl_::info();
    let method = schema.methods.iter().find(|m| m.name == "type");
    assert!(method.is_some_and(
        |m| m.input_schema.contains("\"self\"") && m.input_schema.contains("\"crate\"")
    ));
}
