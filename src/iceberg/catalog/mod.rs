//! The Iceberg catalog kept in this database (this module was the
//! top-level `catalog/`), in the JDBC/SQL-catalog layout
//! (`lake.iceberg_tables`, `lake.iceberg_namespace_properties`) that
//! PyIceberg's SqlCatalog, Spark and Trino use. Reads go through SPI in the
//! caller's transaction and snapshot.

use pgrx::prelude::*;
use pgrx::spi::SpiError;

use crate::errors::{LakeError, LakeResult};

pub mod overwrite;
pub mod spi;

/// Run `f` as the extension's owner, with `search_path` pinned. Users write
/// Iceberg tables through the FDW (Postgres has checked their
/// INSERT/UPDATE/DELETE privilege on the foreign table), but they get no
/// direct write privilege on the catalog.
pub fn as_catalog_owner<T>(f: impl FnOnce() -> T) -> T {
    crate::pg::security::run_as(extension_owner(), f)
}

/// The role that owns the townlake extension (the bootstrap superuser when
/// the extension is missing, which only happens mid-CREATE EXTENSION).
pub fn extension_owner() -> pg_sys::Oid {
    let _path = crate::pg::security::PinnedSearchPath::new();
    // Read-only SPI (pgrx's get_one runs read-write): scans call this in
    // parallel mode, where a read-write SPI call must not happen.
    Spi::connect(|c| {
        crate::pg::plans::select_text_args(
            &c,
            "SELECT extowner FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'townlake'",
            Some(1),
            &[],
        )?
        .first()
        .get_one::<pg_sys::Oid>()
    })
    .ok()
    .flatten()
        .unwrap_or(pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID))
}

fn spi_error(e: SpiError) -> LakeError {
    LakeError::internal(format!("cannot read the townlake catalog: {e}"))
        .with_hint("Is the extension installed in this database (CREATE EXTENSION townlake)?")
}

/// The current metadata file of `namespace.table` in catalog `catalog`.
pub fn metadata_location(catalog: &str, namespace: &str, table: &str) -> LakeResult<Option<String>> {
    // Read as the owner: row security hides governed tables' rows from
    // users; whether the caller may reach the table is `attach_check`'s call.
    as_catalog_owner(|| lookup(catalog, namespace, table, false))
}

/// Like `metadata_location`, and lock the catalog row until the transaction
/// ends: a committer holds it while it builds and swaps the next metadata,
/// so concurrent committers queue instead of retrying.
pub fn metadata_location_for_update(catalog: &str, namespace: &str, table: &str) -> LakeResult<Option<String>> {
    as_catalog_owner(|| lookup(catalog, namespace, table, true))
}

fn lookup(catalog: &str, namespace: &str, table: &str, lock: bool) -> LakeResult<Option<String>> {
    const READ: &str = "SELECT metadata_location::text FROM lake.iceberg_tables \
         WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 \
           AND (iceberg_type IS NULL OR iceberg_type = 'TABLE')";
    Spi::connect_mut(|client| {
        // Plain reads stay read-only (the statement's snapshot) and use a
        // kept plan (every scan asks); locking needs a writable SPI call.
        let rows = if lock {
            let args = [catalog.into(), namespace.into(), table.into()];
            client.update(format!("{READ} FOR UPDATE").as_str(), Some(1), &args)?
        } else {
            crate::pg::plans::select_text_args(client, READ, Some(1), &[catalog, namespace, table])?
        };
        let mut out = None;
        for row in rows {
            out = row.get::<String>(1)?;
        }
        Ok(out)
    })
    .map_err(spi_error)
}

/// Tables of `namespace`, sorted by name.
pub fn list_tables(catalog: &str, namespace: &str) -> LakeResult<Vec<String>> {
    as_catalog_owner(|| Spi::connect(|client| {
        let rows = client.select(
            "SELECT table_name::text FROM lake.iceberg_tables \
             WHERE catalog_name = $1 AND table_namespace = $2 \
               AND (iceberg_type IS NULL OR iceberg_type = 'TABLE') ORDER BY 1",
            None,
            &[catalog.into(), namespace.into()],
        )?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(name) = row.get::<String>(1)? {
                out.push(name);
            }
        }
        Ok(out)
    }))
    .map_err(spi_error)
}

/// Whether the namespace exists (has properties or tables).
pub fn namespace_exists(catalog: &str, namespace: &str) -> LakeResult<bool> {
    as_catalog_owner(|| Spi::connect(|client| {
        let rows = client.select(
            "SELECT 1 FROM lake.iceberg_namespace_properties WHERE catalog_name = $1 AND namespace = $2 \
             UNION ALL SELECT 1 FROM lake.iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2 \
             LIMIT 1",
            Some(1),
            &[catalog.into(), namespace.into()],
        )?;
        Ok(!rows.is_empty())
    }))
    .map_err(spi_error)
}

/// Who a catalog table belongs to, as recorded when townlake created or a
/// governed foreign table first attached it. Tables other engines created
/// and nobody claimed have no record.
#[derive(Debug, Clone)]
pub struct TableOwner {
    pub owner: pg_sys::Oid,
    pub governed: bool,
    /// The foreign table that created the Iceberg table (DROP purges it).
    pub creator: Option<pg_sys::Oid>,
    /// Roles the owner allowed to attach the table.
    pub attachers: Vec<pg_sys::Oid>,
}

/// The ownership record of `namespace.table`, if any.
pub fn table_owner(catalog: &str, namespace: &str, table: &str) -> LakeResult<Option<TableOwner>> {
    as_catalog_owner(|| {
        Spi::connect(|client| {
            let rows = crate::pg::plans::select_text_args(
                &client,
                "SELECT owner::oid, governed, creator_relid, \
                        ARRAY(SELECT a::oid FROM pg_catalog.unnest(attachers) a) \
                   FROM lake.iceberg_table_owners \
                  WHERE catalog_name OPERATOR(pg_catalog.=) $1 AND table_namespace OPERATOR(pg_catalog.=) $2 \
                    AND table_name OPERATOR(pg_catalog.=) $3",
                Some(1),
                &[catalog, namespace, table],
            )?;
            let mut out = None;
            for row in rows {
                out = Some(TableOwner {
                    owner: row.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                    governed: row.get::<bool>(2)?.unwrap_or(false),
                    creator: row.get::<pg_sys::Oid>(3)?,
                    attachers: row.get::<Vec<pg_sys::Oid>>(4)?.unwrap_or_default(),
                });
            }
            Ok(out)
        })
    })
    .map_err(spi_error)
}

/// Record who owns `namespace.table` (kept when a record exists).
pub fn record_owner(
    catalog: &str,
    namespace: &str,
    table: &str,
    owner: pg_sys::Oid,
    governed: bool,
    creator: Option<pg_sys::Oid>,
) -> LakeResult<()> {
    as_catalog_owner(|| {
        Spi::connect_mut(|client| {
            client.update(
                "INSERT INTO lake.iceberg_table_owners \
                   (catalog_name, table_namespace, table_name, owner, governed, creator_relid) \
                 VALUES ($1, $2, $3, $4::oid::regrole, $5, $6) ON CONFLICT DO NOTHING",
                None,
                &[catalog.into(), namespace.into(), table.into(), owner.into(), governed.into(), creator.into()],
            )?;
            Ok::<(), SpiError>(())
        })
    })
    .map_err(|e| LakeError::internal(format!("cannot record the table's owner: {e}")))
}

/// Whether relation `rel` lives in a governed raw schema.
pub fn in_governed_schema(rel: pg_sys::Oid) -> LakeResult<bool> {
    // SAFETY: syscache lookup; NULL (a relation being dropped) handled.
    let schema = unsafe {
        let ns = pg_sys::get_namespace_name(pg_sys::get_rel_namespace(rel));
        if ns.is_null() {
            return Ok(false);
        }
        std::ffi::CStr::from_ptr(ns).to_string_lossy().into_owned()
    };
    schema_governed(&schema)
}

/// Whether schema `name` is a governed raw schema.
pub fn schema_governed(name: &str) -> LakeResult<bool> {
    as_catalog_owner(|| {
        Spi::connect(|c| {
            crate::pg::plans::select_text_args(
                &c,
                "SELECT EXISTS (SELECT 1 FROM lake.governed_schemas WHERE raw_schema OPERATOR(pg_catalog.=) $1::name)",
                Some(1),
                &[name],
            )?
            .first()
            .get_one::<bool>()
        })
    })
    .map(|b| b.unwrap_or(false))
    .map_err(spi_error)
}

/// May a foreign table owned by `rel_owner` (in a governed schema or not)
/// reach catalog table `namespace.table`? Governed tables only through
/// governed foreign tables; other recorded tables by their owner's roles and
/// the roles the owner allowed; unrecorded tables (made by other engines) by
/// anyone who may use the server.
pub fn may_attach(rel_owner: pg_sys::Oid, governed_target: bool, catalog: &str, namespace: &str, table: &str) -> LakeResult<Result<(), LakeError>> {
    use crate::pg::security::{has_privs_of_role, is_superuser};
    let Some(record) = table_owner(catalog, namespace, table)? else {
        return Ok(Ok(()));
    };
    let claim_refused = governed_target && !record.governed;
    let allowed = if record.governed {
        governed_target
    } else if governed_target {
        // A governed foreign table claims the table (lock-down marks it
        // governed), so only for a role that could own it anyway: never on
        // the strength of another role's allow_attach, which would let a
        // role pre-create a table under a name ingestion will use and read
        // what is ingested into it.
        is_superuser(record.owner) || has_privs_of_role(rel_owner, record.owner) || has_privs_of_role(record.owner, rel_owner)
    } else {
        is_superuser(rel_owner)
            || has_privs_of_role(rel_owner, record.owner)
            || record.attachers.iter().any(|&a| has_privs_of_role(rel_owner, a))
    };
    if allowed {
        return Ok(Ok(()));
    }
    let what = format!("Iceberg table \"{namespace}.{table}\"");
    let (message, hint) = if claim_refused {
        (
            format!("{what} belongs to another role: a governed schema cannot attach it"),
            "A governed raw schema attaches only tables its owner, a member of it or a superuser made; pick another table name, or have the table's owner drop it.",
        )
    } else if record.governed {
        (
            format!("{what} is governed: it can only be read through its published view"),
            "Ask a reviewer for access (lake.request_access) and read the published view.",
        )
    } else {
        (
            format!("{what} belongs to another role: the owner of this foreign table may not attach it"),
            "Its owner can allow it with SELECT lake.allow_attach('<foreign table>', '<role>').",
        )
    };
    Ok(Err(LakeError::new(pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, message).with_hint(hint)))
}

/// `may_attach` for an existing foreign table `rel`, as an error.
pub fn attach_check(rel: pg_sys::Oid, rel_owner: pg_sys::Oid, catalog: &str, namespace: &str, table: &str) -> LakeResult<()> {
    may_attach(rel_owner, in_governed_schema(rel)?, catalog, namespace, table)?
}

// TODO(merge): sql-work put a COMMENT on lake.allow_attach (now in iceberg/functions.rs) - carry it over.
extension_sql_file!("../../../sql/iceberg/catalog.sql", name = "catalog_tables", requires = [lake_internal]);
