//! Callers' method contracts, by fingerprint, and the verdicts on calls whose contract differs from the
//! IOmod's.
//!
//! A generated guest crate sends its contract's fingerprint with every call, and the contract itself; the host
//! reads the contract out of the guest's memory only the first time it meets the fingerprint, checks that the
//! text hashes to it, and keeps it here. The store is content-addressed (a fingerprint names one text), so it
//! is shared by every registry thread of the process. When a caller's fingerprint differs from the method's
//! registered one, the registry compares the two contracts ([`iomod_sdk::contract::check_call`]) once per
//! IOmod instance and remembers the verdict, with the caller's version and its calls ([`Callers`]).

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
/// The most caller contracts one IOmod instance keeps per method (past it, new callers are checked
/// every call and not listed).
const MAX_CALLERS_PER_METHOD: usize = 64;

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

/// The callers one IOmod instance has seen: per method and caller contract, the version the caller was
/// generated from, whether its calls are served, and how many it made. `iomod ls` shows them.
#[derive(Debug, Default)]
pub struct Callers(RefCell<HashMap<String, HashMap<String, CallerRecord>>>);

/// What a method's registered contract is, as [`Callers::check`] compares against it.
#[derive(Debug, Clone, Copy)]
pub struct Served<'a> {
    /// The fingerprint of the method's contract.
    pub fingerprint: &'a str,
    /// The contract, when the IOmod registered one.
    pub contract: Option<&'a Contract>,
    /// The IOmod's version.
    pub version: &'a str,
}

/// One caller contract of one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerRecord {
    /// The version of the manifest the caller was generated from; empty when its contract is not known.
    pub version: String,
    /// Served, or why not (`None`: one of the two contracts is not known).
    pub verdict: Result<(), Option<String>>,
    /// Calls made with this contract.
    pub calls: u64,
}

impl Callers {
    /// Whether a caller whose contract has `fingerprint` may call `method`, counted. The same fingerprint
    /// is the same contract; a different one is compared with Cap'n Proto's rules once, when both
    /// contracts are known, and refused otherwise (as one from another version).
    pub fn check(
        &self,
        method: &str,
        fingerprint: &str,
        served: Served<'_>,
    ) -> Result<(), Option<String>> {
        let mut callers = self.0.borrow_mut();
        if let Some(record) = callers.get_mut(method).and_then(|m| m.get_mut(fingerprint)) {
            record.calls += 1;
            return record.verdict.clone();
        }
        let record = if fingerprint == served.fingerprint {
            CallerRecord {
                version: served.version.to_owned(),
                verdict: Ok(()),
                calls: 1,
            }
        } else {
            let caller = get(fingerprint);
            let verdict = match (&caller, served.contract) {
                (Some(caller), Some(served)) => {
                    iomod_sdk::contract::check_call(caller, served).map_err(Some)
                }
                _ => Err(None),
            };
            CallerRecord {
                version: caller.map(|c| c.version.clone()).unwrap_or_default(),
                verdict,
                calls: 1,
            }
        };
        let verdict = record.verdict.clone();
        let method_callers = callers.entry(method.to_owned()).or_default();
        if method_callers.len() < MAX_CALLERS_PER_METHOD {
            method_callers.insert(fingerprint.to_owned(), record);
        }
        verdict
    }

    /// Every caller seen, by method and fingerprint.
    pub fn list(&self) -> Vec<(String, String, CallerRecord)> {
        let mut list: Vec<_> = self
            .0
            .borrow()
            .iter()
            .flat_map(|(method, callers)| {
                callers.iter().map(|(fingerprint, record)| {
                    (method.clone(), fingerprint.clone(), record.clone())
                })
            })
            .collect();
        list.sort_by(|a, b| (&a.0, &a.2.version, &a.1).cmp(&(&b.0, &b.2.version, &b.1)));
        list
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
    fn verdicts_are_computed_once_per_caller_and_callers_counted() {
        let v2 = V1.replace("\"1.0.0\"", "\"2.0.0\"").replace("i32", "i64");
        let fingerprint = Contract::fingerprint_of(&v2);
        learn(&fingerprint, &v2).unwrap();
        let contract = Contract::parse(V1).unwrap();
        let own = Contract::fingerprint_of(V1);
        let served = Served {
            fingerprint: &own,
            contract: Some(&contract),
            version: "1.0.0",
        };
        let callers = Callers::default();
        for _ in 0..2 {
            let error = callers
                .check("m", &fingerprint, served)
                .unwrap_err()
                .unwrap();
            assert!(error.contains("changed type: `i32` → `i64`"), "{error}");
        }
        assert_eq!(callers.check("m", &own, served), Ok(()));
        assert_eq!(callers.check("m", "ffffffffffffffff", served), Err(None));
        let list = callers.list();
        let versions: Vec<_> = list
            .iter()
            .map(|(m, f, r)| {
                (
                    m.as_str(),
                    f.as_str(),
                    r.version.as_str(),
                    r.calls,
                    r.verdict.is_ok(),
                )
            })
            .collect();
        assert_eq!(
            versions,
            [
                ("m", "ffffffffffffffff", "", 1, false),
                ("m", own.as_str(), "1.0.0", 1, true),
                ("m", fingerprint.as_str(), "2.0.0", 2, false),
            ]
        );
    }

    #[test]
    fn callers_kept_per_method_are_bounded() {
        let contract = Contract::parse(V1).unwrap();
        let served = Served {
            fingerprint: "0123456789abcdef",
            contract: Some(&contract),
            version: "1.0.0",
        };
        let callers = Callers::default();
        for i in 0..(MAX_CALLERS_PER_METHOD + 10) {
            assert_eq!(callers.check("m", &format!("{i:016x}"), served), Err(None));
        }
        assert_eq!(callers.list().len(), MAX_CALLERS_PER_METHOD);
    }
}
