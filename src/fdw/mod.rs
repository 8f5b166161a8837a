//! pg_sys plumbing shared by townlake's foreign data wrappers: option lists,
//! plan-to-executor state, and scan state that is freed with its memory
//! context even when a query errors out.

pub mod options;
pub mod state;
