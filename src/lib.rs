//! townlake: a governed lakehouse inside PostgreSQL.
//!
//! Parts live in their own folders: `iceberg/` (the Iceberg foreign data
//! wrapper, with its in-database catalog and object storage), `clickhouse/`
//! (the ClickHouse foreign data wrapper), `fdw/` (the
//! wrapper-neutral FDW layer) and `pg/` (shims over Postgres internals).

use pgrx::prelude::*;

pub mod audit;
pub mod catalog;
pub mod clickhouse;
pub mod errors;
pub mod fdw;
pub mod governance;
pub mod iceberg;
pub mod pg;
pub mod pii;
pub mod runtime;
pub mod transform;

::pgrx::pg_module_magic!();

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    iceberg::settings::init();
    clickhouse::settings::init();
    governance::init();
    audit::init();
    pii::init();
    transform::init();
    // After governance and audit: see there.
    iceberg::init();
    pg::hooks::install();
    // SAFETY: plain read of a postmaster flag.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        pg::worker::register_launcher();
    }
    pg::settings::reserve_prefix();
}

// Schema lake is the API; lake_internal holds what townlake's own code calls
// and users should not (docs/architecture-sql.md). pgrx creates it before
// the functions declared with `schema = "lake_internal"` and the SQL blocks
// that name it in their `requires`.
#[pg_schema]
mod lake_internal {}

// The last block of the extension script: privileges that span the parts and
// dump/restore support for every part's tables.
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[cfg(feature = "pg_test")]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn extension_creates_catalog_and_default_server() {
        let n = Spi::get_one::<i64>(
            "SELECT count(*) FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw \
             WHERE s.srvname = 'lake_local' AND w.fdwname = 'iceberg'",
        );
        assert_eq!(n, Ok(Some(1)));
        let cols = Spi::get_one::<String>(
            "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns \
             WHERE table_schema = 'lake' AND table_name = 'iceberg_tables'",
        );
        assert_eq!(
            cols,
            Ok(Some(
                "catalog_name,table_namespace,table_name,metadata_location,previous_metadata_location,iceberg_type"
                    .to_string()
            ))
        );
    }

    #[pg_test]
    fn warehouse_defaults_to_a_file_uri() {
        let w = Spi::get_one::<String>("SELECT current_setting('townlake.iceberg_warehouse')").unwrap().unwrap();
        assert!(w.starts_with("file:///") && w.ends_with("/townlake_warehouse"), "{w}");
    }

    #[pg_test(error = "invalid option \"bogus\" for an iceberg server")]
    fn unknown_server_option_is_rejected() {
        Spi::run("CREATE SERVER bad FOREIGN DATA WRAPPER iceberg OPTIONS (bogus 'x')").unwrap();
    }

    #[pg_test(error = "option \"s3_path_style\" must be true or false, not \"maybe\"")]
    fn bad_boolean_option_is_rejected() {
        Spi::run("CREATE SERVER bad FOREIGN DATA WRAPPER iceberg OPTIONS (s3_path_style 'maybe')").unwrap();
    }

    #[pg_test(error = "Iceberg table nope.missing does not exist and server \"ro\" is read-only")]
    fn missing_table_on_read_only_server_is_an_error() {
        Spi::run("CREATE SERVER ro FOREIGN DATA WRAPPER iceberg OPTIONS (read_only 'true')").unwrap();
        Spi::run("CREATE FOREIGN TABLE t (a int) SERVER ro OPTIONS (namespace 'nope', \"table\" 'missing')")
            .unwrap();
    }

    #[pg_test]
    fn create_foreign_table_registers_an_iceberg_table() {
        Spi::run(
            "CREATE FOREIGN TABLE ev (id bigint, ts timestamptz) SERVER lake_local \
             OPTIONS (namespace 'pgtest', \"table\" 'ev', partition_by 'day(ts)')",
        )
        .unwrap();
        let n = Spi::get_one::<i64>(
            "SELECT count(*) FROM lake.iceberg_tables WHERE table_namespace = 'pgtest' AND table_name = 'ev'",
        );
        assert_eq!(n, Ok(Some(1)));
        Spi::run("INSERT INTO ev SELECT g, now() FROM generate_series(1, 10) g").unwrap();
        // Read-your-writes inside the (test's) transaction.
        assert_eq!(Spi::get_one::<i64>("SELECT count(*) FROM ev"), Ok(Some(10)));
    }

    #[pg_test(
        error = "invalid partition_by: unknown partition transform \"weekly\"; use identity, year, month, day, hour, bucket(n, col) or truncate(w, col)"
    )]
    fn bad_partition_spec_is_rejected() {
        Spi::run(
            "CREATE FOREIGN TABLE ev (ts timestamptz) SERVER lake_local \
             OPTIONS (namespace 'pgtest', \"table\" 'bad', partition_by 'weekly(ts)')",
        )
        .unwrap();
    }

    #[pg_test]
    fn missing_metadata_file_is_an_error_and_backend_survives() {
        Spi::run(
            "CREATE FOREIGN TABLE t (a int) SERVER lake_local \
             OPTIONS (metadata_location 'file:///nonexistent/v1.metadata.json')",
        )
        .unwrap();
        let failed = PgTryBuilder::new(|| Spi::run("SELECT * FROM t").is_err())
            .catch_others(|e| match &e {
                // Only the Postgres ERROR with our message counts; a Rust
                // panic or any other error fails the test.
                pgrx::pg_sys::panic::CaughtError::PostgresError(r) => {
                    assert!(r.message().contains("cannot read Iceberg metadata file"), "{}", r.message());
                    assert!(r.hint().is_some());
                    true
                }
                other => panic!("expected a Postgres ERROR, got {other:?}"),
            })
            .execute();
        assert!(failed);
        assert_eq!(Spi::get_one::<i32>("SELECT 1"), Ok(Some(1)));
    }

    // ---- the security shims (src/pg/security.rs) in a real backend

    use crate::pg::security::{run_as, PinnedSearchPath};

    fn search_path() -> String {
        Spi::get_one::<String>("SELECT current_setting('search_path')").unwrap().unwrap()
    }

    #[pg_test]
    fn pinned_search_path_is_restored() {
        Spi::run("SET search_path = public, pg_catalog").unwrap();
        {
            let _pin = PinnedSearchPath::new();
            assert_eq!(search_path(), "pg_catalog, lake, pg_temp");
        }
        assert_eq!(search_path(), "public, pg_catalog");
    }

    #[pg_test]
    fn run_as_switches_user_and_path_and_restores_both() {
        Spi::run("CREATE ROLE tl_pgtest_nobody NOLOGIN").unwrap();
        Spi::run("SET search_path = public").unwrap();
        let nobody = Spi::get_one::<pg_sys::Oid>("SELECT 'tl_pgtest_nobody'::regrole::oid").unwrap().unwrap();
        let before = Spi::get_one::<String>("SELECT current_user::text").unwrap().unwrap();
        let inside = run_as(nobody, || {
            (Spi::get_one::<String>("SELECT current_user::text").unwrap().unwrap(), search_path())
        });
        assert_eq!(inside, ("tl_pgtest_nobody".to_string(), "pg_catalog, lake, pg_temp".to_string()));
        assert_eq!(Spi::get_one::<String>("SELECT current_user::text").unwrap().unwrap(), before);
        assert_eq!(search_path(), "public");
    }

    #[pg_test]
    fn user_and_path_come_back_after_an_error_inside() {
        Spi::run("SET search_path = public").unwrap();
        let before = Spi::get_one::<String>("SELECT current_user::text").unwrap().unwrap();
        let caught = PgTryBuilder::new(|| {
            run_as(pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID), || {
                Spi::run("SELECT 1/0").unwrap();
            });
            false
        })
        .catch_when(PgSqlErrorCode::ERRCODE_DIVISION_BY_ZERO, |_| true)
        .execute();
        assert!(caught);
        assert_eq!(Spi::get_one::<String>("SELECT current_user::text").unwrap().unwrap(), before);
        assert_eq!(search_path(), "public");
    }

    #[pg_test(error = "governance operation \"enable_pii\" cannot be called from SQL")]
    fn internal_operations_are_refused_from_sql() {
        Spi::run("SELECT lake_internal._privileged('enable_pii', '{\"reason\": \"x\"}')").unwrap();
    }

    #[pg_test(error = "Iceberg table \"pgtest.nothere\" does not exist in catalog \"lake_local\"")]
    fn attach_only_never_creates() {
        Spi::run(
            "CREATE FOREIGN TABLE t (a int) SERVER lake_local \
             OPTIONS (namespace 'pgtest', \"table\" 'nothere', attach_only 'true')",
        )
        .unwrap();
    }
}

#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'townlake'"]
    }
}
