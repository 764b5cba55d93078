//! Helpers shared by the black-box tests in tests/ (each test file says `mod common;`).

#![allow(dead_code, unused_imports)]

pub mod procs;
pub mod provider;
pub mod rpc;
pub mod sim;
pub mod steps;
pub mod terraform;
pub mod tls;

pub use provider::*;
