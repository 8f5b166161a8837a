//! Utility and executor hooks. They never rewrite queries: published views do
//! the enforcing. The hooks
//! - reject GRANTs, owner changes and disabling row security on governed raw
//!   relations (townlake manages those);
//! - drop a published view just before a DROP / DROP COLUMN / ALTER COLUMN TYPE
//!   on its raw relation that the view's dependency would block (the event
//!   trigger at the end of the command publishes it again);
//! - keep a session with PII on read-only: the transaction is made read-only
//!   (Postgres then refuses writes, DDL, `nextval`, large-object writes), and
//!   what read-only mode lets through is refused here, each refusal audited:
//!   utility statements other than a short list of harmless ones, statements
//!   built by dynamic SQL that leave state in the session (SET, PREPARE,
//!   LISTEN), cursors WITH HOLD, functions that move values elsewhere
//!   (NOTIFY, set_config, advisory locks, large objects, sequences, dblink),
//!   and foreign tables of wrappers that send queries to other servers;
//! - run the access check of every published view a statement reads, once
//!   per execution (EXPLAIN without ANALYZE included, whose plan would
//!   otherwise show row estimates of a relation the user may not read); the
//!   planner shim (planner.rs) takes the in-view gate out of plans;
//! - hand every statement touching governed data to the audit queue.
//!
//! All pointer work is in small commented shims; errors are Postgres ERRORs.

use std::ffi::{c_char, CStr};

use pgrx::prelude::*;
use serde_json::json;

use super::cache;
use super::gate;
use super::pii_session;
use super::privileged::{call_operation, current_user_oid, internal};
use crate::audit::Touched;
use crate::pg::nodes::{list_pointers, node_tag, string_value};
use crate::errors::LakeError;


// ------------------------------------------------------------ list shims

/// Relation named by a RangeVar, if it exists (permission errors on the
/// schema surface exactly as the statement itself would raise them).
unsafe fn range_var_oid(rv: *mut pg_sys::RangeVar) -> pg_sys::Oid {
    if rv.is_null() {
        return pg_sys::Oid::INVALID;
    }
    pg_sys::RangeVarGetRelidExtended(
        rv,
        pg_sys::NoLock as pg_sys::LOCKMODE,
        pg_sys::RVROption::RVR_MISSING_OK,
        None,
        std::ptr::null_mut(),
    )
}

// ------------------------------------------------------------ utility hook

fn managed_error(what: &str, relation: &str) -> ! {
    LakeError::new(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("{what} on governed raw relation {relation} is managed by townlake"),
    )
    .with_hint(
        "Readers get access through the published view: a reviewer runs \
         lake.approve_table/lake.approve_column and lake.grant_access(role, relation, interval, reason).",
    )
    .report()
}

/// Refuses `what` in a session with PII on, after recording the attempt in
/// the audit log (`statement`: the refused statement's text, when known).
fn pii_read_only_error(statement: Option<&str>, what: &str) -> ! {
    crate::audit::record_refusal(statement, what);
    LakeError::new(
        PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
        format!("{what} is not allowed while PII is revealed in this session"),
    )
    .with_hint(
        "A session with PII on is read-only, and so is each transaction that had it on. \
         Run SELECT lake.disable_pii(); and start a new transaction first.",
    )
    .report()
}

unsafe fn c_text(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}

/// The command tag of a utility statement (`CREATE VIEW`, `COMMENT` ...).
unsafe fn command_name(stmt: *mut pg_sys::Node) -> String {
    c_text(pg_sys::GetCommandTagName(pg_sys::CreateCommandTag(stmt))).unwrap_or_else(|| "this command".into())
}

/// The PII-session rules for utility statements. Allowed: reading, cursors
/// (not WITH HOLD, which would keep rows past the transaction), transaction
/// control, DO/CALL/EXPLAIN (whose statements are checked on their own), and,
/// typed by the client at top level only, SET, PREPARE and LISTEN: built by
/// dynamic SQL they could stash a value in the session (a setting, a
/// prepared statement's text, a channel name) for after `disable_pii`.
/// Everything else (CREATE of any object, also temporary, COMMENT, ALTER
/// ... SET, NOTIFY, COPY FROM or to a file) is refused.
unsafe fn check_utility_pii(stmt: *mut pg_sys::Node, query: Option<&str>, top_level: bool) {
    use pg_sys::NodeTag::*;
    let tag = (*stmt).type_;
    let refuse = |what: &str| pii_read_only_error(query, what);
    match tag {
        T_TransactionStmt | T_VariableShowStmt | T_FetchStmt | T_ClosePortalStmt | T_ExecuteStmt
        | T_DeallocateStmt | T_DoStmt | T_CallStmt | T_ExplainStmt | T_LockStmt | T_ConstraintsSetStmt
        | T_UnlistenStmt => {}
        T_DiscardStmt | T_CheckPointStmt | T_LoadStmt if top_level => {}
        T_VariableSetStmt => {
            let set = stmt as *mut pg_sys::VariableSetStmt;
            let resets = matches!(
                (*set).kind,
                pg_sys::VariableSetKind::VAR_RESET | pg_sys::VariableSetKind::VAR_RESET_ALL
            );
            if !top_level && !resets {
                refuse("SET from dynamic SQL");
            }
        }
        T_PrepareStmt if !top_level => refuse("PREPARE from dynamic SQL"),
        T_ListenStmt if !top_level => refuse("LISTEN from dynamic SQL"),
        T_PrepareStmt | T_ListenStmt => {}
        T_DeclareCursorStmt => {
            let declare = stmt as *mut pg_sys::DeclareCursorStmt;
            if (*declare).options & pg_sys::CURSOR_OPT_HOLD as i32 != 0 {
                refuse("DECLARE CURSOR WITH HOLD");
            }
        }
        T_CopyStmt => {
            let copy = stmt as *mut pg_sys::CopyStmt;
            if (*copy).is_from {
                refuse("COPY FROM");
            }
            if !(*copy).filename.is_null() || (*copy).is_program {
                refuse("COPY TO a file or program");
            }
        }
        T_CreateTableAsStmt => refuse("CREATE TABLE AS / SELECT INTO"),
        T_RefreshMatViewStmt => refuse("REFRESH MATERIALIZED VIEW"),
        _ => refuse(&command_name(stmt)),
    }
}

/// Whether `grant` gives exactly what townlake itself grants on a raw
/// relation: SELECT (whole rows, no grant option) to lake_governance. It
/// changes nothing, and a dump restores it with this very statement.
unsafe fn grants_only_governance_select(grant: *mut pg_sys::GrantStmt) -> bool {
    let privileges = list_pointers((*grant).privileges);
    let grantees = list_pointers((*grant).grantees);
    if (*grant).grant_option || privileges.is_empty() || grantees.is_empty() {
        return false;
    }
    let select_only = privileges.iter().all(|&p| {
        let p = p as *mut pg_sys::AccessPriv;
        (*p).cols.is_null() && c_text((*p).priv_name).as_deref() == Some("select")
    });
    let governance_only = grantees.iter().all(|&r| {
        let r = r as *mut pg_sys::RoleSpec;
        (*r).roletype == pg_sys::RoleSpecType::ROLESPEC_CSTRING && c_text((*r).rolename).as_deref() == Some("lake_governance")
    });
    select_only && governance_only
}

/// Drops the published view of `relid` ahead of DDL its dependency would block.
fn unpublish(relid: pg_sys::Oid) {
    call_operation("unpublish", current_user_oid(), json!({ "relid": relid.to_u32() }), true);
}

unsafe fn check_utility(stmt: *mut pg_sys::Node, query: Option<&str>, top_level: bool) {
    let tag = (*stmt).type_;
    if pii_session::enforce_read_only() {
        check_utility_pii(stmt, query, top_level);
    }
    // Only these touch governed relations. Everything else must not load the
    // cache: its SPI query would take a snapshot, and a first statement such
    // as BEGIN ISOLATION LEVEL REPEATABLE READ must come before any.
    if !matches!(
        tag,
        pg_sys::NodeTag::T_GrantStmt | pg_sys::NodeTag::T_AlterTableStmt | pg_sys::NodeTag::T_DropStmt
    ) || !cache::anything_governed()
    {
        return;
    }
    match tag {
        pg_sys::NodeTag::T_GrantStmt => {
            let grant = stmt as *mut pg_sys::GrantStmt;
            if !(*grant).is_grant || (*grant).objtype != pg_sys::ObjectType::OBJECT_TABLE || grants_only_governance_select(grant) {
                return;
            }
            for obj in list_pointers((*grant).objects) {
                if (*grant).targtype == pg_sys::GrantTargetType::ACL_TARGET_ALL_IN_SCHEMA {
                    if let Some(schema) = string_value(obj) {
                        let Ok(c) = std::ffi::CString::new(schema.clone()) else { continue };
                        let ns = pg_sys::get_namespace_oid(c.as_ptr(), true);
                        if ns != pg_sys::Oid::INVALID && cache::is_governed_schema(ns) {
                            managed_error("GRANT", &format!("schema {schema}"));
                        }
                    }
                } else if node_tag(obj) == pg_sys::NodeTag::T_RangeVar {
                    let oid = range_var_oid(obj as *mut pg_sys::RangeVar);
                    if let Some(g) = cache::governed(oid) {
                        managed_error("GRANT", &g.raw_name);
                    }
                }
            }
        }
        pg_sys::NodeTag::T_AlterTableStmt => {
            let alter = stmt as *mut pg_sys::AlterTableStmt;
            let oid = range_var_oid((*alter).relation);
            let Some(g) = cache::governed(oid) else { return };
            let mut blocks_view = false;
            for cmd in list_pointers((*alter).cmds) {
                if node_tag(cmd) != pg_sys::NodeTag::T_AlterTableCmd {
                    continue;
                }
                match (*(cmd as *mut pg_sys::AlterTableCmd)).subtype {
                    pg_sys::AlterTableType::AT_ChangeOwner => managed_error("ALTER OWNER", &g.raw_name),
                    pg_sys::AlterTableType::AT_DisableRowSecurity
                    | pg_sys::AlterTableType::AT_NoForceRowSecurity => {
                        managed_error("Row level security", &g.raw_name)
                    }
                    pg_sys::AlterTableType::AT_AlterColumnType => blocks_view = true,
                    t if crate::pg::compat::is_drop_column(t) => blocks_view = true,
                    _ => {}
                }
            }
            if blocks_view && g.published_view.is_some() {
                unpublish(oid);
            }
        }
        pg_sys::NodeTag::T_DropStmt => {
            let drop = stmt as *mut pg_sys::DropStmt;
            match (*drop).removeType {
                pg_sys::ObjectType::OBJECT_TABLE
                | pg_sys::ObjectType::OBJECT_VIEW
                | pg_sys::ObjectType::OBJECT_MATVIEW
                | pg_sys::ObjectType::OBJECT_FOREIGN_TABLE => {}
                _ => return,
            }
            for names in list_pointers((*drop).objects) {
                let rv = pg_sys::makeRangeVarFromNameList(names as *mut pg_sys::List);
                let oid = range_var_oid(rv);
                if cache::governed(oid).is_some_and(|g| g.published_view.is_some()) {
                    unpublish(oid);
                }
            }
        }
        _ => {}
    }
}

pub(super) fn process_utility(call: &crate::pg::hooks::Utility) -> Option<crate::pg::hooks::AfterUtility> {
    if internal() {
        return None;
    }
    // SAFETY: the chain passes a statement with a parse tree.
    unsafe { check_utility(call.stmt(), call.text().as_deref(), call.top_level()) };
    // BEGIN READ WRITE, SET transaction_read_only = off and the like do not
    // outlast the statement while PII is on.
    Some(Box::new(|| {
        pii_session::enforce_read_only();
    }))
}

// ------------------------------------------------------------ executor hooks

/// Attribute numbers in a range table entry's selectedCols (0 = whole row).
unsafe fn selected_attnums(plan: *mut pg_sys::PlannedStmt, rte: *mut pg_sys::RangeTblEntry) -> Vec<i16> {
    crate::pg::nodes::members(crate::pg::compat::selected_cols(plan, rte))
        .into_iter()
        .map(|member| (member + pg_sys::FirstLowInvalidHeapAttributeNumber) as i16)
        .collect()
}

/// Raw attribute numbers behind the columns a query reads from a published
/// view (published columns carry their raw column's name).
unsafe fn raw_attnums_via_view(view: pg_sys::Oid, raw: pg_sys::Oid, view_attnums: &[i16]) -> Vec<i16> {
    let mut out = Vec::new();
    for &a in view_attnums {
        if a == 0 {
            out.push(0);
            continue;
        }
        let name = pg_sys::get_attname(view, a, true);
        if name.is_null() {
            continue;
        }
        let raw_att = pg_sys::get_attnum(raw, name);
        if raw_att > 0 {
            out.push(raw_att);
        }
    }
    out
}

/// Governed relations in a plan's range table.
///
/// # Safety
/// `plan` is a valid PlannedStmt of the current statement.
pub unsafe fn touched_relations(plan: *mut pg_sys::PlannedStmt) -> Vec<Touched> {
    // raw relation -> columns read through its published view
    let mut views: Vec<(pg_sys::Oid, Vec<i16>)> = Vec::new();
    let mut out: Vec<Touched> = Vec::new();
    let rtes = list_pointers((*plan).rtable);
    for &rte in &rtes {
        let rte = rte as *mut pg_sys::RangeTblEntry;
        if let Some(view) = crate::pg::compat::rte_relation(rte) {
            if let Some(raw) = cache::raw_of_view(view) {
                let cols = raw_attnums_via_view(view, raw, &selected_attnums(plan, rte));
                match views.iter_mut().find(|(r, _)| *r == raw) {
                    Some((_, c)) => c.extend(cols),
                    None => views.push((raw, cols)),
                }
            }
        }
    }
    for &rte in &rtes {
        let rte = rte as *mut pg_sys::RangeTblEntry;
        if (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION {
            continue;
        }
        let Some(g) = cache::governed((*rte).relid) else { continue };
        let through_view = views.iter().find(|(r, _)| *r == (*rte).relid);
        let via_view = through_view.is_some();
        // through the view, what the query asked for; directly, what it read
        let mut attnums = match through_view {
            Some((_, cols)) => cols.clone(),
            None => selected_attnums(plan, rte),
        };
        attnums.sort_unstable();
        attnums.dedup();
        match out.iter_mut().find(|t| t.relid == (*rte).relid) {
            Some(t) => {
                t.attnums.extend(attnums);
                t.attnums.sort_unstable();
                t.attnums.dedup();
            }
            None => out.push(Touched { relid: (*rte).relid, raw_name: g.raw_name, via_view, published_view: g.published_view, attnums }),
        }
    }
    out
}

unsafe fn writes_data(qd: *mut pg_sys::QueryDesc) -> bool {
    let plan = (*qd).plannedstmt;
    if (*plan).commandType != pg_sys::CmdType::CMD_SELECT || (*plan).hasModifyingCTE {
        return true;
    }
    let dest = (*qd).dest;
    !dest.is_null()
        && matches!((*dest).mydest, pg_sys::CommandDest::DestIntoRel | pg_sys::CommandDest::DestTransientRel)
}

/// Runs the access check of every published view in the statement's range
/// table. Postgres keeps a view's entry there for its own privilege check, so
/// it is present even when the planner flattened or removed the view.
unsafe fn check_published_views(plan: *mut pg_sys::PlannedStmt) {
    for rte in list_pointers((*plan).rtable) {
        let relid = (*(rte as *mut pg_sys::RangeTblEntry)).relid;
        if relid == pg_sys::Oid::INVALID {
            continue;
        }
        if let Some(raw) = cache::raw_of_view(relid) {
            if let Err(d) = gate::check(raw) {
                gate::raise_denial(&d);
            }
        }
    }
}

/// A foreign table in the plan whose wrapper sends queries (and the values
/// in them) to another server: only townlake's own `iceberg` reads in process.
unsafe fn outward_foreign_table(plan: *mut pg_sys::PlannedStmt) -> Option<String> {
    for rte in list_pointers((*plan).rtable) {
        let rte = rte as *mut pg_sys::RangeTblEntry;
        if (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION || (*rte).relkind as u8 != pg_sys::RELKIND_FOREIGN_TABLE {
            continue;
        }
        let server = pg_sys::GetForeignServer(pg_sys::GetForeignServerIdByRelId((*rte).relid));
        let fdw = pg_sys::GetForeignDataWrapper((*server).fdwid);
        let name = c_text((*fdw).fdwname).unwrap_or_default();
        let ext = pg_sys::getExtensionOfObject(pg_sys::ForeignDataWrapperRelationId, (*fdw).fdwid);
        let ours = ext != pg_sys::Oid::INVALID && c_text(pg_sys::get_extension_name(ext)).as_deref() == Some("townlake");
        if !(ours && name == "iceberg") {
            return Some(name);
        }
    }
    None
}

/// Functions (in pg_catalog) that move values out of a session where
/// read-only mode does not stop them, or that it stops without an audit
/// record: notifications, settings (a session's settings outlive
/// `disable_pii`, and some are visible to other sessions), advisory locks
/// (their keys are visible in pg_locks), sequences (temporary ones escape
/// read-only mode), large objects, logical decoding messages.
const REFUSED_FUNCTIONS: &[&str] = &[
    "pg_notify",
    "set_config",
    "nextval",
    "setval",
    "lo_creat",
    "lo_create",
    "lo_import",
    "lo_export",
    "lo_from_bytea",
    "lo_put",
    "lowrite",
    "lo_truncate",
    "lo_truncate64",
    "lo_unlink",
    "pg_logical_emit_message",
];

/// Extensions whose every function reaches outside the session.
const REFUSED_EXTENSIONS: &[&str] = &["dblink", "adminpack"];

unsafe fn refused_function(func: pg_sys::Oid) -> Option<String> {
    let name = c_text(pg_sys::get_func_name(func))?;
    if u32::from(pg_sys::get_func_namespace(func)) == pg_sys::PG_CATALOG_NAMESPACE
        && (REFUSED_FUNCTIONS.contains(&name.as_str())
            || name.starts_with("pg_advisory_")
            || name.starts_with("pg_try_advisory_"))
    {
        return Some(format!("{name}()"));
    }
    let ext = pg_sys::getExtensionOfObject(pg_sys::ProcedureRelationId, func);
    if ext != pg_sys::Oid::INVALID {
        let ext_name = c_text(pg_sys::get_extension_name(ext)).unwrap_or_default();
        if REFUSED_EXTENSIONS.contains(&ext_name.as_str()) {
            return Some(format!("{name}() of extension {ext_name}"));
        }
    }
    None
}

/// Postgres calls this as it prepares every function call of an expression
/// (queries, PL/pgSQL's simple expressions, fast-path calls): the one place
/// that sees built-in functions too.
pub(super) unsafe fn object_access(access: pg_sys::ObjectAccessType::Type, class_id: pg_sys::Oid, object_id: pg_sys::Oid, _sub_id: i32) {
    if access == pg_sys::ObjectAccessType::OAT_FUNCTION_EXECUTE
        && class_id == pg_sys::ProcedureRelationId
        && pii_session::read_only_now()
        && !internal()
    {
        if let Some(what) = refused_function(object_id) {
            pii_read_only_error(None, &what);
        }
    }
}

pub(super) unsafe fn executor_start(qd: *mut pg_sys::QueryDesc, eflags: i32) {
    // the leader checked before starting parallel workers
    let leader = pg_sys::ParallelWorkerNumber < 0;
    let governed = leader && cache::anything_governed();
    let watched = leader && !internal() && !crate::pg::compat::is_background_worker();
    if watched && pii_session::enforce_read_only() {
        let text = c_text((*qd).sourceText);
        if writes_data(qd) {
            pii_read_only_error(text.as_deref(), "Writing data");
        }
        if let Some(fdw) = outward_foreign_table((*qd).plannedstmt) {
            pii_read_only_error(text.as_deref(), &format!("Reading a foreign table of wrapper {fdw}"));
        }
    }
    if leader {
        pii_session::executor_started(qd as usize);
    }
    // Recorded before any check, so attempts that the access gate or the
    // executor's permission checks reject are in the audit log too
    // (completed as errors).
    if watched && governed && crate::audit::AUDIT.get() && eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 == 0 {
        let touched = touched_relations((*qd).plannedstmt);
        if !touched.is_empty() {
            crate::audit::statement_started(qd, touched);
        }
    }
    if governed {
        check_published_views((*qd).plannedstmt);
    }
}

/// Marks the executor running, so `lake.pii_revealed` knows whether the
/// rows it computes belong to a statement started with PII on.
pub(super) unsafe fn executor_run_before(qd: *mut pg_sys::QueryDesc) {
    // An ERROR skips `executor_run_after`: the (sub)transaction abort clears
    // the running mark then (pii_session).
    pii_session::executor_run_started(qd as usize);
}

pub(super) unsafe fn executor_run_after(qd: *mut pg_sys::QueryDesc) {
    pii_session::executor_run_finished(qd as usize);
    // audit rows add up over every run (each FETCH of a cursor)
    crate::audit::statement_ran(qd);
}

pub(super) unsafe fn executor_end(qd: *mut pg_sys::QueryDesc) {
    pii_session::executor_ended(qd as usize);
    crate::audit::statement_ended(qd);
}
