//! Generated skeletons served by the SDK through a real registry, called by a native Cap'n Proto client
//! that uses only what capnpc-rust generates from the generated `.capnp` schema.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use capnp::{message, serialize};
use iomod::registry::{Registry, RegistryConfig};
use iomod_fixtures_host::TestBank;
use iomod_fixtures_host::fixture_assemblylift::http;
use iomod_fixtures_host::fixture_errors::bank;
use iomod_fixtures_host::fixture_errors::bank_capnp as wire;
use iomod_fixtures_host::fixture_primitives::{primitives, primitives_capnp as pwire};
use iomod_fixtures_host::fixture_recursive::{documents, documents_capnp as dwire};
use iomod_sdk::transport::RegistryAddress;
use iomod_sdk::{ErrorCode, ServeOptions};

/// A document store that echoes items back: exercises the recursive union end to end.
struct Documents;

impl documents::Documents for Documents {
    async fn put_item(
        &self,
        input: documents::PutItemInput,
    ) -> Result<documents::PutItemOutput, documents::PutItemError> {
        Ok(documents::PutItemOutput {
            consumed: input.item.len() as f64,
        })
    }

    async fn get_item(
        &self,
        input: documents::GetItemInput,
    ) -> Result<documents::GetItemOutput, documents::GetItemError> {
        let found = !input.key.is_empty();
        Ok(documents::GetItemOutput {
            item: found.then_some(input.key),
            marker: if found {
                documents::Marker::Present
            } else {
                documents::Marker::Absent
            },
        })
    }
}

/// Returns every value it is given.
struct Mirror;

impl primitives::Primitives for Mirror {
    async fn scalars(
        &self,
        input: primitives::ScalarsInput,
    ) -> Result<primitives::ScalarsOutput, primitives::ScalarsError> {
        Ok(primitives::ScalarsOutput { value: input.value })
    }

    async fn optionals(
        &self,
        input: primitives::OptionalsInput,
    ) -> Result<primitives::OptionalsOutput, primitives::OptionalsError> {
        Ok(primitives::OptionalsOutput { value: input.value })
    }

    async fn collections(
        &self,
        input: primitives::CollectionsInput,
    ) -> Result<primitives::CollectionsOutput, primitives::CollectionsError> {
        Ok(primitives::CollectionsOutput { value: input.value })
    }
}

/// An AssemblyLift-style IOmod: identity and process, no methods.
struct Minimal;

impl http::Http for Minimal {}

struct Fixture {
    registry: Registry,
    _dir: TempDir,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    servers: Vec<Server>,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Fixture {
    async fn start() -> Fixture {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("iomod-fixtures-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("registry.sock");
        let registry = Registry::start(RegistryConfig::unix(&socket))
            .await
            .unwrap();
        let (bank_stop, bank) = spawn_service(bank::service(TestBank::default()), &socket);
        let (documents_stop, documents) = spawn_service(documents::service(Documents), &socket);
        let (mirror_stop, mirror) = spawn_service(primitives::service(Mirror), &socket);
        let (minimal_stop, minimal) = spawn_service(http::service(Minimal), &socket);
        let stops = vec![bank_stop, documents_stop, mirror_stop, minimal_stop];
        let servers = vec![bank, documents, mirror, minimal];
        // Every IOmod the tests call: a test must not race its IOmod's registration.
        let wanted = [
            "example.test.bank".parse().unwrap(),
            "example.test.documents".parse().unwrap(),
            "example.test.primitives".parse().unwrap(),
            "akkoro.std.http".parse().unwrap(),
        ];
        registry
            .wait_ready(&wanted, Duration::from_secs(10))
            .await
            .unwrap();
        Fixture {
            registry,
            _dir: TempDir(dir),
            stops,
            servers,
        }
    }

    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for server in self.servers {
            server.await.unwrap().unwrap();
        }
    }
}

type Server = tokio::task::JoinHandle<Result<(), iomod_sdk::Error>>;

/// Serves `service` with the SDK on this runtime until the returned sender is used (or dropped).
fn spawn_service<S: iomod_sdk::Service>(
    service: S,
    socket: &std::path::Path,
) -> (tokio::sync::oneshot::Sender<()>, Server) {
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let options = ServeOptions::new(RegistryAddress::Unix(socket.to_owned()));
    let server = tokio::spawn(iomod_sdk::serve_with(service, options, async {
        let _ = stopped.await;
    }));
    (stop, server)
}

fn withdraw_request(id: &str, amount: i64) -> Vec<u8> {
    let mut m = message::Builder::new_default();
    let mut input = m
        .init_root::<wire::bank::withdraw_params::Builder<'_>>()
        .init_input();
    input.set_id(id);
    input.set_amount(amount);
    serialize::write_message_to_words(&m)
}

fn open_request(id: &str) -> Vec<u8> {
    let mut m = message::Builder::new_default();
    m.init_root::<wire::bank::open_params::Builder<'_>>()
        .init_input()
        .set_id(id);
    serialize::write_message_to_words(&m)
}

/// The outcome of `withdraw`, decoded with nothing but the capnpc-generated reader.
fn withdraw_outcome(bytes: &[u8]) -> String {
    let reader =
        serialize::read_message_from_flat_slice(&mut &bytes[..], Default::default()).unwrap();
    let result = reader
        .get_root::<wire::bank::withdraw_results::Reader<'_>>()
        .unwrap()
        .get_result()
        .unwrap();
    match result.which().unwrap() {
        wire::withdraw_result::Ok(account) => {
            format!("ok balance={}", account.unwrap().get_balance())
        }
        wire::withdraw_result::InsufficientFunds(e) => {
            let e = e.unwrap();
            format!(
                "InsufficientFunds balance={} requested={}",
                e.get_balance(),
                e.get_requested()
            )
        }
        wire::withdraw_result::AccountNotFound(e) => format!(
            "AccountNotFound id={}",
            e.unwrap().get_id().unwrap().to_str().unwrap()
        ),
        wire::withdraw_result::Frozen(_) => "Frozen".to_owned(),
        wire::withdraw_result::Failed(e) => {
            format!("Failed {}", iomod_sdk::Error::read(e.unwrap()))
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_skeletons_answer_native_capnp_clients_through_the_registry() {
    let fixture = Fixture::start().await;
    let registry = &fixture.registry;

    // Registration carries what the generated code declares: digest, methods, ordinals, JSON Schemas.
    let listed = registry.list().await.unwrap();
    let bank_status = listed
        .iter()
        .find(|s| s.info.coordinates.as_str() == "example.test.bank")
        .unwrap();
    assert_eq!(bank_status.info.manifest_digest, bank::MANIFEST_DIGEST);
    assert_eq!(bank_status.info.version, "2.0.0-beta.1");
    let methods: Vec<(&str, u16)> = bank_status
        .info
        .methods
        .iter()
        .map(|m| (m.name.as_str(), m.ordinal))
        .collect();
    assert_eq!(methods, [("withdraw", 0), ("open", 1), ("close", 2)]);
    let withdraw = &bank_status.info.methods[0];
    assert_eq!(withdraw.doc, "Takes money out of an account.");
    for schema in [
        &withdraw.input_schema,
        &withdraw.output_schema,
        &withdraw.error_schema,
    ] {
        let json: serde_json::Value = serde_json::from_str(schema).unwrap();
        assert_eq!(
            json["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{schema}"
        );
    }
    assert!(withdraw.error_schema.contains("InsufficientFunds"));

    let call = |path: &'static str, input: Vec<u8>| registry.invoke(path, input, None);
    let out = call("example.test.bank.withdraw", withdraw_request("alice", 10))
        .await
        .unwrap();
    assert_eq!(withdraw_outcome(&out), "AccountNotFound id=alice");
    call("example.test.bank.open", open_request("alice"))
        .await
        .unwrap();
    call("example.test.bank.open", open_request("frozen-bob"))
        .await
        .unwrap();
    let out = call("example.test.bank.withdraw", withdraw_request("alice", 30))
        .await
        .unwrap();
    assert_eq!(withdraw_outcome(&out), "ok balance=70");
    let out = call("example.test.bank.withdraw", withdraw_request("alice", 500))
        .await
        .unwrap();
    assert_eq!(
        withdraw_outcome(&out),
        "InsufficientFunds balance=70 requested=500"
    );
    let out = call(
        "example.test.bank.withdraw",
        withdraw_request("frozen-bob", 1),
    )
    .await
    .unwrap();
    assert_eq!(withdraw_outcome(&out), "Frozen");

    // A method the implementation left out answers with a typed `internal` error.
    let mut m = message::Builder::new_default();
    m.init_root::<wire::bank::close_params::Builder<'_>>()
        .init_input()
        .set_id("alice");
    let out = call(
        "example.test.bank.close",
        serialize::write_message_to_words(&m),
    )
    .await
    .unwrap();
    let reader =
        serialize::read_message_from_flat_slice(&mut &out[..], Default::default()).unwrap();
    let result = reader
        .get_root::<wire::bank::close_results::Reader<'_>>()
        .unwrap()
        .get_result()
        .unwrap();
    match result.which().unwrap() {
        wire::close_result::Failed(e) => {
            let e = iomod_sdk::Error::read(e.unwrap());
            assert_eq!(e.code, ErrorCode::Internal);
            assert!(
                e.message
                    .contains("`close` of example.test.bank is not implemented"),
                "{e}"
            );
        }
        _ => panic!("close should fail"),
    }

    // Input that does not decode as the method's params is `invalidInput`, from the skeleton.
    let mut m = message::Builder::new_default();
    {
        let mut params = m.init_root::<wire::bank::withdraw_params::Builder<'_>>();
        params.reborrow().init_input();
        // Text that is not UTF-8 in the id.
        params.init_input().init_id(2).push_str("\u{7f}");
    }
    let mut bytes = serialize::write_message_to_words(&m);
    let at = bytes.iter().rposition(|b| *b == 0x7f).unwrap();
    bytes[at] = 0xff;
    let err = call("example.test.bank.withdraw", bytes).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput, "{err}");
    assert!(
        err.message.contains("the input of `withdraw` is malformed"),
        "{err}"
    );

    // The recursive union travels whole.
    let mut m = message::Builder::new_default();
    {
        let mut input = m
            .init_root::<dwire::documents::get_item_params::Builder<'_>>()
            .init_input();
        input.set_table_name("things");
        let mut key = input.init_key(1);
        let mut entry = key.reborrow().get(0);
        entry.set_key("id");
        let mut list = entry.init_value().init_l(2);
        list.reborrow().get(0).set_s("a");
        list.reborrow().get(1).set_null(true);
    }
    let out = call(
        "example.test.documents.get_item",
        serialize::write_message_to_words(&m),
    )
    .await
    .unwrap();
    let reader =
        serialize::read_message_from_flat_slice(&mut &out[..], Default::default()).unwrap();
    let result = reader
        .get_root::<dwire::documents::get_item_results::Reader<'_>>()
        .unwrap()
        .get_result()
        .unwrap();
    let dwire::get_item_result::Ok(output) = result.which().unwrap() else {
        panic!("get_item failed")
    };
    let output = documents::GetItemOutput::read_from(output.unwrap()).unwrap();
    assert_eq!(output.marker, documents::Marker::Present);
    let item = output.item.unwrap();
    assert_eq!(
        item["id"],
        documents::AttributeValue::L(vec![
            documents::AttributeValue::S("a".into()),
            documents::AttributeValue::Null(true)
        ])
    );
    fixture.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_primitive_crosses_the_registry_and_minimal_iomods_register() {
    let fixture = Fixture::start().await;
    let registry = &fixture.registry;
    let mut m = message::Builder::new_default();
    {
        let mut value = m
            .init_root::<pwire::primitives::scalars_params::Builder<'_>>()
            .init_input()
            .init_value();
        value.set_flag(true);
        value.set_tiny(i8::MIN);
        value.set_small(i16::MAX);
        value.set_medium(-7);
        value.set_large(i64::MIN);
        value.set_utiny(u8::MAX);
        value.set_usmall(65535);
        value.set_umedium(u32::MAX);
        value.set_ularge(u64::MAX);
        value.set_single(1.5);
        value.set_double(-2.25e300);
        value.set_text("héllo");
        value.set_blob(&[0, 1, 255]);
    }
    let out = registry
        .invoke(
            "example.test.primitives.scalars",
            serialize::write_message_to_words(&m),
            None,
        )
        .await
        .unwrap();
    let reader =
        serialize::read_message_from_flat_slice(&mut &out[..], Default::default()).unwrap();
    let result = reader
        .get_root::<pwire::primitives::scalars_results::Reader<'_>>()
        .unwrap()
        .get_result()
        .unwrap();
    let pwire::scalars_result::Ok(output) = result.which().unwrap() else {
        panic!("scalars failed")
    };
    let value = output.unwrap().get_value().unwrap();
    assert!(value.get_flag());
    assert_eq!(
        (
            value.get_tiny(),
            value.get_small(),
            value.get_medium(),
            value.get_large()
        ),
        (i8::MIN, i16::MAX, -7, i64::MIN)
    );
    assert_eq!(
        (
            value.get_utiny(),
            value.get_usmall(),
            value.get_umedium(),
            value.get_ularge()
        ),
        (u8::MAX, 65535, u32::MAX, u64::MAX)
    );
    assert_eq!((value.get_single(), value.get_double()), (1.5, -2.25e300));
    assert_eq!(value.get_text().unwrap().to_str().unwrap(), "héllo");
    assert_eq!(value.get_blob().unwrap(), &[0, 1, 255]);

    // Optionals: set and unset come back as they went.
    let mut m = message::Builder::new_default();
    {
        let mut value = m
            .init_root::<pwire::primitives::optionals_params::Builder<'_>>()
            .init_input()
            .init_value();
        value.reborrow().init_number().set_some(-1);
        value.reborrow().init_flag().set_none(());
        value.set_text("");
    }
    let out = registry
        .invoke(
            "example.test.primitives.optionals",
            serialize::write_message_to_words(&m),
            None,
        )
        .await
        .unwrap();
    let reader =
        serialize::read_message_from_flat_slice(&mut &out[..], Default::default()).unwrap();
    let result = reader
        .get_root::<pwire::primitives::optionals_results::Reader<'_>>()
        .unwrap()
        .get_result()
        .unwrap();
    let pwire::optionals_result::Ok(output) = result.which().unwrap() else {
        panic!("optionals failed")
    };
    let back = primitives::Optionals::read_from(output.unwrap().get_value().unwrap()).unwrap();
    assert_eq!(
        (back.number, back.flag, back.text.as_deref(), back.blob),
        (Some(-1), None, Some(""), None)
    );

    // The AssemblyLift-style IOmod registered with no methods; calling one is `methodNotFound`.
    let listed = registry.list().await.unwrap();
    let minimal = listed
        .iter()
        .find(|s| s.info.coordinates.as_str() == "akkoro.std.http")
        .unwrap();
    assert_eq!(
        (minimal.info.version.as_str(), minimal.info.methods.len()),
        ("0.1.5", 0)
    );
    let err = registry
        .invoke("akkoro.std.http.request", Vec::new(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::MethodNotFound);
    assert!(err.message.contains("declares no methods"), "{err}");
    fixture.stop().await;
}
