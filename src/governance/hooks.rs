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
//! Postgres' parse trees and executor state are read through the shims of
//! src/pg/ (utility.rs, query.rs, catalog.rs); errors are Postgres ERRORs.

use pgrx::prelude::*;
use serde_json::json;

use super::cache;
use super::gate;
use super::pii_session;
use super::privileged::{call_operation, current_user_oid, internal};
use crate::audit::Touched;
use crate::errors::LakeError;
use crate::pg::catalog;
use crate::pg::query::Execution;
use crate::pg::utility::{GrantCommand, GrantObject, UtilityStmt};

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

/// The PII-session rules for utility statements. Allowed: reading, cursors
/// (not WITH HOLD, which would keep rows past the transaction), transaction
/// control, DO/CALL/EXPLAIN (whose statements are checked on their own), and,
/// typed by the client at top level only, SET, PREPARE and LISTEN: built by
/// dynamic SQL they could stash a value in the session (a setting, a
/// prepared statement's text, a channel name) for after `disable_pii`.
/// Everything else (CREATE of any object, also temporary, COMMENT, ALTER
/// ... SET, NOTIFY, COPY FROM or to a file) is refused.
fn check_utility_pii(stmt: UtilityStmt<'_>, query: Option<&str>, top_level: bool) {
    use pg_sys::NodeTag::*;
    let refuse = |what: &str| pii_read_only_error(query, what);
    match stmt.tag() {
        T_TransactionStmt | T_VariableShowStmt | T_FetchStmt | T_ClosePortalStmt | T_ExecuteStmt
        | T_DeallocateStmt | T_DoStmt | T_CallStmt | T_ExplainStmt | T_LockStmt | T_ConstraintsSetStmt
        | T_UnlistenStmt => {}
        T_DiscardStmt | T_CheckPointStmt | T_LoadStmt if top_level => {}
        T_VariableSetStmt => {
            let resets = stmt.set_resets() == Some(true);
            if !top_level && !resets {
                refuse("SET from dynamic SQL");
            }
        }
        T_PrepareStmt if !top_level => refuse("PREPARE from dynamic SQL"),
        T_ListenStmt if !top_level => refuse("LISTEN from dynamic SQL"),
        T_PrepareStmt | T_ListenStmt => {}
        T_DeclareCursorStmt => {
            if stmt.cursor_with_hold() == Some(true) {
                refuse("DECLARE CURSOR WITH HOLD");
            }
        }
        T_CopyStmt => {
            if let Some(copy) = stmt.copy() {
                if copy.from {
                    refuse("COPY FROM");
                }
                if copy.file_or_program {
                    refuse("COPY TO a file or program");
                }
            }
        }
        T_CreateTableAsStmt => refuse("CREATE TABLE AS / SELECT INTO"),
        T_RefreshMatViewStmt => refuse("REFRESH MATERIALIZED VIEW"),
        _ => refuse(&stmt.command_name().unwrap_or_else(|| "this command".into())),
    }
}

/// Whether `grant` gives exactly what townlake itself grants on a raw
/// relation: SELECT (whole rows, no grant option) to lake_governance. It
/// changes nothing, and a dump restores it with this very statement.
fn grants_only_governance_select(grant: &GrantCommand<'_>) -> bool {
    if grant.grant_option || grant.privileges.is_empty() || grant.grantees.is_empty() {
        return false;
    }
    let select_only = grant.privileges.iter().all(|p| !p.columns && p.name.as_deref() == Some("select"));
    let governance_only = grant.grantees.iter().all(|r| r.as_deref() == Some("lake_governance"));
    select_only && governance_only
}

/// Drops the published view of `relid` ahead of DDL its dependency would block.
fn unpublish(relid: pg_sys::Oid) {
    call_operation("unpublish", current_user_oid(), json!({ "relid": relid.to_u32() }), true);
}

fn check_utility(call: &crate::pg::hooks::Utility, query: Option<&str>, top_level: bool) {
    let stmt = call.statement();
    let tag = stmt.tag();
    if pii_session::enforce_read_only() {
        check_utility_pii(stmt, query, top_level);
    }
    // Only these touch governed relations. Everything else must not load the
    // cache: its SPI query would take a snapshot, and a first statement such
    // as BEGIN ISOLATION LEVEL REPEATABLE READ must come before any.
    if !matches!(
        tag,
        pg_sys::NodeTag::T_GrantStmt
            | pg_sys::NodeTag::T_AlterTableStmt
            | pg_sys::NodeTag::T_DropStmt
            | pg_sys::NodeTag::T_CopyStmt
    ) || !cache::anything_governed()
    {
        return;
    }
    if let Some(copy) = stmt.copy() {
        // `COPY table TO` reads the table without the executor (Postgres
        // turns it into a query only under row level security, which the
        // raw relation's owners bypass), so no audit record would say who
        // read it: it runs as `COPY (SELECT ... FROM ONLY table) TO`, same
        // rows and options, and the read is recorded (a non-superuser
        // owner's pg_dump goes this way). Superusers may switch the audit
        // off anyway. Other relation kinds cannot be copied by name.
        if copy.from || crate::pg::security::is_superuser(current_user_oid()) {
            return;
        }
        let Some(relid) = copy.relation.relid() else { return };
        let Some((_, g)) = governed_or_partition_of(relid) else { return };
        if !matches!(catalog::relation_kind(relid), b'r' | b'm') {
            return;
        }
        // A named generated column is an error of COPY's own on some
        // versions, which the query form would not raise: not rewritten.
        let named_generated = copy.columns.iter().any(|c| catalog::is_generated_column(relid, c));
        match catalog::qualified_relation_name(relid) {
            Some(name) if !named_generated => {
                let columns = if copy.columns.is_empty() { catalog::copy_columns(relid) } else { copy.columns };
                let list: Vec<String> = columns.iter().map(|c| catalog::quote_identifier(c)).collect();
                call.copy_to_through_query(&format!("SELECT {} FROM ONLY {}", list.join(", "), name));
            }
            _ => LakeError::new(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("COPY {} TO with a generated column is not audited: copy it with a query instead", g.raw_name),
            )
            .with_hint(format!(
                "COPY (SELECT ... FROM {}) TO ... reads the same rows, and the audit log records it.",
                g.raw_name
            ))
            .report(),
        }
        return;
    }
    if let Some(grant) = stmt.grant() {
        if !grant.is_grant || grant.objtype != pg_sys::ObjectType::OBJECT_TABLE || grants_only_governance_select(&grant) {
            return;
        }
        for obj in grant.objects() {
            match obj {
                GrantObject::Schema(schema) => {
                    if let Some(ns) = catalog::namespace_oid(&schema) {
                        if cache::is_governed_schema(ns) {
                            managed_error("GRANT", &format!("schema {schema}"));
                        }
                    }
                }
                GrantObject::Relation(rv) => {
                    if let Some(g) = rv.relid().and_then(cache::governed) {
                        managed_error("GRANT", &g.raw_name);
                    }
                }
                GrantObject::Other => {}
            }
        }
    } else if let Some(alter) = stmt.alter_table() {
        let Some(oid) = alter.relation.relid() else { return };
        let Some(g) = cache::governed(oid) else { return };
        let mut blocks_view = false;
        for subtype in alter.subcommands {
            match subtype {
                pg_sys::AlterTableType::AT_ChangeOwner => managed_error("ALTER OWNER", &g.raw_name),
                pg_sys::AlterTableType::AT_DisableRowSecurity | pg_sys::AlterTableType::AT_NoForceRowSecurity => {
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
    } else if let Some(drop) = stmt.drop() {
        match drop.remove_type {
            pg_sys::ObjectType::OBJECT_TABLE
            | pg_sys::ObjectType::OBJECT_VIEW
            | pg_sys::ObjectType::OBJECT_MATVIEW
            | pg_sys::ObjectType::OBJECT_FOREIGN_TABLE => {}
            _ => return,
        }
        for oid in drop.relations().flatten() {
            if cache::governed(oid).is_some_and(|g| g.published_view.is_some()) {
                unpublish(oid);
            }
        }
    }
}

pub(super) fn process_utility(call: &crate::pg::hooks::Utility) -> Option<crate::pg::hooks::AfterUtility> {
    if internal() {
        return None;
    }
    check_utility(call, call.text().as_deref(), call.top_level());
    // BEGIN READ WRITE, SET transaction_read_only = off and the like do not
    // outlast the statement while PII is on.
    Some(Box::new(|| {
        pii_session::enforce_read_only();
    }))
}

// ------------------------------------------------------------ executor hooks

thread_local! {
    /// (published view, its attribute) -> the raw relation's attribute of
    /// the same name: two syscache lookups per column and statement
    /// otherwise. Cleared by every relcache invalidation (a column renamed,
    /// a view replaced).
    static VIEW_ATTNUMS: std::cell::RefCell<std::collections::HashMap<(pg_sys::Oid, i16, pg_sys::Oid), Option<i16>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Registered from `_PG_init`: every relcache invalidation clears the map.
pub(super) fn init() {
    crate::pg::callbacks::on_relcache(|_| forget_view_attnums());
}

fn forget_view_attnums() {
    VIEW_ATTNUMS.with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            m.clear();
        }
    });
    TOUCHED.with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            m.clear();
        }
    });
}

/// The governed relations of a range table, kept for the range tables a
/// backend runs again (a prepared statement's plan, the same query text):
/// `touched_relations` walks the range table and looks up the governance
/// cache, the view column map and partition roots for every entry and
/// statement otherwise.
struct TouchedMemo {
    /// `cache::generation()` when computed: governance changes bump it.
    generation: u64,
    key: Vec<crate::pg::query::EntryKey>,
    touched: std::rc::Rc<[Touched]>,
}

/// Range tables remembered per backend.
const TOUCHED_KEPT: usize = 32;

thread_local! {
    /// Newest last; cleared by every relcache invalidation (columns
    /// renamed, partitions attached or detached, views replaced), like
    /// VIEW_ATTNUMS.
    static TOUCHED: std::cell::RefCell<Vec<TouchedMemo>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The attribute of `raw` named like attribute `attnum` of `view`.
fn raw_attnum_of(view: pg_sys::Oid, attnum: i16, raw: pg_sys::Oid) -> Option<i16> {
    if let Some(known) = VIEW_ATTNUMS.with(|m| m.borrow().get(&(view, attnum, raw)).copied()) {
        return known;
    }
    let found = catalog::same_name_attnum(view, attnum, raw);
    VIEW_ATTNUMS.with(|m| m.borrow_mut().insert((view, attnum, raw), found));
    found
}

/// The governed relation `relid` is, or whose partition it is (the root of
/// its partition tree), with its governance record.
fn governed_or_partition_of(relid: pg_sys::Oid) -> Option<(pg_sys::Oid, cache::GovernedRelation)> {
    match cache::governed(relid) {
        Some(g) => Some((relid, g)),
        None => catalog::partition_root(relid).and_then(|root| cache::governed(root).map(|g| (root, g))),
    }
}

/// Governed relations in a statement's range table: what it depends on
/// (each entry's kind, relation and selected columns; the governance cache;
/// the catalog, through relcache invalidations) is the memo's key, so a
/// range table seen before gives the same answer without the lookups.
pub fn touched_relations(exec: &Execution) -> std::rc::Rc<[Touched]> {
    let generation = cache::generation();
    let known = TOUCHED.with(|m| {
        let m = m.borrow();
        m.iter()
            .rev()
            .find(|t| t.generation == generation && exec.range_table_matches(&t.key))
            .map(|t| t.touched.clone())
    });
    if let Some(touched) = known {
        return touched;
    }
    let touched: std::rc::Rc<[Touched]> = compute_touched_relations(exec).into();
    // an invalidation while computing (catalog lookups can take one in)
    // leaves this answer unremembered
    if cache::generation() == generation {
        let key = exec.range_table_key();
        TOUCHED.with(|m| {
            if let Ok(mut m) = m.try_borrow_mut() {
                if m.len() >= TOUCHED_KEPT {
                    m.remove(0);
                }
                m.push(TouchedMemo { generation, key, touched: touched.clone() });
            }
        });
    }
    touched
}

fn compute_touched_relations(exec: &Execution) -> Vec<Touched> {
    // raw relation -> columns read through its published view
    let mut views: Vec<(pg_sys::Oid, Vec<i16>)> = Vec::new();
    let mut out: Vec<Touched> = Vec::new();
    let rtes = exec.range_table();
    for rte in &rtes {
        if let Some(view) = rte.named_relation() {
            if let Some(raw) = cache::raw_of_view(view) {
                // published columns carry their raw column's name
                let cols: Vec<i16> = rte
                    .selected_attnums()
                    .into_iter()
                    .filter_map(|a| if a == 0 { Some(0) } else { raw_attnum_of(view, a, raw) })
                    .collect();
                match views.iter_mut().find(|(r, _)| *r == raw) {
                    Some((_, c)) => c.extend(cols),
                    None => views.push((raw, cols)),
                }
            }
        }
    }
    for rte in &rtes {
        if !rte.is_relation() {
            continue;
        }
        let read = rte.relid();
        // A partition of a governed table read directly (by its owners: no
        // one else may) is recorded as its governed root, columns by name.
        let Some((relid, g)) = governed_or_partition_of(read) else { continue };
        let partition = relid != read;
        let through_view = views.iter().find(|(r, _)| *r == relid);
        let via_view = through_view.is_some();
        // through the view, what the query asked for; directly, what it read
        let mut attnums = match through_view {
            Some((_, cols)) => cols.clone(),
            None if partition => rte
                .selected_attnums()
                .into_iter()
                .filter_map(|a| if a == 0 { Some(0) } else { catalog::same_name_attnum(read, a, relid) })
                .collect(),
            None => rte.selected_attnums(),
        };
        attnums.sort_unstable();
        attnums.dedup();
        match out.iter_mut().find(|t| t.relid == relid) {
            Some(t) => {
                t.attnums.extend(attnums);
                t.attnums.sort_unstable();
                t.attnums.dedup();
            }
            None => out.push(Touched { relid, raw_name: g.raw_name, via_view, published_view: g.published_view, attnums }),
        }
    }
    out
}

fn writes_data(exec: &Execution) -> bool {
    if exec.command_type() != pg_sys::CmdType::CMD_SELECT || exec.has_modifying_cte() {
        return true;
    }
    matches!(exec.destination(), Some(pg_sys::CommandDest::DestIntoRel | pg_sys::CommandDest::DestTransientRel))
}

/// Runs the access check of every published view in the statement's range
/// table. Postgres keeps a view's entry there for its own privilege check, so
/// it is present even when the planner flattened or removed the view.
fn check_published_views(exec: &Execution) {
    for rte in exec.range_table() {
        let relid = rte.relid();
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
fn outward_foreign_table(exec: &Execution) -> Option<String> {
    for rte in exec.range_table() {
        if !rte.is_relation() || rte.relkind() != pg_sys::RELKIND_FOREIGN_TABLE {
            continue;
        }
        let (fdw, name) = catalog::foreign_table_wrapper(rte.relid());
        let ours = catalog::extension_of(pg_sys::ForeignDataWrapperRelationId, fdw).as_deref() == Some("townlake");
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

fn refused_function(func: pg_sys::Oid) -> Option<String> {
    let name = catalog::function_name(func)?;
    if u32::from(catalog::function_namespace(func)) == pg_sys::PG_CATALOG_NAMESPACE
        && (REFUSED_FUNCTIONS.contains(&name.as_str())
            || name.starts_with("pg_advisory_")
            || name.starts_with("pg_try_advisory_"))
    {
        return Some(format!("{name}()"));
    }
    if let Some(ext_name) = catalog::extension_of(pg_sys::ProcedureRelationId, func) {
        if REFUSED_EXTENSIONS.contains(&ext_name.as_str()) {
            return Some(format!("{name}() of extension {ext_name}"));
        }
    }
    None
}

/// Postgres calls this as it prepares every function call of an expression
/// (queries, PL/pgSQL's simple expressions, fast-path calls): the one place
/// that sees built-in functions too.
pub(super) fn object_access(access: pg_sys::ObjectAccessType::Type, class_id: pg_sys::Oid, object_id: pg_sys::Oid, _sub_id: i32) {
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

thread_local! {
    /// In a parallel worker: whether the leader's plan fragment has started.
    static FRAGMENT_STARTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this execution is a query that user code runs inside a parallel
/// worker (a PARALLEL SAFE function's dynamic SQL), which the leader never
/// saw. A worker process runs one plan fragment, and its first execution is
/// that fragment (the leader checked and audited its statement); every
/// later one runs inside it.
fn nested_in_parallel_worker() -> bool {
    crate::pg::backend::is_parallel_worker() && FRAGMENT_STARTED.with(|s| s.replace(true))
}

/// A parallel worker cannot take the access gate's decision nor write the
/// audit record in the session's name, so a query run inside one may not
/// read a governed relation or a published view.
fn refuse_governed_reads_in_parallel_worker(exec: &Execution) {
    let view = exec.range_table().iter().find_map(|rte| {
        let relid = rte.relid();
        (relid != pg_sys::Oid::INVALID && cache::raw_of_view(relid).is_some())
            .then(|| catalog::relation_name(relid).unwrap_or_else(|| relid.to_u32().to_string()))
    });
    if let Some(name) = view.or_else(|| touched_relations(exec).first().map(|t| t.raw_name.clone())) {
        LakeError::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("governed relation \"{name}\" cannot be read by a query run inside a parallel worker"),
        )
        .with_detail("A function marked PARALLEL SAFE ran a query of its own in a parallel worker, where townlake can neither check access nor record the read.")
        .with_hint("Declare the function PARALLEL RESTRICTED (or UNSAFE) so its queries run in the session's own process.")
        .report();
    }
}

pub(super) fn executor_start(exec: &Execution, eflags: i32) {
    if nested_in_parallel_worker() && !internal() && cache::anything_governed() {
        refuse_governed_reads_in_parallel_worker(exec);
    }
    // the leader checked before starting parallel workers
    let leader = !crate::pg::backend::is_parallel_worker();
    let governed = leader && cache::anything_governed();
    let watched = leader && !internal() && !crate::pg::backend::is_background_worker();
    // A session's statements, and user code that the runs of models and
    // pipelines (the scheduler and its run workers) execute: the same rules
    // hold for both.
    let user_code = watched
        || (leader && !internal() && crate::pg::backend::is_background_worker() && crate::pg::security::running_user_code());
    if user_code && pii_session::enforce_read_only() {
        let text = exec.source_text().map(|t| t.to_string_lossy().into_owned());
        if writes_data(exec) {
            pii_read_only_error(text.as_deref(), "Writing data");
        }
        if let Some(fdw) = outward_foreign_table(exec) {
            pii_read_only_error(text.as_deref(), &format!("Reading a foreign table of wrapper {fdw}"));
        }
    }
    if leader {
        pii_session::executor_started(exec.key());
    }
    // Recorded before any check, so attempts that the access gate or the
    // executor's permission checks reject are in the audit log too
    // (completed as errors).
    // Background workers run townlake's own code, never a client's, except
    // the runs of models and pipelines (the scheduler and its run workers):
    // what those read is recorded like any session's statements.
    let audited = user_code;
    if audited && governed && crate::audit::AUDIT.get() && eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 == 0 {
        let touched = touched_relations(exec);
        if !touched.is_empty() {
            crate::audit::statement_started(exec, &touched);
        }
    }
    if governed {
        check_published_views(exec);
        if user_code && exec.instrumented() {
            hide_counts_behind_row_filters(exec);
        }
    }
}

/// EXPLAIN ANALYZE counts what every plan node saw. Under a published view's
/// row filter an index condition on a visible column runs before the filter,
/// so "Rows Removed by Filter: 1" (or buffers, heap fetches, loops) told a
/// probe that a hidden row holds a value, and nothing for a value no row
/// holds. A role that may not read the raw relation gets the plan without
/// per-node statistics; the statement itself runs as usual.
fn hide_counts_behind_row_filters(exec: &Execution) {
    let user = crate::pg::security::current_user();
    if crate::pg::security::is_superuser(user) {
        return;
    }
    for rte in exec.range_table() {
        let relid = rte.relid();
        if relid == pg_sys::Oid::INVALID {
            continue;
        }
        let Some(raw) = cache::raw_of_view(relid) else { continue };
        // SAFETY: a privilege check by oids.
        if unsafe { pg_sys::pg_class_aclcheck(raw, user, pg_sys::ACL_SELECT as pg_sys::AclMode) }
            == pg_sys::AclResult::ACLCHECK_OK
        {
            continue;
        }
        let filtered = super::privileged::as_extension_owner(|| {
            Spi::get_one_with_args::<bool>(
                "SELECT row_filter IS NOT NULL FROM lake.governed_relations WHERE relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
                &[raw.into()],
            )
        });
        // unreadable: hide, as a filter would need
        if matches!(filtered, Ok(Some(false))) {
            continue;
        }
        exec.drop_instrumentation();
        pgrx::notice!(
            "EXPLAIN ANALYZE shows no per-node counts for {}: its row filter hides rows from you, and the counts would include them",
            catalog::qualified_relation_name(relid).unwrap_or_else(|| "a published view".into())
        );
        return;
    }
}

/// Marks the executor running, so `lake.pii_revealed` knows whether the
/// rows it computes belong to a statement started with PII on.
pub(super) fn executor_run_before(exec: &Execution) {
    // An ERROR skips `executor_run_after`: the (sub)transaction abort clears
    // the running mark then (pii_session).
    pii_session::executor_run_started(exec.key());
}

pub(super) fn executor_run_after(exec: &Execution) {
    pii_session::executor_run_finished(exec.key());
    // audit rows add up over every run (each FETCH of a cursor)
    crate::audit::statement_ran(exec);
}

/// The rows a run sent before an ERROR were read all the same: the record
/// counts them (the abort callback completes it as an error).
pub(super) fn executor_run_interrupted(exec: &Execution) {
    crate::audit::statement_interrupted(exec);
}

pub(super) fn executor_end(exec: &Execution) {
    pii_session::executor_ended(exec.key());
    crate::audit::statement_ended(exec);
}
