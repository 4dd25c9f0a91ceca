//! The generated protobuf types, client and server of `cgnat.v1` (`proto/cgnat/v1/`), and the
//! encoded file descriptor set served by reflection.
#![allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::unwrap_used
)]

tonic::include_proto!("cgnat.v1");

/// `FileDescriptorSet` of `cgnat.v1` and its imports, for `grpc.reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("cgnat_descriptor");
