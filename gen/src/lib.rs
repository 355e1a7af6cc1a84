//! Generated code for the Wekeza contracts (`proto/`), the single source of truth of the API.
//!
//! Owns: the prost message types, the tonic clients and servers, and [`FILE_DESCRIPTOR_SET`] —
//! the raw descriptor bytes (with `google.api.http` and `wekeza.openbanking.v1.access` options
//! intact) that reflection, the REST transcoder and the gateway's access table are built from.
//! Nothing here is written by hand except this module tree.
#![allow(missing_docs, clippy::all)]

/// The encoded `FileDescriptorSet` of every file in `proto/`, imports included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/wekeza_descriptor.bin"));

/// `google.api`: HTTP annotations and field behaviour (only their message types).
pub mod google {
    pub mod api {
        include!(concat!(env!("OUT_DIR"), "/google.api.rs"));
    }
}

/// The Wekeza contracts.
pub mod wekeza {
    /// The public open banking API.
    pub mod openbanking {
        /// Version 1.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/wekeza.openbanking.v1.rs"));
        }
    }
    /// The bank's fraud system, of which the platform is a client.
    pub mod fraud {
        /// Version 1.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/wekeza.fraud.v1.rs"));
        }
    }
}

pub use wekeza::openbanking::v1;
