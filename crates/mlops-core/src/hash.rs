//! sha256 content hashes.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// A sha256 digest. Displays (and serialises) as 64 lowercase hex characters.
///
/// ```
/// use mlops_core::{ContentHash, hash_bytes};
/// let h = hash_bytes(b"abc");
/// assert_eq!(
///     h.to_hex(),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// let back: ContentHash = h.to_hex().parse().unwrap();
/// assert_eq!(back, h);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

const HEX: &[u8; 16] = b"0123456789abcdef";

impl ContentHash {
    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 0x0f) as usize] as char);
        }
        s
    }

    /// Parses 64 hex characters (either case).
    pub fn from_hex(text: &str) -> Result<Self> {
        let err = |reason| Error::InvalidHash {
            value: text.chars().take(80).collect(),
            reason,
        };
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(err("expected 64 hex characters"));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or_else(|| err("non-hex character"))?;
            let lo = hex_val(pair[1]).ok_or_else(|| err("non-hex character"))?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

impl FromStr for ContentHash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_hex(s)
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental sha256 hasher producing a [`ContentHash`].
#[derive(Clone, Default)]
pub struct Sha256Stream(Sha256);

impl Sha256Stream {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self(Sha256::new())
    }
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    /// Finishes and returns the digest.
    pub fn finish(self) -> ContentHash {
        let out = self.0.finalize();
        let mut b = [0u8; 32];
        b.copy_from_slice(&out);
        ContentHash(b)
    }
}

impl fmt::Debug for Sha256Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256Stream")
    }
}

impl std::io::Write for Sha256Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// sha256 of a byte slice.
pub fn hash_bytes(bytes: &[u8]) -> ContentHash {
    let mut h = Sha256Stream::new();
    h.update(bytes);
    h.finish()
}

/// sha256 of everything a reader yields, read in 256 KiB chunks (bounded memory).
pub fn hash_reader<R: Read>(mut reader: R) -> Result<ContentHash> {
    let mut h = Sha256Stream::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_vectors() {
        // FIPS 180-2 test vectors.
        assert_eq!(
            hash_bytes(b"").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hash_bytes(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").to_hex(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn reader_equals_bytes() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(hash_reader(&data[..]).unwrap(), hash_bytes(&data));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = hash_bytes(b"x");
        assert_eq!(
            ContentHash::from_hex(&h.to_hex().to_uppercase()).unwrap(),
            h
        );
        assert!(matches!(
            ContentHash::from_hex("abc"),
            Err(Error::InvalidHash { .. })
        ));
        let bad = "g".repeat(64);
        assert!(matches!(
            ContentHash::from_hex(&bad),
            Err(Error::InvalidHash { .. })
        ));
        assert_eq!(format!("{h}"), h.to_hex());
    }
}
