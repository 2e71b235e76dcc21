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

use crate::error::{Error, Result};

/// Key of the blob with this content hash.
pub(crate) fn blob_key(hash: &ContentHash) -> Path {
    Path::from(format!("blobs/sha256/{}", hash.to_hex()))
}

/// A key under `tmp/` unique to this call, across processes and machines: process id, time,
/// a per-process counter and 64 bits from the standard library's per-process random hash keys
/// (not an input to any output, so determinism is unaffected).
fn tmp_key() -> Path {
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
    Path::from(format!(
        "tmp/{}-{nanos}-{n}-{salt:016x}",
        std::process::id()
    ))
}

/// Inputs at least this large are hashed on a helper thread while they are written.
const OVERLAP_AT: usize = 16 << 20;

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
        .spawn(move || {
            let mut hasher = Sha256Stream::new();
            for part in parts {
                hasher.update(&part);
            }
            hasher.finish()
        })
        .map_err(|source| Error::Io {
            op: "starting the hashing thread",
            source,
        })?;
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
            let (bytes, actual) = read_file_hashing(file, got.range).map_err(|source| {
                Error::store(
                    "get",
                    &key,
                    object_store::Error::Generic {
                        store: "LocalFileSystem",
                        source: format!("reading {}: {source}", path.display()).into(),
                    },
                )
            })?;
            (Bytes::from(bytes), actual)
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
/// straight into the buffer while this thread hashes the pieces already read.
fn read_file_hashing(
    mut file: std::fs::File,
    range: std::ops::Range<u64>,
) -> std::io::Result<(Vec<u8>, ContentHash)> {
    use std::io::{Seek, SeekFrom};
    let len = usize::try_from(range.end.saturating_sub(range.start))
        .map_err(|_| std::io::Error::other("file larger than memory"))?;
    file.seek(SeekFrom::Start(range.start))?;
    // Zeroed by the allocator lazily (fresh pages), faulted in by the reading thread.
    let mut buf = vec![0u8; len];
    let mut hasher = Sha256Stream::new();
    if len < 2 * FILE_PIECE {
        file.read_exact(&mut buf)?;
        hasher.update(&buf);
        return Ok((buf, hasher.finish()));
    }
    std::thread::scope(|scope| -> std::io::Result<()> {
        let (tx, rx) = std::sync::mpsc::channel::<&[u8]>();
        let pieces: Vec<&mut [u8]> = buf.chunks_mut(FILE_PIECE).collect();
        let reader = scope.spawn(move || -> std::io::Result<()> {
            for piece in pieces {
                file.read_exact(piece)?;
                let done: &[u8] = piece;
                if tx.send(done).is_err() {
                    break;
                }
            }
            Ok(())
        });
        for piece in rx {
            hasher.update(piece);
        }
        reader
            .join()
            .map_err(|_| std::io::Error::other("file reader thread panicked"))?
    })?;
    Ok((buf, hasher.finish()))
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
