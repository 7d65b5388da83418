//! Typed errors shared by the runtime and IOmods (the protocol's `Error` struct, in Rust).

use std::fmt;

use crate::iomod_capnp::error;

/// What kind of failure an [`Error`] is. Mirrors `Error.Code` in `schemas/iomod.capnp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A bug or an unexpected failure inside the runtime or the IOmod.
    Internal,
    /// No IOmod is registered under the requested coordinates.
    NotFound,
    /// The IOmod is registered but has no method of that name.
    MethodNotFound,
    /// The request was malformed.
    InvalidInput,
    /// The IOmod cannot answer now (crashed, disconnected, draining, unhealthy).
    Unavailable,
    /// The call did not finish before its deadline.
    DeadlineExceeded,
    /// A payload is larger than the configured limit.
    TooLarge,
    /// The two sides do not speak compatible versions.
    Incompatible,
    /// A TCP connection presented no token, or the wrong one.
    Unauthenticated,
    /// The method returned one of its own named errors.
    Method,
    /// The caller may not call that IOmod (a function called an IOmod it does not declare).
    Forbidden,
}

impl ErrorCode {
    /// Every code, in the protocol's order.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::Internal,
        ErrorCode::NotFound,
        ErrorCode::MethodNotFound,
        ErrorCode::InvalidInput,
        ErrorCode::Unavailable,
        ErrorCode::DeadlineExceeded,
        ErrorCode::TooLarge,
        ErrorCode::Incompatible,
        ErrorCode::Unauthenticated,
        ErrorCode::Method,
        ErrorCode::Forbidden,
    ];

    /// The code's name in the protocol (camelCase, as in the schema).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Internal => "internal",
            ErrorCode::NotFound => "notFound",
            ErrorCode::MethodNotFound => "methodNotFound",
            ErrorCode::InvalidInput => "invalidInput",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::DeadlineExceeded => "deadlineExceeded",
            ErrorCode::TooLarge => "tooLarge",
            ErrorCode::Incompatible => "incompatible",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Method => "method",
            ErrorCode::Forbidden => "forbidden",
        }
    }

    fn from_str(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == name)
    }

    fn to_capnp(self) -> error::Code {
        match self {
            ErrorCode::Internal => error::Code::Internal,
            ErrorCode::NotFound => error::Code::NotFound,
            ErrorCode::MethodNotFound => error::Code::MethodNotFound,
            ErrorCode::InvalidInput => error::Code::InvalidInput,
            ErrorCode::Unavailable => error::Code::Unavailable,
            ErrorCode::DeadlineExceeded => error::Code::DeadlineExceeded,
            ErrorCode::TooLarge => error::Code::TooLarge,
            ErrorCode::Incompatible => error::Code::Incompatible,
            ErrorCode::Unauthenticated => error::Code::Unauthenticated,
            ErrorCode::Method => error::Code::Method,
            ErrorCode::Forbidden => error::Code::Forbidden,
        }
    }

    fn from_capnp(code: error::Code) -> Self {
        match code {
            error::Code::Internal => ErrorCode::Internal,
            error::Code::NotFound => ErrorCode::NotFound,
            error::Code::MethodNotFound => ErrorCode::MethodNotFound,
            error::Code::InvalidInput => ErrorCode::InvalidInput,
            error::Code::Unavailable => ErrorCode::Unavailable,
            error::Code::DeadlineExceeded => ErrorCode::DeadlineExceeded,
            error::Code::TooLarge => ErrorCode::TooLarge,
            error::Code::Incompatible => ErrorCode::Incompatible,
            error::Code::Unauthenticated => ErrorCode::Unauthenticated,
            error::Code::Method => ErrorCode::Method,
            error::Code::Forbidden => ErrorCode::Forbidden,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed error: what the registry reports for a failed call, and what an IOmod method returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The kind of failure.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
    /// For [`ErrorCode::Method`]: the name of the method's own error.
    pub name: String,
    /// For [`ErrorCode::Method`]: the error's payload (a Cap'n Proto message), possibly empty.
    pub detail: Vec<u8>,
}

/// A malformed protocol message from the peer.
pub(crate) fn protocol_error(e: capnp::Error) -> Error {
    Error::new(
        ErrorCode::Internal,
        format!("malformed protocol message: {e}"),
    )
}

/// The prefix of RPC exception descriptions that carry a typed error.
const EXCEPTION_MARKER: &str = "iomod.";

impl Error {
    /// An error of `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            name: String::new(),
            detail: Vec::new(),
        }
    }

    /// A method's own named error.
    pub fn method(name: impl Into<String>, message: impl Into<String>, detail: Vec<u8>) -> Self {
        Self {
            code: ErrorCode::Method,
            message: message.into(),
            name: name.into(),
            detail,
        }
    }

    /// Writes this error into a protocol `Error` builder.
    pub fn write(&self, mut builder: error::Builder<'_>) {
        builder.set_code(self.code.to_capnp());
        builder.set_message(&self.message[..]);
        builder.set_name(&self.name[..]);
        builder.set_detail(&self.detail[..]);
    }

    /// Reads a protocol `Error`. An unknown code (from a newer peer) reads as [`ErrorCode::Internal`] with
    /// the code's number in the message.
    pub fn read(reader: error::Reader<'_>) -> Self {
        let text = |r: capnp::Result<capnp::text::Reader<'_>>| {
            r.ok()
                .and_then(|t| t.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (code, mut message) = match reader.get_code() {
            Ok(code) => (ErrorCode::from_capnp(code), text(reader.get_message())),
            Err(capnp::NotInSchema(n)) => (
                ErrorCode::Internal,
                format!("unknown error code {n}: {}", text(reader.get_message())),
            ),
        };
        if message.is_empty() {
            message = code.as_str().to_owned();
        }
        Self {
            code,
            message,
            name: text(reader.get_name()),
            detail: reader.get_detail().map(<[u8]>::to_vec).unwrap_or_default(),
        }
    }

    /// This error as an RPC exception, for failures that happen outside a method's typed results (see the
    /// protocol's conventions in `schemas/iomod.capnp`). [`Error::from_exception`] reads it back.
    pub fn into_exception(self) -> capnp::Error {
        capnp::Error::failed(format!("{EXCEPTION_MARKER}{}: {}", self.code, self.message))
    }

    /// Classifies an RPC exception: a typed error raised with [`Error::into_exception`] keeps its code; a
    /// broken connection is [`ErrorCode::Unavailable`]; an unimplemented method is
    /// [`ErrorCode::MethodNotFound`]; anything else is [`ErrorCode::Internal`].
    pub fn from_exception(err: &capnp::Error) -> Self {
        let extra = err.extra.as_str();
        if let Some(start) = extra.find(EXCEPTION_MARKER) {
            let rest = &extra[start + EXCEPTION_MARKER.len()..];
            if let Some((code, message)) = rest.split_once(": ") {
                if let Some(code) = ErrorCode::from_str(code) {
                    return Self::new(code, message);
                }
            }
        }
        let code = match err.kind {
            capnp::ErrorKind::Disconnected => ErrorCode::Unavailable,
            capnp::ErrorKind::Overloaded => ErrorCode::Unavailable,
            capnp::ErrorKind::Unimplemented => ErrorCode::MethodNotFound,
            _ => ErrorCode::Internal,
        };
        Self::new(code, err.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code == ErrorCode::Method {
            write!(f, "{}: {}", self.name, self.message)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for capnp::Error {
    fn from(err: Error) -> Self {
        err.into_exception()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_round_trip_keeps_code() {
        for code in ErrorCode::ALL {
            let err = Error::new(code, "it broke: badly");
            let exc = err.clone().into_exception();
            // Across an RPC hop the text gains a prefix; the marker is still found.
            let remote = capnp::Error::failed(format!("remote exception: {}", exc.extra));
            assert_eq!(Error::from_exception(&remote), err);
        }
    }

    #[test]
    fn plain_exceptions_are_classified() {
        let e = Error::from_exception(&capnp::Error::disconnected("peer went away".into()));
        assert_eq!(e.code, ErrorCode::Unavailable);
        let e = Error::from_exception(&capnp::Error::unimplemented("nope".into()));
        assert_eq!(e.code, ErrorCode::MethodNotFound);
        let e = Error::from_exception(&capnp::Error::failed("iomod.bogus: x".into()));
        assert_eq!(e.code, ErrorCode::Internal);
    }

    #[test]
    fn capnp_struct_round_trip() {
        let mut message = capnp::message::Builder::new_default();
        let err = Error::method(
            "ConditionalCheckFailed",
            "the condition failed",
            vec![1, 2, 3],
        );
        err.write(message.init_root());
        let reader = message.get_root_as_reader::<error::Reader<'_>>().unwrap();
        assert_eq!(Error::read(reader), err);
    }
}
