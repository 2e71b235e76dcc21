//! A small Prometheus collector for the HTTP server (text exposition format 0.0.4).
//!
//! Counts requests by route and status, observes request latency in a histogram with fixed
//! buckets per route, counts prediction errors by [`ServeError::kind`](crate::ServeError::kind),
//! and counts predictions by model and version. The served model versions are rendered as a
//! gauge by the server at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets (`+Inf` is implied).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Non-cumulative counts; the last slot is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    count: AtomicU64,
    /// Sum in nanoseconds.
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(b) = self.buckets.get(slot) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// The server's metrics. Cheap to update from many threads.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    latency: Mutex<BTreeMap<String, std::sync::Arc<Histogram>>>,
    errors: Mutex<BTreeMap<(String, &'static str), u64>>,
    predictions: Mutex<BTreeMap<String, BTreeMap<u64, u64>>>,
}

/// Adds `by` to `map[outer][inner]`, allocating the outer key only the first time.
fn bump2<K: Ord>(map: &Mutex<BTreeMap<String, BTreeMap<K, u64>>>, outer: &str, inner: K, by: u64) {
    let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
    let slot = match m.get_mut(outer) {
        Some(s) => s,
        None => m.entry(outer.to_string()).or_default(),
    };
    *slot.entry(inner).or_insert(0) += by;
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K, by: u64) {
    let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
    *m.entry(key).or_insert(0) += by;
}

/// Escapes a label value for the text format.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

impl Metrics {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one finished request: `route` is the matched route template.
    pub fn observe_request(&self, route: &str, status: u16, elapsed: Duration) {
        bump2(&self.requests, route, status, 1);
        let h = {
            let mut m = self.latency.lock().unwrap_or_else(|p| p.into_inner());
            match m.get(route) {
                Some(h) => std::sync::Arc::clone(h),
                None => {
                    let h = std::sync::Arc::new(Histogram::default());
                    m.insert(route.to_string(), std::sync::Arc::clone(&h));
                    h
                }
            }
        };
        h.observe(elapsed);
    }

    /// Records a failed prediction of `model` with the error's kind.
    pub fn observe_error(&self, model: &str, kind: &'static str) {
        bump(&self.errors, (model.to_string(), kind), 1);
    }

    /// Records `n` predictions served by `model` at `version`.
    pub fn observe_predictions(&self, model: &str, version: u64, n: u64) {
        bump2(&self.predictions, model, version, n);
    }

    /// Requests counted so far for `route` and `status`.
    pub fn requests(&self, route: &str, status: u16) -> u64 {
        let m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        m.get(route)
            .and_then(|s| s.get(&status))
            .copied()
            .unwrap_or(0)
    }

    /// Renders every series in the Prometheus text format (sorted, deterministic).
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP mlops_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE mlops_http_requests_total counter\n");
        {
            let m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            for ((route, status), n) in m
                .iter()
                .flat_map(|(r, s)| s.iter().map(move |(st, n)| ((r, st), n)))
            {
                let _ = writeln!(
                    out,
                    "mlops_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    escape_label(route)
                );
            }
        }
        out.push_str("# HELP mlops_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE mlops_http_request_duration_seconds histogram\n");
        {
            let m = self.latency.lock().unwrap_or_else(|p| p.into_inner());
            for (route, h) in m.iter() {
                let route = escape_label(route);
                let mut cumulative = 0u64;
                for (i, b) in h.buckets.iter().enumerate() {
                    cumulative += b.load(Ordering::Relaxed);
                    let le = LATENCY_BUCKETS
                        .get(i)
                        .map_or_else(|| "+Inf".to_string(), |v| v.to_string());
                    let _ = writeln!(
                        out,
                        "mlops_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                    );
                }
                let sum = h.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
                let _ = writeln!(
                    out,
                    "mlops_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
                );
                let _ = writeln!(
                    out,
                    "mlops_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count.load(Ordering::Relaxed)
                );
            }
        }
        out.push_str(
            "# HELP mlops_prediction_errors_total Failed predictions by model and error kind.\n",
        );
        out.push_str("# TYPE mlops_prediction_errors_total counter\n");
        {
            let m = self.errors.lock().unwrap_or_else(|p| p.into_inner());
            for ((model, kind), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "mlops_prediction_errors_total{{model=\"{}\",kind=\"{kind}\"}} {n}",
                    escape_label(model)
                );
            }
        }
        out.push_str("# HELP mlops_predictions_total Rows scored by model and version.\n");
        out.push_str("# TYPE mlops_predictions_total counter\n");
        {
            let m = self.predictions.lock().unwrap_or_else(|p| p.into_inner());
            for ((model, version), n) in m
                .iter()
                .flat_map(|(r, s)| s.iter().map(move |(v, n)| ((r, v), n)))
            {
                let _ = writeln!(
                    out,
                    "mlops_predictions_total{{model=\"{}\",version=\"{version}\"}} {n}",
                    escape_label(model)
                );
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::new();
        m.observe_request("/a", 200, Duration::from_micros(50));
        m.observe_request("/a", 200, Duration::from_millis(2));
        m.observe_request("/a", 404, Duration::from_secs(10));
        m.observe_error("churn", "missing_column");
        m.observe_predictions("churn", 2, 5);
        let text = m.render();
        assert!(text.contains("mlops_http_requests_total{route=\"/a\",status=\"200\"} 2\n"));
        assert!(text.contains("mlops_http_requests_total{route=\"/a\",status=\"404\"} 1\n"));
        assert!(text.contains(
            "mlops_http_request_duration_seconds_bucket{route=\"/a\",le=\"0.0001\"} 1\n"
        ));
        assert!(text.contains(
            "mlops_http_request_duration_seconds_bucket{route=\"/a\",le=\"0.0025\"} 2\n"
        ));
        assert!(
            text.contains("mlops_http_request_duration_seconds_bucket{route=\"/a\",le=\"5\"} 2\n")
        );
        assert!(
            text.contains(
                "mlops_http_request_duration_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"
            )
        );
        assert!(text.contains("mlops_http_request_duration_seconds_count{route=\"/a\"} 3\n"));
        assert!(text.contains(
            "mlops_prediction_errors_total{model=\"churn\",kind=\"missing_column\"} 1\n"
        ));
        assert!(text.contains("mlops_predictions_total{model=\"churn\",version=\"2\"} 5\n"));
        assert_eq!(m.requests("/a", 200), 2);
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
