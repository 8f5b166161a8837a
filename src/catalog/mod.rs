//! The Iceberg catalog kept in this database, in the JDBC/SQL-catalog layout
//! (`lake.iceberg_tables`, `lake.iceberg_namespace_properties`) that
//! PyIceberg's SqlCatalog, Spark and Trino use. Reads go through SPI in the
//! caller's transaction and snapshot.

use pgrx::prelude::*;
use pgrx::spi::SpiError;

use crate::errors::{LakeError, LakeResult};

/// Run `f` as the extension's owner. Users write Iceberg tables through the
/// FDW (Postgres has checked their INSERT/UPDATE/DELETE privilege on the
/// foreign table), but they get no direct write privilege on the catalog.
/// Postgres restores the user on error (transaction or subtransaction abort).
pub fn as_catalog_owner<T>(f: impl FnOnce() -> T) -> T {
    let owner = Spi::get_one::<pg_sys::Oid>("SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'townlake'")
        .ok()
        .flatten();
    let Some(owner) = owner else {
        return f();
    };
    let (mut user, mut context) = (pg_sys::Oid::INVALID, 0);
    // SAFETY: plain calls on the backend thread; restored below and by
    // Postgres on abort.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(owner, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
    }
    let out = f();
    unsafe { pg_sys::SetUserIdAndSecContext(user, context) };
    out
}

fn spi_error(e: SpiError) -> LakeError {
    LakeError::internal(format!("cannot read the townlake catalog: {e}"))
        .with_hint("Is the extension installed in this database (CREATE EXTENSION townlake)?")
}

/// The current metadata file of `namespace.table` in catalog `catalog`.
pub fn metadata_location(catalog: &str, namespace: &str, table: &str) -> LakeResult<Option<String>> {
    lookup(catalog, namespace, table, false)
}

/// Like `metadata_location`, and lock the catalog row until the transaction
/// ends: a committer holds it while it builds and swaps the next metadata,
/// so concurrent committers queue instead of retrying.
pub fn metadata_location_for_update(catalog: &str, namespace: &str, table: &str) -> LakeResult<Option<String>> {
    as_catalog_owner(|| lookup(catalog, namespace, table, true))
}

fn lookup(catalog: &str, namespace: &str, table: &str, lock: bool) -> LakeResult<Option<String>> {
    let query = format!(
        "SELECT metadata_location::text FROM lake.iceberg_tables \
         WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 \
           AND (iceberg_type IS NULL OR iceberg_type = 'TABLE'){}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Spi::connect_mut(|client| {
        let args = [catalog.into(), namespace.into(), table.into()];
        // Plain reads stay read-only (the statement's snapshot); locking needs
        // a writable SPI call.
        let rows = if lock {
            client.update(query.as_str(), Some(1), &args)?
        } else {
            client.select(query.as_str(), Some(1), &args)?
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
    Spi::connect(|client| {
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
    })
    .map_err(spi_error)
}

/// Whether the namespace exists (has properties or tables).
pub fn namespace_exists(catalog: &str, namespace: &str) -> LakeResult<bool> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT 1 FROM lake.iceberg_namespace_properties WHERE catalog_name = $1 AND namespace = $2 \
             UNION ALL SELECT 1 FROM lake.iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2 \
             LIMIT 1",
            Some(1),
            &[catalog.into(), namespace.into()],
        )?;
        Ok(!rows.is_empty())
    })
    .map_err(spi_error)
}

extension_sql!(
    r#"
-- The Iceberg JDBC/SQL catalog layout, as PyIceberg's SqlCatalog creates it,
-- so PyIceberg, Spark and Trino can share this catalog.
CREATE TABLE lake.iceberg_tables (
    catalog_name varchar(255) NOT NULL,
    table_namespace varchar(255) NOT NULL,
    table_name varchar(255) NOT NULL,
    metadata_location varchar(1000),
    previous_metadata_location varchar(1000),
    iceberg_type varchar(5),
    PRIMARY KEY (catalog_name, table_namespace, table_name)
);
CREATE TABLE lake.iceberg_namespace_properties (
    catalog_name varchar(255) NOT NULL,
    namespace varchar(255) NOT NULL,
    property_key varchar(255) NOT NULL,
    property_value varchar(1000) NOT NULL,
    PRIMARY KEY (catalog_name, namespace, property_key)
);
COMMENT ON TABLE lake.iceberg_tables IS 'Iceberg tables of every townlake catalog (JDBC catalog layout)';
COMMENT ON TABLE lake.iceberg_namespace_properties IS 'Iceberg namespaces and their properties (JDBC catalog layout)';
GRANT USAGE ON SCHEMA lake TO PUBLIC;
GRANT SELECT ON lake.iceberg_tables, lake.iceberg_namespace_properties TO PUBLIC;
"#,
    name = "catalog_tables",
    bootstrap
);
