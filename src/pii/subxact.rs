//! Runs a closure in an internal subtransaction so that one relation's ERROR
//! (a lock timeout, a broken foreign server, a permission problem) is
//! recorded and the scan moves on, as PL/pgSQL's EXCEPTION blocks do.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::PgSqlErrorCode;
use pgrx::PgTryBuilder;

/// An ERROR caught inside the subtransaction, already rolled back.
#[derive(Debug, Clone)]
pub struct CaughtFailure {
    pub message: String,
    pub code: PgSqlErrorCode,
}

/// Runs `f` in a subtransaction. An ERROR inside rolls the subtransaction
/// back and comes back as `Err`. With `rethrow_cancel`, query cancellation is
/// re-raised: a user's cancel or statement_timeout must stop the statement.
pub fn run<T>(rethrow_cancel: bool, f: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, CaughtFailure> {
    // SAFETY (this block and the ones below): the PL/pgSQL exception-block
    // sequence: remember the memory context and resource owner, begin an
    // internal subtransaction, and on the way out release or roll it back and
    // restore both. Called on the backend's main thread inside a transaction.
    let (context, owner) = unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        (context, owner)
    };
    // The caught error is boxed: it is large, and only the failure path carries it.
    let outcome = PgTryBuilder::new(move || Ok(f()))
        .catch_others(|caught| {
            let (message, code) = match &caught {
                CaughtError::PostgresError(e) | CaughtError::ErrorReport(e) => {
                    (e.message().to_string(), e.sql_error_code())
                }
                CaughtError::RustPanic { ereport, .. } => (ereport.message().to_string(), ereport.sql_error_code()),
            };
            Err(Box::new((CaughtFailure { message, code }, caught)))
        })
        .execute();
    match outcome {
        Ok(value) => {
            // SAFETY: as above: release the subtransaction begun there,
            // then restore the caller's context and owner.
            unsafe {
                pg_sys::ReleaseCurrentSubTransaction();
                pg_sys::MemoryContextSwitchTo(context);
                pg_sys::CurrentResourceOwner = owner;
            }
            Ok(value)
        }
        Err(boxed) => {
            let (failure, caught) = *boxed;
            // SAFETY: as above: roll back the subtransaction begun there
            // (from its own context), then restore the caller's context and owner.
            unsafe {
                pg_sys::MemoryContextSwitchTo(context);
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
                pg_sys::MemoryContextSwitchTo(context);
                pg_sys::CurrentResourceOwner = owner;
            }
            if rethrow_cancel && failure.code == PgSqlErrorCode::ERRCODE_QUERY_CANCELED {
                caught.rethrow();
            }
            Err(failure)
        }
    }
}
