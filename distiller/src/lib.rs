//! frameless-distiller: trains a graph-framelet teacher and distills it into a frameless student.

pub mod surgery;
