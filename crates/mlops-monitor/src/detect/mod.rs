//! Streaming drift detectors behind one small trait, ported from river so that detections land
//! on the same observation indices (see `tests/fixtures/detectors/gen.py`).
//!
//! - [`Adwin`]: adaptive windowing over any real-valued stream (river `drift.ADWIN`).
//! - [`PageHinkley`]: cumulative-deviation test for mean shifts (river `drift.PageHinkley`).
//! - [`Ddm`]: drift detection method for 0/1 error streams, with warnings (river
//!   `drift.binary.DDM`).
//!
//! As in river, a detector that reported [`DriftStatus::Drift`] resets itself on the next
//! `update`, so the following observations start a fresh window. Every detector's state is
//! serde-serialisable, so a monitor can be checkpointed and resumed; resuming continues with
//! exactly the same detections when the format round-trips `f64` exactly (binary formats such as
//! MessagePack do; `serde_json` needs its `float_roundtrip` feature).

mod adwin;
mod ddm;
mod page_hinkley;

use serde::{Deserialize, Serialize};

pub use adwin::{Adwin, AdwinParams};
pub use ddm::{Ddm, DdmParams};
pub use page_hinkley::{PageHinkley, PageHinkleyMode, PageHinkleyParams};

use crate::error::{Error, Result};

/// What a detector concluded after an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftStatus {
    /// No change detected.
    #[default]
    Stable,
    /// A change may be starting (only detectors with a warning zone, e.g. [`Ddm`]).
    Warning,
    /// A change was detected at this observation.
    Drift,
}

/// A streaming drift detector: one observation at a time.
///
/// `update` never fails: a NaN or infinite observation is ignored (the state is unchanged and
/// the current status is returned). Use [`DriftDetector::try_update`] to get an error instead.
pub trait DriftDetector {
    /// Feed one observation and get the status after it.
    fn update(&mut self, x: f64) -> DriftStatus;

    /// Forget everything seen so far (parameters are kept).
    fn reset(&mut self);

    /// The status after the last observation.
    fn status(&self) -> DriftStatus;

    /// Short name of the detector, for reports.
    fn name(&self) -> &'static str;

    /// Like [`update`](DriftDetector::update), but a non-finite observation is an error.
    ///
    /// # Errors
    /// [`Error::InvalidObservation`] for NaN or infinite `x`.
    fn try_update(&mut self, x: f64) -> Result<DriftStatus> {
        if x.is_finite() {
            Ok(self.update(x))
        } else {
            Err(Error::InvalidObservation {
                detector: self.name(),
                value: x,
                reason: "must be finite",
            })
        }
    }
}

/// river's `stats.Mean`: `n += 1; mean += (x - mean) / n` (same operation order).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct RunningMean {
    pub(crate) n: f64,
    pub(crate) mean: f64,
}

impl RunningMean {
    pub(crate) fn update(&mut self, x: f64) {
        self.n += 1.0;
        self.mean += (1.0 / self.n) * (x - self.mean);
    }
}

pub(crate) fn invalid(name: &'static str, value: f64, reason: &'static str) -> Error {
    Error::InvalidParameter {
        name,
        value,
        reason,
    }
}
