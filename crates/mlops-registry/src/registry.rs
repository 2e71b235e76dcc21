//! The [`Registry`]: a synchronous API over an `object_store` backend.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use mlops_core::{ContentHash, Name, hash_bytes};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutMode, PutOptions, PutPayload};
use tracing::Instrument;

use crate::blob;
use crate::error::{Error, Result, name};
use crate::event::{self, Action, Event, LogHead, MAX_EVENT_BYTES, event_key, parse_event_key};
use crate::model::{ModelMetadata, ModelQuery, ModelVersion, VersionRef};
use crate::state::{self, State, aliases_of, check_live, run_id};
use crate::tracking::{DatasetSnapshot, LineageReport, MAX_RUN_BYTES, RunRecord, RunSummary};
use crate::verify::{self, VerifyReport};

/// How many event objects are fetched concurrently when (re)reading the log.
const FETCH_CONCURRENCY: usize = 16;

/// Options of a [`Registry`].
///
/// ```
/// use mlops_registry::RegistryOptions;
/// let opts = RegistryOptions::default().with_actor("ci-bot");
/// assert_eq!(opts.actor, "ci-bot");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RegistryOptions {
    /// Recorded as the actor of every event this handle writes. Default `"unknown"`.
    pub actor: String,
    /// Local file system only: fsync every written file and its directory before a write is
    /// acknowledged (crash durability). Default `true`.
    pub fsync: bool,
    /// Artifacts read from a reader are uploaded in parts of this many bytes (at least 5 MiB
    /// for S3). Inputs shorter than one part are written in a single request. On a local
    /// store ([`Registry::open`]) inputs are read in parts of this size too, those under
    /// 16 MiB written in one request and larger ones streamed straight to their file.
    /// Default 8 MiB.
    pub chunk_size: usize,
    /// How many times an append may lose the race for the next log slot before giving up with
    /// [`Error::Contention`]. Default 100 000.
    pub max_attempts: u32,
    /// The writer of every event whose sequence number is a multiple of this writes a snapshot
    /// of the state (`snapshots/{seq:020}`), so opening reads the newest snapshot and the
    /// events after it rather than the whole log. `0` turns automatic snapshots off
    /// ([`Registry::snapshot`] still works). Default 100: at most 99 events to fold on open.
    /// A snapshot holds the whole state, so very large logs may want a larger interval.
    pub snapshot_every: u64,
    /// How many of the newest snapshots [`Registry::gc`] keeps (at least 1). Default 2.
    pub snapshots_kept: usize,
    /// Local file system with `fsync` on only: large artifacts (16 MiB and more) are written
    /// with `O_DIRECT` (Linux), from the caller's bytes straight to the device instead of
    /// through the page cache, where the file system allows it (otherwise, and on other
    /// platforms, through the page cache). The artifact is synced either way; this only
    /// changes the speed: about 1.7 GB/s instead of 1.0–1.4 GB/s on the project's machine,
    /// and steadier. Turn it off on file systems where direct I/O is slow (some network file
    /// systems). Default `true`.
    pub direct_io: bool,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            actor: "unknown".to_owned(),
            fsync: true,
            chunk_size: 8 << 20,
            max_attempts: 100_000,
            snapshot_every: 100,
            snapshots_kept: 2,
            direct_io: true,
        }
    }
}

impl RegistryOptions {
    /// Sets the actor recorded in events.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }
    /// Sets whether local writes are fsynced.
    pub fn with_fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }
    /// Sets whether durable writes of large local artifacts bypass the page cache
    /// ([`RegistryOptions::direct_io`]).
    pub fn with_direct_io(mut self, direct_io: bool) -> Self {
        self.direct_io = direct_io;
        self
    }
    /// Sets the upload part size.
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes;
        self
    }
    /// Sets the append retry limit.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets the automatic snapshot interval (`0`: never).
    pub fn with_snapshot_every(mut self, events: u64) -> Self {
        self.snapshot_every = events;
        self
    }
    /// Sets how many snapshots [`Registry::gc`] keeps.
    pub fn with_snapshots_kept(mut self, kept: usize) -> Self {
        self.snapshots_kept = kept;
        self
    }

    fn check(&self) -> Result<()> {
        event::check_actor(&self.actor)?;
        if self.chunk_size < 1024 {
            return Err(Error::input("chunk_size", "must be at least 1024 bytes"));
        }
        if self.max_attempts == 0 {
            return Err(Error::input("max_attempts", "must be at least 1"));
        }
        if self.snapshots_kept == 0 {
            return Err(Error::input("snapshots_kept", "must be at least 1"));
        }
        Ok(())
    }
}

/// A model registry on an object store.
///
/// The API is synchronous: each handle owns a small current-thread tokio runtime and blocks on
/// the `object_store` futures, so applications need no async runtime of their own. Called from
/// inside an async runtime, a method runs on a short-lived helper thread instead of panicking
/// (prefer `spawn_blocking` there to keep the executor free). A handle is `Send + Sync`, and any
/// number of handles, in this process or in others, may write one store at once.
///
/// Layout of the store:
/// - `blobs/sha256/{hex}`: model bundles, run records and dataset snapshots, content-addressed,
///   verified on every read;
/// - `events/{seq:020}`: the audit log, one JSON object per change, created with
///   `PutMode::Create` so two writers can never both take a sequence number, each holding the
///   sha256 of the previous one;
/// - `snapshots/{seq:020}`: the state folded up to event `seq` (a cache: each is checked
///   against the stored event `seq` before use and skipped if it does not match or decode);
/// - `tmp/…`: multipart uploads in progress (or abandoned by a crash; never referenced,
///   removed by [`Registry::gc`]).
///
/// The state (versions, aliases, …) is a fold over the log; each call first reads the events
/// other writers appended since the last call.
///
/// ```
/// use mlops_registry::{ModelMetadata, Registry, VersionRef};
/// # fn main() -> mlops_registry::Result<()> {
/// let dir = tempfile::tempdir().map_err(|e| mlops_registry::Error::Io { op: "tempdir", source: e })?;
/// let reg = Registry::open(dir.path())?;
/// let v = reg.register("churn", b"model bytes".to_vec(), ModelMetadata::default().with_metric("auc", 0.9), "first fit")?;
/// assert_eq!(v.version, 1);
/// reg.set_alias("churn", "champion", 1, None, "promote")?;
/// let (info, bytes) = reg.load("churn", VersionRef::Alias("champion"))?;
/// assert_eq!((info.version, &bytes[..]), (1, &b"model bytes"[..]));
/// assert!(reg.verify()?.is_ok());
/// # Ok(()) }
/// ```
pub struct Registry {
    store: Arc<dyn ObjectStore>,
    opts: RegistryOptions,
    state: tokio::sync::Mutex<State>,
    rt: Option<tokio::runtime::Runtime>,
    /// The directory, when the store is the local file system opened by [`Registry::open`].
    local_root: Option<std::path::PathBuf>,
    /// The same store, typed, when it is the local file system opened by [`Registry::open`]:
    /// large blobs are written to it directly.
    local: Option<blob::LocalFs>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("store", &self.store)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // No operation is in flight when a handle is dropped (every method blocks until done),
        // and a background shutdown never blocks, so this is safe inside an async context too.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Registry {
    /// Opens (creating if needed) a registry in a local directory, with default options.
    pub fn open(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        Self::open_with(dir, RegistryOptions::default())
    }

    /// Opens (creating if needed) a registry in a local directory.
    pub fn open_with(dir: impl AsRef<std::path::Path>, opts: RegistryOptions) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            op: "creating the registry directory",
            source,
        })?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| Error::store("open", &Path::from(dir.to_string_lossy().as_ref()), e))?
            .with_fsync(opts.fsync);
        let store = Arc::new(store);
        let (fsync, direct_io) = (opts.fsync, opts.direct_io);
        let mut reg = Self::connect(Arc::clone(&store) as Arc<dyn ObjectStore>, opts)?;
        reg.local_root = Some(dir.to_path_buf());
        reg.local = Some(blob::LocalFs {
            fs: store,
            fsync,
            direct_io,
        });
        reg.refresh()?;
        Ok(reg)
    }

    /// A fresh registry in memory (for tests and experiments).
    pub fn in_memory() -> Result<Self> {
        Self::from_store(Arc::new(InMemory::new()), RegistryOptions::default())
    }

    /// A registry on any `object_store` backend (S3 with the `s3` feature, a `PrefixStore`, …).
    /// Reads the whole log; fails with a typed error if it is broken (use
    /// [`Registry::connect`] and [`Registry::verify`] to inspect a damaged registry).
    pub fn from_store(store: Arc<dyn ObjectStore>, opts: RegistryOptions) -> Result<Self> {
        let reg = Self::connect(store, opts)?;
        reg.refresh()?;
        Ok(reg)
    }

    /// Like [`Registry::from_store`] but without reading the log yet: every later call reads it
    /// (and fails on a broken log), except [`Registry::verify`], which reports problems instead.
    pub fn connect(store: Arc<dyn ObjectStore>, opts: RegistryOptions) -> Result<Self> {
        opts.check()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                op: "starting the registry runtime",
                source,
            })?;
        Ok(Self {
            store,
            opts,
            state: tokio::sync::Mutex::new(State::default()),
            rt: Some(rt),
            local_root: None,
            local: None,
        })
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The options of this handle.
    pub fn options(&self) -> &RegistryOptions {
        &self.opts
    }

    fn run<T: Send, F: Future<Output = Result<T>> + Send>(&self, fut: F) -> Result<T> {
        let rt = self.rt.as_ref().ok_or(Error::Internal {
            reason: "runtime already shut down",
        })?;
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(|| rt.block_on(fut))
                    .join()
                    .map_err(|_| Error::Internal {
                        reason: "registry helper thread panicked",
                    })?
            })
        } else {
            rt.block_on(fut)
        }
    }

    // ----- log reading -----------------------------------------------------------------------

    /// Reads events appended since the last call and returns the head of the log.
    pub fn refresh(&self) -> Result<Option<LogHead>> {
        self.run(async {
            let mut st = self.state.lock().await;
            self.sync(&mut st).await?;
            Ok(st.head())
        })
    }

    /// Reads new events, then stores a snapshot of the state (the fold up to the last event) so
    /// that opening the registry reads the snapshot and only the events after it. Returns the
    /// event the snapshot ends at (`None` for an empty log). Safe with concurrent writers: a
    /// snapshot already stored at that event (another writer's, folding the same events) is
    /// kept. Writers also take snapshots on their own every
    /// [`RegistryOptions::snapshot_every`] events.
    ///
    /// ```
    /// use mlops_registry::{ModelMetadata, Registry};
    /// # fn main() -> mlops_registry::Result<()> {
    /// let reg = Registry::in_memory()?;
    /// assert_eq!(reg.snapshot()?, None);
    /// reg.register("m", b"v1".to_vec(), ModelMetadata::default(), "")?;
    /// assert_eq!(reg.snapshot()?.map(|h| h.seq), Some(1));
    /// assert!(reg.verify()?.is_ok());
    /// # Ok(()) }
    /// ```
    pub fn snapshot(&self) -> Result<Option<LogHead>> {
        self.run(async {
            let mut st = self.state.lock().await;
            self.sync(&mut st).await?;
            crate::snapshot::write(self.store.as_ref(), &st)
                .instrument(tracing::debug_span!("registry_snapshot_write"))
                .await
        })
    }

    /// The last event this handle has read (without reading new ones).
    pub fn head(&self) -> Result<Option<LogHead>> {
        self.run(async { Ok(self.state.lock().await.head()) })
    }

    async fn sync(&self, st: &mut State) -> Result<()> {
        if !st.loaded {
            *st = self
                .load_all()
                .instrument(tracing::debug_span!("registry_load"))
                .await?;
        }
        loop {
            let seq = st.seq() + 1;
            match fetch_event(self.store.as_ref(), seq).await?.1 {
                None => return Ok(()),
                Some(raw) => {
                    let ev = event::decode(seq, &raw)?;
                    st.apply(&ev, hash_bytes(&raw))?;
                }
            }
        }
    }

    /// Reads the log into a fresh state: the newest usable snapshot, then the events after it.
    /// If the events do not fold onto the snapshot, the whole log is folded instead.
    async fn load_all(&self) -> Result<State> {
        let store = self.store.as_ref();
        if let Some(base) = crate::snapshot::load_newest(store)
            .instrument(tracing::debug_span!("registry_snapshot_load"))
            .await
        {
            let seq = base.seq();
            match fold_after(store, base).await {
                Ok(st) => return Ok(st),
                Err(e @ Error::Store { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(seq, error = %e, "events do not fold onto the snapshot; reading the whole log");
                }
            }
        }
        fold_after(store, State::default()).await
    }

    /// Appends one event built by `make` from the current state, retrying on lost races.
    async fn append<F>(&self, reason: &str, mut make: F) -> Result<Event>
    where
        F: FnMut(&State) -> Result<Action> + Send,
    {
        event::check_reason(reason)?;
        let mut st = self.state.lock().await;
        let mut attempts = 0u32;
        loop {
            self.sync(&mut st).await?;
            let action = make(&st)?;
            let ev = Event {
                seq: st.seq() + 1,
                prev: st.head_hash(),
                time_ms: now_ms(),
                actor: self.opts.actor.clone(),
                target: action.target(),
                reason: reason.to_owned(),
                action,
            };
            let bytes = Bytes::from(event::encode(&ev)?);
            let hash = hash_bytes(&bytes);
            let key = event_key(ev.seq);
            let put = self
                .store
                .put_opts(
                    &key,
                    PutPayload::from(bytes.clone()),
                    PutOptions::from(PutMode::Create),
                )
                .await;
            let put = match put {
                Err(e)
                    if !matches!(
                        e,
                        object_store::Error::AlreadyExists { .. }
                            | object_store::Error::Precondition { .. }
                    ) =>
                {
                    // The error may hide a write that happened (the response was lost): read
                    // the slot back; if it holds this call's exact bytes the event is
                    // committed, if it holds a torn prefix of them (a store whose writes are
                    // not atomic) that is removed and the append retried. Otherwise, or if
                    // that read fails too, the caller gets the error.
                    match blob::inspect_failed_create(self.store.as_ref(), &key, &bytes).await {
                        blob::CreateOutcome::Written => {
                            tracing::debug!(seq = ev.seq, error = %e, "event found written despite the error");
                            Ok(())
                        }
                        blob::CreateOutcome::TornRemoved => {
                            attempts += 1;
                            if attempts >= self.opts.max_attempts {
                                return Err(Error::store("put", &key, e));
                            }
                            continue;
                        }
                        blob::CreateOutcome::Unknown => Err(e),
                    }
                }
                other => other.map(|_| ()),
            };
            match put {
                Ok(()) => {
                    st.apply(&ev, hash)?;
                    tracing::debug!(seq = ev.seq, action = ev.action.kind(), "event appended");
                    self.snapshot_if_due(&st, ev.seq).await;
                    return Ok(ev);
                }
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => {
                    // The slot may hold our own event: a client that retries a request whose
                    // response was lost gets "already exists" for its own successful write.
                    self.sync(&mut st).await?;
                    if st.hashes.get(state::index(ev.seq)) == Some(&hash) {
                        tracing::debug!(seq = ev.seq, "event found already written by this call");
                        self.snapshot_if_due(&st, ev.seq).await;
                        return Ok(ev);
                    }
                    attempts += 1;
                    if attempts >= self.opts.max_attempts {
                        return Err(Error::Contention { attempts });
                    }
                }
                Err(e) => return Err(Error::store("put", &key, e)),
            }
        }
    }

    /// Writes the snapshot at event `seq` if this writer owes one
    /// ([`RegistryOptions::snapshot_every`]) and `st` ends at that event. The event is
    /// committed: a failed snapshot only costs the next open time.
    async fn snapshot_if_due(&self, st: &State, seq: u64) {
        let every = self.opts.snapshot_every;
        if every == 0 || !seq.is_multiple_of(every) || st.seq() != seq {
            return;
        }
        if let Err(e) = crate::snapshot::write(self.store.as_ref(), st)
            .instrument(tracing::debug_span!("registry_snapshot_write"))
            .await
        {
            tracing::warn!(seq, error = %e, "snapshot not written");
        }
    }

    // ----- writes ----------------------------------------------------------------------------

    /// Registers a new version of `model` from bytes in memory. Returns the new version, which
    /// is one more than the highest so far (1 for a new model), even with concurrent writers.
    pub fn register(
        &self,
        model: &str,
        bundle: impl Into<Bytes>,
        metadata: ModelMetadata,
        reason: &str,
    ) -> Result<ModelVersion> {
        let bundle = bundle.into();
        self.run(async move {
            let model = name("model", model)?;
            metadata.validate()?;
            event::check_reason(reason)?;
            // Re-registering what the newest version of the same size holds (a deterministic
            // retrain often reproduces its bundle byte for byte) need not write it again.
            let likely = self.likely_blob(&model, bundle.len() as u64).await;
            let (blob, size) =
                blob::put_bytes_to(self.store.as_ref(), self.local.as_ref(), bundle, likely)
                    .await?;
            self.register_blob(model, blob, size, metadata, reason)
                .await
        })
    }

    /// Registers a new version of `model`, streaming the bundle from a reader: it is hashed and
    /// uploaded in parts of [`RegistryOptions::chunk_size`] bytes, never held whole in memory
    /// (on a local store, bundles under 16 MiB are held whole and written in one request).
    pub fn register_reader<R: Read + Send>(
        &self,
        model: &str,
        bundle: R,
        metadata: ModelMetadata,
        reason: &str,
    ) -> Result<ModelVersion> {
        self.run(async move {
            let model = name("model", model)?;
            metadata.validate()?;
            event::check_reason(reason)?;
            self.upload_and_register(model, bundle, metadata, reason)
                .await
        })
    }

    /// Streams `bundle` into the store and registers it as a new version of `model` (whose
    /// name, metadata and reason are already checked).
    async fn upload_and_register<R: Read + Send>(
        &self,
        model: Name,
        bundle: R,
        metadata: ModelMetadata,
        reason: &str,
    ) -> Result<ModelVersion> {
        let (blob, size) = blob::put_reader_to(
            self.store.as_ref(),
            self.local.as_ref(),
            bundle,
            self.opts.chunk_size,
        )
        .instrument(tracing::debug_span!("upload_artifact", model = %model))
        .await?;
        self.register_blob(model, blob, size, metadata, reason)
            .await
    }

    /// Registers a new version of `model` from a file, streamed like
    /// [`Registry::register_reader`].
    pub fn register_file(
        &self,
        model: &str,
        path: impl AsRef<std::path::Path>,
        metadata: ModelMetadata,
        reason: &str,
    ) -> Result<ModelVersion> {
        let mut file = std::fs::File::open(path.as_ref()).map_err(|source| Error::Io {
            op: "opening the artifact file",
            source,
        })?;
        self.run(async move {
            let model = name("model", model)?;
            metadata.validate()?;
            event::check_reason(reason)?;
            // A large file holding what the newest version of the same size holds is compared
            // with it rather than written again (see `register`).
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if let Some(local) = &self.local
                && len >= blob::OVERLAP_AT as u64
                && let Some(likely) = self.likely_blob(&model, len).await
                && let Some(size) = local.keeps_file(&mut file, &likely)?
            {
                return self
                    .register_blob(model, likely, size, metadata, reason)
                    .await;
            }
            self.upload_and_register(model, std::io::BufReader::new(file), metadata, reason)
                .await
        })
    }

    /// The blob of the newest version of `model` that is `size` bytes long, from the state
    /// this handle already holds: what a new artifact of that size most likely repeats.
    async fn likely_blob(&self, model: &Name, size: u64) -> Option<ContentHash> {
        let st = self.state.lock().await;
        st.models.get(model).and_then(|m| {
            m.versions
                .iter()
                .rev()
                .find(|v| v.size == size)
                .map(|v| v.blob)
        })
    }

    async fn register_blob(
        &self,
        model: Name,
        blob: ContentHash,
        size: u64,
        metadata: ModelMetadata,
        reason: &str,
    ) -> Result<ModelVersion> {
        let ev = self
            .append(reason, |st| {
                let version = st.models.get(&model).map_or(0, |m| m.versions.len() as u64) + 1;
                Ok(Action::RegisterVersion {
                    model: model.clone(),
                    version,
                    blob,
                    size,
                    metadata: metadata.clone(),
                })
            })
            .await?;
        let version = match ev.action {
            Action::RegisterVersion { version, .. } => version,
            _ => {
                return Err(Error::Internal {
                    reason: "append returned another action",
                });
            }
        };
        let st = self.state.lock().await;
        st.view(&model, st.model(&model)?, version)
    }

    /// Points `alias` of `model` at `version`, if the alias currently points at
    /// `expected_current` (`None`: the alias must not exist yet). Two concurrent moves with the
    /// same expectation never both succeed: the loser gets [`Error::AliasConflict`] and nothing
    /// is written for it. The version must exist and not be archived.
    pub fn set_alias(
        &self,
        model: &str,
        alias: &str,
        version: u64,
        expected_current: Option<u64>,
        reason: &str,
    ) -> Result<()> {
        self.run(async move {
            let model = name("model", model)?;
            let alias = name("alias", alias)?;
            self.append(reason, |st| {
                let m = st.model(&model)?;
                check_live(m, &model, version)?;
                let current = m.aliases.get(&alias).map(|a| a.target);
                if current != expected_current {
                    return Err(Error::AliasConflict {
                        model: model.clone(),
                        alias: alias.clone(),
                        expected: expected_current,
                        actual: current,
                    });
                }
                Ok(Action::SetAlias {
                    model: model.clone(),
                    alias: alias.clone(),
                    version,
                    previous: current,
                })
            })
            .await?;
            Ok(())
        })
    }

    /// Moves `alias` back to the target it had before its last move (recorded as a `rollback`
    /// event) and returns that version, if the alias currently points at `expected_current`:
    /// like [`Registry::set_alias`] this is a compare-and-set, so two operators rolling back at
    /// once cannot walk the alias back two steps ([`Error::AliasConflict`] for the second).
    /// Repeated rollbacks walk further back through the alias's history.
    pub fn rollback(
        &self,
        model: &str,
        alias: &str,
        expected_current: u64,
        reason: &str,
    ) -> Result<u64> {
        self.run(async move {
            let model = name("model", model)?;
            let alias = name("alias", alias)?;
            let ev = self
                .append(reason, |st| {
                    let m = st.model(&model)?;
                    let a = m.aliases.get(&alias).ok_or_else(|| Error::AliasNotFound {
                        model: model.clone(),
                        alias: alias.clone(),
                    })?;
                    if a.target != expected_current {
                        return Err(Error::AliasConflict {
                            model: model.clone(),
                            alias: alias.clone(),
                            expected: Some(expected_current),
                            actual: Some(a.target),
                        });
                    }
                    let to = *a.history.last().ok_or_else(|| Error::NoRollbackTarget {
                        model: model.clone(),
                        alias: alias.clone(),
                    })?;
                    check_live(m, &model, to)?;
                    Ok(Action::Rollback {
                        model: model.clone(),
                        alias: alias.clone(),
                        from: a.target,
                        to,
                    })
                })
                .await?;
            match ev.action {
                Action::Rollback { to, .. } => Ok(to),
                _ => Err(Error::Internal {
                    reason: "append returned another action",
                }),
            }
        })
    }

    /// Archives a version: it stays readable by number but no alias may point at it and
    /// [`VersionRef::Latest`] skips it. Fails with [`Error::VersionInUse`] while aliases point
    /// at it.
    pub fn archive(&self, model: &str, version: u64, reason: &str) -> Result<()> {
        self.run(async move {
            let model = name("model", model)?;
            self.append(reason, |st| {
                let m = st.model(&model)?;
                check_live(m, &model, version)?;
                let aliases = aliases_of(m, version);
                if !aliases.is_empty() {
                    return Err(Error::VersionInUse {
                        model: model.clone(),
                        version,
                        aliases,
                    });
                }
                Ok(Action::Archive {
                    model: model.clone(),
                    version,
                })
            })
            .await?;
            Ok(())
        })
    }

    // ----- reads -----------------------------------------------------------------------------

    /// Runs `f` on the state after reading new events.
    fn read_state<T: Send>(&self, f: impl FnOnce(&State) -> Result<T> + Send) -> Result<T> {
        self.run(async move {
            let mut st = self.state.lock().await;
            self.sync(&mut st).await?;
            f(&st)
        })
    }

    /// Names of all registered models, sorted.
    pub fn models(&self) -> Result<Vec<Name>> {
        self.read_state(|st| Ok(st.models.keys().cloned().collect()))
    }

    /// All versions of a model (archived ones included), in version order.
    pub fn versions(&self, model: &str) -> Result<Vec<ModelVersion>> {
        let model = name("model", model)?;
        self.read_state(|st| {
            let m = st.model(&model)?;
            (1..=m.versions.len() as u64)
                .map(|v| st.view(&model, m, v))
                .collect()
        })
    }

    /// The aliases of a model and their targets.
    pub fn aliases(&self, model: &str) -> Result<BTreeMap<Name, u64>> {
        let model = name("model", model)?;
        self.read_state(|st| {
            Ok(st
                .model(&model)?
                .aliases
                .iter()
                .map(|(k, a)| (k.clone(), a.target))
                .collect())
        })
    }

    /// The metadata of one version (no blob read).
    pub fn version(&self, model: &str, which: VersionRef<'_>) -> Result<ModelVersion> {
        let model = name("model", model)?;
        let alias = match which {
            VersionRef::Alias(a) => Some(name("alias", a)?),
            _ => None,
        };
        self.read_state(|st| {
            let m = st.model(&model)?;
            let version = match (which, alias) {
                (VersionRef::Number(v), _) => v,
                (_, Some(alias)) => {
                    m.aliases
                        .get(&alias)
                        .ok_or_else(|| Error::AliasNotFound {
                            model: model.clone(),
                            alias: alias.clone(),
                        })?
                        .target
                }
                _ => m
                    .versions
                    .iter()
                    .rposition(|v| !v.archived)
                    .map(|i| i as u64 + 1)
                    .ok_or_else(|| Error::NoLiveVersion {
                        model: model.clone(),
                    })?,
            };
            st.view(&model, m, version)
        })
    }

    /// One version's metadata and its bundle bytes, verified against the content hash
    /// ([`Error::BlobCorrupt`] names the blob if a byte changed).
    pub fn load(&self, model: &str, which: VersionRef<'_>) -> Result<(ModelVersion, Bytes)> {
        let info = self.version(model, which)?;
        let bytes = self.read_blob(&info.blob)?;
        Ok((info, bytes))
    }

    /// Streams one version's bundle into `out` without holding it in memory. The hash is
    /// checked at the end: on [`Error::BlobCorrupt`] discard what was written.
    pub fn load_to<W: Write + Send>(
        &self,
        model: &str,
        which: VersionRef<'_>,
        out: &mut W,
    ) -> Result<ModelVersion> {
        let info = self.version(model, which)?;
        self.run(blob::stream(self.store.as_ref(), &info.blob, Some(out)))?;
        Ok(info)
    }

    /// Reads a blob by content hash, verified.
    pub fn read_blob(&self, hash: &ContentHash) -> Result<Bytes> {
        self.run(blob::read(self.store.as_ref(), hash))
    }

    /// Model versions matching a query (see [`ModelQuery`]).
    pub fn search(&self, query: &ModelQuery) -> Result<Vec<ModelVersion>> {
        self.read_state(|st| st.search(query))
    }

    // ----- audit log -------------------------------------------------------------------------

    /// Every event of the log, in order (after reading new ones).
    pub fn events(&self) -> Result<Vec<Event>> {
        let mut out = Vec::new();
        self.for_each_raw_event(|_, raw, seq| {
            out.push(event::decode(seq, raw)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Writes the log as JSON lines: line `n` is exactly the stored bytes of event `n`, so the
    /// sha256 of each line is the `prev` of the next and the export can be checked offline.
    /// Returns the number of events written.
    pub fn export_jsonl<W: Write>(&self, mut out: W) -> Result<u64> {
        let mut n = 0;
        self.for_each_raw_event(|_, raw, _| {
            let io = |source| Error::Io {
                op: "writing the export",
                source,
            };
            out.write_all(raw).map_err(io)?;
            out.write_all(b"\n").map_err(io)?;
            n += 1;
            Ok(())
        })?;
        out.flush().map_err(|source| Error::Io {
            op: "writing the export",
            source,
        })?;
        Ok(n)
    }

    /// Calls `f(hash, raw bytes, seq)` for events 1..=head, each checked against the hash read
    /// when the state was built.
    fn for_each_raw_event(
        &self,
        mut f: impl FnMut(ContentHash, &[u8], u64) -> Result<()>,
    ) -> Result<()> {
        let hashes = self.read_state(|st| Ok(st.hashes.clone()))?;
        let store = self.store.as_ref();
        // Fetch in batches so memory stays bounded for long logs.
        for batch in hashes.chunks(1024).enumerate() {
            let (b, chunk) = batch;
            let first = (b * 1024) as u64 + 1;
            let seqs: Vec<u64> = (first..first + chunk.len() as u64).collect();
            let raws = self.run(async {
                futures_util::stream::iter(seqs)
                    .map(|seq| fetch_event(store, seq))
                    .buffered(FETCH_CONCURRENCY)
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .collect::<Result<Vec<_>>>()
            })?;
            for ((seq, raw), known) in raws.into_iter().zip(chunk) {
                let raw = raw.ok_or(Error::EventMissing { seq })?;
                let hash = hash_bytes(&raw);
                if hash != *known {
                    return Err(Error::InvalidEvent {
                        seq,
                        reason: format!(
                            "changed in the store since it was read (was {known}, now {hash})"
                        ),
                    });
                }
                f(hash, &raw, seq)?;
            }
        }
        Ok(())
    }

    /// Checks the whole registry: every event present once and in order, the hash chain
    /// unbroken, every event decodable and consistent with the ones before it, every event
    /// this handle has read unchanged, every referenced blob present and intact, and every
    /// stored state snapshot readable and equal to the fold of the log up to its event
    /// ([`crate::Problem::SnapshotUnreadable`], [`crate::Problem::SnapshotMismatch`]). Problems
    /// are reported, not returned as errors; only a failing store is an error.
    ///
    /// The chain proves that no event was edited, removed or reordered *before* the last one.
    /// Removing or rewriting the tail is detected against what this handle has read, or against
    /// an anchor kept elsewhere ([`Registry::verify_anchor`]).
    pub fn verify(&self) -> Result<VerifyReport> {
        self.verify_impl(None)
    }

    /// [`Registry::verify`], and also checks that event `anchor.seq` still hashes to
    /// `anchor.hash` (an anchor saved from [`Registry::head`] or [`Registry::refresh`]).
    pub fn verify_anchor(&self, anchor: &LogHead) -> Result<VerifyReport> {
        self.verify_impl(Some(*anchor))
    }

    fn verify_impl(&self, anchor: Option<LogHead>) -> Result<VerifyReport> {
        self.run(async move {
            let known = self.state.lock().await.hashes.clone();
            verify::run(self.store.as_ref(), &known, anchor)
                .instrument(tracing::debug_span!("registry_verify"))
                .await
        })
    }
}

impl Registry {
    /// Deletes what interrupted or abandoned writes left behind, if it is older than `grace`:
    /// `tmp/` uploads, blobs that no version references (a crash between the blob and its
    /// event), and, for a registry opened with [`Registry::open`], the invisible staging files of
    /// interrupted local writes; and all state snapshots but the
    /// [`RegistryOptions::snapshots_kept`] newest. Nothing a version references is ever deleted.
    ///
    /// `grace` must exceed the longest `register` in progress on any writer: a blob uploaded
    /// for a registration whose event is not written yet is unreferenced until then.
    pub fn gc(&self, grace: std::time::Duration) -> Result<crate::GcReport> {
        let cutoff_ms = i64::try_from(
            now_ms().saturating_sub(u64::try_from(grace.as_millis()).unwrap_or(u64::MAX)),
        )
        .unwrap_or(i64::MAX);
        let mut report = crate::GcReport::default();
        self.run(async {
            let referenced = {
                let mut st = self.state.lock().await;
                self.sync(&mut st).await?;
                st.referenced_blobs()
            };
            crate::gc::collect(self.store.as_ref(), &referenced, cutoff_ms, &mut report)
                .instrument(tracing::debug_span!("registry_gc"))
                .await?;
            crate::gc::collect_snapshots(self.store.as_ref(), self.opts.snapshots_kept, &mut report)
                .await
        })?;
        if let Some(root) = &self.local_root {
            crate::gc::collect_local_staged(root, grace, &mut report)?;
        }
        Ok(report)
    }
}

impl Registry {
    // ----- runs ------------------------------------------------------------------------------

    /// Persists a training report as a run (the record is stored as a verified JSON blob, its
    /// final metrics also in the event) and returns its summary; run ids are `run-1`, `run-2`,
    /// … in log order.
    pub fn log_run(&self, record: &RunRecord, reason: &str) -> Result<RunSummary> {
        record.validate()?;
        event::check_reason(reason)?;
        let json = serde_json::to_vec(record).map_err(|e| Error::input("run", e.to_string()))?;
        if json.len() as u64 > MAX_RUN_BYTES {
            return Err(Error::input(
                "run",
                format!(
                    "{} bytes serialised, over the {MAX_RUN_BYTES}-byte limit",
                    json.len()
                ),
            ));
        }
        self.run(async move {
            let (blob, size) = blob::put_bytes(self.store.as_ref(), Bytes::from(json)).await?;
            let ev = self
                .append(reason, |st| {
                    let run = name("run", &run_id(st.runs.len() as u64 + 1))?;
                    Ok(Action::RunLogged {
                        run,
                        experiment: record.experiment.clone(),
                        blob,
                        size,
                        metrics: record.metrics.clone(),
                    })
                })
                .await?;
            let st = self.state.lock().await;
            match ev.action {
                Action::RunLogged { run, .. } => st.run(&run).cloned(),
                _ => Err(Error::Internal {
                    reason: "append returned another action",
                }),
            }
        })
    }

    /// A run's summary and its full record (read from its blob, verified).
    pub fn get_run(&self, run: &str) -> Result<(RunSummary, RunRecord)> {
        let run = name("run", run)?;
        let summary = self.read_state(|st| st.run(&run).cloned())?;
        if summary.size > MAX_RUN_BYTES {
            return Err(Error::InvalidRecord {
                hash: summary.blob,
                reason: format!(
                    "{} bytes, over the {MAX_RUN_BYTES}-byte limit",
                    summary.size
                ),
            });
        }
        let bytes = self.read_blob(&summary.blob)?;
        let record: RunRecord =
            serde_json::from_slice(&bytes).map_err(|e| Error::InvalidRecord {
                hash: summary.blob,
                reason: e.to_string(),
            })?;
        Ok((summary, record))
    }

    /// Runs in log order, optionally of one experiment only.
    pub fn runs(&self, experiment: Option<&str>) -> Result<Vec<RunSummary>> {
        let experiment = experiment.map(|e| name("experiment", e)).transpose()?;
        self.read_state(|st| {
            Ok(st
                .runs
                .iter()
                .filter(|r| experiment.as_ref().is_none_or(|e| *e == r.experiment))
                .cloned()
                .collect())
        })
    }

    /// Runs that report `metric`, best first (`higher_is_better` says which way), ties in log
    /// order; optionally of one experiment only.
    pub fn compare_runs(
        &self,
        experiment: Option<&str>,
        metric: &str,
        higher_is_better: bool,
    ) -> Result<Vec<RunSummary>> {
        let mut runs: Vec<RunSummary> = self
            .runs(experiment)?
            .into_iter()
            .filter(|r| r.metrics.contains_key(metric))
            .collect();
        runs.sort_by(|a, b| {
            let (x, y) = (a.metrics.get(metric), b.metrics.get(metric));
            let (x, y) = (x.copied().unwrap_or(0.0), y.copied().unwrap_or(0.0));
            if higher_is_better {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            }
        });
        Ok(runs)
    }

    // ----- datasets --------------------------------------------------------------------------

    /// Stores a dataset file as a snapshot keyed by its fingerprint, streaming it like
    /// [`Registry::register_reader`]. Adding the same content again returns the existing
    /// snapshot without a new event; other content under a stored fingerprint is
    /// [`Error::DatasetConflict`].
    pub fn add_dataset<R: Read + Send>(
        &self,
        fingerprint: ContentHash,
        label: Option<&str>,
        file: R,
        reason: &str,
    ) -> Result<DatasetSnapshot> {
        let dataset_name = label.map(|n| name("dataset", n)).transpose()?;
        event::check_reason(reason)?;
        self.run(async move {
            // A fingerprint already stored: hash the content instead of uploading it, so that a
            // conflict stores nothing (not even an unreferenced blob).
            let known = {
                let mut st = self.state.lock().await;
                self.sync(&mut st).await?;
                st.datasets.get(&fingerprint).cloned()
            };
            if let Some(d) = known {
                let new = mlops_core::hash_reader(file).map_err(|e| Error::Io {
                    op: "reading the dataset",
                    source: match e {
                        mlops_core::Error::Io(source) => source,
                        other => std::io::Error::other(other.to_string()),
                    },
                })?;
                if new != d.blob {
                    return Err(Error::DatasetConflict {
                        fingerprint,
                        existing: d.blob,
                        new,
                    });
                }
                return Ok(d);
            }
            let (blob, size) = blob::put_reader_to(
                self.store.as_ref(),
                self.local.as_ref(),
                file,
                self.opts.chunk_size,
            )
            .instrument(tracing::debug_span!("upload_dataset"))
            .await?;
            let mut existing = None;
            let appended = self
                .append(reason, |st| {
                    if let Some(d) = st.datasets.get(&fingerprint) {
                        if d.blob != blob {
                            return Err(Error::DatasetConflict {
                                fingerprint,
                                existing: d.blob,
                                new: blob,
                            });
                        }
                        // Same content: nothing to append. The error only stops the append;
                        // `existing` is what the caller gets.
                        existing = Some(d.clone());
                        return Err(Error::Internal {
                            reason: "dataset already stored",
                        });
                    }
                    Ok(Action::DatasetAdded {
                        fingerprint,
                        name: dataset_name.clone(),
                        blob,
                        size,
                    })
                })
                .await;
            match (appended, existing) {
                (_, Some(d)) => Ok(d),
                (Err(e), None) => Err(e),
                (Ok(_), None) => {
                    let st = self.state.lock().await;
                    st.datasets
                        .get(&fingerprint)
                        .cloned()
                        .ok_or(Error::DatasetNotFound { fingerprint })
                }
            }
        })
    }

    /// [`Registry::add_dataset`] from a file.
    pub fn add_dataset_file(
        &self,
        fingerprint: ContentHash,
        label: Option<&str>,
        path: impl AsRef<std::path::Path>,
        reason: &str,
    ) -> Result<DatasetSnapshot> {
        let file = std::fs::File::open(path.as_ref()).map_err(|source| Error::Io {
            op: "opening the dataset file",
            source,
        })?;
        self.add_dataset(fingerprint, label, std::io::BufReader::new(file), reason)
    }

    /// The snapshot stored under a fingerprint.
    pub fn dataset(&self, fingerprint: &ContentHash) -> Result<DatasetSnapshot> {
        self.read_state(|st| {
            st.datasets
                .get(fingerprint)
                .cloned()
                .ok_or(Error::DatasetNotFound {
                    fingerprint: *fingerprint,
                })
        })
    }

    /// All stored snapshots, by fingerprint.
    pub fn datasets(&self) -> Result<Vec<DatasetSnapshot>> {
        self.read_state(|st| Ok(st.datasets.values().cloned().collect()))
    }

    /// Streams a stored snapshot into `out`, verified at the end (on [`Error::BlobCorrupt`]
    /// discard what was written).
    pub fn load_dataset_to<W: Write + Send>(
        &self,
        fingerprint: &ContentHash,
        out: &mut W,
    ) -> Result<DatasetSnapshot> {
        let snapshot = self.dataset(fingerprint)?;
        self.run(blob::stream(self.store.as_ref(), &snapshot.blob, Some(out)))?;
        Ok(snapshot)
    }

    // ----- lineage ---------------------------------------------------------------------------

    /// A model version with its run (if its lineage names a run this registry holds) and every
    /// dataset fingerprint named by the version or the run, with the stored snapshot of each.
    pub fn lineage(&self, model: &str, which: VersionRef<'_>) -> Result<LineageReport> {
        let version = self.version(model, which)?;
        let mut fingerprints = version.metadata.lineage.dataset_fingerprints.clone();
        let run = match &version.metadata.lineage.run_id {
            Some(id) => match self.get_run(id.as_str()) {
                Ok((summary, record)) => {
                    fingerprints.extend(record.dataset_fingerprints);
                    Some(summary)
                }
                // A run tracked elsewhere is not an error here.
                Err(Error::RunNotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        fingerprints.sort();
        fingerprints.dedup();
        let datasets = self.read_state(|st| {
            Ok(fingerprints
                .into_iter()
                .map(|f| (f, st.datasets.get(&f).cloned()))
                .collect())
        })?;
        Ok(LineageReport {
            version,
            run,
            datasets,
        })
    }
}

impl Registry {
    /// A Markdown model card for one version: description, status, aliases, bundle hash,
    /// metrics, parameters, tags, signature, lineage (run and dataset snapshots) and the
    /// model's audit history. User text is escaped so it cannot change the card's structure.
    pub fn model_card(&self, model: &str, which: VersionRef<'_>) -> Result<String> {
        let lineage = self.lineage(model, which)?;
        let prefix = format!("model/{}/", lineage.version.model);
        let history: Vec<Event> = self
            .events()?
            .into_iter()
            .filter(|e| e.target.starts_with(&prefix))
            .collect();
        Ok(crate::card::render(&lineage, &history))
    }
}

/// Folds the events after `base` (a snapshot, or empty) onto it. From an empty state the log
/// is listed (a hole anywhere is [`Error::EventMissing`]). After a snapshot the events are
/// probed in windows of [`FETCH_CONCURRENCY`] concurrent reads until one is absent, which
/// costs a few reads instead of enumerating the whole `events/` prefix; an event present after
/// an absent one in the same window is reported as a hole too.
async fn fold_after(store: &dyn ObjectStore, mut st: State) -> Result<State> {
    let from = st.seq();
    if from == 0 {
        let seqs = list_events(store).await?.0;
        for (i, &seq) in seqs.iter().enumerate() {
            if seq != i as u64 + 1 {
                return Err(Error::EventMissing { seq: i as u64 + 1 });
            }
        }
        let mut fetched = futures_util::stream::iter(seqs)
            .map(|seq| fetch_event(store, seq))
            .buffered(FETCH_CONCURRENCY);
        while let Some(item) = fetched.next().await {
            let (seq, raw) = item?;
            let raw = raw.ok_or(Error::EventMissing { seq })?;
            let ev = event::decode(seq, &raw)?;
            st.apply(&ev, hash_bytes(&raw))?;
        }
    } else {
        let mut next = from + 1;
        loop {
            let window = next..next.saturating_add(FETCH_CONCURRENCY as u64);
            let mut fetched = futures_util::stream::iter(window)
                .map(|seq| fetch_event(store, seq))
                .buffered(FETCH_CONCURRENCY);
            let mut absent = None;
            while let Some(item) = fetched.next().await {
                match (item?, absent) {
                    ((seq, Some(raw)), None) => {
                        let ev = event::decode(seq, &raw)?;
                        st.apply(&ev, hash_bytes(&raw))?;
                    }
                    ((_, Some(_)), Some(missing)) => {
                        return Err(Error::EventMissing { seq: missing });
                    }
                    ((seq, None), None) => absent = Some(seq),
                    ((_, None), Some(_)) => {}
                }
            }
            if absent.is_some() {
                break;
            }
            next = next.saturating_add(FETCH_CONCURRENCY as u64);
        }
    }
    st.loaded = true;
    Ok(st)
}

/// Lists `events/`: sorted sequence numbers, and keys that are not event keys.
pub(crate) async fn list_events(store: &dyn ObjectStore) -> Result<(Vec<u64>, Vec<String>)> {
    let prefix = Path::from("events");
    let mut listing = store.list(Some(&prefix));
    let mut seqs = Vec::new();
    let mut junk = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|e| Error::store("list", &prefix, e))?;
        match parse_event_key(&meta.location) {
            Some(seq) => seqs.push(seq),
            None => junk.push(meta.location.to_string()),
        }
    }
    seqs.sort_unstable();
    junk.sort();
    Ok((seqs, junk))
}

/// Reads the raw bytes of event `seq` (`None` if absent), refusing oversized objects.
pub(crate) async fn fetch_event(store: &dyn ObjectStore, seq: u64) -> Result<(u64, Option<Bytes>)> {
    let key = event_key(seq);
    let got = match store.get_opts(&key, GetOptions::default()).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => return Ok((seq, None)),
        Err(e) => return Err(Error::store("get", &key, e)),
    };
    if got.meta.size > MAX_EVENT_BYTES {
        return Err(Error::EventTooLarge {
            seq,
            size: got.meta.size,
            limit: MAX_EVENT_BYTES,
        });
    }
    let bytes = got
        .bytes()
        .await
        .map_err(|e| Error::store("get", &key, e))?;
    Ok((seq, Some(bytes)))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
