//! Open Inference Protocol (KServe v2) JSON types and their conversion to [`Record`]s.
//!
//! A request carries one input tensor per column, each with `n` rows (shape `[n]` or `[n, 1]`):
//!
//! ```
//! use mlops_serve::http::oip::InferRequest;
//!
//! let body = r#"{"id": "r1", "inputs": [
//!     {"name": "age", "shape": [2], "datatype": "FP64", "data": [31.0, 45.5]},
//!     {"name": "plan", "shape": [2, 1], "datatype": "BYTES", "data": [["basic"], ["pro"]]}
//! ]}"#;
//! let request: InferRequest = serde_json::from_str(body).unwrap();
//! let records = request.to_records().unwrap();
//! assert_eq!(records.len(), 2);
//! assert_eq!(records[1].0["plan"], mlops_serve::Value::Str("pro".into()));
//! ```
//!
//! The response has two outputs, `probability` (FP64, P(positive)) and `label` (BYTES), both of
//! shape `[n]`, and names the one model version that scored every row.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{Prediction, Record, Value};

/// Name of the probability output tensor.
pub const PROBABILITY_OUTPUT: &str = "probability";
/// Name of the label output tensor.
pub const LABEL_OUTPUT: &str = "label";

/// The tensor datatypes a request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datatype {
    /// 64-bit float.
    Fp64,
    /// 32-bit float.
    Fp32,
    /// 16-bit float (sent as JSON numbers).
    Fp16,
    /// Signed integers of 8 to 64 bits.
    Int {
        /// Width in bits.
        bits: u32,
    },
    /// Unsigned integers of 8 to 64 bits.
    Uint {
        /// Width in bits.
        bits: u32,
    },
    /// Text.
    Bytes,
    /// Booleans.
    Bool,
}

impl Datatype {
    /// Parses an OIP datatype name (`"FP64"`, `"INT32"`, `"BYTES"`, ...).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "FP64" => Self::Fp64,
            "FP32" => Self::Fp32,
            "FP16" => Self::Fp16,
            "INT8" => Self::Int { bits: 8 },
            "INT16" => Self::Int { bits: 16 },
            "INT32" => Self::Int { bits: 32 },
            "INT64" => Self::Int { bits: 64 },
            "UINT8" => Self::Uint { bits: 8 },
            "UINT16" => Self::Uint { bits: 16 },
            "UINT32" => Self::Uint { bits: 32 },
            "UINT64" => Self::Uint { bits: 64 },
            "BYTES" => Self::Bytes,
            "BOOL" => Self::Bool,
            _ => return None,
        })
    }

    /// The OIP name of the datatype.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Fp64 => "FP64",
            Self::Fp32 => "FP32",
            Self::Fp16 => "FP16",
            Self::Int { bits: 8 } => "INT8",
            Self::Int { bits: 16 } => "INT16",
            Self::Int { bits: 32 } => "INT32",
            Self::Int { .. } => "INT64",
            Self::Uint { bits: 8 } => "UINT8",
            Self::Uint { bits: 16 } => "UINT16",
            Self::Uint { bits: 32 } => "UINT32",
            Self::Uint { .. } => "UINT64",
            Self::Bytes => "BYTES",
            Self::Bool => "BOOL",
        }
    }

    /// Converts one JSON element; `null` becomes [`Value::Null`] for every datatype (the model's
    /// signature decides whether a null is allowed).
    fn convert(&self, v: &serde_json::Value) -> Option<Value> {
        use serde_json::Value as J;
        if v.is_null() {
            return Some(Value::Null);
        }
        match self {
            Self::Fp64 | Self::Fp32 | Self::Fp16 => v.as_f64().map(Value::Float),
            Self::Int { bits } => {
                let i = v.as_i64()?;
                let fits = *bits >= 64 || {
                    let lim = 1i64 << (bits - 1);
                    (-lim..lim).contains(&i)
                };
                fits.then_some(Value::Int(i))
            }
            Self::Uint { bits } => {
                let u = v.as_u64()?;
                let fits = *bits >= 64 || u < (1u64 << bits);
                if !fits {
                    return None;
                }
                i64::try_from(u).ok().map(Value::Int)
            }
            Self::Bytes => match v {
                J::String(s) => Some(Value::Str(s.clone())),
                _ => None,
            },
            Self::Bool => v.as_bool().map(Value::Bool),
        }
    }
}

/// Why an inference request could not be turned into records (HTTP 400).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OipError {
    /// The request has no input tensors.
    #[error("the request has no inputs")]
    NoInputs,
    /// Two input tensors share a name.
    #[error("input `{input}` appears more than once")]
    DuplicateInput {
        /// The repeated name.
        input: String,
    },
    /// A datatype this server does not know.
    #[error("input `{input}`: unknown datatype `{datatype}`")]
    UnknownDatatype {
        /// The input tensor.
        input: String,
        /// The datatype sent.
        datatype: String,
    },
    /// A shape other than `[n]` or `[n, 1]`.
    #[error("input `{input}`: shape {shape:?} is not [n] or [n, 1]")]
    BadShape {
        /// The input tensor.
        input: String,
        /// The shape sent.
        shape: Vec<i64>,
    },
    /// The number of data elements differs from the shape.
    #[error("input `{input}`: shape {shape:?} needs {expected} element(s) but data has {found}")]
    ShapeMismatch {
        /// The input tensor.
        input: String,
        /// The shape sent.
        shape: Vec<i64>,
        /// Elements the shape implies.
        expected: usize,
        /// Elements sent.
        found: usize,
    },
    /// Inputs disagree on the number of rows.
    #[error("input `{input}` has {rows} row(s) but input `{first}` has {expected}")]
    RowCountMismatch {
        /// The input tensor that differs.
        input: String,
        /// Its row count.
        rows: usize,
        /// The first input tensor.
        first: String,
        /// The first input's row count.
        expected: usize,
    },
    /// A data element that does not match the datatype.
    #[error("input `{input}` row {row}: {found} is not a valid {datatype} value")]
    BadElement {
        /// The input tensor.
        input: String,
        /// Row index.
        row: usize,
        /// The declared datatype.
        datatype: &'static str,
        /// The element sent (truncated JSON).
        found: String,
    },
    /// Data nested deeper than `[n, 1]`.
    #[error("input `{input}`: data is nested more deeply than [n, 1]")]
    Nested {
        /// The input tensor.
        input: String,
    },
    /// More rows than the server accepts in one request.
    #[error("the request has {rows} rows; at most {max} are accepted")]
    TooManyRows {
        /// Rows sent.
        rows: usize,
        /// The limit.
        max: usize,
    },
}

/// One input tensor of an [`InferRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestInput {
    /// The column name.
    pub name: String,
    /// `[n]` or `[n, 1]`.
    pub shape: Vec<i64>,
    /// An OIP datatype name (see [`Datatype`]).
    pub datatype: String,
    /// Optional per-input parameters (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// The elements, flat (`[a, b]`) or nested one level (`[[a], [b]]`).
    pub data: Vec<serde_json::Value>,
}

/// A requested output (accepted for compatibility; both outputs are always returned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestOutput {
    /// The output name.
    pub name: String,
    /// Optional parameters (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST /v2/models/{name}/infer` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferRequest {
    /// Request id, echoed in the response (and used as the canary routing key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Optional parameters (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// One tensor per column.
    pub inputs: Vec<RequestInput>,
    /// Requested outputs (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<RequestOutput>>,
}

fn rows_of(input: &RequestInput) -> Result<usize, OipError> {
    let bad = || OipError::BadShape {
        input: input.name.clone(),
        shape: input.shape.clone(),
    };
    let n = match input.shape.as_slice() {
        [n] | [n, 1] => usize::try_from(*n).map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    Ok(n)
}

fn short(v: &serde_json::Value) -> String {
    let mut s = v.to_string();
    if s.len() > 40 {
        let mut cut = 40;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

impl InferRequest {
    /// Converts the tensors to one [`Record`] per row.
    ///
    /// # Errors
    /// An [`OipError`] naming the input (and row) for: no inputs, a duplicate name, an unknown
    /// datatype, a shape other than `[n]`/`[n, 1]`, a data length that differs from the shape,
    /// inputs with different row counts, or an element that does not match its datatype.
    pub fn to_records(&self) -> Result<Vec<Record>, OipError> {
        self.to_records_limited(usize::MAX)
    }

    /// Like [`to_records`](Self::to_records), refusing more than `max_rows` rows
    /// ([`OipError::TooManyRows`]) before building any record.
    ///
    /// # Errors
    /// See [`to_records`](Self::to_records).
    pub fn to_records_limited(&self, max_rows: usize) -> Result<Vec<Record>, OipError> {
        let first = self.inputs.first().ok_or(OipError::NoInputs)?;
        let mut seen = BTreeSet::new();
        let mut plan = Vec::with_capacity(self.inputs.len());
        let n = rows_of(first)?;
        if n > max_rows {
            return Err(OipError::TooManyRows {
                rows: n,
                max: max_rows,
            });
        }
        for input in &self.inputs {
            if !seen.insert(input.name.as_str()) {
                return Err(OipError::DuplicateInput {
                    input: input.name.clone(),
                });
            }
            let datatype =
                Datatype::parse(&input.datatype).ok_or_else(|| OipError::UnknownDatatype {
                    input: input.name.clone(),
                    datatype: input.datatype.clone(),
                })?;
            let rows = rows_of(input)?;
            if rows != n {
                return Err(OipError::RowCountMismatch {
                    input: input.name.clone(),
                    rows,
                    first: first.name.clone(),
                    expected: n,
                });
            }
            if input.data.len() != n {
                return Err(OipError::ShapeMismatch {
                    input: input.name.clone(),
                    shape: input.shape.clone(),
                    expected: n,
                    found: input.data.len(),
                });
            }
            plan.push((input, datatype));
        }
        let mut records: Vec<Record> = (0..n).map(|_| Record::default()).collect();
        for (input, datatype) in plan {
            for (row, (element, record)) in input.data.iter().zip(records.iter_mut()).enumerate() {
                // `[[a], [b]]`: one level of nesting with exactly one element per row.
                let element = match element {
                    serde_json::Value::Array(inner) => match inner.as_slice() {
                        [one] if !one.is_array() => one,
                        _ => {
                            return Err(OipError::Nested {
                                input: input.name.clone(),
                            });
                        }
                    },
                    other => other,
                };
                let value = datatype
                    .convert(element)
                    .ok_or_else(|| OipError::BadElement {
                        input: input.name.clone(),
                        row,
                        datatype: datatype.name(),
                        found: short(element),
                    })?;
                record.0.insert(input.name.clone(), value);
            }
        }
        Ok(records)
    }
}

/// The data of one output tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OutputData {
    /// FP64 elements.
    Fp64(Vec<f64>),
    /// BYTES elements.
    Bytes(Vec<String>),
}

/// One output tensor of an [`InferResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseOutput {
    /// `probability` or `label`.
    pub name: String,
    /// `[n]`.
    pub shape: Vec<usize>,
    /// `FP64` or `BYTES`.
    pub datatype: String,
    /// The elements.
    pub data: OutputData,
}

/// `POST /v2/models/{name}/infer` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferResponse {
    /// The deployment name.
    pub model_name: String,
    /// The one version that scored every row (as text, per the protocol).
    pub model_version: String,
    /// The request id (echoed, or generated).
    pub id: String,
    /// `probability` then `label`.
    pub outputs: Vec<ResponseOutput>,
}

impl InferResponse {
    /// Builds a response from predictions that all come from `model`/`version`.
    pub fn from_predictions(
        model: &str,
        version: u64,
        id: String,
        predictions: &[Prediction],
    ) -> Self {
        let n = predictions.len();
        Self {
            model_name: model.to_string(),
            model_version: version.to_string(),
            id,
            outputs: vec![
                ResponseOutput {
                    name: PROBABILITY_OUTPUT.to_string(),
                    shape: vec![n],
                    datatype: "FP64".to_string(),
                    data: OutputData::Fp64(predictions.iter().map(|p| p.probability).collect()),
                },
                ResponseOutput {
                    name: LABEL_OUTPUT.to_string(),
                    shape: vec![n],
                    datatype: "BYTES".to_string(),
                    data: OutputData::Bytes(predictions.iter().map(|p| p.label.clone()).collect()),
                },
            ],
        }
    }
}

/// One tensor description in [`ModelMetadata`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorMetadata {
    /// Tensor (column) name.
    pub name: String,
    /// OIP datatype.
    pub datatype: String,
    /// `[-1]`: any number of rows.
    pub shape: Vec<i64>,
}

/// `GET /v2/models/{name}` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// The deployment name.
    pub name: String,
    /// Versions that can be addressed (the champion first).
    pub versions: Vec<String>,
    /// Always `mlops-rs`.
    pub platform: String,
    /// One tensor per signature column.
    pub inputs: Vec<TensorMetadata>,
    /// `probability` (FP64) and `label` (BYTES).
    pub outputs: Vec<TensorMetadata>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn req(body: &str) -> InferRequest {
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn flat_and_nested_data_give_the_same_records() {
        let a = req(
            r#"{"inputs":[{"name":"x","shape":[2],"datatype":"INT64","data":[1,2]},
                         {"name":"c","shape":[2],"datatype":"BYTES","data":["a",null]}]}"#,
        )
        .to_records()
        .unwrap();
        let b = req(
            r#"{"inputs":[{"name":"x","shape":[2,1],"datatype":"INT64","data":[[1],[2]]},
                         {"name":"c","shape":[2,1],"datatype":"BYTES","data":[["a"],[null]]}]}"#,
        )
        .to_records()
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].0["x"], Value::Int(1));
        assert_eq!(a[1].0["c"], Value::Null);
    }

    #[test]
    fn typed_errors_name_the_input() {
        type Check = fn(&OipError) -> bool;
        let cases: &[(&str, Check)] = &[
            (r#"{"inputs":[]}"#, |e| matches!(e, OipError::NoInputs)),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1]},{"name":"x","shape":[1],"datatype":"FP64","data":[1]}]}"#,
                |e| matches!(e, OipError::DuplicateInput { input } if input == "x"),
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"COMPLEX","data":[1]}]}"#,
                |e| matches!(e, OipError::UnknownDatatype { datatype, .. } if datatype == "COMPLEX"),
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP64","data":[1,2]}]}"#,
                |e| matches!(e, OipError::BadShape { .. }),
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[-1],"datatype":"FP64","data":[1]}]}"#,
                |e| matches!(e, OipError::BadShape { .. }),
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[3],"datatype":"FP64","data":[1,2]}]}"#,
                |e| {
                    matches!(
                        e,
                        OipError::ShapeMismatch {
                            expected: 3,
                            found: 2,
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP64","data":[1,2]},{"name":"y","shape":[1],"datatype":"FP64","data":[1]}]}"#,
                |e| matches!(e, OipError::RowCountMismatch { input, rows: 1, expected: 2, .. } if input == "y"),
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP64","data":[1,"a"]}]}"#,
                |e| {
                    matches!(
                        e,
                        OipError::BadElement {
                            row: 1,
                            datatype: "FP64",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[1.5]}]}"#,
                |e| {
                    matches!(
                        e,
                        OipError::BadElement {
                            datatype: "INT64",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[3000000000]}]}"#,
                |e| {
                    matches!(
                        e,
                        OipError::BadElement {
                            datatype: "INT32",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[-1]}]}"#,
                |e| {
                    matches!(
                        e,
                        OipError::BadElement {
                            datatype: "UINT8",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"BOOL","data":[1]}]}"#,
                |e| {
                    matches!(
                        e,
                        OipError::BadElement {
                            datatype: "BOOL",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":[7]}]}"#,
                |e| {
                    matches!(
                        e,
                        OipError::BadElement {
                            datatype: "BYTES",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP64","data":[[[1]]]}]}"#,
                |e| matches!(e, OipError::Nested { .. }),
            ),
        ];
        for (body, check) in cases {
            let err = req(body).to_records().unwrap_err();
            assert!(check(&err), "{body}: {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn row_limit_and_datatypes() {
        let r = req(r#"{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2,3]}]}"#);
        assert!(matches!(
            r.to_records_limited(2),
            Err(OipError::TooManyRows { rows: 3, max: 2 })
        ));
        assert_eq!(
            r.to_records_limited(3).unwrap()[2].0["x"],
            Value::Float(3.0)
        );
        let b = req(r#"{"inputs":[{"name":"b","shape":[1],"datatype":"BOOL","data":[true]}]}"#);
        assert_eq!(b.to_records().unwrap()[0].0["b"], Value::Bool(true));
        for name in [
            "FP64", "FP32", "FP16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32",
            "UINT64", "BYTES", "BOOL",
        ] {
            assert_eq!(Datatype::parse(name).unwrap().name(), name);
        }
        // zero rows is a valid (empty) request
        let z = req(r#"{"inputs":[{"name":"x","shape":[0],"datatype":"FP64","data":[]}]}"#);
        assert!(z.to_records().unwrap().is_empty());
    }

    #[test]
    fn response_round_trips() {
        let p = Prediction {
            request_id: "a".into(),
            model: "m".into(),
            version: 3,
            label: "yes".into(),
            probability: 0.25,
        };
        let r = InferResponse::from_predictions("m", 3, "id".into(), &[p]);
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.contains(r#""model_version":"3""#));
        let back: InferResponse = serde_json::from_str(&s).unwrap();
        assert_eq!(back, r);
    }
}
