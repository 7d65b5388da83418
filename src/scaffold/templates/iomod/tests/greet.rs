//! The IOmod's methods, called in process through the generated typed client: the same encoding and
//! typed errors as when it serves a registry, with no registry, socket or process.

use {{crate}}::{{module}}::{Client, GreetError, GreetInput};

#[tokio::test]
async fn greets_by_name() {
    let client = Client::in_process({{crate}}::{{interface}});
    let output = client
        .greet(GreetInput { name: "Ada".into() })
        .await
        .expect("greeted");
    assert_eq!(output.message, "Hello, Ada!");
}

#[tokio::test]
async fn an_empty_name_is_a_named_error() {
    let client = Client::in_process({{crate}}::{{interface}});
    let error = client.greet(GreetInput { name: " ".into() }).await;
    assert!(matches!(error, Err(GreetError::EmptyName(_))), "{error:?}");
}
