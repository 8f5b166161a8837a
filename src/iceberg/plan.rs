//! Planning an Iceberg foreign scan: which columns are read, and which WHERE
//! clauses become an Iceberg filter. The translation only ever produces a
//! filter that keeps at least the rows the clauses keep; every clause is still
//! checked by Postgres.

use std::ffi::CStr;

use pgrx::pg_sys;
use serde::{Deserialize, Serialize};

use super::predicate::{CmpOp, Filter};

/// A column of the foreign table and the Iceberg field it reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanColumn {
    pub attnum: i16,
    pub attname: String,
    pub field_id: i32,
    pub type_oid: u32,
    pub typmod: i32,
}

/// Everything the executor needs, stored in the plan (survives plan caching).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanPlan {
    pub relid: u32,
    pub columns: Vec<PlanColumn>,
    /// Indexes into `columns` of the columns the query uses.
    pub needed: Vec<usize>,
    pub filter: Option<Filter>,
    /// Type of each operand in `fdw_exprs`; for arrays, the element type.
    pub slot_types: Vec<SlotType>,
    /// Every operand is a plain constant (EXPLAIN can plan files without executing).
    pub constant_operands: bool,
    /// This scan feeds an UPDATE or DELETE of the table: it reads every
    /// column and gives each row an identity (ctid) naming its data file.
    #[serde(default)]
    pub row_identity: bool,
    /// Rows the query can use at most, when the LIMIT may be pushed (one
    /// relation, no ORDER BY/grouping, every clause translated).
    #[serde(default)]
    pub limit: Option<u64>,
    /// The Iceberg table's name at plan time, for EXPLAIN.
    #[serde(default)]
    pub table_name: String,
    /// The role whose user mapping the scan uses (the view owner when read
    /// through a view); 0 for the current user.
    #[serde(default)]
    pub mapping_user: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SlotType {
    pub type_oid: u32,
    pub is_array: bool,
}

/// Collects operand expressions while translating clauses.
pub struct Translator {
    varno: u32,
    /// attnum → index into the plan's columns.
    columns: Vec<(i16, usize, u32)>,
    pub operands: Vec<*mut pg_sys::Node>,
    pub slot_types: Vec<SlotType>,
    pub constant_operands: bool,
}

const BOOL: u32 = 16;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const TEXT: u32 = 25;
const VARCHAR: u32 = 1043;
const DATE: u32 = 1082;
const TIME: u32 = 1083;
const TIMESTAMP: u32 = 1114;
const TIMESTAMPTZ: u32 = 1184;
const NUMERIC: u32 = 1700;
const UUID: u32 = 2950;

/// Types whose Postgres comparison agrees with Iceberg's, and which operand
/// types may be compared with them.
fn comparable(column_type: u32, operand_type: u32) -> bool {
    let family = |t: u32| match t {
        INT2 | INT4 | INT8 | NUMERIC => Some(1),
        TEXT | VARCHAR => Some(2),
        BOOL => Some(3),
        DATE => Some(4),
        TIME => Some(5),
        TIMESTAMP => Some(6),
        TIMESTAMPTZ => Some(7),
        UUID => Some(8),
        _ => None,
    };
    matches!((family(column_type), family(operand_type)), (Some(a), Some(b)) if a == b)
}

unsafe fn is_a(node: *mut pg_sys::Node, tag: pg_sys::NodeTag) -> bool {
    !node.is_null() && (*node).type_ == tag
}

unsafe fn strip_relabel(mut node: *mut pg_sys::Node) -> *mut pg_sys::Node {
    while is_a(node, pg_sys::NodeTag::T_RelabelType) {
        node = (*(node as *mut pg_sys::RelabelType)).arg as *mut pg_sys::Node;
    }
    node
}

unsafe fn list_nodes(list: *mut pg_sys::List) -> Vec<*mut pg_sys::Node> {
    let mut out = Vec::new();
    if list.is_null() {
        return out;
    }
    for i in 0..(*list).length {
        out.push((*(*list).elements.add(i as usize)).ptr_value as *mut pg_sys::Node);
    }
    out
}

impl Translator {
    pub fn new(varno: u32, columns: &[PlanColumn]) -> Translator {
        Translator {
            varno,
            columns: columns.iter().enumerate().map(|(i, c)| (c.attnum, i, c.type_oid)).collect(),
            operands: Vec::new(),
            slot_types: Vec::new(),
            constant_operands: true,
        }
    }

    /// The plan column a Var of this relation refers to, with its type.
    unsafe fn column_of(&self, node: *mut pg_sys::Node) -> Option<(usize, u32)> {
        let node = strip_relabel(node);
        if !is_a(node, pg_sys::NodeTag::T_Var) {
            return None;
        }
        let var = node as *mut pg_sys::Var;
        if (*var).varno as u32 != self.varno || (*var).varlevelsup != 0 || (*var).varattno <= 0 {
            return None;
        }
        self.columns
            .iter()
            .find(|(attnum, _, _)| *attnum == (*var).varattno)
            .map(|(_, idx, ty)| (*idx, *ty))
    }

    /// Accept an operand that can be evaluated once when the scan starts:
    /// no Vars, nothing volatile.
    unsafe fn operand(&mut self, node: *mut pg_sys::Node, is_array: bool) -> Option<usize> {
        if pg_sys::contain_var_clause(node) || pg_sys::contain_volatile_functions(node) {
            return None;
        }
        let mut ty = pg_sys::exprType(node).to_u32();
        if is_array {
            ty = pg_sys::get_element_type(pg_sys::Oid::from(ty)).to_u32();
            if ty == 0 {
                return None;
            }
        }
        if !is_a(strip_relabel(node), pg_sys::NodeTag::T_Const) {
            self.constant_operands = false;
        }
        self.operands.push(node);
        self.slot_types.push(SlotType { type_oid: ty, is_array });
        Some(self.operands.len() - 1)
    }

    /// Translate one clause; `None` when it cannot be pushed.
    pub unsafe fn translate(&mut self, node: *mut pg_sys::Node) -> Option<Filter> {
        if node.is_null() {
            return None;
        }
        match (*node).type_ {
            pg_sys::NodeTag::T_BoolExpr => {
                let b = node as *mut pg_sys::BoolExpr;
                let args = list_nodes((*b).args);
                match (*b).boolop {
                    pg_sys::BoolExprType::AND_EXPR => {
                        let parts: Vec<Filter> = args.into_iter().filter_map(|a| self.translate(a)).collect();
                        if parts.is_empty() {
                            None
                        } else {
                            Some(Filter::And(parts))
                        }
                    }
                    pg_sys::BoolExprType::OR_EXPR => {
                        let mut parts = Vec::new();
                        for a in args {
                            parts.push(self.translate(a)?);
                        }
                        Some(Filter::Or(parts))
                    }
                    _ => {
                        let inner = *args.first()?;
                        if let Some((col, ty)) = self.column_of(inner) {
                            return (ty == BOOL).then_some(Filter::BoolColumn { column: col, value: false });
                        }
                        match self.translate(inner)? {
                            leaf @ (Filter::Cmp { .. }
                            | Filter::InList { .. }
                            | Filter::IsNull { .. }
                            | Filter::Like { .. }) => Some(Filter::Not(Box::new(leaf))),
                            _ => None,
                        }
                    }
                }
            }
            pg_sys::NodeTag::T_OpExpr => self.translate_op(node as *mut pg_sys::OpExpr),
            pg_sys::NodeTag::T_ScalarArrayOpExpr => {
                let sa = node as *mut pg_sys::ScalarArrayOpExpr;
                let args = list_nodes((*sa).args);
                if args.len() != 2 {
                    return None;
                }
                let (col, col_ty) = self.column_of(args[0])?;
                let strategy = btree_strategy((*sa).opno)?;
                let negated = match (strategy, (*sa).useOr) {
                    (CmpOp::Eq, true) => false,
                    (CmpOp::NotEq, false) => true,
                    _ => return None,
                };
                let elem_ty = pg_sys::get_element_type(pg_sys::exprType(args[1])).to_u32();
                if !comparable(col_ty, elem_ty) {
                    return None;
                }
                let slot = self.operand(args[1], true)?;
                Some(Filter::InList { column: col, slot, negated })
            }
            pg_sys::NodeTag::T_NullTest => {
                let nt = node as *mut pg_sys::NullTest;
                if (*nt).argisrow {
                    return None;
                }
                let (col, _) = self.column_of((*nt).arg as *mut pg_sys::Node)?;
                Some(Filter::IsNull { column: col, negated: (*nt).nulltesttype == pg_sys::NullTestType::IS_NOT_NULL })
            }
            pg_sys::NodeTag::T_Var => {
                let (col, ty) = self.column_of(node)?;
                (ty == BOOL).then_some(Filter::BoolColumn { column: col, value: true })
            }
            _ => None,
        }
    }

    unsafe fn translate_op(&mut self, op: *mut pg_sys::OpExpr) -> Option<Filter> {
        let args = list_nodes((*op).args);
        if args.len() != 2 {
            return None;
        }
        let (col, col_ty, other, var_on_left) = match (self.column_of(args[0]), self.column_of(args[1])) {
            (Some((c, t)), None) => (c, t, args[1], true),
            (None, Some((c, t))) => (c, t, args[0], false),
            _ => return None,
        };
        let other_ty = pg_sys::exprType(other).to_u32();
        let name = CStr::from_ptr(pg_sys::get_opname((*op).opno)).to_string_lossy().into_owned();
        if name == "~~" {
            // LIKE: only `column LIKE pattern` on text.
            if !var_on_left || !matches!(col_ty, TEXT | VARCHAR) || !matches!(other_ty, TEXT | VARCHAR) {
                return None;
            }
            let slot = self.operand(other, false)?;
            return Some(Filter::Like { column: col, slot });
        }
        let mut cmp = btree_strategy((*op).opno)?;
        if !comparable(col_ty, other_ty) {
            return None;
        }
        if !var_on_left {
            cmp = cmp.commute();
        }
        let is_range = !matches!(cmp, CmpOp::Eq | CmpOp::NotEq);
        if is_range && matches!(col_ty, TEXT | VARCHAR) {
            // Iceberg orders strings by bytes: only C/POSIX collations agree.
            let coll = (*op).inputcollid;
            if coll != pg_sys::C_COLLATION_OID && coll != pg_sys::POSIX_COLLATION_OID {
                return None;
            }
        }
        let slot = self.operand(other, false)?;
        Some(Filter::Cmp { column: col, op: cmp, slot })
    }
}

/// What a comparison operator means, from its btree operator family, so
/// any spelling of `=`/`<` on supported types is recognised.
unsafe fn btree_strategy(opno: pg_sys::Oid) -> Option<CmpOp> {
    let list = pg_sys::get_op_btree_interpretation(opno);
    let first = list_nodes(list).into_iter().next()? as *mut pg_sys::OpBtreeInterpretation;
    let op = match (*first).strategy {
        1 => CmpOp::Lt,
        2 => CmpOp::LtEq,
        3 => CmpOp::Eq,
        4 => CmpOp::GtEq,
        5 => CmpOp::Gt,
        s if s == pg_sys::RowCompareType::ROWCOMPARE_NE as i32 => CmpOp::NotEq,
        _ => return None,
    };
    Some(op)
}

/// Attribute numbers (1-based) the query reads from the relation: its target
/// list and its restriction clauses. A whole-row reference reads everything.
pub unsafe fn used_attnums(baserel: *mut pg_sys::RelOptInfo, varno: u32) -> Option<Vec<i16>> {
    let mut attrs: *mut pg_sys::Bitmapset = std::ptr::null_mut();
    pg_sys::pull_varattnos((*(*baserel).reltarget).exprs as *mut pg_sys::Node, varno, &mut attrs);
    for ri in list_nodes((*baserel).baserestrictinfo) {
        let clause = (*(ri as *mut pg_sys::RestrictInfo)).clause as *mut pg_sys::Node;
        pg_sys::pull_varattnos(clause, varno, &mut attrs);
    }
    let offset = pg_sys::FirstLowInvalidHeapAttributeNumber;
    let mut out = Vec::new();
    let mut member = -1;
    loop {
        member = pg_sys::bms_next_member(attrs, member);
        if member < 0 {
            break;
        }
        let attnum = member + offset;
        if attnum == 0 {
            return None;
        }
        if attnum > 0 {
            out.push(attnum as i16);
        }
    }
    Some(out)
}

/// The clauses of the relation as plain expressions.
pub unsafe fn restriction_clauses(baserel: *mut pg_sys::RelOptInfo) -> Vec<*mut pg_sys::Node> {
    list_nodes((*baserel).baserestrictinfo)
        .into_iter()
        .map(|ri| (*(ri as *mut pg_sys::RestrictInfo)).clause as *mut pg_sys::Node)
        .collect()
}

pub unsafe fn nodes_of(list: *mut pg_sys::List) -> Vec<*mut pg_sys::Node> {
    list_nodes(list)
}
