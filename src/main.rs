//! The provider binary: Terraform starts it; see `protocol::handshake` for the start-up.

use std::process::ExitCode;
use std::sync::Arc;

use terraform_provider_mrs::protocol::{handshake, server::ProviderService};
use terraform_provider_mrs::provider::MrsProvider;

fn main() -> ExitCode {
    terraform_provider_mrs::log::init();
    handshake::run_main(|shutdown| {
        ProviderService::new(Arc::new(MrsProvider::new(shutdown.child_token())))
    })
}
