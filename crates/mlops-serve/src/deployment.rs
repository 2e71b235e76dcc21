//! [`Deployment`]: the live model behind an atomic swap, with canary and shadow roll-outs,
//! prediction events, and reloading from a registry alias.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use mlops_core::event::{PredictionEvent, Role, now_ms};
use mlops_registry::{Registry, VersionRef};
use mlops_train::ModelBundle;

use crate::error::{Result, ServeError};
use crate::events::EventSink;
use crate::predictor::{Prediction, Predictor, next_request_id};
use crate::value::Record;

/// Options of a [`Deployment`].
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentOptions {
    /// Whether prediction events carry the request's input values (default `false`).
    pub include_inputs: bool,
    /// Capacity of the queue feeding the shadow model (default 1024); requests arriving when it
    /// is full are not shadowed, and counted.
    pub shadow_queue: usize,
}

impl Default for DeploymentOptions {
    fn default() -> Self {
        Self {
            include_inputs: false,
            shadow_queue: 1024,
        }
    }
}

/// Counters of the shadow model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShadowStats {
    /// Requests queued for the shadow.
    pub queued: u64,
    /// Requests not shadowed because the queue was full.
    pub dropped: u64,
    /// Requests the shadow scored.
    pub scored: u64,
    /// Requests the shadow failed to score.
    pub failed: u64,
}

#[derive(Debug, Default)]
struct ShadowCounters {
    queued: AtomicU64,
    dropped: AtomicU64,
    scored: AtomicU64,
    failed: AtomicU64,
}

type Sinks = Arc<RwLock<Arc<Vec<Arc<dyn EventSink>>>>>;

struct ShadowJob {
    request_id: String,
    record: Record,
}

#[derive(Debug)]
struct Shadow {
    predictor: Arc<Predictor>,
    tx: SyncSender<ShadowJob>,
}

impl std::fmt::Debug for ShadowJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowJob")
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// What serves now: swapped as one value, so a request sees one consistent state.
#[derive(Debug, Clone)]
struct State {
    champion: Arc<Predictor>,
    previous: Option<Arc<Predictor>>,
    canary: Option<(Arc<Predictor>, f64)>,
    shadow: Option<Arc<Shadow>>,
}

/// The live model of one name behind an atomic swap. `Send + Sync`; share it as
/// `Arc<Deployment>`.
///
/// Every request reads one snapshot of the state (champion, canary, shadow), so a promotion or
/// roll-back in the middle of traffic never fails or tears a request: each prediction reports
/// the version that produced it. A canary takes a share of requests chosen deterministically by
/// the request key (FNV-1a of the key), so the same key always goes to the same model. A shadow
/// scores a copy of every request on a background thread fed by a bounded queue; its answers go
/// to the event sinks only.
pub struct Deployment {
    name: String,
    options: DeploymentOptions,
    state: RwLock<Arc<State>>,
    sinks: Sinks,
    shadow_counters: Arc<ShadowCounters>,
    /// Serialises writers (promote / rollback / canary / shadow changes).
    write: Mutex<()>,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("name", &self.name)
            .field("version", &self.current().version())
            .finish_non_exhaustive()
    }
}

impl Deployment {
    /// A deployment serving `predictor`, with default options.
    pub fn new(predictor: Predictor) -> Self {
        Self::with_options(predictor, DeploymentOptions::default())
    }

    /// A deployment serving `predictor`.
    pub fn with_options(predictor: Predictor, options: DeploymentOptions) -> Self {
        Self {
            name: predictor.name().to_string(),
            options,
            state: RwLock::new(Arc::new(State {
                champion: Arc::new(predictor),
                previous: None,
                canary: None,
                shadow: None,
            })),
            sinks: Arc::new(RwLock::new(Arc::new(Vec::new()))),
            shadow_counters: Arc::new(ShadowCounters::default()),
            write: Mutex::new(()),
        }
    }

    /// Loads `which` version of model `name` from a registry and serves it.
    pub fn from_registry(registry: &Registry, name: &str, which: VersionRef<'_>) -> Result<Self> {
        Ok(Self::new(load_predictor(registry, name, which)?))
    }

    /// The model name.
    pub fn name(&self) -> String {
        self.name.clone()
    }

    fn snapshot(&self) -> Arc<State> {
        match self.state.read() {
            Ok(s) => Arc::clone(&s),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn replace(&self, f: impl FnOnce(&State) -> Result<State>) -> Result<()> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.snapshot();
        let next = Arc::new(f(&current)?);
        let mut slot = self.state.write().unwrap_or_else(|p| p.into_inner());
        *slot = next;
        Ok(())
    }

    /// The champion serving now.
    pub fn current(&self) -> Arc<Predictor> {
        Arc::clone(&self.snapshot().champion)
    }
    /// The version kept for [`Deployment::rollback`], if any.
    pub fn previous(&self) -> Option<Arc<Predictor>> {
        self.snapshot().previous.clone()
    }
    /// The canary and its share, if any.
    pub fn canary(&self) -> Option<(Arc<Predictor>, f64)> {
        self.snapshot().canary.clone()
    }
    /// The shadow, if any.
    pub fn shadow(&self) -> Option<Arc<Predictor>> {
        self.snapshot()
            .shadow
            .as_ref()
            .map(|s| Arc::clone(&s.predictor))
    }
    /// Versions this deployment holds (champion, canary, previous, shadow), sorted, deduplicated.
    pub fn versions(&self) -> Vec<u64> {
        let s = self.snapshot();
        let mut v: Vec<u64> = std::iter::once(s.champion.version())
            .chain(s.canary.as_ref().map(|(c, _)| c.version()))
            .chain(s.previous.as_ref().map(|p| p.version()))
            .chain(s.shadow.as_ref().map(|p| p.predictor.version()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Predicts with the champion, or with the canary for the share of keys routed to it.
    /// `key` routes (and is the request id when given); without one a request id is generated
    /// and routes instead. The shadow (if any) gets a copy off the hot path. Emits events.
    pub fn predict(&self, record: &Record, key: Option<&str>) -> Result<Prediction> {
        self.predict_with_id(record, key, None)
    }

    /// Like [`Deployment::predict`] with a request id apart from the routing key: the request
    /// id is `request_id`, else `key`, else generated; routing uses `key`, else the request id.
    pub fn predict_with_id(
        &self,
        record: &Record,
        key: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<Prediction> {
        let state = self.snapshot();
        let request_id = request_id
            .or(key)
            .map_or_else(next_request_id, str::to_string);
        let route = key.unwrap_or(&request_id);
        let (predictor, role) = match &state.canary {
            Some((canary, share)) if routes_to_canary(route, *share) => (canary, Role::Canary),
            _ => (&state.champion, Role::Champion),
        };
        let probability = predictor.score(record)?;
        let prediction = predictor.prediction(request_id, probability);
        self.emit(predictor, role, &prediction, record);
        if let Some(shadow) = &state.shadow {
            let job = ShadowJob {
                request_id: prediction.request_id.clone(),
                record: record.clone(),
            };
            match shadow.tx.try_send(job) {
                Ok(()) => self.shadow_counters.queued.fetch_add(1, Ordering::Relaxed),
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    self.shadow_counters.dropped.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
        Ok(prediction)
    }

    /// Predicts with a specific version the deployment holds (champion, canary, previous or
    /// shadow); [`ServeError::VersionNotFound`] otherwise. No routing, no shadow; emits an event
    /// with the role of that version.
    pub fn predict_version(
        &self,
        version: u64,
        record: &Record,
        key: Option<&str>,
    ) -> Result<Prediction> {
        let state = self.snapshot();
        let (predictor, role) = if state.champion.version() == version {
            (&state.champion, Role::Champion)
        } else if let Some((c, _)) = state
            .canary
            .as_ref()
            .filter(|(c, _)| c.version() == version)
        {
            (c, Role::Canary)
        } else if let Some(p) = state.previous.as_ref().filter(|p| p.version() == version) {
            (p, Role::Champion)
        } else if let Some(s) = state
            .shadow
            .as_ref()
            .filter(|s| s.predictor.version() == version)
        {
            (&s.predictor, Role::Shadow)
        } else {
            return Err(ServeError::VersionNotFound {
                name: self.name.clone(),
                version,
            });
        };
        let request_id = key.map_or_else(next_request_id, str::to_string);
        let probability = predictor.score(record)?;
        let prediction = predictor.prediction(request_id, probability);
        self.emit(predictor, role, &prediction, record);
        Ok(prediction)
    }

    fn emit(&self, predictor: &Predictor, role: Role, prediction: &Prediction, record: &Record) {
        let sinks = read_sinks(&self.sinks);
        if sinks.is_empty() {
            return;
        }
        let event = event_for(
            predictor,
            role,
            prediction,
            self.options.include_inputs.then_some(record),
        );
        for sink in sinks.iter() {
            sink.emit(&event);
        }
    }

    /// Makes `predictor` the champion, atomically; the old champion is kept for
    /// [`Deployment::rollback`]. A canary of the same version is cleared.
    pub fn promote(&self, predictor: Predictor) {
        self.promote_arc(Arc::new(predictor));
    }

    /// Like [`Deployment::promote`] with a shared predictor.
    pub fn promote_arc(&self, predictor: Arc<Predictor>) {
        let _ = self.replace(|s| {
            let canary = s
                .canary
                .clone()
                .filter(|(c, _)| c.version() != predictor.version());
            Ok(State {
                previous: Some(Arc::clone(&s.champion)),
                champion: predictor,
                canary,
                shadow: s.shadow.clone(),
            })
        });
        tracing::debug!(model = %self.name, version = self.current().version(), "promoted");
    }

    /// Swaps the champion and the previous version back, atomically.
    ///
    /// # Errors
    /// [`ServeError::NoPrevious`] when nothing was promoted before.
    pub fn rollback(&self) -> Result<()> {
        self.replace(|s| match &s.previous {
            Some(prev) => Ok(State {
                champion: Arc::clone(prev),
                previous: Some(Arc::clone(&s.champion)),
                canary: s.canary.clone(),
                shadow: s.shadow.clone(),
            }),
            None => Err(ServeError::NoPrevious {
                name: self.name.clone(),
            }),
        })
    }

    /// Sends `share` (in `[0, 1]`) of the requests, chosen by key, to `predictor`.
    pub fn set_canary(&self, predictor: Predictor, share: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&share) {
            return Err(ServeError::InvalidArgument {
                what: "canary share",
                reason: format!("{share} is not in [0, 1]"),
            });
        }
        let predictor = Arc::new(predictor);
        self.replace(|s| {
            Ok(State {
                canary: Some((predictor, share)),
                ..s.clone()
            })
        })
    }

    /// Stops the canary.
    pub fn clear_canary(&self) {
        let _ = self.replace(|s| {
            Ok(State {
                canary: None,
                ..s.clone()
            })
        });
    }

    /// Scores a copy of every request with `predictor` on a background thread; results go to
    /// the sinks as shadow events, never to the caller. Replaces any previous shadow.
    pub fn set_shadow(&self, predictor: Predictor) {
        let predictor = Arc::new(predictor);
        let (tx, rx) = sync_channel(self.options.shadow_queue.max(1));
        let worker = ShadowWorker {
            predictor: Arc::clone(&predictor),
            rx,
            sinks: Arc::clone(&self.sinks),
            counters: Arc::clone(&self.shadow_counters),
            include_inputs: self.options.include_inputs,
        };
        let spawned = std::thread::Builder::new()
            .name(format!("shadow-{}", self.name))
            .spawn(move || worker.run());
        if let Err(e) = spawned {
            tracing::warn!(model = %self.name, error = %e, "could not start the shadow thread");
            return;
        }
        let shadow = Arc::new(Shadow { predictor, tx });
        let _ = self.replace(|s| {
            Ok(State {
                shadow: Some(shadow),
                ..s.clone()
            })
        });
    }

    /// Stops shadowing (the worker finishes the queued requests, then exits).
    pub fn clear_shadow(&self) {
        let _ = self.replace(|s| {
            Ok(State {
                shadow: None,
                ..s.clone()
            })
        });
    }

    /// Shadow counters (over every shadow this deployment has had).
    pub fn shadow_stats(&self) -> ShadowStats {
        let c = &self.shadow_counters;
        ShadowStats {
            queued: c.queued.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            scored: c.scored.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }

    /// Adds an event sink: every prediction (champion, canary, shadow) is emitted to it.
    pub fn add_sink(&self, sink: Arc<dyn EventSink>) {
        let mut slot = self.sinks.write().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<Arc<dyn EventSink>> = slot.as_ref().clone();
        v.push(sink);
        *slot = Arc::new(v);
    }

    /// Follows `alias` of model `name` in `registry`: a background thread polls every
    /// `poll_interval` and promotes the aliased version whenever the alias moves (a version
    /// that fails to load is skipped and reported by [`FollowHandle::last_error`]). The thread
    /// stops when the handle is dropped. The first check runs immediately.
    pub fn follow_alias(
        self: &Arc<Self>,
        registry: Arc<Registry>,
        name: &str,
        alias: &str,
        poll_interval: Duration,
    ) -> Result<FollowHandle> {
        let (stop_tx, stop_rx) = sync_channel::<()>(1);
        let shared = Arc::new(FollowShared::default());
        let follower = Follower {
            deployment: Arc::downgrade(self),
            registry,
            name: name.to_string(),
            alias: alias.to_string(),
            poll: poll_interval,
            shared: Arc::clone(&shared),
        };
        let thread = std::thread::Builder::new()
            .name(format!("follow-{name}-{alias}"))
            .spawn(move || follower.run(&stop_rx))
            .map_err(|e| ServeError::Io(format!("starting the alias follower: {e}")))?;
        Ok(FollowHandle {
            stop: Some(stop_tx),
            thread: Some(thread),
            shared,
        })
    }
}

fn read_sinks(sinks: &Sinks) -> Arc<Vec<Arc<dyn EventSink>>> {
    match sinks.read() {
        Ok(s) => Arc::clone(&s),
        Err(p) => Arc::clone(&p.into_inner()),
    }
}

fn event_for(
    predictor: &Predictor,
    role: Role,
    prediction: &Prediction,
    inputs: Option<&Record>,
) -> PredictionEvent {
    PredictionEvent {
        request_id: prediction.request_id.clone(),
        model: prediction.model.clone(),
        version: prediction.version,
        time_ms: now_ms(),
        role,
        probability: prediction.probability,
        label: prediction.label.clone(),
        positive: predictor.label_for(prediction.probability).1,
        inputs: inputs.map(|r| r.0.clone()),
    }
}

/// FNV-1a 64 of `key`: a stable hash (the same on every machine and run).
pub fn stable_hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Whether a request with `key` goes to a canary taking `share` of the traffic: the key's
/// stable hash mapped to `[0, 1)` is below `share`.
pub fn routes_to_canary(key: &str, share: f64) -> bool {
    // Mix the bits so keys differing only at the end spread over the whole range.
    let mut z = stable_hash(key);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let u = (z >> 11) as f64 / (1u64 << 53) as f64;
    u < share
}

struct ShadowWorker {
    predictor: Arc<Predictor>,
    rx: Receiver<ShadowJob>,
    sinks: Sinks,
    counters: Arc<ShadowCounters>,
    include_inputs: bool,
}

impl ShadowWorker {
    fn run(self) {
        while let Ok(job) = self.rx.recv() {
            match self.predictor.score(&job.record) {
                Ok(p) => {
                    let prediction = self.predictor.prediction(job.request_id, p);
                    let event = event_for(
                        &self.predictor,
                        Role::Shadow,
                        &prediction,
                        self.include_inputs.then_some(&job.record),
                    );
                    for sink in read_sinks(&self.sinks).iter() {
                        sink.emit(&event);
                    }
                    self.counters.scored.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "shadow model failed");
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Loads a predictor for `which` version of model `name` from a registry.
pub fn load_predictor(registry: &Registry, name: &str, which: VersionRef<'_>) -> Result<Predictor> {
    let (info, bytes) = registry.load(name, which)?;
    let bundle = ModelBundle::from_bytes(&bytes)?;
    Predictor::new(name, info.version, bundle)
}

#[derive(Debug, Default)]
struct FollowShared {
    reloads: AtomicU64,
    polls: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
    stopped: AtomicBool,
}

struct Follower {
    deployment: std::sync::Weak<Deployment>,
    registry: Arc<Registry>,
    name: String,
    alias: String,
    poll: Duration,
    shared: Arc<FollowShared>,
}

impl Follower {
    fn run(self, stop: &Receiver<()>) {
        let mut failed_version: Option<u64> = None;
        loop {
            let Some(deployment) = self.deployment.upgrade() else {
                break;
            };
            if let Err(e) = self.check(&deployment, &mut failed_version) {
                self.shared.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut slot) = self.shared.last_error.lock() {
                    *slot = Some(e.to_string());
                }
            }
            drop(deployment);
            self.shared.polls.fetch_add(1, Ordering::Relaxed);
            match stop.recv_timeout(self.poll) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.shared.stopped.store(true, Ordering::Relaxed);
    }

    fn check(&self, deployment: &Deployment, failed: &mut Option<u64>) -> Result<()> {
        self.registry.refresh()?;
        let info = self
            .registry
            .version(&self.name, VersionRef::Alias(&self.alias))?;
        if info.version == deployment.current().version() || *failed == Some(info.version) {
            return Ok(());
        }
        match load_predictor(&self.registry, &self.name, VersionRef::Number(info.version)) {
            Ok(p) => {
                *failed = None;
                deployment.promote(p);
                self.shared.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(model = %self.name, alias = %self.alias, version = info.version, "alias moved: reloaded");
                Ok(())
            }
            Err(e) => {
                *failed = Some(info.version);
                Err(e)
            }
        }
    }
}

/// Keeps an alias follower running; dropping it (or [`FollowHandle::stop`]) stops the thread.
#[derive(Debug)]
pub struct FollowHandle {
    stop: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<FollowShared>,
}

impl FollowHandle {
    /// Times the follower promoted a new version.
    pub fn reloads(&self) -> u64 {
        self.shared.reloads.load(Ordering::Relaxed)
    }
    /// Polls done.
    pub fn polls(&self) -> u64 {
        self.shared.polls.load(Ordering::Relaxed)
    }
    /// Failed polls (registry unreachable, a bundle that does not load, ...).
    pub fn errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }
    /// The last failure, if any.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.lock().ok().and_then(|s| s.clone())
    }
    /// Stops the follower and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }
    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.try_send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FollowHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
