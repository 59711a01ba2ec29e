//! frameless-distiller: trains a graph-framelet teacher and distills it into a frameless student.
//!
//! # Layers
//!
//! The modules are listed below in pipeline order. A module may import only the modules
//! above it (`scripts/check-layers.sh` reads the `LAYERS` block below and fails on an
//! import from a later module or a cycle). The first six are the foundation every
//! stage may use; `graph` comes before `data` because a [`Dataset`] yields a [`Graph`]
//! and a graph needs nothing but the sparse matrices. Test code (`tests.rs`, `testutil`,
//! `#[cfg(test)]` modules) may use any module. The experiment suite lives in the
//! `frameless-experiments` crate and the `frameless` binary in `cli/`.
//!
//! ```text
//! LAYERS
//! error      foundation: Blame (input or internal), the Blamed trait every stage error implements
//! threads    foundation: ThreadPolicy, with_threads, when a product is worth splitting
//! sparse     foundation: CSR matrices, SparseOperator, spmm (CPU + CUDA)
//! train      foundation: SeededRng, Adam, EarlyStopping, Dense, kd_loss, accuracy
//! files      foundation: write_atomic (O_EXCL temporary, fsync, rename, folder fsync)
//! progress   foundation: progress events sent by callback (the library never prints)
//! graph      undirected simple graphs and their operators Â and L
//! data       datasets: loaders, splits, the synthetic CSBM and the plain-format writer
//! surgery    curvature-based rewiring (SDRF) of a dataset's edges
//! framelet   Chebyshev-approximated graph framelet transforms W_{j,l}
//! teacher    spectral/spatial framelet teachers; soft labels
//! student    the mlp, fmlp-s and fmlp-o students
//! memory     peak-memory estimates per stage; runs too large for the machine refused up front
//! distill    knowledge distillation of a teacher's soft labels into a student
//! quantize   the engine's weights at f32/f16/int8 and their simulated accuracy
//! export     the engine blob, the student file and their parity checks
//! fit        the search that chooses teacher, student, λ, τ on validation accuracy only
//! pipeline   end-to-end runs (demo, distill from soft labels); blame_of for any error here
//! END
//! ```

pub mod data;
pub mod distill;
pub mod error;
pub mod export;
pub mod files;
pub mod fit;
pub mod framelet;
pub mod graph;
pub mod memory;
pub mod pipeline;
pub mod progress;
pub mod quantize;
pub mod sparse;
pub mod student;
pub mod surgery;
pub mod teacher;
#[cfg(test)]
mod testutil;
pub mod threads;
pub mod train;

pub use data::{Dataset, DatasetSource, SplitRates};
pub use distill::{distill, DistillConfig, DistillReport};
pub use error::{Blame, Blamed};
pub use export::artifact::StudentFile;
pub use framelet::{FrameletConfig, FrameletOperators};
pub use graph::Graph;
pub use pipeline::{blame_of, demo, DemoConfig, DemoReport, PipelineError};
pub use progress::{Progress, ProgressEvent};
pub use sparse::Csr;
pub use student::{Student, StudentConfig, StudentKind};
pub use teacher::{SoftLabels, TeacherConfig, TeacherKind};
pub use train::SeededRng;
