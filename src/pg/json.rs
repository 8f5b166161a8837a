//! A `jsonb` argument read into a `serde_json::Value` that refuses what
//! serde_json cannot hold (nesting deeper than its recursion limit) with a
//! clear ERROR. pgrx's own `JsonB` panics there, which surfaces as an
//! internal error (XX000) with library wording.

use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable,
};
use pgrx::{FromDatum, PgSqlErrorCode};

/// A function argument declared `jsonb` in SQL.
#[derive(Debug, Clone)]
pub struct JsonArg(pub serde_json::Value);

impl FromDatum for JsonArg {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<JsonArg> {
        if is_null {
            return None;
        }
        // SAFETY: `datum` is a jsonb value (the SQL signature says so);
        // jsonb_out detoasts it and returns a palloc'd C string.
        let text = unsafe {
            let out = pgrx::direct_function_call::<&core::ffi::CStr>(pg_sys::jsonb_out, &[Some(datum)])
                .expect("jsonb_out returns text for a non-NULL jsonb");
            let owned = out.to_string_lossy().into_owned();
            pg_sys::pfree(out.as_ptr() as *mut core::ffi::c_void);
            owned
        };
        match serde_json::from_str(&text) {
            Ok(value) => Some(JsonArg(value)),
            Err(e) => {
                let reason = e.to_string();
                let reason = reason.split(" at line").next().unwrap_or_default();
                pgrx::pg_sys::panic::ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                    format!("jsonb argument cannot be read: {reason}"),
                    "townlake",
                )
                .set_hint("Arrays and objects may nest at most 127 levels deep here.")
                .report(pgrx::PgLogLevel::ERROR);
                unreachable!("ERROR returned")
            }
        }
    }
}

// SAFETY: the SQL type is jsonb, whose datums `from_polymorphic_datum` reads.
unsafe impl SqlTranslatable for JsonArg {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(JsonArg);
    const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
        pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("jsonb"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
}

// SAFETY: read through `FromDatum` above, as pgrx reads its own `JsonB`.
unsafe impl<'fcx> pgrx::callconv::ArgAbi<'fcx> for JsonArg {
    unsafe fn unbox_arg_unchecked(arg: pgrx::callconv::Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the argument's datum is a jsonb (see SqlTranslatable).
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| panic!("argument {index} must not be null"))
    }

    unsafe fn unbox_nullable_arg(arg: pgrx::callconv::Arg<'_, 'fcx>) -> pgrx::nullable::Nullable<Self> {
        // SAFETY: as above.
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}
