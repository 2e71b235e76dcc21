//! The `mlops` command.
fn main() {}
