//! Events that cross crates: what a serving deployment predicted ([`PredictionEvent`]) and the
//! ground truth that arrives later ([`OutcomeEvent`]). The serving crate emits them; a monitor
//! consumes them without depending on the serving crate.
//!
//! ```
//! use mlops_core::event::{PredictionEvent, Role, Value};
//! let e = PredictionEvent {
//!     request_id: "r-1".into(),
//!     model: "churn".into(),
//!     version: 3,
//!     time_ms: 1_700_000_000_000,
//!     role: Role::Champion,
//!     probability: 0.8,
//!     label: "yes".into(),
//!     positive: true,
//!     inputs: Some([("age".to_string(), Value::Int(41))].into_iter().collect()),
//! };
//! assert_eq!(e.role.as_str(), "champion");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One input value (JSON-friendly: serialised untagged, so `null`, `true`, `3`, `2.5`, `"gold"`).
///
/// Deserialising a JSON integer that fits an `i64` gives [`Value::Int`], any other number
/// [`Value::Float`]. A non-finite float cannot travel in JSON (it is written as `null`), but it
/// can be built in code, and the serving layer rejects it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A missing value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// Text.
    Str(String),
}

impl Value {
    /// `"null"`, `"bool"`, `"int"`, `"float"` or `"string"`, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "bool",
            Self::Int(_) => "int",
            Self::Float(_) => "float",
            Self::Str(_) => "string",
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Str(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Str(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// Which part of a deployment produced a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The model serving most traffic; its answer was returned.
    Champion,
    /// A challenger given a share of traffic; its answer was returned.
    Canary,
    /// A challenger scored on a copy of the request; its answer was never returned.
    Shadow,
}

impl Role {
    /// `"champion"`, `"canary"` or `"shadow"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Champion => "champion",
            Self::Canary => "canary",
            Self::Shadow => "shadow",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One prediction made by a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionEvent {
    /// The request id (the same for the returned prediction and its shadow).
    pub request_id: String,
    /// The model name.
    pub model: String,
    /// The model version that produced this prediction.
    pub version: u64,
    /// When the prediction was made, unix milliseconds.
    pub time_ms: u64,
    /// Champion, canary or shadow.
    pub role: Role,
    /// P(positive class).
    pub probability: f64,
    /// The predicted label (the positive or the negative class name).
    pub label: String,
    /// Whether `label` is the positive class.
    pub positive: bool,
    /// The request's input values, when the deployment is configured to include them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<BTreeMap<String, Value>>,
}

/// The ground truth for an earlier request, arriving later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeEvent {
    /// The id of the request the outcome belongs to.
    pub request_id: String,
    /// When the outcome was observed, unix milliseconds.
    pub time_ms: u64,
    /// Whether the true class is the positive one.
    pub positive: bool,
}

/// Milliseconds since the unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_and_names() {
        assert_eq!(Value::from(2.5), Value::Float(2.5));
        assert_eq!(Value::from(3i64), Value::Int(3));
        assert_eq!(Value::from("a"), Value::Str("a".into()));
        assert_eq!(Value::from(None::<f64>), Value::Null);
        assert_eq!(Value::from(Some(true)), Value::Bool(true));
        assert_eq!(Value::Int(1).type_name(), "int");
        assert_eq!(Role::Shadow.to_string(), "shadow");
        assert!(now_ms() > 1_600_000_000_000);
    }

    #[test]
    fn types_are_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<PredictionEvent>();
        check::<OutcomeEvent>();
        check::<Value>();
    }
}
