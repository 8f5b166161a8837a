//! A utility statement's parse tree, read through safe accessors: its tag
//! and command name, and the details of the statements the parts' utility
//! hooks decide on (SET, DECLARE CURSOR, COPY, GRANT, ALTER TABLE, DROP).
//! Relation names are resolved only when asked, in statement order, the way
//! the statement itself resolves them.

use std::ffi::CStr;
use std::marker::PhantomData;

use pgrx::pg_sys;

use super::hooks::Utility;
use super::nodes::{has_tag, ptrs, relid_of, string_value};

impl Utility {
    /// The statement's parse tree.
    pub fn statement(&self) -> UtilityStmt<'_> {
        UtilityStmt { node: self.stmt(), _call: PhantomData }
    }

    /// Runs this `COPY relation [(columns)] TO ...` as `COPY (select) TO ...`
    /// with the same options, the way Postgres itself copies a table under
    /// row level security: the rows are then read by the executor, whose
    /// hooks see the read. `select` must return what the COPY would (the
    /// caller builds it from the relation's columns, schema-qualified). The
    /// statement is copied, never changed in place: it may belong to a
    /// cached plan. No-op for any other statement.
    pub fn copy_to_through_query(&self, select: &str) {
        if self.statement().copy().is_none_or(|c| c.from) {
            return;
        }
        let text = std::ffi::CString::new(select).expect("a query built from catalog names has no NUL");
        // SAFETY: raw_parser returns a List of RawStmt (or raises an ERROR,
        // which pgrx's guard turns into a Rust panic unwinding to the hook's
        // guard); copyObjectImpl deep-copies the PlannedStmt into the
        // current (statement) memory context, so the copy lives as long as
        // the call; the copy's utilityStmt is the CopyStmt checked above.
        unsafe {
            let parsed = ptrs::<pg_sys::RawStmt>(pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT));
            let [raw] = parsed.as_slice() else {
                panic!("copy_to_through_query: expected one statement in {select:?}");
            };
            let copy = pg_sys::copyObjectImpl(self.pstmt_ptr() as *const std::ffi::c_void) as *mut pg_sys::PlannedStmt;
            let stmt = (*copy).utilityStmt as *mut pg_sys::CopyStmt;
            (*stmt).relation = std::ptr::null_mut();
            (*stmt).attlist = std::ptr::null_mut();
            (*stmt).query = (**raw).stmt;
            self.replacement.set(copy);
        }
    }
}

/// A utility statement's parse tree (never NULL), for one hook call.
#[derive(Clone, Copy)]
pub struct UtilityStmt<'a> {
    node: *mut pg_sys::Node,
    _call: PhantomData<&'a pg_sys::Node>,
}

/// Text of a C string field (NULL: None).
fn text(p: *const std::ffi::c_char) -> Option<String> {
    // SAFETY: fields of a parse tree are NULL or NUL-terminated strings
    // that live as long as the tree.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

impl<'a> UtilityStmt<'a> {
    /// The node's tag (T_GrantStmt, T_CopyStmt ...).
    pub fn tag(&self) -> pg_sys::NodeTag {
        // SAFETY: a non-NULL node (Utility::stmt).
        unsafe { (*self.node).type_ }
    }

    /// The statement's command tag as text (`CREATE VIEW`, `COMMENT` ...).
    pub fn command_name(&self) -> Option<String> {
        // SAFETY: CreateCommandTag reads the statement node; the tag's name
        // is a static string.
        text(unsafe { pg_sys::GetCommandTagName(pg_sys::CreateCommandTag(self.node)) })
    }

    /// The node as a `T`, when its tag is `tag`.
    fn as_node<T>(&self, tag: pg_sys::NodeTag) -> Option<&'a T> {
        // SAFETY: the tag says the node is a `T`; it lives for the call.
        (self.tag() == tag).then(|| unsafe { &*(self.node as *const T) })
    }

    /// SET / RESET: whether it resets (RESET, RESET ALL). None for other statements.
    pub fn set_resets(&self) -> Option<bool> {
        let set = self.as_node::<pg_sys::VariableSetStmt>(pg_sys::NodeTag::T_VariableSetStmt)?;
        Some(matches!(set.kind, pg_sys::VariableSetKind::VAR_RESET | pg_sys::VariableSetKind::VAR_RESET_ALL))
    }

    /// DECLARE CURSOR: whether it is WITH HOLD.
    pub fn cursor_with_hold(&self) -> Option<bool> {
        let declare = self.as_node::<pg_sys::DeclareCursorStmt>(pg_sys::NodeTag::T_DeclareCursorStmt)?;
        Some(declare.options & pg_sys::CURSOR_OPT_HOLD as i32 != 0)
    }

    /// COPY: its direction and whether it reads or writes a server file or program.
    pub fn copy(&self) -> Option<CopyCommand<'a>> {
        let copy = self.as_node::<pg_sys::CopyStmt>(pg_sys::NodeTag::T_CopyStmt)?;
        Some(CopyCommand {
            from: copy.is_from,
            // SAFETY: attlist is a List of String nodes (column names).
            columns: unsafe { ptrs::<pg_sys::Node>(copy.attlist) }.into_iter().filter_map(|n| unsafe { string_value(n.cast()) }).collect(),
            file_or_program: !copy.filename.is_null() || copy.is_program,
            relation: RelationName { rv: copy.relation, _stmt: PhantomData },
        })
    }

    /// GRANT / REVOKE of privileges on objects.
    pub fn grant(&self) -> Option<GrantCommand<'a>> {
        let grant = self.as_node::<pg_sys::GrantStmt>(pg_sys::NodeTag::T_GrantStmt)?;
        // SAFETY: the Lists of a GrantStmt hold AccessPriv and RoleSpec nodes.
        let (privileges, grantees) = unsafe {
            (
                ptrs::<pg_sys::AccessPriv>(grant.privileges)
                    .into_iter()
                    .map(|p| Privilege { name: text((*p).priv_name), columns: !(*p).cols.is_null() })
                    .collect(),
                ptrs::<pg_sys::RoleSpec>(grant.grantees)
                    .into_iter()
                    .map(|r| ((*r).roletype == pg_sys::RoleSpecType::ROLESPEC_CSTRING).then(|| text((*r).rolename)).flatten())
                    .collect(),
            )
        };
        Some(GrantCommand {
            is_grant: grant.is_grant,
            objtype: grant.objtype,
            all_in_schema: grant.targtype == pg_sys::GrantTargetType::ACL_TARGET_ALL_IN_SCHEMA,
            grant_option: grant.grant_option,
            privileges,
            grantees,
            objects: grant.objects,
            _stmt: PhantomData,
        })
    }

    /// ALTER TABLE (and ALTER VIEW, INDEX ... of the same node): the
    /// relation and the subcommands.
    pub fn alter_table(&self) -> Option<AlterTableCommand<'a>> {
        let alter = self.as_node::<pg_sys::AlterTableStmt>(pg_sys::NodeTag::T_AlterTableStmt)?;
        // SAFETY: cmds is a List of nodes; AlterTableCmd ones are read by their tag.
        let subcommands = unsafe {
            ptrs::<pg_sys::Node>(alter.cmds)
                .into_iter()
                .filter(|&cmd| has_tag(cmd, pg_sys::NodeTag::T_AlterTableCmd))
                .map(|cmd| (*(cmd as *mut pg_sys::AlterTableCmd)).subtype)
                .collect()
        };
        Some(AlterTableCommand { relation: RelationName { rv: alter.relation, _stmt: PhantomData }, subcommands })
    }

    /// DROP of objects of one kind.
    pub fn drop(&self) -> Option<DropCommand<'a>> {
        let drop = self.as_node::<pg_sys::DropStmt>(pg_sys::NodeTag::T_DropStmt)?;
        Some(DropCommand { remove_type: drop.removeType, objects: drop.objects, _stmt: PhantomData })
    }
}

/// A COPY statement.
pub struct CopyCommand<'a> {
    /// COPY FROM (else COPY TO).
    pub from: bool,
    /// To or from a server file or program (else the client).
    pub file_or_program: bool,
    /// The column list (empty: none given).
    pub columns: Vec<String>,
    /// The table of `COPY table ...` (its RangeVar is null for `COPY (query) TO`).
    pub relation: RelationName<'a>,
}

/// A privilege a GRANT names (ALL PRIVILEGES names none).
pub struct Privilege {
    /// Its name as the parser lowercased it.
    pub name: Option<String>,
    /// Limited to columns.
    pub columns: bool,
}

/// A GRANT or REVOKE statement.
pub struct GrantCommand<'a> {
    pub is_grant: bool,
    pub objtype: pg_sys::ObjectType::Type,
    /// ON ALL TABLES IN SCHEMA ... (the objects are schema names).
    pub all_in_schema: bool,
    pub grant_option: bool,
    pub privileges: Vec<Privilege>,
    /// Roles named by name (None: PUBLIC, CURRENT_USER and the like).
    pub grantees: Vec<Option<String>>,
    objects: *mut pg_sys::List,
    _stmt: PhantomData<&'a pg_sys::GrantStmt>,
}

/// An object a GRANT names.
pub enum GrantObject<'a> {
    /// A schema (ON ALL ... IN SCHEMA).
    Schema(String),
    Relation(RelationName<'a>),
    Other,
}

impl<'a> GrantCommand<'a> {
    pub fn objects(&self) -> Vec<GrantObject<'a>> {
        // SAFETY: objects is a List of nodes of the statement; String and
        // RangeVar ones are read by their tag.
        unsafe {
            ptrs::<pg_sys::Node>(self.objects)
                .into_iter()
                .map(|obj| {
                    if self.all_in_schema {
                        string_value(obj as *mut std::ffi::c_void).map_or(GrantObject::Other, GrantObject::Schema)
                    } else if has_tag(obj, pg_sys::NodeTag::T_RangeVar) {
                        GrantObject::Relation(RelationName { rv: obj as *mut pg_sys::RangeVar, _stmt: PhantomData })
                    } else {
                        GrantObject::Other
                    }
                })
                .collect()
        }
    }
}

/// A relation as the statement names it.
pub struct RelationName<'a> {
    rv: *mut pg_sys::RangeVar,
    _stmt: PhantomData<&'a pg_sys::RangeVar>,
}

impl RelationName<'_> {
    /// The relation it names, if it exists (no lock taken; a permission
    /// error on the schema surfaces as the statement itself would raise it).
    pub fn relid(&self) -> Option<pg_sys::Oid> {
        if self.rv.is_null() {
            return None;
        }
        // SAFETY: a RangeVar of the statement.
        unsafe { relid_of(self.rv) }
    }
}

/// An ALTER TABLE statement.
pub struct AlterTableCommand<'a> {
    pub relation: RelationName<'a>,
    pub subcommands: Vec<pg_sys::AlterTableType::Type>,
}

/// A DROP statement.
pub struct DropCommand<'a> {
    pub remove_type: pg_sys::ObjectType::Type,
    objects: *mut pg_sys::List,
    _stmt: PhantomData<&'a pg_sys::DropStmt>,
}

impl DropCommand<'_> {
    /// The relations dropped, resolved one by one as the iterator is
    /// advanced (None: no such relation). Only for relation kinds of
    /// `remove_type` (table, view, materialized view, foreign table ...),
    /// whose objects are qualified names.
    pub fn relations(&self) -> impl Iterator<Item = Option<pg_sys::Oid>> + '_ {
        let relation_kind = matches!(
            self.remove_type,
            pg_sys::ObjectType::OBJECT_TABLE
                | pg_sys::ObjectType::OBJECT_VIEW
                | pg_sys::ObjectType::OBJECT_MATVIEW
                | pg_sys::ObjectType::OBJECT_FOREIGN_TABLE
                | pg_sys::ObjectType::OBJECT_SEQUENCE
                | pg_sys::ObjectType::OBJECT_INDEX
        );
        let names = if relation_kind {
            // SAFETY: the objects of a DROP of relations are Lists of names.
            unsafe { ptrs::<pg_sys::List>(self.objects) }
        } else {
            Vec::new()
        };
        // SAFETY: makeRangeVarFromNameList reads a List of String nodes.
        names.into_iter().map(|names| unsafe { relid_of(pg_sys::makeRangeVarFromNameList(names)) })
    }
}
