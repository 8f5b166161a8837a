//! Governance: closed-by-default review of governed relations, published
//! views with masks, time-limited grants, PII sessions and audit.
//! (Being built; see issue 4.)

/// Called from `_PG_init`: registers settings, hooks and workers.
pub fn init() {}
