//! Dot-product and axpy kernels over weights stored as little-endian bytes.
//!
//! Every optimised kernel has a plain counterpart in [`reference`] that the
//! tests use as an oracle (int8: bit exact; floats: within [`F32_TOL`]).
//! Kernels never panic: mismatched lengths are truncated to the shorter one.

pub mod f16;
pub mod f32;
pub mod int8;
pub mod reference;

/// Relative tolerance of the float kernels against the f64 reference
/// (they reassociate sums with several accumulators).
pub const F32_TOL: f64 = 1e-5;
