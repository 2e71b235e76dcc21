//! How many threads a pipeline fits or transforms a stream with, and the scoped fan-out both use.
//!
//! Work is split so that every thread computes exactly what the single-threaded path computes
//! for its share (whole columns when fitting, whole row ranges when transforming), so the
//! result is bit-identical for any thread count; only the wall time changes.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use crate::{Error, Result};

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
