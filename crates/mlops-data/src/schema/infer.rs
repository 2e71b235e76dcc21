//! Schema inference from a batch stream.

use std::collections::BTreeSet;

use arrow_array::Array;
use serde::{Deserialize, Serialize};

use super::access::{TextColumn, for_each_f64};
use super::{
    ColumnKind, ColumnSchema, Range, TableSchema, column_at, kind_for_schema, same_layout,
};
use crate::{BatchStream, Error, Result};

/// Options for [`TableSchema::infer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferOptions {
    /// A text column with at most this many distinct values gets them recorded as its
    /// categories; with more, its categories are `None` (any value allowed). Default 50.
    pub max_categories: usize,
}

impl Default for InferOptions {
    fn default() -> Self {
        Self { max_categories: 50 }
    }
}

impl InferOptions {
    /// Sets [`InferOptions::max_categories`].
    pub fn max_categories(mut self, max: usize) -> Self {
        self.max_categories = max;
        self
    }
}

/// Running state for one column.
struct ColState {
    name: String,
    kind: ColumnKind,
    saw_null: bool,
    saw_non_finite: bool,
    min: f64,
    max: f64,
    /// Distinct categories while there are at most `max_categories`; `None` once exceeded.
    categories: Option<BTreeSet<String>>,
}

impl ColState {
    fn observe(&mut self, array: &dyn Array, max_categories: usize) {
        if array.logical_null_count() > 0 {
            self.saw_null = true;
        }
        match self.kind {
            ColumnKind::Float | ColumnKind::Integer => {
                let (mut min, mut max, mut non_finite) = (self.min, self.max, false);
                for_each_f64(array, |_, v| {
                    if v.is_finite() {
                        min = min.min(v);
                        max = max.max(v);
                    } else {
                        non_finite = true;
                    }
                });
                self.min = min;
                self.max = max;
                self.saw_non_finite |= non_finite;
            }
            ColumnKind::Boolean => {}
            ColumnKind::Categorical => {
                let Some(cats) = self.categories.as_mut() else {
                    return;
                };
                let Some(text) = TextColumn::new(array) else {
                    return;
                };
                for i in 0..text.len() {
                    if let Some(s) = text.get(i)
                        && !cats.contains(s)
                    {
                        if cats.len() >= max_categories {
                            self.categories = None;
                            return;
                        }
                        cats.insert(s.to_owned());
                    }
                }
            }
        }
    }

    fn finish(self) -> ColumnSchema {
        let range = (self.kind.is_numeric() && self.min <= self.max)
            .then(|| Range::new(self.min, self.max));
        ColumnSchema {
            name: self.name,
            kind: self.kind,
            nullable: self.saw_null,
            categories: if self.kind == ColumnKind::Categorical {
                self.categories
            } else {
                None
            },
            range,
            allow_non_finite: self.saw_non_finite,
        }
    }
}

pub(super) fn infer(stream: BatchStream, options: &InferOptions) -> Result<TableSchema> {
    let _span = tracing::debug_span!("schema_infer").entered();
    let arrow_schema = stream.schema();
    let mut states = arrow_schema
        .fields()
        .iter()
        .map(|f| {
            let kind = kind_for_schema(f.name(), f.data_type())?;
            Ok(ColState {
                name: f.name().clone(),
                kind,
                saw_null: false,
                saw_non_finite: false,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                categories: Some(BTreeSet::new()),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut seen = BTreeSet::new();
    if let Some(dup) = states.iter().find(|s| !seen.insert(s.name.as_str())) {
        return Err(Error::DuplicateColumn {
            column: dup.name.clone(),
        });
    }
    let mut rows: u64 = 0;
    for batch in stream {
        let batch = batch?;
        if !same_layout(batch.schema_ref(), &arrow_schema) {
            return Err(Error::SchemaMismatch {
                expected: arrow_schema.to_string(),
                found: batch.schema().to_string(),
            });
        }
        rows += batch.num_rows() as u64;
        for (idx, state) in states.iter_mut().enumerate() {
            if let Some(array) = column_at(&batch, idx) {
                state.observe(array, options.max_categories);
            }
        }
    }
    if rows == 0 {
        return Err(Error::EmptyTable { path: None });
    }
    tracing::debug!(rows, columns = states.len(), "schema inferred");
    Ok(TableSchema {
        columns: states.into_iter().map(ColState::finish).collect(),
        allow_extra_columns: true,
    })
}
