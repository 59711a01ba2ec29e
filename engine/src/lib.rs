//! frameless-engine: runs a distilled frameless student on microcontrollers.
//!
//! `no_std`, no allocator, no `unsafe` (but `dsp`'s `asm!`). A model blob (written by
//! `writer` under feature `std`, specified in `docs/blob-format.md`) is
//! validated once by [`Model::from_bytes`] and then used in place, e.g.
//! straight from flash; [`Model::predict`] classifies one node from its live
//! features using a caller-provided scratch of [`Model::scratch_len`] words.
//!
//! Modules, in data-flow order: [`error`] → [`blob`] (schema, SHA-256) →
//! `layout` (tensor views) → [`model`] (validation) → [`quant`] →
//! [`kernels`] → [`predict`] (and `nodes`: id map, new nodes).
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use frameless_engine::writer::{Architecture, Linear, ModelWeights, OwnedMetadata};
//! use frameless_engine::{Features, Model, ModelKind, Precision};
//! // A one-layer mlp: 2 features -> 2 classes, logits = W x + b.
//! let layer = Linear { in_dim: 2, out_dim: 2, weight: vec![1.0, 0.0, 0.0, 1.0], bias: vec![0.0, 0.5] };
//! let weights = ModelWeights {
//!     kind: ModelKind::Mlp, n_nodes: 1, n_features: 2, n_classes: 2,
//!     architecture: Architecture::Mlp { layers: vec![layer] },
//!     metadata: OwnedMetadata { dataset: "toy".into(), class_names: vec!["a".into(), "b".into()], ..Default::default() },
//!     calibration: None,
//! };
//! let blob = frameless_engine::writer::write_blob(&weights, Precision::F32)?;
//! let model = Model::from_bytes(&blob)?;
//! let mut scratch = vec![0.0f32; model.scratch_len()];
//! let p = model.predict(0, Features::Dense(&[1.0, 0.0]), &mut scratch)?;
//! assert_eq!(p.logits, &[1.0, 0.5]);
//! assert_eq!(p.class, 0);
//! assert_eq!(model.metadata().class_name(p.class), Some("a"));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![cfg_attr(not(feature = "dsp"), forbid(unsafe_code))]
#![cfg_attr(feature = "dsp", deny(unsafe_code))]
#![deny(missing_docs)]

/// Defines a `pub enum` and its `Display`, each variant with its fields and message.
macro_rules! display_enum {
    ($(#[$m:meta])* pub enum $ty:ident {
        $($(#[$doc:meta])* $v:ident $({ $($(#[$fdoc:meta])* $field:ident: $fty:ty,)* })? => $msg:literal,)*
    }) => {
        $(#[$m])*
        pub enum $ty {
            $($(#[$doc])* $v $({ $($(#[$fdoc])* $field: $fty,)* })?,)*
        }
        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self {
                    $($ty::$v $({ $($field),* })? => write!(f, $msg),)*
                }
            }
        }
    };
}

pub mod blob;
pub mod error;
pub mod integer;
pub mod kernels;
mod layout;
pub mod model;
mod nodes;
pub mod predict;
pub mod quant;
#[cfg(feature = "verify")]
pub mod verify;
#[cfg(feature = "std")]
pub mod writer;

pub use blob::{
    sha256, Dims, Header, Metadata, ModelKind, Precision, FORMAT_VERSION, MAGIC, MAX_RECIPE_BYTES,
};
pub use error::{Error, Section};
pub use integer::IntPrediction;
pub use model::{max_scratch_len, Model};
pub use predict::{Features, Prediction};
