//! The budget firmware's body (feature `budget`): the least a firmware does
//! with a model. It loads the embedded blob from flash (with `sig-test`: the
//! signed copy, verified with its key, as `verify` firmware would), answers the
//! first test node into a static scratch of exactly the model's
//! `scratch_len`, and prints one line:
//!
//! ```text
//! FWBUDGET target=cortex-m4 precision=int8 features=default class=0 blob_bytes=462452 scratch_bytes=1372 stack_bytes=712
//! ```
//!
//! `stack_bytes` is the high-water mark of loading and predicting together
//! (painted below this frame). With `budget-base` every engine call is left
//! out but the blob and the test node stay embedded and the line is printed
//! the same way, so the difference of the two ELFs' sizes is the engine's code
//! and static RAM (`run.sh` writes it to `budget.json`). Exit status: 0 the
//! class matches the host's, 1 it does not, 2 the blob or scratch is refused.

use core::hint::black_box;

use semihosting::{println, process::exit};

use crate::{data, stack, Board, EXIT_MISMATCH, EXIT_OK};

/// The feature set this build measures, as `budget.json` names it.
const FEATURES: &str = if cfg!(feature = "sig-test") {
    "verify"
} else {
    "default"
};

/// The blob this build embeds: the signed copy for `verify`.
fn blob() -> &'static [u8] {
    #[cfg(feature = "sig-test")]
    return data::SIGNED;
    #[cfg(not(feature = "sig-test"))]
    return data::BLOB;
}

/// Loads the blob and answers the first test node: (class, scratch bytes).
#[cfg(not(feature = "budget-base"))]
#[inline(never)]
fn infer() -> (u32, usize) {
    use crate::{fail, take_scratch, test_node, EXIT_SETUP};
    use frameless_engine::Model;

    let bytes = black_box(blob());
    #[cfg(feature = "sig-test")]
    let model = Model::from_bytes_verified(bytes, black_box(&data::SIGNING_KEY));
    #[cfg(not(feature = "sig-test"))]
    let model = Model::from_bytes(bytes);
    let Ok(model) = model else {
        fail(EXIT_SETUP, format_args!("budget: blob rejected"));
    };
    let scratch = take_scratch().and_then(|s| s.get_mut(..model.scratch_len()));
    let (Some(scratch), Some((node, features))) = (scratch, test_node(0)) else {
        fail(EXIT_SETUP, format_args!("budget: scratch or test node"));
    };
    // int8 answers with the integer-only entry (features quantised here), as
    // an int8 firmware would, so no float pass is linked in.
    #[cfg(feature = "int8")]
    let answer = {
        use frameless_engine::{quant::quantize_value_i8, Features};
        let Features::Sparse { indices, values } = features else {
            fail(EXIT_SETUP, format_args!("budget: test node"));
        };
        let s_x = model.calibration(0).unwrap_or(1.0);
        let mut q = [0i8; 32];
        for (o, &v) in q.iter_mut().zip(values) {
            *o = quantize_value_i8(v, s_x);
        }
        let values = q.get(..indices.len()).unwrap_or(&[]);
        let features = Features::Sparse { indices, values };
        model.predict_int8(black_box(node), black_box(features), scratch).map(|p| p.class)
    };
    #[cfg(not(feature = "int8"))]
    let answer = model.predict(black_box(node), black_box(features), scratch).map(|p| p.class);
    match answer {
        Ok(class) => (class, model.scratch_bytes()),
        Err(_) => fail(EXIT_MISMATCH, format_args!("budget: predict failed")),
    }
}

/// The baseline: the blob and the test node stay in the ELF, no engine call.
#[cfg(feature = "budget-base")]
#[inline(never)]
fn infer() -> (u32, usize) {
    black_box(blob());
    black_box(crate::test_node(0));
    (data::CLASSES.first().copied().unwrap_or(0), 0)
}

/// Runs the budget body on `board` and exits QEMU with the status above.
pub fn run<B: Board>(_board: &mut B) -> ! {
    let anchor = 0u32;
    let stack_base = black_box(&anchor) as *const u32 as usize;
    let painted = stack::paint(stack_base);
    let (class, scratch_bytes) = infer();
    let stack_bytes = stack::high_water(stack_base, painted);
    let expected = data::CLASSES.first().copied().unwrap_or(u32::MAX);
    println!(
        "FWBUDGET target={} precision={} features={} class={} blob_bytes={} scratch_bytes={} stack_bytes={}",
        B::TARGET,
        data::PRECISION,
        FEATURES,
        class,
        blob().len(),
        scratch_bytes,
        stack_bytes,
    );
    exit(if class == expected {
        EXIT_OK
    } else {
        EXIT_MISMATCH
    })
}
