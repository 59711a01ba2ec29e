//! Resolving `--threads` into candle's environment and the rayon pool training runs in
//! (see [`frameless_distiller::threads`] for the policy and why).

use std::num::NonZeroUsize;
use std::time::Duration;

use frameless_distiller::threads::{
    busy_elsewhere, free_cores, most_free, own_jiffies, set_spare_core, ThreadPolicy, Threads,
};

/// How long `Auto` watches `/proc/stat` to see how many cores are idle.
const SAMPLE: Duration = Duration::from_millis(100);

/// At most this many [`SAMPLE`] windows (the most free one counts, [`most_free`]): one
/// window decided gemm's threads for a whole run from whatever else started with us,
/// such as `python3` reading our `--json` from a pipe (10 % slower at 100k nodes and 200
/// features, docs/results/threads.md). Under steady load this costs 200 ms at start-up.
const SAMPLE_WINDOWS: usize = 3;

/// How often `Auto`'s monitor looks again: the load a run starts beside is not the load
/// it meets ten minutes on.
const MONITOR_EVERY: Duration = Duration::from_millis(500);

/// Resolves the policy the user asked for on this machine and sets the variables candle
/// reads: `--threads N` ([`ThreadPolicy::Fixed`]), else a positive `RAYON_NUM_THREADS`
/// (fixed too; a `CANDLE_NUM_THREADS` of the user's own then stands), else
/// [`ThreadPolicy::Auto`]. Call it at the top of `main`, before any thread exists
/// (setting the environment is not safe while another thread may read it). `sample` is
/// false for commands that train nothing: `Auto` then skips the `/proc/stat` start-up
/// sample and runs on one thread.
pub fn apply(flag: Option<NonZeroUsize>, sample: bool) -> (ThreadPolicy, Threads) {
    let from_env: Option<NonZeroUsize> = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse().ok());
    let policy = flag
        .or(from_env)
        .map_or(ThreadPolicy::Auto, ThreadPolicy::Fixed);
    let available = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let free = match policy {
        ThreadPolicy::Auto if sample => sample_free_cores(available),
        _ => 0.0,
    };
    let threads = policy.resolve(free, available);
    for (name, value) in threads.env() {
        if flag.is_none() && from_env.is_some() && std::env::var_os(name).is_some() {
            continue;
        }
        std::env::set_var(name, value);
    }
    if policy.follows_load() && sample && threads.pool > 1 {
        // The sample says whether a core is spare now; the monitor keeps it true.
        set_spare_core(threads.gemm > 1);
        monitor_spare_core(available);
    }
    (policy, threads)
}

/// Every [`MONITOR_EVERY`], whether a core beyond ours is at least half free of other
/// processes ([`busy_elsewhere`], our own threads' time left out, so our second thread
/// does not count as load), for [`set_spare_core`]. Half, not the start-up sample's
/// 80 %: a quiet 2-core machine shows 0.1–0.4 of a core busy elsewhere while we train
/// (kernel work for our page faults among it), a CPU-bound competitor a whole one; and
/// a product's 64-row blocks are shared out as threads come free, so a part-time core
/// still helps. Stops if `/proc` cannot be read.
fn monitor_spare_core(available: usize) {
    let read = || {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let own = own_jiffies(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        Some((stat, own))
    };
    let Some(mut last) = read() else { return };
    let online = online_cores(&last.0);
    let spawned = std::thread::Builder::new()
        .name("frameless-load".into())
        .spawn(move || loop {
            std::thread::sleep(MONITOR_EVERY);
            let Some(now) = read() else { return };
            let own = now.1.saturating_sub(last.1);
            if let Some(busy) = busy_elsewhere(&last.0, &now.0, own, online) {
                let spare = (online.min(available) as f64 - busy - 1.0).max(0.0);
                set_spare_core(spare >= 0.5);
            }
            last = now;
        });
    // Without the monitor the start-up sample's answer stands.
    drop(spawned);
}

/// The cores `/proc/stat` counts (every online core; ours are at most `available`).
fn online_cores(stat: &str) -> usize {
    stat.lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count()
        .max(1)
}

/// Idle cores at start-up: the most free of up to [`SAMPLE_WINDOWS`] windows of [`SAMPLE`]
/// (0 where `/proc/stat` cannot be read: one thread).
fn sample_free_cores(available: usize) -> f64 {
    let read = || std::fs::read_to_string("/proc/stat").ok();
    let window = || {
        let before = read()?;
        std::thread::sleep(SAMPLE);
        let after = read()?;
        // /proc/stat counts every online core; our share is at most `available` of them.
        free_cores(&before, &after, online_cores(&before)).map(|free| free.min(available as f64))
    };
    most_free(std::iter::from_fn(window).take(SAMPLE_WINDOWS), available)
}
