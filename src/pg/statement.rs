//! Shims for running user SQL as a unit of work (transformations): what a
//! SELECT reads, found by Postgres' own parser and analyzer; a statement
//! timeout armed for a stretch of work; and a subtransaction that turns an
//! ERROR into a value carrying its SQLSTATE, message, detail and hint.

use std::ffi::CString;

use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::{PgSqlErrorCode, PgTryBuilder};

/// What analysis of a SELECT found.
pub struct SelectInfo {
    /// Every relation the query reads (tables, views, foreign tables, also in
    /// subqueries, CTEs and sublinks), deduplicated, in first-seen order.
    pub relations: Vec<pg_sys::Oid>,
    /// The names of the output columns, in order.
    pub columns: Vec<String>,
    /// Their types, in the same order.
    pub column_types: Vec<ColumnType>,
}

/// The type of an output column as the analyzer derived it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnType {
    pub type_oid: pg_sys::Oid,
    /// -1 when unknown or none.
    pub typmod: i32,
    /// InvalidOid for a type without collation.
    pub collation: pg_sys::Oid,
}

/// Why `sql` is not one plain SELECT, if it is not.
pub enum NotASelect {
    Statements(usize),
    Kind(&'static str),
}

/// Parses and analyzes `sql` as the current user with the current
/// search_path. Syntax and name errors are Postgres' own ERRORs (with their
/// position). Privileges are not checked here: that happens when it runs.
pub fn analyze_select(sql: &str) -> Result<SelectInfo, NotASelect> {
    let text = CString::new(sql).unwrap_or_else(|_| CString::new("").unwrap());
    // SAFETY: backend thread inside a transaction; raw_parser and the
    // analyzer allocate in the current memory context and raise ERRORs the
    // usual way; every pointer read below comes from their results.
    unsafe {
        let raw = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        let stmts = super::nodes::ptrs::<pg_sys::RawStmt>(raw);
        if stmts.len() != 1 {
            return Err(NotASelect::Statements(stmts.len()));
        }
        let stmt = stmts[0];
        if !super::nodes::has_tag((*stmt).stmt, pg_sys::NodeTag::T_SelectStmt) {
            return Err(NotASelect::Kind("not a SELECT"));
        }
        if !(*((*stmt).stmt as *mut pg_sys::SelectStmt)).intoClause.is_null() {
            return Err(NotASelect::Kind("SELECT INTO creates a table"));
        }
        let query = pg_sys::parse_analyze_fixedparams(stmt, text.as_ptr(), std::ptr::null_mut(), 0, std::ptr::null_mut());
        if (*query).commandType != pg_sys::CmdType::CMD_SELECT || !(*query).utilityStmt.is_null() {
            return Err(NotASelect::Kind("not a SELECT"));
        }
        if (*query).hasModifyingCTE {
            return Err(NotASelect::Kind("a WITH clause modifies data"));
        }
        if !(*query).rowMarks.is_null() {
            return Err(NotASelect::Kind("FOR UPDATE/SHARE locks rows"));
        }
        let mut relation_oids: *mut pg_sys::List = std::ptr::null_mut();
        let mut inval_items: *mut pg_sys::List = std::ptr::null_mut();
        let mut has_row_security = false;
        pg_sys::extract_query_dependencies(
            query as *mut pg_sys::Node,
            &mut relation_oids,
            &mut inval_items,
            &mut has_row_security,
        );
        let mut relations = Vec::new();
        if !relation_oids.is_null() {
            for i in 0..(*relation_oids).length {
                let oid = (*(*relation_oids).elements.add(i as usize)).oid_value;
                if !relations.contains(&oid) {
                    relations.push(oid);
                }
            }
        }
        let mut columns = Vec::new();
        let mut column_types = Vec::new();
        for te in super::nodes::ptrs::<pg_sys::TargetEntry>((*query).targetList) {
            if (*te).resjunk {
                continue;
            }
            let name = if (*te).resname.is_null() {
                "?column?".to_string()
            } else {
                std::ffi::CStr::from_ptr((*te).resname).to_string_lossy().into_owned()
            };
            columns.push(name);
            let expr = (*te).expr as *const pg_sys::Node;
            column_types.push(ColumnType {
                type_oid: pg_sys::exprType(expr),
                typmod: pg_sys::exprTypmod(expr),
                collation: pg_sys::exprCollation(expr),
            });
        }
        Ok(SelectInfo { relations, columns, column_types })
    }
}

/// An ERROR caught in a subtransaction that has been rolled back.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: PgSqlErrorCode,
    pub sqlstate: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

/// The five-character SQLSTATE of `code` (Postgres packs it six bits a
/// character, MAKE_SQLSTATE).
pub fn sqlstate(code: PgSqlErrorCode) -> String {
    let packed = code as i32;
    (0..5).map(|i| (((packed >> (6 * i)) & 0x3f) as u8 + b'0') as char).collect()
}

/// Runs `f` in an internal subtransaction (as PL/pgSQL's EXCEPTION blocks
/// do): released when `f` returns, rolled back when it raises, the ERROR
/// coming back as a `Failure`. `keep_going(&failure)` false re-raises it
/// after the rollback (a user's cancel must stop the caller too).
pub fn in_subtransaction<T>(
    f: impl FnOnce() -> T + std::panic::UnwindSafe,
    keep_going: impl FnOnce(&Failure) -> bool,
) -> Result<T, Failure> {
    // SAFETY: the PL/pgSQL exception-block sequence on the backend thread
    // inside a transaction: remember memory context and resource owner,
    // begin an internal subtransaction, come back to the caller's context.
    let (context, owner) = unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        (context, owner)
    };
    let outcome = PgTryBuilder::new(move || Ok(f()))
        .catch_others(|caught| {
            let report = match &caught {
                CaughtError::PostgresError(e) | CaughtError::ErrorReport(e) => e,
                CaughtError::RustPanic { ereport, .. } => ereport,
            };
            let failure = Failure {
                code: report.sql_error_code(),
                sqlstate: sqlstate(report.sql_error_code()),
                message: report.message().to_string(),
                detail: report.detail().map(str::to_string),
                hint: report.hint().map(str::to_string),
            };
            Err(Box::new((failure, caught)))
        })
        .execute();
    match outcome {
        Ok(value) => {
            // SAFETY: releases the subtransaction begun above and restores
            // the caller's memory context and resource owner.
            unsafe {
                pg_sys::ReleaseCurrentSubTransaction();
                pg_sys::MemoryContextSwitchTo(context);
                pg_sys::CurrentResourceOwner = owner;
            }
            Ok(value)
        }
        Err(boxed) => {
            let (failure, caught) = *boxed;
            // SAFETY: rolls back the subtransaction begun above, then
            // restores the caller's memory context and resource owner.
            unsafe {
                pg_sys::MemoryContextSwitchTo(context);
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
                pg_sys::MemoryContextSwitchTo(context);
                pg_sys::CurrentResourceOwner = owner;
            }
            if !keep_going(&failure) {
                caught.rethrow();
            }
            Err(failure)
        }
    }
}

// utils/timeout.h is not in pgrx's bindings. TimeoutId's STATEMENT_TIMEOUT
// is the fourth member (after STARTUP_PACKET_TIMEOUT, DEADLOCK_TIMEOUT and
// LOCK_TIMEOUT) in 15 and 18 alike.
const STATEMENT_TIMEOUT: u32 = 3;
extern "C-unwind" {
    fn enable_timeout_after(id: u32, delay_ms: i32);
    fn disable_timeout(id: u32, keep_indicator: bool);
    fn RegisterTimeout(id: u32, handler: Option<unsafe extern "C-unwind" fn()>) -> u32;
}

thread_local! {
    static HANDLER_REGISTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// In a background worker, the statement timeout has no handler (only
/// PostgresMain registers one): this one does what Postgres' does, a SIGINT
/// to itself, which the worker's StatementCancelHandler turns into the
/// "canceling statement due to statement timeout" ERROR.
unsafe extern "C-unwind" fn on_statement_timeout() {
    // SAFETY: async-signal-safe kill(2) of this process.
    unsafe { libc::kill(pg_sys::MyProcPid, libc::SIGINT) };
}

fn ensure_timeout_handler() {
    if super::backend::is_background_worker() && !HANDLER_REGISTERED.with(|h| h.replace(true)) {
        // SAFETY: registers a handler for the predefined id once per
        // process, before arming it; a worker has none of its own.
        unsafe { RegisterTimeout(STATEMENT_TIMEOUT, Some(on_statement_timeout)) };
    }
}

/// Runs `f` with Postgres' statement timeout armed for `ms` milliseconds
/// (0: no timeout of its own). The session's own statement_timeout is armed
/// again afterwards, afresh: the work of `f` does not count against it.
pub fn with_statement_timeout<R>(ms: u32, f: impl FnOnce() -> R) -> R {
    if ms == 0 {
        return f();
    }
    struct Rearm;
    impl Drop for Rearm {
        fn drop(&mut self) {
            // SAFETY: timeout API on the backend thread; StatementTimeout is
            // the session's setting (milliseconds).
            unsafe {
                disable_timeout(STATEMENT_TIMEOUT, false);
                if pg_sys::StatementTimeout > 0 {
                    enable_timeout_after(STATEMENT_TIMEOUT, pg_sys::StatementTimeout);
                }
            }
        }
    }
    ensure_timeout_handler();
    // SAFETY: as above; the Drop guard disarms it on return and on unwind.
    unsafe { enable_timeout_after(STATEMENT_TIMEOUT, ms as i32) };
    let _rearm = Rearm;
    f()
}

/// Whether `member` may act as `role` (may `SET ROLE` to it, or is a
/// superuser): what ALTER … OWNER TO asks of a new owner. Up to PostgreSQL 15
/// every membership allows SET ROLE; from 16 on a membership granted
/// `WITH SET FALSE` does not, and a member without it must not get the
/// role's rights through townlake either (a model or pipeline run as it).
pub fn is_member_of_role(member: pg_sys::Oid, role: pg_sys::Oid) -> bool {
    // SAFETY: catalog lookups on the backend thread.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::is_member_of_role(member, role)
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::member_can_set_role(member, role)
        }
    }
}

/// What a boolean expression over one relation would run, for a reviewer's
/// row filter: it is pasted into a view that every reader runs with their
/// own rights (superusers included) and whose sub-selects run with the
/// view owner's.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FilterFacts {
    /// A sub-select (`(SELECT …)`, `EXISTS`, `IN (SELECT …)`).
    pub sublink: bool,
    /// A volatile function (side effects: `lo_export`, `set_config`, …).
    pub volatile: bool,
    /// A function, operator, cast, type I/O or domain that is not built in.
    pub user_code: bool,
}

/// Parses and analyzes `SELECT 1 FROM relation WHERE (predicate)` with the
/// current search_path and reports what its WHERE runs. Syntax and name
/// errors are Postgres' own ERRORs. Analysis runs no function of the
/// predicate (constants are folded only when planning).
pub fn analyze_filter(relation: &str, predicate: &str) -> FilterFacts {
    let text = CString::new(format!("SELECT 1 FROM {relation} WHERE ({predicate})"))
        .unwrap_or_else(|_| CString::new("SELECT 1 WHERE NULL").unwrap());
    let mut facts = FilterFacts::default();
    // SAFETY: backend thread inside a transaction; the parser and analyzer
    // allocate in the current memory context and raise ERRORs the usual way.
    unsafe {
        let raw = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        let stmts = super::nodes::ptrs::<pg_sys::RawStmt>(raw);
        if stmts.len() != 1 {
            facts.sublink = true;
            return facts;
        }
        let query = pg_sys::parse_analyze_fixedparams(stmts[0], text.as_ptr(), std::ptr::null_mut(), 0, std::ptr::null_mut());
        if (*query).commandType != pg_sys::CmdType::CMD_SELECT || (*query).jointree.is_null() {
            facts.sublink = true;
            return facts;
        }
        let quals = (*(*query).jointree).quals;
        facts.volatile = pg_sys::contain_volatile_functions(quals);
        filter_walker(quals, (&raw mut facts).cast());
    }
    facts
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn filter_walker(node: *mut pg_sys::Node, context: *mut std::ffi::c_void) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: `context` is analyze_filter's FilterFacts, alive for the walk;
    // each cast follows the node's tag.
    unsafe {
        let facts = &mut *(context as *mut FilterFacts);
        match (*node).type_ {
            pg_sys::NodeTag::T_SubLink => {
                facts.sublink = true;
                return false;
            }
            pg_sys::NodeTag::T_CoerceToDomain => {
                let domain = (*(node as *mut pg_sys::CoerceToDomain)).resulttype;
                if domain.to_u32() >= pg_sys::FirstNormalObjectId {
                    facts.user_code = true;
                }
            }
            _ => {}
        }
        if pg_sys::check_functions_in_node(node, Some(not_built_in), std::ptr::null_mut()) {
            facts.user_code = true;
        }
        pg_sys::expression_tree_walker(node, Some(filter_walker), context)
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn not_built_in(func: pg_sys::Oid, _context: *mut std::ffi::c_void) -> bool {
    func.to_u32() >= pg_sys::FirstNormalObjectId
}
