//! Garbage collection of what crashed or abandoned writes leave behind.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use mlops_core::ContentHash;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore};
use serde::Serialize;

use crate::error::{Error, Result};

/// What [`crate::Registry::gc`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Abandoned multipart uploads deleted from `tmp/`.
    pub tmp_deleted: u64,
    /// Blobs no registered version references, deleted.
    pub blobs_deleted: u64,
    /// Staged files of interrupted local writes (`name#n`), deleted (local file system only).
    pub staged_deleted: u64,
    /// State snapshots deleted because newer ones exist ([`crate::RegistryOptions::snapshots_kept`]
    /// of the newest are kept).
    pub snapshots_deleted: u64,
    /// Bytes freed in total.
    pub bytes_freed: u64,
    /// Unreferenced objects kept because they are younger than the grace period (a write in
    /// progress may be about to reference them).
    pub kept_recent: u64,
}

/// Deletes objects under `tmp/`, and blobs not in `referenced`, last modified before `cutoff_ms`.
pub(crate) async fn collect(
    store: &dyn ObjectStore,
    referenced: &BTreeSet<ContentHash>,
    cutoff_ms: i64,
    report: &mut GcReport,
) -> Result<()> {
    for prefix in ["tmp", "blobs/sha256"] {
        let prefix = Path::from(prefix);
        let mut candidates = Vec::new();
        let mut listing = store.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| Error::store("list", &prefix, e))?;
            let is_tmp = prefix.as_ref() == "tmp";
            if !is_tmp {
                let Some(hash) = meta
                    .location
                    .filename()
                    .and_then(|f| ContentHash::from_hex(f).ok())
                else {
                    continue; // not a blob key: not ours to delete
                };
                if referenced.contains(&hash) {
                    continue;
                }
            }
            if meta.last_modified.timestamp_millis() >= cutoff_ms {
                report.kept_recent += 1;
                continue;
            }
            candidates.push((meta.location, is_tmp));
        }
        drop(listing);
        for (key, is_tmp) in candidates {
            // Re-check the age just before deleting: an identical blob re-uploaded since the
            // listing has a fresh modification time and is kept.
            let meta = match store
                .get_opts(&key, GetOptions::new().with_head(true))
                .await
            {
                Ok(g) => g.meta,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(Error::store("head", &key, e)),
            };
            if meta.last_modified.timestamp_millis() >= cutoff_ms {
                report.kept_recent += 1;
                continue;
            }
            let one =
                futures_util::stream::once(futures_util::future::ready(Ok(key.clone()))).boxed();
            let mut deleted = store.delete_stream(one);
            while let Some(r) = deleted.next().await {
                match r {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(Error::store("delete", &key, e)),
                }
            }
            report.bytes_freed += meta.size;
            if is_tmp {
                report.tmp_deleted += 1;
            } else {
                report.blobs_deleted += 1;
            }
            tracing::debug!(key = %key, "garbage collected");
        }
    }
    Ok(())
}

/// Deletes all snapshots but the `kept` newest. A reader that listed a deleted one falls back to
/// an older snapshot or to the whole log, so this is safe while others open the registry.
pub(crate) async fn collect_snapshots(
    store: &dyn ObjectStore,
    kept: usize,
    report: &mut GcReport,
) -> Result<()> {
    let seqs = crate::snapshot::list(store).await?.0;
    let old = seqs.len().saturating_sub(kept);
    for &seq in seqs.iter().take(old) {
        let key = crate::snapshot::snapshot_key(seq);
        let size = match store
            .get_opts(&key, GetOptions::new().with_head(true))
            .await
        {
            Ok(g) => g.meta.size,
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(Error::store("head", &key, e)),
        };
        let one = futures_util::stream::once(futures_util::future::ready(Ok(key.clone()))).boxed();
        let mut deleted = store.delete_stream(one);
        while let Some(r) = deleted.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(Error::store("delete", &key, e)),
            }
        }
        report.snapshots_deleted += 1;
        report.bytes_freed += size;
        tracing::debug!(seq, "old snapshot deleted");
    }
    Ok(())
}

/// Removes `object_store` staging files (`{key}#{n}`) older than `grace` under a local root.
/// They are invisible to `list`, so they can only be found on disk.
pub(crate) fn collect_local_staged(
    root: &std::path::Path,
    grace: Duration,
    report: &mut GcReport,
) -> Result<()> {
    let io = |source| Error::Io {
        op: "collecting staged files",
        source,
    };
    let now = std::time::SystemTime::now();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io)?;
            let kind = entry.file_type().map_err(io)?;
            if kind.is_dir() {
                dirs.push(entry.path());
                continue;
            }
            if !kind.is_file() || !is_staged_name(&entry.file_name().to_string_lossy()) {
                continue;
            }
            let meta = entry.metadata().map_err(io)?;
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if age < grace {
                report.kept_recent += 1;
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    report.staged_deleted += 1;
                    report.bytes_freed += meta.len();
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
    }
    Ok(())
}

/// `name#123`: a LocalFileSystem staging file.
fn is_staged_name(name: &str) -> bool {
    match name.rsplit_once('#') {
        Some((base, n)) => {
            !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_staged_name;

    #[test]
    fn staged_names() {
        assert!(is_staged_name("00000000000000000002#1"));
        assert!(is_staged_name("abc#12"));
        assert!(!is_staged_name("abc"));
        assert!(!is_staged_name("abc#"));
        assert!(!is_staged_name("#1"));
        assert!(!is_staged_name("abc#1x"));
    }
}
