//! The numeric output of a fitted pipeline.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// A dense feature matrix (rows × features) with one name per feature column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureMatrix {
    /// The values, one row per input row.
    pub data: Array2<f64>,
    /// One name per column of `data`, e.g. `age` or `plan=gold` for a one-hot column.
    pub names: Vec<String>,
}

impl FeatureMatrix {
    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.data.nrows()
    }
    /// Number of feature columns.
    pub fn ncols(&self) -> usize {
        self.data.ncols()
    }
    /// Index of a named feature column.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}
