//! Where an Iceberg foreign table's data comes from: its server (catalog name,
//! warehouse, S3 settings), the caller's user mapping (credentials), and the
//! current metadata file. Table metadata is cached per backend by location.

use std::cell::RefCell;
use std::collections::HashMap;

use iceberg::io::FileIO;
use iceberg::spec::{TableMetadata, TableMetadataRef};
use iceberg::table::Table;
use iceberg::TableIdent;
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;

use super::catalog;
use super::storage::file_io_for;
use super::storage::options::{scrub, S3Settings};
use crate::errors::{iceberg_message, LakeError, LakeResult};
use crate::fdw::source::{self as fdw_source, ServerOptions};
use crate::runtime::{block_on, iceberg_runtime};

pub const SERVER_OPTIONS: &[&str] = &[
    "warehouse",
    "catalog_name",
    "read_only",
    "s3_endpoint",
    "s3_region",
    "s3_path_style",
    "s3_allow_http",
];
pub const TABLE_OPTIONS: &[&str] =
    &["namespace", "table", "metadata_location", "snapshot_id", "partition_by", "owns_table", "attach_only"];
pub const COLUMN_OPTIONS: &[&str] = &["field_id", "column_name"];

/// A server as seen by one user.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub name: String,
    pub catalog_name: String,
    pub warehouse: String,
    pub read_only: bool,
    pub s3: S3Settings,
}

impl ServerConfig {
    /// The hint for a storage error: on S3 without credentials, say that the
    /// request went unsigned because no user mapping applies.
    pub fn storage_hint(&self, otherwise: &str) -> String {
        let on_s3 = self.warehouse.starts_with("s3://") || self.s3.endpoint.is_some();
        if on_s3 && self.s3.access_key_id.is_none() {
            format!(
                "No user mapping with S3 credentials applies (for the role reading, nor PUBLIC) on server \"{}\", \
                 so the request was unsigned. CREATE USER MAPPING … OPTIONS (s3_access_key_id '…', s3_secret_access_key '…').",
                self.name
            )
        } else {
            otherwise.to_string()
        }
    }

    /// Scrub credentials from a message before it is shown.
    pub fn scrub(&self, message: &str) -> String {
        scrub(message, &self.s3.secrets())
    }

    pub fn file_io(&self) -> FileIO {
        thread_local! {
            static FILE_IOS: RefCell<HashMap<String, FileIO>> = RefCell::new(HashMap::new());
        }
        let key = serde_json::to_string(&self.s3).unwrap_or_default();
        FILE_IOS.with(|m| {
            m.borrow_mut().entry(key).or_insert_with(|| file_io_for(self.s3.clone())).clone()
        })
    }
}

/// Read a server's options and the mapping user's mapping for it.
pub fn server_config(server_oid: pg_sys::Oid) -> LakeResult<ServerConfig> {
    let ServerOptions { name, options: opts } = fdw_source::server_options(server_oid);
    let s3 = S3Settings::from_options(&opts).map_err(LakeError::invalid)?;
    let warehouse = opts.get("warehouse").cloned().unwrap_or_else(super::settings::warehouse);
    let read_only = super::storage::options::parse_bool("read_only", opts.get("read_only"))
        .map_err(LakeError::invalid)?
        .unwrap_or(false);
    Ok(ServerConfig {
        read_only,
        catalog_name: opts.get("catalog_name").cloned().unwrap_or_else(|| name.clone()),
        name,
        warehouse,
        s3,
    })
}

pub use crate::fdw::source::{relation_display, with_mapping_user};

/// A foreign table's options.
#[derive(Debug, Clone)]
pub struct TableOptions {
    pub namespace: Option<String>,
    pub table: String,
    pub metadata_location: Option<String>,
    pub snapshot_id: Option<i64>,
}

/// Refuse anything but a foreign table of the iceberg wrapper, with an error
/// that names the relation (instead of a catalog lookup failure).
pub fn require_iceberg_table(rel: pg_sys::Oid) -> LakeResult<()> {
    if is_iceberg_table(rel) {
        Ok(())
    } else {
        Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("relation {} is not an Iceberg foreign table", relation_display(rel)),
        )
        .with_hint("Maintenance functions take foreign tables of servers of the iceberg wrapper."))
    }
}

/// Whether `rel` is a foreign table of the iceberg wrapper.
pub fn is_iceberg_table(rel: pg_sys::Oid) -> bool {
    fdw_source::is_foreign_table_of(rel, WRAPPER)
}

/// The name of the wrapper (pg_foreign_data_wrapper.fdwname).
pub const WRAPPER: &str = "iceberg";

/// A foreign table's Iceberg options and its server.
pub fn table_options(relid: pg_sys::Oid) -> LakeResult<(TableOptions, pg_sys::Oid)> {
    let (opts, server_oid) = fdw_source::table_options(relid);
    let relname = fdw_source::relation_name(relid).unwrap_or_default();
    let snapshot_id = match opts.get("snapshot_id") {
        Some(s) => Some(super::timetravel::parse_snapshot_id(s).map_err(LakeError::invalid)?),
        None => None,
    };
    let t = TableOptions {
        namespace: opts.get("namespace").cloned(),
        table: opts.get("table").cloned().unwrap_or(relname),
        metadata_location: opts.get("metadata_location").cloned(),
        snapshot_id,
    };
    if t.namespace.is_none() && t.metadata_location.is_none() {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
            format!("foreign table \"{}\" names no Iceberg table", t.table),
        )
        .with_hint("Give OPTIONS (namespace 'ns', table 't') or OPTIONS (metadata_location '…/metadata/vN.metadata.json'), or use IMPORT FOREIGN SCHEMA."));
    }
    Ok((t, server_oid))
    }

/// An Iceberg table resolved to its current metadata.
#[derive(Clone)]
pub struct ResolvedTable {
    pub server: ServerConfig,
    pub options: TableOptions,
    pub display_name: String,
    pub metadata_location: String,
    pub metadata: TableMetadataRef,
}

impl ResolvedTable {
    /// The table at this metadata file. Cached per backend by storage
    /// settings, metadata location and identifier, so that its object cache
    /// (parsed manifest lists and manifests) serves every later scan of the
    /// same snapshot: a nested loop's rescans and repeated statements do not
    /// re-read the manifests. Never stale: a metadata file, and every
    /// manifest it reaches, is immutable (a commit writes new ones, and
    /// `resolve` reads the current location from the catalog each time).
    pub fn table(&self) -> LakeResult<Table> {
        // iceberg wants a namespaced identifier; a table attached by its
        // metadata file has none, so it gets a fixed one.
        let ident = match &self.options.namespace {
            Some(ns) if self.options.metadata_location.is_none() => {
                TableIdent::from_strs([ns.as_str(), self.options.table.as_str()])
            }
            _ => TableIdent::from_strs(["metadata_location", self.options.table.as_str()]),
        }
        .map_err(|e| LakeError::internal(iceberg_message(&e)))?;
        // One entry per table and storage settings: a newer metadata file
        // of the same table replaces the older one's entry (its manifests
        // are of no use to later scans), so a table written often does not
        // fill the cache with its past versions.
        let key = format!("{}\n{}", serde_json::to_string(&self.server.s3).unwrap_or_default(), ident);
        if let Some(hit) = TABLE_CACHE.with(|c| {
            c.borrow().get(&key).filter(|(location, _)| *location == self.metadata_location).map(|(_, t)| t.clone())
        }) {
            return Ok(hit);
        }
        let table = Table::builder()
            .metadata(self.metadata.clone())
            .metadata_location(self.metadata_location.clone())
            .identifier(ident)
            .file_io(self.server.file_io())
            .readonly(true)
            .runtime(iceberg_runtime())
            .build()
            .map_err(|e| LakeError::internal(self.server.scrub(&iceberg_message(&e))))?;
        TABLE_CACHE.with(|c| {
            let mut c = c.borrow_mut();
            // Bounded: each entry holds up to its object cache's capacity.
            if c.len() >= TABLE_CACHE_ENTRIES && !c.contains_key(&key) {
                c.clear();
            }
            c.insert(key, (self.metadata_location.clone(), table.clone()));
        });
        Ok(table)
    }
}

/// Tables (with their manifest caches, up to 32 MiB each) kept per backend.
const TABLE_CACHE_ENTRIES: usize = 16;

thread_local! {
    /// By storage settings and table identifier: the metadata file the
    /// entry was built from, and the table.
    static TABLE_CACHE: RefCell<HashMap<String, (String, Table)>> = RefCell::new(HashMap::new());
}

/// Look up the foreign table's current metadata (catalog row, then file).
pub fn resolve(relid: pg_sys::Oid) -> LakeResult<ResolvedTable> {
    let (options, server_oid) = table_options(relid)?;
    let server = server_config(server_oid)?;
    let (display_name, location) = match &options.metadata_location {
        Some(loc) => (options.table.clone(), loc.clone()),
        None => {
            let ns = options.namespace.clone().unwrap_or_default();
            let name = format!("{ns}.{}", options.table);
            match catalog::metadata_location(&server.catalog_name, &ns, &options.table)? {
                Some(loc) => {
                    let owner = crate::pg::security::relation_owner(relid).unwrap_or(pg_sys::Oid::INVALID);
                    catalog::attach_check(relid, owner, &server.catalog_name, &ns, &options.table)?;
                    (name, loc)
                }
                None => {
                    return Err(LakeError::new(
                        PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                        format!(
                            "Iceberg table \"{name}\" does not exist in catalog \"{}\"",
                            server.catalog_name
                        ),
                    )
                    .with_hint("List the catalog's tables with SELECT * FROM lake.iceberg_tables; the server option catalog_name selects the catalog."))
                }
            }
        }
    };
    let metadata = load_metadata(&server, &location)?;
    Ok(ResolvedTable { server, options, display_name, metadata_location: location, metadata })
}

/// Parse a metadata file, cached per backend by location (metadata files are
/// immutable: a commit writes a new one).
pub fn load_metadata(server: &ServerConfig, location: &str) -> LakeResult<TableMetadataRef> {
    block_on(fetch_metadata(server, location))
}

thread_local! {
    static METADATA_CACHE: RefCell<HashMap<String, TableMetadataRef>> = RefCell::new(HashMap::new());
}

/// `load_metadata` for callers already inside `block_on` (catalog commits).
/// The cache is only touched between awaits, on the backend thread.
pub async fn fetch_metadata(server: &ServerConfig, location: &str) -> LakeResult<TableMetadataRef> {
    const CACHE: &std::thread::LocalKey<RefCell<HashMap<String, TableMetadataRef>>> = &METADATA_CACHE;
    // Keyed by storage settings too: another server or role must prove it
    // can read the file itself.
    let key = format!("{}\n{location}", serde_json::to_string(&server.s3).unwrap_or_default());
    if let Some(hit) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(hit);
    }
    let file_io = server.file_io();
    let bytes = async { file_io.new_input(location)?.read().await }.await.map_err(|e| {
        LakeError::new(
            PgSqlErrorCode::ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
            format!("cannot read Iceberg metadata file: {}", server.scrub(&iceberg_message(&e))),
        )
        .with_hint(server.storage_hint("Check the metadata_location / catalog entry, that the file exists, and the server's storage settings and credentials."))
    })?;
    let metadata: TableMetadata = serde_json::from_slice(&bytes).map_err(|e| {
        LakeError::new(
            PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
            format!("\"{location}\" is not a valid Iceberg table metadata file: {e}"),
        )
        .with_hint("The file may be corrupt or not an Iceberg metadata.json.")
    })?;
    let metadata = TableMetadataRef::new(metadata);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(key, metadata.clone());
    });
    Ok(metadata)
}

/// `Err` when the current user may not change or look into the history of
/// the Iceberg table behind foreign table `relid` (`what`: what it wanted):
/// a table another role owns and only allowed this role to attach gives
/// reading and writing, not its schema, layout, history or files.
/// Governed tables (their own rules) and unrecorded tables pass; members of
/// `lake_maintainer` too when `maintainers_may`.
pub fn require_table_owner(relid: pg_sys::Oid, resolved: &ResolvedTable, what: &str, maintainers_may: bool) -> LakeResult<()> {
    use crate::pg::security::{current_user, has_privs_of_role, is_superuser};
    let user = current_user();
    if is_superuser(user) || resolved.options.metadata_location.is_some() {
        return Ok(());
    }
    let Some(ns) = resolved.options.namespace.as_deref() else { return Ok(()) };
    let record = super::catalog::table_owner(&resolved.server.catalog_name, ns, &resolved.options.table)?;
    match record {
        Some(r) if !r.governed && !has_privs_of_role(user, r.owner) => {
            let maintainer = crate::pg::security::role_oid(c"lake_maintainer").is_some_and(|m| has_privs_of_role(user, m));
            if maintainer && maintainers_may {
                return Ok(());
            }
            Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "{what} on {}: its Iceberg table {} belongs to another role",
                    relation_display(relid),
                    resolved.display_name
                ),
            )
            .with_hint("Attaching another role's table lets you read and write its current rows; its owner changes its schema and reads its history."))
        }
        _ => Ok(()),
    }
}
