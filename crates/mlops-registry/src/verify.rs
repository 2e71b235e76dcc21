//! Whole-registry verification.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;
use mlops_core::{ContentHash, hash_bytes};
use object_store::ObjectStore;
use serde::Serialize;

use crate::blob;
use crate::error::{Error, Result};
use crate::event::{self, LogHead};
use crate::registry::{fetch_event, list_events};
use crate::snapshot;
use crate::state::State;

/// One thing [`crate::Registry::verify`] found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// An object under `events/` whose key is not an event key.
    #[error("unexpected object {key:?} in the log")]
    UnexpectedObject {
        /// Its key.
        key: String,
    },
    /// Event `seq` is absent although later events exist (or this handle had read it).
    #[error("event {seq} is missing")]
    EventMissing {
        /// The missing sequence number.
        seq: u64,
    },
    /// Event `seq` cannot be decoded or fails its own checks (wrong sequence number inside,
    /// bad field, oversized).
    #[error("event {seq} is unreadable: {error}")]
    EventUnreadable {
        /// The event.
        seq: u64,
        /// The decoding error.
        error: String,
    },
    /// Event `seq` names a previous hash that is not the hash of the stored event `seq - 1`:
    /// event `seq - 1` was edited or replaced (or events were reordered).
    #[error(
        "chain broken at event {seq}: previous event hashes to {expected:?}, event names {found:?}"
    )]
    ChainBroken {
        /// The event whose `prev` does not match.
        seq: u64,
        /// Hash of the stored previous event.
        expected: Option<ContentHash>,
        /// The `prev` it names.
        found: Option<ContentHash>,
    },
    /// Event `seq` differs from what this handle read earlier or from the anchor: it was edited.
    #[error("event {seq} was edited: it hashed to {known}, now to {stored}")]
    EventChanged {
        /// The event.
        seq: u64,
        /// The hash read earlier (or the anchor's).
        known: ContentHash,
        /// The hash of the stored bytes now.
        stored: ContentHash,
    },
    /// Event `seq` contradicts the events before it (version gap, alias on a missing version, …).
    #[error("event {seq} is inconsistent with the log: {reason}")]
    InvalidEvent {
        /// The event.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The snapshot folding events `1..=seq` cannot be used: damaged, not a snapshot, over
    /// [`crate::MAX_SNAPSHOT_BYTES`], or internally inconsistent. Opening skips it.
    #[error("snapshot {seq} is unreadable: {error}")]
    SnapshotUnreadable {
        /// The last event the snapshot claims to fold.
        seq: u64,
        /// Why it cannot be used.
        error: String,
    },
    /// The snapshot at `seq` decodes but is not the fold of the log up to event `seq` (forged,
    /// or the log was edited after it was written), or the log has no event `seq`.
    #[error("snapshot {seq} does not match the log: {reason}")]
    SnapshotMismatch {
        /// The last event the snapshot claims to fold.
        seq: u64,
        /// What differs (`models`, `event hashes`, …).
        reason: String,
    },
    /// A blob referenced by the log is absent.
    #[error("blob {hash} of {target} is missing")]
    BlobMissing {
        /// The blob.
        hash: ContentHash,
        /// The first event target that references it (`model/churn/3`, `run/run-2`,
        /// `dataset/{fingerprint}`).
        target: String,
    },
    /// A blob referenced by the log does not hash to its name.
    #[error("blob {hash} of {target} is corrupt (hashes to {actual})")]
    BlobCorrupt {
        /// The blob.
        hash: ContentHash,
        /// The hash of the stored bytes.
        actual: ContentHash,
        /// The first event target that references it.
        target: String,
    },
}

/// The result of [`crate::Registry::verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Event objects read.
    pub events: u64,
    /// Distinct blobs checked.
    pub blobs: u64,
    /// The last stored event.
    pub head: Option<LogHead>,
    /// Everything found wrong: objects that do not belong, events in log order, snapshots in
    /// order, then blobs in hash order.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub(crate) async fn run(
    store: &dyn ObjectStore,
    known: &[ContentHash],
    anchor: Option<LogHead>,
) -> Result<VerifyReport> {
    // Snapshots first: every snapshot listed was written after its event, so that event is in
    // the listing of events that follows.
    let (snapshot_seqs, snapshot_junk) = snapshot::list(store).await?;
    let snapshot_seqs: BTreeSet<u64> = snapshot_seqs.into_iter().collect();
    let (seqs, junk) = list_events(store).await?;
    let mut problems: Vec<Problem> = junk
        .into_iter()
        .chain(snapshot_junk)
        .map(|key| Problem::UnexpectedObject { key })
        .collect();
    let mut snapshot_problems = Vec::new();
    let mut snapshots_checked = BTreeSet::new();
    let stored_max = seqs.last().copied().unwrap_or(0);
    let anchor_seq = anchor.map_or(0, |a| a.seq);
    let upper = stored_max.max(known.len() as u64).max(anchor_seq);

    let mut fold = State::default();
    let mut fold_ok = true;
    let mut prev: Option<Option<ContentHash>> = Some(None); // None: previous event missing
    let mut head = None;
    let mut events = 0u64;
    let mut blobs: BTreeMap<ContentHash, String> = BTreeMap::new();
    let mut fetched = futures_util::stream::iter(1..=upper)
        .map(|seq| fetch_event(store, seq))
        .buffered(16);
    while let Some(item) = fetched.next().await {
        let (seq, raw) = match item {
            Ok(x) => x,
            Err(Error::EventTooLarge { seq, size, limit }) => {
                problems.push(Problem::EventUnreadable {
                    seq,
                    error: format!("{size} bytes, over the {limit}-byte limit"),
                });
                prev = None;
                fold_ok = false;
                continue;
            }
            Err(e) => return Err(e),
        };
        let Some(raw) = raw else {
            problems.push(Problem::EventMissing { seq });
            prev = None;
            fold_ok = false;
            continue;
        };
        events += 1;
        let hash = hash_bytes(&raw);
        head = Some(LogHead { seq, hash });
        let index = usize::try_from(seq - 1).unwrap_or(usize::MAX);
        if let Some(k) = known.get(index).filter(|k| **k != hash) {
            problems.push(Problem::EventChanged {
                seq,
                known: *k,
                stored: hash,
            });
        }
        if let Some(a) = anchor.filter(|a| a.seq == seq && a.hash != hash) {
            problems.push(Problem::EventChanged {
                seq,
                known: a.hash,
                stored: hash,
            });
        }
        let expected_prev = prev.take();
        prev = Some(Some(hash));
        let ev = match event::decode(seq, &raw) {
            Ok(ev) => ev,
            Err(e) => {
                problems.push(Problem::EventUnreadable {
                    seq,
                    error: e.to_string(),
                });
                fold_ok = false;
                continue;
            }
        };
        let chain_ok = match expected_prev {
            Some(expected) if expected != ev.prev => {
                problems.push(Problem::ChainBroken {
                    seq,
                    expected,
                    found: ev.prev,
                });
                false
            }
            Some(_) => true,
            None => false, // previous event missing or unreadable: already reported
        };
        if let Some(blob) = ev.action.blob() {
            blobs.entry(blob).or_insert_with(|| ev.target.clone());
        }
        if fold_ok && chain_ok {
            if let Err(e) = fold.apply(&ev, hash) {
                problems.push(Problem::InvalidEvent {
                    seq,
                    reason: e.to_string(),
                });
                fold_ok = false;
            }
        } else {
            fold_ok = false;
        }
        if fold_ok && snapshot_seqs.contains(&seq) {
            snapshots_checked.insert(seq);
            match snapshot::read(store, seq).await? {
                None => {} // deleted since it was listed (gc)
                Some(Err(error)) => {
                    snapshot_problems.push(Problem::SnapshotUnreadable { seq, error });
                }
                Some(Ok(snap)) => {
                    if let Err(part) = snapshot::compare(&snap, &fold) {
                        snapshot_problems.push(Problem::SnapshotMismatch {
                            seq,
                            reason: format!("its {part} differ from the fold of the log"),
                        });
                    }
                }
            }
        }
    }
    // Snapshots the fold did not reach: beyond the log (reported), or after a broken event
    // (not checkable; the log problem is reported).
    for &seq in snapshot_seqs.difference(&snapshots_checked) {
        if seq > upper {
            snapshot_problems.push(Problem::SnapshotMismatch {
                seq,
                reason: format!("the log ends at event {upper}"),
            });
        }
    }
    problems.extend(snapshot_problems);

    for (hash, target) in &blobs {
        match blob::stream::<std::io::Sink>(store, hash, None).await {
            Ok(_) => {}
            Err(Error::BlobMissing { .. }) => problems.push(Problem::BlobMissing {
                hash: *hash,
                target: target.clone(),
            }),
            Err(Error::BlobCorrupt { actual, .. }) => problems.push(Problem::BlobCorrupt {
                hash: *hash,
                actual,
                target: target.clone(),
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(VerifyReport {
        events,
        blobs: blobs.len() as u64,
        head,
        problems,
    })
}
