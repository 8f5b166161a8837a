//! Thin shims over Postgres internals, shared by every part. Each `unsafe`
//! block says why it is sound; the parts above call safe functions only.

pub mod callbacks;
pub mod compat;
pub mod hooks;
pub mod nodes;
pub mod security;
pub mod settings;
pub mod shmem;
pub mod time;
pub mod types;
pub mod worker;
pub mod xact;
