//! What an IOmod says about itself at registration (`IomodInfo` and `MethodInfo` of the protocol).

use std::collections::HashSet;

use crate::error::protocol_error;
use crate::iomod_capnp::{iomod_info, method_info};
use crate::{Coordinates, Error, ErrorCode, check_method_name, check_version};

/// One method of an IOmod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodInfo {
    /// snake_case name; the method's path is `<coordinates>.<name>`.
    pub name: String,
    /// The method's ordinal in the IOmod's Cap'n Proto interface.
    pub ordinal: u16,
    /// Documentation.
    pub doc: String,
    /// JSON Schema of the input (JSON text; empty when not known).
    pub input_schema: String,
    /// JSON Schema of the output.
    pub output_schema: String,
    /// JSON Schema of the method's named errors.
    pub error_schema: String,
    /// The fingerprint of the method's contract (see `MethodInfo.fingerprint` in the schema); empty if
    /// unknown.
    pub fingerprint: String,
    /// The method's contract, JSON text (see [`crate::contract`]); empty if unknown. With it, callers
    /// generated from another version of the manifest are checked by Cap'n Proto's compatibility rules;
    /// without it, their fingerprint must be the same.
    pub contract: String,
}

impl MethodInfo {
    /// A method with a name and an ordinal, and no documentation or schemas.
    pub fn new(name: impl Into<String>, ordinal: u16) -> Self {
        Self {
            name: name.into(),
            ordinal,
            doc: String::new(),
            input_schema: String::new(),
            output_schema: String::new(),
            error_schema: String::new(),
            fingerprint: String::new(),
            contract: String::new(),
        }
    }

    /// Sets the documentation.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.doc = doc.into();
        self
    }
}

/// What an IOmod registers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IomodInfo {
    /// The IOmod's coordinates.
    pub coordinates: Coordinates,
    /// The IOmod's semantic version.
    pub version: String,
    /// The protocol version spoken (normally [`crate::PROTOCOL_VERSION`]).
    pub protocol_version: u32,
    /// `sha256:<hex>` of the manifest, or empty.
    pub manifest_digest: String,
    /// The Cap'n Proto interface id of the service capability.
    pub interface_id: u64,
    /// The service's methods.
    pub methods: Vec<MethodInfo>,
    /// The IOmod's process id (filled in by the SDK when serving).
    pub pid: u32,
    /// The SDK version (filled in by the SDK when serving).
    pub sdk_version: String,
}

/// The longest text field accepted in an [`IomodInfo`] (schemas and docs included), in bytes.
pub const MAX_INFO_TEXT_BYTES: usize = 1024 * 1024;
/// The most methods one IOmod may declare.
pub const MAX_METHODS: usize = 4096;

impl IomodInfo {
    /// Info for an IOmod speaking this SDK's protocol version, with no methods yet.
    pub fn new(coordinates: Coordinates, version: impl Into<String>, interface_id: u64) -> Self {
        Self {
            coordinates,
            version: version.into(),
            protocol_version: crate::PROTOCOL_VERSION,
            manifest_digest: String::new(),
            interface_id,
            methods: Vec::new(),
            pid: std::process::id(),
            sdk_version: crate::SDK_VERSION.to_owned(),
        }
    }

    /// Adds a method.
    pub fn method(mut self, method: MethodInfo) -> Self {
        self.methods.push(method);
        self
    }

    /// The method named `name`.
    pub fn find_method(&self, name: &str) -> Option<&MethodInfo> {
        self.methods.iter().find(|m| m.name == name)
    }

    /// Checks everything but the protocol version: a valid version, valid and unique method names and
    /// ordinals, a well-formed digest, bounded sizes. Reports every problem. (An IOmod may declare no
    /// methods, as AssemblyLift-style manifests do; calls to it then fail with `methodNotFound`.)
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        if let Err(e) = check_version(&self.version) {
            problems.push(e.to_string());
        }
        if !self.manifest_digest.is_empty() {
            let hex = self.manifest_digest.strip_prefix("sha256:");
            if !hex.is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())) {
                problems.push(format!(
                    "manifest digest `{}` is not `sha256:` followed by 64 hex digits",
                    self.manifest_digest.chars().take(80).collect::<String>()
                ));
            }
        }
        if self.methods.len() > MAX_METHODS {
            problems.push(format!(
                "{} methods declared; at most {MAX_METHODS} are allowed",
                self.methods.len()
            ));
        }
        let mut names = HashSet::new();
        let mut ordinals = HashSet::new();
        for m in &self.methods {
            if let Err(e) = check_method_name(&m.name) {
                problems.push(e.to_string());
            }
            if !names.insert(m.name.as_str()) {
                problems.push(format!("method `{}` is declared twice", m.name));
            }
            if !ordinals.insert(m.ordinal) {
                problems.push(format!(
                    "ordinal {} is used by more than one method (`{}` among them)",
                    m.ordinal, m.name
                ));
            }
            for (field, text) in [
                ("doc", &m.doc),
                ("inputSchema", &m.input_schema),
                ("outputSchema", &m.output_schema),
                ("errorSchema", &m.error_schema),
                ("contract", &m.contract),
            ] {
                if text.len() > MAX_INFO_TEXT_BYTES {
                    problems.push(format!(
                        "method `{}`: {field} is larger than {MAX_INFO_TEXT_BYTES} bytes",
                        m.name
                    ));
                }
            }
            #[cfg(not(target_arch = "wasm32"))]
            if !m.contract.is_empty() {
                if let Err(problem) = self.check_contract(m) {
                    problems.push(format!("method `{}`: {problem}", m.name));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "invalid registration of {}: {}",
                    self.coordinates,
                    problems.join("; ")
                ),
            ))
        }
    }

    /// Checks that a method's contract is well formed and describes that method: its name, ordinal, the
    /// IOmod's version, and the fingerprint registered with it.
    #[cfg(not(target_arch = "wasm32"))]
    fn check_contract(&self, m: &MethodInfo) -> Result<(), String> {
        use crate::contract::Contract;
        let contract = Contract::parse(&m.contract).map_err(|e| e.to_string())?;
        if contract.method != m.name || contract.ordinal != m.ordinal {
            return Err(format!(
                "its contract describes method `{}` @{}, not @{}",
                contract.method, contract.ordinal, m.ordinal
            ));
        }
        if contract.version != self.version {
            return Err(format!(
                "its contract is of version {}, the IOmod registers version {}",
                contract.version, self.version
            ));
        }
        let fingerprint = Contract::fingerprint_of(&m.contract);
        if !m.fingerprint.is_empty() && m.fingerprint != fingerprint {
            return Err(format!(
                "its fingerprint {} is not its contract's ({fingerprint})",
                m.fingerprint
            ));
        }
        Ok(())
    }

    /// Writes this info into a protocol builder.
    pub fn write(&self, mut b: iomod_info::Builder<'_>) {
        b.set_coordinates(self.coordinates.as_str());
        b.set_version(&self.version[..]);
        b.set_protocol_version(self.protocol_version);
        b.set_manifest_digest(&self.manifest_digest[..]);
        b.set_interface_id(self.interface_id);
        b.set_pid(self.pid);
        b.set_sdk_version(&self.sdk_version[..]);
        let mut methods = b.init_methods(self.methods.len() as u32);
        for (i, m) in self.methods.iter().enumerate() {
            let mut mb: method_info::Builder<'_> = methods.reborrow().get(i as u32);
            mb.set_name(&m.name[..]);
            mb.set_ordinal(m.ordinal);
            mb.set_doc(&m.doc[..]);
            mb.set_input_schema(&m.input_schema[..]);
            mb.set_output_schema(&m.output_schema[..]);
            mb.set_error_schema(&m.error_schema[..]);
            mb.set_fingerprint(&m.fingerprint[..]);
            mb.set_contract(&m.contract[..]);
        }
    }

    /// Reads (and checks the shape of) a protocol `IomodInfo`. Coordinates are parsed; use
    /// [`IomodInfo::validate`] for the rest.
    pub fn read(r: iomod_info::Reader<'_>) -> Result<Self, Error> {
        let text =
            |field: &str, t: capnp::Result<capnp::text::Reader<'_>>| -> Result<String, Error> {
                let t = t.map_err(protocol_error)?;
                if t.len() > MAX_INFO_TEXT_BYTES {
                    return Err(Error::new(
                        ErrorCode::TooLarge,
                        format!("{field} is larger than {MAX_INFO_TEXT_BYTES} bytes"),
                    ));
                }
                t.to_string().map_err(|_| {
                    Error::new(
                        ErrorCode::InvalidInput,
                        format!("{field} is not valid UTF-8"),
                    )
                })
            };
        let coordinates_text = text("coordinates", r.get_coordinates())?;
        let coordinates = coordinates_text
            .parse()
            .map_err(|e: crate::ParseError| Error::new(ErrorCode::InvalidInput, e.to_string()))?;
        let list = r.get_methods().map_err(protocol_error)?;
        if list.len() as usize > MAX_METHODS {
            return Err(Error::new(
                ErrorCode::TooLarge,
                format!(
                    "{} methods declared; at most {MAX_METHODS} are allowed",
                    list.len()
                ),
            ));
        }
        let mut methods = Vec::with_capacity(list.len() as usize);
        for m in list.iter() {
            methods.push(MethodInfo {
                name: text("method name", m.get_name())?,
                ordinal: m.get_ordinal(),
                doc: text("method doc", m.get_doc())?,
                input_schema: text("inputSchema", m.get_input_schema())?,
                output_schema: text("outputSchema", m.get_output_schema())?,
                error_schema: text("errorSchema", m.get_error_schema())?,
                fingerprint: text("fingerprint", m.get_fingerprint())?,
                contract: text("contract", m.get_contract())?,
            });
        }
        Ok(Self {
            coordinates,
            version: text("version", r.get_version())?,
            protocol_version: r.get_protocol_version(),
            manifest_digest: text("manifestDigest", r.get_manifest_digest())?,
            interface_id: r.get_interface_id(),
            methods,
            pid: r.get_pid(),
            sdk_version: text("sdkVersion", r.get_sdk_version())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IomodInfo {
        IomodInfo::new("example.test.echo".parse().unwrap(), "1.0.0", 0xabc)
            .method(MethodInfo::new("echo", 0).doc("Echoes."))
            .method(MethodInfo::new("reverse", 1))
    }

    #[test]
    fn valid_info_round_trips() {
        let info = sample();
        info.validate().unwrap();
        let mut message = capnp::message::Builder::new_default();
        info.write(message.init_root());
        let back = IomodInfo::read(message.get_root_as_reader().unwrap()).unwrap();
        assert_eq!(back, info);
    }

    #[test]
    fn validation_reports_every_problem() {
        let mut info = sample();
        info.version = "1.0".into();
        info.manifest_digest = "md5:00".into();
        info.methods.push(MethodInfo::new("echo", 0));
        info.methods.push(MethodInfo::new("Bad-Name", 7));
        let err = info.validate().unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        for needle in [
            "MAJOR.MINOR.PATCH",
            "manifest digest",
            "declared twice",
            "ordinal 0",
            "Bad-Name",
        ] {
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
        }
        // No methods is valid (AssemblyLift-style IOmods declare none).
        IomodInfo::new("example.test.echo".parse().unwrap(), "1.0.0", 1)
            .validate()
            .unwrap();
    }
}
