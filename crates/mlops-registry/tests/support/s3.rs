//! The S3 backend of the integration tests: a bucket on the S3-compatible server named by
//! `MLOPS_REGISTRY_S3_ENDPOINT` (e.g. `http://127.0.0.1:5123`, a `moto_server`; `.ci/services`
//! starts one), each test under its own key prefix.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mlops_registry::object_store::ObjectStore;
use mlops_registry::object_store::aws::AmazonS3Builder;
use mlops_registry::object_store::prefix::PrefixStore;

const BUCKET: &str = "mlops-registry-test";

/// The endpoint, when S3 tests are enabled.
pub fn endpoint() -> Option<String> {
    std::env::var("MLOPS_REGISTRY_S3_ENDPOINT").ok()
}

/// A store under a fresh prefix, unique to this process and call.
#[allow(dead_code)]
pub fn store() -> Option<Arc<dyn ObjectStore>> {
    static N: AtomicU64 = AtomicU64::new(0);
    let prefix = format!(
        "run-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    store_at(&prefix)
}

/// A store under `prefix` (several processes can share one by name).
pub fn store_at(prefix: &str) -> Option<Arc<dyn ObjectStore>> {
    let endpoint = endpoint()?;
    create_bucket(&endpoint);
    let s3 = AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_bucket_name(BUCKET)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    Some(Arc::new(PrefixStore::new(s3, prefix)))
}

/// `PUT /bucket` with a bare HTTP/1.1 request (moto accepts unsigned requests); 200 or 409.
fn create_bucket(endpoint: &str) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(host).unwrap();
    write!(
        conn,
        "PUT /{BUCKET} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200")
            || reply.starts_with("HTTP/1.1 409")
            || reply.starts_with("HTTP/1.0 200"),
        "{reply}"
    );
}
