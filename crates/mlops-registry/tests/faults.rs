//! Fault injection: a store decorator that loses responses.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::stream::BoxStream;
use mlops_registry::object_store::memory::InMemory;
use mlops_registry::object_store::path::Path;
use mlops_registry::object_store::{
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use mlops_registry::{ModelMetadata, Registry, RegistryOptions};

/// Performs every `PutMode::Create`, but for the first `lose` of them reports "already exists",
/// as a client does when it retries a request whose success response was lost.
#[derive(Debug)]
struct LostAck {
    inner: InMemory,
    lose: AtomicU32,
}

impl std::fmt::Display for LostAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LostAck({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for LostAck {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let create = matches!(opts.mode, PutMode::Create);
        let out = self.inner.put_opts(location, payload, opts).await?;
        if create && self.lose.load(Ordering::SeqCst) > 0 {
            self.lose.fetch_sub(1, Ordering::SeqCst);
            return Err(object_store::Error::AlreadyExists {
                path: location.to_string(),
                source: "retried after a lost response".into(),
            });
        }
        Ok(out)
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[test]
fn a_lost_acknowledgement_does_not_duplicate_a_version() {
    let store = Arc::new(LostAck {
        inner: InMemory::new(),
        lose: AtomicU32::new(0),
    });
    let reg = Registry::from_store(store.clone(), RegistryOptions::default()).unwrap();
    reg.register("m", b"one".to_vec(), ModelMetadata::default(), "")
        .unwrap();
    store.lose.store(1, Ordering::SeqCst);
    let v = reg
        .register("m", b"two".to_vec(), ModelMetadata::default(), "")
        .unwrap();
    assert_eq!(v.version, 2);
    reg.set_alias("m", "champion", 2, None, "").unwrap();
    assert_eq!(
        store.lose.load(Ordering::SeqCst),
        0,
        "the fault was injected"
    );
    store.lose.store(1, Ordering::SeqCst);
    reg.set_alias("m", "champion", 1, Some(2), "").unwrap();
    let fresh = Registry::from_store(store.clone(), RegistryOptions::default()).unwrap();
    assert_eq!(fresh.versions("m").unwrap().len(), 2);
    assert_eq!(fresh.events().unwrap().len(), 4);
    assert!(fresh.verify().unwrap().is_ok());
}
