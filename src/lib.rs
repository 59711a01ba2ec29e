//! Umbrella package for the frameless workspace: it only owns `tests/` and `benches/`.
pub use frameless_distiller as distiller;
pub use frameless_engine as engine;
