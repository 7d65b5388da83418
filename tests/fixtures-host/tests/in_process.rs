//! The in-process test harness: an implementation served over an in-memory Cap'n Proto connection and
//! called through the generated typed client. No registry, socket or process.

use iomod_fixtures_host::TestBank;
use iomod_fixtures_host::fixture_errors::bank::{
    self, Account, AccountNotFound, CloseError, CloseInput, InsufficientFunds, OpenInput,
    WithdrawError, WithdrawInput,
};
use iomod_sdk::ErrorCode;

fn withdraw(id: &str, amount: i64) -> WithdrawInput {
    WithdrawInput {
        id: id.into(),
        amount,
    }
}

#[tokio::test]
async fn results_and_named_errors_come_back_typed() {
    let client = bank::Client::in_process(TestBank::default());
    let opened = client.open(OpenInput { id: "a".into() }).await;
    assert_eq!(
        opened,
        Ok(Account {
            id: "a".into(),
            balance: 100
        })
    );
    assert_eq!(
        client.withdraw(withdraw("a", 30)).await,
        Ok(Account {
            id: "a".into(),
            balance: 70
        })
    );
    assert_eq!(
        client.withdraw(withdraw("a", 500)).await,
        Err(WithdrawError::InsufficientFunds(InsufficientFunds {
            balance: 70,
            requested: 500
        }))
    );
    assert_eq!(
        client.withdraw(withdraw("nobody", 1)).await,
        Err(WithdrawError::AccountNotFound(AccountNotFound {
            id: "nobody".into()
        }))
    );
    assert_eq!(
        client.connection().info().coordinates.as_str(),
        "example.test.bank"
    );
}

#[tokio::test]
async fn a_method_left_out_answers_not_implemented() {
    let client = bank::Client::in_process(TestBank::default());
    match client.close(CloseInput { id: "a".into() }).await {
        Err(CloseError::Failed(error)) => {
            assert_eq!(error.code, ErrorCode::Internal);
            assert!(error.message.contains("not implemented"), "{error}");
        }
        other => panic!("expected `not implemented`, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_input_is_invalid_input_and_the_connection_keeps_serving() {
    let client = bank::Client::in_process(TestBank::default());
    // Params whose `input` is text where the method expects a struct.
    let outcome = client
        .connection()
        .call(
            0,
            |mut params| params.set_as::<capnp::text::Owned>("not a struct"),
            |_| Ok(()),
        )
        .await;
    let error = outcome.expect_err("malformed params are refused");
    assert_eq!(error.code, ErrorCode::InvalidInput, "{error}");
    // An ordinal the interface does not have.
    let unknown = client.connection().call(99, |_| Ok(()), |_| Ok(())).await;
    assert_eq!(
        unknown.expect_err("no method 99").code,
        ErrorCode::MethodNotFound
    );
    // The same connection still answers.
    assert!(client.open(OpenInput { id: "b".into() }).await.is_ok());
}

#[test]
fn without_a_runtime_the_harness_brings_its_own() {
    let client = bank::Client::in_process(TestBank::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let opened = runtime.block_on(client.open(OpenInput { id: "c".into() }));
    assert_eq!(opened.map(|a| a.balance), Ok(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_run_concurrently_from_many_tasks() {
    let client = std::sync::Arc::new(bank::Client::in_process(TestBank::default()));
    let mut tasks = Vec::new();
    for i in 0..64 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .open(OpenInput {
                    id: format!("acct-{i}"),
                })
                .await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let account = task.await.expect("task").expect("opened");
        assert_eq!(account.id, format!("acct-{i}"));
    }
}

/// A `fixtures/errors` implementation for the skeleton generated without JSON calls.
struct PlainBank;

impl iomod_fixtures_host::fixture_errors_plain::bank::Bank for PlainBank {
    async fn open(
        &self,
        input: iomod_fixtures_host::fixture_errors_plain::bank::OpenInput,
    ) -> Result<
        iomod_fixtures_host::fixture_errors_plain::bank::Account,
        iomod_fixtures_host::fixture_errors_plain::bank::OpenError,
    > {
        Ok(iomod_fixtures_host::fixture_errors_plain::bank::Account {
            id: input.id,
            balance: 1,
        })
    }
}

#[tokio::test]
async fn a_skeleton_without_json_calls_serves_and_refuses_json() {
    use iomod_fixtures_host::fixture_errors_plain::bank as plain;
    use iomod_sdk::Service;
    let client = plain::Client::in_process(PlainBank);
    let opened = client.open(plain::OpenInput { id: "p".into() }).await;
    assert_eq!(opened.map(|a| a.balance), Ok(1));
    let service = std::sync::Arc::new(plain::service(PlainBank));
    assert!(service.call_json("open".into(), "{}".into()).is_none());
}
