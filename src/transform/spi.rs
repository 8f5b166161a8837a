//! The SPI helpers the transformation modules share: catalog work as the
//! extension owner, one jsonb value or a row count from a statement, and
//! identifier quoting for the SQL they build.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

use crate::errors::{LakeError, LakeResult};

pub(crate) fn as_catalog_owner<T>(f: impl FnOnce() -> T) -> T {
    crate::iceberg::catalog::as_catalog_owner(f)
}

fn spi_err(e: pgrx::spi::SpiError) -> LakeError {
    LakeError::internal(format!("cannot use the transformation catalog: {e}"))
}

/// One jsonb value from `query` (NULL: None).
pub(crate) fn json_of(query: &str, args: &[DatumWithOid]) -> LakeResult<Option<Value>> {
    Spi::connect_mut(|c| {
        let rows = c.update(query, Some(1), args)?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(rows.first().get_one::<JsonB>()?.map(|j| j.0))
    })
    .map_err(spi_err)
}

pub(crate) fn exec(query: &str, args: &[DatumWithOid]) -> LakeResult<u64> {
    Spi::connect_mut(|c| c.update(query, None, args).map(|t| t.len() as u64)).map_err(spi_err)
}

pub(crate) fn quote_ident(s: &str) -> String {
    if !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !is_keyword(s)
    {
        return s.to_string();
    }
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn is_keyword(s: &str) -> bool {
    // Quoting a non-keyword is harmless, so a short list of the reserved
    // words likely as column names is enough; everything else is quoted
    // only when it needs it.
    matches!(
        s,
        "all" | "and" | "any" | "as" | "asc" | "case" | "check" | "column" | "constraint" | "create" | "default"
            | "desc" | "distinct" | "do" | "else" | "end" | "false" | "for" | "from" | "grant" | "group" | "having"
            | "in" | "into" | "limit" | "not" | "null" | "offset" | "on" | "only" | "or" | "order" | "primary"
            | "references" | "select" | "table" | "then" | "to" | "true" | "union" | "unique" | "user" | "using"
            | "when" | "where" | "with" | "window" | "both" | "leading" | "trailing" | "day" | "hour" | "month"
            | "year" | "minute" | "second" | "time" | "timestamp" | "interval" | "user_" | "current_user"
            | "current_date" | "current_time" | "current_timestamp" | "session_user"
    )
}
