//! PII detection: a pure-Rust classifier and the scanner that feeds the
//! review queue. (Being built; see issue 5.)

/// Called from `_PG_init`: registers settings and the scanner worker.
pub fn init() {}
