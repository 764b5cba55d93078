//! The provider binary: Terraform starts it; see `protocol::handshake` for the start-up.

use std::process::ExitCode;

use terraform_provider_mrs::protocol::{handshake, plugin_services::PlaceholderProvider};

fn main() -> ExitCode {
    terraform_provider_mrs::log::init();
    // The closure receives the process shutdown signal; the real provider service keeps
    // it to cancel in-flight work (StopProvider / Shutdown).
    handshake::run_main(|_shutdown| PlaceholderProvider)
}
