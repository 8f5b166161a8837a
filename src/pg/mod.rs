//! Thin shims over Postgres internals, shared by every part. Each `unsafe`
//! block says why it is sound; the parts above call safe functions only.

pub mod backend;
pub mod callbacks;
pub mod catalog;
pub mod compat;
pub mod fmgr;
pub mod hooks;
pub mod json;
pub mod lexer;
pub mod lineage;
pub mod locks;
pub mod nodes;
pub mod ordering;
pub mod plans;
pub mod process;
pub mod query;
pub mod security;
pub mod settings;
pub mod shmem;
pub mod statement;
pub mod time;
pub mod types;
pub mod utility;
pub mod worker;
pub mod xact;
