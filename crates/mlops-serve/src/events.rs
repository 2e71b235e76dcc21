//! Where prediction events go: the [`EventSink`] trait, a bounded [`ChannelSink`], a
//! [`JsonlSink`] file, and the [`LabelJoiner`] that pairs predictions with outcomes arriving
//! later.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

pub use mlops_core::event::{OutcomeEvent, PredictionEvent, Role};

use crate::error::{Result, ServeError};

/// Receives prediction events. `emit` must not block the request path: a sink that cannot keep
/// up drops events (and counts them) rather than waiting.
pub trait EventSink: Send + Sync + std::fmt::Debug {
    /// Takes one event.
    fn emit(&self, event: &PredictionEvent);
}

/// A bounded in-memory queue of events: `emit` never blocks; when the queue is full the event
/// is dropped and counted.
///
/// ```
/// use mlops_serve::events::{ChannelSink, EventSink};
/// let (sink, rx) = ChannelSink::new(2);
/// # let e = mlops_core::event::PredictionEvent { request_id: "r".into(), model: "m".into(),
/// #   version: 1, time_ms: 0, role: mlops_core::event::Role::Champion, probability: 0.5,
/// #   label: "yes".into(), positive: true, inputs: None };
/// for _ in 0..3 { sink.emit(&e); }
/// assert_eq!(rx.try_iter().count(), 2);
/// assert_eq!(sink.dropped(), 1);
/// ```
#[derive(Debug)]
pub struct ChannelSink {
    tx: SyncSender<PredictionEvent>,
    sent: AtomicU64,
    dropped: AtomicU64,
}

impl ChannelSink {
    /// A sink holding at most `capacity` undelivered events, and the receiving end.
    pub fn new(capacity: usize) -> (Self, Receiver<PredictionEvent>) {
        let (tx, rx) = sync_channel(capacity);
        (
            Self {
                tx,
                sent: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            },
            rx,
        )
    }
    /// Events delivered to the queue.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
    /// Events dropped because the queue was full or the receiver gone.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl EventSink for ChannelSink {
    fn emit(&self, event: &PredictionEvent) {
        match self.tx.try_send(event.clone()) {
            Ok(()) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Writes events as JSON lines through a buffer; flushed by [`JsonlSink::flush`] and on drop.
/// A write failure is counted ([`JsonlSink::errors`]), never raised on the request path.
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    out: Mutex<BufWriter<File>>,
    written: AtomicU64,
    errors: AtomicU64,
}

impl JsonlSink {
    /// Creates (truncating) `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::open(path, false)
    }
    /// Opens `path` for appending, creating it if needed.
    pub fn append(path: impl AsRef<Path>) -> Result<Self> {
        Self::open(path, true)
    }
    fn open(path: impl AsRef<Path>, append: bool) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&path)
            .map_err(|e| ServeError::Io(format!("{}: {e}", path.display())))?;
        Ok(Self {
            path,
            out: Mutex::new(BufWriter::new(file)),
            written: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        })
    }
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Lines written.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
    /// Events that could not be written.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
    /// Flushes the buffer to the file.
    pub fn flush(&self) -> Result<()> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| ServeError::Io("event file lock poisoned".to_string()))?;
        out.flush()
            .map_err(|e| ServeError::Io(format!("{}: {e}", self.path.display())))
    }
}

impl EventSink for JsonlSink {
    fn emit(&self, event: &PredictionEvent) {
        let ok = serde_json::to_vec(event).ok().and_then(|mut line| {
            line.push(b'\n');
            let mut out = self.out.lock().ok()?;
            out.write_all(&line).ok()
        });
        match ok {
            Some(()) => self.written.fetch_add(1, Ordering::Relaxed),
            None => self.errors.fetch_add(1, Ordering::Relaxed),
        };
    }
}

impl Drop for JsonlSink {
    fn drop(&mut self) {
        if let Ok(out) = self.out.get_mut() {
            let _ = out.flush();
        }
    }
}

/// A prediction paired with its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    /// The request id.
    pub request_id: String,
    /// The model version that predicted.
    pub version: u64,
    /// P(positive) predicted.
    pub probability: f64,
    /// Whether the true class is positive.
    pub outcome: bool,
}

impl Joined {
    /// `(probability, label)`, the pair a performance monitor consumes.
    pub fn pair(&self) -> (f64, bool) {
        (self.probability, self.outcome)
    }
}

/// Joins predictions with outcomes that arrive later, by request id, in bounded memory.
///
/// At most `max_pending` predictions (and as many early outcomes) wait for their partner; when
/// full, the oldest is evicted and counted. Shadow predictions are ignored (their answer was never
/// acted on). Outcomes for unknown ids are kept waiting in case the prediction arrives after it.
///
/// ```
/// use mlops_serve::events::LabelJoiner;
/// use mlops_core::event::{OutcomeEvent, PredictionEvent, Role};
/// let mut j = LabelJoiner::new(100);
/// let p = PredictionEvent { request_id: "r1".into(), model: "m".into(), version: 1, time_ms: 0,
///     role: Role::Champion, probability: 0.7, label: "yes".into(), positive: true, inputs: None };
/// assert!(j.add_prediction(&p).is_none());
/// let joined = j.add_outcome(&OutcomeEvent { request_id: "r1".into(), time_ms: 5, positive: false });
/// assert_eq!(joined.unwrap().pair(), (0.7, false));
/// ```
#[derive(Debug)]
pub struct LabelJoiner {
    max_pending: usize,
    predictions: HashMap<String, (u64, f64)>,
    prediction_order: VecDeque<String>,
    outcomes: HashMap<String, bool>,
    outcome_order: VecDeque<String>,
    evicted: u64,
    joined: u64,
}

impl LabelJoiner {
    /// A joiner keeping at most `max_pending` unmatched predictions and as many unmatched outcomes
    /// (at least 1).
    pub fn new(max_pending: usize) -> Self {
        Self {
            max_pending: max_pending.max(1),
            predictions: HashMap::new(),
            prediction_order: VecDeque::new(),
            outcomes: HashMap::new(),
            outcome_order: VecDeque::new(),
            evicted: 0,
            joined: 0,
        }
    }

    /// Adds a prediction; returns the joined pair if its outcome already arrived.
    pub fn add_prediction(&mut self, event: &PredictionEvent) -> Option<Joined> {
        if event.role == Role::Shadow {
            return None;
        }
        if let Some(outcome) = self.outcomes.remove(&event.request_id) {
            self.joined += 1;
            return Some(Joined {
                request_id: event.request_id.clone(),
                version: event.version,
                probability: event.probability,
                outcome,
            });
        }
        if self
            .predictions
            .insert(event.request_id.clone(), (event.version, event.probability))
            .is_none()
        {
            self.prediction_order.push_back(event.request_id.clone());
        }
        while self.predictions.len() > self.max_pending {
            match self.prediction_order.pop_front() {
                Some(old) => {
                    if self.predictions.remove(&old).is_some() {
                        self.evicted += 1;
                    }
                }
                None => break,
            }
        }
        self.compact();
        None
    }

    /// Adds an outcome; returns the joined pair if its prediction is waiting.
    pub fn add_outcome(&mut self, event: &OutcomeEvent) -> Option<Joined> {
        if let Some((version, probability)) = self.predictions.remove(&event.request_id) {
            self.joined += 1;
            self.compact();
            return Some(Joined {
                request_id: event.request_id.clone(),
                version,
                probability,
                outcome: event.positive,
            });
        }
        if self
            .outcomes
            .insert(event.request_id.clone(), event.positive)
            .is_none()
        {
            self.outcome_order.push_back(event.request_id.clone());
        }
        while self.outcomes.len() > self.max_pending {
            match self.outcome_order.pop_front() {
                Some(old) => {
                    if self.outcomes.remove(&old).is_some() {
                        self.evicted += 1;
                    }
                }
                None => break,
            }
        }
        self.compact();
        None
    }

    /// Drops stale ids from the order queues so they stay bounded too.
    fn compact(&mut self) {
        if self.prediction_order.len() > 2 * self.max_pending {
            let live = &self.predictions;
            self.prediction_order.retain(|id| live.contains_key(id));
        }
        if self.outcome_order.len() > 2 * self.max_pending {
            let live = &self.outcomes;
            self.outcome_order.retain(|id| live.contains_key(id));
        }
    }

    /// Predictions waiting for an outcome.
    pub fn pending_predictions(&self) -> usize {
        self.predictions.len()
    }
    /// Outcomes waiting for a prediction.
    pub fn pending_outcomes(&self) -> usize {
        self.outcomes.len()
    }
    /// Entries evicted because the joiner was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
    /// Pairs produced so far.
    pub fn joined(&self) -> u64 {
        self.joined
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn pred(id: &str, p: f64, role: Role) -> PredictionEvent {
        PredictionEvent {
            request_id: id.into(),
            model: "m".into(),
            version: 2,
            time_ms: 1,
            role,
            probability: p,
            label: if p >= 0.5 { "yes" } else { "no" }.into(),
            positive: p >= 0.5,
            inputs: None,
        }
    }

    fn outcome(id: &str, positive: bool) -> OutcomeEvent {
        OutcomeEvent {
            request_id: id.into(),
            time_ms: 2,
            positive,
        }
    }

    #[test]
    fn joins_in_either_order() {
        let mut j = LabelJoiner::new(10);
        assert!(j.add_prediction(&pred("a", 0.9, Role::Champion)).is_none());
        assert!(j.add_outcome(&outcome("b", false)).is_none());
        let ab = j.add_outcome(&outcome("a", true)).unwrap();
        assert_eq!(
            (ab.request_id.as_str(), ab.version, ab.pair()),
            ("a", 2, (0.9, true))
        );
        let b = j.add_prediction(&pred("b", 0.2, Role::Canary)).unwrap();
        assert_eq!(b.pair(), (0.2, false));
        assert_eq!(
            (j.pending_predictions(), j.pending_outcomes(), j.joined()),
            (0, 0, 2)
        );
        // Shadow predictions are never joined.
        assert!(j.add_prediction(&pred("c", 0.9, Role::Shadow)).is_none());
        assert!(j.add_outcome(&outcome("c", true)).is_none());
        assert_eq!(j.pending_outcomes(), 1);
    }

    #[test]
    fn memory_is_bounded_and_evictions_counted() {
        let mut j = LabelJoiner::new(100);
        for i in 0..10_000 {
            j.add_prediction(&pred(&format!("p{i}"), 0.5, Role::Champion));
            j.add_outcome(&outcome(&format!("o{i}"), true));
        }
        assert_eq!(j.pending_predictions(), 100);
        assert_eq!(j.pending_outcomes(), 100);
        assert_eq!(j.evicted(), 2 * 9_900);
        assert!(j.prediction_order.len() <= 200 && j.outcome_order.len() <= 200);
        // The oldest were evicted, the newest still join.
        assert!(j.add_outcome(&outcome("p0", true)).is_none());
        assert!(j.add_outcome(&outcome("p9999", true)).is_some());
        assert!(
            j.add_prediction(&pred("o9999", 0.1, Role::Champion))
                .is_some()
        );
        assert_eq!(LabelJoiner::new(0).max_pending, 1);
    }

    #[test]
    fn channel_sink_counts_drops_and_disconnects() {
        let (sink, rx) = ChannelSink::new(3);
        for i in 0..5 {
            sink.emit(&pred(&i.to_string(), 0.5, Role::Champion));
        }
        assert_eq!((sink.sent(), sink.dropped()), (3, 2));
        let got: Vec<String> = rx.try_iter().map(|e| e.request_id).collect();
        assert_eq!(got, ["0", "1", "2"]);
        drop(rx);
        sink.emit(&pred("x", 0.5, Role::Champion));
        assert_eq!(sink.dropped(), 3);
    }

    #[test]
    fn jsonl_sink_flushes_on_drop_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        {
            let s = JsonlSink::create(&path).unwrap();
            s.emit(&pred("a", 0.7, Role::Champion));
        }
        {
            let s = JsonlSink::append(&path).unwrap();
            s.emit(&pred("b", 0.1, Role::Shadow));
            assert_eq!(s.path(), path.as_path());
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let events: Vec<PredictionEvent> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            events,
            vec![pred("a", 0.7, Role::Champion), pred("b", 0.1, Role::Shadow)]
        );
        assert!(text.contains("\"role\":\"shadow\""));
        assert!(JsonlSink::create(dir.path().join("no/such/dir/e.jsonl")).is_err());
    }
}
