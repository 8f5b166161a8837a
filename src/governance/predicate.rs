//! Validation of reviewer-supplied row filters before they are pasted into a
//! published view's WHERE clause as `AND (<filter>)`.
//!
//! The filter must be one self-contained expression: its parentheses must
//! balance (outside strings, quoted identifiers and comments) and it may not
//! contain `;`. Otherwise `true) OR (true` would close our parenthesis and
//! escape the access check. Tokens come from Postgres' own SQL scanner, with
//! the session's string settings, so the check sees exactly what CREATE VIEW
//! will parse.

use std::ffi::CString;

use pgrx::prelude::*;

use crate::errors::LakeError;

const OPEN_PAREN: i32 = b'(' as i32;
const CLOSE_PAREN: i32 = b')' as i32;
const SEMICOLON: i32 = b';' as i32;

/// Raw scanner tokens of `sql` (single-character tokens are their ASCII code).
fn tokens(sql: &str) -> Vec<i32> {
    let text = match CString::new(sql) {
        Ok(t) => t,
        Err(_) => LakeError::invalid("row filter contains a NUL byte").report(),
    };
    crate::pg::lexer::sql_tokens(&text)
}

/// Why `tokens` is not one self-contained expression, if it is not.
pub fn filter_problem(tokens: &[i32]) -> Option<&'static str> {
    if tokens.is_empty() {
        return Some("the row filter is empty");
    }
    let mut depth = 0i64;
    for &t in tokens {
        match t {
            OPEN_PAREN => depth += 1,
            CLOSE_PAREN => {
                depth -= 1;
                if depth < 0 {
                    return Some("the row filter closes a parenthesis it did not open");
                }
            }
            SEMICOLON => return Some("the row filter may not contain ';'"),
            _ => {}
        }
    }
    if depth != 0 {
        return Some("the row filter has unbalanced parentheses");
    }
    None
}

/// Raises an ERROR unless `predicate` is one self-contained SQL expression.
#[pg_extern(name = "_check_row_filter", schema = "lake_internal", stable)]
fn check_row_filter(predicate: &str) -> bool {
    if let Some(problem) = filter_problem(&tokens(predicate)) {
        LakeError::invalid(problem)
            .with_hint("A row filter is one boolean expression over the relation's columns, e.g. region = 'eu'.")
            .report();
    }
    true
}

/// Raises an ERROR unless `predicate`, a reviewer's row filter for `rel`,
/// is one self-contained expression that runs only built-in, non-volatile
/// code and reads no other relation. It is pasted into the published view:
/// every reader (a superuser too) would run a function of the reviewer's
/// with their own rights, and a sub-select would read with the view owner's
/// (lake.mask_key included).
#[pg_extern(name = "_check_row_filter_on", schema = "lake_internal", stable, strict)]
fn check_row_filter_on(rel: pg_sys::Oid, predicate: &str) -> bool {
    check_row_filter(predicate);
    let name = Spi::get_one_with_args::<String>("SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) \
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
          WHERE c.oid OPERATOR(pg_catalog.=) $1", &[rel.into()])
        .ok()
        .flatten()
        .unwrap_or_else(|| LakeError::invalid("the relation of the row filter does not exist").report());
    let facts = crate::pg::statement::analyze_filter(&name, predicate);
    let problem = if facts.sublink {
        Some("a row filter may not contain a sub-select")
    } else if facts.user_code {
        Some("a row filter may use only built-in functions, operators, casts and types")
    } else if facts.volatile {
        Some("a row filter may not call volatile functions")
    } else {
        None
    };
    if let Some(problem) = problem {
        LakeError::new(pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, problem)
            .with_hint(
                "Every reader of the published view runs the filter with their own rights: compare the relation's columns with \
                 constants and built-in functions, e.g. region = 'eu' AND created_at > now() - interval '1 year'.",
            )
            .report();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: i32 = OPEN_PAREN;
    const C: i32 = CLOSE_PAREN;
    const X: i32 = 300; // any other token

    #[test]
    fn balanced_expressions_pass() {
        assert_eq!(filter_problem(&[X]), None);
        assert_eq!(filter_problem(&[O, X, C, X, O, X, C]), None);
    }

    #[test]
    fn escapes_are_rejected() {
        assert!(filter_problem(&[X, C, X, O, X]).is_some());
        assert!(filter_problem(&[O, X]).is_some());
        assert!(filter_problem(&[X, SEMICOLON, X]).is_some());
        assert!(filter_problem(&[]).is_some());
    }
}
