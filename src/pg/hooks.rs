//! Calling Postgres' standard hook implementations so that their ERRORs
//! reach the client whole.
//!
//! pgrx's bindings catch an ERROR raised inside the called function and
//! re-raise it from Rust with only its message, detail and hint: the CONTEXT
//! lines (COPY's line and column, PL/pgSQL's function and line), the cursor
//! position and the internal query are lost. A hook sits under every
//! statement of every database once townlake is preloaded, so that loss was
//! cluster-wide. These declarations are not guarded: an ERROR longjmps from
//! Postgres straight through the hook's frame to Postgres' own handler, just
//! as it passes a C hook.
//!
//! The caller's contract: hold no value across the call whose destructor
//! matters. What must be undone after an error is undone by (sub)transaction
//! callbacks; a skipped destructor may only leak memory.

use pgrx::pg_sys;

mod raw {
    use pgrx::pg_sys::*;

    // SAFETY (for the block): exact prototypes of Postgres 15's functions,
    // resolved against the server binary at load time like pgrx's own.
    #[allow(clashing_extern_declarations)]
    unsafe extern "C-unwind" {
        pub fn standard_ProcessUtility(
            pstmt: *mut PlannedStmt,
            query_string: *const std::ffi::c_char,
            read_only_tree: bool,
            context: ProcessUtilityContext::Type,
            params: ParamListInfo,
            query_env: *mut QueryEnvironment,
            dest: *mut DestReceiver,
            qc: *mut QueryCompletion,
        );
        pub fn standard_ExecutorStart(qd: *mut QueryDesc, eflags: std::ffi::c_int);
        pub fn standard_ExecutorRun(qd: *mut QueryDesc, direction: ScanDirection::Type, count: u64, execute_once: bool);
        pub fn standard_ExecutorEnd(qd: *mut QueryDesc);
        pub fn standard_planner(
            parse: *mut Query,
            query_string: *const std::ffi::c_char,
            cursor_options: std::ffi::c_int,
            bound_params: ParamListInfo,
        ) -> *mut PlannedStmt;
    }
}

/// The next ProcessUtility: the previous hook, or Postgres' own.
///
/// # Safety
/// Postgres' arguments, passed on unchanged; see the module's contract.
#[allow(clippy::too_many_arguments)]
pub unsafe fn next_process_utility(
    prev: pg_sys::ProcessUtility_hook_type,
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const std::ffi::c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    match prev {
        Some(prev) => prev(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc),
        None => raw::standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc),
    }
}

/// The next ExecutorStart.
///
/// # Safety
/// As for `next_process_utility`.
pub unsafe fn next_executor_start(prev: pg_sys::ExecutorStart_hook_type, qd: *mut pg_sys::QueryDesc, eflags: i32) {
    match prev {
        Some(prev) => prev(qd, eflags),
        None => raw::standard_ExecutorStart(qd, eflags),
    }
}

/// The next ExecutorRun.
///
/// # Safety
/// As for `next_process_utility`.
pub unsafe fn next_executor_run(
    prev: pg_sys::ExecutorRun_hook_type,
    qd: *mut pg_sys::QueryDesc,
    direction: pg_sys::ScanDirection::Type,
    count: u64,
    execute_once: bool,
) {
    match prev {
        Some(prev) => prev(qd, direction, count, execute_once),
        None => raw::standard_ExecutorRun(qd, direction, count, execute_once),
    }
}

/// The next ExecutorEnd.
///
/// # Safety
/// As for `next_process_utility`.
pub unsafe fn next_executor_end(prev: pg_sys::ExecutorEnd_hook_type, qd: *mut pg_sys::QueryDesc) {
    match prev {
        Some(prev) => prev(qd),
        None => raw::standard_ExecutorEnd(qd),
    }
}

/// The next planner.
///
/// # Safety
/// As for `next_process_utility`.
pub unsafe fn next_planner(
    prev: pg_sys::planner_hook_type,
    parse: *mut pg_sys::Query,
    query_string: *const std::ffi::c_char,
    cursor_options: i32,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    match prev {
        Some(prev) => prev(parse, query_string, cursor_options, bound_params),
        None => raw::standard_planner(parse, query_string, cursor_options, bound_params),
    }
}
