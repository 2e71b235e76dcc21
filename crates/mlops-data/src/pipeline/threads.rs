//! How many threads a pipeline fits or transforms a stream with, and the scoped fan-out both use.
//!
//! Work is split so that every thread computes exactly what the single-threaded path computes
//! for its share (whole columns when fitting, whole row ranges when transforming), so the
//! result is bit-identical for any thread count; only the wall time changes.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use arrow_array::RecordBatch;

use crate::{BatchStream, Error, Result};

/// How many threads [`Pipeline::fit_with`](super::Pipeline::fit_with) and
/// [`FittedPipeline::transform_stream_with`](super::FittedPipeline::transform_stream_with) use.
///
/// The result never depends on it. Inputs too small to pay for a thread
/// ([`Threads::MIN_ROWS_PER_THREAD`] rows per thread) stay on the calling thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Threads {
    /// One per available core, at most 8 (the default of `fit` and `transform_stream`).
    #[default]
    AllCores,
    /// Exactly this many (`Threads::ONE` = the calling thread only).
    Fixed(NonZeroUsize),
}

impl Threads {
    /// The calling thread only.
    pub const ONE: Self = Self::Fixed(NonZeroUsize::MIN);

    /// Fewest rows a thread is given; smaller inputs use fewer threads.
    pub const MIN_ROWS_PER_THREAD: usize = 32_768;

    /// `n` threads; `0` means one.
    #[must_use]
    pub fn fixed(n: usize) -> Self {
        Self::Fixed(NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN))
    }

    /// The number of threads this stands for on this machine.
    #[must_use]
    pub fn count(self) -> usize {
        match self {
            Self::AllCores => std::thread::available_parallelism()
                .map(NonZeroUsize::get)
                .unwrap_or(1)
                .min(8),
            Self::Fixed(n) => n.get(),
        }
    }

    /// Threads worth using for `rows` rows.
    pub(crate) fn for_rows(self, rows: usize) -> usize {
        self.count().min(rows / Self::MIN_ROWS_PER_THREAD).max(1)
    }
}

/// Runs `work` once per item on up to `threads` threads (the calling thread and scoped
/// workers pulling items in order from a shared queue) and returns the results in item order.
/// If the OS refuses a worker thread, the others (at least the calling thread) do its share.
pub(crate) fn fan_out<T, R, F>(items: Vec<T>, threads: usize, work: F) -> Result<Vec<R>>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let n = items.len();
    let workers = threads.min(n);
    if workers <= 1 {
        return Ok(items.into_iter().map(&work).collect());
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    let run = || {
        loop {
            let next = match queue.lock() {
                Ok(mut q) => q.next(),
                Err(_) => None,
            };
            let Some((i, item)) = next else { break };
            let r = work(item);
            if let Ok(mut res) = results.lock()
                && let Some(slot) = res.get_mut(i)
            {
                *slot = Some(r);
            }
        }
    };
    let span = tracing::Span::current();
    let joined = std::thread::scope(|scope| {
        let run = &run;
        let handles: Vec<_> = (1..workers)
            .filter_map(|_| {
                let span = span.clone();
                std::thread::Builder::new()
                    .name("mlops-pipeline".to_string())
                    .spawn_scoped(scope, move || {
                        let _entered = span.enter();
                        run();
                    })
                    .ok()
            })
            .collect();
        run();
        handles.into_iter().all(|h| h.join().is_ok())
    });
    if !joined {
        return Err(Error::Incompatible(
            "a pipeline worker thread panicked".to_string(),
        ));
    }
    results
        .into_inner()
        .map_err(|_| Error::Incompatible("a pipeline worker thread panicked".to_string()))?
        .into_iter()
        .map(|r| r.ok_or_else(|| Error::Incompatible("a pipeline work item was lost".to_string())))
        .collect()
}

/// Rows gathered per thread before a window of batches is handed on: bounds the batches held at
/// once while giving each thread enough work to pay for itself.
pub(crate) const WINDOW_ROWS_PER_THREAD: usize = 65_536;

/// Feeds `stream` to `each` in windows of at least [`WINDOW_ROWS_PER_THREAD`] rows per thread
/// (the last one may be smaller), with the window's row count and the stream row number of its
/// first row; returns the number of rows. A stream error is returned after the window of the
/// batches before it, so that an error those batches cause is reported first.
pub(crate) fn for_each_window(
    mut stream: BatchStream,
    threads: Threads,
    mut each: impl FnMut(&[RecordBatch], usize, usize) -> Result<()>,
) -> Result<usize> {
    let target = threads.count().saturating_mul(WINDOW_ROWS_PER_THREAD);
    let mut window: Vec<RecordBatch> = Vec::new();
    let mut window_rows = 0usize;
    let mut rows = 0usize;
    loop {
        let (done, failed) = match stream.next() {
            Some(Ok(batch)) => {
                window_rows = window_rows.saturating_add(batch.num_rows());
                window.push(batch);
                (false, None)
            }
            Some(Err(e)) => (true, Some(e)),
            None => (true, None),
        };
        if done || window_rows >= target {
            each(&window, window_rows, rows)?;
            rows = rows.saturating_add(window_rows);
            window.clear();
            window_rows = 0;
        }
        if let Some(e) = failed {
            return Err(e);
        }
        if done {
            return Ok(rows);
        }
    }
}

/// Walks a window of batches with each column's state owned by one of `threads` threads:
/// `columns` are `(cost, state)` in column order, spread so that the threads' summed costs stay
/// even; every thread calls `update(batch index, batch, column index, state)` batch by batch
/// over its columns. The error returned is the first in (batch, column) order, the one a
/// single-threaded walk meets.
pub(crate) fn columns_by_thread<C, F>(
    columns: Vec<(usize, C)>,
    window: &[RecordBatch],
    threads: usize,
    update: F,
) -> Result<()>
where
    C: Send,
    F: Fn(usize, &RecordBatch, usize, &mut C) -> Result<()> + Sync,
{
    let parts = threads.clamp(1, columns.len().max(1));
    let mut lists: Vec<Vec<(usize, C)>> = (0..parts).map(|_| Vec::new()).collect();
    let mut load = vec![0usize; parts];
    for (i, (cost, state)) in columns.into_iter().enumerate() {
        let k = (0..parts).min_by_key(|&k| (load[k], k)).unwrap_or(0);
        if let (Some(l), Some(list)) = (load.get_mut(k), lists.get_mut(k)) {
            *l += cost;
            list.push((i, state));
        }
    }
    let failures = fan_out(lists, parts, |mut list| {
        for (b, batch) in window.iter().enumerate() {
            for (i, state) in &mut list {
                if let Err(e) = update(b, batch, *i, state) {
                    return Some((b, *i, e));
                }
            }
        }
        None
    })?;
    match failures
        .into_iter()
        .flatten()
        .min_by_key(|(b, i, _)| (*b, *i))
    {
        Some((_, _, e)) => Err(e),
        None => Ok(()),
    }
}
