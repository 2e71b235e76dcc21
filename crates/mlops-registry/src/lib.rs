//! # mlops-registry
//!
//! The registry of mlops-rs: content-addressed, verified artifacts on [`object_store`] (local
//! file system, in-memory, S3-compatible behind the `s3` feature), numbered model versions,
//! movable aliases with compare-and-set and rollback, archive, search, and a hash-chained audit
//! log that [`Registry::verify`] proves intact. It stores bytes plus typed metadata and never
//! executes code when loading.
//!
//! - [`Registry`]: the synchronous API (an internal current-thread runtime drives
//!   `object_store`); open one with [`Registry::open`] (a directory), [`Registry::in_memory`]
//!   or [`Registry::from_store`] (any backend).
//! - Every change is an [`Event`] with an [`Action`]; the state is a fold over the log, so
//!   several processes or machines can write one registry at once: each event is created with
//!   `PutMode::Create` at the next sequence number and the loser of a race re-reads and retries.
//! - Blobs are addressed by sha256 and checked on every read ([`Error::BlobCorrupt`] names
//!   the blob).
//! - Models: [`Registry::register`] (bytes), [`Registry::register_reader`] /
//!   [`Registry::register_file`] (streamed), [`Registry::set_alias`], [`Registry::rollback`],
//!   [`Registry::archive`], [`Registry::version`] / [`Registry::load`] / [`Registry::load_to`]
//!   by number, alias or latest, [`Registry::search`] by name, tag or metric,
//!   [`Registry::model_card`].
//! - Runs and datasets: [`Registry::log_run`], [`Registry::get_run`], [`Registry::compare_runs`];
//!   [`Registry::add_dataset`] stores a snapshot keyed by its fingerprint,
//!   [`Registry::load_dataset_to`] gets it back; [`Registry::lineage`] joins a model version to
//!   its run, dataset fingerprints and stored snapshots.
//! - Audit and upkeep: [`Registry::events`], [`Registry::export_jsonl`], [`Registry::verify`],
//!   [`Registry::snapshot`], [`Registry::gc`].
//! - Testing (feature `testing`): `testing::FaultyStore` wraps any store and fails, delays or
//!   truncates chosen calls by a deterministic plan, to test a setup's behaviour under faults.
//!
//! ```
//! use mlops_registry::{Lineage, ModelMetadata, Registry, RunRecord, VersionRef};
//! use mlops_registry::core::hash_bytes;
//! # fn main() -> mlops_registry::Result<()> {
//! let reg = Registry::in_memory()?;
//! let data = b"x,y\n1,0\n".to_vec();
//! let fingerprint = hash_bytes(&data);
//! reg.add_dataset(fingerprint, Some("train"), &data[..], "training snapshot")?;
//! let run = reg.log_run(&RunRecord::new("churn")?.with_metric("auc", 0.91).with_dataset(fingerprint), "nightly")?;
//! let meta = ModelMetadata::default()
//!     .with_metric("auc", 0.91)
//!     .with_lineage(Lineage { run_id: Some(run.run.clone()), dataset_fingerprints: vec![fingerprint] });
//! let v = reg.register("churn", b"bundle".to_vec(), meta, "nightly retrain")?;
//! reg.set_alias("churn", "champion", v.version, None, "beats the baseline")?;
//! let lineage = reg.lineage("churn", VersionRef::Alias("champion"))?;
//! assert_eq!(lineage.run.map(|r| r.run), Some(run.run));
//! assert!(lineage.datasets[0].1.is_some());
//! assert!(reg.verify()?.is_ok());
//! # Ok(()) }
//! ```
//!
//! ## Guarantees
//!
//! - **Versions** of a model are 1, 2, 3, … with no gap or duplicate, whatever the number of
//!   concurrent writers (threads, processes, or machines on S3 with conditional writes).
//! - **Aliases** move by compare-and-set ([`Registry::set_alias`] takes the expected current
//!   target); of two concurrent moves from the same state exactly one wins, the other gets
//!   [`Error::AliasConflict`]. [`Registry::rollback`] moves an alias back and is itself recorded.
//! - **Audit log**: every change is an [`Event`] (time, actor, action, target, reason) holding
//!   the sha256 of the previous event's stored bytes. [`Registry::verify`] reports every event
//!   edited, removed or reordered before the last one, and every blob missing or damaged.
//!   Rewriting or removing the *last* events is caught against what the handle has read or an
//!   anchor kept elsewhere ([`Registry::head`], [`Registry::verify_anchor`]).
//!   [`Registry::export_jsonl`] writes the stored events byte for byte, one per line.
//! - **Crash safety**: a blob is published atomically at its content key (single put, or a
//!   multipart upload to `tmp/` then a copy), before the event that references it; an event is
//!   published atomically with `PutMode::Create`. A writer killed at any point leaves a
//!   registry that opens and verifies and holds every acknowledged write; it may leave an
//!   unreferenced blob or `tmp/` object behind. On the local file system writes are fsynced
//!   before they are acknowledged ([`RegistryOptions::fsync`]).
//! - **Large local artifacts** (16 MiB and more) are written straight into the blob directory
//!   under a staging name while they are hashed, with `O_DIRECT` on Linux when fsync is on
//!   ([`RegistryOptions::direct_io`]), then renamed to their hash. Registering the same bytes
//!   as the model's newest version of that size (a deterministic retrain often reproduces its
//!   bundle) compares them with the stored blob while hashing and, if every byte matches,
//!   keeps the stored blob instead of writing it again; a damaged stored blob never matches,
//!   so it is rewritten (repaired).
//! - **Hostile input**: names are [`core::Name`]s (no traversal, separators, control
//!   characters, empty or overlong names); event objects are size-limited
//!   ([`MAX_EVENT_BYTES`]) and decoded with `serde_json` (bounded nesting) into typed errors;
//!   metadata is limited in size and its metrics must be finite.
//!
//! ## Known limits
//!
//! - When a store client retries an event write whose response was lost, the "already exists"
//!   it then gets is recognised (the slot holds this call's exact bytes) and the write counts
//!   once; when the store returns any other error, the slot is read back and an event found
//!   there with this call's exact bytes counts as written too. Only if that read fails as well
//!   does the caller get an error that hides whether the write happened, and calling again can
//!   then add a second version.
//! - Each call re-reads the events appended since the previous call (one `GET` when nothing
//!   changed). A fresh handle reads the newest state snapshot and the events after it (writers
//!   store one every [`RegistryOptions::snapshot_every`] events, or on
//!   [`Registry::snapshot`]): about 25 ms for 10,000 events on a local disk, against about
//!   0.5 s to fold them all. A snapshot is used only if it ends at the event actually stored at
//!   its position and decodes cleanly, so damage costs time, never correctness; but a
//!   *deliberately forged* snapshot that ends at the right event is believed until
//!   [`Registry::verify`] (which compares every snapshot with the fold of the log) reports it.
//! - Object stores write atomically; a broken one that stores only a prefix of an event or
//!   snapshot and reports an error is handled (the writer reads the key back and removes its
//!   own torn write; an event is then appended again). One that stores a prefix and reports *success* (a lying
//!   disk) cannot be: the registry then refuses to open with [`Error::EventDecode`] naming
//!   the event, [`Registry::verify`] reports it, and a blob it cut short is
//!   [`Error::BlobCorrupt`] on load and in `verify`.
//! - S3's copy is limited to 5 GiB, which bounds artifacts registered from a reader there.
//!
//! It depends only on `mlops-core`.
#![warn(missing_docs)]

mod blob;
mod card;
mod direct;
mod error;
mod event;
mod gc;
mod model;
mod registry;
mod snapshot;
mod state;
#[cfg(feature = "testing")]
pub mod testing;
mod tracking;
mod verify;

pub use card::rfc3339_ms;
pub use error::{Error, Result};
pub use event::{Action, Event, LogHead, MAX_ACTOR_LEN, MAX_EVENT_BYTES, MAX_REASON_LEN};
pub use gc::GcReport;
pub use mlops_core as core;
pub use model::{
    Lineage, MAX_DESCRIPTION_LEN, MAX_FINGERPRINTS, MAX_KEY_LEN, MAX_METADATA_BYTES, MAX_VALUE_LEN,
    ModelMetadata, ModelQuery, ModelVersion, VersionRef,
};
pub use object_store;
pub use registry::{Registry, RegistryOptions};
pub use snapshot::MAX_SNAPSHOT_BYTES;
pub use tracking::{DatasetSnapshot, LineageReport, MAX_RUN_BYTES, RunRecord, RunSummary, Step};
pub use verify::{Problem, VerifyReport};
