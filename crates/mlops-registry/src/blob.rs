//! Content-addressed blobs: streaming writes, verified reads.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use mlops_core::{ContentHash, Sha256Stream, hash_bytes};
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetResultPayload, ObjectStore, PutMode, PutOptions,
    PutPayload, WriteMultipart,
};

use crate::direct::{ALIGN, DIRECT_PIECE, DirectWriter, write_all_parallel};
use crate::error::{Error, Result};

/// Key of the blob with this content hash.
pub(crate) fn blob_key(hash: &ContentHash) -> Path {
    Path::from(format!("blobs/sha256/{}", hash.to_hex()))
}

/// A key under `tmp/` unique to this call, across processes and machines: process id, time,
/// a per-process counter and 64 bits from the standard library's per-process random hash keys
/// (not an input to any output, so determinism is unaffected).
fn tmp_key() -> Path {
    Path::from(format!("tmp/{}", unique_name()))
}

/// `{pid}-{nanos}-{counter}-{salt}`: unique to this call (see [`tmp_key`]).
fn unique_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    h.write_u128(nanos);
    let salt = h.finish();
    format!("{}-{nanos}-{n}-{salt:016x}", std::process::id())
}

/// Inputs at least this large are hashed on a helper thread while they are written.
pub(crate) const OVERLAP_AT: usize = 16 << 20;

/// Writes `bytes` at its content key (atomically: a reader sees all of it or nothing). Large
/// inputs are written to a `tmp/` key while a helper thread hashes them, then copied to their
/// content key (a hard link on the local file system), so the write costs about as long as the
/// hash instead of the hash plus the write.
pub(crate) async fn put_bytes(store: &dyn ObjectStore, bytes: Bytes) -> Result<(ContentHash, u64)> {
    if bytes.len() >= OVERLAP_AT {
        return put_bytes_overlapped(store, bytes).await;
    }
    let hash = hash_bytes(&bytes);
    let size = bytes.len() as u64;
    let key = blob_key(&hash);
    // Overwrite rather than skip when present: the content is the same by construction, and
    // rewriting repairs a blob that was damaged in place.
    store
        .put_opts(
            &key,
            PutPayload::from(bytes),
            PutOptions::from(PutMode::Overwrite),
        )
        .await
        .map_err(|e| Error::store("put", &key, e))?;
    Ok((hash, size))
}

async fn put_bytes_overlapped(store: &dyn ObjectStore, bytes: Bytes) -> Result<(ContentHash, u64)> {
    let size = bytes.len() as u64;
    let to_hash = bytes.clone();
    let hashing = std::thread::Builder::new()
        .name("mlops-registry-hash".into())
        .spawn(move || hash_bytes(&to_hash))
        .map_err(|source| Error::Io {
            op: "starting the hashing thread",
            source,
        })?;
    let tmp = tmp_key();
    let written = store
        .put_opts(&tmp, PutPayload::from(bytes), PutOptions::default())
        .await
        .map_err(|e| Error::store("put", &tmp, e));
    let hash = hashing.join().map_err(|_| Error::Internal {
        reason: "hashing thread panicked",
    });
    let hash = match (written, hash) {
        (Ok(_), Ok(hash)) => hash,
        (Err(e), _) | (_, Err(e)) => {
            delete(store, &tmp).await;
            return Err(e);
        }
    };
    let key = blob_key(&hash);
    let copied = store
        .copy_opts(
            &tmp,
            &key,
            CopyOptions::new().with_mode(CopyMode::Overwrite),
        )
        .await
        .map_err(|e| Error::store("copy", &key, e));
    delete(store, &tmp).await;
    copied?;
    Ok((hash, size))
}

/// The local file system store of a registry opened on a directory, for the direct write path
/// of large blobs ([`LocalFs::put`]).
#[derive(Clone, Debug)]
pub(crate) struct LocalFs {
    /// The store (also the registry's `ObjectStore`).
    pub(crate) fs: std::sync::Arc<object_store::local::LocalFileSystem>,
    /// Whether writes are made durable (file and directory fsync), as the store's own.
    pub(crate) fsync: bool,
    /// Whether durable writes bypass the page cache where the file system allows it
    /// ([`crate::direct`]); only used when `fsync` is on.
    pub(crate) direct_io: bool,
}

/// Size of the writes a large local blob is made in.
const WRITE_PIECE: usize = 16 << 20;

/// With `fsync` on, after every this many bytes written (and more to come) a helper thread
/// syncs what the file holds so far (`fdatasync`), so the device writes while the rest is
/// copied and hashed rather than all at the final `fsync`. Each sync also commits the journal
/// and flushes the device cache, so they are few: on this project's machine (a virtual disk)
/// 64 MiB beat 16 and 32 MiB (more flushes) and 128 MiB (less overlap) for 256 MiB blobs.
const SYNC_EVERY: usize = 64 << 20;

/// Writes `bytes` at its content key: straight to the file system for inputs of at least
/// [`OVERLAP_AT`] bytes on a local store ([`LocalFs::put`], which first compares them with the
/// stored blob `likely`, if any), through `object_store` otherwise.
pub(crate) async fn put_bytes_to(
    store: &dyn ObjectStore,
    local: Option<&LocalFs>,
    bytes: Bytes,
    likely: Option<ContentHash>,
) -> Result<(ContentHash, u64)> {
    match local {
        Some(local) if bytes.len() >= OVERLAP_AT => {
            local.put(&bytes, WRITE_PIECE, SYNC_EVERY, likely.as_ref())
        }
        _ => put_bytes(store, bytes).await,
    }
}

impl LocalFs {
    /// Writes `bytes` at its content key with the guarantees of the store's own `put`
    /// (atomic: a staging file renamed over the key; durable when `fsync` is on: the file's data
    /// and the directory entry are synced before returning), in one pass over the bytes: one
    /// thread hashes them while this one writes them in `piece`-sized writes and a third syncs
    /// the written part to the device. The staging file is `blobs/sha256/{unique}#1`, which
    /// listings skip and [`crate::Registry::gc`] removes if a crash leaves it behind. An
    /// identical blob already stored is replaced by an identical one (with a fresh modification
    /// time, which a concurrent garbage collection relies on).
    ///
    /// `likely` names a stored blob the caller expects `bytes` to equal (the newest version of
    /// the same model, when it has the same size): while `bytes` are hashed, this thread
    /// compares them with that blob, and if every byte matches and the hash is its name, the
    /// stored blob is kept (its modification time refreshed) and nothing is written. Any
    /// difference (other content, or a damaged blob) stops the comparison and the bytes are
    /// written as above, which also repairs a damaged blob.
    pub(crate) fn put(
        &self,
        bytes: &[u8],
        piece: usize,
        sync_every: usize,
        likely: Option<&ContentHash>,
    ) -> Result<(ContentHash, u64)> {
        let sync_every = self.fsync.then_some(sync_every);
        let piece = piece.max(1);
        let size = bytes.len() as u64;
        std::thread::scope(|scope| {
            let hashing = std::thread::Builder::new()
                .name("mlops-registry-hash".into())
                .spawn_scoped(scope, || hash_bytes(bytes))
                .map_err(hasher_not_started)?;
            let hashed = move || {
                hashing.join().map_err(|_| Error::Internal {
                    reason: "hashing thread panicked",
                })
            };
            if let Some(likely) = likely
                && self.holds(likely, bytes)
            {
                let hash = hashed()?;
                if hash == *likely && self.touch(&hash) {
                    tracing::debug!(blob = %hash, "identical blob already stored; kept");
                    return Ok((hash, size));
                }
                return self.staged(|file, direct| {
                    write_bytes(file, direct, bytes, piece, sync_every)?;
                    Ok((hash, size))
                });
            }
            self.staged(|file, direct| {
                write_bytes(file, direct, bytes, piece, sync_every)?;
                Ok((hashed()?, size))
            })
        })
    }

    /// The path of a blob's file.
    fn blob_path(&self, hash: &ContentHash) -> Option<std::path::PathBuf> {
        self.fs.path_to_filesystem(&blob_key(hash)).ok()
    }

    /// Whether the stored blob `hash` holds exactly `bytes`. Any error reading it is a no.
    fn holds(&self, hash: &ContentHash, bytes: &[u8]) -> bool {
        self.compare_stored(hash, bytes.len() as u64, |at, stored| {
            *stored == bytes[at..at + stored.len()]
        })
    }

    /// Reads the stored blob `hash` back in pieces (the first one small, so that other content
    /// is told apart quickly) and asks `same(offset, piece)` of each; true if the blob is
    /// exactly `len` bytes long and `same` said yes to every piece. Any error reading it, or
    /// the first no, stops the comparison with false.
    fn compare_stored(
        &self,
        hash: &ContentHash,
        len: u64,
        mut same: impl FnMut(usize, &[u8]) -> bool,
    ) -> bool {
        let _span = tracing::debug_span!("compare_stored_blob", blob = %hash).entered();
        let Some(path) = self.blob_path(hash) else {
            return false;
        };
        let Ok(mut file) = std::fs::File::open(&path) else {
            return false;
        };
        let Ok(len) = usize::try_from(len) else {
            return false;
        };
        if file.metadata().map(|m| m.len()).ok() != Some(len as u64) {
            return false;
        }
        let mut buf = vec![0u8; FILE_PIECE.min(len)];
        let mut at = 0usize;
        let mut piece = (64 << 10).min(buf.len());
        while at < len {
            let n = piece.min(len - at);
            if file.read_exact(&mut buf[..n]).is_err() || !same(at, &buf[..n]) {
                return false;
            }
            at += n;
            piece = buf.len();
        }
        // Nothing past the end (the file could have grown since its length was read).
        matches!(file.read(&mut [0u8; 1]), Ok(0))
    }

    /// For a file about to be stored: if it holds exactly what the stored blob `likely` holds
    /// (compared piece by piece while a helper thread hashes it, and the hash is `likely`),
    /// refreshes that blob's modification time and returns its size; otherwise (other
    /// content, a damaged blob, any error) `None`, with `file` rewound to its start for the
    /// ordinary write.
    pub(crate) fn keeps_file(
        &self,
        file: &mut std::fs::File,
        likely: &ContentHash,
    ) -> Result<Option<u64>> {
        use std::io::{Seek, SeekFrom};
        let rewind = |file: &mut std::fs::File| {
            file.seek(SeekFrom::Start(0))
                .map(drop)
                .map_err(|source| Error::Io {
                    op: "reading the artifact",
                    source,
                })
        };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            return Ok(None);
        };
        let kept = std::thread::scope(|scope| -> Result<bool> {
            let (to_hasher, for_hasher) = std::sync::mpsc::sync_channel::<Bytes>(2);
            let hashing = spawn_hasher(scope, for_hasher)?;
            let input = &mut *file;
            // Two queued at the hasher, one in its hands, one being compared.
            let mut pool = crate::direct::AlignedPool::new(FILE_PIECE, 4);
            let same = self.compare_stored(likely, len, |_, stored| {
                pool.read_part(&mut input.take(stored.len() as u64))
                    .is_ok_and(|mine| mine[..] == *stored && to_hasher.send(mine).is_ok())
            }) && matches!(input.read(&mut [0u8; 1]), Ok(0));
            drop(to_hasher);
            let hash = hashing.join().map_err(|_| Error::Internal {
                reason: "hashing thread panicked",
            })?;
            Ok(same && hash == *likely && self.touch(likely))
        })?;
        if kept {
            tracing::debug!(blob = %likely, "identical blob already stored; kept");
            return Ok(Some(len));
        }
        rewind(file)?;
        Ok(None)
    }

    /// Refreshes a stored blob's modification time (what a re-put means to a concurrent
    /// garbage collection); false if it cannot be done (the blob is then written again).
    fn touch(&self, hash: &ContentHash) -> bool {
        let Some(path) = self.blob_path(hash) else {
            return false;
        };
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .is_ok()
    }

    /// Like [`LocalFs::put`] for everything `reader` yields: this thread reads it in
    /// `piece`-sized parts, which one helper thread hashes and another writes (a third syncs,
    /// as in `put`), so reading, hashing and writing overlap; at most eight part buffers exist.
    pub(crate) fn put_reader<R: Read>(
        &self,
        reader: R,
        piece: usize,
        sync_every: usize,
    ) -> Result<(ContentHash, u64)> {
        let sync_every = self.fsync.then_some(sync_every);
        self.staged(|file, direct| stream_hashing(file, direct, reader, piece.max(1), sync_every))
    }

    /// Creates a staging file in `blobs/sha256/`, lets `write` fill it (and sync it) and return
    /// the content hash, then renames it to that hash and syncs the directory. `write` also
    /// gets a second, `O_DIRECT` handle on the file when writes are durable, direct I/O is on
    /// and the file system allows it ([`crate::direct`]). On any error the staging file is
    /// removed and nothing is published.
    fn staged(
        &self,
        write: impl FnOnce(&std::fs::File, Option<std::fs::File>) -> Result<(ContentHash, u64)>,
    ) -> Result<(ContentHash, u64)> {
        let _span = tracing::debug_span!("write_local_blob", fsync = self.fsync).entered();
        let dir_key = Path::from("blobs/sha256");
        let io = |op: &'static str, key: &Path, path: &std::path::Path, e: std::io::Error| {
            Error::store(
                op,
                key,
                object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: format!("{}: {e}", path.display()).into(),
                },
            )
        };
        let dir = self
            .fs
            .path_to_filesystem(&dir_key)
            .map_err(|e| Error::store("put", &dir_key, e))?;
        ensure_dir(&dir, self.fsync).map_err(|e| io("put", &dir_key, &dir, e))?;
        let staging = dir.join(format!("{}#1", unique_name()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)
            .map_err(|e| io("put", &dir_key, &staging, e))?;
        let direct = (self.fsync && self.direct_io)
            .then(|| crate::direct::open_direct(&staging))
            .flatten();
        let written = write(&file, direct);
        drop(file);
        let published = written.and_then(|(hash, size)| {
            let key = blob_key(&hash);
            let path = dir.join(hash.to_hex());
            // Replacing a blob frees the old file's blocks inside `rename` (tens of
            // milliseconds for hundreds of MiB): keep the old file alive under a staging name
            // so the rename only swaps a directory entry, and free it off this thread.
            let old = dir.join(format!("{}#2", unique_name()));
            let old = std::fs::hard_link(&path, &old).is_ok().then_some(old);
            let renamed = std::fs::rename(&staging, &path).map_err(|e| io("put", &key, &path, e));
            if let Some(old) = old {
                remove_in_background(old);
            }
            renamed?;
            if self.fsync {
                sync_dir(&dir).map_err(|e| io("put", &key, &dir, e))?;
            }
            Ok((hash, size))
        });
        if published.is_err()
            && let Err(rm) = std::fs::remove_file(&staging)
            && rm.kind() != std::io::ErrorKind::NotFound
        {
            tracing::debug!(path = %staging.display(), error = %rm, "could not delete a staging file");
        }
        published
    }
}

/// Hashes the parts received until every sender is gone (a hashing thread's body).
fn hash_parts(parts: std::sync::mpsc::Receiver<Bytes>) -> ContentHash {
    let mut hasher = Sha256Stream::new();
    for part in parts {
        hasher.update(&part);
    }
    hasher.finish()
}

fn hasher_not_started(source: std::io::Error) -> Error {
    Error::Io {
        op: "starting the hashing thread",
        source,
    }
}

/// Starts a scoped thread running [`hash_parts`].
fn spawn_hasher<'s, 'e>(
    scope: &'s std::thread::Scope<'s, 'e>,
    parts: std::sync::mpsc::Receiver<Bytes>,
) -> Result<std::thread::ScopedJoinHandle<'s, ContentHash>> {
    std::thread::Builder::new()
        .name("mlops-registry-hash".into())
        .spawn_scoped(scope, move || hash_parts(parts))
        .map_err(hasher_not_started)
}

/// Deletes a file on a detached thread (inline if no thread can be started). A file left
/// behind by a process that exits first has a staging name, which [`crate::Registry::gc`]
/// removes.
fn remove_in_background(path: std::path::PathBuf) {
    let remove = |path: &std::path::Path| {
        if let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::debug!(path = %path.display(), error = %e, "could not delete a replaced blob");
        }
    };
    let moved = path.clone();
    if std::thread::Builder::new()
        .name("mlops-registry-free".into())
        .spawn(move || remove(&moved))
        .is_err()
    {
        remove(&path);
    }
}

/// Reads `reader` to its end in `piece`-sized parts on this thread while one helper thread
/// hashes the parts and another writes them to `file` (syncing as in [`write_bytes`]).
/// Returns the hash and the number of bytes.
fn stream_hashing<R: Read>(
    file: &std::fs::File,
    direct: Option<std::fs::File>,
    mut reader: R,
    piece: usize,
    sync_every: Option<usize>,
) -> Result<(ContentHash, u64)> {
    let io = |op: &'static str| move |source: std::io::Error| Error::Io { op, source };
    let sync_every = sync_every.map(|n| n.max(1));
    // Direct writes take parts read into aligned buffers as they are (no bounce copy).
    let aligned = direct.is_some();
    let piece = if aligned {
        piece.div_ceil(ALIGN) * ALIGN
    } else {
        piece
    };
    // Recycled part buffers (already mapped after the first few parts, and aligned for direct
    // writes), enough for every part that can be in flight: two queued and one in hand at each
    // of the hasher and the writer, and the one being read.
    let mut pool = crate::direct::AlignedPool::new(piece, 8);
    std::thread::scope(|scope| -> Result<(ContentHash, u64)> {
        let (to_hasher, for_hasher) = std::sync::mpsc::sync_channel::<Bytes>(2);
        let hashing = spawn_hasher(scope, for_hasher)?;
        let (kick, kicks) = std::sync::mpsc::sync_channel::<()>(1);
        let syncing = spawn_syncer(scope, file, kicks, sync_every.is_some() && direct.is_none())?;
        let (to_writer, for_writer) = std::sync::mpsc::sync_channel::<Bytes>(2);
        let writing = std::thread::Builder::new()
            .name("mlops-registry-write".into())
            .spawn_scoped(scope, move || -> std::io::Result<u64> {
                if let Some(direct) = direct {
                    let mut w = DirectWriter::new(direct, file, piece.min(DIRECT_PIECE))?;
                    for part in for_writer {
                        w.write(&part)?;
                    }
                    return w.finish();
                }
                let (mut total, mut unsynced) = (0u64, 0usize);
                for part in for_writer {
                    (&*file).write_all(&part)?;
                    total += part.len() as u64;
                    unsynced += part.len();
                    if sync_every.is_some_and(|n| unsynced >= n) {
                        unsynced = 0;
                        // Full: a sync is already pending and will cover these bytes too.
                        let _ = kick.try_send(());
                    }
                }
                Ok(total)
            })
            .map_err(io("starting the writing thread"))?;
        let read = (|| -> Result<()> {
            loop {
                let part = pool.read_part(&mut reader).map_err(|source| Error::Io {
                    op: "reading the artifact",
                    source,
                })?;
                if part.is_empty() {
                    return Ok(());
                }
                let last = part.len() < piece;
                if to_hasher.send(part.clone()).is_err() || to_writer.send(part).is_err() {
                    return Ok(()); // the writer failed: its error is reported below
                }
                if last {
                    return Ok(());
                }
            }
        })();
        drop(to_hasher);
        drop(to_writer);
        let written = writing.join().map_err(|_| Error::Internal {
            reason: "writing thread panicked",
        })?;
        let synced = join_syncer(syncing)?;
        let hash = hashing.join().map_err(|_| Error::Internal {
            reason: "hashing thread panicked",
        })?;
        read?;
        let size = written.map_err(io("writing a blob"))?;
        synced.map_err(io("syncing a blob"))?;
        if sync_every.is_some() {
            file.sync_all().map_err(io("syncing a blob"))?;
        }
        Ok((hash, size))
    })
}

/// Writes `bytes` to `file` in `piece`-sized writes. With `sync_every: Some(n)`, a helper
/// thread syncs what is written so far each time `n` more bytes were written and more are to
/// come (coalesced: at most one sync pending), and the file is synced whole (`sync_all`) at
/// the end. With a `direct` handle the bytes go through a [`DirectWriter`] instead (no
/// intermediate syncs: nothing waits in the page cache).
fn write_bytes(
    file: &std::fs::File,
    direct: Option<std::fs::File>,
    bytes: &[u8],
    piece: usize,
    sync_every: Option<usize>,
) -> Result<()> {
    let io = |op: &'static str| move |source: std::io::Error| Error::Io { op, source };
    if let Some(direct) = direct {
        // Two writers: one copies its next piece into an aligned buffer while the other's
        // write is on the device.
        write_all_parallel(direct, file, bytes, piece.min(DIRECT_PIECE), 2)
            .map_err(io("writing a blob"))?;
        if sync_every.is_some() {
            file.sync_all().map_err(io("syncing a blob"))?;
        }
        return Ok(());
    }
    std::thread::scope(|scope| -> Result<()> {
        let (kick, kicks) = std::sync::mpsc::sync_channel::<()>(1);
        let sync_every = sync_every.map(|n| n.max(1));
        let syncing = spawn_syncer(
            scope,
            file,
            kicks,
            sync_every.is_some_and(|n| bytes.len() > n),
        )?;
        let mut written = Ok(());
        let (mut done, mut unsynced) = (0usize, 0usize);
        for part in bytes.chunks(piece) {
            if let Err(e) = (&*file).write_all(part) {
                written = Err(e);
                break;
            }
            done += part.len();
            unsynced += part.len();
            if sync_every.is_some_and(|n| unsynced >= n) && done < bytes.len() {
                unsynced = 0;
                // Full: a sync is already pending and will cover these bytes too.
                let _ = kick.try_send(());
            }
        }
        drop(kick);
        let synced = join_syncer(syncing)?;
        written.map_err(io("writing a blob"))?;
        synced.map_err(io("syncing a blob"))?;
        if sync_every.is_some() {
            file.sync_all().map_err(io("syncing a blob"))?;
        }
        Ok(())
    })
}

/// A thread that syncs a file's data each time it is kicked, so that most of a large write is
/// on disk by the time it ends.
type Syncer<'s> = Option<std::thread::ScopedJoinHandle<'s, std::io::Result<()>>>;

/// Starts the [`Syncer`] of `file` when `wanted` (otherwise none, and `kicks` is dropped so that
/// kicking is a no-op).
fn spawn_syncer<'s, 'e: 's>(
    scope: &'s std::thread::Scope<'s, 'e>,
    file: &'e std::fs::File,
    kicks: std::sync::mpsc::Receiver<()>,
    wanted: bool,
) -> Result<Syncer<'s>> {
    if !wanted {
        drop(kicks);
        return Ok(None);
    }
    std::thread::Builder::new()
        .name("mlops-registry-sync".into())
        .spawn_scoped(scope, move || -> std::io::Result<()> {
            for () in kicks {
                file.sync_data()?;
            }
            Ok(())
        })
        .map(Some)
        .map_err(|source| Error::Io {
            op: "starting the sync thread",
            source,
        })
}

/// Waits for a [`Syncer`] (its kick sender must be dropped first); returns its I/O result.
fn join_syncer(syncer: Syncer<'_>) -> Result<std::io::Result<()>> {
    match syncer {
        Some(h) => h.join().map_err(|_| Error::Internal {
            reason: "sync thread panicked",
        }),
        None => Ok(Ok(())),
    }
}

/// Creates `dir` and its missing parents; when `fsync`, syncs every directory whose entries
/// changed (the new ones and the first one that existed) so the new entries are durable.
fn ensure_dir(dir: &std::path::Path, fsync: bool) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut first_existing = dir;
    while let Some(parent) = first_existing.parent() {
        first_existing = parent;
        if parent.is_dir() {
            break;
        }
    }
    std::fs::create_dir_all(dir)?;
    if fsync {
        let mut d = dir;
        loop {
            sync_dir(d)?;
            match d.parent() {
                Some(p) if d != first_existing => d = p,
                _ => break,
            }
        }
    }
    Ok(())
}

/// Makes a directory's entries durable (a no-op where directories cannot be opened to sync).
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Streams a reader into the store: on a local store straight to the file system in
/// `chunk`-sized parts ([`LocalFs::put_reader`]) once it holds at least [`OVERLAP_AT`] bytes,
/// otherwise like [`put_reader`].
pub(crate) async fn put_reader_to<R: Read + Send>(
    store: &dyn ObjectStore,
    local: Option<&LocalFs>,
    mut reader: R,
    chunk: usize,
) -> Result<(ContentHash, u64)> {
    let Some(local) = local else {
        return put_reader(store, reader, chunk).await;
    };
    let first = read_up_to(&mut reader, OVERLAP_AT)?;
    if first.len() < OVERLAP_AT {
        return put_bytes(store, Bytes::from(first)).await;
    }
    local.put_reader(std::io::Read::chain(&first[..], reader), chunk, SYNC_EVERY)
}

/// Streams a reader into the store in `chunk`-sized parts while hashing it. Each part is read
/// straight into its own buffer, hashed on a helper thread and uploaded (up to
/// `PARALLEL_PARTS` at once) while the next part is read, so reading, hashing and writing
/// overlap; about `chunk * (2 * PARALLEL_PARTS + 2)` bytes are held at most. Small inputs
/// (under one chunk) are written directly at their content key; larger ones go to a `tmp/` key
/// by multipart upload and are then copied to their content key, so a half-written blob is
/// never visible under a content key. A crash can leave a `tmp/` object behind, which nothing
/// references.
pub(crate) async fn put_reader<R: Read + Send>(
    store: &dyn ObjectStore,
    mut reader: R,
    chunk: usize,
) -> Result<(ContentHash, u64)> {
    const PARALLEL_PARTS: usize = 4;
    let first = read_up_to(&mut reader, chunk)?;
    if first.len() < chunk {
        return put_bytes(store, Bytes::from(first)).await;
    }
    let tmp = tmp_key();
    let upload = store
        .put_multipart_opts(&tmp, Default::default())
        .await
        .map_err(|e| Error::store("put_multipart", &tmp, e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, chunk);
    let (to_hasher, parts) = std::sync::mpsc::sync_channel::<Bytes>(PARALLEL_PARTS);
    let hashing = std::thread::Builder::new()
        .name("mlops-registry-hash".into())
        .spawn(move || hash_parts(parts))
        .map_err(hasher_not_started)?;
    let mut size = 0u64;
    let streamed: Result<()> = async {
        let mut part = Bytes::from(first);
        loop {
            size += part.len() as u64;
            to_hasher.send(part.clone()).map_err(|_| Error::Internal {
                reason: "hashing thread stopped",
            })?;
            writer
                .wait_for_capacity(PARALLEL_PARTS)
                .await
                .map_err(|e| Error::store("put_part", &tmp, e))?;
            writer.put(part);
            let next = read_up_to(&mut reader, chunk)?;
            if next.is_empty() {
                return Ok(());
            }
            part = Bytes::from(next);
        }
    }
    .await;
    drop(to_hasher);
    let hash = hashing.join().map_err(|_| Error::Internal {
        reason: "hashing thread panicked",
    });
    if let Err(e) = streamed {
        let _ = writer.abort().await;
        return Err(e);
    }
    let hash = match hash {
        Ok(h) => h,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(e);
        }
    };
    writer
        .finish()
        .await
        .map_err(|e| Error::store("complete_multipart", &tmp, e))?;
    let key = blob_key(&hash);
    let copied = store
        .copy_opts(
            &tmp,
            &key,
            CopyOptions::new().with_mode(CopyMode::Overwrite),
        )
        .await
        .map_err(|e| Error::store("copy", &key, e));
    delete(store, &tmp).await;
    copied?;
    Ok((hash, size))
}

/// What a conditional create that returned an error left at its key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CreateOutcome {
    /// The key holds exactly the bytes written: the write happened, its answer was lost.
    Written,
    /// The key held a strict prefix of the bytes written (a torn write, which no atomic store
    /// produces and no complete JSON object or snapshot is) and it was deleted, so the create
    /// can be retried.
    TornRemoved,
    /// Anything else: absent, another writer's object, unreadable, or a torn write that could
    /// not be deleted.
    Unknown,
}

/// Reads back `key` after a conditional create of `bytes` failed with an error that may hide
/// what happened, and removes a torn (strictly shorter, same-prefix) object found there. Only
/// this writer's own bytes are ever deleted: nobody else can have created a prefix of them at
/// a key whose create was this writer's to win.
pub(crate) async fn inspect_failed_create(
    store: &dyn ObjectStore,
    key: &Path,
    bytes: &[u8],
) -> CreateOutcome {
    let got = match store.get_opts(key, GetOptions::default()).await {
        Ok(g) if g.meta.size <= bytes.len() as u64 => g.bytes().await,
        _ => return CreateOutcome::Unknown,
    };
    match got {
        Ok(stored) if stored[..] == *bytes => CreateOutcome::Written,
        Ok(stored) if stored.len() < bytes.len() && bytes.starts_with(&stored) => {
            let one =
                futures_util::stream::once(futures_util::future::ready(Ok(key.clone()))).boxed();
            let mut results = store.delete_stream(one);
            while let Some(r) = results.next().await {
                if let Err(e) = r {
                    tracing::warn!(key = %key, error = %e, "cannot remove a torn write");
                    return CreateOutcome::Unknown;
                }
            }
            tracing::warn!(key = %key, stored = stored.len(), "torn write removed");
            CreateOutcome::TornRemoved
        }
        _ => CreateOutcome::Unknown,
    }
}

/// Best-effort delete (a leftover `tmp/` object is harmless).
async fn delete(store: &dyn ObjectStore, key: &Path) {
    let one = futures_util::stream::once(futures_util::future::ready(Ok(key.clone()))).boxed();
    let mut results = store.delete_stream(one);
    while let Some(r) = results.next().await {
        if let Err(e) = r {
            tracing::debug!(key = %key, error = %e, "could not delete temporary object");
        }
    }
}

fn read_up_to<R: Read>(reader: &mut R, limit: usize) -> Result<Vec<u8>> {
    // Full capacity up front: no regrowth copies (untouched pages of a short read cost nothing).
    let mut out = Vec::with_capacity(limit);
    reader
        .take(limit as u64)
        .read_to_end(&mut out)
        .map_err(|source| Error::Io {
            op: "reading the artifact",
            source,
        })?;
    Ok(out)
}

/// Reads a whole blob and checks its hash. A local file is read on a helper thread while the
/// part already read is hashed, so reading costs little more than hashing.
pub(crate) async fn read(store: &dyn ObjectStore, hash: &ContentHash) -> Result<Bytes> {
    let key = blob_key(hash);
    let got = get(store, hash, &key).await?;
    let (bytes, actual) = match got.payload {
        GetResultPayload::File(file, path) => {
            let (bytes, actual) =
                read_file_hashing(file, got.range, FILE_PIECE).map_err(|source| {
                    Error::store(
                        "get",
                        &key,
                        object_store::Error::Generic {
                            store: "LocalFileSystem",
                            source: format!("reading {}: {source}", path.display()).into(),
                        },
                    )
                })?;
            (bytes, actual)
        }
        GetResultPayload::Stream(_) => {
            let bytes = got
                .bytes()
                .await
                .map_err(|e| Error::store("get", &key, e))?;
            let actual = hash_bytes(&bytes);
            (bytes, actual)
        }
    };
    if actual != *hash {
        return Err(Error::BlobCorrupt {
            hash: *hash,
            actual,
        });
    }
    Ok(bytes)
}

/// Streams a blob into `out` (or nowhere), hashing as it goes; returns the size. On
/// [`Error::BlobCorrupt`] the bytes already written must be discarded.
pub(crate) async fn stream<W: Write + Send>(
    store: &dyn ObjectStore,
    hash: &ContentHash,
    mut out: Option<&mut W>,
) -> Result<u64> {
    let key = blob_key(hash);
    let got = get(store, hash, &key).await?;
    let mut hasher = Sha256Stream::new();
    let mut size = 0u64;
    let mut sink = |chunk: &[u8]| -> Result<()> {
        hasher.update(chunk);
        size += chunk.len() as u64;
        if let Some(w) = out.as_mut() {
            w.write_all(chunk).map_err(|source| Error::Io {
                op: "writing the loaded artifact",
                source,
            })?;
        }
        Ok(())
    };
    match got.payload {
        GetResultPayload::File(file, path) => {
            stream_file(file, got.range, &mut sink, &key, &path)?;
        }
        GetResultPayload::Stream(mut chunks) => {
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| Error::store("get", &key, e))?;
                sink(&chunk)?;
            }
        }
    }
    let actual = hasher.finish();
    if actual != *hash {
        return Err(Error::BlobCorrupt {
            hash: *hash,
            actual,
        });
    }
    Ok(size)
}

/// Size of the pieces a local file is read in, on a helper thread, while the caller hashes.
const FILE_PIECE: usize = 8 << 20;

/// Reads `range` of a local file into one buffer: a helper thread reads piece after piece
/// straight into the buffer while this thread hashes the pieces already read. Ranges of at
/// least two pieces go to a fresh anonymous mapping advised to use transparent huge pages (on
/// Linux): the kernel zeroes every fresh page before the read overwrites it, and in 2 MiB pages
/// that costs 128 faults instead of 65,536 per 256 MiB (and the unmap on drop is as cheap).
fn read_file_hashing(
    mut file: std::fs::File,
    range: std::ops::Range<u64>,
    piece: usize,
) -> std::io::Result<(Bytes, ContentHash)> {
    use std::io::{Seek, SeekFrom};
    let piece = piece.max(1);
    let len = usize::try_from(range.end.saturating_sub(range.start))
        .map_err(|_| std::io::Error::other("file larger than memory"))?;
    file.seek(SeekFrom::Start(range.start))?;
    let mut hasher = Sha256Stream::new();
    if len < 2 * piece {
        let mut buf = vec![0u8; len];
        file.read_exact(&mut buf)?;
        hasher.update(&buf);
        return Ok((Bytes::from(buf), hasher.finish()));
    }
    let mut buf = memmap2::MmapMut::map_anon(len)?;
    #[cfg(target_os = "linux")]
    let _ = buf.advise(memmap2::Advice::HugePage);
    std::thread::scope(|scope| -> std::io::Result<()> {
        let (tx, rx) = std::sync::mpsc::channel::<&[u8]>();
        let pieces: Vec<&mut [u8]> = buf.chunks_mut(piece).collect();
        let reader = std::thread::Builder::new()
            .name("mlops-registry-read".into())
            .spawn_scoped(scope, move || -> std::io::Result<()> {
                for piece in pieces {
                    file.read_exact(piece)?;
                    let done: &[u8] = piece;
                    if tx.send(done).is_err() {
                        break;
                    }
                }
                Ok(())
            })?;
        for piece in rx {
            hasher.update(piece);
        }
        reader
            .join()
            .map_err(|_| std::io::Error::other("file reader thread panicked"))?
    })?;
    Ok((Bytes::from_owner(buf.make_read_only()?), hasher.finish()))
}

/// Streams `range` of a local file to `sink` in large pieces, read ahead on a helper thread
/// (a few recycled buffers) while `sink` hashes and writes the previous piece.
fn stream_file(
    mut file: std::fs::File,
    range: std::ops::Range<u64>,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    key: &Path,
    path: &std::path::Path,
) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    const BUFFERS: usize = 3;
    let io_err = |source: std::io::Error| {
        Error::store(
            "get",
            key,
            object_store::Error::Generic {
                store: "LocalFileSystem",
                source: format!("reading {}: {source}", path.display()).into(),
            },
        )
    };
    file.seek(SeekFrom::Start(range.start)).map_err(io_err)?;
    let total = range.end.saturating_sub(range.start);
    if total <= FILE_PIECE as u64 {
        let mut buf = Vec::new();
        file.take(total).read_to_end(&mut buf).map_err(io_err)?;
        if buf.len() as u64 != total {
            return Err(io_err(std::io::ErrorKind::UnexpectedEof.into()));
        }
        return sink(&buf);
    }
    std::thread::scope(|scope| -> Result<()> {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        for _ in 0..BUFFERS {
            let _ = empty_tx.send(Vec::new());
        }
        let reader = scope.spawn(move || -> std::io::Result<()> {
            let mut left = total;
            while left > 0 {
                let Ok(mut buf) = empty_rx.recv() else {
                    break; // the consumer stopped
                };
                let n = usize::try_from(left.min(FILE_PIECE as u64)).unwrap_or(FILE_PIECE);
                buf.resize(n, 0);
                file.read_exact(&mut buf)?;
                left -= n as u64;
                if full_tx.send(buf).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let mut result = Ok(());
        for buf in full_rx.iter() {
            if let Err(e) = sink(&buf) {
                result = Err(e);
                break;
            }
            let _ = empty_tx.send(buf);
        }
        drop(empty_tx);
        drop(full_rx);
        let read = reader
            .join()
            .map_err(|_| io_err(std::io::Error::other("file reader thread panicked")))?;
        result?;
        read.map_err(io_err)
    })
}

async fn get(
    store: &dyn ObjectStore,
    hash: &ContentHash,
    key: &Path,
) -> Result<object_store::GetResult> {
    match store.get_opts(key, GetOptions::default()).await {
        Ok(g) => Ok(g),
        Err(object_store::Error::NotFound { .. }) => Err(Error::BlobMissing { hash: *hash }),
        Err(e) => Err(Error::store("get", key, e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn data(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    fn local(dir: &std::path::Path, fsync: bool) -> LocalFs {
        local_with(dir, fsync, true)
    }

    fn local_with(dir: &std::path::Path, fsync: bool, direct_io: bool) -> LocalFs {
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .unwrap()
            .with_fsync(fsync);
        LocalFs {
            fs: std::sync::Arc::new(fs),
            fsync,
            direct_io,
        }
    }

    /// Every write mode: page cache without and with fsync, and direct writes (with fsync).
    const MODES: [(bool, bool); 3] = [(false, false), (true, false), (true, true)];

    fn blob_dir(root: &std::path::Path) -> std::path::PathBuf {
        root.join("blobs").join("sha256")
    }

    /// Names in `blobs/sha256` once the replaced blobs being freed in the background (`#2`)
    /// are gone (within 10 s): only finished blobs, never a staging file.
    fn names(root: &std::path::Path) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut out: Vec<String> = std::fs::read_dir(blob_dir(root))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            out.sort();
            if !out.iter().any(|n| n.ends_with("#2")) || std::time::Instant::now() > deadline {
                return out;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    const PIECE: usize = 1024;
    const SIZES: [usize; 11] = [
        0,
        1,
        PIECE - 1,
        PIECE,
        PIECE + 1,
        2 * PIECE - 1,
        2 * PIECE,
        2 * PIECE + 1,
        3 * PIECE + 1,
        4 * PIECE,
        10_000,
    ];

    #[test]
    fn local_put_at_piece_and_sync_boundaries() {
        for (fsync, direct_io) in MODES {
            for size in SIZES {
                let dir = tempfile::tempdir().unwrap();
                let store = local_with(dir.path(), fsync, direct_io);
                let bytes = data(size, 7);
                let (hash, len) = store.put(&bytes, PIECE, 2 * PIECE, None).unwrap();
                assert_eq!((hash, len), (hash_bytes(&bytes), size as u64), "{size}");
                let stored = std::fs::read(blob_dir(dir.path()).join(hash.to_hex())).unwrap();
                assert!(stored == bytes, "{size} fsync={fsync}");
                assert_eq!(names(dir.path()), vec![hash.to_hex()], "{size}");
            }
        }
    }

    #[test]
    fn local_put_reader_at_piece_and_sync_boundaries() {
        for (fsync, direct_io) in MODES {
            for size in SIZES {
                let dir = tempfile::tempdir().unwrap();
                let store = local_with(dir.path(), fsync, direct_io);
                let bytes = data(size, 9);
                let (hash, len) = store.put_reader(&bytes[..], PIECE, 2 * PIECE).unwrap();
                assert_eq!((hash, len), (hash_bytes(&bytes), size as u64), "{size}");
                let stored = std::fs::read(blob_dir(dir.path()).join(hash.to_hex())).unwrap();
                assert!(stored == bytes, "{size} fsync={fsync}");
                assert_eq!(names(dir.path()), vec![hash.to_hex()], "{size}");
            }
        }
    }

    /// Yields `ok` bytes, then fails.
    struct FailingAfter(usize);
    impl Read for FailingAfter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0).min(700);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn local_put_reader_failure_publishes_nothing() {
        for ok in [0, 1, PIECE, 5 * PIECE + 3] {
            let dir = tempfile::tempdir().unwrap();
            let store = local(dir.path(), true);
            let err = store
                .put_reader(FailingAfter(ok), PIECE, 2 * PIECE)
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Io {
                        op: "reading the artifact",
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(
                names(dir.path()).is_empty(),
                "{ok}: {:?}",
                names(dir.path())
            );
        }
    }

    #[cfg(unix)]
    fn inode(path: &std::path::Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).unwrap().ino()
    }

    /// Sets a file's modification time far in the past (1970-01-12).
    fn age(path: &std::path::Path) {
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    /// Whether a file was modified well after [`age`] set its time.
    fn is_fresh(path: &std::path::Path) -> bool {
        let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
        mtime > std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + 3600)
    }

    #[cfg(unix)]
    #[test]
    fn local_put_keeps_a_likely_blob_only_when_every_byte_matches() {
        for (fsync, direct_io) in MODES {
            let dir = tempfile::tempdir().unwrap();
            let store = local_with(dir.path(), fsync, direct_io);
            // Past the small first comparison piece and one full piece, not a multiple of either.
            let a = data(FILE_PIECE + (64 << 10) + 4321, 1);
            let (ha, _) = store.put(&a, 4096, 1 << 20, None).unwrap();
            let path = blob_dir(dir.path()).join(ha.to_hex());

            // Identical: kept as it is (same file), with a fresh modification time.
            age(&path);
            let ino = inode(&path);
            assert_eq!(
                store.put(&a, 4096, 1 << 20, Some(&ha)).unwrap(),
                (ha, a.len() as u64)
            );
            assert_eq!(inode(&path), ino, "fsync={fsync} direct={direct_io}");
            assert!(is_fresh(&path));

            // Damaged where only a full comparison finds it: written again, so repaired.
            for at in [0, 70_000, a.len() - 1] {
                let mut raw = a.clone();
                raw[at] ^= 0x10;
                std::fs::write(&path, &raw).unwrap();
                assert_eq!(store.put(&a, 4096, 1 << 20, Some(&ha)).unwrap().0, ha);
                assert!(std::fs::read(&path).unwrap() == a, "damage at {at}");
            }
            // Longer or shorter than the bytes: written again.
            for len in [a.len() - 1, a.len() + 1] {
                let mut raw = a.clone();
                raw.resize(len, 0);
                std::fs::write(&path, &raw).unwrap();
                assert_eq!(store.put(&a, 4096, 1 << 20, Some(&ha)).unwrap().0, ha);
                assert!(std::fs::read(&path).unwrap() == a, "len {len}");
            }

            // Another blob of the same size named as likely: these bytes get their own blob and
            // the other one is untouched.
            let mut b = a.clone();
            b[a.len() / 2] ^= 1;
            let (hb, _) = store.put(&b, 4096, 1 << 20, Some(&ha)).unwrap();
            assert_eq!(hb, hash_bytes(&b));
            assert!(std::fs::read(blob_dir(dir.path()).join(hb.to_hex())).unwrap() == b);
            assert!(std::fs::read(&path).unwrap() == a);

            // A likely blob that is not stored: written.
            std::fs::remove_file(&path).unwrap();
            assert_eq!(store.put(&a, 4096, 1 << 20, Some(&ha)).unwrap().0, ha);
            assert!(std::fs::read(&path).unwrap() == a);

            // A stored file equal to the bytes but under another blob's name is not kept (its
            // name is not their hash): the bytes go to their own name.
            std::fs::write(blob_dir(dir.path()).join(hb.to_hex()), &a).unwrap();
            std::fs::remove_file(&path).unwrap();
            assert_eq!(store.put(&a, 4096, 1 << 20, Some(&hb)).unwrap().0, ha);
            assert!(std::fs::read(&path).unwrap() == a);
            let mut want = vec![ha.to_hex(), hb.to_hex()];
            want.sort();
            assert_eq!(names(dir.path()), want);
        }
    }

    #[test]
    fn local_put_replaces_an_identical_blob_with_a_fresh_mtime_and_keeps_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = local(dir.path(), true);
        let (a, b) = (data(5000, 1), data(5000, 2));
        let (ha, _) = store.put(&a, PIECE, PIECE, None).unwrap();
        let (hb, _) = store.put(&b, PIECE, PIECE, None).unwrap();
        let path = blob_dir(dir.path()).join(ha.to_hex());
        age(&path);
        assert_eq!(store.put(&a, PIECE, PIECE, None).unwrap().0, ha);
        assert!(is_fresh(&path));
        assert!(std::fs::read(&path).unwrap() == a);
        assert!(std::fs::read(blob_dir(dir.path()).join(hb.to_hex())).unwrap() == b);
        let mut want = vec![ha.to_hex(), hb.to_hex()];
        want.sort();
        assert_eq!(names(dir.path()), want);
    }

    #[test]
    fn concurrent_local_puts_of_the_same_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = local(dir.path(), true);
        let bytes = data(100_000, 3);
        let threads = 8;
        let barrier = std::sync::Barrier::new(threads);
        let hashes: Vec<ContentHash> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        store.put(&bytes, 4096, 16 * 1024, None).unwrap().0
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let want = hash_bytes(&bytes);
        assert!(hashes.iter().all(|h| *h == want));
        assert!(std::fs::read(blob_dir(dir.path()).join(want.to_hex())).unwrap() == bytes);
        assert_eq!(names(dir.path()), vec![want.to_hex()]);
    }

    #[test]
    fn local_put_failures_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        // `blobs` is a file: the blob directory cannot be created.
        std::fs::write(dir.path().join("blobs"), b"in the way").unwrap();
        let store = local(dir.path(), true);
        let err = store.put(&data(3000, 4), PIECE, PIECE, None).unwrap_err();
        assert!(matches!(err, Error::Store { op: "put", .. }), "{err:?}");
        assert_eq!(
            std::fs::read(dir.path().join("blobs")).unwrap(),
            b"in the way"
        );
    }

    #[test]
    fn ensure_dir_creates_missing_parents() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a").join("b").join("c");
        ensure_dir(&deep, true).unwrap();
        assert!(deep.is_dir());
        ensure_dir(&deep, true).unwrap();
        ensure_dir(&dir.path().join("d"), false).unwrap();
        assert!(dir.path().join("d").is_dir());
    }

    #[test]
    fn read_file_hashing_at_piece_boundaries_and_offsets() {
        let dir = tempfile::tempdir().unwrap();
        for size in SIZES {
            for start in [0usize, 3] {
                let bytes = data(size + start, 5);
                let path = dir.path().join(format!("f{size}-{start}"));
                std::fs::write(&path, &bytes).unwrap();
                let file = std::fs::File::open(&path).unwrap();
                let range = start as u64..(size + start) as u64;
                let (back, hash) = read_file_hashing(file, range, PIECE).unwrap();
                assert!(back[..] == bytes[start..], "{size} {start}");
                assert_eq!(hash, hash_bytes(&bytes[start..]), "{size} {start}");
            }
        }
    }

    #[test]
    fn read_file_hashing_finds_damage_in_the_last_piece_and_short_files() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = data(3 * PIECE + 17, 6);
        let path = dir.path().join("f");
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let (_, hash) = read_file_hashing(file, 0..bytes.len() as u64, PIECE).unwrap();
        assert_ne!(hash, hash_bytes(&bytes));
        assert_eq!(hash, hash_bytes(&damaged));
        // Shorter than the range (truncated while open): an error, not short bytes.
        std::fs::write(&path, &bytes[..2 * PIECE + 5]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        assert!(read_file_hashing(file, 0..bytes.len() as u64, PIECE).is_err());
    }

    /// The whole read path on a local store, with blobs of at least two 8 MiB pieces: a flipped
    /// byte in the last piece is [`Error::BlobCorrupt`], and no bytes are returned.
    #[test]
    fn local_read_of_a_large_blob_verifies_the_last_piece() {
        let dir = tempfile::tempdir().unwrap();
        let store = local(dir.path(), false);
        let bytes = data(2 * FILE_PIECE + 12_345, 8);
        let (hash, _) = store.put(&bytes, WRITE_PIECE, SYNC_EVERY, None).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let back = rt.block_on(read(store.fs.as_ref(), &hash)).unwrap();
        assert!(back[..] == bytes[..]);
        let path = blob_dir(dir.path()).join(hash.to_hex());
        let mut damaged = bytes.clone();
        let last = damaged.len() - 3;
        damaged[last] ^= 0x40;
        std::fs::write(&path, &damaged).unwrap();
        let err = rt.block_on(read(store.fs.as_ref(), &hash)).unwrap_err();
        assert!(
            matches!(err, Error::BlobCorrupt { hash: h, actual } if h == hash && actual == hash_bytes(&damaged)),
            "{err:?}"
        );
    }
}
