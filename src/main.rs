//! The provider binary: names this provider to the generic start-up in
//! `protocol::cli`, which Terraform drives.

use std::process::ExitCode;
use std::sync::Arc;

use terraform_provider_mrs::framework::server::FrameworkServer;
use terraform_provider_mrs::protocol::cli::{self, PluginIdentity};
use terraform_provider_mrs::protocol::server::ProviderService;
use terraform_provider_mrs::provider::MrsProvider;

const PLUGIN: PluginIdentity = PluginIdentity {
    binary_name: "terraform-provider-mrs",
    version: env!("CARGO_PKG_VERSION"),
    provider_name: "mrs",
    source_address: "terraform.local/mrs/mrs",
    transport_env: "TF_PROVIDER_MRS_TRANSPORT",
};

fn main() -> ExitCode {
    terraform_provider_mrs::log::init();
    cli::run_main(&PLUGIN, |shutdown| {
        let provider = Arc::new(MrsProvider::new(shutdown.child_token()));
        ProviderService::new(FrameworkServer::new(provider, PLUGIN.provider_name))
    })
}
