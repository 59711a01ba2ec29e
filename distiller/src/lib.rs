//! frameless-distiller: trains a graph-framelet teacher and distills it into a frameless student.
//!
//! The modules follow the pipeline, each importing only earlier stages:
//! `data → graph → surgery → framelet → teacher → student → distill → quantize → export → pipeline`;
//! The experiment suite lives in the `frameless-experiments` crate.

pub mod data;
pub mod distill;
pub mod export;
pub mod framelet;
pub mod graph;
pub mod pipeline;
pub mod progress;
pub mod quantize;
pub mod sparse;
pub mod student;
pub mod surgery;
pub mod teacher;
#[cfg(test)]
mod testutil;
pub mod train;
