//! Model metadata, version views, version selectors and search queries.

use std::collections::BTreeMap;

use mlops_core::{ContentHash, Name};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest metric or parameter key, in bytes.
pub const MAX_KEY_LEN: usize = 128;
/// Longest parameter or tag value, in bytes.
pub const MAX_VALUE_LEN: usize = 4096;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_LEN: usize = 16 * 1024;
/// Largest metadata record once serialised to JSON, in bytes.
pub const MAX_METADATA_BYTES: usize = 256 * 1024;
/// Most dataset fingerprints in one lineage record.
pub const MAX_FINGERPRINTS: usize = 1024;

/// Where a model version came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lineage {
    /// The training run that produced the model, if recorded.
    pub run_id: Option<Name>,
    /// Fingerprints of the datasets the model was trained and evaluated on.
    pub dataset_fingerprints: Vec<ContentHash>,
}

/// Metadata stored with each model version (inside its `register_version` event).
///
/// Maps are `BTreeMap`s so the serialised form (and therefore every event hash) is deterministic.
///
/// ```
/// use mlops_registry::ModelMetadata;
/// let meta = ModelMetadata::default()
///     .with_description("gradient boosted churn model")
///     .with_metric("auc", 0.91)
///     .with_param("max_depth", "6");
/// assert_eq!(meta.metrics["auc"], 0.91);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelMetadata {
    /// Free text, at most [`MAX_DESCRIPTION_LEN`] bytes.
    pub description: String,
    /// Evaluation metrics; values must be finite.
    pub metrics: BTreeMap<String, f64>,
    /// Hyper-parameters and other settings, as text.
    pub params: BTreeMap<String, String>,
    /// Tags: validated names with a text value (may be empty).
    pub tags: BTreeMap<Name, String>,
    /// A summary of the input signature, opaque to the registry.
    pub signature: Option<serde_json::Value>,
    /// Run and dataset lineage.
    pub lineage: Lineage,
}

impl ModelMetadata {
    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
    /// Adds (or replaces) a metric.
    pub fn with_metric(mut self, key: impl Into<String>, value: f64) -> Self {
        self.metrics.insert(key.into(), value);
        self
    }
    /// Adds (or replaces) a parameter.
    pub fn with_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }
    /// Adds (or replaces) a tag; the key is validated as a [`Name`].
    pub fn with_tag(mut self, key: &str, value: impl Into<String>) -> Result<Self> {
        let key = crate::error::name("tag", key)?;
        self.tags.insert(key, value.into());
        Ok(self)
    }
    /// Sets the signature summary.
    pub fn with_signature(mut self, signature: serde_json::Value) -> Self {
        self.signature = Some(signature);
        self
    }
    /// Sets the lineage.
    pub fn with_lineage(mut self, lineage: Lineage) -> Self {
        self.lineage = lineage;
        self
    }

    /// Checks every limit: key lengths, finite metrics, value lengths, total size.
    pub fn validate(&self) -> Result<()> {
        check_text("description", &self.description, MAX_DESCRIPTION_LEN, true)?;
        for (k, v) in &self.metrics {
            check_key("metrics", k)?;
            if !v.is_finite() {
                return Err(Error::input(
                    format!("metrics[{k:?}]"),
                    format!("{v} is not finite"),
                ));
            }
        }
        for (k, v) in &self.params {
            check_key("params", k)?;
            check_text(&format!("params[{k:?}]"), v, MAX_VALUE_LEN, false)?;
        }
        for (k, v) in &self.tags {
            check_text(&format!("tags[{k:?}]"), v, MAX_VALUE_LEN, false)?;
        }
        if self.lineage.dataset_fingerprints.len() > MAX_FINGERPRINTS {
            return Err(Error::input(
                "lineage.dataset_fingerprints",
                format!("more than {MAX_FINGERPRINTS} entries"),
            ));
        }
        let size = serde_json::to_vec(self)
            .map_err(|e| Error::input("metadata", e.to_string()))?
            .len();
        if size > MAX_METADATA_BYTES {
            return Err(Error::input(
                "metadata",
                format!("{size} bytes serialised, over the {MAX_METADATA_BYTES}-byte limit"),
            ));
        }
        Ok(())
    }
}

fn check_key(map: &str, key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(Error::input(
            format!("{map}[{key:?}]"),
            format!("keys must be 1 to {MAX_KEY_LEN} bytes without control characters"),
        ));
    }
    Ok(())
}

pub(crate) fn check_text(field: &str, text: &str, max: usize, allow_newlines: bool) -> Result<()> {
    if text.len() > max {
        return Err(Error::input(field, format!("longer than {max} bytes")));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\t' | '\r')))
    {
        return Err(Error::input(field, "contains a control character"));
    }
    Ok(())
}

/// One registered version of a model, as seen in the current state of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// The model name.
    pub model: Name,
    /// The version number (1, 2, 3, … per model).
    pub version: u64,
    /// sha256 of the bundle bytes (the blob key).
    pub blob: ContentHash,
    /// Size of the bundle in bytes.
    pub size: u64,
    /// The metadata given at registration.
    pub metadata: ModelMetadata,
    /// Registration time, unix milliseconds.
    pub registered_ms: u64,
    /// Who registered it.
    pub actor: String,
    /// Sequence number of the `register_version` event.
    pub event_seq: u64,
    /// Whether the version has been archived.
    pub archived: bool,
    /// Aliases that currently point at this version, sorted.
    pub aliases: Vec<Name>,
}

/// Selects one version of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionRef<'a> {
    /// An explicit version number (archived versions can still be read).
    Number(u64),
    /// The version an alias points at, e.g. `VersionRef::Alias("champion")`.
    Alias(&'a str),
    /// The highest version that is not archived.
    Latest,
}

/// A search over model versions: every set criterion must hold.
///
/// ```
/// use mlops_registry::ModelQuery;
/// let q = ModelQuery::new()
///     .model("churn")
///     .tag("team", Some("growth"))
///     .metric_at_least("auc", 0.8)
///     .order_by_metric_desc("auc");
/// # let _ = q;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelQuery {
    pub(crate) model: Option<String>,
    pub(crate) tag: Option<(String, Option<String>)>,
    pub(crate) metric_bounds: Vec<(String, f64, f64)>,
    pub(crate) include_archived: bool,
    pub(crate) order_by: Option<String>,
    pub(crate) limit: Option<usize>,
}

impl ModelQuery {
    /// Matches every non-archived version of every model.
    pub fn new() -> Self {
        Self::default()
    }
    /// Only versions of this model.
    pub fn model(mut self, name: &str) -> Self {
        self.model = Some(name.to_owned());
        self
    }
    /// Only versions carrying this tag (with this value, if given).
    pub fn tag(mut self, key: &str, value: Option<&str>) -> Self {
        self.tag = Some((key.to_owned(), value.map(str::to_owned)));
        self
    }
    /// Only versions whose metric is `>= min` (versions without the metric are excluded).
    pub fn metric_at_least(mut self, metric: &str, min: f64) -> Self {
        self.metric_bounds
            .push((metric.to_owned(), min, f64::INFINITY));
        self
    }
    /// Only versions whose metric is `<= max` (versions without the metric are excluded).
    pub fn metric_at_most(mut self, metric: &str, max: f64) -> Self {
        self.metric_bounds
            .push((metric.to_owned(), f64::NEG_INFINITY, max));
        self
    }
    /// Includes archived versions too.
    pub fn include_archived(mut self, yes: bool) -> Self {
        self.include_archived = yes;
        self
    }
    /// Orders by this metric, highest first (versions without it last); ties and the default
    /// order are by model name, then version.
    pub fn order_by_metric_desc(mut self, metric: &str) -> Self {
        self.order_by = Some(metric.to_owned());
        self
    }
    /// Returns at most `n` versions.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }
}
