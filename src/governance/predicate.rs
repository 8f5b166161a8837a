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
    let mut out = Vec::new();
    // SAFETY: thin shim over the core scanner. `extra` and `text` outlive the
    // scanner, which is finished before returning. Scanner errors (such as an
    // unterminated string) are Postgres ERRORs raised through pgrx's guard.
    unsafe {
        let mut extra: pg_sys::core_yy_extra_type = std::mem::zeroed();
        let scanner = pg_sys::scanner_init(
            text.as_ptr(),
            &mut extra,
            &raw const pg_sys::ScanKeywords,
            (&raw const pg_sys::ScanKeywordTokens).cast(),
        );
        loop {
            let mut value: pg_sys::core_YYSTYPE = std::mem::zeroed();
            let mut location: i32 = 0;
            let token = pg_sys::core_yylex(&mut value, &mut location, scanner);
            if token == 0 {
                break;
            }
            out.push(token);
        }
        pg_sys::scanner_finish(scanner);
    }
    out
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
