//! Commits to the in-database catalog (this file was `iceberg/commit.rs`).
//! iceberg-rust's transactions talk to a
//! `Catalog`; this one reads and swaps `lake.iceberg_tables.metadata_location`
//! through SPI, in the caller's Postgres transaction, so an Iceberg commit is
//! exactly as atomic and durable as the Postgres commit.
//!
//! SPI may only run on the backend thread: every future here is polled by
//! `runtime::block_on` on that thread, never spawned.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use iceberg::spec::{FormatVersion, Schema, TableMetadataBuilder, UnboundPartitionSpec};
use iceberg::table::Table;
use iceberg::{
    Catalog, Error, ErrorKind, MetadataLocation, Namespace, NamespaceIdent, Result, TableCommit,
    TableCreation, TableIdent,
};
use pgrx::prelude::*;

use crate::iceberg::source::{self, ResolvedTable, ServerConfig};
use crate::errors::iceberg_message;

#[derive(Debug)]
pub struct SpiCatalog {
    pub server: ServerConfig,
    /// Lock catalog rows when loading tables (committers).
    lock_rows: bool,
}

fn unsupported(what: &str) -> Error {
    Error::new(ErrorKind::FeatureUnsupported, format!("{what} is not available through this catalog"))
}

fn spi_failure(e: pgrx::spi::SpiError) -> Error {
    Error::new(ErrorKind::Unexpected, format!("catalog query failed: {e}"))
}

impl SpiCatalog {
    /// A catalog for committing: loading a table locks its catalog row.
    pub fn new(server: ServerConfig) -> Self {
        SpiCatalog { server, lock_rows: true }
    }

    fn location_of(&self, ident: &TableIdent) -> Result<Option<String>> {
        let (catalog, ns, name) = (&self.server.catalog_name, ident.namespace().join("."), ident.name());
        let found = if self.lock_rows {
            super::metadata_location_for_update(catalog, &ns, name)
        } else {
            super::metadata_location(catalog, &ns, name)
        };
        found.map_err(|e| {
            let kind = if e.code == pgrx::PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE {
                ErrorKind::CatalogCommitConflicts
            } else {
                ErrorKind::Unexpected
            };
            Error::new(kind, e.message)
        })
    }

    /// Swap the metadata pointer if it still is `expected`. The row lock
    /// serialises concurrent committers; a lost race is a retryable conflict.
    fn compare_and_swap(&self, ident: &TableIdent, expected: &str, new: &str) -> Result<()> {
        let updated = super::as_catalog_owner(|| Spi::connect_mut(|client| {
            let rows = client.update(
                "UPDATE lake.iceberg_tables SET metadata_location = $4, previous_metadata_location = $5 \
                 WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 \
                   AND metadata_location = $5 RETURNING 1",
                None,
                &[
                    self.server.catalog_name.as_str().into(),
                    ident.namespace().join(".").as_str().into(),
                    ident.name().into(),
                    new.into(),
                    expected.into(),
                ],
            )?;
            Ok::<usize, pgrx::spi::SpiError>(rows.len())
        }))
        .map_err(spi_failure)?;
        if updated == 1 {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::CatalogCommitConflicts,
                format!("table {ident} was changed by another commit"),
            )
            .with_retryable(true))
        }
    }
}

impl SpiCatalog {
    /// Write `metadata` as the next version after `base_location` and make it
    /// current if nobody else committed meanwhile. Returns the new location.
    pub async fn swap_metadata(
        &self,
        ident: &TableIdent,
        base_location: &str,
        metadata: &iceberg::spec::TableMetadata,
    ) -> Result<String> {
        let new_location = MetadataLocation::from_str(base_location)?.with_next_version().with_new_metadata(metadata);
        metadata.write_to(&self.server.file_io(), &new_location).await?;
        let new_location = new_location.to_string();
        self.compare_and_swap(ident, base_location, &new_location)?;
        Ok(new_location)
    }
}

#[async_trait]
impl Catalog for SpiCatalog {
    async fn list_namespaces(&self, _parent: Option<&NamespaceIdent>) -> Result<Vec<NamespaceIdent>> {
        Err(unsupported("listing namespaces"))
    }
    async fn create_namespace(&self, _n: &NamespaceIdent, _p: HashMap<String, String>) -> Result<Namespace> {
        Err(unsupported("creating namespaces"))
    }
    async fn get_namespace(&self, _n: &NamespaceIdent) -> Result<Namespace> {
        Err(unsupported("reading namespaces"))
    }
    async fn namespace_exists(&self, _n: &NamespaceIdent) -> Result<bool> {
        Err(unsupported("checking namespaces"))
    }
    async fn update_namespace(&self, _n: &NamespaceIdent, _p: HashMap<String, String>) -> Result<()> {
        Err(unsupported("updating namespaces"))
    }
    async fn drop_namespace(&self, _n: &NamespaceIdent) -> Result<()> {
        Err(unsupported("dropping namespaces"))
    }
    async fn list_tables(&self, _n: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        Err(unsupported("listing tables"))
    }
    async fn create_table(&self, _n: &NamespaceIdent, _c: TableCreation) -> Result<Table> {
        Err(unsupported("creating tables"))
    }

    async fn load_table(&self, ident: &TableIdent) -> Result<Table> {
        let location = self
            .location_of(ident)?
            .ok_or_else(|| Error::new(ErrorKind::TableNotFound, format!("table {ident} does not exist")))?;
        let metadata = source::fetch_metadata(&self.server, &location)
            .await
            .map_err(|e| Error::new(ErrorKind::Unexpected, e.message))?;
        Table::builder()
            .metadata(metadata)
            .metadata_location(location)
            .identifier(ident.clone())
            .file_io(self.server.file_io())
            .runtime(crate::runtime::iceberg_runtime())
            .build()
    }

    async fn drop_table(&self, _t: &TableIdent) -> Result<()> {
        Err(unsupported("dropping tables"))
    }
    async fn purge_table(&self, _t: &TableIdent) -> Result<()> {
        Err(unsupported("purging tables"))
    }
    async fn table_exists(&self, ident: &TableIdent) -> Result<bool> {
        Ok(self.location_of(ident)?.is_some())
    }
    async fn rename_table(&self, _s: &TableIdent, _d: &TableIdent) -> Result<()> {
        Err(unsupported("renaming tables"))
    }
    async fn register_table(&self, _t: &TableIdent, _l: String) -> Result<Table> {
        Err(unsupported("registering tables"))
    }

    async fn update_table(&self, commit: TableCommit) -> Result<Table> {
        let ident = commit.identifier().clone();
        let base = self.load_table(&ident).await?;
        let base_location = base
            .metadata_location()
            .ok_or_else(|| Error::new(ErrorKind::Unexpected, "table has no metadata location"))?
            .to_string();
        // Requirements are checked against the current metadata: a stale
        // base fails here and iceberg retries on a fresh one.
        let updated = commit.apply(base).map_err(|e| {
            if e.kind() == ErrorKind::CatalogCommitConflicts || e.kind() == ErrorKind::DataInvalid {
                Error::new(ErrorKind::CatalogCommitConflicts, iceberg_message(&e)).with_retryable(true)
            } else {
                e
            }
        })?;
        let new_location = self.swap_metadata(&ident, &base_location, updated.metadata()).await?;
        Table::builder()
            .metadata(updated.metadata_ref())
            .metadata_location(new_location)
            .identifier(ident)
            .file_io(self.server.file_io())
            .runtime(crate::runtime::iceberg_runtime())
            .build()
    }
}

/// Create an Iceberg table (format v2) under the server's warehouse and
/// register it in the catalog, in the current transaction. Returns the
/// metadata location.
pub fn create_table(
    server: &ServerConfig,
    namespace: &str,
    name: &str,
    schema: Schema,
    partition_spec: Option<UnboundPartitionSpec>,
) -> crate::errors::LakeResult<String> {
    use crate::errors::LakeError;
    // A short unique suffix: two databases (or a dropped and re-created
    // table) never share a directory, so orphan-file removal in one can
    // never touch the other's files.
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let location = format!("{}/{}/{}-{}", server.warehouse.trim_end_matches('/'), namespace, name, suffix);
    let mut props = HashMap::new();
    props.insert("write.parquet.compression-codec".to_string(), "zstd".to_string());
    props.insert("created-by".to_string(), "townlake".to_string());
    let creation = TableCreation::builder()
        .name(name.to_string())
        .location(location.clone())
        .schema(schema)
        .partition_spec_opt(partition_spec)
        .properties(props)
        .format_version(FormatVersion::V2)
        .build();
    let metadata = TableMetadataBuilder::from_table_creation(creation)
        .and_then(|b| b.build())
        .map_err(|e| LakeError::invalid(format!("cannot define Iceberg table {namespace}.{name}: {}", iceberg_message(&e))))?
        .metadata;
    let metadata_location = MetadataLocation::new_with_metadata(&location, &metadata);
    let file_io = server.file_io();
    crate::runtime::block_on(metadata.write_to(&file_io, &metadata_location)).map_err(|e| {
        LakeError::new(
            pgrx::PgSqlErrorCode::ERRCODE_FDW_ERROR,
            format!("cannot write Iceberg metadata: {}", server.scrub(&iceberg_message(&e))),
        )
        .with_hint(if server.warehouse.starts_with("s3://") {
            "Check the server's s3_endpoint (reachable from the Postgres server), the bucket, and the credentials in your user mapping."
        } else {
            "Check that the warehouse location is writable by the Postgres server."
        })
    })?;
    let metadata_location = metadata_location.to_string();
    let inserted = super::as_catalog_owner(|| Spi::connect_mut(|client| {
        client.update(
            "INSERT INTO lake.iceberg_namespace_properties (catalog_name, namespace, property_key, property_value) \
             VALUES ($1, $2, 'exists', 'true') ON CONFLICT DO NOTHING",
            None,
            &[server.catalog_name.as_str().into(), namespace.into()],
        )?;
        let rows = client.update(
            "INSERT INTO lake.iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, iceberg_type) \
             VALUES ($1, $2, $3, $4, 'TABLE') ON CONFLICT DO NOTHING RETURNING 1",
            None,
            &[server.catalog_name.as_str().into(), namespace.into(), name.into(), metadata_location.as_str().into()],
        )?;
        Ok::<usize, pgrx::spi::SpiError>(rows.len())
    }))
    .map_err(|e| LakeError::internal(format!("cannot register the table in the catalog: {e}")))?;
    if inserted != 1 {
        return Err(LakeError::new(
            pgrx::PgSqlErrorCode::ERRCODE_DUPLICATE_TABLE,
            format!("Iceberg table {namespace}.{name} was created concurrently"),
        ));
    }
    Ok(metadata_location)
}

/// Apply `change` to the table's current metadata and swap it in (in the
/// current transaction: a ROLLBACK undoes it).
pub fn commit_metadata(
    resolved: &ResolvedTable,
    change: impl FnOnce(TableMetadataBuilder) -> iceberg::Result<TableMetadataBuilder>,
) -> crate::errors::LakeResult<()> {
    let builder = TableMetadataBuilder::new_from_metadata((*resolved.metadata).clone(), Some(resolved.metadata_location.clone()));
    let metadata = change(builder)
        .and_then(|b| b.build())
        .map_err(|e| crate::errors::LakeError::invalid(format!("cannot change Iceberg table {}: {}", resolved.display_name, iceberg_message(&e))))?
        .metadata;
    let catalog = SpiCatalog::new(resolved.server.clone());
    let ident = resolved.table()?.identifier().clone();
    crate::runtime::block_on(catalog.swap_metadata(&ident, &resolved.metadata_location, &metadata)).map_err(|e| {
        crate::errors::LakeError::new(
            pgrx::PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
            format!("cannot commit the change to {}: {}", resolved.display_name, resolved.server.scrub(&iceberg_message(&e))),
        )
        .with_hint("Another writer changed the table at the same time; retry.")
    })?;
    Ok(())
}
