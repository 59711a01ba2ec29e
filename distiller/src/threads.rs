//! How many threads training uses: a policy that is never slower than one thread.
//!
//! Two kinds of parallel work run during training:
//!
//! - **our sparse products** ([`crate::sparse::spmm()`]) split their rows over the
//!   *current* rayon pool, but only when the product is large enough to pay for the
//!   hand-off ([`worth_splitting`], [`PARALLEL_MIN_WORK`]); smaller ones stay on the
//!   calling thread;
//! - **candle's CPU kernels** read two environment variables: `RAYON_NUM_THREADS` on
//!   every matmul (gemm splits only products above its own size threshold, over the
//!   current rayon pool), and `CANDLE_NUM_THREADS` (falling back to `RAYON_NUM_THREADS`)
//!   once, to size a global *barrier pool* for element-wise ops of 64 Ki elements or
//!   more. That pool's threads spin at a barrier after every op: when another process
//!   holds a core, each op waits for a descheduled spinner, which made the default ten
//!   times slower than one thread (issue 14).
//!
//! The library never reads the environment: a binary resolves a [`ThreadPolicy`] into
//! [`Threads`] once, at the top of `main` before any thread exists, sets the variables
//! [`Threads::env`] names, and runs its work inside [`with_threads`]. The `frameless`
//! binary does exactly this (`--threads N` is [`ThreadPolicy::Fixed`], no flag is
//! [`ThreadPolicy::Auto`] with [`free_cores`] sampled from `/proc/stat` for gemm, a pool
//! of every core, and a monitor thread that tells [`set_spare_core`] every half second
//! whether another process has taken the second core, from [`busy_elsewhere`]).
//!
//! Code that trains many models in parallel threads (one model per thread) resolves
//! `ThreadPolicy::Fixed(1)` (so `RAYON_NUM_THREADS=1`: every gemm and element-wise op
//! stays on its caller, and candle's barrier pool, which serialises its callers behind
//! one lock, has no worker) and runs each training inside its own `with_threads(1, …)`.
//!
//! Thread counts never change results: every product sums each output entry in a fixed
//! order, whichever thread computes it.

use std::num::NonZeroUsize;

/// Multiply-adds (`nnz × width`) below which a sparse product stays on the calling
/// thread. Measured on this project's benchmark (`scripts/bench-threads.sh`): a rayon
/// hand-off costs tens of microseconds, a product of this size about a millisecond.
pub const PARALLEL_MIN_WORK: usize = 1 << 20;

/// Whether a core beyond the calling thread is free now ([`set_spare_core`]).
static SPARE_CORE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Tells [`worth_splitting`] whether a core beyond the training thread is free now:
/// while it is not, products stay on their caller whatever the pool's size, so a pool
/// sized for a quiet machine costs nothing when another process takes a core. A binary's
/// monitor updates it as the load changes (the `frameless` binary: [`busy_elsewhere`]
/// every half second under [`ThreadPolicy::Auto`]); it starts true.
pub fn set_spare_core(spare: bool) {
    SPARE_CORE.store(spare, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a product of `work` multiply-adds should be split over the current rayon
/// pool: it is large enough, the pool has more than one thread and a core is spare.
pub fn worth_splitting(work: usize) -> bool {
    work >= PARALLEL_MIN_WORK
        && rayon::current_num_threads() > 1
        && SPARE_CORE.load(std::sync::atomic::Ordering::Relaxed)
}

/// `f(a_i, b_i)` for the `i`-th chunks of `a` (`a_chunk` long) and `b` (`b_chunk` long),
/// split over the rayon pool like a product of `a.len()` multiply-adds
/// ([`worth_splitting`]): an element-wise pass over an `N × d` array gives the same
/// values on any number of threads.
pub fn zip_chunks<A: Send, B: Send>(
    a: &mut [A],
    a_chunk: usize,
    b: &mut [B],
    b_chunk: usize,
    f: impl Fn(&mut [A], &mut [B]) + Sync + Send,
) {
    use rayon::prelude::*;
    let (a_chunk, b_chunk) = (a_chunk.max(1), b_chunk.max(1));
    if worth_splitting(a.len()) {
        let pairs = a.par_chunks_mut(a_chunk).zip(b.par_chunks_mut(b_chunk));
        pairs.for_each(|(a, b)| f(a, b));
    } else {
        let pairs = a.chunks_mut(a_chunk).zip(b.chunks_mut(b_chunk));
        pairs.for_each(|(a, b)| f(a, b));
    }
}

/// `f(i, a_i)` for the `i`-th chunk of `a` (`chunk` long), split over the rayon pool
/// when `work` multiply-adds' worth of it is ([`worth_splitting`]).
pub fn chunks_indexed<A: Send>(
    a: &mut [A],
    chunk: usize,
    work: usize,
    f: impl Fn(usize, &mut [A]) + Sync + Send,
) {
    use rayon::prelude::*;
    if worth_splitting(work) {
        a.par_chunks_mut(chunk.max(1))
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        a.chunks_mut(chunk.max(1))
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    }
}

/// `(0..n).map(f)`, collected in order, split over the rayon pool when `n` items of
/// about `work` multiply-adds each are worth it ([`worth_splitting`]).
pub fn map_in_order<R: Send>(
    n: usize,
    work: usize,
    f: impl Fn(usize) -> R + Sync + Send,
) -> Vec<R> {
    use rayon::prelude::*;
    if worth_splitting(n.saturating_mul(work)) {
        (0..n).into_par_iter().map(f).collect()
    } else {
        (0..n).map(f).collect()
    }
}

/// How the thread count is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadPolicy {
    /// As many threads as there are free cores; candle's element-wise barrier pool off
    /// (its spinning costs more than it gains on this project's op sizes, and turns
    /// pathological when a core is taken); small products stay on their caller.
    Auto,
    /// Exactly this many threads everywhere (candle's barrier pool included).
    Fixed(NonZeroUsize),
}

/// A resolved thread setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads {
    /// Threads of the rayon pool training runs in: our sparse products split over it
    /// (while a core is spare, [`set_spare_core`]).
    pub pool: usize,
    /// Threads candle's gemm splits a large matmul over (`RAYON_NUM_THREADS`).
    pub gemm: usize,
    /// Threads of candle's element-wise barrier pool (1: none, ops run on their caller).
    pub elementwise: usize,
}

impl ThreadPolicy {
    /// The thread setting for a machine with `available` cores of which `free` (a
    /// fraction, e.g. from [`free_cores`]) are idle. `Auto` gives gemm a second thread
    /// only for a core that is at least 80 % idle, so a competing CPU-bound process (or
    /// two half-busy ones) leaves it on one thread; its pool has every core, for the
    /// sparse products to use while one is spare ([`set_spare_core`]).
    pub fn resolve(self, free: f64, available: usize) -> Threads {
        match self {
            ThreadPolicy::Fixed(n) => Threads {
                pool: n.get(),
                gemm: n.get(),
                elementwise: n.get(),
            },
            ThreadPolicy::Auto => {
                let free = if free.is_finite() { free } else { 0.0 };
                let cores = whole_cores(free).max(1.0) as usize;
                Threads {
                    pool: available.max(1),
                    gemm: cores.clamp(1, available.max(1)),
                    elementwise: 1,
                }
            }
        }
    }

    /// Whether this policy splits products by the load ([`set_spare_core`]), not by
    /// its pool size alone.
    pub fn follows_load(self) -> bool {
        self == ThreadPolicy::Auto
    }
}

impl Threads {
    /// The environment variables candle reads, with their values; set them before the
    /// first candle op (and before any thread is spawned).
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("RAYON_NUM_THREADS", self.gemm.to_string()),
            ("CANDLE_NUM_THREADS", self.elementwise.to_string()),
        ]
    }
}

/// Runs `f` inside a new rayon pool of `threads` threads (at least one), so every
/// parallel product `f` starts is split over that pool; `f` itself runs on one of them.
///
/// # Errors
/// If the operating system refuses to start the threads.
pub fn with_threads<R: Send>(
    threads: usize,
    f: impl FnOnce() -> R + Send,
) -> Result<R, rayon::ThreadPoolBuildError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("frameless-{i}"))
        .build()?;
    Ok(pool.install(f))
}

/// Cumulative `(idle, total)` jiffies of the first `cpu ` line of a `/proc/stat` text
/// (idle includes iowait); `None` if there is no such line.
pub fn cpu_jiffies(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map_while(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest fields are inside user).
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    let total = fields.iter().take(8).sum();
    Some((idle, total))
}

/// Idle cores between two `/proc/stat` samples of a machine with `cores` cores: the
/// idle share of the elapsed jiffies times `cores`; `None` if a sample has no `cpu `
/// line or no time passed between them.
pub fn free_cores(before: &str, after: &str, cores: usize) -> Option<f64> {
    let (idle0, total0) = cpu_jiffies(before)?;
    let (idle1, total1) = cpu_jiffies(after)?;
    let total = total1.checked_sub(total0).filter(|&t| t > 0)?;
    let idle = idle1.saturating_sub(idle0).min(total);
    Some(idle as f64 / total as f64 * cores as f64)
}

/// The cores `free` idle cores count as for a thread each: a core at least 80 % idle.
/// Truncation is the point: 1.7 free cores is one thread.
fn whole_cores(free: f64) -> f64 {
    (free + 0.2).floor()
}

/// The free cores of a start-up sample taken over several windows ([`free_cores`] of
/// each, in turn): the most free window's count, and no window more once one frees every
/// core of `available` (as [`ThreadPolicy::resolve`] counts them: 1.8 free of 2 is both).
/// A process busy for a moment while the binary starts, the reader of a pipe it writes
/// to for one, is idle in a later window; a competitor that stays busy is in every one.
///
/// ```
/// use frameless_distiller::threads::most_free;
/// // A reader starting beside us takes half a core in the first window only.
/// assert_eq!(most_free([1.5, 2.0, 0.0], 2), 2.0);
/// // A competing process holds a core in every window.
/// assert_eq!(most_free([1.0, 0.9, 1.05], 2), 1.05);
/// assert_eq!(most_free([], 2), 0.0);
/// ```
pub fn most_free(windows: impl IntoIterator<Item = f64>, available: usize) -> f64 {
    let mut most = 0.0f64;
    for free in windows {
        most = most.max(free);
        if whole_cores(most) >= available as f64 {
            break;
        }
    }
    most
}

/// Cores the rest of the machine kept busy between two `/proc/stat` samples, during
/// which this process used `own` jiffies (all its threads, `utime + stime` from
/// `/proc/self/stat`); `None` as for [`free_cores`].
pub fn busy_elsewhere(before: &str, after: &str, own: u64, cores: usize) -> Option<f64> {
    let (idle0, total0) = cpu_jiffies(before)?;
    let (idle1, total1) = cpu_jiffies(after)?;
    let total = total1.checked_sub(total0).filter(|&t| t > 0)?;
    let busy = total.saturating_sub(idle1.saturating_sub(idle0));
    Some(busy.saturating_sub(own) as f64 / total as f64 * cores as f64)
}

/// This process's `utime + stime` in jiffies from a `/proc/self/stat` text; `None` if
/// the text is not of that form.
pub fn own_jiffies(stat: &str) -> Option<u64> {
    // The command name, field 2, is in parentheses and may hold spaces: count from the
    // last `)`. utime and stime are fields 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT0: &str = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n";

    #[test]
    fn free_cores_is_the_idle_share_times_the_cores() {
        // 100 more jiffies: 40 idle + 10 iowait → half of 2 cores free.
        let after = "cpu  140 0 60 840 60 0 0 0 0 0\n";
        assert_eq!(cpu_jiffies(STAT0), Some((850, 1000)));
        assert_eq!(free_cores(STAT0, after, 2), Some(1.0));
        assert_eq!(free_cores(STAT0, STAT0, 2), None, "no time passed");
        assert_eq!(free_cores("intr 5", after, 2), None);
        // 50 of the 100 jiffies busy, 30 of them ours: 0.4 of 2 cores busy elsewhere.
        assert_eq!(busy_elsewhere(STAT0, after, 30, 2), Some(0.4));
        assert_eq!(
            busy_elsewhere(STAT0, after, 80, 2),
            Some(0.0),
            "never below zero"
        );
        assert_eq!(busy_elsewhere(STAT0, STAT0, 0, 2), None);
        let own = "4242 (frameless (x) y) R 1 2 3 4 5 6 7 8 9 10 170 23 0 0 20 0";
        assert_eq!(own_jiffies(own), Some(193));
        assert_eq!(own_jiffies("4242 (frameless) R 1 2"), None);
    }

    #[test]
    fn a_moment_of_load_at_start_up_does_not_decide_gemm() {
        let auto = ThreadPolicy::Auto;
        let gemm = |windows: &[f64]| {
            let taken = std::cell::Cell::new(0);
            let free = most_free(
                windows.iter().map(|&f| {
                    taken.set(taken.get() + 1);
                    f
                }),
                2,
            );
            (auto.resolve(free, 2).gemm, taken.get())
        };
        // A reader starting beside us: busy in the first window, gone by the second,
        // which frees both cores and ends the sample.
        assert_eq!(gemm(&[1.4, 1.9, 0.0]), (2, 2));
        assert_eq!(
            gemm(&[2.0, 0.0, 0.0]),
            (2, 1),
            "a quiet machine: one window"
        );
        // A competitor in every window keeps gemm on one thread, after every window.
        assert_eq!(gemm(&[1.02, 0.97, 1.1]), (1, 3));
        assert_eq!(gemm(&[]), (1, 0), "nothing read: one thread");
    }

    #[test]
    fn auto_takes_a_second_thread_only_for_an_idle_core() {
        let auto = ThreadPolicy::Auto;
        assert_eq!(
            auto.resolve(2.0, 2),
            Threads {
                pool: 2,
                gemm: 2,
                elementwise: 1
            }
        );
        assert_eq!(auto.resolve(1.85, 2).gemm, 2);
        assert_eq!(auto.resolve(1.5, 2).gemm, 1, "a loaded core");
        assert_eq!(auto.resolve(1.5, 2).pool, 2, "the products follow the load");
        assert_eq!(auto.resolve(0.1, 2).gemm, 1, "never zero");
        assert_eq!(auto.resolve(7.9, 4).gemm, 4, "never above the cores");
        assert_eq!(auto.resolve(f64::NAN, 4).gemm, 1);
        assert_eq!(
            auto.resolve(f64::NAN, 4).env()[0],
            ("RAYON_NUM_THREADS", "1".into())
        );
        assert!(auto.follows_load());
        let fixed = ThreadPolicy::Fixed(NonZeroUsize::new(3).unwrap());
        assert!(!fixed.follows_load());
        assert_eq!(
            fixed.resolve(0.0, 2),
            Threads {
                pool: 3,
                gemm: 3,
                elementwise: 3
            }
        );
        assert_eq!(
            fixed.resolve(0.0, 2).env()[1],
            ("CANDLE_NUM_THREADS", "3".into())
        );
    }

    /// The split helpers give the one-thread result on a pool of two (the work is
    /// above `PARALLEL_MIN_WORK`, so they split while a core is spare).
    #[test]
    fn split_passes_match_the_sequential_ones() {
        let n = PARALLEL_MIN_WORK + 333;
        let squares: Vec<u64> = (0..n as u64).map(|i| i * i).collect();
        let tripled_plus_one: Vec<u64> = (0..n as u64).map(|i| 3 * i + 1).collect();
        for threads in [1, 2] {
            let mapped = with_threads(threads, || map_in_order(n, 1, |i| (i as u64).pow(2)));
            assert_eq!(mapped.unwrap(), squares);
            // Chunks of 7 against chunks of 14 of a twice-as-long `b` (odd sizes, a
            // short last chunk).
            let mut a: Vec<u64> = (0..n as u64).collect();
            let mut b: Vec<u64> = (0..2 * n as u64).map(|i| i % 2).collect();
            with_threads(threads, || {
                zip_chunks(&mut a, 7, &mut b, 14, |a, b| {
                    for (x, pair) in a.iter_mut().zip(b.chunks(2)) {
                        *x = 3 * *x + pair[1];
                    }
                })
            })
            .unwrap();
            assert_eq!(a, tripled_plus_one, "{threads} threads");
        }
    }

    #[test]
    fn with_threads_runs_inside_a_pool_of_that_size() {
        assert_eq!(with_threads(2, rayon::current_num_threads).unwrap(), 2);
        assert_eq!(with_threads(0, rayon::current_num_threads).unwrap(), 1);
        assert!(!with_threads(1, || worth_splitting(usize::MAX)).unwrap());
        assert!(!with_threads(2, || worth_splitting(PARALLEL_MIN_WORK - 1)).unwrap());
        assert!(with_threads(2, || worth_splitting(PARALLEL_MIN_WORK)).unwrap());
        set_spare_core(false);
        let busy = with_threads(2, || worth_splitting(usize::MAX)).unwrap();
        set_spare_core(true);
        assert!(!busy, "no spare core: stay on the caller");
    }
}
