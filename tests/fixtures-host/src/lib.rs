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

/// `fixtures/errors` generated without the JSON call path.
pub mod fixture_errors_plain {
    include!(concat!(env!("OUT_DIR"), "/errors-plain/bank.rs"));
}

/// `fixtures/assemblylift`.
pub mod fixture_assemblylift {
    include!(concat!(env!("OUT_DIR"), "/assemblylift/http.rs"));
}

/// `fixtures/keywords`: every Rust and Cap'n Proto keyword as a name.
pub mod fixture_keywords {
    include!(concat!(env!("OUT_DIR"), "/keywords/impl.rs"));
}

/// `fixtures/keywords` generated without the JSON call path.
pub mod fixture_keywords_plain {
    include!(concat!(env!("OUT_DIR"), "/keywords-plain/impl.rs"));
}

/// The DynamoDB IOmod's manifest (`iomods/dynamodb/iomod.toml`), generated and compiled.
pub mod dynamodb_manifest {
    include!(concat!(env!("OUT_DIR"), "/dynamodb/dynamodb.rs"));
}

/// A test implementation of the generated `Bank` trait (`close` is left unimplemented on purpose).
#[derive(Debug, Default)]
pub struct TestBank {
    accounts: std::sync::Mutex<std::collections::HashMap<String, (i64, bool)>>,
}

impl fixture_errors::bank::Bank for TestBank {
    async fn withdraw(
        &self,
        input: fixture_errors::bank::WithdrawInput,
    ) -> Result<fixture_errors::bank::Account, fixture_errors::bank::WithdrawError> {
        let mut accounts = self
            .accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some((balance, frozen)) = accounts.get_mut(&input.id) else {
            return Err(fixture_errors::bank::WithdrawError::AccountNotFound(
                fixture_errors::bank::AccountNotFound { id: input.id },
            ));
        };
        if *frozen {
            return Err(fixture_errors::bank::WithdrawError::Frozen(
                fixture_errors::bank::Frozen {},
            ));
        }
        if *balance < input.amount {
            return Err(fixture_errors::bank::WithdrawError::InsufficientFunds(
                fixture_errors::bank::InsufficientFunds {
                    balance: *balance,
                    requested: input.amount,
                },
            ));
        }
        *balance -= input.amount;
        Ok(fixture_errors::bank::Account {
            id: input.id,
            balance: *balance,
        })
    }

    async fn open(
        &self,
        input: fixture_errors::bank::OpenInput,
    ) -> Result<fixture_errors::bank::Account, fixture_errors::bank::OpenError> {
        let frozen = input.id.starts_with("frozen");
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(input.id.clone(), (100, frozen));
        Ok(fixture_errors::bank::Account {
            id: input.id,
            balance: 100,
        })
    }
}
