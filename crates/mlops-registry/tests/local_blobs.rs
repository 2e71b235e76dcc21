//! The direct local-file path for large blobs (a registry opened on a directory writes blobs of
//! 16 MiB and more straight to `blobs/sha256/`, hashing, writing and syncing at once).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Barrier};

use bytes::Bytes;
use mlops_registry::core::hash_bytes;
use mlops_registry::{Error, ModelMetadata, Registry, RegistryOptions, VersionRef};

/// Just over 16 MiB (the size from which blobs take the direct path) and past one 8 MiB read
/// piece boundary, not a multiple of either.
const SIZE: usize = (16 << 20) + 12_345;

fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// The blob directory of the registry in `root`.
fn blob_dir(root: &std::path::Path) -> std::path::PathBuf {
    root.join("blobs").join("sha256")
}

/// Damages a stored file in place: XORs its byte at `at` with `mask`.
fn flip(path: &std::path::Path, at: usize, mask: u8) {
    let mut raw = std::fs::read(path).unwrap();
    raw[at] ^= mask;
    std::fs::write(path, &raw).unwrap();
}

/// Registers `bytes` (from memory) as a new version of `model`, with empty metadata.
fn register_bytes(reg: &Registry, model: &str, bytes: &[u8]) -> mlops_registry::ModelVersion {
    reg.register(
        model,
        Bytes::copy_from_slice(bytes),
        ModelMetadata::default(),
        "",
    )
    .unwrap()
}

/// The names in `dir`, once the replaced blobs a put frees in the background (`…#2`) are gone
/// (waiting at most 10 s).
fn entries(dir: &std::path::Path) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v = match std::fs::read_dir(dir) {
            Ok(rd) => {
                let mut v: Vec<String> = rd
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                v.sort();
                v
            }
            Err(_) => Vec::new(),
        };
        if !v.iter().any(|n| n.ends_with("#2")) || std::time::Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn large_blob_round_trip_durable_and_not() {
    for fsync in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let reg =
            Registry::open_with(dir.path(), RegistryOptions::default().with_fsync(fsync)).unwrap();
        let bytes = data(SIZE, 1);
        let hash = hash_bytes(&bytes);
        let v = register_bytes(&reg, "big", &bytes);
        assert_eq!((v.blob, v.size), (hash, SIZE as u64));
        // Written in place: no staging file left, nothing under tmp/ (the object_store path).
        assert_eq!(entries(&blob_dir(dir.path())), vec![hash.to_hex()]);
        assert!(entries(&dir.path().join("tmp")).is_empty());
        let (_, back) = reg.load("big", VersionRef::Latest).unwrap();
        assert!(back[..] == bytes[..]);
        let mut out = Vec::new();
        reg.load_to("big", VersionRef::Latest, &mut out).unwrap();
        assert!(out == bytes);
        // A second handle (another process's view) reads the same, and the log verifies.
        let other = Registry::open(dir.path()).unwrap();
        assert!(other.load("big", VersionRef::Number(1)).unwrap().1[..] == bytes[..]);
        assert!(other.verify().unwrap().is_ok());
        // Registering the same bytes again: the stored blob is compared and kept as it is.
        let blob_file = blob_dir(dir.path()).join(hash.to_hex());
        let before = inode(&blob_file);
        let v2 = register_bytes(&reg, "big", &bytes);
        assert_eq!((v2.version, v2.blob), (2, hash));
        assert_eq!(inode(&blob_file), before);
        assert!(reg.load("big", VersionRef::Number(1)).unwrap().1[..] == bytes[..]);
        // Small blobs keep the object_store path and live beside the large one.
        let small = reg
            .register("small", b"tiny".to_vec(), ModelMetadata::default(), "")
            .unwrap();
        assert_eq!(
            &reg.load("small", VersionRef::Latest).unwrap().1[..],
            b"tiny"
        );
        assert_eq!(entries(&blob_dir(dir.path())).len(), 2, "{:?}", small.blob);
        assert_eq!(reg.gc(std::time::Duration::ZERO).unwrap().blobs_deleted, 0);
    }
}

#[test]
fn damage_in_the_last_piece_of_a_large_blob_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path()).unwrap();
    let bytes = data(SIZE, 2);
    let v = register_bytes(&reg, "big", &bytes);
    let path = blob_dir(dir.path()).join(v.blob.to_hex());
    flip(&path, SIZE - 1, 0x01);
    let actual = hash_bytes(&std::fs::read(&path).unwrap());
    assert!(matches!(
        reg.load("big", VersionRef::Latest),
        Err(Error::BlobCorrupt { hash, actual: a }) if hash == v.blob && a == actual
    ));
    assert!(matches!(
        reg.load_to("big", VersionRef::Latest, &mut std::io::sink()),
        Err(Error::BlobCorrupt { .. })
    ));
    // Registering the original bytes again repairs the blob.
    register_bytes(&reg, "big", &bytes);
    assert!(reg.load("big", VersionRef::Number(1)).unwrap().1[..] == bytes[..]);
    assert!(reg.verify().unwrap().is_ok());
}

#[test]
fn concurrent_registrations_of_the_same_large_content() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = Bytes::from(data(SIZE, 3));
    let threads = 3;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (root, bytes, barrier) = (dir.path().to_path_buf(), bytes.clone(), barrier.clone());
            std::thread::spawn(move || {
                // One handle each, as separate processes would have.
                let reg = Registry::open_with(
                    &root,
                    RegistryOptions::default().with_actor(format!("writer-{i}")),
                )
                .unwrap();
                barrier.wait();
                reg.register("big", bytes, ModelMetadata::default(), "")
                    .unwrap()
            })
        })
        .collect();
    let mut versions: Vec<u64> = handles
        .into_iter()
        .map(|h| {
            let v = h.join().unwrap();
            assert_eq!(v.blob, hash_bytes(&bytes));
            v.version
        })
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, vec![1, 2, 3]);
    let reg = Registry::open(dir.path()).unwrap();
    for v in 1..=3 {
        assert!(reg.load("big", VersionRef::Number(v)).unwrap().1 == bytes);
    }
    assert_eq!(
        entries(&blob_dir(dir.path())),
        vec![hash_bytes(&bytes).to_hex()]
    );
    assert!(reg.verify().unwrap().is_ok());
}

/// Reads `ok` bytes of a pattern, then fails.
struct FailingAfter(usize);
impl std::io::Read for FailingAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(0x5a);
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn large_files_and_readers_stream_straight_to_the_blob_directory() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open_with(
        dir.path().join("reg"),
        RegistryOptions::default().with_chunk_size(3 << 20),
    )
    .unwrap();
    let blobs = blob_dir(&dir.path().join("reg"));
    for size in [(16 << 20) - 1, 16 << 20, SIZE, (16 << 20) + (3 << 20)] {
        let bytes = data(size, 4);
        let path = dir.path().join("artifact.bin");
        std::fs::write(&path, &bytes).unwrap();
        let v = reg
            .register_file("big", &path, ModelMetadata::default(), "")
            .unwrap();
        assert_eq!((v.blob, v.size), (hash_bytes(&bytes), size as u64));
        let w = reg
            .register_reader("big", &bytes[..], ModelMetadata::default(), "")
            .unwrap();
        assert_eq!(w.blob, v.blob);
        assert!(reg.load("big", VersionRef::Latest).unwrap().1[..] == bytes[..]);
        assert!(entries(&blobs).contains(&v.blob.to_hex()));
        assert!(
            entries(&blobs).iter().all(|n| !n.contains('#')),
            "{:?}",
            entries(&blobs)
        );
    }
    // Only the under-16 MiB one went through object_store (which stages under tmp/ for
    // readers of more than one chunk and cleans up after itself).
    assert!(entries(&dir.path().join("reg").join("tmp")).is_empty());
    let before = entries(&blobs);
    let err = reg
        .register_reader("big", FailingAfter(SIZE), ModelMetadata::default(), "")
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(entries(&blobs), before);
    assert_eq!(reg.versions("big").unwrap().len(), 8);
    assert!(reg.verify().unwrap().is_ok());
}

fn inode(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

#[test]
fn re_registering_identical_large_content_keeps_the_stored_blob() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path().join("reg")).unwrap();
    let blobs = blob_dir(&dir.path().join("reg"));
    let bytes = data(SIZE, 5);
    let path = dir.path().join("artifact.bin");
    std::fs::write(&path, &bytes).unwrap();
    let meta = ModelMetadata::default;
    let v1 = reg.register_file("m", &path, meta(), "").unwrap();
    let blob_file = blobs.join(v1.blob.to_hex());
    let ino = inode(&blob_file);

    // The same file, then the same bytes from memory: compared and kept, not rewritten.
    let v2 = reg.register_file("m", &path, meta(), "").unwrap();
    let v3 = register_bytes(&reg, "m", &bytes);
    assert_eq!((v2.version, v2.blob, v2.size), (2, v1.blob, SIZE as u64));
    assert_eq!((v3.version, v3.blob, v3.size), (3, v1.blob, SIZE as u64));
    assert_eq!(inode(&blob_file), ino);

    // Invalid metadata is still refused before anything happens.
    let bad = ModelMetadata::default().with_metric("auc", f64::NAN);
    assert!(reg.register_file("m", &path, bad, "").is_err());
    assert_eq!(reg.versions("m").unwrap().len(), 3);

    // Same size, one byte different in the middle: a blob of its own; the first is intact.
    let mut other = bytes.clone();
    other[SIZE / 2] ^= 1;
    std::fs::write(&path, &other).unwrap();
    let v4 = reg.register_file("m", &path, meta(), "").unwrap();
    assert_eq!(v4.blob, hash_bytes(&other));
    assert!(reg.load("m", VersionRef::Number(4)).unwrap().1[..] == other[..]);
    assert!(reg.load("m", VersionRef::Number(1)).unwrap().1[..] == bytes[..]);

    // The stored blob damaged in its last byte, then in its middle: registering the original
    // bytes (from memory, compared with v4's blob, the newest of that size) and then the
    // original file (compared with the damaged blob) both write it again, which repairs it.
    flip(&blob_file, SIZE - 1, 0x80);
    assert!(reg.load("m", VersionRef::Number(1)).is_err());
    let v5 = register_bytes(&reg, "m", &bytes);
    assert_eq!(v5.blob, v1.blob);
    assert!(reg.load("m", VersionRef::Number(1)).unwrap().1[..] == bytes[..]);
    flip(&blob_file, SIZE / 3, 0x80);
    std::fs::write(&path, &bytes).unwrap();
    let v6 = reg.register_file("m", &path, meta(), "").unwrap();
    assert_eq!(v6.blob, v1.blob);
    assert!(reg.load("m", VersionRef::Number(1)).unwrap().1[..] == bytes[..]);
    assert!(reg.verify().unwrap().is_ok());
    assert_eq!(entries(&blobs), {
        let mut want = vec![v1.blob.to_hex(), v4.blob.to_hex()];
        want.sort();
        want
    });
}
