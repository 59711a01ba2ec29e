//! The `frameless` command-line tool.
fn main() {}
