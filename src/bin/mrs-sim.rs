//! mrs-sim: a local MRS API (placeholder).

fn main() {}
