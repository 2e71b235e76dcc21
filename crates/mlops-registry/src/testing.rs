//! Fault injection for testing a registry (or anything else) on an object store.
//!
//! [`FaultyStore`] wraps any `Arc<dyn ObjectStore>` and, following a deterministic
//! [`FaultPlan`], makes chosen calls fail, succeed without an acknowledgement, store a
//! truncated payload, or wait. It counts every call and keeps a log of the faults it fired,
//! so a test can enumerate "the k-th write fails" for every k of a workload and then check
//! what is left in the wrapped store with a clean handle.
//!
//! Available with the `testing` cargo feature.
//!
//! ```
//! use std::sync::Arc;
//! use mlops_registry::object_store::memory::InMemory;
//! use mlops_registry::object_store::ObjectStore;
//! use mlops_registry::testing::{Fault, FaultPlan, FaultyStore, OpKind, Rule, Trigger};
//! use mlops_registry::{ModelMetadata, Registry, RegistryOptions};
//! # fn main() -> mlops_registry::Result<()> {
//! let disk: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
//! // The second conditional create under `events/` is stored but its answer is lost.
//! let plan = FaultPlan::new(7).with(
//!     Rule::new(Trigger::Nth(2), Fault::FailAfter)
//!         .on(&[OpKind::PutCreate])
//!         .under("events/"),
//! );
//! let faulty = FaultyStore::new(disk.clone(), plan);
//! let reg = Registry::from_store(Arc::new(faulty.clone()), RegistryOptions::default())?;
//! reg.register("m", b"one".to_vec(), ModelMetadata::default(), "")?;
//! // The registry reads the slot back, finds its own event and counts the write once.
//! let v = reg.register("m", b"two".to_vec(), ModelMetadata::default(), "")?;
//! assert_eq!(v.version, 2);
//! assert_eq!(faulty.fired().len(), 1);
//! assert_eq!(faulty.fired()[0].key, "events/00000000000000000002");
//! // A clean handle on the wrapped store sees both versions, and the log verifies.
//! let clean = Registry::from_store(disk, RegistryOptions::default())?;
//! assert_eq!(clean.versions("m")?.len(), 2);
//! assert!(clean.verify()?.is_ok());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The kind of an object-store call, as rules match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum OpKind {
    /// `put_opts` with `PutMode::Overwrite`.
    Put,
    /// `put_opts` with `PutMode::Create` (conditional create).
    PutCreate,
    /// `put_opts` with `PutMode::Update` (compare-and-swap on a version).
    PutUpdate,
    /// `put_multipart_opts`: starting a multipart upload.
    MultipartStart,
    /// `MultipartUpload::put_part`: one part of a multipart upload.
    MultipartPart,
    /// `MultipartUpload::complete`.
    MultipartComplete,
    /// `MultipartUpload::abort`.
    MultipartAbort,
    /// One location of `delete_stream` (and so of `delete`).
    Delete,
    /// `copy_opts` (matched on the destination key).
    Copy,
    /// `get_opts` (and so `get`, `head`, `get_range`, …).
    Get,
    /// `list` or `list_with_delimiter` (matched on the prefix, `""` for none).
    List,
}

impl OpKind {
    /// Every call that changes the store: puts, multipart calls, deletes, copies.
    pub const WRITES: &'static [OpKind] = &[
        OpKind::Put,
        OpKind::PutCreate,
        OpKind::PutUpdate,
        OpKind::MultipartStart,
        OpKind::MultipartPart,
        OpKind::MultipartComplete,
        OpKind::MultipartAbort,
        OpKind::Delete,
        OpKind::Copy,
    ];
    /// The writes that carry a payload, which [`Fault::Truncate`] can shorten.
    pub const PAYLOAD_WRITES: &'static [OpKind] = &[
        OpKind::Put,
        OpKind::PutCreate,
        OpKind::PutUpdate,
        OpKind::MultipartPart,
    ];
    /// The calls that only read.
    pub const READS: &'static [OpKind] = &[OpKind::Get, OpKind::List];
    /// Every kind.
    pub const ALL: &'static [OpKind] = &[
        OpKind::Put,
        OpKind::PutCreate,
        OpKind::PutUpdate,
        OpKind::MultipartStart,
        OpKind::MultipartPart,
        OpKind::MultipartComplete,
        OpKind::MultipartAbort,
        OpKind::Delete,
        OpKind::Copy,
        OpKind::Get,
        OpKind::List,
    ];

    /// True for the kinds in [`OpKind::WRITES`].
    pub fn is_write(self) -> bool {
        Self::WRITES.contains(&self)
    }

    /// A short lowercase name (`put-create`, `multipart-part`, …).
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::PutCreate => "put-create",
            OpKind::PutUpdate => "put-update",
            OpKind::MultipartStart => "multipart-start",
            OpKind::MultipartPart => "multipart-part",
            OpKind::MultipartComplete => "multipart-complete",
            OpKind::MultipartAbort => "multipart-abort",
            OpKind::Delete => "delete",
            OpKind::Copy => "copy",
            OpKind::Get => "get",
            OpKind::List => "list",
        }
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What happens to a call when a rule fires.
///
/// A fault that does not apply to the call it hits (truncating a delete, aborting a plain put)
/// acts as [`Fault::FailBefore`]. Every error the store returns because of a fault is an
/// `object_store::Error::Generic` whose source is the [`FiredFault`] (downcast it to tell an
/// injected failure from a real one), except for [`Fault::LostAck`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// Nothing is done and an error is returned.
    FailBefore,
    /// The call is carried out, then an error is returned: a lost acknowledgement that the
    /// caller cannot tell from a failure. If the call itself fails, its own error is returned.
    FailAfter,
    /// The call is carried out and its answer lost, then the client's retry is answered: a
    /// conditional put or copy (`Create`/`Update`) gets `AlreadyExists`/`Precondition` for
    /// its own write; any other call succeeds (its retry would).
    LostAck,
    /// Only the first `keep_percent`% of the payload (of a put or multipart part) is stored,
    /// always at least one byte less than the whole, and an error is returned: a torn write.
    /// No `object_store` backend can do this (their puts are atomic); it models a broken
    /// store or disk.
    Truncate {
        /// The share of the payload stored, in percent (clamped below 100).
        keep_percent: u8,
    },
    /// Like [`Fault::Truncate`] but the call reports success: a disk that lies about what it
    /// stored. Only the content hashes of the data can reveal it.
    TruncateAck {
        /// The share of the payload stored, in percent (clamped below 100).
        keep_percent: u8,
    },
    /// The call waits this long (with `tokio::time::sleep`, so the store must be driven by a
    /// tokio runtime with timers), then proceeds normally.
    Delay(Duration),
    /// The call waits a duration drawn uniformly from `0..=max` with the rule's generator,
    /// then proceeds normally.
    DelayUpTo(Duration),
    /// On a multipart part or completion: the whole upload is aborted and an error returned;
    /// every later call on that upload fails too.
    Abort,
}

impl Fault {
    /// True for the faults after which the call proceeds normally (delays).
    pub fn is_delay(self) -> bool {
        matches!(self, Fault::Delay(_) | Fault::DelayUpTo(_))
    }
}

/// When a rule fires, counted over the calls the rule matches (from 1).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Trigger {
    /// At the n-th matching call only (`Nth(0)` never fires).
    Nth(u64),
    /// At every n-th matching call: n, 2n, 3n, … (`EveryNth(0)` never fires).
    EveryNth(u64),
    /// At each matching call with this probability, drawn from a ChaCha8 generator seeded by
    /// the plan's seed and the rule's position, so the same sequence of calls meets the same
    /// faults on every machine. `p <= 0` (or NaN) never fires, `p >= 1` always does.
    Probability(f64),
    /// At every matching call.
    Always,
}

/// One rule of a [`FaultPlan`]: which calls it matches, when it fires, and what it does.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    ops: Vec<OpKind>,
    prefix: String,
    trigger: Trigger,
    fault: Fault,
    limit: Option<u64>,
}

impl Rule {
    /// A rule matching every write ([`OpKind::WRITES`]) under any key.
    pub fn new(trigger: Trigger, fault: Fault) -> Self {
        Self {
            ops: OpKind::WRITES.to_vec(),
            prefix: String::new(),
            trigger,
            fault,
            limit: None,
        }
    }

    /// Matches only these kinds of call.
    pub fn on(mut self, ops: &[OpKind]) -> Self {
        self.ops = ops.to_vec();
        self
    }

    /// Matches only keys starting with `prefix` (a plain string prefix, e.g. `"events/"`).
    pub fn under(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Fires at most `n` times.
    pub fn times(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// The fault this rule injects.
    pub fn fault(&self) -> Fault {
        self.fault
    }

    fn matches(&self, op: OpKind, key: &str) -> bool {
        self.ops.contains(&op) && key.starts_with(&self.prefix)
    }
}

/// A deterministic fault plan: a seed and rules. For each call the rules are tried in order;
/// every matching rule counts the call (and a probability rule draws its number), and the
/// first that fires decides the call's fault.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    seed: u64,
    rules: Vec<Rule>,
}

impl FaultPlan {
    /// An empty plan whose probability rules draw from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            rules: Vec::new(),
        }
    }

    /// A plan that never fires (the store only counts calls).
    pub fn none() -> Self {
        Self::new(0)
    }

    /// Adds a rule after the existing ones.
    pub fn with(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// A fault that fired: the record kept in [`FaultyStore::fired`], and the source of the
/// error an injected failure returns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("injected fault {fault:?} at call {call} ({op} {key:?}, rule {rule})")]
pub struct FiredFault {
    /// The store's call number (from 1, over all kinds).
    pub call: u64,
    /// The kind of call.
    pub op: OpKind,
    /// The key (the destination of a copy, the prefix of a list).
    pub key: String,
    /// The index of the rule in the plan.
    pub rule: usize,
    /// What was done.
    pub fault: Fault,
}

/// One call seen by the store, recorded when tracing is on ([`FaultyStore::with_trace`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The call number (from 1).
    pub call: u64,
    /// The kind of call.
    pub op: OpKind,
    /// The key (the destination of a copy, the prefix of a list).
    pub key: String,
}

#[derive(Debug)]
struct ArmedRule {
    rule: Rule,
    matched: u64,
    fired: u64,
    rng: ChaCha8Rng,
}

#[derive(Debug, Default)]
struct Shared {
    rules: Vec<ArmedRule>,
    calls: BTreeMap<OpKind, u64>,
    total: u64,
    fired: Vec<FiredFault>,
    trace: Option<Vec<Call>>,
}

/// What the store does with one call.
struct Decision {
    fault: Fault,
    delay: Duration,
    record: FiredFault,
}

impl Decision {
    fn error(&self) -> object_store::Error {
        injected(&self.record)
    }
}

fn injected(record: &FiredFault) -> object_store::Error {
    object_store::Error::Generic {
        store: "FaultyStore",
        source: Box::new(record.clone()),
    }
}

fn arm(plan: FaultPlan) -> Vec<ArmedRule> {
    plan.rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| {
            let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
            rng.set_stream(i as u64);
            ArmedRule {
                rule,
                matched: 0,
                fired: 0,
                rng,
            }
        })
        .collect()
}

/// An `ObjectStore` decorator that injects the faults of a [`FaultPlan`] into the calls it
/// passes to the store it wraps (see the [module documentation](self) for an example).
///
/// Clones share the plan, the counters and the log, so a test can keep one clone to inspect
/// and re-arm while a registry uses another. Faults are decided when a call is made, in call
/// order: a single-threaded workload meets the same faults on every run.
#[derive(Clone)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    shared: Arc<Mutex<Shared>>,
}

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

impl FaultyStore {
    /// Wraps `inner`, armed with `plan`.
    pub fn new(inner: Arc<dyn ObjectStore>, plan: FaultPlan) -> Self {
        let shared = Shared {
            rules: arm(plan),
            ..Shared::default()
        };
        Self {
            inner,
            shared: Arc::new(Mutex::new(shared)),
        }
    }

    /// Also records every call ([`FaultyStore::trace`]).
    pub fn with_trace(self) -> Self {
        self.lock().trace.get_or_insert_with(Vec::new);
        self
    }

    /// The wrapped store (without faults).
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    /// Replaces the plan; the new rules count matching calls from zero. Call counts, the log
    /// and the trace are kept.
    pub fn set_plan(&self, plan: FaultPlan) {
        self.lock().rules = arm(plan);
    }

    /// Removes every rule: from now on calls only pass through and are counted.
    pub fn disarm(&self) {
        self.set_plan(FaultPlan::none());
    }

    /// Clears the call counts, the log of fired faults and the trace (rules keep their own
    /// counts).
    pub fn reset_counts(&self) {
        let mut s = self.lock();
        s.calls.clear();
        s.total = 0;
        s.fired.clear();
        if let Some(t) = s.trace.as_mut() {
            t.clear();
        }
    }

    /// Calls of one kind seen so far.
    pub fn calls(&self, op: OpKind) -> u64 {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// Calls of any kind seen so far.
    pub fn total_calls(&self) -> u64 {
        self.lock().total
    }

    /// Writes ([`OpKind::WRITES`]) seen so far.
    pub fn write_calls(&self) -> u64 {
        let s = self.lock();
        s.calls
            .iter()
            .filter(|(op, _)| op.is_write())
            .map(|(_, n)| n)
            .sum()
    }

    /// The faults fired so far, in order (delays included).
    pub fn fired(&self) -> Vec<FiredFault> {
        self.lock().fired.clone()
    }

    /// Every call seen so far, if tracing is on ([`FaultyStore::with_trace`]); empty otherwise.
    pub fn trace(&self) -> Vec<Call> {
        self.lock().trace.clone().unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock cannot leave the counters inconsistent enough to
        // matter to a test: keep going with them.
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts the call and decides its fault.
    fn decide(&self, op: OpKind, key: &str) -> Option<Decision> {
        let mut s = self.lock();
        s.total += 1;
        let call = s.total;
        *s.calls.entry(op).or_insert(0) += 1;
        if let Some(t) = s.trace.as_mut() {
            t.push(Call {
                call,
                op,
                key: key.to_owned(),
            });
        }
        let mut decision = None;
        for (i, armed) in s.rules.iter_mut().enumerate() {
            if !armed.rule.matches(op, key) {
                continue;
            }
            armed.matched += 1;
            let n = armed.matched;
            let fires = match armed.rule.trigger {
                Trigger::Nth(k) => n == k,
                Trigger::EveryNth(k) => k > 0 && n.is_multiple_of(k),
                Trigger::Probability(p) => armed.rng.r#gen::<f64>() < p,
                Trigger::Always => true,
            };
            let under_limit = armed.rule.limit.is_none_or(|l| armed.fired < l);
            if decision.is_some() || !fires || !under_limit {
                continue;
            }
            armed.fired += 1;
            let fault = armed.rule.fault;
            let delay = match fault {
                Fault::Delay(d) => d,
                Fault::DelayUpTo(max) => {
                    let micros = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
                    Duration::from_micros(armed.rng.gen_range(0..=micros))
                }
                _ => Duration::ZERO,
            };
            decision = Some(Decision {
                fault,
                delay,
                record: FiredFault {
                    call,
                    op,
                    key: key.to_owned(),
                    rule: i,
                    fault,
                },
            });
        }
        if let Some(d) = &decision {
            s.fired.push(d.record.clone());
        }
        decision
    }
}

/// The first `keep_percent`% of a payload, strictly shorter than the payload when it is not
/// empty.
fn truncate(payload: PutPayload, keep_percent: u8) -> PutPayload {
    let whole: Bytes = payload.into();
    let len = whole.len();
    let keep =
        (len.saturating_mul(usize::from(keep_percent.min(99))) / 100).min(len.saturating_sub(1));
    PutPayload::from(whole.slice(..keep))
}

async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

#[async_trait::async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let op = match opts.mode {
            PutMode::Overwrite => OpKind::Put,
            PutMode::Create => OpKind::PutCreate,
            PutMode::Update(_) => OpKind::PutUpdate,
        };
        let Some(d) = self.decide(op, location.as_ref()) else {
            return self.inner.put_opts(location, payload, opts).await;
        };
        match d.fault {
            Fault::Delay(_) | Fault::DelayUpTo(_) => {
                sleep(d.delay).await;
                self.inner.put_opts(location, payload, opts).await
            }
            Fault::FailAfter => {
                self.inner.put_opts(location, payload, opts).await?;
                Err(d.error())
            }
            Fault::LostAck => {
                let out = self.inner.put_opts(location, payload, opts).await?;
                match op {
                    OpKind::PutCreate => Err(object_store::Error::AlreadyExists {
                        path: location.to_string(),
                        source: Box::new(d.record),
                    }),
                    OpKind::PutUpdate => Err(object_store::Error::Precondition {
                        path: location.to_string(),
                        source: Box::new(d.record),
                    }),
                    _ => Ok(out),
                }
            }
            Fault::Truncate { keep_percent } => {
                let payload = truncate(payload, keep_percent);
                self.inner.put_opts(location, payload, opts).await?;
                Err(d.error())
            }
            Fault::TruncateAck { keep_percent } => {
                let payload = truncate(payload, keep_percent);
                self.inner.put_opts(location, payload, opts).await
            }
            Fault::FailBefore | Fault::Abort => Err(d.error()),
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let decision = self.decide(OpKind::MultipartStart, location.as_ref());
        let inner = match decision {
            None => self.inner.put_multipart_opts(location, opts).await?,
            Some(d) => match d.fault {
                Fault::Delay(_) | Fault::DelayUpTo(_) => {
                    sleep(d.delay).await;
                    self.inner.put_multipart_opts(location, opts).await?
                }
                Fault::LostAck => self.inner.put_multipart_opts(location, opts).await?,
                Fault::FailAfter => {
                    // Started, but the caller never learns the upload id: it is abandoned.
                    let _abandoned = self.inner.put_multipart_opts(location, opts).await?;
                    return Err(d.error());
                }
                Fault::FailBefore
                | Fault::Abort
                | Fault::Truncate { .. }
                | Fault::TruncateAck { .. } => return Err(d.error()),
            },
        };
        Ok(Box::new(FaultyUpload {
            inner,
            store: self.clone(),
            key: location.to_string(),
            aborted: None,
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let Some(d) = self.decide(OpKind::Get, location.as_ref()) else {
            return self.inner.get_opts(location, options).await;
        };
        match d.fault {
            Fault::Delay(_) | Fault::DelayUpTo(_) => {
                sleep(d.delay).await;
                self.inner.get_opts(location, options).await
            }
            Fault::LostAck => self.inner.get_opts(location, options).await,
            Fault::FailAfter => {
                self.inner.get_opts(location, options).await?;
                Err(d.error())
            }
            Fault::FailBefore
            | Fault::Abort
            | Fault::Truncate { .. }
            | Fault::TruncateAck { .. } => Err(d.error()),
        }
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let store = self.clone();
        locations
            .then(move |location| {
                let store = store.clone();
                async move {
                    let location = location?;
                    let Some(d) = store.decide(OpKind::Delete, location.as_ref()) else {
                        return delete_one(&store.inner, location).await;
                    };
                    match d.fault {
                        Fault::Delay(_) | Fault::DelayUpTo(_) => {
                            sleep(d.delay).await;
                            delete_one(&store.inner, location).await
                        }
                        Fault::LostAck => delete_one(&store.inner, location).await,
                        Fault::FailAfter => {
                            delete_one(&store.inner, location).await?;
                            Err(d.error())
                        }
                        Fault::FailBefore
                        | Fault::Abort
                        | Fault::Truncate { .. }
                        | Fault::TruncateAck { .. } => Err(d.error()),
                    }
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let key = prefix.map(|p| p.to_string()).unwrap_or_default();
        let Some(d) = self.decide(OpKind::List, &key) else {
            return self.inner.list(prefix);
        };
        match d.fault {
            Fault::Delay(_) | Fault::DelayUpTo(_) => {
                let listing = self.inner.list(prefix);
                let delay = d.delay;
                futures_util::stream::once(async move {
                    sleep(delay).await;
                    listing
                })
                .flatten()
                .boxed()
            }
            Fault::LostAck => self.inner.list(prefix),
            Fault::FailAfter => {
                let err = d.error();
                self.inner
                    .list(prefix)
                    .chain(futures_util::stream::once(async move { Err(err) }))
                    .boxed()
            }
            Fault::FailBefore
            | Fault::Abort
            | Fault::Truncate { .. }
            | Fault::TruncateAck { .. } => {
                let err = d.error();
                futures_util::stream::once(async move { Err(err) }).boxed()
            }
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let key = prefix.map(|p| p.to_string()).unwrap_or_default();
        let Some(d) = self.decide(OpKind::List, &key) else {
            return self.inner.list_with_delimiter(prefix).await;
        };
        match d.fault {
            Fault::Delay(_) | Fault::DelayUpTo(_) => {
                sleep(d.delay).await;
                self.inner.list_with_delimiter(prefix).await
            }
            Fault::LostAck => self.inner.list_with_delimiter(prefix).await,
            Fault::FailAfter => {
                self.inner.list_with_delimiter(prefix).await?;
                Err(d.error())
            }
            Fault::FailBefore
            | Fault::Abort
            | Fault::Truncate { .. }
            | Fault::TruncateAck { .. } => Err(d.error()),
        }
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let Some(d) = self.decide(OpKind::Copy, to.as_ref()) else {
            return self.inner.copy_opts(from, to, options).await;
        };
        match d.fault {
            Fault::Delay(_) | Fault::DelayUpTo(_) => {
                sleep(d.delay).await;
                self.inner.copy_opts(from, to, options).await
            }
            Fault::LostAck => {
                let create = matches!(options.mode, CopyMode::Create);
                self.inner.copy_opts(from, to, options).await?;
                if create {
                    Err(object_store::Error::AlreadyExists {
                        path: to.to_string(),
                        source: Box::new(d.record),
                    })
                } else {
                    Ok(())
                }
            }
            Fault::FailAfter => {
                self.inner.copy_opts(from, to, options).await?;
                Err(d.error())
            }
            Fault::FailBefore
            | Fault::Abort
            | Fault::Truncate { .. }
            | Fault::TruncateAck { .. } => Err(d.error()),
        }
    }
}

/// Deletes one location through the wrapped store's `delete_stream`.
async fn delete_one(store: &Arc<dyn ObjectStore>, location: Path) -> object_store::Result<Path> {
    let one = futures_util::stream::once(async move { Ok(location) }).boxed();
    let mut results = store.delete_stream(one);
    match results.next().await {
        Some(r) => r,
        None => Err(object_store::Error::Generic {
            store: "FaultyStore",
            source: "the wrapped store's delete_stream yielded nothing".into(),
        }),
    }
}

/// A multipart upload whose parts, completion and abort go through the plan.
#[derive(Debug)]
struct FaultyUpload {
    inner: Box<dyn MultipartUpload>,
    store: FaultyStore,
    key: String,
    /// Set once a [`Fault::Abort`] fired: every later call fails with it.
    aborted: Option<FiredFault>,
}

#[async_trait::async_trait]
impl MultipartUpload for FaultyUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        if let Some(record) = &self.aborted {
            let err = injected(record);
            return Box::pin(async move { Err(err) });
        }
        let Some(d) = self.store.decide(OpKind::MultipartPart, &self.key) else {
            return self.inner.put_part(data);
        };
        match d.fault {
            Fault::Delay(_) | Fault::DelayUpTo(_) => {
                let part = self.inner.put_part(data);
                let delay = d.delay;
                Box::pin(async move {
                    sleep(delay).await;
                    part.await
                })
            }
            Fault::LostAck => self.inner.put_part(data),
            Fault::FailAfter => {
                let part = self.inner.put_part(data);
                let err = d.error();
                Box::pin(async move {
                    part.await?;
                    Err(err)
                })
            }
            Fault::Truncate { keep_percent } => {
                let part = self.inner.put_part(truncate(data, keep_percent));
                let err = d.error();
                Box::pin(async move {
                    part.await?;
                    Err(err)
                })
            }
            Fault::TruncateAck { keep_percent } => {
                self.inner.put_part(truncate(data, keep_percent))
            }
            Fault::Abort => {
                let err = d.error();
                self.aborted = Some(d.record);
                Box::pin(async move { Err(err) })
            }
            Fault::FailBefore => {
                let err = d.error();
                Box::pin(async move { Err(err) })
            }
        }
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        if let Some(record) = &self.aborted {
            let err = injected(record);
            let _ = self.inner.abort().await;
            return Err(err);
        }
        let Some(d) = self.store.decide(OpKind::MultipartComplete, &self.key) else {
            return self.inner.complete().await;
        };
        match d.fault {
            Fault::Delay(_) | Fault::DelayUpTo(_) => {
                sleep(d.delay).await;
                self.inner.complete().await
            }
            Fault::LostAck => self.inner.complete().await,
            Fault::FailAfter => {
                self.inner.complete().await?;
                Err(d.error())
            }
            Fault::Abort => {
                let _ = self.inner.abort().await;
                let err = d.error();
                self.aborted = Some(d.record);
                Err(err)
            }
            Fault::FailBefore | Fault::Truncate { .. } | Fault::TruncateAck { .. } => {
                Err(d.error())
            }
        }
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        let Some(d) = self.store.decide(OpKind::MultipartAbort, &self.key) else {
            return self.inner.abort().await;
        };
        match d.fault {
            Fault::Delay(_) | Fault::DelayUpTo(_) => {
                sleep(d.delay).await;
                self.inner.abort().await
            }
            Fault::LostAck => self.inner.abort().await,
            Fault::FailAfter => {
                self.inner.abort().await?;
                Err(d.error())
            }
            Fault::FailBefore
            | Fault::Abort
            | Fault::Truncate { .. }
            | Fault::TruncateAck { .. } => Err(d.error()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use object_store::memory::InMemory;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn store(plan: FaultPlan) -> (Arc<dyn ObjectStore>, FaultyStore) {
        let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        (inner.clone(), FaultyStore::new(inner, plan))
    }

    async fn get(store: &dyn ObjectStore, key: &str) -> Option<Bytes> {
        match store
            .get_opts(&Path::from(key), GetOptions::default())
            .await
        {
            Ok(g) => Some(g.bytes().await.unwrap()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("{e}"),
        }
    }

    fn is_injected(e: &object_store::Error) -> bool {
        match e {
            object_store::Error::Generic { source, .. } => source.is::<FiredFault>(),
            _ => false,
        }
    }

    #[test]
    fn put_faults_do_what_they_say() {
        rt().block_on(async {
            let cases = [
                (Fault::FailBefore, None, true),
                (Fault::FailAfter, Some(&b"0123456789"[..]), true),
                (
                    Fault::Truncate { keep_percent: 50 },
                    Some(&b"01234"[..]),
                    true,
                ),
                (
                    Fault::TruncateAck { keep_percent: 100 },
                    Some(&b"012345678"[..]),
                    false,
                ),
                (
                    Fault::Delay(Duration::from_millis(1)),
                    Some(&b"0123456789"[..]),
                    false,
                ),
                (Fault::LostAck, Some(&b"0123456789"[..]), false),
            ];
            for (fault, stored, fails) in cases {
                let (inner, faulty) =
                    store(FaultPlan::new(1).with(Rule::new(Trigger::Nth(2), fault)));
                let payload = || PutPayload::from_static(b"0123456789");
                faulty
                    .put_opts(&Path::from("a"), payload(), PutOptions::default())
                    .await
                    .unwrap();
                let r = faulty
                    .put_opts(&Path::from("b"), payload(), PutOptions::default())
                    .await;
                assert_eq!(r.is_err(), fails, "{fault:?}");
                if let Err(e) = &r {
                    assert!(is_injected(e), "{fault:?}: {e}");
                }
                assert_eq!(
                    get(inner.as_ref(), "b").await.as_deref(),
                    stored,
                    "{fault:?}"
                );
                assert_eq!(faulty.fired().len(), 1);
                assert_eq!(faulty.fired()[0].key, "b");
                assert_eq!(faulty.fired()[0].call, 2);
                assert_eq!(faulty.calls(OpKind::Put), 2);
                assert_eq!(faulty.write_calls(), 2);
            }
        });
    }

    #[test]
    fn lost_ack_on_create_reports_already_exists() {
        rt().block_on(async {
            let (inner, faulty) = store(
                FaultPlan::new(1)
                    .with(Rule::new(Trigger::Always, Fault::LostAck).on(&[OpKind::PutCreate])),
            );
            let r = faulty
                .put_opts(
                    &Path::from("events/1"),
                    PutPayload::from_static(b"x"),
                    PutOptions::from(PutMode::Create),
                )
                .await;
            assert!(matches!(r, Err(object_store::Error::AlreadyExists { .. })));
            assert_eq!(
                get(inner.as_ref(), "events/1").await.as_deref(),
                Some(&b"x"[..])
            );
        });
    }

    #[test]
    fn lost_ack_on_update_and_create_copy_report_the_retry_answer() {
        rt().block_on(async {
            let (inner, faulty) = store(FaultPlan::new(1).with(
                Rule::new(Trigger::Always, Fault::LostAck).on(&[OpKind::PutUpdate, OpKind::Copy]),
            ));
            let first = faulty
                .put_opts(
                    &Path::from("a"),
                    PutPayload::from_static(b"1"),
                    PutOptions::default(),
                )
                .await
                .unwrap();
            let update = PutOptions::from(PutMode::Update(first.into()));
            let r = faulty
                .put_opts(&Path::from("a"), PutPayload::from_static(b"2"), update)
                .await;
            assert!(
                matches!(r, Err(object_store::Error::Precondition { .. })),
                "{r:?}"
            );
            assert_eq!(get(inner.as_ref(), "a").await.as_deref(), Some(&b"2"[..]));
            let create = CopyOptions::new().with_mode(CopyMode::Create);
            let r = faulty
                .copy_opts(&Path::from("a"), &Path::from("b"), create)
                .await;
            assert!(
                matches!(r, Err(object_store::Error::AlreadyExists { .. })),
                "{r:?}"
            );
            assert_eq!(get(inner.as_ref(), "b").await.as_deref(), Some(&b"2"[..]));
            // An overwriting copy whose answer was lost just succeeds on retry.
            faulty
                .copy_opts(&Path::from("a"), &Path::from("c"), CopyOptions::default())
                .await
                .unwrap();
            assert_eq!(faulty.fired().len(), 3);
        });
    }

    #[test]
    fn prefix_nth_every_and_limit() {
        rt().block_on(async {
            let (_, faulty) = store(
                FaultPlan::new(1).with(
                    Rule::new(Trigger::EveryNth(2), Fault::FailBefore)
                        .under("x/")
                        .times(2),
                ),
            );
            let mut failed = Vec::new();
            for i in 0..10 {
                for p in ["x", "y"] {
                    let key = format!("{p}/{i}");
                    let r = faulty
                        .put_opts(
                            &Path::from(key.as_str()),
                            PutPayload::from_static(b"1"),
                            PutOptions::default(),
                        )
                        .await;
                    if r.is_err() {
                        failed.push(key);
                    }
                }
            }
            assert_eq!(failed, ["x/1", "x/3"]);
            assert_eq!(faulty.total_calls(), 20);
            faulty.disarm();
            faulty.reset_counts();
            assert_eq!(faulty.total_calls(), 0);
            assert!(faulty.fired().is_empty());
        });
    }

    #[test]
    fn probability_is_deterministic_per_seed() {
        let run = |seed| {
            rt().block_on(async {
                let (_, faulty) = store(
                    FaultPlan::new(seed)
                        .with(Rule::new(Trigger::Probability(0.3), Fault::FailBefore))
                        .with(Rule::new(
                            Trigger::Probability(0.5),
                            Fault::DelayUpTo(Duration::from_micros(50)),
                        )),
                );
                let faulty = faulty.with_trace();
                for i in 0..200 {
                    let _ = faulty
                        .put_opts(
                            &Path::from(format!("k/{i}")),
                            PutPayload::from_static(b"1"),
                            PutOptions::default(),
                        )
                        .await;
                }
                assert_eq!(faulty.trace().len(), 200);
                faulty.fired()
            })
        };
        let a = run(42);
        assert_eq!(a, run(42));
        assert_ne!(a, run(43));
        let fails = a.iter().filter(|f| f.fault == Fault::FailBefore).count();
        assert!((30..=90).contains(&fails), "{fails}");
    }

    #[test]
    fn multipart_part_faults_and_abort() {
        rt().block_on(async {
            for fault in [
                Fault::FailBefore,
                Fault::Abort,
                Fault::Truncate { keep_percent: 10 },
            ] {
                let (inner, faulty) = store(
                    FaultPlan::new(1)
                        .with(Rule::new(Trigger::Nth(2), fault).on(&[OpKind::MultipartPart])),
                );
                let mut up = faulty
                    .put_multipart_opts(&Path::from("big"), Default::default())
                    .await
                    .unwrap();
                up.put_part(PutPayload::from_static(b"aaaa")).await.unwrap();
                let e = up
                    .put_part(PutPayload::from_static(b"bbbb"))
                    .await
                    .unwrap_err();
                assert!(is_injected(&e), "{fault:?}");
                if fault == Fault::Abort {
                    assert!(up.put_part(PutPayload::from_static(b"cccc")).await.is_err());
                    assert!(up.complete().await.is_err());
                } else {
                    up.abort().await.unwrap();
                }
                assert_eq!(get(inner.as_ref(), "big").await, None, "{fault:?}");
            }
            // A lying part: the upload completes with the short part.
            let (inner, faulty) = store(
                FaultPlan::new(1).with(
                    Rule::new(Trigger::Nth(1), Fault::TruncateAck { keep_percent: 50 })
                        .on(&[OpKind::MultipartPart]),
                ),
            );
            let mut up = faulty
                .put_multipart_opts(&Path::from("big"), Default::default())
                .await
                .unwrap();
            up.put_part(PutPayload::from_static(b"aaaa")).await.unwrap();
            up.put_part(PutPayload::from_static(b"bbbb")).await.unwrap();
            up.complete().await.unwrap();
            assert_eq!(
                get(inner.as_ref(), "big").await.as_deref(),
                Some(&b"aabbbb"[..])
            );
        });
    }

    #[test]
    fn delete_copy_get_and_list_faults() {
        rt().block_on(async {
            let (inner, faulty) = store(
                FaultPlan::new(1)
                    .with(Rule::new(Trigger::Nth(1), Fault::FailBefore).on(&[OpKind::Delete]))
                    .with(Rule::new(Trigger::Nth(1), Fault::FailAfter).on(&[OpKind::Copy]))
                    .with(Rule::new(Trigger::Nth(1), Fault::FailBefore).on(&[OpKind::Get]))
                    .with(Rule::new(Trigger::Nth(1), Fault::FailAfter).on(&[OpKind::List])),
            );
            faulty
                .put_opts(
                    &Path::from("a"),
                    PutPayload::from_static(b"1"),
                    PutOptions::default(),
                )
                .await
                .unwrap();
            assert!(
                faulty
                    .copy_opts(&Path::from("a"), &Path::from("b"), CopyOptions::default())
                    .await
                    .is_err()
            );
            assert!(
                get(inner.as_ref(), "b").await.is_some(),
                "copied before the error"
            );
            assert!(
                faulty
                    .get_opts(&Path::from("a"), GetOptions::default())
                    .await
                    .is_err()
            );
            assert!(
                faulty
                    .get_opts(&Path::from("a"), GetOptions::default())
                    .await
                    .is_ok()
            );
            let listed: Vec<_> = faulty.list(None).collect().await;
            assert_eq!(listed.len(), 3);
            assert!(listed[2].is_err());
            let one = futures_util::stream::once(async { Ok(Path::from("a")) }).boxed();
            let deleted: Vec<_> = faulty.delete_stream(one).collect().await;
            assert!(deleted[0].is_err());
            assert!(get(inner.as_ref(), "a").await.is_some(), "not deleted");
            let one = futures_util::stream::once(async { Ok(Path::from("a")) }).boxed();
            let deleted: Vec<_> = faulty.delete_stream(one).collect().await;
            assert!(deleted[0].is_ok());
            assert!(get(inner.as_ref(), "a").await.is_none());
            assert_eq!(faulty.fired().len(), 4);
        });
    }
}
