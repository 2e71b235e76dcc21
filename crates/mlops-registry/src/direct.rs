//! Durable large-blob writes that bypass the page cache (`O_DIRECT` on Linux).
//!
//! A durable buffered write copies every byte into the page cache, then has the kernel write
//! the dirty pages back and waits for them at `fsync`; on this project's machine 256 MiB take
//! a median 169 ms that way but up to 733 ms when write-back of other files gets in the way
//! (`benches/peers/disk_probe.py`). Written with `O_DIRECT`, the same bytes go from an aligned
//! buffer straight to the device: a median 150 ms (1.79 GB/s), at most 169 ms, and no page
//! cache copy on the CPU, so a put is bounded by hashing rather than by the page cache. The file must still be synced at the end: direct writes can sit in the
//! device's write cache, and the file's size and block map are metadata.

use std::fs::File;
use std::io::ErrorKind;
#[cfg(unix)]
use std::os::unix::fs::FileExt;

/// Alignment of every direct write: buffer address, file offset and length. 4 KiB covers the
/// logical block size of every common device and file system (512 B or 4 KiB).
pub(crate) const ALIGN: usize = 4096;

/// Size of the aligned bounce buffers direct writes are made from.
pub(crate) const DIRECT_PIECE: usize = 4 << 20;

/// Opens a second handle on the empty file at `path` for direct writes, or `None` where the
/// platform or the file system does not really offer them (the buffered handle is used
/// instead). A file system that bypasses its cache refuses a misaligned direct write as
/// invalid; one that accepts it (tmpfs, which keeps files in memory anyway, or a file system
/// that quietly buffers) gains nothing from direct writes but would pay for the aligned
/// copies, so that one-byte probe (undone at once) decides.
pub(crate) fn open_direct(path: &std::path::Path) -> Option<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .ok()?;
        match file.write_at(&[0], 0) {
            Err(e) if e.kind() == ErrorKind::InvalidInput => Some(file),
            Ok(_) => {
                let _ = file.set_len(0);
                None
            }
            Err(_) => None,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}

/// Writes a byte stream from offset 0 of a new file through an aligned bounce buffer: every
/// full buffer is one direct write at an aligned offset, and the tail is written padded with
/// zeros to [`ALIGN`] and the file cut back to its length by [`DirectWriter::finish`]. If a
/// direct write is refused as invalid (a file system that accepts `O_DIRECT` at open but not
/// these alignments), that write and every later one go through the buffered handle instead.
pub(crate) struct DirectWriter<'f> {
    /// The `O_DIRECT` handle, until a direct write is refused.
    direct: Option<File>,
    /// The file's ordinary handle (the fallback, and the one that sets the length).
    buffered: &'f File,
    /// The aligned bounce buffer (an anonymous mapping: page-aligned).
    buf: memmap2::MmapMut,
    /// Bytes of `buf` holding data not yet written.
    filled: usize,
    /// File offset of `buf[0]`.
    offset: u64,
}

impl<'f> DirectWriter<'f> {
    /// A writer over `direct` (a handle from [`open_direct`] on the file `buffered` is open on),
    /// with a bounce buffer of `piece` bytes rounded up to a multiple of [`ALIGN`].
    pub(crate) fn new(direct: File, buffered: &'f File, piece: usize) -> std::io::Result<Self> {
        let size = piece.max(1).div_ceil(ALIGN) * ALIGN;
        Ok(Self {
            direct: Some(direct),
            buffered,
            buf: memmap2::MmapMut::map_anon(size)?,
            filled: 0,
            offset: 0,
        })
    }

    /// Appends `data`, writing out every bounce buffer it fills. When nothing is buffered and
    /// `data` starts at an aligned address (parts read by an [`AlignedPool`]), its aligned
    /// prefix is written straight from `data`, without a copy.
    pub(crate) fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        let whole = data.len() / ALIGN * ALIGN;
        if self.filled == 0
            && whole > 0
            && self.direct.is_some()
            && (data.as_ptr() as usize).is_multiple_of(ALIGN)
            && self.offset.is_multiple_of(ALIGN as u64)
        {
            let (head, tail) = data.split_at(whole);
            put_at(&mut self.direct, self.buffered, head, head, self.offset)?;
            self.offset += whole as u64;
            data = tail;
        }
        while !data.is_empty() {
            let n = (self.buf.len() - self.filled).min(data.len());
            self.buf[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == self.buf.len() {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Writes what the buffer holds (padded to [`ALIGN`] for a direct write) at its offset.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.filled == 0 {
            return Ok(());
        }
        let padded = self.filled.div_ceil(ALIGN) * ALIGN;
        self.buf[self.filled..padded].fill(0);
        put_at(
            &mut self.direct,
            self.buffered,
            &self.buf[..self.filled],
            &self.buf[..padded],
            self.offset,
        )?;
        self.offset += self.filled as u64;
        self.filled = 0;
        Ok(())
    }

    /// Writes the tail and cuts the file to the bytes written (dropping a direct write's
    /// padding). Returns the number of bytes written. The caller syncs the file.
    pub(crate) fn finish(mut self) -> std::io::Result<u64> {
        self.flush()?;
        let len = self.offset;
        if self.buffered.metadata()?.len() != len {
            self.buffered.set_len(len)?;
        }
        Ok(len)
    }
}

/// Writes `bytes` from offset 0 of a new file in `piece`-sized direct writes (the last one
/// padded, then the file cut to `bytes.len()`), from `threads` threads that each copy a piece
/// into their own aligned buffer and write it: one thread's copy overlaps another's write,
/// so the device is kept busy. Falls back to the buffered handle as [`DirectWriter`] does.
pub(crate) fn write_all_parallel(
    direct: File,
    buffered: &File,
    bytes: &[u8],
    piece: usize,
    threads: usize,
) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let piece = piece.max(1).div_ceil(ALIGN) * ALIGN;
    let pieces = bytes.len().div_ceil(piece);
    let threads = threads.clamp(1, pieces.max(1));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut handles = vec![direct];
    for _ in 1..threads {
        handles.push(handles[0].try_clone()?);
    }
    let work = |direct: File| -> std::io::Result<()> {
        let mut w = DirectWriter::new(direct, buffered, piece)?;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= pieces || failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            let start = i * piece;
            let chunk = &bytes[start..bytes.len().min(start + piece)];
            w.offset = start as u64;
            let written = w.write(chunk).and_then(|()| w.flush());
            if written.is_err() {
                failed.store(true, Ordering::Relaxed);
                return written;
            }
        }
    };
    let results: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let mut rest = handles.into_iter();
        let first = rest.next();
        let spawned: Vec<_> = rest
            .map(|h| {
                std::thread::Builder::new()
                    .name("mlops-registry-write".into())
                    .spawn_scoped(scope, || work(h))
            })
            .collect();
        let mut results = vec![first.map_or(Ok(()), &work)];
        for s in spawned {
            results.push(match s {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("writing thread panicked"))),
                Err(e) => Err(e),
            });
        }
        results
    });
    results.into_iter().collect::<std::io::Result<Vec<()>>>()?;
    if buffered.metadata()?.len() != bytes.len() as u64 {
        buffered.set_len(bytes.len() as u64)?;
    }
    Ok(())
}

/// Writes `padded` (`data` and zeros up to an aligned length) at `offset` through `direct`, or
/// `data` through `buffered` if there is no direct handle or a direct write is refused as
/// invalid (which also drops the direct handle for good).
fn put_at(
    direct: &mut Option<File>,
    buffered: &File,
    data: &[u8],
    padded: &[u8],
    offset: u64,
) -> std::io::Result<()> {
    if let Some(handle) = direct {
        match write_all_at(handle, padded, offset) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::InvalidInput => {
                tracing::debug!(error = %e, "direct write refused; writing through the page cache");
                *direct = None;
            }
            Err(e) => return Err(e),
        }
    }
    write_all_at(buffered, data, offset)
}

/// Page-aligned part buffers (anonymous mappings, advised to use huge pages on Linux) that are
/// recycled: a part handed out as [`bytes::Bytes`] gives its buffer back when its last clone
/// is dropped, so a long stream reads into memory that is already mapped instead of faulting
/// in fresh pages for every part. At most `max` buffers exist; when all are out,
/// [`AlignedPool::read_part`] waits for one to come back.
pub(crate) struct AlignedPool {
    size: usize,
    max: usize,
    created: usize,
    free: std::sync::mpsc::Receiver<memmap2::MmapMut>,
    back: std::sync::mpsc::Sender<memmap2::MmapMut>,
}

/// A pooled buffer lent out behind a `Bytes`; returns to its pool on drop.
struct Lent {
    buf: Option<memmap2::MmapMut>,
    back: std::sync::mpsc::Sender<memmap2::MmapMut>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        self.buf.as_deref().unwrap_or(&[])
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            // The pool is gone: the buffer is simply unmapped.
            let _ = self.back.send(buf);
        }
    }
}

impl AlignedPool {
    /// A pool of at most `max` (at least 1) buffers of `size` bytes.
    pub(crate) fn new(size: usize, max: usize) -> Self {
        let (back, free) = std::sync::mpsc::channel();
        Self {
            size,
            max: max.max(1),
            created: 0,
            free,
            back,
        }
    }

    /// Reads up to the buffer size from `reader` (fewer only at its end) into a pooled buffer.
    /// The caller must let go of earlier parts for this not to wait forever once all `max`
    /// buffers are out (a pipeline whose stages drop what they consume does).
    pub(crate) fn read_part<R: std::io::Read>(
        &mut self,
        reader: &mut R,
    ) -> std::io::Result<bytes::Bytes> {
        if self.size == 0 {
            return Ok(bytes::Bytes::new());
        }
        let mut buf = match self.free.try_recv() {
            Ok(buf) => buf,
            Err(_) if self.created < self.max => {
                self.created += 1;
                let buf = memmap2::MmapMut::map_anon(self.size)?;
                #[cfg(target_os = "linux")]
                let _ = buf.advise(memmap2::Advice::HugePage);
                buf
            }
            // `self.back` keeps the channel open, so this waits for a lent buffer.
            Err(_) => self
                .free
                .recv()
                .map_err(|_| std::io::Error::other("part buffer pool closed"))?,
        };
        let mut filled = 0;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = self.back.send(buf);
                    return Err(e);
                }
            }
        }
        let lent = Lent {
            buf: Some(buf),
            back: self.back.clone(),
        };
        Ok(bytes::Bytes::from_owner(lent).slice(..filled))
    }
}

#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    file.write_all_at(buf, offset)
}

#[cfg(not(unix))]
fn write_all_at(mut file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(buf)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    /// A new empty file in a fresh directory: its path, its buffered handle and a direct one
    /// (a second buffered one where direct writes are not offered).
    fn fresh() -> (tempfile::TempDir, std::path::PathBuf, File, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create_new(&path).unwrap();
        let direct = open_direct(&path).unwrap_or_else(|| file.try_clone().unwrap());
        (dir, path, file, direct)
    }

    /// Writes `len` bytes in parts of `part` through a writer with a `piece` buffer.
    fn roundtrip(len: usize, part: usize, piece: usize) {
        let (_dir, path, file, direct) = fresh();
        let want = data(len);
        let mut w = DirectWriter::new(direct, &file, piece).unwrap();
        for p in want.chunks(part.max(1)) {
            w.write(p).unwrap();
        }
        assert_eq!(w.finish().unwrap(), len as u64);
        file.sync_all().unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            want,
            "len {len} part {part} piece {piece}"
        );
    }

    #[test]
    fn writes_every_length_and_part_size_exactly() {
        for len in [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, 3 * ALIGN + 17, 5 * ALIGN] {
            for part in [1, 1000, ALIGN, 2 * ALIGN + 1, 1 << 20] {
                for piece in [1, ALIGN, 2 * ALIGN] {
                    roundtrip(len, part, piece);
                }
            }
        }
        roundtrip(DIRECT_PIECE * 2 + 12_345, 3 << 20, DIRECT_PIECE);
    }

    #[test]
    fn aligned_parts_are_written_without_the_bounce_buffer_and_exactly() {
        for (len, part) in [
            (0, ALIGN),
            (ALIGN, ALIGN),
            (5 * ALIGN + 7, 2 * ALIGN),
            (5 * ALIGN + 7, 2 * ALIGN + 1),
            (3 * ALIGN, 3 * ALIGN),
        ] {
            let (_dir, path, file, direct) = fresh();
            let want = data(len);
            let mut w = DirectWriter::new(direct, &file, ALIGN).unwrap();
            let mut reader = &want[..];
            // Two buffers: parts are dropped as they are written, so buffers come back.
            let mut pool = AlignedPool::new(part, 2);
            let mut seen = std::collections::HashSet::new();
            loop {
                let p = pool.read_part(&mut reader).unwrap();
                if p.is_empty() {
                    break;
                }
                assert!((p.as_ptr() as usize).is_multiple_of(ALIGN));
                seen.insert(p.as_ptr() as usize);
                w.write(&p).unwrap();
            }
            assert!(seen.len() <= 2, "buffers are recycled");
            assert_eq!(w.finish().unwrap(), len as u64);
            assert_eq!(std::fs::read(&path).unwrap(), want, "len {len} part {part}");
        }
    }

    #[test]
    fn parallel_writes_are_exact_for_every_length_piece_and_thread_count() {
        for len in [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            3 * ALIGN + 5,
            8 * ALIGN,
            8 * ALIGN + 1,
        ] {
            for piece in [1, ALIGN, 2 * ALIGN + 1] {
                for threads in [1, 2, 3, 16] {
                    let (_dir, path, file, direct) = fresh();
                    let want = data(len);
                    write_all_parallel(direct, &file, &want, piece, threads).unwrap();
                    file.sync_all().unwrap();
                    assert_eq!(
                        std::fs::read(&path).unwrap(),
                        want,
                        "len {len} piece {piece} threads {threads}"
                    );
                }
            }
        }
        // A handle that cannot write (read-only: EBADF) is an error, not a silent success.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create_new(&path).unwrap();
        let ro = File::open(&path).unwrap();
        assert!(write_all_parallel(ro, &file, &data(5 * ALIGN), ALIGN, 2).is_err());
    }

    #[test]
    fn a_refused_direct_write_falls_back_to_the_buffered_handle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create_new(&path).unwrap();
        // A read-only handle refuses writes with EBADF, not EINVAL: that error is reported.
        let ro = File::open(&path).unwrap();
        let mut w = DirectWriter::new(ro, &file, ALIGN).unwrap();
        assert!(w.write(&data(2 * ALIGN)).is_err());
        drop(w);
        // A handle whose writes are invalid (unaligned direct writes are, on Linux) falls back.
        if let Some(direct) = open_direct(&path) {
            let mut w = DirectWriter::new(direct, &file, ALIGN).unwrap();
            // Misalign the offset: a direct write at offset 1 is invalid on every file system
            // that really bypasses the cache; on one that does not, it simply succeeds.
            w.offset = 1;
            w.write(&data(ALIGN)).unwrap();
            let len = w.finish().unwrap();
            assert_eq!(len, 1 + ALIGN as u64);
            let got = std::fs::read(&path).unwrap();
            assert_eq!(&got[1..], &data(ALIGN)[..]);
        }
    }
}
