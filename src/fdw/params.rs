//! Parameters and stable expressions of pushed clauses: the planner keeps
//! each operand as an expression in the plan (`fdw_exprs`); the executor
//! evaluates them once when a scan (re)starts, so `$1`, `now()` or a
//! subquery's value is pushed as a plain [`Value`].

use pgrx::pg_sys;
use pgrx::FromDatum;

use super::clauses::SlotType;
use super::filter::Value;
use crate::errors::{LakeError, LakeResult};
use crate::pg::nodes;
use crate::pg::time::{pg_date_to_unix_days, pg_micros_to_unix_micros};
use crate::pg::types::Builtin;

/// The operand expressions of one scan, initialised for execution.
pub struct Operands {
    states: Vec<*mut pg_sys::ExprState>,
    types: Vec<SlotType>,
    constant: bool,
}

impl Operands {
    /// Initialise `exprs` (a plan's `fdw_exprs`) under `parent`.
    ///
    /// # Safety
    /// `exprs` is the List the planner stored; `parent` is the scan's PlanState.
    pub unsafe fn init(
        exprs: *mut pg_sys::List,
        parent: *mut pg_sys::PlanState,
        types: Vec<SlotType>,
        constant: bool,
    ) -> Operands {
        // SAFETY: ExecInitExprList returns a List of ExprState in executor memory.
        let states = unsafe { nodes::ptrs::<pg_sys::ExprState>(pg_sys::ExecInitExprList(exprs, parent)) };
        Operands { states, types, constant }
    }

    /// No operands (a scan without a pushed filter, e.g. ANALYZE's sample).
    pub fn none() -> Operands {
        Operands { states: Vec::new(), types: Vec::new(), constant: true }
    }

    /// Every operand is a plain constant: their values are known before
    /// execution (EXPLAIN can plan with them).
    pub fn all_constant(&self) -> bool {
        self.constant
    }

    /// Evaluate every operand once; None when a value cannot be represented
    /// (a wrapper then pushes no filter at all).
    ///
    /// # Safety
    /// `econtext` is the scan's expression context.
    pub(crate) unsafe fn evaluate(&self, econtext: *mut pg_sys::ExprContext) -> LakeResult<Option<Vec<Value>>> {
        // SAFETY: as the caller promises.
        unsafe { self.evaluate_as(econtext, Infinities::Unpushed) }
    }

    /// [`Operands::evaluate`], with infinite operands as values beyond
    /// every finite one (see [`Infinities::Beyond`]).
    ///
    /// # Safety
    /// `econtext` is the scan's expression context.
    pub(crate) unsafe fn evaluate_beyond(&self, econtext: *mut pg_sys::ExprContext) -> LakeResult<Option<Vec<Value>>> {
        // SAFETY: as the caller promises.
        unsafe { self.evaluate_as(econtext, Infinities::Beyond) }
    }

    unsafe fn evaluate_as(&self, econtext: *mut pg_sys::ExprContext, infinities: Infinities) -> LakeResult<Option<Vec<Value>>> {
        let mut out = Vec::with_capacity(self.states.len());
        for (state, ty) in self.states.iter().zip(&self.types) {
            let mut is_null = false;
            // SAFETY: the ExprStates were initialised for this scan; evalfunc
            // is set by ExecInitExpr.
            let datum = unsafe {
                let eval = (**state).evalfunc.ok_or_else(|| LakeError::internal("operand has no evaluator"))?;
                eval(*state, econtext, &mut is_null)
            };
            // SAFETY: the datum is of the slot's type, as the planner recorded.
            let value = if is_null { Some(Value::Null) } else { unsafe { datum_to_value_as(datum, *ty, infinities) } };
            match value {
                Some(v) => out.push(v),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }
}

/// What an operand that is infinite (or a numeric NaN) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Infinities {
    /// No value: the scan pushes no filter (the Iceberg scan: its
    /// engines have no infinity to compare with).
    Unpushed,
    /// A value beyond every finite value of its type, which compares with
    /// every value a remote column can hold exactly as Postgres' infinity
    /// does (ClickHouse: its dates, times and decimals are all finite):
    /// `infinity` is the largest date (`i32::MAX` days) or timestamp
    /// (`i64::MAX` µs), `-infinity` the smallest; a numeric `NaN` (above
    /// every number in Postgres, equal only to NaN, which no remote column
    /// holds) and `Infinity` are a 40-digit number, `-Infinity` its negative.
    Beyond,
}

/// A pushed operand's datum as a filter value; None when it cannot be used.
///
/// # Safety
/// `datum` is a non-NULL datum of type `ty` (an array of it when `is_array`).
pub unsafe fn datum_to_value(datum: pg_sys::Datum, ty: SlotType) -> Option<Value> {
    // SAFETY: as the caller promises.
    unsafe { datum_to_value_as(datum, ty, Infinities::Unpushed) }
}

/// A numeric's text when it is NaN or infinite, under [`Infinities::Beyond`].
fn numeric_beyond(text: &str) -> Option<String> {
    let beyond = "9".repeat(40);
    match text {
        "NaN" | "Infinity" => Some(beyond),
        "-Infinity" => Some(format!("-{beyond}")),
        _ => None,
    }
}

unsafe fn datum_to_value_as(datum: pg_sys::Datum, ty: SlotType, infinities: Infinities) -> Option<Value> {
    let beyond = infinities == Infinities::Beyond;
    if ty.is_array {
        // SAFETY: an array datum of element type `ty.type_oid`.
        return unsafe {
            let arr = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
            let elem = pg_sys::Oid::from(ty.type_oid);
            let (mut len, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
            pg_sys::get_typlenbyvalalign(elem, &mut len, &mut byval, &mut align);
            let mut values: *mut pg_sys::Datum = std::ptr::null_mut();
            let mut nulls: *mut bool = std::ptr::null_mut();
            let mut n = 0;
            pg_sys::deconstruct_array(arr, elem, len as i32, byval, align, &mut values, &mut nulls, &mut n);
            let mut out = Vec::with_capacity(n as usize);
            for i in 0..n as usize {
                if *nulls.add(i) {
                    out.push(Value::Null);
                } else {
                    out.push(datum_to_value_as(*values.add(i), SlotType { type_oid: ty.type_oid, is_array: false }, infinities)?);
                }
            }
            Some(Value::Array(out))
        };
    }
    // SAFETY: each arm reads the datum as its type's representation.
    unsafe {
        match Builtin::from_u32(ty.type_oid)? {
            Builtin::Bool => Some(Value::Bool(bool::from_datum(datum, false)?)),
            Builtin::Int2 => Some(Value::Int(i16::from_datum(datum, false)? as i64)),
            Builtin::Int4 => Some(Value::Int(i32::from_datum(datum, false)? as i64)),
            Builtin::Int8 => Some(Value::Int(i64::from_datum(datum, false)?)),
            Builtin::Text | Builtin::Varchar => Some(Value::Text(String::from_datum(datum, false)?)),
            Builtin::Numeric => {
                let s = pgrx::AnyNumeric::from_datum(datum, false)?.to_string();
                if s.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-') {
                    Some(Value::Numeric(s))
                } else {
                    // NaN and infinities: pushed only as values beyond all.
                    numeric_beyond(&s).filter(|_| beyond).map(Value::Numeric)
                }
            }
            Builtin::Date => {
                let days = datum.value() as i32;
                match pg_date_to_unix_days(days) {
                    Some(d) => Some(Value::Date(d)),
                    None if beyond && (days == i32::MIN || days == i32::MAX) => Some(Value::Date(days)),
                    None => None,
                }
            }
            Builtin::Time => Some(Value::Time(datum.value() as i64)),
            b @ (Builtin::Timestamp | Builtin::TimestampTz) => {
                let micros = datum.value() as i64;
                let unix = match pg_micros_to_unix_micros(micros) {
                    Some(us) => us,
                    None if beyond && (micros == i64::MIN || micros == i64::MAX) => micros,
                    None => return None,
                };
                Some(if b == Builtin::Timestamp { Value::Timestamp(unix) } else { Value::TimestampTz(unix) })
            }
            Builtin::Uuid => {
                let p = datum.cast_mut_ptr::<u8>();
                let mut b = [0u8; 16];
                std::ptr::copy_nonoverlapping(p, b.as_mut_ptr(), 16);
                Some(Value::Uuid(b))
            }
            Builtin::Float4 | Builtin::Float8 | Builtin::Bytea | Builtin::Json | Builtin::Jsonb => None,
        }
    }
}
