//! INSERT / UPDATE / DELETE through a foreign table: the executor state of
//! one modified relation, the row identity UPDATE and DELETE use (a ctid
//! naming a unit of the source, plus the whole old row), and rows handed to
//! the wrapper as plain values.

use pgrx::pg_sys;

use crate::pg::nodes;

/// The statement kinds Postgres hands to a wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModifyOp {
    Insert,
    Update,
    Delete,
    /// MERGE, or anything newer.
    Other,
}

impl ModifyOp {
    pub fn of(cmd: pg_sys::CmdType::Type) -> ModifyOp {
        match cmd {
            pg_sys::CmdType::CMD_INSERT => ModifyOp::Insert,
            pg_sys::CmdType::CMD_UPDATE => ModifyOp::Update,
            pg_sys::CmdType::CMD_DELETE => ModifyOp::Delete,
            _ => ModifyOp::Other,
        }
    }
}

/// An attribute of the modified relation's tuple descriptor.
#[derive(Debug, Clone, Copy)]
pub struct AttrDesc {
    pub dropped: bool,
    pub type_oid: pg_sys::Oid,
    pub typmod: i32,
}

/// The attributes of a tuple descriptor.
///
/// # Safety
/// `tupdesc` is a valid tuple descriptor.
pub unsafe fn attrs_of(tupdesc: pg_sys::TupleDesc) -> Vec<AttrDesc> {
    // SAFETY: attrs holds natts entries.
    unsafe {
        (0..(*tupdesc).natts as usize)
            .map(|i| {
                let att = crate::pg::compat::tuple_desc_attr(tupdesc, i);
                AttrDesc { dropped: (*att).attisdropped, type_oid: (*att).atttypid, typmod: (*att).atttypmod }
            })
            .collect()
    }
}

/// One row's values, one per attribute of the relation (dropped ones
/// included, as NULL). The datums live in executor memory for the call.
pub struct Row<'a> {
    pub values: &'a [pg_sys::Datum],
    pub nulls: &'a [bool],
}

/// A row UPDATE or DELETE replaces: the source unit its identity names, and
/// its old values.
pub struct OldRow {
    /// The unit (e.g. data file) ordinal in the ctid's block number.
    pub unit: u32,
    pub values: Vec<pg_sys::Datum>,
    pub nulls: Vec<bool>,
}

/// What begin_foreign_modify tells the wrapper.
pub struct ModifyTarget {
    pub relid: pg_sys::Oid,
    pub op: ModifyOp,
    pub attrs: Vec<AttrDesc>,
    /// The rows come from COPY FROM (not an INSERT statement).
    pub copy: bool,
}

/// The junk columns of an UPDATE/DELETE plan carrying row identity.
#[derive(Clone, Copy)]
pub(crate) struct IdentityColumns {
    pub ctid: i16,
    pub wholerow: i16,
}

/// Add the row-identity columns (ctid, wholerow) to an UPDATE/DELETE.
///
/// # Safety
/// Arguments of AddForeignUpdateTargets.
pub unsafe fn add_row_identity(root: *mut pg_sys::PlannerInfo, rtindex: pg_sys::Index, target_rte: *mut pg_sys::RangeTblEntry) {
    // SAFETY: makeVar / makeWholeRowVar allocate in the planner's context.
    unsafe {
        let ctid = pg_sys::makeVar(
            rtindex as i32,
            pg_sys::SelfItemPointerAttributeNumber as i16,
            pg_sys::TIDOID,
            -1,
            pg_sys::Oid::INVALID,
            0,
        );
        pg_sys::add_row_identity_var(root, ctid, rtindex, c"ctid".as_ptr());
        let wholerow = pg_sys::makeWholeRowVar(target_rte, rtindex as i32, 0, false);
        pg_sys::add_row_identity_var(root, wholerow, rtindex, c"wholerow".as_ptr());
    }
}

/// Where the identity columns are in the subplan's output.
///
/// # Safety
/// `mtstate` is the ModifyTableState of an UPDATE or DELETE.
pub(crate) unsafe fn identity_columns(mtstate: *mut pg_sys::ModifyTableState) -> IdentityColumns {
    // SAFETY: the subplan's target list is a List of TargetEntry.
    unsafe {
        let subplan = (*(*mtstate).ps.lefttree).plan;
        IdentityColumns {
            ctid: pg_sys::ExecFindJunkAttributeInTlist((*subplan).targetlist, c"ctid".as_ptr()),
            wholerow: pg_sys::ExecFindJunkAttributeInTlist((*subplan).targetlist, c"wholerow".as_ptr()),
        }
    }
}

/// The old row an UPDATE/DELETE plan slot identifies; an error when the
/// identity columns are NULL (never for rows the scan produced).
///
/// # Safety
/// `plan_slot` is the subplan's slot; `tupdesc` the relation's descriptor.
pub(crate) unsafe fn old_row(
    plan_slot: *mut pg_sys::TupleTableSlot,
    ids: IdentityColumns,
    tupdesc: pg_sys::TupleDesc,
) -> Result<OldRow, &'static str> {
    // SAFETY: the identity columns hold a tid and a composite of the
    // relation's row type; heap_deform_tuple fills natts entries.
    unsafe {
        let mut is_null = false;
        let ctid = pg_sys::slot_getattr(plan_slot, ids.ctid as i32, &mut is_null);
        if is_null {
            return Err("row to modify has no identity");
        }
        let unit = unit_of_ctid(ctid);
        let whole = pg_sys::slot_getattr(plan_slot, ids.wholerow as i32, &mut is_null);
        if is_null {
            return Err("row to modify has no values");
        }
        let header = pg_sys::pg_detoast_datum(whole.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
        tuple.t_len = pgrx::varlena::varsize_any(header as *const pg_sys::varlena) as u32;
        tuple.t_data = header;
        let natts = (*tupdesc).natts as usize;
        let mut values = vec![pg_sys::Datum::from(0usize); natts];
        let mut nulls = vec![true; natts];
        pg_sys::heap_deform_tuple(&mut tuple, tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
        Ok(OldRow { unit, values, nulls })
    }
}

/// The unit ordinal stored in a ctid datum.
///
/// # Safety
/// `datum` is a non-null tid datum.
unsafe fn unit_of_ctid(datum: pg_sys::Datum) -> u32 {
    // SAFETY: as the caller vouches.
    unsafe {
        let tid = datum.cast_mut_ptr::<pg_sys::ItemPointerData>();
        ((*tid).ip_blkid.bi_hi as u32) << 16 | (*tid).ip_blkid.bi_lo as u32
    }
}

/// Put `row` into `slot` as a virtual tuple (DELETE … RETURNING).
///
/// # Safety
/// `slot` is a slot of the relation's descriptor.
pub(crate) unsafe fn store_old_row(slot: *mut pg_sys::TupleTableSlot, row: &OldRow) {
    // SAFETY: the slot has natts value/null entries.
    unsafe {
        pg_sys::ExecClearTuple(slot);
        let n = (*(*slot).tts_tupleDescriptor).natts as usize;
        for i in 0..n.min(row.values.len()) {
            *(*slot).tts_values.add(i) = row.values[i];
            *(*slot).tts_isnull.add(i) = row.nulls[i];
        }
        pg_sys::ExecStoreVirtualTuple(slot);
    }
}

/// The slot's values, all attributes deformed.
///
/// # Safety
/// `slot` holds a tuple; the returned slices live as long as it does.
pub(crate) unsafe fn row_of<'a>(slot: *mut pg_sys::TupleTableSlot) -> Row<'a> {
    // SAFETY: after slot_getallattrs, tts_values/isnull hold natts entries.
    unsafe {
        pg_sys::slot_getallattrs(slot);
        let n = (*(*slot).tts_tupleDescriptor).natts as usize;
        Row {
            values: std::slice::from_raw_parts((*slot).tts_values, n),
            nulls: std::slice::from_raw_parts((*slot).tts_isnull, n),
        }
    }
}

/// The relations of a TRUNCATE.
///
/// # Safety
/// `rels` is ExecForeignTruncate's List of Relation.
pub(crate) unsafe fn truncated_relations(rels: *mut pg_sys::List) -> Vec<pg_sys::Oid> {
    // SAFETY: a List of RelationData pointers.
    unsafe { nodes::ptrs::<pg_sys::RelationData>(rels).into_iter().map(|r| (*r).rd_id).collect() }
}
