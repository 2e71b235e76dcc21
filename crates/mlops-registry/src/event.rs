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
    /// A training run was logged (its full record is a blob).
    RunLogged {
        /// The run id (`run-{n}`, n = 1, 2, … in log order).
        run: Name,
        /// The experiment.
        experiment: Name,
        /// sha256 of the stored run record.
        blob: ContentHash,
        /// Its size.
        size: u64,
        /// The run's final metrics (for comparisons without reading the blob).
        metrics: std::collections::BTreeMap<String, f64>,
    },
    /// A dataset snapshot was stored.
    DatasetAdded {
        /// The dataset fingerprint the snapshot is keyed by.
        fingerprint: ContentHash,
        /// An optional human name.
        name: Option<Name>,
        /// sha256 of the stored file.
        blob: ContentHash,
        /// Its size.
        size: u64,
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
            Action::RunLogged { run, .. } => format!("run/{run}"),
            Action::DatasetAdded { fingerprint, .. } => format!("dataset/{fingerprint}"),
        }
    }

    /// The action's name as written in the log (`register_version`, `set_alias`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::RegisterVersion { .. } => "register_version",
            Action::SetAlias { .. } => "set_alias",
            Action::Archive { .. } => "archive",
            Action::Rollback { .. } => "rollback",
            Action::RunLogged { .. } => "run_logged",
            Action::DatasetAdded { .. } => "dataset_added",
        }
    }

    /// The blob the action references, if any.
    pub fn blob(&self) -> Option<ContentHash> {
        match self {
            Action::RegisterVersion { blob, .. }
            | Action::RunLogged { blob, .. }
            | Action::DatasetAdded { blob, .. } => Some(*blob),
            _ => None,
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
    match &event.action {
        Action::RegisterVersion { metadata, .. } => {
            metadata.validate().map_err(|e| invalid(e.to_string()))?;
        }
        Action::RunLogged { metrics, .. } => {
            if let Some((k, v)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
                return Err(invalid(format!("metric {k:?} is {v}")));
            }
        }
        _ => {}
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn sample(seq: u64) -> Event {
        let action = Action::SetAlias {
            model: Name::new("m").unwrap(),
            alias: Name::new("champion").unwrap(),
            version: 2,
            previous: Some(1),
        };
        Event {
            seq,
            prev: Some(mlops_core::hash_bytes(b"prev")),
            time_ms: 1_700_000_000_000,
            actor: "alice".into(),
            target: action.target(),
            reason: "why\nnot".into(),
            action,
        }
    }

    #[test]
    fn event_keys_round_trip_and_reject_others() {
        assert_eq!(event_key(7).as_ref(), "events/00000000000000000007");
        assert_eq!(parse_event_key(&event_key(7)), Some(7));
        assert_eq!(parse_event_key(&event_key(u64::MAX)), Some(u64::MAX));
        for bad in [
            "events/0",
            "events/00000000000000000000",
            "events/0000000000000000000x",
            "other/00000000000000000001",
            "events/00000000000000000001#1",
        ] {
            assert_eq!(
                parse_event_key(&object_store::path::Path::from(bad)),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let ev = sample(3);
        let bytes = encode(&ev).unwrap();
        assert_eq!(decode(3, &bytes).unwrap(), ev);
        // The encoding is deterministic (the chain hashes it).
        assert_eq!(encode(&ev).unwrap(), bytes);
        assert!(
            !bytes.contains(&b'\n'),
            "one event must fit on one JSON line"
        );
    }

    #[test]
    fn decode_rejects_inconsistent_events() {
        let bytes = encode(&sample(3)).unwrap();
        assert!(matches!(
            decode(4, &bytes),
            Err(Error::InvalidEvent { seq: 4, .. })
        ));
        let mut ev = sample(3);
        ev.target = "model/other/alias/champion".into();
        let bytes = serde_json::to_vec(&ev).unwrap();
        assert!(matches!(decode(3, &bytes), Err(Error::InvalidEvent { .. })));
        let mut ev = sample(3);
        ev.actor = String::new();
        let bytes = serde_json::to_vec(&ev).unwrap();
        assert!(matches!(decode(3, &bytes), Err(Error::InvalidEvent { .. })));
    }

    #[test]
    fn decode_rejects_hostile_json_with_typed_errors() {
        let good = String::from_utf8(encode(&sample(1)).unwrap()).unwrap();
        let cases = [
            String::new(),
            "null".to_owned(),
            "[]".to_owned(),
            good.replace("\"seq\":1", "\"seq\":-1"),
            good.replace("\"seq\":1", "\"seq\":1e999"),
            good.replace("\"actor\"", "\"extra\":1,\"actor\""),
            good.replace("set_alias", "drop_tables"),
            good.replace("\"m\"", "\"../m\""),
            good.replace("\"champion\"", "\"\""),
            good.replace(&mlops_core::hash_bytes(b"prev").to_hex(), "zz"),
            // Nesting far past serde_json's recursion limit must not overflow the stack.
            good.replace(
                "\"reason\":\"why\\nnot\"",
                &format!("\"reason\":{}", "[".repeat(100_000)),
            ),
        ];
        for (i, text) in cases.iter().enumerate() {
            match decode(1, text.as_bytes()) {
                Err(Error::EventDecode { seq: 1, .. }) => {}
                other => panic!("case {i}: {other:?}"),
            }
        }
        let huge = vec![b' '; MAX_EVENT_BYTES as usize + 1];
        assert!(matches!(decode(1, &huge), Err(Error::EventTooLarge { .. })));
    }

    #[test]
    fn metadata_with_non_finite_metric_cannot_be_encoded_as_valid_event() {
        let meta = ModelMetadata::default().with_metric("auc", f64::NAN);
        assert!(meta.validate().is_err());
        // serde_json writes NaN as null, which does not decode as a metric.
        let action = Action::RegisterVersion {
            model: Name::new("m").unwrap(),
            version: 1,
            blob: mlops_core::hash_bytes(b"x"),
            size: 1,
            metadata: meta,
        };
        let ev = Event {
            seq: 1,
            prev: None,
            time_ms: 0,
            actor: "a".into(),
            target: action.target(),
            reason: String::new(),
            action,
        };
        let bytes = serde_json::to_vec(&ev).unwrap();
        assert!(matches!(decode(1, &bytes), Err(Error::EventDecode { .. })));
    }
}
