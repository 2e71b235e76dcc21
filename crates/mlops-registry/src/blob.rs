//! Content-addressed blobs: streaming writes, verified reads.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use mlops_core::{ContentHash, Sha256Stream, hash_bytes};
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, ObjectStore, PutMode, PutOptions, PutPayload, WriteMultipart,
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

/// Writes `bytes` at its content key (atomically: a reader sees all of it or nothing).
pub(crate) async fn put_bytes(store: &dyn ObjectStore, bytes: Bytes) -> Result<(ContentHash, u64)> {
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

/// Streams a reader into the store in `chunk`-sized parts while hashing it. Only about
/// `chunk * (PARALLEL_PARTS + 1)` bytes are held at once. Small inputs (under one chunk) are
/// written directly at their content key; larger ones go to a `tmp/` key by multipart upload and
/// are then copied to their content key, so a half-written blob is never visible under a content
/// key. A crash can leave a `tmp/` object behind, which nothing references.
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
    let mut hasher = Sha256Stream::new();
    let mut size = first.len() as u64;
    hasher.update(&first);
    writer.put(Bytes::from(first));
    let streamed: Result<()> = async {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Io {
                        op: "reading the artifact",
                        source,
                    });
                }
            };
            let part = buf.get(..n).unwrap_or(&buf);
            hasher.update(part);
            size += n as u64;
            writer
                .wait_for_capacity(PARALLEL_PARTS)
                .await
                .map_err(|e| Error::store("put_part", &tmp, e))?;
            writer.write(part);
        }
        Ok(())
    }
    .await;
    if let Err(e) = streamed {
        let _ = writer.abort().await;
        return Err(e);
    }
    writer
        .finish()
        .await
        .map_err(|e| Error::store("complete_multipart", &tmp, e))?;
    let hash = hasher.finish();
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
    let mut out = Vec::new();
    reader
        .take(limit as u64)
        .read_to_end(&mut out)
        .map_err(|source| Error::Io {
            op: "reading the artifact",
            source,
        })?;
    Ok(out)
}

/// Reads a whole blob and checks its hash.
pub(crate) async fn read(store: &dyn ObjectStore, hash: &ContentHash) -> Result<Bytes> {
    let key = blob_key(hash);
    let got = get(store, hash, &key).await?;
    let bytes = got
        .bytes()
        .await
        .map_err(|e| Error::store("get", &key, e))?;
    let actual = hash_bytes(&bytes);
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
    let mut chunks = got.into_stream();
    let mut hasher = Sha256Stream::new();
    let mut size = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| Error::store("get", &key, e))?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        if let Some(w) = out.as_mut() {
            w.write_all(&chunk).map_err(|source| Error::Io {
                op: "writing the loaded artifact",
                source,
            })?;
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
