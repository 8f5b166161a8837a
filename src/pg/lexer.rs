//! Postgres' own SQL scanner (the lexer the parser runs), for checks that
//! must see text exactly as the server will parse it: strings, quoted
//! identifiers and comments by the session's settings.

use std::ffi::CStr;

use pgrx::pg_sys;

/// The raw scanner tokens of `sql`; single-character tokens are their ASCII
/// code. Scanner errors (an unterminated string ...) are Postgres ERRORs.
pub fn sql_tokens(sql: &CStr) -> Vec<i32> {
    let mut out = Vec::new();
    // SAFETY: `extra` and `sql` outlive the scanner, which is finished
    // before returning; the keyword tables are Postgres' static ones.
    // Scanner errors are raised through pgrx's guard.
    unsafe {
        let mut extra: pg_sys::core_yy_extra_type = std::mem::zeroed();
        let scanner = pg_sys::scanner_init(
            sql.as_ptr(),
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
