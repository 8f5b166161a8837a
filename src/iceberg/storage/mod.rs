//! Object storage for Iceberg: `object_store` behind iceberg-rust's
//! `StorageFactory`, so one client serves metadata, manifests and Parquet.

mod object_storage;
pub mod options;

pub use object_storage::{canonical_location, file_io_for, list_files};
