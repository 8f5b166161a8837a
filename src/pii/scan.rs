//! Scanning one relation through SPI: read its columns, sample rows (pass 1),
//! fetch live statistics and rescore with table context when anything was
//! found (pass 2), then store findings without raw values.
//!
//! The scanner runs as a superuser (the worker) or as whoever calls
//! `lake.scan`, over relations anyone may own, so it never executes code a
//! relation's owner could have written: values are turned into text only by
//! built-in (or superuser-installed C) output functions, never through a cast
//! (a type's owner can define one); views are not read; foreign tables only
//! through townlake's own wrappers; and all SQL runs with `search_path`
//! pinned and row security off (see `ScanSettings`).

use pgrx::prelude::*;
use pgrx::spi::{SpiClient, SpiError};

use super::classifier::{
    classify_table, ColumnInput, ColumnProfile, Detection, InfoType, LiveStats, Sensitivity, TypeClass,
    CLASSIFIER_VERSION,
};
use crate::errors::{LakeError, LakeResult};

fn spi_error(context: &str) -> impl Fn(SpiError) -> LakeError + '_ {
    move |e| LakeError::internal(format!("{context}: {e}"))
}

/// How a column's values become text without running user code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAs {
    /// The column's type is (a domain over) a built-in type: a cast to text
    /// only finds built-in casts (nobody but the bootstrap superuser owns
    /// these types, and casts from a domain are ignored by Postgres).
    BuiltinCast,
    /// A type whose owner could define a cast (enum, array, range of safe
    /// types, or a base type with a C output function): printed by its output
    /// function through `format('%s')`, which looks no cast up.
    OutputFunction,
}

#[derive(Debug, Clone)]
pub struct ColumnMeta {
    pub attnum: i16,
    pub name: String,
    pub type_name: String,
    pub type_class: TypeClass,
    /// Table a single-column foreign key on this column points at.
    pub references: Option<String>,
    /// None: the type's text output could run user code (composite types and
    /// anything over them); the column is classified by name and type only.
    pub read_as: Option<ReadAs>,
}

#[derive(Debug, Clone)]
pub struct RelationMeta {
    pub oid: pg_sys::Oid,
    /// `regclass` text: quoted and schema-qualified as needed.
    pub qualified: String,
    pub schema: String,
    pub name: String,
    pub relkind: String,
    pub relfilenode: i64,
    pub signature: String,
    pub modifications: i64,
    pub live_rows: i64,
    pub pages: i64,
    pub relpages: i64,
    pub reltuples: f64,
    pub populated: bool,
    pub columns: Vec<ColumnMeta>,
    /// Why no rows are read at all (names and types are still classified).
    pub not_read: Option<String>,
}

impl RelationMeta {
    fn is_heap(&self) -> bool {
        self.relkind == "r" || self.relkind == "m"
    }
}

/// Oids below this are built into Postgres (`FirstNormalObjectId`).
const FIRST_NORMAL_OID: u32 = pg_sys::FirstNormalObjectId;
/// `pg_language` oids of `internal` and `c`: only superusers create functions in them.
const INTERNAL_LANGUAGE: u32 = 12;
const C_LANGUAGE: u32 = 13;

/// Settings every scan runs under, whoever calls it: `search_path` pinned to
/// `pg_catalog, lake, pg_temp` (so no function, operator or type planted in a
/// caller's schema resolves) and `row_security = off` (a policy's functions
/// would run as the scanner; a relation it would filter fails instead). A GUC
/// nest level, as Postgres uses for a function's `SET` clause: popped when the
/// guard drops, or by the (sub)transaction abort.
pub struct ScanSettings {
    level: i32,
}

impl ScanSettings {
    pub fn enter() -> Self {
        // SAFETY: backend thread inside a transaction; set_config_option
        // copies the strings.
        unsafe {
            let level = pg_sys::NewGUCNestLevel();
            for (name, value) in [(c"search_path", c"pg_catalog, lake, pg_temp"), (c"row_security", c"off")] {
                pg_sys::set_config_option(
                    name.as_ptr(),
                    value.as_ptr(),
                    pg_sys::GucContext::PGC_USERSET,
                    pg_sys::GucSource::PGC_S_SESSION,
                    pg_sys::GucAction::GUC_ACTION_SAVE,
                    true,
                    0,
                    false,
                );
            }
            ScanSettings { level }
        }
    }
}

impl Drop for ScanSettings {
    fn drop(&mut self) {
        // SAFETY: pops exactly the level pushed in enter().
        unsafe { pg_sys::AtEOXact_GUC(!std::thread::panicking(), self.level) };
    }
}

/// How values of type `typid` can be read as text without user code, if at all.
fn read_as(client: &SpiClient<'_>, typid: pg_sys::Oid, depth: u32) -> LakeResult<Option<ReadAs>> {
    if u32::from(typid) < FIRST_NORMAL_OID {
        return Ok(Some(ReadAs::BuiltinCast));
    }
    if depth > 8 {
        return Ok(None);
    }
    let err = spi_error("cannot read a column type");
    let rows = client
        .select(
            "SELECT t.typtype::text, t.typbasetype, t.typelem, t.typoutput::oid, p.prolang, \
                    (SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid OPERATOR(pg_catalog.=) t.oid), \
                    (SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid OPERATOR(pg_catalog.=) t.oid) \
             FROM pg_catalog.pg_type t JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) t.typoutput \
             WHERE t.oid OPERATOR(pg_catalog.=) $1",
            None,
            &[typid.into()],
        )
        .map_err(&err)?;
    let mut found = None;
    for row in rows {
        found = Some((
            row.get::<String>(1).map_err(&err)?.unwrap_or_default(),
            row.get::<pg_sys::Oid>(2).map_err(&err)?.unwrap_or(pg_sys::Oid::INVALID),
            row.get::<pg_sys::Oid>(3).map_err(&err)?.unwrap_or(pg_sys::Oid::INVALID),
            row.get::<pg_sys::Oid>(4).map_err(&err)?.unwrap_or(pg_sys::Oid::INVALID),
            row.get::<pg_sys::Oid>(5).map_err(&err)?.unwrap_or(pg_sys::Oid::INVALID),
            row.get::<pg_sys::Oid>(6).map_err(&err)?,
            row.get::<pg_sys::Oid>(7).map_err(&err)?,
        ));
    }
    let Some((typtype, base, elem, output, lang, subtype, range)) = found else { return Ok(None) };
    let inner = |t: pg_sys::Oid| -> LakeResult<Option<ReadAs>> {
        Ok(read_as(client, t, depth + 1)?.map(|_| ReadAs::OutputFunction))
    };
    match typtype.as_str() {
        // A domain prints with its base type's output function; casts from a
        // domain are ignored by Postgres, so a built-in base keeps its casts.
        "d" => read_as(client, base, depth + 1),
        // enum_out is built in; the cast is avoided because the owner may define one.
        "e" => Ok(Some(ReadAs::OutputFunction)),
        "r" => subtype.map_or(Ok(None), inner),
        "m" => range.map_or(Ok(None), inner),
        "b" if u32::from(output) == pg_sys::F_ARRAY_OUT && elem != pg_sys::Oid::INVALID => inner(elem),
        // Base types need a superuser (C functions), e.g. an extension's citext.
        "b" if [INTERNAL_LANGUAGE, C_LANGUAGE].contains(&u32::from(lang)) => Ok(Some(ReadAs::OutputFunction)),
        // Composite types print through their attributes' types and any cast
        // their owner defines: not read.
        _ => Ok(None),
    }
}

/// Why the rows of a relation are not read, if they are not.
fn why_not_read(client: &SpiClient<'_>, meta: &RelationMeta) -> LakeResult<Option<String>> {
    let err = spi_error("cannot check the relation's source");
    match meta.relkind.as_str() {
        "r" | "m" => Ok(None),
        // Reading a view runs every function in its definition, as the scanner.
        "v" => Ok(Some("a view's definition could run user code; its base tables are scanned instead".into())),
        "f" | "p" => {
            // Other wrappers could run user code or send our reads to a server
            // the owner chose; townlake's own wrappers convert only built-in types.
            let foreign = client
                .select(
                    "SELECT count(*) FILTER (WHERE NOT EXISTS ( \
                        SELECT 1 FROM pg_catalog.pg_foreign_table ft \
                        JOIN pg_catalog.pg_foreign_server s ON s.oid OPERATOR(pg_catalog.=) ft.ftserver \
                        JOIN pg_catalog.pg_depend d ON d.objid OPERATOR(pg_catalog.=) s.srvfdw \
                             AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass \
                             AND d.deptype OPERATOR(pg_catalog.=) 'e' \
                        JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid \
                             AND e.extname OPERATOR(pg_catalog.=) 'townlake' \
                        WHERE ft.ftrelid OPERATOR(pg_catalog.=) c.oid))::int8 \
                     FROM pg_catalog.pg_class c \
                     WHERE c.relkind OPERATOR(pg_catalog.=) 'f' AND (c.oid OPERATOR(pg_catalog.=) $1 OR c.oid IN \
                        (SELECT t.relid FROM pg_catalog.pg_partition_tree($1) t))",
                    None,
                    &[meta.oid.into()],
                )
                .and_then(|t| t.first().get_one::<i64>())
                .map_err(&err)?
                .unwrap_or(0);
            if foreign > 0 {
                return Ok(Some("foreign tables of other wrappers are not read".into()));
            }
            if meta.columns.iter().any(|c| c.read_as.is_none()) {
                return Ok(Some("a wrapper would convert values of user-defined types".into()));
            }
            Ok(None)
        }
        other => Ok(Some(format!("relations of kind {other} are not read"))),
    }
}

/// Reads a relation's description. `None` if it does not exist (any more).
/// Runs under `ScanSettings` (unqualified names resolve in `pg_catalog`).
pub fn load_meta(client: &SpiClient<'_>, oid: pg_sys::Oid) -> LakeResult<Option<RelationMeta>> {
    let err = spi_error("cannot read the relation's description");
    let rows = client
        .select(
            "SELECT c.oid::regclass::text, n.nspname::text, c.relname::text, c.relkind::text, c.relfilenode::int8, \
                    c.reltuples::float8, c.relpages::int8, \
                    (CASE WHEN c.relkind IN ('r', 'm') THEN pg_relation_size(c.oid) / current_setting('block_size')::int8 ELSE 0 END)::int8, \
                    c.relispopulated, COALESCE(s.n_tup_ins + s.n_tup_upd, 0)::int8, COALESCE(s.n_live_tup, 0)::int8, \
                    lake_internal.pii_columns_signature(c.oid) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid \
             WHERE c.oid = $1",
            None,
            &[oid.into()],
        )
        .map_err(&err)?;
    let mut meta = None;
    for row in rows {
        meta = Some(RelationMeta {
            oid,
            qualified: row.get::<String>(1).map_err(&err)?.unwrap_or_default(),
            schema: row.get::<String>(2).map_err(&err)?.unwrap_or_default(),
            name: row.get::<String>(3).map_err(&err)?.unwrap_or_default(),
            relkind: row.get::<String>(4).map_err(&err)?.unwrap_or_default(),
            relfilenode: row.get::<i64>(5).map_err(&err)?.unwrap_or(0),
            reltuples: row.get::<f64>(6).map_err(&err)?.unwrap_or(-1.0),
            relpages: row.get::<i64>(7).map_err(&err)?.unwrap_or(0),
            pages: row.get::<i64>(8).map_err(&err)?.unwrap_or(0),
            populated: row.get::<bool>(9).map_err(&err)?.unwrap_or(true),
            modifications: row.get::<i64>(10).map_err(&err)?.unwrap_or(0),
            live_rows: row.get::<i64>(11).map_err(&err)?.unwrap_or(0),
            signature: row.get::<String>(12).map_err(&err)?.unwrap_or_default(),
            columns: Vec::new(),
            not_read: None,
        });
    }
    let Some(mut meta) = meta else {
        return Ok(None);
    };
    let rows = client
        .select(
            "SELECT a.attnum::int4, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                    format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, NULL), \
                    (SELECT r.relname::text FROM pg_constraint k JOIN pg_class r ON r.oid = k.confrelid \
                      WHERE k.conrelid = a.attrelid AND k.contype = 'f' AND k.conkey = ARRAY[a.attnum] LIMIT 1), \
                    a.atttypid \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            None,
            &[oid.into()],
        )
        .map_err(&err)?;
    let mut types = Vec::new();
    for row in rows {
        let base_type = row.get::<String>(4).map_err(&err)?.unwrap_or_default();
        types.push(row.get::<pg_sys::Oid>(6).map_err(&err)?.unwrap_or(pg_sys::Oid::INVALID));
        meta.columns.push(ColumnMeta {
            attnum: row.get::<i32>(1).map_err(&err)?.unwrap_or(0) as i16,
            name: row.get::<String>(2).map_err(&err)?.unwrap_or_default(),
            type_name: row.get::<String>(3).map_err(&err)?.unwrap_or_default(),
            type_class: TypeClass::from_pg(&base_type),
            references: row.get::<String>(5).map_err(&err)?,
            read_as: None,
        });
    }
    for (column, typid) in meta.columns.iter_mut().zip(types) {
        column.read_as = read_as(client, typid, 0)?;
    }
    meta.not_read = why_not_read(client, &meta)?;
    Ok(Some(meta))
}

/// Whether a column is worth reading: its values can be printed without
/// user code and some infotype fits its type.
fn readable(c: &ColumnMeta) -> bool {
    c.read_as.is_some() && InfoType::ALL.iter().any(|&t| c.type_class.admits(t))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `FROM rel [TABLESAMPLE …] LIMIT n` for a sample of about `rows` rows.
/// Heap relations are read `ONLY`: an inheritance child (a foreign table of
/// any wrapper, say) is scanned on its own terms, not through its parent.
fn sample_from(client: &SpiClient<'_>, meta: &RelationMeta, rows: i64) -> LakeResult<String> {
    if !meta.is_heap() {
        // Foreign and partitioned tables: a bounded read (LIMIT is pushed down
        // where the wrapper can).
        return Ok(format!("FROM {} LIMIT {rows}", meta.qualified));
    }
    let estimate = if meta.reltuples > 0.0 && meta.relpages > 0 {
        meta.reltuples * (meta.pages.max(1) as f64 / meta.relpages as f64)
    } else if meta.pages <= 1024 {
        // Never analysed and at most 8 MB: counting is cheap and exact.
        client
            .select(&format!("SELECT pg_catalog.count(*) FROM ONLY {}", meta.qualified), None, &[])
            .and_then(|t| t.first().get_one::<i64>())
            .map_err(spi_error("cannot count the relation's rows"))?
            .unwrap_or(0) as f64
    } else {
        meta.pages as f64 * 60.0
    };
    if estimate <= rows as f64 {
        return Ok(format!("FROM ONLY {} LIMIT {rows}", meta.qualified));
    }
    let percent = (100.0 * rows as f64 * 1.25 / estimate).clamp(0.0001, 100.0);
    // Row-level sampling reads every page; above 64 MB sample whole pages
    // instead, so a big table costs the scanner only the pages it samples.
    let method = if meta.pages > 8_192 { "SYSTEM" } else { "BERNOULLI" };
    Ok(format!("FROM ONLY {} TABLESAMPLE {method} ({percent:.6}) LIMIT {rows}", meta.qualified))
}

/// Text of one column in the sample, truncated: the classifier only needs a
/// prefix, and memory stays bounded. Only built-in functions, schema-qualified.
fn column_expression(c: &ColumnMeta) -> String {
    let max = if c.type_class == TypeClass::Json { 4000 } else { 1000 };
    let col = quote_ident(&c.name);
    let text = match c.read_as {
        Some(ReadAs::BuiltinCast) => format!("CAST({col} AS pg_catalog.text)"),
        // format('%s') calls the type's output function and looks up no cast.
        _ => format!("CASE WHEN {col} IS NULL THEN NULL ELSE pg_catalog.format('%s', {col}) END"),
    };
    format!("pg_catalog.left({text}, {max})")
}

/// The outcome of classifying one relation.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Per column (same order as `meta.columns`): every candidate above 0.05.
    pub detections: Vec<Vec<Detection>>,
    pub rows_sampled: i64,
    pub table_pass: bool,
}

/// Samples and classifies a relation (both passes). Reads only.
pub fn analyse(client: &SpiClient<'_>, meta: &RelationMeta, sample_rows: i32) -> LakeResult<Analysis> {
    let readable_cols: Vec<usize> = (0..meta.columns.len()).filter(|&i| readable(&meta.columns[i])).collect();
    let mut profiles: Vec<ColumnProfile> = meta.columns.iter().map(|_| ColumnProfile::new()).collect();
    // Wide tables: fewer rows, so a sample stays within a few hundred MB at worst.
    let rows = (sample_rows as i64).min((200_000 / readable_cols.len().max(1) as i64).max(100));
    let mut rows_sampled = 0i64;
    if meta.not_read.is_none() && !readable_cols.is_empty() && (meta.relkind != "m" || meta.populated) {
        let select_list: Vec<String> = readable_cols.iter().map(|&i| column_expression(&meta.columns[i])).collect();
        let query = format!("SELECT {} {}", select_list.join(", "), sample_from(client, meta, rows)?);
        let err = spi_error("cannot sample the relation");
        let table = client.select(&query, None, &[]).map_err(&err)?;
        for row in table {
            rows_sampled += 1;
            for (k, &i) in readable_cols.iter().enumerate() {
                let value = row.get::<String>(k + 1).map_err(&err)?;
                profiles[i].add(value.as_deref());
            }
        }
    }
    let names: Vec<String> = meta.columns.iter().map(|c| c.name.clone()).collect();
    let inputs: Vec<ColumnInput> = meta
        .columns
        .iter()
        .map(|c| ColumnInput {
            column_name: c.name.clone(),
            type_name: c.type_name.clone(),
            table_name: meta.name.clone(),
            neighbours: names.iter().filter(|n| **n != c.name).cloned().collect(),
            references: c.references.clone(),
        })
        .collect();
    let any_hit = inputs.iter().zip(&profiles).any(|(input, p)| p.any_hit(input));
    let mut live: Vec<Option<LiveStats>> = vec![None; meta.columns.len()];
    if any_hit && rows_sampled > 0 {
        live = live_stats(client, meta, &inputs, &profiles, rows)?;
    }
    let columns: Vec<(ColumnInput, ColumnProfile)> = inputs.into_iter().zip(profiles).collect();
    // Pass 2 runs with table context; without any hit it changes nothing, so
    // only its cost is saved.
    let detections = classify_table(&columns, if any_hit { &live } else { &[] });
    Ok(Analysis { detections, rows_sampled, table_pass: any_hit })
}

/// Pass 2's live checks: distinct ratio and value lengths over a larger
/// sample, for columns whose pass-1 candidates are identifiers or names.
fn live_stats(
    client: &SpiClient<'_>,
    meta: &RelationMeta,
    inputs: &[ColumnInput],
    profiles: &[ColumnProfile],
    rows: i64,
) -> LakeResult<Vec<Option<LiveStats>>> {
    let mut out = vec![None; meta.columns.len()];
    let wanted: Vec<usize> = (0..meta.columns.len())
        .filter(|&i| {
            readable(&meta.columns[i])
                && profiles[i].score(&inputs[i], &Default::default(), None).iter().any(|d| d.confidence >= 0.2)
        })
        .take(64)
        .collect();
    if wanted.is_empty() {
        return Ok(out);
    }
    let inner: Vec<String> =
        wanted.iter().enumerate().map(|(k, &i)| format!("{} AS c{k}", column_expression(&meta.columns[i]))).collect();
    let outer: Vec<String> = (0..wanted.len())
        .map(|k| {
            format!(
                "pg_catalog.count(c{k})::int8, pg_catalog.count(DISTINCT c{k})::int8, \
                 COALESCE(pg_catalog.min(pg_catalog.length(c{k})), 0)::int4, \
                 COALESCE(pg_catalog.max(pg_catalog.length(c{k})), 0)::int4, \
                 COALESCE(pg_catalog.avg(pg_catalog.length(c{k})), 0)::float8"
            )
        })
        .collect();
    let query = format!(
        "SELECT {} FROM (SELECT {} {}) s",
        outer.join(", "),
        inner.join(", "),
        sample_from(client, meta, rows * 5)?
    );
    let err = spi_error("cannot compute live statistics");
    let table = client.select(&query, None, &[]).map_err(&err)?;
    for row in table {
        for (k, &i) in wanted.iter().enumerate() {
            let base = k * 5;
            out[i] = Some(LiveStats {
                non_null: row.get::<i64>(base + 1).map_err(&err)?.unwrap_or(0) as u64,
                distinct: row.get::<i64>(base + 2).map_err(&err)?.unwrap_or(0) as u64,
                min_len: row.get::<i32>(base + 3).map_err(&err)?.unwrap_or(0) as u32,
                max_len: row.get::<i32>(base + 4).map_err(&err)?.unwrap_or(0) as u32,
                avg_len: row.get::<f64>(base + 5).map_err(&err)?.unwrap_or(0.0),
            });
        }
    }
    Ok(out)
}

/// What the review queue should do with a column: its sensitivity and the
/// mask (a `lake.mask_*` regprocedure, as text) that fits its type.
pub fn suggestion(detections: &[&Detection], type_class: TypeClass) -> (Option<&'static str>, Option<String>) {
    let restricted = detections.iter().find(|d| d.infotype.sensitivity() == Sensitivity::Restricted);
    let lead = match restricted.or_else(|| detections.first()) {
        Some(d) => *d,
        None => return (None, None),
    };
    let textual = type_class == TypeClass::Text;
    let redact = "lake.mask_redact(anyelement)";
    let mask = match lead.infotype {
        InfoType::Email if textual => "lake.mask_email(text)",
        InfoType::Ipv4 | InfoType::Ipv6 if type_class == TypeClass::Inet => "lake.mask_ip_prefix(inet)",
        InfoType::Ipv4 | InfoType::Ipv6 | InfoType::MacAddress | InfoType::UserTrackingId if textual => {
            "lake.mask_hash(text)"
        }
        InfoType::DateOfBirth if type_class == TypeClass::Date => "lake.mask_year(date)",
        InfoType::Phone | InfoType::PersonName | InfoType::Postcode | InfoType::CreditCard | InfoType::Iban
            if textual =>
        {
            "lake.mask_partial(text,integer,integer)"
        }
        _ => redact,
    };
    (Some(lead.infotype.sensitivity().as_str()), Some(mask.to_string()))
}

/// Counts for the summary of one stored scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stored {
    pub pii_columns: i32,
    pub changed_columns: i32,
}

/// Writes the findings of `analysis` and the relation's scan state.
pub fn store(
    client: &mut SpiClient<'_>,
    meta: &RelationMeta,
    analysis: &Analysis,
    threshold: f32,
    scanned_by: &str,
    duration_ms: f64,
) -> LakeResult<Stored> {
    let err = spi_error("cannot store PII findings");
    let mut stored = Stored::default();
    let rel = meta.oid;
    let mut changed_names = Vec::new();
    let pii_columns = analysis.detections.iter().filter(|d| d.iter().any(|d| d.confidence >= threshold)).count() as i32;
    // The state row first: column rows reference it.
    record_state(client, meta, analysis.rows_sampled, pii_columns, analysis.table_pass, scanned_by, duration_ms, None)?;
    for (column, detections) in meta.columns.iter().zip(&analysis.detections) {
        let kept: Vec<&Detection> = detections.iter().filter(|d| d.confidence >= threshold).collect();
        let mut infotypes: Vec<String> = kept.iter().map(|d| d.infotype.as_str().to_string()).collect();
        infotypes.sort();
        let (sensitivity, mask) = suggestion(&kept, column.type_class);
        let top = kept.first();
        let changed = client
            .update(
                "INSERT INTO lake.pii_columns AS c (relation, attnum, schema_name, table_name, column_name, type_name, \
                        infotypes, top_infotype, confidence, sensitivity, mask, sampled, classifier_version, scanned_at, changed_at) \
                 VALUES ($1::regclass, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now(), \
                         CASE WHEN cardinality($7::text[]) > 0 THEN now() END) \
                 ON CONFLICT (relation, attnum) DO UPDATE SET \
                    schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, \
                    column_name = EXCLUDED.column_name, type_name = EXCLUDED.type_name, infotypes = EXCLUDED.infotypes, \
                    top_infotype = EXCLUDED.top_infotype, confidence = EXCLUDED.confidence, \
                    sensitivity = EXCLUDED.sensitivity, mask = EXCLUDED.mask, sampled = EXCLUDED.sampled, \
                    classifier_version = EXCLUDED.classifier_version, scanned_at = now(), \
                    changed_at = CASE WHEN c.infotypes IS DISTINCT FROM EXCLUDED.infotypes THEN now() ELSE c.changed_at END \
                 RETURNING COALESCE(changed_at = now(), false)",
                None,
                &[
                    rel.into(),
                    column.attnum.into(),
                    meta.schema.as_str().into(),
                    meta.name.as_str().into(),
                    column.name.as_str().into(),
                    column.type_name.as_str().into(),
                    infotypes.clone().into(),
                    top.map(|d| d.infotype.as_str()).into(),
                    top.map(|d| d.confidence).into(),
                    sensitivity.into(),
                    mask.as_deref().into(),
                    (analysis.rows_sampled.min(i32::MAX as i64) as i32).into(),
                    CLASSIFIER_VERSION.into(),
                ],
            )
            .and_then(|t| t.first().get_one::<bool>())
            .map_err(&err)?
            .unwrap_or(false);
        if changed {
            changed_names.push(column.name.clone());
        }
        client
            .update(
                "DELETE FROM lake.pii_findings WHERE relation = $1::regclass AND attnum = $2 AND NOT (infotype = ANY ($3))",
                None,
                &[rel.into(), column.attnum.into(), infotypes.into()],
            )
            .map_err(&err)?;
        for d in &kept {
            client
                .update(
                    "INSERT INTO lake.pii_findings (relation, attnum, schema_name, table_name, column_name, infotype, \
                            confidence, matches, sampled, evidence, classifier_version, scanned_at) \
                     VALUES ($1::regclass, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now()) \
                     ON CONFLICT (relation, attnum, infotype) DO UPDATE SET \
                        schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, \
                        column_name = EXCLUDED.column_name, confidence = EXCLUDED.confidence, \
                        matches = EXCLUDED.matches, sampled = EXCLUDED.sampled, evidence = EXCLUDED.evidence, \
                        classifier_version = EXCLUDED.classifier_version, scanned_at = now()",
                    None,
                    &[
                        rel.into(),
                        column.attnum.into(),
                        meta.schema.as_str().into(),
                        meta.name.as_str().into(),
                        column.name.as_str().into(),
                        d.infotype.as_str().into(),
                        d.confidence.into(),
                        (d.matches as i32).into(),
                        (d.sampled as i32).into(),
                        d.evidence.clone().into(),
                        CLASSIFIER_VERSION.into(),
                    ],
                )
                .map_err(&err)?;
        }
    }
    let attnums: Vec<i16> = meta.columns.iter().map(|c| c.attnum).collect();
    client
        .update(
            "DELETE FROM lake.pii_columns WHERE relation = $1::regclass AND NOT (attnum = ANY ($2))",
            None,
            &[rel.into(), attnums.into()],
        )
        .map_err(&err)?;
    stored.pii_columns = pii_columns;
    stored.changed_columns = changed_names.len() as i32;
    if !changed_names.is_empty() {
        announce_changes(client, meta, &changed_names)?;
    }
    Ok(stored)
}

/// Upserts the relation's scan state (also after a failed scan, so the
/// queue moves on and retries later).
#[allow(clippy::too_many_arguments)]
pub fn record_state(
    client: &mut SpiClient<'_>,
    meta: &RelationMeta,
    rows_sampled: i64,
    pii_columns: i32,
    table_pass: bool,
    scanned_by: &str,
    duration_ms: f64,
    error: Option<&str>,
) -> LakeResult<()> {
    client
        .update(
            "INSERT INTO lake.pii_scan_state AS s (relation, schema_name, table_name, relkind, relfilenode, columns_signature, \
                    classifier_version, mods_at_scan, rows_at_scan, rows_sampled, columns_scanned, pii_columns, table_pass, \
                    scanned_at, duration_ms, scanned_by, last_error) \
             VALUES ($1::regclass, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now(), $14, $15, $16) \
             ON CONFLICT (relation) DO UPDATE SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name, \
                relkind = EXCLUDED.relkind, relfilenode = EXCLUDED.relfilenode, columns_signature = EXCLUDED.columns_signature, \
                classifier_version = EXCLUDED.classifier_version, mods_at_scan = EXCLUDED.mods_at_scan, \
                rows_at_scan = EXCLUDED.rows_at_scan, rows_sampled = EXCLUDED.rows_sampled, \
                columns_scanned = EXCLUDED.columns_scanned, pii_columns = EXCLUDED.pii_columns, \
                table_pass = EXCLUDED.table_pass, scanned_at = now(), duration_ms = EXCLUDED.duration_ms, \
                scanned_by = EXCLUDED.scanned_by, last_error = EXCLUDED.last_error",
            None,
            &[
                meta.oid.into(),
                meta.schema.as_str().into(),
                meta.name.as_str().into(),
                meta.relkind.as_str().into(),
                meta.relfilenode.into(),
                meta.signature.as_str().into(),
                CLASSIFIER_VERSION.into(),
                meta.modifications.into(),
                meta.live_rows.max(rows_sampled).into(),
                (rows_sampled.min(i32::MAX as i64) as i32).into(),
                (meta.columns.len() as i32).into(),
                pii_columns.into(),
                table_pass.into(),
                duration_ms.into(),
                scanned_by.into(),
                error.into(),
            ],
        )
        .map_err(spi_error("cannot record the scan state"))?;
    Ok(())
}

/// Tells listeners and governance which columns' findings changed
/// (governance logs them for its reviewers: the contract in
/// docs/architecture-sql.md). Looked up first: a database whose townlake
/// objects predate the library has no such function until it is updated.
fn announce_changes(client: &mut SpiClient<'_>, meta: &RelationMeta, columns: &[String]) -> LakeResult<()> {
    let err = spi_error("cannot announce changed PII findings");
    let payload = serde_json::json!({ "relation": meta.qualified, "oid": u32::from(meta.oid), "columns": columns });
    client.update("SELECT pg_notify('townlake_pii', $1)", None, &[payload.to_string().into()]).map_err(&err)?;
    let hook = client
        .select("SELECT to_regprocedure('lake_internal._gov_pii_finding_changed(regclass,name)') IS NOT NULL", None, &[])
        .and_then(|t| t.first().get_one::<bool>())
        .map_err(&err)?
        .unwrap_or(false);
    if hook {
        for column in columns {
            client
                .update(
                    "SELECT lake_internal._gov_pii_finding_changed($1::regclass, $2::name)",
                    None,
                    &[meta.oid.into(), column.as_str().into()],
                )
                .map_err(&err)?;
        }
    }
    Ok(())
}
