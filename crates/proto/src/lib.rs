//! Kokeilu's wire contracts, generated from `proto/` at build time.
//!
//! Modules mirror the protobuf packages. Services convert these types into their own validated
//! domain types at the boundary and never pass them deeper.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod kokeilu {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("kokeilu.common.v1");
        }
    }
    pub mod referral {
        pub mod v1 {
            tonic::include_proto!("kokeilu.referral.v1");
        }
    }
    pub mod teoffice {
        pub mod v1 {
            tonic::include_proto!("kokeilu.teoffice.v1");
        }
    }
    pub mod trialarea {
        pub mod v1 {
            tonic::include_proto!("kokeilu.trialarea.v1");
        }
    }
    pub mod supervision {
        pub mod v1 {
            tonic::include_proto!("kokeilu.supervision.v1");
        }
    }
    pub mod supervisor {
        pub mod v1 {
            tonic::include_proto!("kokeilu.supervisor.v1");
        }
    }
}

pub use kokeilu::common::v1 as common;
pub use kokeilu::referral::v1 as referral;
pub use kokeilu::supervision::v1 as supervision;
pub use kokeilu::supervisor::v1 as supervisor;
pub use kokeilu::teoffice::v1 as teoffice;
pub use kokeilu::trialarea::v1 as trialarea;

mod convert;
pub use convert::{date_from_naive, date_to_naive, timestamp_from, timestamp_to};

/// Encoded `FileDescriptorSet` of every Kokeilu proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("kokeilu_descriptor");

/// Encoded `FileDescriptorSet` of `google/rpc/error_details.proto` and `google/rpc/status.proto`
/// (with their imports), for gRPC reflection: lets generic clients decode error details.
pub const GOOGLE_RPC_FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("google_rpc_descriptor");

pub mod party;
pub mod payload;
pub mod subjects;
pub use payload::Payload;
