//! Reading Iceberg tables: planning (`plan`), executing (`exec`: snapshot,
//! pushed filter, file planning, streaming Arrow batches into tuple slots),
//! Arrow→Datum conversion (`convert`), row identity for UPDATE/DELETE
//! (`rowid`), the LIMIT file cut-off (`limit`) and the byte ranges parallel
//! workers claim inside large files (`split`).

pub mod agg;
pub mod aggplan;
pub mod convert;
pub mod exec;
pub mod limit;
pub mod mask;
pub mod plan;
pub mod rowid;
pub mod split;
pub mod topn;
