//! Column selection inside a group: keep or drop columns by their current names (for example
//! `plan=gold` after a one-hot encoder).

use serde::{Deserialize, Serialize};

use super::work::{WorkCol, WorkSet};
use super::{ParamGuard, ParamsError};
use crate::{Error, Result};

fn check_list(what: &str, columns: &[String]) -> std::result::Result<(), ParamsError> {
    if columns.is_empty() {
        return Err(ParamsError::EmptyColumnList {
            what: what.to_string(),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in columns {
        if !seen.insert(c.as_str()) {
            return Err(ParamsError::DuplicateColumn {
                what: what.to_string(),
                column: c.clone(),
            });
        }
    }
    Ok(())
}

fn positions(set: &mut WorkSet<'_>, columns: &[String]) -> Result<Vec<usize>> {
    set.materialise_one_hot();
    let names: Vec<&str> = set.cols.iter().map(WorkCol::name).collect();
    columns
        .iter()
        .map(|c| {
            names
                .iter()
                .position(|n| n == c)
                .ok_or_else(|| Error::MissingColumn {
                    column: c.clone(),
                    available: names.iter().map(|s| s.to_string()).collect(),
                })
        })
        .collect()
}

/// Unchecked select parameters: keep only these columns, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectParams {
    columns: Vec<String>,
}

impl SelectParams {
    /// Keep `columns`.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Self {
            columns: columns.into_iter().map(Into::into).collect(),
        }
    }
}

/// Validated select parameters: a non-empty list without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSelect(Vec<String>);

impl ValidSelect {
    /// The columns kept.
    pub fn columns(&self) -> &[String] {
        &self.0
    }
    pub(crate) fn fit(&self, set: &mut WorkSet<'_>) -> Result<FittedSelection> {
        let keep = positions(set, &self.0)?;
        Ok(FittedSelection::new(set, keep))
    }
}

impl ParamGuard for SelectParams {
    type Checked = ValidSelect;
    fn check(&self) -> std::result::Result<ValidSelect, ParamsError> {
        check_list("select", &self.columns)?;
        Ok(ValidSelect(self.columns.clone()))
    }
}

/// Unchecked drop parameters: remove these columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropParams {
    columns: Vec<String>,
}

impl DropParams {
    /// Drop `columns`.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Self {
            columns: columns.into_iter().map(Into::into).collect(),
        }
    }
}

/// Validated drop parameters: a non-empty list without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidDrop(Vec<String>);

impl ValidDrop {
    /// The columns removed.
    pub fn columns(&self) -> &[String] {
        &self.0
    }
    pub(crate) fn fit(&self, set: &mut WorkSet<'_>) -> Result<FittedSelection> {
        let dropped = positions(set, &self.0)?;
        let keep = (0..set.cols.len())
            .filter(|i| !dropped.contains(i))
            .collect();
        Ok(FittedSelection::new(set, keep))
    }
}

impl ParamGuard for DropParams {
    type Checked = ValidDrop;
    fn check(&self) -> std::result::Result<ValidDrop, ParamsError> {
        check_list("drop", &self.columns)?;
        Ok(ValidDrop(self.columns.clone()))
    }
}

/// A fitted select or drop: the positions of the kept columns among the group's current columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FittedSelection {
    input_width: usize,
    keep: Vec<usize>,
    names: Vec<String>,
}

impl FittedSelection {
    fn new(set: &WorkSet<'_>, keep: Vec<usize>) -> Self {
        let names = keep
            .iter()
            .filter_map(|&i| set.cols.get(i).map(|c| c.name().to_string()))
            .collect();
        Self {
            input_width: set.cols.len(),
            keep,
            names,
        }
    }

    /// The names of the kept columns, in output order.
    pub fn kept(&self) -> &[String] {
        &self.names
    }

    pub(crate) fn transform(&self, set: &mut WorkSet<'_>) -> Result<()> {
        set.materialise_one_hot();
        if set.cols.len() != self.input_width {
            return Err(super::layout_error(
                "selection",
                self.input_width,
                set.cols.len(),
            ));
        }
        let mut slots: Vec<Option<WorkCol<'_>>> = std::mem::take(&mut set.cols)
            .into_iter()
            .map(Some)
            .collect();
        for &i in &self.keep {
            let col = slots.get_mut(i).and_then(Option::take).ok_or_else(|| {
                Error::Incompatible(format!(
                    "selection refers to column {i} twice or out of range"
                ))
            })?;
            set.cols.push(col);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn set() -> WorkSet<'static> {
        WorkSet {
            cols: vec![
                WorkCol::Num {
                    name: "a".into(),
                    values: vec![1.0],
                },
                WorkCol::OneHot {
                    names: vec!["p=x".into(), "p=y".into()],
                    codes: vec![1],
                },
            ],
            row_offset: 0,
            threads: 1,
        }
    }

    #[test]
    fn select_and_drop_check_errors() {
        assert!(matches!(
            SelectParams::new(Vec::<String>::new()).check().unwrap_err(),
            ParamsError::EmptyColumnList { .. }
        ));
        assert!(matches!(
            DropParams::new(["a", "a"]).check().unwrap_err(),
            ParamsError::DuplicateColumn { .. }
        ));
    }

    #[test]
    fn select_reorders_and_drop_removes_one_hot_columns() {
        let mut s = set();
        let f = SelectParams::new(["p=y", "a"])
            .check()
            .unwrap()
            .fit(&mut s)
            .unwrap();
        f.transform(&mut s).unwrap();
        assert_eq!(s.names(), vec!["p=y", "a"]);
        assert_eq!(s.check_output().unwrap(), vec!["p=y", "a"]);

        let mut s = set();
        let f = DropParams::new(["p=x"])
            .check()
            .unwrap()
            .fit(&mut s)
            .unwrap();
        f.transform(&mut s).unwrap();
        assert_eq!(s.names(), vec!["a", "p=y"]);

        let e = DropParams::new(["zz"])
            .check()
            .unwrap()
            .fit(&mut set())
            .unwrap_err();
        assert!(matches!(e, Error::MissingColumn { ref column, .. } if column == "zz"));
    }
}
