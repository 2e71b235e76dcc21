//! Shared helpers of the HTTP tests: a tiny HTTP/1.1 client over `std::net::TcpStream`, churn
//! models of three versions, and rows as `Record`s.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use mlops_data::arrow::DataType;
use mlops_data::arrow::RecordBatch;
use mlops_data::arrow::array::Array;
use mlops_data::arrow::array::cast::AsArray;
use mlops_data::arrow::array::types::{Float64Type, Int64Type};
use mlops_data::synth::{self, LABEL_COLUMN, POSITIVE_LABEL};
use mlops_data::transform::ImputeStrategy;
use mlops_serve::{Predictor, Record, Value};
use mlops_train::estimator::LogisticRegression;
use mlops_train::select::Candidate;
use mlops_train::trainer::{TrainConfig, train};

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A keep-alive HTTP/1.1 connection.
pub struct Client {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(Self {
            reader: BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    /// Sends one request and reads its response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Resp> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut msg = head.into_bytes();
        msg.extend_from_slice(body);
        self.reader.get_mut().write_all(&msg)?;
        self.read_response()
    }

    pub fn get(&mut self, path: &str) -> io::Result<Resp> {
        self.request("GET", path, &[], &[])
    }

    pub fn post(&mut self, path: &str, body: &str) -> io::Result<Resp> {
        self.request("POST", path, &[], body.as_bytes())
    }

    /// Reads one response (Content-Length or chunked body).
    pub fn read_response(&mut self) -> io::Result<Resp> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, line.clone()))?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if self.reader.read_line(&mut h)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "eof in headers",
                ));
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if let Some(len) = find("content-length") {
            let len: usize = len.parse().map_err(|_| io::Error::other("bad length"))?;
            body.resize(len, 0);
            self.reader.read_exact(&mut body)?;
        } else if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim(), 16)
                    .map_err(|_| io::Error::other("bad chunk"))?;
                let mut chunk = vec![0; n + 2];
                self.reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                chunk.truncate(n);
                body.extend_from_slice(&chunk);
            }
        }
        Ok(Resp {
            status,
            headers,
            body,
        })
    }
}

/// One request on a fresh connection.
pub fn one_shot(addr: SocketAddr, method: &str, path: &str, body: &str) -> Resp {
    Client::connect(addr)
        .unwrap()
        .request(method, path, &[], body.as_bytes())
        .unwrap()
}

pub const MODEL: &str = "churn";

/// A churn bundle trained on `rows` rows with `seed` (different seeds → different models).
pub fn bundle(seed: u64, rows: u64) -> mlops_train::ModelBundle {
    let data = churn_rows(rows, seed);
    let config = TrainConfig::new(
        LABEL_COLUMN,
        POSITIVE_LABEL,
        synth::churn_pipeline(ImputeStrategy::Median),
    )
    .seed(seed);
    let est = LogisticRegression::new().check().unwrap();
    train(&config, &data, &[Candidate::new(Box::new(est))])
        .unwrap()
        .bundle
}

pub fn predictor(version: u64, seed: u64) -> Predictor {
    Predictor::new(MODEL, version, bundle(seed, 600)).unwrap()
}

pub fn churn_rows(rows: u64, seed: u64) -> RecordBatch {
    mlops_data::synth::churn_table(rows, seed).unwrap()
}

/// The rows of `batch` as records (label and id columns included; extra columns are ignored).
pub fn records(batch: &RecordBatch) -> Vec<Record> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|row| {
            let mut r = Record::new();
            for (i, field) in schema.fields().iter().enumerate() {
                let col = batch.column(i);
                let v = if col.is_null(row) {
                    Value::Null
                } else {
                    match field.data_type() {
                        DataType::Int64 => Value::Int(col.as_primitive::<Int64Type>().value(row)),
                        DataType::Float64 => {
                            Value::Float(col.as_primitive::<Float64Type>().value(row))
                        }
                        DataType::Utf8 => Value::Str(col.as_string::<i32>().value(row).to_string()),
                        other => panic!("unexpected type {other}"),
                    }
                };
                r = r.with(field.name().clone(), v);
            }
            r
        })
        .collect()
}

/// The OIP datatype of a value (null counts as FP64).
fn datatype(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "INT64",
        Value::Str(_) => "BYTES",
        Value::Bool(_) => "BOOL",
        _ => "FP64",
    }
}

/// An OIP request body for `rows`, with the columns of the first row (datatype taken from the
/// first non-null value of each column).
pub fn oip_body(rows: &[Record], id: Option<&str>) -> String {
    let mut inputs = Vec::new();
    if let Some(first) = rows.first() {
        for col in first.0.keys() {
            let values: Vec<&Value> = rows.iter().map(|r| &r.0[col]).collect();
            let dt = values
                .iter()
                .find(|v| !matches!(v, Value::Null))
                .map_or("FP64", |v| datatype(v));
            inputs.push(serde_json::json!({
                "name": col,
                "shape": [rows.len()],
                "datatype": dt,
                "data": values,
            }));
        }
    }
    let mut body = serde_json::json!({ "inputs": inputs });
    if let Some(id) = id {
        body["id"] = serde_json::json!(id);
    }
    body.to_string()
}
