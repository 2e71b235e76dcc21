//! The audit log: events, their encoding and the hash chain.

use mlops_core::{ContentHash, Name};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::ModelMetadata;

/// Largest event object accepted, in bytes. Larger objects are rejected before they are read.
pub const MAX_EVENT_BYTES: u64 = 1024 * 1024;
/// Longest actor string, in bytes.
pub const MAX_ACTOR_LEN: usize = 256;
/// Longest reason string, in bytes.
pub const MAX_REASON_LEN: usize = 4096;

/// What an event did.
///
/// Serialised with a `type` tag in snake case, e.g. `{"type":"set_alias",...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// A new version of a model was registered.
    RegisterVersion {
        /// The model.
        model: Name,
        /// The new version number (one more than the previous highest).
        version: u64,
        /// sha256 of the bundle.
        blob: ContentHash,
        /// Bundle size in bytes.
        size: u64,
        /// The metadata.
        metadata: ModelMetadata,
    },
    /// An alias was created or moved.
    SetAlias {
        /// The model.
        model: Name,
        /// The alias.
        alias: Name,
        /// The new target.
        version: u64,
        /// The previous target (`None` if the alias was new).
        previous: Option<u64>,
    },
    /// A version was archived.
    Archive {
        /// The model.
        model: Name,
        /// The archived version.
        version: u64,
    },
    /// An alias was moved back to its previous target.
    Rollback {
        /// The model.
        model: Name,
        /// The alias.
        alias: Name,
        /// The target it left.
        from: u64,
        /// The target it returned to.
        to: u64,
    },
}

impl Action {
    /// The object the action concerns, e.g. `model/churn/3` or `model/churn/alias/champion`.
    pub fn target(&self) -> String {
        match self {
            Action::RegisterVersion { model, version, .. } | Action::Archive { model, version } => {
                format!("model/{model}/{version}")
            }
            Action::SetAlias { model, alias, .. } | Action::Rollback { model, alias, .. } => {
                format!("model/{model}/alias/{alias}")
            }
        }
    }

    /// The action's name as written in the log (`register_version`, `set_alias`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::RegisterVersion { .. } => "register_version",
            Action::SetAlias { .. } => "set_alias",
            Action::Archive { .. } => "archive",
            Action::Rollback { .. } => "rollback",
        }
    }
}

/// One entry of the audit log, stored as the JSON object `events/{seq:020}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Position in the log, from 1.
    pub seq: u64,
    /// sha256 of the stored bytes of event `seq - 1` (`None` for the first event).
    pub prev: Option<ContentHash>,
    /// Wall-clock time of the write, unix milliseconds.
    pub time_ms: u64,
    /// Who made the change.
    pub actor: String,
    /// What was changed ([`Action::target`]).
    pub target: String,
    /// Why.
    pub reason: String,
    /// The change itself.
    pub action: Action,
}

/// The last event of the log as this registry has seen it: an anchor that can be stored
/// elsewhere and later checked with [`crate::Registry::verify_anchor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHead {
    /// Sequence number of the last event.
    pub seq: u64,
    /// sha256 of its stored bytes.
    pub hash: ContentHash,
}

/// Key of event `seq`.
pub(crate) fn event_key(seq: u64) -> object_store::path::Path {
    object_store::path::Path::from(format!("events/{seq:020}"))
}

/// Parses an event key's file name back into a sequence number.
pub(crate) fn parse_event_key(key: &object_store::path::Path) -> Option<u64> {
    let s = key.as_ref().strip_prefix("events/")?;
    if s.len() != 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n > 0)
}

pub(crate) fn encode(event: &Event) -> Result<Vec<u8>> {
    let bytes = serde_json::to_vec(event).map_err(|e| Error::input("event", e.to_string()))?;
    if bytes.len() as u64 > MAX_EVENT_BYTES {
        return Err(Error::EventTooLarge {
            seq: event.seq,
            size: bytes.len() as u64,
            limit: MAX_EVENT_BYTES,
        });
    }
    Ok(bytes)
}

/// Decodes the bytes stored at `events/{seq}` and checks what can be checked without the rest
/// of the log: size, schema, sequence number, target, field limits.
pub(crate) fn decode(seq: u64, bytes: &[u8]) -> Result<Event> {
    if bytes.len() as u64 > MAX_EVENT_BYTES {
        return Err(Error::EventTooLarge {
            seq,
            size: bytes.len() as u64,
            limit: MAX_EVENT_BYTES,
        });
    }
    let event: Event =
        serde_json::from_slice(bytes).map_err(|source| Error::EventDecode { seq, source })?;
    let invalid = |reason: String| Error::InvalidEvent { seq, reason };
    if event.seq != seq {
        return Err(invalid(format!(
            "stored at position {seq} but says it is event {}",
            event.seq
        )));
    }
    if event.target != event.action.target() {
        return Err(invalid(format!(
            "target {:?} does not match its action ({:?})",
            event.target,
            event.action.target()
        )));
    }
    check_actor(&event.actor).map_err(|e| invalid(e.to_string()))?;
    check_reason(&event.reason).map_err(|e| invalid(e.to_string()))?;
    if let Action::RegisterVersion { metadata, .. } = &event.action {
        metadata.validate().map_err(|e| invalid(e.to_string()))?;
    }
    Ok(event)
}

pub(crate) fn check_actor(actor: &str) -> Result<()> {
    if actor.is_empty() {
        return Err(Error::input("actor", "empty"));
    }
    crate::model::check_text("actor", actor, MAX_ACTOR_LEN, false)
}

pub(crate) fn check_reason(reason: &str) -> Result<()> {
    crate::model::check_text("reason", reason, MAX_REASON_LEN, true)
}
