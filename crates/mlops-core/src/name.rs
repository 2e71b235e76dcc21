//! Validated names.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// The longest name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// A validated name for a model, alias, tag or dataset.
///
/// Names are 1 to [`MAX_NAME_LEN`] bytes of ASCII letters, digits, `-`, `_` and `.`, start with a
/// letter or digit, and are not `.` or `..`. They are therefore safe as a single path segment or
/// object-store key segment on every backend.
///
/// ```
/// use mlops_core::Name;
/// assert!(Name::new("churn-model_v2").is_ok());
/// assert!(Name::new("../etc").is_err());
/// assert!(Name::new("a/b").is_err());
/// assert!(Name::new("").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// Validates and wraps a name.
    pub fn new(name: impl AsRef<str>) -> Result<Self> {
        let s = name.as_ref();
        let err = |reason| Error::InvalidName {
            name: s.chars().take(MAX_NAME_LEN + 8).collect(),
            reason,
        };
        if s.is_empty() {
            return Err(err("empty"));
        }
        if s.len() > MAX_NAME_LEN {
            return Err(err("longer than 128 bytes"));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(err("contains a control character"));
        }
        if s.contains('/') || s.contains('\\') {
            return Err(err("contains a path separator"));
        }
        if s == "." || s == ".." || s.contains("..") {
            return Err(err("contains '..' (path traversal)"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(err(
                "only ASCII letters, digits, '-', '_' and '.' are allowed",
            ));
        }
        if !s.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(err("must start with a letter or digit"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({:?})", self.0)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Name {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rejects_each_bad_kind() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", "a\0b", "a\nb", "-lead", ".hidden", "sp ace",
            "é", "x..y",
        ] {
            assert!(
                matches!(Name::new(bad), Err(Error::InvalidName { .. })),
                "{bad:?} accepted"
            );
        }
        assert!(Name::new("a".repeat(MAX_NAME_LEN)).is_ok());
        assert!(Name::new("a".repeat(MAX_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["churn", "Churn-2", "v1.2.3", "a_b", "0start"] {
            assert_eq!(Name::new(ok).unwrap().as_str(), ok);
        }
    }
}
