//! Helpers shared by the black-box tests in tests/ (each test file says `mod common;`).

pub mod sim;
pub mod terraform;
