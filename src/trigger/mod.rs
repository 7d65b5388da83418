//! Front ends of the warm runtime: each turns requests of its kind into invocations of
//! [`crate::serve::Runtime`] and their outcomes into answers, and does nothing else.

pub mod http;
