//! Callers' method contracts, by fingerprint, and the verdicts on calls whose contract differs from the
//! IOmod's.
//!
//! A generated guest crate sends its contract's fingerprint with every call, and the contract itself; the host
//! reads the contract out of the guest's memory only the first time it meets the fingerprint, checks that the
//! text hashes to it, and keeps it here. The store is content-addressed (a fingerprint names one text), so it
//! is shared by every registry thread of the process. When a caller's fingerprint differs from the method's
//! registered one, the registry compares the two contracts ([`iomod_sdk::contract::check_call`]) once per
//! IOmod instance and remembers the verdict.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use iomod_sdk::contract::Contract;
use iomod_sdk::{Error, ErrorCode};

/// The most contracts kept; past it, the least useful half is forgotten (a forgotten contract is read again
/// from its guest at its next call).
const MAX_CONTRACTS: usize = 4096;
/// The most bytes of contract text kept.
const MAX_CONTRACT_BYTES_KEPT: usize = 64 << 20;
/// The most verdicts one IOmod instance keeps.
const MAX_VERDICTS: usize = 4096;

#[derive(Default)]
struct Store {
    contracts: HashMap<String, (Arc<Contract>, usize)>,
    bytes: usize,
}

fn store() -> &'static Mutex<Store> {
    static STORE: OnceLock<Mutex<Store>> = OnceLock::new();
    STORE.get_or_init(Mutex::default)
}

/// Whether the contract with this fingerprint is known.
pub fn known(fingerprint: &str) -> bool {
    store()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contracts
        .contains_key(fingerprint)
}

/// The contract with this fingerprint, if known.
pub fn get(fingerprint: &str) -> Option<Arc<Contract>> {
    store()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contracts
        .get(fingerprint)
        .map(|(c, _)| c.clone())
}

/// Learns a caller's contract from its text: checks that it hashes to `fingerprint` and that it is well
/// formed, then keeps it. The error (`invalidInput`) says what is wrong.
pub fn learn(fingerprint: &str, text: &str) -> Result<(), Error> {
    let actual = Contract::fingerprint_of(text);
    if actual != fingerprint {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "the call's contract does not have the fingerprint its path names ({fingerprint}; its own is {actual})"
            ),
        ));
    }
    let contract = Contract::parse(text).map_err(|e| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("the call's contract is malformed: {e}"),
        )
    })?;
    let mut store = store().lock().unwrap_or_else(PoisonError::into_inner);
    if store.contracts.len() >= MAX_CONTRACTS || store.bytes + text.len() > MAX_CONTRACT_BYTES_KEPT
    {
        // Forget everything: what is still in use is read again at its next call. (Contracts change only
        // when guests are rebuilt; a store this full means many versions have come and gone.)
        store.contracts.clear();
        store.bytes = 0;
    }
    store.bytes += text.len();
    store
        .contracts
        .insert(fingerprint.to_owned(), (Arc::new(contract), text.len()));
    Ok(())
}

/// The verdicts of one IOmod instance: caller fingerprint and method → compatible, or why not.
#[derive(Debug, Default)]
pub struct Verdicts(RefCell<HashMap<(String, String), Result<(), String>>>);

impl Verdicts {
    /// Whether a caller whose contract has `fingerprint` may call `method`, whose registered contract is
    /// `served`. A caller whose contract is not known is refused, as one from another version.
    pub fn check(
        &self,
        method: &str,
        fingerprint: &str,
        served: &Contract,
    ) -> Result<(), Option<String>> {
        let key = (method.to_owned(), fingerprint.to_owned());
        if let Some(verdict) = self.0.borrow().get(&key) {
            return verdict.clone().map_err(Some);
        }
        let caller = get(fingerprint).ok_or(None)?;
        let verdict = iomod_sdk::contract::check_call(&caller, served);
        let mut verdicts = self.0.borrow_mut();
        if verdicts.len() >= MAX_VERDICTS {
            verdicts.clear();
        }
        verdicts.insert(key, verdict.clone());
        verdict.map_err(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"method":"m","ordinal":0,"version":"1.0.0","input":"In","output":"Out","errors":[],"types":{"In":{"struct":[["a","i32"]]},"Out":{"struct":[]}}}"#;

    #[test]
    fn contracts_are_learned_only_under_their_own_fingerprint() {
        let fingerprint = Contract::fingerprint_of(V1);
        let wrong = learn("0000000000000000", V1).unwrap_err();
        assert_eq!(wrong.code, ErrorCode::InvalidInput);
        assert!(!known("0000000000000000"));
        let malformed = "{\"method\":1}";
        let error = learn(&Contract::fingerprint_of(malformed), malformed).unwrap_err();
        assert!(error.message.contains("malformed"), "{error}");
        learn(&fingerprint, V1).unwrap();
        assert!(known(&fingerprint));
    }

    #[test]
    fn verdicts_are_computed_once_per_caller() {
        let v2 = V1.replace("\"1.0.0\"", "\"2.0.0\"").replace("i32", "i64");
        let fingerprint = Contract::fingerprint_of(&v2);
        learn(&fingerprint, &v2).unwrap();
        let served = Contract::parse(V1).unwrap();
        let verdicts = Verdicts::default();
        let error = verdicts
            .check("m", &fingerprint, &served)
            .unwrap_err()
            .unwrap();
        assert!(error.contains("changed type: `i32` → `i64`"), "{error}");
        assert_eq!(verdicts.0.borrow().len(), 1);
        assert_eq!(verdicts.check("m", "ffffffffffffffff", &served), Err(None));
    }
}
