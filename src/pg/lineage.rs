//! The shape of an analysed SELECT, for column lineage: Postgres' parser and
//! analyzer resolve every name (tables, views, subqueries, CTEs, join
//! aliases, `*`), and this shim copies out of their Query tree just what
//! says where each output column's values come from. The tree is walked
//! here (pg_sys); following the references to base columns is plain Rust
//! (catalog/lineage.rs) with unit tests.

use std::ffi::{c_void, CStr, CString};

use pgrx::pg_sys;

use super::nodes::{has_tag, nodes, ptrs, strip_relabel};

/// A column reference: range-table entry `varno` (1-based) of the query
/// `levelsup` levels out, column `attno` (0: the whole row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    pub varno: i32,
    pub attno: i16,
    pub levelsup: u32,
}

/// Something an expression reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    Var(VarRef),
    /// A sublink (scalar subquery, EXISTS, IN): its output columns are read.
    Sub(Shape),
}

/// One entry of a query's target list, in resno order (junk ones too: a
/// subquery's column number is the resno).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub junk: bool,
    /// The expression is a plain column reference (type relabelling aside).
    pub plain: Option<VarRef>,
    /// Every column reference and sublink of the expression.
    pub reads: Vec<Read>,
    /// Where the expression starts in the query text (-1: unknown).
    pub location: i32,
}

/// A range-table entry, as far as lineage cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Rte {
    Relation { oid: u32 },
    Subquery(Shape),
    /// A join's (or, in Postgres 18, a GROUP BY's) output columns: each is
    /// one expression over the inputs; `true` when it is a plain reference.
    Alias(Vec<(bool, Vec<Read>)>),
    Cte { name: String, levelsup: u32 },
    /// Table functions and VALUES: every column may read every input.
    Computed(Vec<Read>),
    Other,
}

/// A query level.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Shape {
    pub targets: Vec<Target>,
    pub rtes: Vec<Rte>,
    pub ctes: Vec<(String, Shape)>,
    /// For UNION/INTERSECT/EXCEPT: the range-table indexes of the branches.
    pub set_branches: Option<Vec<i32>>,
}

/// Parses and analyzes `sql` (one SELECT) as the current user with the
/// current search_path and returns its shape; Postgres' own ERROR when it
/// does not parse or names something unknown. None when it is not one
/// SELECT. Like Postgres' analyzer, it checks no privileges and runs nothing
/// but the input functions of typed literals, as the current user.
pub fn analyze(sql: &str) -> Option<Shape> {
    let text = CString::new(sql).ok()?;
    // SAFETY: backend thread inside a transaction; parser and analyzer
    // allocate in the current memory context and raise ERRORs the usual
    // way; the walk only reads the trees they return.
    unsafe {
        let raw = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        let stmts = ptrs::<pg_sys::RawStmt>(raw);
        if stmts.len() != 1 || !has_tag((*stmts[0]).stmt, pg_sys::NodeTag::T_SelectStmt) {
            return None;
        }
        let query = pg_sys::parse_analyze_fixedparams(stmts[0], text.as_ptr(), std::ptr::null_mut(), 0, std::ptr::null_mut());
        if (*query).commandType != pg_sys::CmdType::CMD_SELECT || !(*query).utilityStmt.is_null() {
            return None;
        }
        Some(shape_of(query))
    }
}

unsafe fn shape_of(query: *mut pg_sys::Query) -> Shape {
    let q = &*query;
    let mut shape = Shape::default();
    for cte in ptrs::<pg_sys::CommonTableExpr>(q.cteList) {
        let name = CStr::from_ptr((*cte).ctename).to_string_lossy().into_owned();
        if has_tag((*cte).ctequery, pg_sys::NodeTag::T_Query) {
            shape.ctes.push((name, shape_of((*cte).ctequery as *mut pg_sys::Query)));
        }
    }
    for rte in ptrs::<pg_sys::RangeTblEntry>(q.rtable) {
        shape.rtes.push(rte_of(rte));
    }
    for te in ptrs::<pg_sys::TargetEntry>(q.targetList) {
        let expr = (*te).expr as *mut pg_sys::Node;
        let bare = strip_relabel(expr);
        let plain = if has_tag(bare, pg_sys::NodeTag::T_Var) { Some(var_ref(bare as *mut pg_sys::Var)) } else { None };
        shape.targets.push(Target {
            name: if (*te).resname.is_null() {
                "?column?".into()
            } else {
                CStr::from_ptr((*te).resname).to_string_lossy().into_owned()
            },
            junk: (*te).resjunk,
            plain,
            reads: reads_of(expr),
            location: pg_sys::exprLocation(expr),
        });
    }
    if !q.setOperations.is_null() {
        let mut branches = vec![];
        set_branches(q.setOperations, &mut branches);
        shape.set_branches = Some(branches);
    }
    shape
}

unsafe fn set_branches(node: *mut pg_sys::Node, out: &mut Vec<i32>) {
    if has_tag(node, pg_sys::NodeTag::T_RangeTblRef) {
        out.push((*(node as *mut pg_sys::RangeTblRef)).rtindex);
    } else if has_tag(node, pg_sys::NodeTag::T_SetOperationStmt) {
        let s = node as *mut pg_sys::SetOperationStmt;
        set_branches((*s).larg, out);
        set_branches((*s).rarg, out);
    }
}

unsafe fn var_ref(v: *mut pg_sys::Var) -> VarRef {
    VarRef { varno: (*v).varno, attno: (*v).varattno, levelsup: (*v).varlevelsup }
}

unsafe fn alias_list(list: *mut pg_sys::List) -> Vec<(bool, Vec<Read>)> {
    nodes(list)
        .into_iter()
        .map(|e| (e.is_null() || has_tag(strip_relabel(e), pg_sys::NodeTag::T_Var), reads_of(e)))
        .collect()
}

unsafe fn rte_of(rte: *mut pg_sys::RangeTblEntry) -> Rte {
    let r = &*rte;
    match r.rtekind {
        pg_sys::RTEKind::RTE_RELATION => Rte::Relation { oid: r.relid.to_u32() },
        pg_sys::RTEKind::RTE_SUBQUERY if !r.subquery.is_null() => Rte::Subquery(shape_of(r.subquery)),
        pg_sys::RTEKind::RTE_JOIN => Rte::Alias(alias_list(r.joinaliasvars)),
        // Postgres 18 refers to grouped expressions through an RTE of their own
        #[cfg(not(feature = "pg15"))]
        pg_sys::RTEKind::RTE_GROUP => Rte::Alias(alias_list(r.groupexprs)),
        pg_sys::RTEKind::RTE_CTE => {
            Rte::Cte { name: CStr::from_ptr(r.ctename).to_string_lossy().into_owned(), levelsup: r.ctelevelsup as u32 }
        }
        pg_sys::RTEKind::RTE_FUNCTION => Rte::Computed(reads_of(r.functions as *mut pg_sys::Node)),
        pg_sys::RTEKind::RTE_TABLEFUNC => Rte::Computed(reads_of(r.tablefunc as *mut pg_sys::Node)),
        pg_sys::RTEKind::RTE_VALUES => Rte::Computed(reads_of(r.values_lists as *mut pg_sys::Node)),
        _ => Rte::Other,
    }
}

/// Every Var and sublink in expression `node` (Vars of sublinks stay in
/// their sublink's shape).
unsafe fn reads_of(node: *mut pg_sys::Node) -> Vec<Read> {
    let mut out: Vec<Read> = vec![];
    if !node.is_null() {
        collect(node, &raw mut out as *mut c_void);
    }
    out
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn collect(node: *mut pg_sys::Node, context: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: `context` is the Vec of reads_of, alive for the whole walk.
    let out = &mut *(context as *mut Vec<Read>);
    match (*node).type_ {
        pg_sys::NodeTag::T_Var => {
            out.push(Read::Var(var_ref(node as *mut pg_sys::Var)));
            false
        }
        // a sublink's query (expression_tree_walker hands it over as is)
        pg_sys::NodeTag::T_Query => {
            out.push(Read::Sub(shape_of(node as *mut pg_sys::Query)));
            false
        }
        _ => pg_sys::expression_tree_walker(node, Some(collect), context),
    }
}

// ------------------------------------------------------------ usage

/// What a statement's text says about the relations it reads, from the
/// raw parse tree only (no name lookup, no analysis: nothing of the text is
/// executed, whoever wrote it). Names are as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawUsage {
    /// (schema, relation) of every relation named in a FROM clause.
    pub relations: Vec<(Option<String>, String)>,
    /// Equality conditions between columns of two relations of the same
    /// FROM clause (JOIN … ON, JOIN … USING, WHERE), as
    /// ((schema, relation, column), (schema, relation, column)).
    pub joins: Vec<(RawColumn, RawColumn)>,
}

pub type RawColumn = (Option<String>, String, String);

/// The usage facts of `sql` (None: it does not parse, or is not a SELECT,
/// INSERT … SELECT, CREATE TABLE AS or similar statement with a query).
pub fn raw_usage(sql: &str) -> Option<RawUsage> {
    let text = CString::new(sql).ok()?;
    let mut out = RawUsage::default();
    // SAFETY: backend thread inside a transaction; raw_parser allocates in
    // the current memory context and raises ERRORs the usual way (the
    // caller catches them); the walk only reads the tree it returns.
    unsafe {
        let raw = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        for stmt in ptrs::<pg_sys::RawStmt>(raw) {
            let s = (*stmt).stmt;
            if has_tag(s, pg_sys::NodeTag::T_SelectStmt) {
                raw_select(s as *mut pg_sys::SelectStmt, &mut out, 0);
            } else if has_tag(s, pg_sys::NodeTag::T_InsertStmt) {
                raw_select((*(s as *mut pg_sys::InsertStmt)).selectStmt as *mut pg_sys::SelectStmt, &mut out, 0);
            } else if has_tag(s, pg_sys::NodeTag::T_CreateTableAsStmt) {
                let q = (*(s as *mut pg_sys::CreateTableAsStmt)).query;
                if has_tag(q, pg_sys::NodeTag::T_SelectStmt) {
                    raw_select(q as *mut pg_sys::SelectStmt, &mut out, 0);
                }
            }
        }
    }
    Some(out)
}

/// One relation of a FROM clause, by the name the clause refers to it with.
struct Named {
    refname: String,
    schema: Option<String>,
    name: String,
}

unsafe fn raw_select(stmt: *mut pg_sys::SelectStmt, out: &mut RawUsage, depth: usize) {
    if stmt.is_null() || !has_tag(stmt as *mut pg_sys::Node, pg_sys::NodeTag::T_SelectStmt) || depth > 32 {
        return;
    }
    let s = &*stmt;
    if s.op != pg_sys::SetOperation::SETOP_NONE {
        raw_select(s.larg, out, depth + 1);
        raw_select(s.rarg, out, depth + 1);
        return;
    }
    if !s.withClause.is_null() {
        for cte in ptrs::<pg_sys::CommonTableExpr>((*s.withClause).ctes) {
            raw_select((*cte).ctequery as *mut pg_sys::SelectStmt, out, depth + 1);
        }
    }
    let mut named = vec![];
    let mut quals = vec![s.whereClause];
    for item in nodes(s.fromClause) {
        raw_from(item, &mut named, &mut quals, out, depth);
    }
    for (schema, name, _) in named.iter().map(|n: &Named| (n.schema.clone(), n.name.clone(), ())) {
        out.relations.push((schema, name));
    }
    for q in quals {
        raw_equalities(q, &named, out);
    }
}

unsafe fn text_of(p: *const std::ffi::c_char) -> Option<String> {
    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
}

unsafe fn raw_from(
    item: *mut pg_sys::Node,
    named: &mut Vec<Named>,
    quals: &mut Vec<*mut pg_sys::Node>,
    out: &mut RawUsage,
    depth: usize,
) {
    if has_tag(item, pg_sys::NodeTag::T_RangeVar) {
        let rv = &*(item as *mut pg_sys::RangeVar);
        let Some(name) = text_of(rv.relname) else { return };
        let alias = if rv.alias.is_null() { None } else { text_of((*rv.alias).aliasname) };
        named.push(Named { refname: alias.unwrap_or_else(|| name.clone()), schema: text_of(rv.schemaname), name });
    } else if has_tag(item, pg_sys::NodeTag::T_JoinExpr) {
        let j = &*(item as *mut pg_sys::JoinExpr);
        let before = named.len();
        raw_from(j.larg, named, quals, out, depth);
        let middle = named.len();
        raw_from(j.rarg, named, quals, out, depth);
        quals.push(j.quals);
        // JOIN … USING (c): c of the last relation on each side
        if middle > before && named.len() > middle {
            let (l, r) = (middle - 1, named.len() - 1);
            for col in nodes(j.usingClause).into_iter().filter_map(|n| super::nodes::string_value(n.cast())) {
                out.joins.push((
                    (named[l].schema.clone(), named[l].name.clone(), col.clone()),
                    (named[r].schema.clone(), named[r].name.clone(), col),
                ));
            }
        }
    } else if has_tag(item, pg_sys::NodeTag::T_RangeSubselect) {
        let sub = (*(item as *mut pg_sys::RangeSubselect)).subquery;
        raw_select(sub as *mut pg_sys::SelectStmt, out, depth + 1);
    }
}

/// `a.x = b.y` conditions (under AND) between two relations of `named`.
unsafe fn raw_equalities(node: *mut pg_sys::Node, named: &[Named], out: &mut RawUsage) {
    if has_tag(node, pg_sys::NodeTag::T_BoolExpr) {
        let b = &*(node as *mut pg_sys::BoolExpr);
        if b.boolop == pg_sys::BoolExprType::AND_EXPR {
            for arg in nodes(b.args) {
                raw_equalities(arg, named, out);
            }
        }
        return;
    }
    if !has_tag(node, pg_sys::NodeTag::T_A_Expr) {
        return;
    }
    let e = &*(node as *mut pg_sys::A_Expr);
    let op: Vec<String> = nodes(e.name).into_iter().filter_map(|n| super::nodes::string_value(n.cast())).collect();
    if e.kind != pg_sys::A_Expr_Kind::AEXPR_OP || op.last().map(String::as_str) != Some("=") {
        return;
    }
    let (Some(l), Some(r)) = (column_of(e.lexpr, named), column_of(e.rexpr, named)) else { return };
    if (&l.0, &l.1) != (&r.0, &r.1) {
        out.joins.push((l, r));
    }
}

/// The relation column `node` (a `ref.col` column reference) names.
unsafe fn column_of(node: *mut pg_sys::Node, named: &[Named]) -> Option<RawColumn> {
    if !has_tag(node, pg_sys::NodeTag::T_ColumnRef) {
        return None;
    }
    let fields: Vec<Option<String>> =
        nodes((*(node as *mut pg_sys::ColumnRef)).fields).into_iter().map(|n| super::nodes::string_value(n.cast())).collect();
    let [Some(rel), Some(col)] = fields.as_slice() else { return None };
    let n = named.iter().find(|n| &n.refname == rel)?;
    Some((n.schema.clone(), n.name.clone(), col.clone()))
}
