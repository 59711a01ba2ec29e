//! The body every firmware example shares: load the embedded blob straight
//! from flash, classify the embedded test nodes into a static scratch
//! buffer, check the predictions against the host engine's, count
//! instructions per inference and print one report line over semihosting.
//!
//! A target crate only supplies a [`Board`] (an instruction counter) and its
//! start-up code, then calls [`run`]. Exit status (semihosting): 0 all
//! predictions match, 1 a mismatch, 2 the blob or the firmware's buffers do
//! not fit, 3 a CPU fault (target handlers), 101 a panic.
//!
//! The report line starts with `FWREPORT` and holds `key=value` fields that
//! `run.sh` turns into its table.
//!
//! With the feature `budget`, [`run`] is the budget firmware's body instead
//! (`budget.rs`): what the model costs a firmware, for `budget.json`.
#![no_std]
#![deny(missing_docs)]
// The budget body uses only part of the shared helpers.
#![cfg_attr(feature = "budget", allow(dead_code, unused_imports))]

#[cfg(feature = "budget")]
mod budget;
mod data;
#[cfg(all(feature = "dsp", target_arch = "arm"))]
mod dsp_test;
mod stack;

#[cfg(feature = "budget")]
pub use budget::run;

use core::cell::UnsafeCell;
use core::hint::black_box;
use core::sync::atomic::{AtomicBool, Ordering};

use frameless_engine::{Features, Model};
use semihosting::{println, process::exit};

pub use data::{BLOB, DIMS, PRECISION};

/// Exit status when every prediction matches.
pub const EXIT_OK: i32 = 0;
/// Exit status when a prediction differs from the host engine's.
pub const EXIT_MISMATCH: i32 = 1;
/// Exit status when the blob is rejected or a firmware buffer is too small.
pub const EXIT_SETUP: i32 = 2;
/// Exit status a target's fault handler uses.
pub const EXIT_FAULT: i32 = 3;

/// Passes over the whole test set in the timed run; the per-inference count
/// is (`PASSES` passes − 1 pass) / ((`PASSES` − 1) × nodes), which cancels
/// the cost of reading the counter and the coarse tick of a SysTick.
const PASSES: u64 = 16;

/// Largest logit difference accepted from the host's value, relative to
/// `1 + |host|`. The engine is deterministic IEEE arithmetic, so the logits
/// are normally bit-identical; the count of exact ones is reported.
const LOGIT_TOLERANCE: f32 = 1e-4;

/// What a target provides to the shared body.
pub trait Board {
    /// Target name printed in the report, e.g. `cortex-m4`.
    const TARGET: &'static str;
    /// How the counter counts, printed in the report (e.g. `minstret`).
    const COUNTER: &'static str;
    /// Retired instructions represented by one counter tick.
    const INSTRUCTIONS_PER_TICK: u64;
    /// Monotonic instruction counter in ticks.
    fn ticks(&mut self) -> u64;
}

/// f32 words of the static scratch buffer, fixed at compile time from the
/// embedded model's dims by the engine's own bound; `run` checks it against
/// the loaded model's exact `scratch_len` before any inference.
#[cfg(not(feature = "budget"))]
const SCRATCH_WORDS: usize = frameless_engine::max_scratch_len(&data::DIMS);
/// The budget firmware reserves exactly the host's `scratch_len`, so its RAM is
/// what the model needs (checked against the loaded model before use).
#[cfg(feature = "budget")]
const SCRATCH_WORDS: usize = data::HOST_SCRATCH_WORDS;

/// Static scratch buffer, in `.bss`.
struct Scratch(UnsafeCell<[f32; SCRATCH_WORDS]>);
// SAFETY: handed out once (see `take_scratch`), so never aliased.
unsafe impl Sync for Scratch {}
static SCRATCH: Scratch = Scratch(UnsafeCell::new([0.0; SCRATCH_WORDS]));
static SCRATCH_TAKEN: AtomicBool = AtomicBool::new(false);

fn take_scratch() -> Option<&'static mut [f32]> {
    if SCRATCH_TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: the flag above lets exactly one caller through.
    Some(unsafe { &mut *SCRATCH.0.get() })
}

/// The test node `i`: its id and sparse features.
fn test_node(i: usize) -> Option<(u32, Features<'static>)> {
    let node = *data::NODES.get(i)?;
    let start = *data::OFFSETS.get(i)? as usize;
    let end = *data::OFFSETS.get(i + 1)? as usize;
    let indices = data::INDICES.get(start..end)?;
    let values = data::VALUES.get(start..end)?;
    Some((node, Features::Sparse { indices, values }))
}

/// Test node `i`'s features quantised with the int8 blob's input scale (`q`:
/// all test values, quantised once at start-up).
#[cfg(feature = "int8")]
fn test_node_q(i: usize, q: &[i8]) -> Option<(u32, Features<'_, i8>)> {
    let (node, features) = test_node(i)?;
    let Features::Sparse { indices, .. } = features else {
        return None;
    };
    let start = *data::OFFSETS.get(i)? as usize;
    let values = q.get(start..start + indices.len())?;
    Some((node, Features::Sparse { indices, values }))
}

/// One answer for test node `i` into `logits` (f32): int8 builds call the
/// integer-only `predict_int8` on the quantised features `q` and scale its
/// i32 logits afterwards, outside it; the others call `predict`.
fn answer(model: &Model, i: usize, q: &[i8], scratch: &mut [f32], logits: &mut [f32]) -> Result<(u32, usize), frameless_engine::Error> {
    let _ = q;
    #[cfg(feature = "int8")]
    {
        let (node, features) = test_node_q(i, q).ok_or(frameless_engine::Error::InvalidDims)?;
        let scale = model.calibration(1).unwrap_or(1.0);
        let p = model.predict_int8(node, features, scratch)?;
        for (o, &v) in logits.iter_mut().zip(p.logits) {
            *o = v as f32 * scale;
        }
        Ok((p.class, p.logits.len()))
    }
    #[cfg(not(feature = "int8"))]
    {
        let (node, features) = test_node(i).ok_or(frameless_engine::Error::InvalidDims)?;
        let p = model.predict(node, features, scratch)?;
        logits.iter_mut().zip(p.logits).for_each(|(o, &v)| *o = v);
        Ok((p.class, p.logits.len()))
    }
}

/// The class of test node `i`, as the timed passes ask for it (the same
/// entry point as [`answer`], nothing around it).
fn timed_class(model: &Model, i: usize, q: &[i8], scratch: &mut [f32]) -> Option<u32> {
    let _ = q;
    #[cfg(feature = "int8")]
    {
        let (node, features) = test_node_q(i, q)?;
        model.predict_int8(black_box(node), features, scratch).ok().map(|p| p.class)
    }
    #[cfg(not(feature = "int8"))]
    {
        let (node, features) = test_node(i)?;
        model.predict(black_box(node), features, scratch).ok().map(|p| p.class)
    }
}

/// `values` quantised with `scale` (int8 builds; all zeros otherwise, unused).
fn quantize<const N: usize>(values: &[f32; N], scale: Option<f32>) -> [i8; N] {
    let q = |v| scale.map_or(0, |s| frameless_engine::quant::quantize_value_i8(v, s));
    core::array::from_fn(|k| values.get(k).map_or(0, |&v| q(v)))
}

fn nnz(i: usize) -> usize {
    match (data::OFFSETS.get(i), data::OFFSETS.get(i + 1)) {
        (Some(&a), Some(&b)) => (b - a) as usize,
        _ => 0,
    }
}

fn fail(code: i32, what: core::fmt::Arguments<'_>) -> ! {
    println!("FWERROR precision={} {}", data::PRECISION, what);
    exit(code)
}

/// Executes an undefined instruction: the target's handler must exit with
/// [`EXIT_FAULT`].
#[cfg(feature = "fault-test")]
fn fault_test() {
    println!("fault-test: executing an undefined instruction");
    // SAFETY: traps on purpose; the trap handler never returns here.
    unsafe {
        #[cfg(target_arch = "arm")]
        core::arch::asm!("udf #0");
        #[cfg(target_arch = "riscv32")]
        core::arch::asm!("unimp");
    }
    println!("fault-test: the undefined instruction did not trap");
}

/// Loads the signed blob with its key (must succeed) and with another key and the
/// unsigned blob with the key (both must be `BadSignature`), prints an `FWSIG` line
/// and exits: [`EXIT_OK`] if all three held, else [`EXIT_MISMATCH`].
#[cfg(feature = "sig-test")]
fn sig_test<B: Board>(board: &mut B) -> ! {
    use frameless_engine::Error;
    let t0 = board.ticks();
    let right = Model::from_bytes_verified(data::SIGNED, &data::SIGNING_KEY).is_ok();
    let verify_instr = (board.ticks() - t0) * B::INSTRUCTIONS_PER_TICK;
    let wrong = Model::from_bytes_verified(data::SIGNED, &data::OTHER_KEY);
    let wrong = matches!(wrong, Err(Error::BadSignature));
    let unsigned = Model::from_bytes_verified(data::BLOB, &data::SIGNING_KEY);
    let unsigned = matches!(unsigned, Err(Error::BadSignature));
    let ok = right && wrong && unsigned;
    println!(
        "FWSIG target={} precision={} right_key_accepted={right} other_key_refused={wrong} unsigned_refused={unsigned} verify_instr={verify_instr} {}",
        B::TARGET,
        data::PRECISION,
        if ok { "ok" } else { "FAILED" }
    );
    exit(if ok { EXIT_OK } else { EXIT_MISMATCH })
}

/// Runs the whole example on `board` and exits QEMU with the status above.
#[cfg(not(feature = "budget"))]
// With `sig-test`, `sig_test` exits after loading: the rest is unreachable there.
#[cfg_attr(feature = "sig-test", allow(unreachable_code, unused_variables))]
pub fn run<B: Board>(board: &mut B) -> ! {
    let anchor = 0u32;
    let stack_base = black_box(&anchor) as *const u32 as usize;

    // Load: zero copy from flash; validates header, SHA-256, lengths and values.
    let t0 = board.ticks();
    let model = match Model::from_bytes(data::BLOB) {
        Ok(m) => m,
        Err(e) => fail(EXIT_SETUP, format_args!("blob rejected: {e}")),
    };
    let load_instr = (board.ticks() - t0) * B::INSTRUCTIONS_PER_TICK;

    #[cfg(feature = "fault-test")]
    fault_test();
    #[cfg(all(feature = "dsp", target_arch = "arm"))]
    match dsp_test::run() {
        Ok(checks) => println!("FWDSP target={} checks={checks} ok", B::TARGET),
        Err((kernel, case)) => fail(
            EXIT_MISMATCH,
            format_args!("dsp self-test: {kernel} differs from the safe kernel in case {case}"),
        ),
    }
    #[cfg(feature = "sig-test")]
    sig_test(board);

    let dims = model.dims();
    let d = data::DIMS;
    if (
        dims.n_nodes,
        dims.n_features,
        dims.hidden,
        dims.n_classes,
        dims.n_bands,
        dims.n_stages,
    ) != (
        d.n_nodes,
        d.n_features,
        d.hidden,
        d.n_classes,
        d.n_bands,
        d.n_stages,
    ) {
        fail(
            EXIT_SETUP,
            format_args!(
                "blob dims differ from expected-{}.rs: regenerate with fw-gen",
                data::PRECISION
            ),
        );
    }
    if !data::is_selected(model.precision()) {
        fail(
            EXIT_SETUP,
            format_args!("blob precision is {}", model.precision()),
        );
    }
    if model.scratch_len() != data::HOST_SCRATCH_WORDS {
        fail(
            EXIT_SETUP,
            format_args!(
                "scratch_len differs from the host's: models/ is stale, regenerate with fw-gen"
            ),
        );
    }
    let Some(scratch) = take_scratch() else {
        fail(EXIT_SETUP, format_args!("scratch already taken"));
    };
    if model.scratch_len() > scratch.len() {
        fail(
            EXIT_SETUP,
            format_args!(
                "scratch too small: the model needs {} f32 words, the firmware reserves {} (max_scratch_len of DIMS in expected-{}.rs)",
                model.scratch_len(),
                scratch.len(),
                data::PRECISION
            ),
        );
    }
    let scratch = match scratch.get_mut(..model.scratch_len()) {
        Some(s) => s,
        None => fail(EXIT_SETUP, format_args!("scratch slice")),
    };

    // Check: every test node against the host engine's class and logits,
    // with the unused stack painted to find predict's high-water mark.
    let n_test = data::NODES.len();
    let quantized = &quantize(&data::VALUES, model.calibration(0));
    let painted = stack::paint(stack_base);
    let mut mismatches = 0usize;
    let mut exact = 0usize;
    let mut max_diff = 0.0f32;
    let mut first_bad: Option<(usize, u32, u32)> = None;
    let mut logits = [0.0f32; data::DIMS.n_classes as usize];
    for i in 0..n_test {
        let node = data::NODES.get(i).copied().unwrap_or(u32::MAX);
        let expected_class = data::CLASSES.get(i).copied().unwrap_or(u32::MAX);
        let expected_logits: &[f32] = data::LOGITS.get(i).map_or(&[], |l| &l[..]);
        match answer(&model, i, quantized, scratch, &mut logits) {
            Ok((class, n)) => {
                let got = logits.get(..n).unwrap_or(&[]);
                let mut ok = class == expected_class && got.len() == expected_logits.len();
                for (&got, &want) in got.iter().zip(expected_logits) {
                    let diff = (got - want).abs();
                    max_diff = max_diff.max(diff);
                    exact += usize::from(got.to_bits() == want.to_bits());
                    ok &= diff <= LOGIT_TOLERANCE * (1.0 + want.abs());
                }
                if !ok {
                    mismatches += 1;
                    first_bad.get_or_insert((i, class, expected_class));
                }
            }
            Err(e) => fail(
                EXIT_MISMATCH,
                format_args!("predict(node {node}) failed: {e}"),
            ),
        }
    }
    let stack_bytes = stack::high_water(stack_base, painted);

    // Time: one pass, then PASSES passes; the difference is per-call cost.
    let mut pass = |board: &mut B, passes: u64| -> u64 {
        let start = board.ticks();
        for _ in 0..passes {
            for i in 0..n_test {
                black_box(timed_class(&model, i, quantized, scratch));
            }
        }
        board.ticks() - start
    };
    let one = pass(board, 1);
    let many = pass(board, PASSES);
    let calls = (PASSES - 1) * n_test as u64;
    let instr_total = many.saturating_sub(one) * B::INSTRUCTIONS_PER_TICK;
    // Hundredths of an instruction, so the report needs no float formatting.
    let instr_x100 = instr_total * 100 / calls.max(1);
    let macs_total: u64 = (0..n_test).map(|i| model.mac_count(nnz(i))).sum();
    let macs_x100 = macs_total * 100 / (n_test as u64).max(1);
    let ipm_x100 = instr_x100 * 100 / macs_x100.max(1);
    let nnz_total: usize = (0..n_test).map(nnz).sum();

    println!(
        "FWREPORT target={} precision={} kind={} nodes={} mismatches={} exact_logits={}/{} max_logit_diff={:e} \
         instr_per_inf={}.{:02} macs_per_inf={}.{:02} instr_per_mac={}.{:02} mean_nnz={}.{:02} \
         blob_bytes={} scratch_bytes={} stack_bytes={} load_instr={} counter={} passes={}",
        B::TARGET,
        model.precision(),
        model.kind(),
        n_test,
        mismatches,
        exact,
        n_test * dims.n_classes as usize,
        max_diff,
        instr_x100 / 100,
        instr_x100 % 100,
        macs_x100 / 100,
        macs_x100 % 100,
        ipm_x100 / 100,
        ipm_x100 % 100,
        nnz_total / n_test.max(1),
        (nnz_total * 100 / n_test.max(1)) % 100,
        data::BLOB.len(),
        model.scratch_bytes(),
        stack_bytes,
        load_instr,
        B::COUNTER,
        PASSES,
    );
    if let Some((i, got, want)) = first_bad {
        fail(
            EXIT_MISMATCH,
            format_args!("{mismatches} of {n_test} test nodes differ; first: entry {i} class {got}, host {want}"),
        );
    }
    exit(EXIT_OK)
}
