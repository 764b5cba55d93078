//! The Terraform plugin protocol v6 over gRPC: the only module that sees prost/tonic types.

pub mod cli;
pub mod convert;
pub mod listen;
pub mod mtls;
pub mod plugin_services;
pub mod server;
pub mod shutdown;
pub mod value_codec;

/// Code generated from `proto/` by build.rs.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
    pub mod health {
        tonic::include_proto!("grpc.health.v1");
    }
}
