//! Resolving `--threads` into candle's environment and the rayon pool training runs in
//! (see [`frameless_distiller::threads`] for the policy and why).

use std::num::NonZeroUsize;
use std::time::Duration;

use frameless_distiller::threads::{free_cores, ThreadPolicy, Threads};

/// How long `Auto` watches `/proc/stat` to see how many cores are idle.
const SAMPLE: Duration = Duration::from_millis(100);

/// Resolves the policy the user asked for on this machine and sets the variables candle
/// reads: `--threads N` ([`ThreadPolicy::Fixed`]), else a positive `RAYON_NUM_THREADS`
/// (fixed too; a `CANDLE_NUM_THREADS` of the user's own then stands), else
/// [`ThreadPolicy::Auto`]. Call it at the top of `main`, before any thread exists
/// (setting the environment is not safe while another thread may read it). `sample` is
/// false for commands that train nothing: `Auto` then skips the 100 ms `/proc/stat`
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
    (policy, threads)
}

/// Idle cores over [`SAMPLE`] (0 where `/proc/stat` cannot be read: one thread).
fn sample_free_cores(available: usize) -> f64 {
    let read = || std::fs::read_to_string("/proc/stat").ok();
    let Some(before) = read() else { return 0.0 };
    std::thread::sleep(SAMPLE);
    let Some(after) = read() else { return 0.0 };
    // /proc/stat counts every online core; our share is at most `available` of them.
    let online = before
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    free_cores(&before, &after, online.max(1)).map_or(0.0, |free| free.min(available as f64))
}
