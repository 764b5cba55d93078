//! Helpers shared by the black-box tests in tests/ (each test file says `mod common;`).

#![allow(dead_code, unused_imports)]

pub mod provider;
pub mod sim;
pub mod terraform;

pub use provider::*;
