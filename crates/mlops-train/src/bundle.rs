//! The `ModelBundle`: the verifiable unit the registry stores and the serving crate loads.
//!
//! A bundle holds the input signature (the schema with categories and ranges), the label
//! definition, the fitted pipeline, the fitted model, the reference profile of the training data,
//! the test metrics and the deterministic part of the training report. It holds no code: the
//! model is one of the closed [`Model`] types, so loading a bundle can never execute anything.
//!
//! # Encoding
//! ```text
//! magic    8 bytes  "MLOPSBN\0"
//! version  u16 LE   FORMAT_VERSION
//! length   u64 LE   payload length in bytes
//! payload  length   MessagePack (rmp-serde, named fields) of the bundle
//! checksum 32 bytes sha256(payload)
//! ```
//! Decoding checks, in order: the magic, the version, that the length is at most
//! [`MAX_BUNDLE_BYTES`] and equals what follows, the checksum, then decodes and finally checks
//! the parts fit together (the pipeline's feature count is the model's, the tree is well formed,
//! coefficients are finite). Every failure is a typed [`Error`]; hostile or truncated bytes never
//! panic, and no allocation exceeds the input's size by more than a small constant factor.
//!
//! The same data, configuration and seed give the same bytes: every map is ordered and nothing
//! time- or machine-dependent is inside (durations and the environment live in the
//! [`TrainingReport`](crate::report::TrainingReport), which the registry keeps as a run).

use std::collections::BTreeMap;

use mlops_core::ContentHash;
use mlops_data::arrow::RecordBatch;
use mlops_data::pipeline::FittedPipeline;
use mlops_data::profile::Profile;
use mlops_data::schema::TableSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::estimator::Model;
use crate::report::TrainingSummary;

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"MLOPSBN\0";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// The largest payload accepted when decoding (1 GiB).
pub const MAX_BUNDLE_BYTES: u64 = 1 << 30;
const HEADER: usize = 8 + 2 + 8;
const CHECKSUM: usize = 32;

/// How the binary target is defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSpec {
    /// The label column in training data.
    pub column: String,
    /// The value that means "positive" (as text).
    pub positive: String,
    /// The other value seen in training (as text).
    pub negative: String,
}

/// A trained model with everything needed to serve, monitor and audit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelBundle {
    /// The input signature: the columns a request must carry, with types, categories and ranges
    /// seen in training.
    pub signature: TableSchema,
    /// The binary target.
    pub label: LabelSpec,
    /// The decision threshold on P(positive).
    pub threshold: f64,
    /// The fitted preprocessing pipeline.
    pub pipeline: FittedPipeline,
    /// The fitted model.
    pub model: Model,
    /// Profile of the training inputs: the reference for drift monitoring.
    pub reference_profile: Profile,
    /// Metrics on the held-out test rows (name → value, e.g. `roc_auc`).
    pub metrics: BTreeMap<String, f64>,
    /// The deterministic part of the training report.
    pub training: TrainingSummary,
}

impl ModelBundle {
    /// Checks that the parts fit together: the model takes as many features as the pipeline
    /// produces, the model is well formed and the threshold is in `[0, 1]`.
    pub fn check(&self) -> Result<()> {
        self.model.check()?;
        let produced = self.pipeline.feature_names().len();
        if produced != self.model.n_features() {
            return Err(Error::CorruptBundle {
                reason: format!(
                    "pipeline produces {produced} feature(s) but the model takes {}",
                    self.model.n_features()
                ),
            });
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(Error::CorruptBundle {
                reason: format!("threshold {} is not in [0, 1]", self.threshold),
            });
        }
        Ok(())
    }

    /// Encodes the bundle (see the [module docs](self) for the layout).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let payload = rmp_serde::to_vec_named(self).map_err(|e| Error::Encode {
            what: "model bundle",
            message: e.to_string(),
        })?;
        let mut out = Vec::with_capacity(HEADER + payload.len() + CHECKSUM);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&Sha256::digest(&payload));
        Ok(out)
    }

    /// Decodes and checks a bundle. Never panics; see the [module docs](self).
    ///
    /// # Errors
    /// [`Error::NotABundle`], [`Error::UnsupportedBundleVersion`] or [`Error::CorruptBundle`].
    #[tracing::instrument(name = "bundle_decode", skip_all, fields(bytes = bytes.len()))]
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let corrupt = |reason: String| Error::CorruptBundle { reason };
        if bytes.len() < MAGIC.len() || bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err(Error::NotABundle);
        }
        let header = bytes
            .get(..HEADER)
            .ok_or_else(|| corrupt(format!("truncated header ({} bytes)", bytes.len())))?;
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedBundleVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&header[10..18]);
        let len = u64::from_le_bytes(len_bytes);
        if len > MAX_BUNDLE_BYTES {
            return Err(corrupt(format!(
                "payload length {len} exceeds the limit {MAX_BUNDLE_BYTES}"
            )));
        }
        let rest = &bytes[HEADER..];
        let expected = (len as usize).checked_add(CHECKSUM);
        if expected != Some(rest.len()) {
            return Err(corrupt(format!(
                "payload length {len} + {CHECKSUM}-byte checksum does not match the {} bytes present",
                rest.len()
            )));
        }
        let (payload, checksum) = rest.split_at(len as usize);
        if Sha256::digest(payload).as_slice() != checksum {
            return Err(corrupt("checksum mismatch".to_string()));
        }
        let bundle: ModelBundle =
            rmp_serde::from_slice(payload).map_err(|e| corrupt(format!("decode: {e}")))?;
        bundle.check()?;
        Ok(bundle)
    }

    /// The sha256 of [`ModelBundle::to_bytes`]: equal bundles have equal hashes.
    pub fn content_hash(&self) -> Result<ContentHash> {
        Ok(mlops_core::hash_bytes(&self.to_bytes()?))
    }

    /// Transforms a batch with the bundle's pipeline and returns P(positive) per row (no
    /// signature validation; the serving crate's predictor adds that).
    pub fn predict_proba(&self, batch: &RecordBatch) -> Result<Vec<f64>> {
        let features = self.pipeline.transform(batch)?;
        self.model.predict_proba(features.data.view())
    }

    /// The names of the model's input features (the pipeline's output columns).
    pub fn feature_names(&self) -> &[String] {
        self.pipeline.feature_names()
    }
}
