//! Read-only SPI statements planned once per backend. The catalog lookups
//! every Iceberg scan makes (the extension's owner, the table's metadata
//! file and owner record, whether its schema is governed) cost more to parse
//! and plan than to run; Postgres' plan cache keeps the plans valid when the
//! tables, the search path or the role change.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::{PgBuiltInOids, PgOid};
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiResult, SpiTupleTable};

thread_local! {
    /// Kept plans by statement text (only `'static` texts: a bounded set).
    static KEPT: RefCell<HashMap<&'static str, Rc<OwnedPreparedStatement>>> = RefCell::new(HashMap::new());
}

/// Runs read-only `query`, whose parameters are all `text`, through its kept plan.
pub fn select_text_args<'conn>(
    client: &SpiClient<'conn>,
    query: &'static str,
    limit: Option<i64>,
    args: &[&str],
) -> SpiResult<SpiTupleTable<'conn>> {
    let plan = match KEPT.with(|k| k.borrow().get(query).cloned()) {
        Some(plan) => plan,
        None => {
            let types = vec![PgOid::BuiltIn(PgBuiltInOids::TEXTOID); args.len()];
            let plan = Rc::new(client.prepare(query, &types)?.keep());
            KEPT.with(|k| k.borrow_mut().insert(query, plan.clone()));
            plan
        }
    };
    let args: Vec<DatumWithOid> = args.iter().map(|a| (*a).into()).collect();
    client.select(&*plan, limit, &args)
}
