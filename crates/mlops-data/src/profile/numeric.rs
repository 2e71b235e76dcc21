//! Statistics of numeric columns.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, PrimitiveArray};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use super::sketch::{QuantileSketch, SketchView};
use crate::{Error, Result};

pub(crate) fn is_numeric(t: &DataType) -> bool {
    t.is_integer() || t.is_floating()
}

/// Statistics of a numeric column. Integers are converted to `f64` (exact up to `2^53`).
///
/// `count` counts the non-null **finite** values; NaN and ±∞ are counted separately and do not
/// enter min/max, the moments or the sketch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NumericRepr", into = "NumericRepr")]
pub struct NumericStats {
    count: u64,
    nulls: u64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
    /// Values are accumulated relative to `shift` (the first finite value seen), which keeps
    /// Welford's update accurate for data with a large offset (condition number ≈ 1).
    shift: f64,
    /// Mean of `x − shift`.
    mean: f64,
    m2: f64,
    sketch: QuantileSketch,
}

impl NumericStats {
    pub(crate) fn new(k: usize) -> Self {
        Self {
            count: 0,
            nulls: 0,
            nan: 0,
            pos_inf: 0,
            neg_inf: 0,
            shift: 0.0,
            mean: 0.0,
            m2: 0.0,
            sketch: QuantileSketch::new_unchecked(k),
        }
    }

    /// Number of non-null finite values.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Number of nulls.
    pub fn nulls(&self) -> u64 {
        self.nulls
    }
    /// Number of NaN values.
    pub fn nan_count(&self) -> u64 {
        self.nan
    }
    /// Number of `+∞` values.
    pub fn pos_inf_count(&self) -> u64 {
        self.pos_inf
    }
    /// Number of `−∞` values.
    pub fn neg_inf_count(&self) -> u64 {
        self.neg_inf
    }
    /// Smallest finite value.
    pub fn min(&self) -> Option<f64> {
        self.sketch.min()
    }
    /// Largest finite value.
    pub fn max(&self) -> Option<f64> {
        self.sketch.max()
    }
    /// Mean of the finite values.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.shift + self.mean)
    }
    /// Sum of squared deviations from the mean (`M2`).
    pub fn m2(&self) -> f64 {
        self.m2
    }
    /// Population variance `M2 / n` (`None` when empty).
    pub fn variance_population(&self) -> Option<f64> {
        (self.count > 0).then(|| self.m2 / self.count as f64)
    }
    /// Sample variance `M2 / (n − 1)` (`None` for fewer than two values).
    pub fn variance_sample(&self) -> Option<f64> {
        (self.count > 1).then(|| self.m2 / (self.count - 1) as f64)
    }
    /// Population standard deviation.
    pub fn std_population(&self) -> Option<f64> {
        self.variance_population().map(f64::sqrt)
    }
    /// Sample standard deviation.
    pub fn std_sample(&self) -> Option<f64> {
        self.variance_sample().map(f64::sqrt)
    }
    /// The quantile sketch of the finite values.
    pub fn sketch(&self) -> &QuantileSketch {
        &self.sketch
    }
    /// A sorted view of the sketch for many queries.
    pub fn view(&self) -> SketchView {
        self.sketch.view()
    }
    /// Approximate `q`-quantile; see [`QuantileSketch::quantile`].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.sketch.quantile(q)
    }
    /// Approximate fraction of finite values `≤ x`; see [`QuantileSketch::cdf`].
    pub fn cdf(&self, x: f64) -> f64 {
        self.sketch.cdf(x)
    }
    /// Approximate counts per bin; see [`SketchView::histogram`].
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for NaN or non-increasing edges.
    pub fn histogram(&self, edges: &[f64]) -> Result<Vec<f64>> {
        self.sketch.histogram(edges)
    }
    /// The sketch's guaranteed normalised rank-error bound.
    pub fn error_bound(&self) -> f64 {
        self.sketch.error_bound()
    }

    /// Adds one value (Welford's update for finite values).
    #[inline]
    pub(crate) fn push(&mut self, x: f64) {
        if x.is_finite() {
            if self.count == 0 {
                self.shift = x;
            }
            self.count += 1;
            let y = x - self.shift;
            let delta = y - self.mean;
            // Multiplying by the reciprocal keeps the division off the dependency chain.
            self.mean += delta * (1.0 / self.count as f64);
            self.m2 += delta * (y - self.mean);
            self.sketch.push_finite(x);
        } else if x.is_nan() {
            self.nan += 1;
        } else if x > 0.0 {
            self.pos_inf += 1;
        } else {
            self.neg_inf += 1;
        }
    }

    fn update_primitive<T: ArrowPrimitiveType>(
        &mut self,
        a: &PrimitiveArray<T>,
        conv: impl Fn(T::Native) -> f64,
    ) {
        let values = a.values();
        match a.nulls().filter(|n| n.null_count() > 0) {
            None => {
                for &v in values.iter() {
                    self.push(conv(v));
                }
            }
            Some(nulls) => {
                self.nulls += nulls.null_count() as u64;
                for (&v, valid) in values.iter().zip(nulls.iter()) {
                    if valid {
                        self.push(conv(v));
                    }
                }
            }
        }
    }

    pub(crate) fn update(&mut self, array: &dyn Array, column: &str) -> Result<()> {
        match array.data_type() {
            DataType::Float64 => self.update_primitive(array.as_primitive::<Float64Type>(), |v| v),
            DataType::Float32 => {
                self.update_primitive(array.as_primitive::<Float32Type>(), f64::from);
            }
            DataType::Float16 => {
                self.update_primitive(array.as_primitive::<Float16Type>(), f64::from);
            }
            DataType::Int64 => {
                self.update_primitive(array.as_primitive::<Int64Type>(), |v| v as f64);
            }
            DataType::Int32 => {
                self.update_primitive(array.as_primitive::<Int32Type>(), f64::from);
            }
            DataType::Int16 => {
                self.update_primitive(array.as_primitive::<Int16Type>(), f64::from);
            }
            DataType::Int8 => self.update_primitive(array.as_primitive::<Int8Type>(), f64::from),
            DataType::UInt64 => {
                self.update_primitive(array.as_primitive::<UInt64Type>(), |v| v as f64);
            }
            DataType::UInt32 => {
                self.update_primitive(array.as_primitive::<UInt32Type>(), f64::from);
            }
            DataType::UInt16 => {
                self.update_primitive(array.as_primitive::<UInt16Type>(), f64::from);
            }
            DataType::UInt8 => {
                self.update_primitive(array.as_primitive::<UInt8Type>(), f64::from);
            }
            other => {
                return Err(Error::TypeMismatch {
                    column: column.to_string(),
                    expected: "a numeric type".into(),
                    found: other.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Chan et al.'s parallel combination of counts, means and `M2`.
    pub(crate) fn merge(&mut self, other: &Self) -> Result<()> {
        self.sketch.merge(&other.sketch)?;
        self.nulls += other.nulls;
        self.nan += other.nan;
        self.pos_inf += other.pos_inf;
        self.neg_inf += other.neg_inf;
        if other.count == 0 {
            return Ok(());
        }
        if self.count == 0 {
            self.count = other.count;
            self.shift = other.shift;
            self.mean = other.mean;
            self.m2 = other.m2;
            return Ok(());
        }
        let na = self.count as f64;
        let nb = other.count as f64;
        let n = na + nb;
        // `other`'s mean relative to our shift; the shift difference is exact for close shifts.
        let other_mean = (other.shift - self.shift) + other.mean;
        let delta = other_mean - self.mean;
        self.mean += delta * (nb / n);
        self.m2 += other.m2 + delta * delta * (na * nb / n);
        self.count += other.count;
        Ok(())
    }
}

/// Serialised form, validated on decoding.
#[derive(Serialize, Deserialize)]
struct NumericRepr {
    count: u64,
    nulls: u64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
    /// Values are accumulated relative to `shift` (the first finite value seen), which keeps
    /// Welford's update accurate for data with a large offset (condition number ≈ 1).
    shift: f64,
    /// Mean of `x − shift`.
    mean: f64,
    m2: f64,
    sketch: QuantileSketch,
}

impl From<NumericStats> for NumericRepr {
    fn from(s: NumericStats) -> Self {
        Self {
            count: s.count,
            nulls: s.nulls,
            nan: s.nan,
            pos_inf: s.pos_inf,
            neg_inf: s.neg_inf,
            shift: s.shift,
            mean: s.mean,
            m2: s.m2,
            sketch: s.sketch,
        }
    }
}

impl TryFrom<NumericRepr> for NumericStats {
    type Error = Error;
    fn try_from(r: NumericRepr) -> Result<Self> {
        if r.count != r.sketch.n() {
            return Err(Error::Serialization(
                "invalid numeric statistics: count differs from the sketch's".into(),
            ));
        }
        Ok(Self {
            count: r.count,
            nulls: r.nulls,
            nan: r.nan,
            pos_inf: r.pos_inf,
            neg_inf: r.neg_inf,
            shift: r.shift,
            mean: r.mean,
            m2: r.m2,
            sketch: r.sketch,
        })
    }
}
