//! State snapshots: the fold of the log up to one event, stored so that opening a registry reads
//! a snapshot and the events after it instead of the whole log.
//!
//! A snapshot is the object `snapshots/{seq:020}`:
//! `MAGIC (8 bytes) | format version (u32 LE) | sha256 of the body (32 bytes) | body`, the body
//! being the state encoded with MessagePack (named fields). It records the sequence number and
//! the hash of the last event it folds; a reader uses it only if that event is stored with that
//! hash, the body hashes to the header's digest, it decodes within bounds and its parts are
//! consistent. Anything else is skipped with a warning: a snapshot is a cache, never the truth.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use mlops_core::{ContentHash, Name, hash_bytes};
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::event::LogHead;
use crate::state::{ModelState, State, index, run_id};
use crate::tracking::{DatasetSnapshot, RunSummary};

/// Largest snapshot object written or read, in bytes. A state whose snapshot would be larger
/// is not snapshotted (the registry still works, it folds the log).
pub const MAX_SNAPSHOT_BYTES: u64 = 512 << 20;

const MAGIC: &[u8; 8] = b"MLOPSSNP";
const FORMAT: u32 = 1;
const HEADER: usize = 8 + 4 + 32;
/// Nesting allowed in the body: the state's own structure (8 levels down to a version's
/// signature) plus the 128 levels `serde_json` allows inside an event.
const MAX_DEPTH: usize = 160;
/// How many of the newest snapshots opening tries before folding the whole log.
const MAX_TRIES: usize = 3;

/// Key of the snapshot folding events `1..=seq`.
pub(crate) fn snapshot_key(seq: u64) -> Path {
    Path::from(format!("snapshots/{seq:020}"))
}

/// Parses a snapshot key back into its sequence number.
pub(crate) fn parse_snapshot_key(key: &Path) -> Option<u64> {
    let s = key.as_ref().strip_prefix("snapshots/")?;
    if s.len() != 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n > 0)
}

/// Event hashes as one byte string (32 bytes each) rather than 64-character hex strings.
struct HashesRef<'a>(&'a [ContentHash]);

impl Serialize for HashesRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(self.0.len() * 32);
        for h in self.0 {
            bytes.extend_from_slice(h.as_bytes());
        }
        s.serialize_bytes(&bytes)
    }
}

struct Hashes(Vec<ContentHash>);

impl<'de> Deserialize<'de> for Hashes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Hashes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string of 32-byte hashes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> std::result::Result<Hashes, E> {
                if !v.len().is_multiple_of(32) {
                    return Err(E::custom(format!(
                        "{} bytes of hashes is not a multiple of 32",
                        v.len()
                    )));
                }
                Ok(Hashes(
                    v.chunks_exact(32)
                        .map(|c| {
                            let mut b = [0u8; 32];
                            b.copy_from_slice(c);
                            ContentHash::from_bytes(b)
                        })
                        .collect(),
                ))
            }
        }
        d.deserialize_bytes(V)
    }
}

#[derive(Serialize)]
struct BodyRef<'a> {
    seq: u64,
    head: ContentHash,
    hashes: HashesRef<'a>,
    models: &'a BTreeMap<Name, ModelState>,
    runs: &'a [RunSummary],
    datasets: &'a BTreeMap<ContentHash, DatasetSnapshot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    seq: u64,
    head: ContentHash,
    hashes: Hashes,
    models: BTreeMap<Name, ModelState>,
    runs: Vec<RunSummary>,
    datasets: BTreeMap<ContentHash, DatasetSnapshot>,
}

/// Encodes the state (which must hold at least one event) as a snapshot object.
pub(crate) fn encode(st: &State) -> Result<Vec<u8>> {
    let seq = st.seq();
    let head = st.head_hash().ok_or(Error::Snapshot {
        seq,
        reason: "the log is empty".to_owned(),
    })?;
    let body = BodyRef {
        seq,
        head,
        hashes: HashesRef(&st.hashes),
        models: &st.models,
        runs: &st.runs,
        datasets: &st.datasets,
    };
    let mut out = Vec::with_capacity(HEADER + 64 * st.hashes.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&[0u8; 32]);
    let mut ser = rmp_serde::Serializer::new(&mut out).with_struct_map();
    body.serialize(&mut ser).map_err(|e| Error::Snapshot {
        seq,
        reason: format!("encoding: {e}"),
    })?;
    if out.len() as u64 > MAX_SNAPSHOT_BYTES {
        return Err(Error::Snapshot {
            seq,
            reason: format!(
                "{} bytes, over the {MAX_SNAPSHOT_BYTES}-byte limit",
                out.len()
            ),
        });
    }
    let digest = hash_bytes(out.get(HEADER..).unwrap_or_default());
    if let Some(slot) = out.get_mut(12..HEADER) {
        slot.copy_from_slice(digest.as_bytes());
    }
    Ok(out)
}

/// Decodes a snapshot object stored under `seq` and checks everything that can be checked
/// without the log: header, digest, bounds, and the internal consistency of the state. The
/// returned state folds events `1..=seq`; its last hash is the recorded hash of event `seq`.
/// Errors are reasons (a bad snapshot is skipped or reported, never fatal).
pub(crate) fn decode(seq: u64, bytes: &[u8]) -> std::result::Result<State, String> {
    if bytes.len() as u64 > MAX_SNAPSHOT_BYTES {
        return Err(format!(
            "{} bytes, over the {MAX_SNAPSHOT_BYTES}-byte limit",
            bytes.len()
        ));
    }
    let (header, body) = bytes
        .split_at_checked(HEADER)
        .ok_or_else(|| format!("{} bytes, shorter than the header", bytes.len()))?;
    let (magic, rest) = header.split_at(8);
    let (format, digest) = rest.split_at(4);
    if magic != MAGIC {
        return Err("not a snapshot (bad magic)".to_owned());
    }
    let format = u32::from_le_bytes(format.try_into().map_err(|_| "short header")?);
    if format != FORMAT {
        return Err(format!("format version {format}, expected {FORMAT}"));
    }
    if hash_bytes(body).as_bytes()[..] != *digest {
        return Err("body does not match its digest (damaged)".to_owned());
    }
    let mut de = rmp_serde::Deserializer::from_read_ref(body);
    de.set_max_depth(MAX_DEPTH);
    let b = Body::deserialize(&mut de).map_err(|e| format!("cannot be decoded: {e}"))?;
    let st = State {
        hashes: b.hashes.0,
        models: b.models,
        runs: b.runs,
        datasets: b.datasets,
        loaded: false,
    };
    if b.seq != seq {
        return Err(format!(
            "stored as snapshot {seq} but says it folds {}",
            b.seq
        ));
    }
    if st.seq() != seq {
        return Err(format!("holds {} event hashes for {seq} events", st.seq()));
    }
    if st.head_hash() != Some(b.head) {
        return Err("its last event hash is not the recorded one".to_owned());
    }
    check_consistent(&st)?;
    Ok(st)
}

/// Invariants every fold satisfies; a snapshot breaking one was not written by a fold.
fn check_consistent(st: &State) -> std::result::Result<(), String> {
    let seq = st.seq();
    let seq_ok = |s: u64| s >= 1 && s <= seq;
    for (name, m) in &st.models {
        if m.versions.is_empty() {
            return Err(format!("model {name} has no version"));
        }
        let n = m.versions.len() as u64;
        if let Some(v) = m.versions.iter().find(|v| !seq_ok(v.event_seq)) {
            return Err(format!(
                "a version of {name} comes from event {}",
                v.event_seq
            ));
        }
        for (alias, a) in &m.aliases {
            let live = m.versions.get(index(a.target)).is_some_and(|v| !v.archived);
            if !live || a.history.iter().any(|&h| h == 0 || h > n) {
                return Err(format!(
                    "alias {alias} of {name} points outside its versions"
                ));
            }
        }
    }
    for (i, r) in st.runs.iter().enumerate() {
        if r.run.as_str() != run_id(i as u64 + 1) || !seq_ok(r.event_seq) {
            return Err(format!("run {} is out of place", r.run));
        }
    }
    for (fingerprint, d) in &st.datasets {
        if d.fingerprint != *fingerprint || !seq_ok(d.event_seq) {
            return Err(format!("dataset {fingerprint} is out of place"));
        }
    }
    Ok(())
}

/// Whether two states are the same fold; `Err` names the first part that differs.
pub(crate) fn compare(snapshot: &State, fold: &State) -> std::result::Result<(), &'static str> {
    if snapshot.hashes != fold.hashes {
        return Err("event hashes");
    }
    if snapshot.models != fold.models {
        return Err("models");
    }
    if snapshot.runs != fold.runs {
        return Err("runs");
    }
    if snapshot.datasets != fold.datasets {
        return Err("datasets");
    }
    Ok(())
}

/// Lists `snapshots/`: sorted sequence numbers, and keys that are not snapshot keys.
pub(crate) async fn list(store: &dyn ObjectStore) -> Result<(Vec<u64>, Vec<String>)> {
    let prefix = Path::from("snapshots");
    let mut listing = store.list(Some(&prefix));
    let mut seqs = Vec::new();
    let mut junk = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|e| Error::store("list", &prefix, e))?;
        match parse_snapshot_key(&meta.location) {
            Some(seq) => seqs.push(seq),
            None => junk.push(meta.location.to_string()),
        }
    }
    seqs.sort_unstable();
    junk.sort();
    Ok((seqs, junk))
}

/// Reads and decodes snapshot `seq`. `Ok(None)`: it is gone (deleted since it was listed).
/// `Ok(Some(Err(reason)))`: it is unusable.
pub(crate) async fn read(
    store: &dyn ObjectStore,
    seq: u64,
) -> Result<Option<std::result::Result<State, String>>> {
    let key = snapshot_key(seq);
    let got = match store.get_opts(&key, GetOptions::default()).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(Error::store("get", &key, e)),
    };
    if got.meta.size > MAX_SNAPSHOT_BYTES {
        return Ok(Some(Err(format!(
            "{} bytes, over the {MAX_SNAPSHOT_BYTES}-byte limit",
            got.meta.size
        ))));
    }
    let bytes = got
        .bytes()
        .await
        .map_err(|e| Error::store("get", &key, e))?;
    Ok(Some(decode(seq, &bytes)))
}

/// Writes a snapshot of `st` unless one is already stored at its sequence number (another
/// writer's, which folds the same events). Returns the event the snapshot ends at.
pub(crate) async fn write(store: &dyn ObjectStore, st: &State) -> Result<Option<LogHead>> {
    let Some(head) = st.head() else {
        return Ok(None);
    };
    let bytes = bytes::Bytes::from(encode(st)?);
    let key = snapshot_key(head.seq);
    match store
        .put_opts(
            &key,
            PutPayload::from(bytes.clone()),
            PutOptions::from(PutMode::Create),
        )
        .await
    {
        Err(e)
            if !matches!(
                e,
                object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. }
            ) =>
        {
            // As for events: a lost answer is recognised, and a torn write is removed (then
            // reported as the error; the next snapshot is written whole).
            match crate::blob::inspect_failed_create(store, &key, &bytes).await {
                crate::blob::CreateOutcome::Written => Ok(Some(head)),
                _ => Err(Error::store("put", &key, e)),
            }
        }
        Ok(_)
        | Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => {
            tracing::debug!(seq = head.seq, "snapshot written");
            Ok(Some(head))
        }
        Err(e) => Err(Error::store("put", &key, e)),
    }
}

/// The newest usable snapshot: one of the [`MAX_TRIES`] newest that decodes and whose recorded
/// last event is the one stored. Every failure (store errors included) is a warning and a step
/// back to an older snapshot or, finally, `None`: a full fold.
pub(crate) async fn load_newest(store: &dyn ObjectStore) -> Option<State> {
    let seqs = match list(store).await {
        Ok((seqs, _)) => seqs,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list snapshots; reading the whole log");
            return None;
        }
    };
    for &seq in seqs.iter().rev().take(MAX_TRIES) {
        let reason = match try_one(store, seq).await {
            Ok(st) => {
                tracing::debug!(seq, "state loaded from snapshot");
                return Some(st);
            }
            Err(reason) => reason,
        };
        tracing::warn!(seq, %reason, "snapshot ignored");
    }
    None
}

async fn try_one(store: &dyn ObjectStore, seq: u64) -> std::result::Result<State, String> {
    let st = match read(store, seq).await {
        Ok(Some(r)) => r?,
        Ok(None) => return Err("deleted while opening".to_owned()),
        Err(e) => return Err(e.to_string()),
    };
    let stored = match crate::registry::fetch_event(store, seq).await {
        Ok((_, Some(raw))) => hash_bytes(&raw),
        Ok((_, None)) => return Err(format!("event {seq} is not in the log")),
        Err(e) => return Err(e.to_string()),
    };
    if st.head_hash() != Some(stored) {
        return Err(format!(
            "it ends at an event {seq} other than the stored one (hash {stored})"
        ));
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::event::{Action, Event};
    use crate::model::ModelMetadata;

    fn state(n: u64) -> State {
        let mut st = State::default();
        let mut alias = None;
        for i in 1..=n {
            let versions = st.models.values().next().map_or(0, |m| m.versions.len()) as u64;
            let action = if i % 3 == 0 {
                let previous = alias.replace(versions);
                Action::SetAlias {
                    model: Name::new("m").unwrap(),
                    alias: Name::new("champion").unwrap(),
                    version: versions,
                    previous,
                }
            } else {
                let version = versions + 1;
                Action::RegisterVersion {
                    model: Name::new("m").unwrap(),
                    version,
                    blob: hash_bytes(&i.to_le_bytes()),
                    size: i,
                    metadata: ModelMetadata::default()
                        .with_metric("auc", 0.5)
                        .with_signature(serde_json::json!({"a": [1, 2.5, {"b": null}]})),
                }
            };
            let ev = Event {
                seq: i,
                prev: st.head_hash(),
                time_ms: i,
                actor: "t".into(),
                target: action.target(),
                reason: String::new(),
                action,
            };
            st.apply(&ev, hash_bytes(&serde_json::to_vec(&ev).unwrap()))
                .unwrap();
        }
        st
    }

    #[test]
    fn keys_round_trip() {
        assert_eq!(snapshot_key(42).as_ref(), "snapshots/00000000000000000042");
        assert_eq!(parse_snapshot_key(&snapshot_key(42)), Some(42));
        for bad in [
            "snapshots/0",
            "snapshots/00000000000000000000",
            "events/00000000000000000001",
        ] {
            assert_eq!(parse_snapshot_key(&Path::from(bad)), None, "{bad}");
        }
    }

    #[test]
    fn round_trip_equals_the_fold() {
        let st = state(10);
        let bytes = encode(&st).unwrap();
        let back = decode(10, &bytes).unwrap();
        assert_eq!(compare(&back, &st), Ok(()));
        assert_eq!(
            decode(9, &bytes).err().unwrap(),
            "stored as snapshot 9 but says it folds 10"
        );
        assert!(encode(&State::default()).is_err());
    }

    #[test]
    fn every_flipped_byte_and_truncation_is_rejected_without_panic() {
        let bytes = encode(&state(7)).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode(7, &b).is_err(), "byte {i}");
            assert!(decode(7, &bytes[..i]).is_err(), "truncated at {i}");
        }
    }

    /// A body with a valid digest (a forger can compute one) that is hostile inside.
    fn forge(body: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&FORMAT.to_le_bytes());
        out.extend_from_slice(hash_bytes(body).as_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn hostile_bodies_with_valid_digests_are_rejected() {
        // Deep nesting, huge claimed lengths, wrong types, garbage.
        let deep: Vec<u8> = std::iter::repeat_n(0x91u8, 100_000).collect(); // fixarray(1) ...
        let huge_array = [0xddu8, 0xff, 0xff, 0xff, 0xff]; // array32 of 4 billion
        let huge_map = [0xdfu8, 0xff, 0xff, 0xff, 0xff];
        let huge_bin = [0xc6u8, 0xff, 0xff, 0xff, 0xff];
        for (i, body) in [
            &deep[..],
            &huge_array,
            &huge_map,
            &huge_bin,
            b"",
            b"\xc0",
            b"\xff\xff",
        ]
        .into_iter()
        .enumerate()
        {
            assert!(decode(1, &forge(body)).is_err(), "case {i}");
        }
        // Deep nesting where the schema allows any value (a version's signature).
        let mut st = state(1);
        if let Some(m) = st.models.values_mut().next() {
            m.versions[0].metadata.signature = Some(serde_json::json!("MARKERMARKER"));
        }
        let bytes = encode(&st).unwrap();
        let marker = b"\xacMARKERMARKER";
        let at = bytes
            .windows(marker.len())
            .position(|w| w == marker)
            .unwrap();
        for depth in [150usize, 100_000] {
            let mut body = bytes[HEADER..at].to_vec();
            body.extend(std::iter::repeat_n(0x91u8, depth));
            body.push(0xc0);
            body.extend_from_slice(&bytes[at + marker.len()..]);
            let got = decode(1, &forge(&body));
            if depth == 150 {
                // Legit depth (what an event may hold) still decodes, to a different state.
                let back = got.unwrap();
                assert_eq!(compare(&back, &st), Err("models"));
            } else {
                assert!(got.unwrap_err().contains("depth"), "depth {depth}");
            }
        }
        // A well-formed body whose state no fold produces.
        let mut st = state(6);
        if let Some(m) = st.models.values_mut().next() {
            m.aliases.values_mut().for_each(|a| a.target = 99);
        }
        let bytes = encode(&st).unwrap();
        assert!(decode(6, &bytes).unwrap_err().contains("points outside"));
        let mut st = state(6);
        st.hashes.pop();
        let bytes = encode(&st).unwrap();
        assert!(decode(6, &bytes).is_err());
    }
}
