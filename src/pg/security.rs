//! Running code with other rights than the caller's.
//!
//! Whatever runs with more rights than its caller (the extension owner, the
//! bootstrap superuser, a background worker) must not resolve names through
//! a search_path the caller chose: an operator or function planted in the
//! caller's schema would run with the elevated rights. `Elevated` switches
//! the user and pins `search_path` in one step, the way Postgres itself does
//! for `SECURITY DEFINER ... SET search_path`.

use pgrx::pg_sys;

/// The only schemas elevated code resolves names in. `pg_temp` is named last
/// so a caller's temporary objects can never shadow anything.
pub const PINNED_SEARCH_PATH: &std::ffi::CStr = c"pg_catalog, lake, pg_temp";

/// A pinned `search_path` for as long as the guard lives (a GUC nest level,
/// as `fmgr_security_definer` uses for a function's `SET` clause).
pub struct PinnedSearchPath {
    level: i32,
}

impl PinnedSearchPath {
    pub fn new() -> Self {
        // SAFETY: backend thread; the new nest level is popped in Drop, or by
        // Postgres at (sub)transaction abort if we never get there.
        unsafe {
            let level = pg_sys::NewGUCNestLevel();
            pg_sys::set_config_option(
                c"search_path".as_ptr(),
                PINNED_SEARCH_PATH.as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
            PinnedSearchPath { level }
        }
    }
}

impl Default for PinnedSearchPath {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PinnedSearchPath {
    fn drop(&mut self) {
        // SAFETY: pops exactly the level pushed in new(). While unwinding
        // from an ERROR the values are restored too (isCommit = false).
        unsafe { pg_sys::AtEOXact_GUC(!std::thread::panicking(), self.level) };
    }
}

/// Run `f` as `role` with `search_path` pinned to `PINNED_SEARCH_PATH`. The
/// "local user id change" flag forbids SET ROLE inside, as for SECURITY
/// DEFINER functions. The previous user comes back when `f` returns or
/// unwinds (and Postgres restores it at abort as well).
pub fn run_as<R>(role: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    struct RestoreUser {
        user: pg_sys::Oid,
        context: i32,
    }
    impl Drop for RestoreUser {
        fn drop(&mut self) {
            // SAFETY: restores exactly what GetUserIdAndSecContext returned.
            unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.context) };
        }
    }
    let _path = PinnedSearchPath::new();
    let (mut user, mut context) = (pg_sys::Oid::INVALID, 0i32);
    // SAFETY: out-parameters are valid locals; plain backend state.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(role, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
    }
    let _restore = RestoreUser { user, context };
    f()
}

thread_local! {
    /// How many `run_user_code_as` frames are active in this process.
    static USER_CODE_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether this process is running user-supplied SQL through
/// `run_user_code_as` (a model's or a pipeline's run). Background workers
/// (the scheduler and its run workers) run nothing else a user wrote, so the
/// audit asks this to record what their runs read like any session's.
pub fn running_user_code() -> bool {
    USER_CODE_DEPTH.with(|d| d.get() > 0)
}

/// Run user-supplied SQL (a model's or a pipeline's query, and the
/// functions it calls) as `role`, isolated the way Postgres isolates a
/// materialized view's query on REFRESH, so that nothing it does outlives it
/// with other rights:
/// - a security-restricted operation: no temporary objects, no cursors WITH
///   HOLD (run again at COMMIT as whoever commits), no SET ROLE;
/// - every setting it changes, even with a session-level `set_config`, is
///   undone when it returns (the worker runs other owners' SQL next, and
///   `run_now` returns to its caller's session);
/// - deferred triggers and constraint checks never wait for COMMIT, where
///   they would run as the committing user (the scheduler's superuser):
///   `SET CONSTRAINTS ALL IMMEDIATE` first (firing those the caller had
///   queued, as the caller) makes its statements fire theirs as they end,
///   as `role`; deferring them again inside is an ERROR, as Postgres allows
///   no deferred trigger in a security-restricted operation. The rest of
///   the caller's transaction checks deferrable constraints immediately.
pub fn run_user_code_as<R>(role: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    struct Restore {
        user: pg_sys::Oid,
        context: i32,
        level: i32,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: pops exactly the GUC level pushed below, discarding
            // every change made inside (isCommit = false), then restores
            // exactly what GetUserIdAndSecContext returned.
            unsafe {
                pg_sys::AtEOXact_GUC(false, self.level);
                pg_sys::SetUserIdAndSecContext(self.user, self.context);
            }
            USER_CODE_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        }
    }
    fire_deferred_now();
    let (mut user, mut context) = (pg_sys::Oid::INVALID, 0i32);
    // SAFETY: out-parameters are locals; the GUC level is popped by Restore,
    // or by Postgres at abort.
    let restore = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        let level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            PINNED_SEARCH_PATH.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        pg_sys::SetUserIdAndSecContext(
            role,
            context | (pg_sys::SECURITY_LOCAL_USERID_CHANGE | pg_sys::SECURITY_RESTRICTED_OPERATION) as i32,
        );
        USER_CODE_DEPTH.with(|d| d.set(d.get() + 1));
        Restore { user, context, level }
    };
    let result = f();
    drop(restore);
    result
}

/// Fires the transaction's pending deferred triggers and constraint checks
/// now, as the current user, and makes the rest of the transaction fire them
/// at the end of each statement.
fn fire_deferred_now() {
    if let Err(e) = pgrx::spi::Spi::run("SET CONSTRAINTS ALL IMMEDIATE") {
        pgrx::error!("townlake: could not fire deferred triggers: {e}");
    }
}

/// Inside `run_user_code_as`: run `f` without the security restriction, for
/// townlake's own temporary objects (a staging table created WITH NO DATA, a
/// probe view), whose creation runs no user code.
pub fn allow_own_temp_objects<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(pg_sys::Oid, i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores exactly what GetUserIdAndSecContext returned.
            unsafe { pg_sys::SetUserIdAndSecContext(self.0, self.1) };
        }
    }
    let (mut user, mut context) = (pg_sys::Oid::INVALID, 0i32);
    // SAFETY: out-parameters are locals; same user, one flag cleared.
    let _restore = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(user, context & !(pg_sys::SECURITY_RESTRICTED_OPERATION as i32));
        Restore(user, context)
    };
    f()
}

/// The role the current statement runs as (`current_user`).
pub fn current_user() -> pg_sys::Oid {
    // SAFETY: plain read of backend state.
    unsafe { pg_sys::GetUserId() }
}

/// Whether `role` is a superuser.
pub fn is_superuser(role: pg_sys::Oid) -> bool {
    // SAFETY: syscache lookup on the backend thread.
    unsafe { pg_sys::superuser_arg(role) }
}

/// Whether `member` has the privileges of `role` (membership with INHERIT, or
/// superuser): the test Postgres uses for ownership.
pub fn has_privs_of_role(member: pg_sys::Oid, role: pg_sys::Oid) -> bool {
    // SAFETY: syscache lookups on the backend thread.
    unsafe { pg_sys::has_privs_of_role(member, role) }
}

/// The owner of relation `rel`, if it exists.
pub fn relation_owner(rel: pg_sys::Oid) -> Option<pg_sys::Oid> {
    // SAFETY: syscache lookup; the tuple is released before returning.
    unsafe {
        let tuple = pg_sys::SearchSysCache1(pg_sys::SysCacheIdentifier::RELOID as i32, pg_sys::Datum::from(rel));
        if tuple.is_null() {
            return None;
        }
        let form = pg_sys::GETSTRUCT(tuple) as *const pg_sys::FormData_pg_class;
        let owner = (*form).relowner;
        pg_sys::ReleaseSysCache(tuple);
        Some(owner)
    }
}

/// The oid of role `name`, if it exists.
pub fn role_oid(name: &std::ffi::CStr) -> Option<pg_sys::Oid> {
    // SAFETY: syscache lookup with missing_ok.
    let oid = unsafe { pg_sys::get_role_oid(name.as_ptr(), true) };
    (oid != pg_sys::Oid::INVALID).then_some(oid)
}

/// Whether the current user may SELECT from relation `rel` (as a whole).
pub fn can_select(rel: pg_sys::Oid) -> bool {
    // SAFETY: catalog lookup on the backend thread.
    unsafe {
        pg_sys::pg_class_aclcheck(rel, pg_sys::GetUserId(), pg_sys::ACL_SELECT as pg_sys::AclMode)
            == pg_sys::AclResult::ACLCHECK_OK
    }
}
