//! The HTTP server over real sockets: every route, every error status, slow clients, graceful
//! shutdown, and a bounded load test across two hot swaps.
#![cfg(feature = "http")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_common::*;
use mlops_serve::http::{Limits, Server, ServerHandle, ServerState};
use mlops_serve::{Deployment, Predictor, Record, Value};

struct Fixture {
    server: ServerHandle,
    state: Arc<ServerState>,
    deployment: Arc<Deployment>,
    rows: Vec<Record>,
}

impl Fixture {
    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

fn start(configure: impl FnOnce(ServerState) -> ServerState) -> Fixture {
    let deployment = Arc::new(Deployment::new(predictor(1, 11)));
    let state = Arc::new(configure(
        ServerState::new().with_deployment(Arc::clone(&deployment)),
    ));
    let server = Server::start_with_workers("127.0.0.1:0", Arc::clone(&state), 2).unwrap();
    Fixture {
        server,
        state,
        deployment,
        rows: records(&churn_rows(40, 99)),
    }
}

fn start_limited(limits: Limits) -> Fixture {
    start(|s| s.with_limits(limits))
}

/// JSON floats round-trip to within an ulp or so.
fn close(got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-12, "{got} != {want}");
}

fn assert_error(resp: &Resp, status: u16) -> serde_json::Value {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = resp.json();
    assert!(
        body["error"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    body
}

#[test]
fn every_route_answers() {
    let f = start(|s| {
        s.with_extra_metrics(Box::new(|| {
            "# TYPE monitor_drift gauge\nmonitor_drift 0.25".to_string()
        }))
    });
    let mut c = Client::connect(f.addr()).unwrap();
    let champion = f.deployment.current();

    let r = c.get("/v2/health/live").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["live"], true);
    let r = c.get("/v2/health/ready").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(c.get("/v2/models/churn/ready").unwrap().status, 200);
    assert_eq!(c.get("/v2").unwrap().json()["models"][0], MODEL);

    // Metadata: one input per signature column, in signature order.
    let meta = c.get("/v2/models/churn").unwrap();
    assert_eq!(meta.status, 200);
    let meta = meta.json();
    assert_eq!(meta["name"], MODEL);
    assert_eq!(meta["platform"], "mlops-rs");
    assert_eq!(meta["versions"], serde_json::json!(["1"]));
    let inputs = meta["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), champion.inputs().len());
    for (got, want) in inputs.iter().zip(champion.inputs()) {
        assert_eq!(got["name"], want.name.as_str());
        assert_eq!(got["shape"], serde_json::json!([-1]));
    }
    assert_eq!(meta["outputs"][0]["name"], "probability");
    assert_eq!(meta["outputs"][1]["datatype"], "BYTES");

    // OIP inference: numbers equal the predictor's.
    let rows = &f.rows[..5];
    let expected: Vec<_> = rows
        .iter()
        .map(|r| champion.predict(r, None).unwrap())
        .collect();
    let r = c
        .post("/v2/models/churn/infer", &oip_body(rows, Some("req-1")))
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["model_name"], MODEL);
    assert_eq!(body["model_version"], "1");
    assert_eq!(body["id"], "req-1");
    assert_eq!(body["outputs"][0]["name"], "probability");
    assert_eq!(body["outputs"][0]["shape"], serde_json::json!([5]));
    for (i, p) in expected.iter().enumerate() {
        close(
            body["outputs"][0]["data"][i].as_f64().unwrap(),
            p.probability,
        );
        assert_eq!(body["outputs"][1]["data"][i], p.label.as_str());
    }

    // [n, 1] shapes and the versioned route.
    let mut nested: serde_json::Value = serde_json::from_str(&oip_body(rows, None)).unwrap();
    for input in nested["inputs"].as_array_mut().unwrap() {
        input["shape"] = serde_json::json!([5, 1]);
        let data: Vec<_> = input["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| serde_json::json!([v]))
            .collect();
        input["data"] = serde_json::json!(data);
    }
    let r = c
        .post("/v2/models/churn/versions/1/infer", &nested.to_string())
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    close(
        r.json()["outputs"][0]["data"][4].as_f64().unwrap(),
        expected[4].probability,
    );
    assert!(r.json()["id"].as_str().is_some_and(|s| !s.is_empty()));

    // Zero rows is a valid, empty answer.
    let empty = r#"{"inputs":[{"name":"age","shape":[0],"datatype":"FP64","data":[]}]}"#;
    let r = c.post("/v2/models/churn/infer", empty).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["outputs"][0]["shape"], serde_json::json!([0]));

    // v1 records route, wrapped and bare.
    let wrapped = serde_json::json!({ "records": rows }).to_string();
    let bare = serde_json::to_string(rows).unwrap();
    for body in [wrapped, bare] {
        let r = c.post("/v1/models/churn/predict", &body).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let preds = r.json()["predictions"].as_array().unwrap().clone();
        assert_eq!(preds.len(), 5);
        for (got, want) in preds.iter().zip(&expected) {
            assert_eq!(got["model"], MODEL);
            assert_eq!(got["version"], 1);
            close(got["probability"].as_f64().unwrap(), want.probability);
            assert_eq!(got["label"], want.label.as_str());
            assert!(got["request_id"].as_str().is_some());
        }
    }

    // Metrics: request counters, histogram, served version, prediction counts, extra text.
    let m = c.get("/metrics").unwrap();
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let text = m.text();
    assert!(
        text.contains(
            "mlops_http_requests_total{route=\"/v2/models/{name}/infer\",status=\"200\"} 2\n"
        ),
        "{text}"
    );
    assert!(text.contains("mlops_http_request_duration_seconds_bucket{route=\"/v1/models/{name}/predict\",le=\"+Inf\"} 2\n"));
    assert!(text.contains("mlops_model_version{model=\"churn\"} 1\n"));
    assert!(
        text.contains("mlops_predictions_total{model=\"churn\",version=\"1\"} 20\n"),
        "{text}"
    );
    assert!(text.ends_with("monitor_drift 0.25\n"));
    assert_eq!(
        f.state
            .metrics()
            .requests("/v2/models/{name}/versions/{version}/infer", 200),
        1
    );
}

#[test]
fn every_error_is_json_with_the_right_status() {
    let f = start_limited(Limits {
        max_body_bytes: 64 * 1024,
        max_rows: 10,
        ..Limits::default()
    });
    let a = f.addr();
    let mut c = Client::connect(a).unwrap();
    let row = &f.rows[..1];

    // 400: malformed JSON, bad tensors, bad version text, too many rows.
    assert_error(&c.post("/v2/models/churn/infer", "{not json").unwrap(), 400);
    assert_error(&c.post("/v2/models/churn/infer", "").unwrap(), 400);
    assert_error(&c.post("/v1/models/churn/predict", "[1, 2]").unwrap(), 400);
    assert_error(
        &c.post("/v1/models/churn/predict", r#"{"rows": []}"#)
            .unwrap(),
        400,
    );
    let bad_shape = r#"{"inputs":[{"name":"age","shape":[2],"datatype":"FP64","data":[1.0]}]}"#;
    let body = assert_error(&c.post("/v2/models/churn/infer", bad_shape).unwrap(), 400);
    assert!(body["error"].as_str().unwrap().contains("age"));
    let bad_type = r#"{"inputs":[{"name":"age","shape":[1],"datatype":"FP64","data":["x"]}]}"#;
    assert_error(&c.post("/v2/models/churn/infer", bad_type).unwrap(), 400);
    let unknown = r#"{"inputs":[{"name":"age","shape":[1],"datatype":"STRING","data":["x"]}]}"#;
    assert_error(&c.post("/v2/models/churn/infer", unknown).unwrap(), 400);
    let dup = r#"{"inputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[1]},{"name":"a","shape":[1],"datatype":"FP64","data":[1]}]}"#;
    assert_error(&c.post("/v2/models/churn/infer", dup).unwrap(), 400);
    assert_error(
        &c.post(
            "/v2/models/churn/versions/latest/infer",
            &oip_body(row, None),
        )
        .unwrap(),
        400,
    );
    assert_error(
        &c.post("/v2/models/churn/infer", &oip_body(&f.rows[..11], None))
            .unwrap(),
        400,
    );

    // 404: unknown model, version, route.
    assert_error(&c.get("/v2/models/nope").unwrap(), 404);
    assert_error(
        &c.post("/v2/models/nope/infer", &oip_body(row, None))
            .unwrap(),
        404,
    );
    assert_error(&c.post("/v1/models/nope/predict", "[]").unwrap(), 404);
    let body = assert_error(
        &c.post("/v2/models/churn/versions/7/infer", &oip_body(row, None))
            .unwrap(),
        404,
    );
    assert_eq!(body["kind"], "version_not_found");
    assert_error(&c.get("/v3/anything").unwrap(), 404);
    // 405: wrong method.
    assert_error(&c.get("/v2/models/churn/infer").unwrap(), 405);

    // 422: validation errors from the predictor carry their kind.
    let mut missing = row[0].clone();
    missing.0.remove("tenure_months");
    let body = assert_error(
        &c.post(
            "/v2/models/churn/infer",
            &oip_body(&[missing.clone()], None),
        )
        .unwrap(),
        422,
    );
    assert_eq!(body["kind"], "missing_column");
    assert!(body["error"].as_str().unwrap().contains("tenure_months"));
    let mut wrong = row[0].clone();
    wrong
        .0
        .insert("tenure_months".into(), Value::Str("ten".into()));
    let body = assert_error(
        &c.post(
            "/v1/models/churn/predict",
            &serde_json::to_string(&[wrong]).unwrap(),
        )
        .unwrap(),
        422,
    );
    assert_eq!(body["kind"], "wrong_type");

    // The connection survived every error above.
    assert_eq!(c.get("/v2/health/live").unwrap().status, 200);

    // 413: oversized body, declared up front ...
    let big = format!("[{}]", "1,".repeat(50_000) + "1");
    let r = one_shot(a, "POST", "/v1/models/churn/predict", &big);
    assert_error(&r, 413);
    // ... and chunked (no Content-Length).
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let chunk = "x".repeat(16 * 1024);
    let mut msg = String::from(
        "POST /v1/models/churn/predict HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    for _ in 0..6 {
        msg.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    msg.push_str("0\r\n\r\n");
    s.write_all(msg.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("\"error\""));

    // Metrics count errors by kind.
    let text = Client::connect(a).unwrap().get("/metrics").unwrap().text();
    assert!(
        text.contains("mlops_prediction_errors_total{model=\"churn\",kind=\"missing_column\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("mlops_prediction_errors_total{model=\"nope\",kind=\"model_not_found\"} 3\n"),
        "{text}"
    );
    assert!(text.contains("status=\"413\"} 2\n"), "{text}");
}

#[test]
fn bearer_token_guards_everything_but_health() {
    let f = start(|s| s.with_bearer_token("s3cret"));
    let mut c = Client::connect(f.addr()).unwrap();
    let body = oip_body(&f.rows[..1], None);
    assert_eq!(c.get("/v2/health/live").unwrap().status, 200);
    assert_eq!(c.get("/v2/health/ready").unwrap().status, 200);
    assert_error(&c.post("/v2/models/churn/infer", &body).unwrap(), 401);
    assert_error(&c.get("/metrics").unwrap(), 401);
    assert_error(&c.get("/v2/models/churn").unwrap(), 401);
    let wrong = c
        .request(
            "POST",
            "/v2/models/churn/infer",
            &[("Authorization", "Bearer nope")],
            body.as_bytes(),
        )
        .unwrap();
    assert_error(&wrong, 401);
    let basic = c
        .request(
            "GET",
            "/metrics",
            &[("Authorization", "Basic czNjcmV0")],
            &[],
        )
        .unwrap();
    assert_error(&basic, 401);
    let ok = c
        .request(
            "POST",
            "/v2/models/churn/infer",
            &[("Authorization", "Bearer s3cret")],
            body.as_bytes(),
        )
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
}

#[test]
fn stalled_clients_time_out_without_blocking_others() {
    let f = start_limited(Limits {
        header_read_timeout: Duration::from_millis(1500),
        request_timeout: Duration::from_millis(2000),
        ..Limits::default()
    });
    let a = f.addr();
    // A client that sends half a request head and stalls.
    let mut head_staller = TcpStream::connect(a).unwrap();
    head_staller
        .write_all(b"POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    head_staller
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // A client that sends the head and part of the body, then stalls.
    let mut body_staller = TcpStream::connect(a).unwrap();
    body_staller
        .write_all(b"POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"inputs\":")
        .unwrap();
    body_staller
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();

    // Others are served meanwhile, quickly.
    let body = oip_body(&f.rows[..1], None);
    let t = Instant::now();
    let mut c = Client::connect(a).unwrap();
    for _ in 0..50 {
        assert_eq!(c.post("/v2/models/churn/infer", &body).unwrap().status, 200);
    }
    assert!(
        t.elapsed() < Duration::from_millis(1200),
        "{:?}",
        t.elapsed()
    );

    // The body staller gets 408 once the request deadline passes.
    let t = Instant::now();
    let mut raw = Vec::new();
    let _ = body_staller.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert!(raw.contains("\"error\""));
    assert!(t.elapsed() < Duration::from_secs(5));

    // The head staller is disconnected (read returns EOF or an error, not a hang).
    let t = Instant::now();
    let mut buf = [0u8; 256];
    match head_staller.read(&mut buf) {
        Ok(n) => assert!(n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408")),
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "still open"),
    }
    assert!(t.elapsed() < Duration::from_secs(4));
    // The idle kept-alive connection was closed after the header read timeout too; a new one
    // is served.
    assert!(c.get("/v2/health/live").is_err());
    assert_eq!(one_shot(a, "GET", "/v2/health/live", "").status, 200);
}

/// Waits (at most 5 s) until the server counts `n` requests in flight.
fn wait_in_flight(state: &ServerState, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.in_flight() != n {
        assert!(
            Instant::now() < deadline,
            "in flight: {}",
            state.in_flight()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn requests_beyond_the_in_flight_limit_are_shed_with_503() {
    let f = start_limited(Limits {
        max_in_flight: 2,
        ..Limits::default()
    });
    let a = f.addr();
    let body = oip_body(&f.rows[..1], None);
    // Two requests whose bodies stall hold both slots.
    let head = format!(
        "POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(10);
    let mut stallers: Vec<Client> = (0..2)
        .map(|_| {
            let mut c = Client::connect(a).unwrap();
            c.stream()
                .write_all(format!("{head}{first}").as_bytes())
                .unwrap();
            c
        })
        .collect();
    wait_in_flight(&f.state, 2);

    // A third is refused at once, with a JSON error and Retry-After; it is not counted.
    let t = Instant::now();
    let r = one_shot(a, "POST", "/v2/models/churn/infer", &body);
    let err = assert_error(&r, 503);
    assert!(err["error"].as_str().unwrap().contains("busy"), "{err}");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(f.state.in_flight(), 2);
    // Health checks and metrics still answer.
    assert_eq!(one_shot(a, "GET", "/v2/health/ready", "").status, 200);
    let metrics = one_shot(a, "GET", "/metrics", "").text();
    assert!(metrics.contains("status=\"503\""), "{metrics}");

    // The stalled requests finish normally and free their slots.
    for c in &mut stallers {
        c.stream().write_all(rest.as_bytes()).unwrap();
        assert_eq!(c.read_response().unwrap().status, 200);
    }
    wait_in_flight(&f.state, 0);
    assert_eq!(
        one_shot(a, "POST", "/v2/models/churn/infer", &body).status,
        200
    );

    // A client that goes away mid-request gives its slot back too.
    let mut gone = Client::connect(a).unwrap();
    gone.stream()
        .write_all(format!("{head}{first}").as_bytes())
        .unwrap();
    wait_in_flight(&f.state, 1);
    drop(gone);
    wait_in_flight(&f.state, 0);
}

#[test]
fn connections_beyond_the_limit_wait_for_one_to_close() {
    let f = start_limited(Limits {
        max_connections: 2,
        ..Limits::default()
    });
    let a = f.addr();
    let mut open: Vec<Client> = (0..2).map(|_| Client::connect(a).unwrap()).collect();
    for c in &mut open {
        assert_eq!(c.get("/v2/health/live").unwrap().status, 200);
    }
    // The third connection is made (the kernel's backlog) but not served while two are open.
    let mut third = Client::connect(a).unwrap();
    third
        .stream()
        .set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let err = third.get("/v2/health/live").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    // Once one closes, it is served.
    drop(open.pop());
    third
        .stream()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(third.read_response().unwrap().status, 200);
    assert_eq!(open[0].get("/v2/health/live").unwrap().status, 200);
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests() {
    let deployment = Arc::new(Deployment::new(predictor(1, 11)));
    let state = Arc::new(
        ServerState::new()
            .with_deployment(deployment)
            .with_extra_metrics(Box::new(|| {
                std::thread::sleep(Duration::from_millis(600));
                "slow_metric 1\n".to_string()
            })),
    );
    let server = Server::start_with_workers("127.0.0.1:0", state, 2).unwrap();
    let a = server.local_addr();
    let slow = std::thread::spawn(move || one_shot(a, "GET", "/metrics", ""));
    std::thread::sleep(Duration::from_millis(150));
    let t = Instant::now();
    server.shutdown().unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let r = slow.join().unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("slow_metric 1"));
    assert!(
        TcpStream::connect(a).is_err(),
        "still accepting after shutdown"
    );
}

#[test]
fn a_panicking_metrics_callback_is_contained() {
    let f = start(|s| s.with_extra_metrics(Box::new(|| panic!("boom"))));
    let r = Client::connect(f.addr()).unwrap().get("/metrics").unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("mlops_model_version"));
}

#[test]
fn start_reports_bind_errors() {
    let f = start(|s| s);
    let taken = f.addr();
    let err = Server::start(taken, Arc::clone(&f.state));
    assert!(
        matches!(err, Err(mlops_serve::http::HttpError::Bind { .. })),
        "{err:?}"
    );
}

/// ~4 connections × 1000 requests while the champion is swapped twice: no failed request, and
/// every response comes from exactly one version, with that version's numbers.
#[test]
fn load_across_two_hot_swaps() {
    const CONNECTIONS: usize = 4;
    const PER_CONNECTION: usize = 1000;
    let f = start(|s| s);
    let versions: Vec<Arc<Predictor>> = vec![
        f.deployment.current(),
        Arc::new(predictor(2, 22)),
        Arc::new(predictor(3, 33)),
    ];
    // expected[v - 1][row] = P(positive) of version v on row.
    let expected: Arc<Vec<Vec<f64>>> = Arc::new(
        versions
            .iter()
            .map(|p| {
                f.rows
                    .iter()
                    .map(|r| p.predict(r, None).unwrap().probability)
                    .collect()
            })
            .collect(),
    );
    // Versions must be distinguishable by their numbers.
    assert_ne!(expected[0], expected[1]);
    assert_ne!(expected[1], expected[2]);

    let done = Arc::new(AtomicUsize::new(0));
    let seen: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let rows = Arc::new(f.rows.clone());
    let addr = f.addr();
    let deadline = Instant::now() + Duration::from_secs(40);
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|w| {
            let (done, seen, rows, expected) = (
                Arc::clone(&done),
                Arc::clone(&seen),
                Arc::clone(&rows),
                Arc::clone(&expected),
            );
            std::thread::spawn(move || {
                let mut c = Client::connect(addr).unwrap();
                let mut last_version = 0u64;
                for i in 0..PER_CONNECTION {
                    assert!(Instant::now() < deadline, "load test too slow");
                    let start = (w * 7 + i) % (rows.len() - 3);
                    let n = 1 + i % 3;
                    let slice = &rows[start..start + n];
                    let (version, probs): (u64, Vec<f64>) = if i % 4 == 3 {
                        let r = c
                            .post(
                                "/v1/models/churn/predict",
                                &serde_json::to_string(slice).unwrap(),
                            )
                            .unwrap();
                        assert_eq!(r.status, 200, "{}", r.text());
                        let preds = r.json()["predictions"].as_array().unwrap().clone();
                        let v = preds[0]["version"].as_u64().unwrap();
                        assert!(preds.iter().all(|p| p["version"].as_u64() == Some(v)));
                        (
                            v,
                            preds
                                .iter()
                                .map(|p| p["probability"].as_f64().unwrap())
                                .collect(),
                        )
                    } else {
                        let r = c
                            .post("/v2/models/churn/infer", &oip_body(slice, None))
                            .unwrap();
                        assert_eq!(r.status, 200, "{}", r.text());
                        let body = r.json();
                        let v: u64 = body["model_version"].as_str().unwrap().parse().unwrap();
                        let probs = body["outputs"][0]["data"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| p.as_f64().unwrap())
                            .collect();
                        (v, probs)
                    };
                    assert!((1..=3).contains(&version), "version {version}");
                    assert!(
                        version >= last_version,
                        "went back from {last_version} to {version}"
                    );
                    last_version = version;
                    let want = &expected[(version - 1) as usize][start..start + n];
                    assert_eq!(probs.len(), want.len());
                    for (g, w) in probs.iter().zip(want) {
                        assert!(
                            (g - w).abs() <= 1e-12,
                            "response not from version {version} alone"
                        );
                    }
                    seen[(version - 1) as usize].fetch_add(1, Ordering::Relaxed);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let total = CONNECTIONS * PER_CONNECTION;
    let mut swaps = vec![(total / 3, 2usize), (2 * total / 3, 3usize)].into_iter();
    let mut next = swaps.next();
    while let Some((at, v)) = next {
        if done.load(Ordering::Relaxed) >= at {
            let p = Predictor::new(MODEL, v as u64, versions[v - 1].bundle().clone()).unwrap();
            f.deployment.promote(p);
            next = swaps.next();
        } else if workers.iter().all(|w| w.is_finished()) {
            break;
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(done.load(Ordering::Relaxed), total);
    let counts: Vec<u64> = seen.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert!(
        counts.iter().all(|&c| c > 0),
        "every version served: {counts:?}"
    );
    assert_eq!(counts.iter().sum::<u64>(), total as u64);
    assert_eq!(f.deployment.current().version(), 3);
    let text = Client::connect(addr)
        .unwrap()
        .get("/metrics")
        .unwrap()
        .text();
    assert!(text.contains("mlops_model_version{model=\"churn\"} 3\n"));
    assert!(!text.contains("status=\"5"), "{text}");
}

#[test]
fn shared_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ServerState>();
    check::<ServerHandle>();
    check::<mlops_serve::http::Metrics>();
    check::<mlops_serve::http::InferRequest>();
}

#[test]
fn not_ready_without_a_model_and_router_nests() {
    let state = Arc::new(ServerState::new());
    assert!(!state.is_ready());
    // The router is a plain axum Router that can be nested into a larger application.
    let _: axum::Router = mlops_serve::http::router(Arc::clone(&state));
    let server = Server::start_with_workers("127.0.0.1:0", state, 1).unwrap();
    let r = one_shot(server.local_addr(), "GET", "/v2/health/ready", "");
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["ready"], false);
    let live = one_shot(server.local_addr(), "GET", "/v2/health/live", "");
    assert_eq!(live.status, 200);
}

/// With a canary, the request id routes the request (as in-process), and a multi-row response
/// still comes from one version.
#[test]
fn canary_routing_by_request_id() {
    let f = start(|s| s);
    f.deployment.set_canary(predictor(2, 22), 0.5).unwrap();
    let mut c = Client::connect(f.addr()).unwrap();
    let mut by_version = [0usize; 2];
    for i in 0..40 {
        let id = format!("req-{i}");
        let r = c
            .post(
                "/v2/models/churn/infer",
                &oip_body(&f.rows[i % 30..i % 30 + 1], Some(&id)),
            )
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let want = if mlops_serve::deployment::routes_to_canary(&id, 0.5) {
            "2"
        } else {
            "1"
        };
        assert_eq!(r.json()["model_version"], want, "{id}");
        assert_eq!(r.json()["id"], id.as_str());
        by_version[usize::from(want == "2")] += 1;
        // Several rows: one version for all, each row with its own request id.
        let r = c
            .post(
                "/v1/models/churn/predict",
                &serde_json::to_string(&f.rows[..3]).unwrap(),
            )
            .unwrap();
        let preds = r.json()["predictions"].as_array().unwrap().clone();
        let v = preds[0]["version"].clone();
        assert!(preds.iter().all(|p| p["version"] == v));
    }
    assert!(by_version.iter().all(|&n| n > 0), "{by_version:?}");
    // A request id header becomes `{id}/{row}` for each row of a multi-row request.
    let r = c
        .request(
            "POST",
            "/v1/models/churn/predict",
            &[("X-Request-Id", "batch-7")],
            serde_json::to_string(&f.rows[..3]).unwrap().as_bytes(),
        )
        .unwrap();
    let ids: Vec<_> = r.json()["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["request_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["batch-7/0", "batch-7/1", "batch-7/2"]);
    let meta = c.get("/v2/models/churn").unwrap().json();
    assert_eq!(meta["versions"], serde_json::json!(["1", "2"]));
}

/// An event sink that panics on one request id.
#[derive(Debug)]
struct PanickySink;

impl mlops_serve::EventSink for PanickySink {
    fn emit(&self, event: &mlops_serve::PredictionEvent) {
        if event.request_id == "boom" {
            panic!("sink exploded");
        }
    }
}

/// A panic while scoring becomes a JSON 500; the connection and the server keep working.
#[test]
fn a_panic_while_scoring_is_a_json_500() {
    let f = start(|s| s);
    f.deployment.add_sink(Arc::new(PanickySink));
    let mut c = Client::connect(f.addr()).unwrap();
    let r = c
        .post(
            "/v2/models/churn/infer",
            &oip_body(&f.rows[..1], Some("boom")),
        )
        .unwrap();
    let body = assert_error(&r, 500);
    assert!(body["error"].as_str().unwrap().contains("internal"));
    let ok = c
        .post(
            "/v2/models/churn/infer",
            &oip_body(&f.rows[..1], Some("fine")),
        )
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    let text = c.get("/metrics").unwrap().text();
    assert!(text.contains("mlops_prediction_errors_total{model=\"churn\",kind=\"panic\"} 1\n"));
}
