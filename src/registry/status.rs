//! The state of registered IOmods, as the registry reports it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iomod_sdk::iomod_capnp::iomod_status;
use iomod_sdk::{Error, ErrorCode, IomodInfo};
use serde::Serialize;

/// Whether a registered IOmod is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IomodState {
    /// Registered and answering health checks.
    Ready,
    /// Failed its most recent health check.
    Unhealthy,
    /// Reported that it is shutting down.
    Draining,
}

impl IomodState {
    /// The state's name, as `iomod ls` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            IomodState::Ready => "ready",
            IomodState::Unhealthy => "unhealthy",
            IomodState::Draining => "draining",
        }
    }
}

/// One registered IOmod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IomodStatus {
    /// What the IOmod registered with.
    pub info: IomodInfo,
    /// The registry's id for this registration.
    pub instance_id: u64,
    /// Whether it is answering.
    pub state: IomodState,
    /// When it registered.
    pub registered_at: SystemTime,
    /// Calls forwarded to it.
    pub calls_started: u64,
    /// Of those, calls that failed in the registry or the transport.
    pub calls_failed: u64,
    /// The callers seen, per method and caller contract.
    pub callers: Vec<CallerStatus>,
}

/// Callers of one method generated from one contract, as the registry has seen them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerStatus {
    /// The method called.
    pub method: String,
    /// The version of the IOmod's manifest the callers were generated from (empty: not known).
    pub version: String,
    /// The fingerprint of their contract.
    pub fingerprint: String,
    /// Calls made.
    pub calls: u64,
    /// Why their calls are refused as `incompatible`; empty when they are served.
    pub refused: String,
}

impl IomodStatus {
    /// Writes into a protocol builder.
    pub fn write(&self, mut b: iomod_status::Builder<'_>) {
        self.info.write(b.reborrow().init_info());
        b.set_instance_id(self.instance_id);
        b.set_state(match self.state {
            IomodState::Ready => iomod_status::State::Ready,
            IomodState::Unhealthy => iomod_status::State::Unhealthy,
            IomodState::Draining => iomod_status::State::Draining,
        });
        let ms = self
            .registered_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        b.set_registered_at_ms(u64::try_from(ms).unwrap_or(u64::MAX));
        b.set_calls_started(self.calls_started);
        b.set_calls_failed(self.calls_failed);
        let len = u32::try_from(self.callers.len()).unwrap_or(u32::MAX);
        let mut callers = b.init_callers(len);
        for (i, c) in self.callers.iter().take(len as usize).enumerate() {
            let mut caller = callers.reborrow().get(i as u32);
            caller.set_method(&c.method);
            caller.set_version(&c.version);
            caller.set_fingerprint(&c.fingerprint);
            caller.set_calls(c.calls);
            caller.set_refused(&c.refused);
        }
    }

    /// Reads a protocol `IomodStatus`.
    pub fn read(r: iomod_status::Reader<'_>) -> Result<Self, Error> {
        let malformed = |e: capnp::Error| {
            Error::new(ErrorCode::Internal, format!("malformed IomodStatus: {e}"))
        };
        let state = match r.get_state() {
            Ok(iomod_status::State::Ready) => IomodState::Ready,
            Ok(iomod_status::State::Unhealthy) => IomodState::Unhealthy,
            Ok(iomod_status::State::Draining) => IomodState::Draining,
            Err(capnp::NotInSchema(n)) => {
                return Err(Error::new(
                    ErrorCode::Incompatible,
                    format!("unknown IOmod state {n}"),
                ));
            }
        };
        let text = |t: capnp::Result<capnp::text::Reader<'_>>| -> Result<String, Error> {
            t.map_err(malformed)?
                .to_string()
                .map_err(|e| malformed(e.into()))
        };
        let mut callers = Vec::new();
        for c in r.get_callers().map_err(malformed)? {
            callers.push(CallerStatus {
                method: text(c.get_method())?,
                version: text(c.get_version())?,
                fingerprint: text(c.get_fingerprint())?,
                calls: c.get_calls(),
                refused: text(c.get_refused())?,
            });
        }
        Ok(Self {
            info: IomodInfo::read(r.get_info().map_err(malformed)?)?,
            instance_id: r.get_instance_id(),
            state,
            registered_at: UNIX_EPOCH + Duration::from_millis(r.get_registered_at_ms()),
            calls_started: r.get_calls_started(),
            calls_failed: r.get_calls_failed(),
            callers,
        })
    }

    /// A JSON description, as `iomod ls --json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        let methods: Vec<_> = self
            .info
            .methods
            .iter()
            .map(|m| {
                let schema = |s: &str| {
                    serde_json::from_str::<serde_json::Value>(s).unwrap_or(serde_json::Value::Null)
                };
                serde_json::json!({
                    "name": m.name,
                    "ordinal": m.ordinal,
                    "fingerprint": m.fingerprint,
                    "doc": m.doc,
                    "input_schema": schema(&m.input_schema),
                    "output_schema": schema(&m.output_schema),
                    "error_schema": schema(&m.error_schema),
                })
            })
            .collect();
        serde_json::json!({
            "coordinates": self.info.coordinates.as_str(),
            "version": self.info.version,
            "state": self.state,
            "instance_id": self.instance_id,
            "pid": self.info.pid,
            "protocol_version": self.info.protocol_version,
            "manifest_digest": self.info.manifest_digest,
            "sdk_version": self.info.sdk_version,
            "registered_at_ms": self.registered_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64,
            "calls_started": self.calls_started,
            "calls_failed": self.calls_failed,
            "methods": methods,
            "callers": self.callers,
        })
    }
}
