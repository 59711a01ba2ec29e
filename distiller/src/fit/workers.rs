//! A fixed set of worker threads, each with its own one-thread rayon pool
//! ([`crate::threads::with_threads`]), mapping tasks to results in task order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::FitError;

/// `f` over `tasks` on `jobs` threads; results in task order, the first error wins.
/// `done(i)` runs on the worker after task `i` succeeds.
///
/// Inside a worker every rayon call (the sparse products) runs on the worker's own
/// one-thread pool, so trials neither share nor wait for threads.
pub(super) fn map<T, R>(
    tasks: &[T],
    jobs: usize,
    f: &(dyn Fn(&T) -> Result<R, FitError> + Sync),
    done: &(dyn Fn(&R) + Sync),
) -> Result<Vec<R>, FitError>
where
    T: Sync,
    R: Send,
{
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, FitError>>>> =
        Mutex::new((0..tasks.len()).map(|_| None).collect());
    let worker = || -> Result<(), FitError> {
        crate::threads::with_threads(1, || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(task) = tasks.get(i) else {
                return;
            };
            let result = f(task);
            if let Ok(r) = &result {
                done(r);
            }
            let failed = result.is_err();
            if let Ok(mut slots) = results.lock() {
                if let Some(slot) = slots.get_mut(i) {
                    *slot = Some(result);
                }
            }
            if failed {
                // Let the other workers drain: no new task starts after an error.
                next.store(tasks.len(), Ordering::Relaxed);
                return;
            }
        })
        .map_err(|e| FitError::Worker(e.to_string()))
    };
    let jobs = jobs.clamp(1, tasks.len().max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs).map(|_| scope.spawn(worker)).collect();
        for h in handles {
            h.join()
                .map_err(|_| FitError::Worker("a worker panicked".into()))??;
        }
        Ok::<(), FitError>(())
    })?;
    let slots = results
        .into_inner()
        .map_err(|_| FitError::Worker("a worker panicked".into()))?;
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        match slot {
            Some(r) => out.push(r?),
            None => return Err(FitError::Worker("a task did not run".into())),
        }
    }
    Ok(out)
}
