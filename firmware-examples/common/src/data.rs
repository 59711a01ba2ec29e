//! The embedded test model, chosen by exactly one cargo feature (`f32`,
//! `f16`, `int8`), with its test nodes and the host engine's predictions.
//! Everything lives in one folder written by the `fw-gen` host tool:
//! `models/`, or `FW_MODELS` at build time (see `build.rs`).

use frameless_engine::Precision;

#[cfg(not(any(feature = "f32", feature = "f16", feature = "int8")))]
compile_error!("select the embedded model with exactly one feature: f32, f16 or int8");
#[cfg(any(
    all(feature = "f32", feature = "f16"),
    all(feature = "f32", feature = "int8"),
    all(feature = "f16", feature = "int8")
))]
compile_error!("select only one of the features f32, f16, int8");

/// Bytes aligned to 16, so word loads of the blob are aligned in flash.
#[repr(C, align(16))]
struct Aligned<T: ?Sized>(T);

macro_rules! model_files {
    ($prec:literal, $variant:ident) => {
        /// Precision of the embedded blob.
        pub const PRECISION: &str = $prec;
        static BLOB_ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(
            env!("FW_MODEL_DIR"),
            "/model-",
            $prec,
            ".fgkd"
        )));
        /// The model blob, in flash (`.rodata`).
        pub static BLOB: &[u8] = &BLOB_ALIGNED.0;
        /// The same blob signed with the test key (`SIGNING_KEY`).
        #[cfg(feature = "sig-test")]
        pub static SIGNED: &[u8] = include_bytes!(concat!(
            env!("FW_MODEL_DIR"),
            "/model-",
            $prec,
            ".signed.fgkd"
        ));
        /// Whether `p` is the precision this firmware was built for.
        pub fn is_selected(p: Precision) -> bool {
            matches!(p, Precision::$variant)
        }
        include!(concat!(env!("FW_MODEL_DIR"), "/expected-", $prec, ".rs"));
    };
}

#[cfg(feature = "f32")]
model_files!("f32", F32);
#[cfg(feature = "f16")]
model_files!("f16", F16);
#[cfg(feature = "int8")]
model_files!("int8", Int8);

include!(concat!(env!("FW_MODEL_DIR"), "/testset.rs"));
