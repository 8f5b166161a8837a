//! Reading and validating FDW option lists (`List *` of `DefElem`).

use std::collections::BTreeMap;
use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;

use crate::errors::{LakeError, LakeResult};
use crate::pg::nodes;

/// Collect a `List *` of `DefElem` into name → value.
///
/// # Safety
/// `list` must be NIL or a valid List of DefElem nodes.
pub unsafe fn options_to_map(list: *mut pg_sys::List) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    // SAFETY: as the caller vouches; defGetString returns a string for any
    // DefElem argument.
    unsafe {
        for def in nodes::ptrs::<pg_sys::DefElem>(list) {
            if def.is_null() || (*def).defname.is_null() {
                continue;
            }
            let name = CStr::from_ptr((*def).defname).to_string_lossy().into_owned();
            let value = CStr::from_ptr(pg_sys::defGetString(def)).to_string_lossy().into_owned();
            out.insert(name, value);
        }
    }
    out
}

/// The kind of object an option list belongs to (the validator's `catalog` oid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionTarget {
    Wrapper,
    Server,
    UserMapping,
    ForeignTable,
    Column,
}

impl OptionTarget {
    pub fn from_catalog(oid: pg_sys::Oid) -> Option<OptionTarget> {
        match oid {
            pg_sys::ForeignDataWrapperRelationId => Some(OptionTarget::Wrapper),
            pg_sys::ForeignServerRelationId => Some(OptionTarget::Server),
            pg_sys::UserMappingRelationId => Some(OptionTarget::UserMapping),
            pg_sys::ForeignTableRelationId => Some(OptionTarget::ForeignTable),
            pg_sys::AttributeRelationId => Some(OptionTarget::Column),
            _ => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            OptionTarget::Wrapper => "foreign-data wrapper",
            OptionTarget::Server => "server",
            OptionTarget::UserMapping => "user mapping",
            OptionTarget::ForeignTable => "foreign table",
            OptionTarget::Column => "column",
        }
    }
}

/// Reject option names outside `valid`, naming the valid ones.
pub fn check_names(
    given: &BTreeMap<String, String>,
    valid: &[&str],
    target: OptionTarget,
    wrapper: &str,
) -> LakeResult<()> {
    for name in given.keys() {
        if !valid.contains(&name.as_str()) {
            let hint = if valid.is_empty() {
                format!("The {wrapper} {} takes no options.", target.describe())
            } else {
                format!("Valid options for an {wrapper} {} are: {}.", target.describe(), valid.join(", "))
            };
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_OPTION_NAME,
                format!("invalid option \"{name}\" for an {wrapper} {}", target.describe()),
            )
            .with_hint(hint));
        }
    }
    Ok(())
}
