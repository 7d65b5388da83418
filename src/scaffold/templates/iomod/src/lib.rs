//! The {{coordinates}} IOmod: the implementation of its methods.

iomod_sdk::include_host!("{{module}}"); // defines `{{module}}_capnp` and `{{module}}`

use crate::{{module}}::{EmptyName, GreetError, GreetInput, GreetOutput};

/// The IOmod's state (none yet): one value serves every call, from many tasks at once.
#[derive(Debug, Default)]
pub struct {{interface}};

impl crate::{{module}}::{{interface}} for {{interface}} {
    async fn greet(&self, input: GreetInput) -> Result<GreetOutput, GreetError> {
        if input.name.trim().is_empty() {
            return Err(GreetError::EmptyName(EmptyName {}));
        }
        Ok(GreetOutput {
            message: format!("Hello, {}!", input.name),
        })
    }
}
