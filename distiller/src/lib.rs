//! frameless-distiller: trains a graph-framelet teacher and distills it into a frameless student.
//!
//! The modules follow the pipeline, each importing only earlier stages:
//! `data → graph → framelet → teacher → student → distill → quantize → export`.

pub mod data;
pub mod framelet;
pub mod graph;
pub mod progress;
pub mod sparse;
pub mod teacher;
pub mod train;
