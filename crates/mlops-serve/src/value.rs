//! Request values: [`Value`] (one cell) and [`Record`] (one row).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use mlops_core::event::Value;

/// One request row: column name → value. Order is irrelevant; extra columns are ignored.
///
/// ```
/// use mlops_serve::{Record, Value};
/// let r = Record::new().with("age", 41).with("plan", "gold").with("score", 0.5);
/// assert_eq!(r.get("age"), Some(&Value::Int(41)));
/// let json = serde_json::to_string(&r).unwrap();
/// assert_eq!(json, r#"{"age":41,"plan":"gold","score":0.5}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record(pub BTreeMap<String, Value>);

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds (or replaces) a value.
    pub fn with(mut self, col: impl Into<String>, v: impl Into<Value>) -> Self {
        self.0.insert(col.into(), v.into());
        self
    }
    /// Sets a value.
    pub fn insert(&mut self, col: impl Into<String>, v: impl Into<Value>) {
        self.0.insert(col.into(), v.into());
    }
    /// The value of a column.
    pub fn get(&self, col: &str) -> Option<&Value> {
        self.0.get(col)
    }
    /// Number of columns.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether the record has no columns.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, Value)> for Record {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn json_values_map_to_the_right_variants() {
        let r: Record =
            serde_json::from_str(r#"{"a": 3, "b": 2.5, "c": "x", "d": null, "e": true, "f": 1e3}"#)
                .unwrap();
        assert_eq!(r.get("a"), Some(&Value::Int(3)));
        assert_eq!(r.get("b"), Some(&Value::Float(2.5)));
        assert_eq!(r.get("c"), Some(&Value::Str("x".into())));
        assert_eq!(r.get("d"), Some(&Value::Null));
        assert_eq!(r.get("e"), Some(&Value::Bool(true)));
        assert_eq!(r.get("f"), Some(&Value::Float(1000.0)));
        assert_eq!(r.len(), 6);
        let back: Record = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(Record::new().is_empty());
        assert!(serde_json::from_str::<Record>(r#"{"a": [1]}"#).is_err());
    }
}
