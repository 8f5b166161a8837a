//! The one hook chain: Postgres' ProcessUtility, planner, executor and
//! object-access hooks are installed once, here, and call each part's
//! registered hooks in turn (`register`, `PartHooks`), then the next link:
//! another library's hook or Postgres' standard function, called so that
//! its ERRORs reach the client whole.
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

use super::query::{Execution, QueryTree};

mod raw {
    use pgrx::pg_sys::*;

    // SAFETY (for the block): exact prototypes of Postgres 15's and 18's
    // functions, resolved against the server binary at load time like
    // pgrx's own. 18 dropped ExecutorRun's `execute_once`.
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
        #[cfg(feature = "pg15")]
        pub fn standard_ExecutorRun(qd: *mut QueryDesc, direction: ScanDirection::Type, count: u64, execute_once: bool);
        #[cfg(not(feature = "pg15"))]
        pub fn standard_ExecutorRun(qd: *mut QueryDesc, direction: ScanDirection::Type, count: u64);
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
unsafe fn next_process_utility(
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
unsafe fn next_executor_start(prev: pg_sys::ExecutorStart_hook_type, qd: *mut pg_sys::QueryDesc, eflags: i32) {
    match prev {
        Some(prev) => prev(qd, eflags),
        None => raw::standard_ExecutorStart(qd, eflags),
    }
}

/// ExecutorRun's arguments after the QueryDesc: 15 also passes
/// `execute_once`, 18 does not (a plan may always run again there).
#[cfg(feature = "pg15")]
#[derive(Clone, Copy)]
pub struct RunArgs {
    pub direction: pg_sys::ScanDirection::Type,
    pub count: u64,
    pub execute_once: bool,
}
#[cfg(not(feature = "pg15"))]
#[derive(Clone, Copy)]
pub struct RunArgs {
    pub direction: pg_sys::ScanDirection::Type,
    pub count: u64,
}

/// The next ExecutorRun.
///
/// # Safety
/// As for `next_process_utility`.
pub unsafe fn next_executor_run(prev: pg_sys::ExecutorRun_hook_type, qd: *mut pg_sys::QueryDesc, args: RunArgs) {
    #[cfg(feature = "pg15")]
    match prev {
        Some(prev) => prev(qd, args.direction, args.count, args.execute_once),
        None => raw::standard_ExecutorRun(qd, args.direction, args.count, args.execute_once),
    }
    #[cfg(not(feature = "pg15"))]
    match prev {
        Some(prev) => prev(qd, args.direction, args.count),
        None => raw::standard_ExecutorRun(qd, args.direction, args.count),
    }
}

/// The next ExecutorEnd.
///
/// # Safety
/// As for `next_process_utility`.
unsafe fn next_executor_end(prev: pg_sys::ExecutorEnd_hook_type, qd: *mut pg_sys::QueryDesc) {
    match prev {
        Some(prev) => prev(qd),
        None => raw::standard_ExecutorEnd(qd),
    }
}

/// The next planner.
///
/// # Safety
/// As for `next_process_utility`.
unsafe fn next_planner(
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

// ------------------------------------------------------------ one hook chain

/// A utility statement as the parts' hooks see it.
pub struct Utility {
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const std::ffi::c_char,
    context: pg_sys::ProcessUtilityContext::Type,
    /// A copy of the statement a part rewrote, run instead (null: none).
    pub(super) replacement: std::cell::Cell<*mut pg_sys::PlannedStmt>,
}

impl Utility {
    /// The statement's parse tree (never null: calls without one skip the parts).
    pub fn stmt(&self) -> *mut pg_sys::Node {
        // SAFETY: checked non-null before any part sees this value.
        unsafe { (*self.pstmt).utilityStmt }
    }

    /// The statement as Postgres passed it (for a rewritten copy of it).
    pub(super) fn pstmt_ptr(&self) -> *mut pg_sys::PlannedStmt {
        self.pstmt
    }

    /// Whether the client sent it (not a function, DO block or event trigger).
    pub fn top_level(&self) -> bool {
        self.context == pg_sys::ProcessUtilityContext::PROCESS_UTILITY_TOPLEVEL
    }

    /// The statement's own text: `query_string` may hold several statements.
    pub fn text(&self) -> Option<String> {
        if self.query_string.is_null() {
            return None;
        }
        // SAFETY: Postgres passes a NUL-terminated string that lives for the
        // statement; location and length are byte offsets into it.
        let (q, start, len) = unsafe {
            (
                std::ffi::CStr::from_ptr(self.query_string).to_string_lossy().into_owned(),
                (*self.pstmt).stmt_location.max(0) as usize,
                (*self.pstmt).stmt_len.max(0) as usize,
            )
        };
        let end = if len == 0 { q.len() } else { (start + len).min(q.len()) };
        Some(q.get(start..end).map(|t| t.trim().to_string()).unwrap_or(q))
    }
}

/// Work a part does once the utility statement has run without error. If
/// the statement fails it is dropped unrun (see the module's contract: it
/// may hold memory only).
pub type AfterUtility = Box<dyn FnOnce()>;

/// The hooks one part wants. Every part's hook runs under every statement of
/// every database once the library is preloaded, so each must return at once
/// when the statement is none of its business.
#[derive(Clone, Copy, Default)]
pub struct PartHooks {
    /// Before a utility statement; what it returns runs after it.
    pub utility: Option<fn(&Utility) -> Option<AfterUtility>>,
    /// Before the planner plans a query (the tree may be edited in place).
    pub planner: Option<fn(&mut QueryTree)>,
    /// Before the executor starts (`eflags` as Postgres passes them).
    pub executor_start: Option<fn(&Execution, i32)>,
    /// Around each ExecutorRun (a cursor runs once per FETCH).
    pub executor_run_before: Option<fn(&Execution)>,
    pub executor_run_after: Option<fn(&Execution)>,
    /// When a message (an ERROR, perhaps) is raised inside an ExecutorRun,
    /// before an ERROR leaves it: only reads and stores, never raises.
    pub executor_run_interrupted: Option<fn(&Execution)>,
    /// Before the executor ends (not reached when the statement errors).
    pub executor_end: Option<fn(&Execution)>,
    /// After Postgres' object-access checks (access type, class, object, sub-id).
    pub object_access: Option<fn(pg_sys::ObjectAccessType::Type, pg_sys::Oid, pg_sys::Oid, i32)>,
}

// Written only from _PG_init (one thread, before any query), read-only after.
static mut PARTS: &[PartHooks] = &[];
static mut PREV_PROCESS_UTILITY: pg_sys::ProcessUtility_hook_type = None;
static mut PREV_PLANNER: pg_sys::planner_hook_type = None;
static mut PREV_EXECUTOR_START: pg_sys::ExecutorStart_hook_type = None;
static mut PREV_EXECUTOR_RUN: pg_sys::ExecutorRun_hook_type = None;
static mut PREV_EXECUTOR_END: pg_sys::ExecutorEnd_hook_type = None;
static mut PREV_OBJECT_ACCESS: pg_sys::object_access_hook_type = None;

/// Adds a part's hooks to the chain (from `_PG_init`, before `install`).
/// Parts run in registration order before a statement, in reverse after it.
pub fn register(hooks: PartHooks) {
    // SAFETY: only _PG_init calls this, once per part, on the process' one
    // thread before any statement runs; the old slice is leaked (a few words).
    unsafe {
        let mut all = (*(&raw const PARTS)).to_vec();
        all.push(hooks);
        PARTS = Box::leak(all.into_boxed_slice());
    }
}

fn parts() -> &'static [PartHooks] {
    // SAFETY: see `PARTS`: no writes after _PG_init.
    unsafe { *(&raw const PARTS) }
}

/// Installs the chain into Postgres' hook variables, keeping whatever was
/// there (another library's hook or none) as the next link.
pub fn install() {
    // SAFETY: _PG_init, once per process, before any statement.
    unsafe {
        PREV_PROCESS_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility_chain);
        PREV_PLANNER = pg_sys::planner_hook;
        pg_sys::planner_hook = Some(planner_chain);
        PREV_EXECUTOR_START = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start_chain);
        PREV_EXECUTOR_RUN = pg_sys::ExecutorRun_hook;
        pg_sys::ExecutorRun_hook = Some(executor_run_chain);
        PREV_EXECUTOR_END = pg_sys::ExecutorEnd_hook;
        pg_sys::ExecutorEnd_hook = Some(executor_end_chain);
        PREV_OBJECT_ACCESS = pg_sys::object_access_hook;
        pg_sys::object_access_hook = Some(object_access_chain);
    }
}

#[pgrx::pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn process_utility_chain(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const std::ffi::c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    let mut after: Vec<AfterUtility> = Vec::new();
    let (mut pstmt, mut read_only_tree) = (pstmt, read_only_tree);
    if !pstmt.is_null() && !(*pstmt).utilityStmt.is_null() {
        let call = Utility { pstmt, query_string, context, replacement: std::cell::Cell::new(std::ptr::null_mut()) };
        for part in parts() {
            if let Some(f) = part.utility {
                after.extend(f(&call));
            }
        }
        // A rewritten copy is this call's own, so it is not read-only.
        if !call.replacement.get().is_null() {
            (pstmt, read_only_tree) = (call.replacement.get(), false);
        }
    }
    // An ERROR inside passes through whole; `after` is then leaked unrun.
    next_process_utility(PREV_PROCESS_UTILITY, pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
    while let Some(f) = after.pop() {
        f();
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn planner_chain(
    parse: *mut pg_sys::Query,
    query_string: *const std::ffi::c_char,
    cursor_options: i32,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    let mut cursor_options = cursor_options;
    if !parse.is_null() {
        // SAFETY: the planner's own tree, for the duration of this call.
        let mut tree = QueryTree::new(parse);
        for f in parts().iter().filter_map(|p| p.planner) {
            f(&mut tree);
        }
        if tree.serial_only() {
            cursor_options &= !(pg_sys::CURSOR_OPT_PARALLEL_OK as i32);
        }
    }
    next_planner(PREV_PLANNER, parse, query_string, cursor_options, bound_params)
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn executor_start_chain(qd: *mut pg_sys::QueryDesc, eflags: i32) {
    // SAFETY: the executor's QueryDesc, lent for this call.
    let exec = Execution::new(qd);
    for f in parts().iter().filter_map(|p| p.executor_start) {
        f(&exec, eflags);
    }
    next_executor_start(PREV_EXECUTOR_START, qd, eflags);
}

#[cfg(feature = "pg15")]
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn executor_run_chain(
    qd: *mut pg_sys::QueryDesc,
    direction: pg_sys::ScanDirection::Type,
    count: u64,
    execute_once: bool,
) {
    executor_run_parts(qd, RunArgs { direction, count, execute_once });
}

#[cfg(not(feature = "pg15"))]
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn executor_run_chain(qd: *mut pg_sys::QueryDesc, direction: pg_sys::ScanDirection::Type, count: u64) {
    executor_run_parts(qd, RunArgs { direction, count });
}

unsafe fn executor_run_parts(qd: *mut pg_sys::QueryDesc, args: RunArgs) {
    // SAFETY: the executor's QueryDesc, lent for this call.
    let exec = Execution::new(qd);
    for f in parts().iter().filter_map(|p| p.executor_run_before) {
        f(&exec);
    }
    // What the "before" parts set up and an ERROR skips is undone by their
    // (sub)transaction callbacks. The "interrupted" parts see the execution
    // whenever a message is raised inside the run, through an error context
    // callback (the one place that runs before an ERROR longjmps past this
    // frame, and leaves the ERROR whole): what the run has done so far, e.g.
    // the rows it sent, is gone by the time the callbacks run.
    // SAFETY: the callback is linked into Postgres' error context stack for
    // the call only, as C code does: unlinked below on return, and on an
    // ERROR whoever catches it restores the stack it saved.
    let mut context = pg_sys::ErrorContextCallback {
        previous: pg_sys::error_context_stack,
        callback: Some(run_interrupted),
        arg: qd as *mut std::ffi::c_void,
    };
    pg_sys::error_context_stack = &mut context;
    next_executor_run(PREV_EXECUTOR_RUN, qd, args);
    pg_sys::error_context_stack = context.previous;
    for f in parts().iter().rev().filter_map(|p| p.executor_run_after) {
        f(&exec);
    }
}

/// Error context callback of a running ExecutorRun (`arg`: its QueryDesc).
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn run_interrupted(arg: *mut std::ffi::c_void) {
    // SAFETY: the QueryDesc of the run this callback was linked for, which
    // is still executing (the message is raised inside it).
    let exec = Execution::new(arg as *mut pg_sys::QueryDesc);
    for f in parts().iter().filter_map(|p| p.executor_run_interrupted) {
        f(&exec);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn executor_end_chain(qd: *mut pg_sys::QueryDesc) {
    // SAFETY: the executor's QueryDesc, lent for this call.
    let exec = Execution::new(qd);
    for f in parts().iter().filter_map(|p| p.executor_end) {
        f(&exec);
    }
    next_executor_end(PREV_EXECUTOR_END, qd);
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn object_access_chain(
    access: pg_sys::ObjectAccessType::Type,
    class_id: pg_sys::Oid,
    object_id: pg_sys::Oid,
    sub_id: i32,
    arg: *mut std::ffi::c_void,
) {
    if let Some(prev) = PREV_OBJECT_ACCESS {
        prev(access, class_id, object_id, sub_id, arg);
    }
    for f in parts().iter().filter_map(|p| p.object_access) {
        f(access, class_id, object_id, sub_id);
    }
}
