//! SQL interface of the PII scanner: `lake.classify`, `lake.scan`,
//! `lake.eval_classifier`, the findings tables and the status views.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use pgrx::prelude::*;

use super::classifier::eval::{self, Judged};
use super::classifier::{classify_column, ColumnInput, CLASSIFIER_VERSION};
use super::scan::{self, RelationMeta};
use super::subxact;
use crate::errors::{LakeError, LakeResult, OrReport};

/// The classifier's version; findings made by another version are rescanned.
#[pg_extern(name = "pii_classifier_version", immutable, parallel_safe)]
fn pii_classifier_version() -> &'static str {
    CLASSIFIER_VERSION
}

fn classify_values(
    values: Option<Vec<Option<String>>>,
    column_name: Option<String>,
    type_name: Option<String>,
) -> Vec<super::classifier::Detection> {
    let values = values.unwrap_or_default();
    let input = ColumnInput {
        column_name: column_name.unwrap_or_default(),
        type_name: type_name.unwrap_or_default(),
        ..Default::default()
    };
    // A caller may pass any number of values of any size: a statement
    // timeout or a cancel must still stop it.
    classify_column(
        &input,
        values.iter().map(|v| {
            pgrx::check_for_interrupts!();
            v.as_deref()
        }),
    )
}

/// Infotypes found in `values` at or above `townlake.pii_threshold`; no rows
/// for a clean column.
#[pg_extern(name = "classify", stable, parallel_safe)]
fn classify(
    values: Option<Vec<Option<String>>>,
    column_name: default!(Option<String>, "NULL"),
) -> TableIterator<'static, (name!(infotype, String), name!(confidence, f32), name!(matches, i32), name!(sampled, i32))>
{
    let threshold = super::threshold();
    let rows: Vec<_> = classify_values(values, column_name, None)
        .into_iter()
        .filter(|d| d.confidence >= threshold)
        .map(|d| (d.infotype.as_str().to_string(), d.confidence, d.matches as i32, d.sampled as i32))
        .collect();
    TableIterator::new(rows)
}

/// Every candidate infotype (also below the threshold) with the evidence
/// behind its confidence: for tuning and for understanding a finding.
#[pg_extern(name = "classify_details", stable, parallel_safe)]
#[allow(clippy::type_complexity)]
fn classify_details(
    values: Option<Vec<Option<String>>>,
    column_name: default!(Option<String>, "NULL"),
    type_name: default!(Option<String>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(infotype, String),
        name!(confidence, f32),
        name!(matches, i32),
        name!(sampled, i32),
        name!(evidence, Vec<String>),
    ),
> {
    let rows: Vec<_> = classify_values(values, column_name, type_name)
        .into_iter()
        .map(|d| (d.infotype.as_str().to_string(), d.confidence, d.matches as i32, d.sampled as i32, d.evidence))
        .collect();
    TableIterator::new(rows)
}

/// Lock keys of relations being scanned: this base plus the oid (locks no
/// SQL can take, so no role can hide a relation from the scanner).
const SCAN_LOCK_BASE: u64 = 0x746c_7069_0000_0000;

/// One relation's scan summary.
type ScanRow = (
    name!(relation, String),
    name!(columns, i32),
    name!(rows_sampled, i32),
    name!(pii_columns, i32),
    name!(changed_columns, i32),
    name!(table_pass, bool),
    name!(duration_ms, f64),
    name!(error, Option<String>),
);

/// Scans one relation now and stores its findings; errors are recorded on
/// the relation's scan state and returned in the summary, not raised.
/// `wait`: block until no one else scans the relation (lake.scan); without it
/// a relation being scanned elsewhere is skipped (the worker).
pub(crate) fn scan_one(oid: pg_sys::Oid, scanned_by: &str, rethrow_cancel: bool, wait: bool) -> Option<ScanRow> {
    // Everything below, the sampling and the bookkeeping, resolves names in
    // pg_catalog and lake only, whoever called us with whatever search_path.
    let _settings = scan::ScanSettings::enter();
    let started = Instant::now();
    let threshold = super::threshold();
    let sample_rows = super::sample_rows();
    // One scan per relation at a time (the worker and lake.scan may meet).
    let lock_key = SCAN_LOCK_BASE + u64::from(u32::from(oid));
    if wait {
        crate::pg::locks::lock(lock_key, crate::pg::locks::Hold::Transaction);
    } else if !crate::pg::locks::try_lock(lock_key, crate::pg::locks::Hold::Transaction) {
        return None;
    }
    let meta = Spi::connect(|client| scan::load_meta(client, oid)).or_report()?;
    if let (Some(why), false) = (&meta.not_read, scanned_by == "worker") {
        pgrx::notice!(
            "townlake: rows of {} are not read ({why}); its columns are classified by name and type",
            meta.qualified
        );
    }
    let outcome = subxact::run(rethrow_cancel, || {
        Spi::connect_mut(|client| -> LakeResult<(scan::Analysis, scan::Stored)> {
            let analysis = scan::analyse(client, &meta, sample_rows)?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let stored = scan::store(client, &meta, &analysis, threshold, scanned_by, ms)?;
            Ok((analysis, stored))
        })
        .or_report()
    });
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok((analysis, stored)) => Some((
            meta.qualified.clone(),
            meta.columns.len() as i32,
            analysis.rows_sampled as i32,
            stored.pii_columns,
            stored.changed_columns,
            analysis.table_pass,
            duration_ms,
            None,
        )),
        Err(failure) => {
            Spi::connect_mut(|client| {
                scan::record_state(client, &meta, 0, 0, false, scanned_by, duration_ms, Some(&failure.message))
            })
            .or_report();
            Some((
                meta.qualified.clone(),
                meta.columns.len() as i32,
                0,
                0,
                0,
                false,
                duration_ms,
                Some(failure.message),
            ))
        }
    }
}

/// The relations waiting for a scan, most urgent first: relations of
/// governed raw schemas before any other. The scanner takes one relation per
/// nap, and any role may create relations in a schema of its own (or alter
/// one again and again): those must not keep governed data, whose findings
/// feed the review queue, waiting for hours.
pub(crate) fn queued_relations(limit: Option<i64>) -> LakeResult<Vec<pg_sys::Oid>> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT q.relation::oid FROM lake_internal.pii_scan_queue() q \
               JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) q.relation::oid \
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
             ORDER BY n.nspname NOT IN (SELECT g.raw_schema FROM lake.governed_schemas g), \
                      q.priority, q.scanned_at NULLS FIRST",
            limit,
            &[],
        )?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(oid) = row.get::<pg_sys::Oid>(1)? {
                out.push(oid);
            }
        }
        Ok(out)
    })
    .map_err(|e: pgrx::spi::SpiError| LakeError::internal(format!("cannot read the scan queue: {e}")))
}

/// Forgets relations that no longer exist.
pub(crate) fn forget_dropped() -> LakeResult<()> {
    Spi::connect_mut(|client| {
        client.update(
            "DELETE FROM lake.pii_scan_state s WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s.relation)",
            None,
            &[],
        )?;
        Ok(())
    })
    .map_err(|e: pgrx::spi::SpiError| LakeError::internal(format!("cannot clean the scan state: {e}")))
}

// The relation arrives as an oid (regclass is an oid on the wire); the C
// symbol keeps its 0.1.0 name (scan_by_oid_wrapper), which the 0.1.0 script
// binds to lake.scan_by_oid.
#[pg_extern(sql = "
CREATE FUNCTION lake.scan(rel regclass DEFAULT NULL)
RETURNS TABLE (relation text, columns int, rows_sampled int, pii_columns int, changed_columns int,
               table_pass boolean, duration_ms float8, error text)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION lake.scan(regclass) IS 'Scan one relation for PII now, or (NULL) every queued relation; returns a summary per relation';
")]
#[allow(clippy::type_complexity)]
fn scan_by_oid(
    rel: Option<pg_sys::Oid>,
) -> TableIterator<
    'static,
    (
        name!(relation, String),
        name!(columns, i32),
        name!(rows_sampled, i32),
        name!(pii_columns, i32),
        name!(changed_columns, i32),
        name!(table_pass, bool),
        name!(duration_ms, f64),
        name!(error, Option<String>),
    ),
> {
    let targets = match rel {
        Some(oid) => vec![oid],
        None => {
            forget_dropped().or_report();
            queued_relations(None).or_report()
        }
    };
    let rows: Vec<ScanRow> = targets.into_iter().filter_map(|oid| scan_one(oid, "lake.scan", true, true)).collect();
    TableIterator::new(rows)
}

// ---------------------------------------------------------------- evaluation

/// One labelled table's columns: labelled and predicted infotypes.
struct EvaluatedColumn {
    table: String,
    column: String,
    labelled: BTreeSet<String>,
    predicted: BTreeSet<String>,
}

fn evaluate(labels: pg_sys::Oid) -> LakeResult<Vec<EvaluatedColumn>> {
    let _settings = scan::ScanSettings::enter();
    let threshold = super::threshold();
    let sample_rows = super::sample_rows();
    // (table oid) -> column -> labelled infotypes
    let mut wanted: BTreeMap<u32, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let label_rows: Vec<(Option<String>, Option<String>, Option<String>)> = Spi::connect(|client| {
        let name = client
            .select("SELECT $1::regclass::text", None, &[labels.into()])?
            .first()
            .get_one::<String>()?
            .unwrap_or_default();
        let rows = client.select(
            &format!("SELECT table_name::text, column_name::text, infotype::text FROM {name}"),
            None,
            &[],
        )?;
        let mut out = Vec::new();
        for row in rows {
            out.push((row.get::<String>(1)?, row.get::<String>(2)?, row.get::<String>(3)?));
        }
        Ok(out)
    })
    .map_err(|e: pgrx::spi::SpiError| {
        LakeError::invalid(format!("cannot read the labels table: {e}"))
            .with_hint("The labels table needs columns table_name (text or regclass), column_name and infotype.")
    })?;
    for (table, column, infotype) in label_rows {
        let (Some(table), Some(column)) = (table, column) else {
            continue;
        };
        let oid = Spi::connect(|client| {
            client
                .select("SELECT to_regclass($1)::oid", None, &[table.as_str().into()])?
                .first()
                .get_one::<pg_sys::Oid>()
        })
        .map_err(|e: pgrx::spi::SpiError| LakeError::internal(e.to_string()))?
        .ok_or_else(|| LakeError::invalid(format!("labelled table \"{table}\" does not exist")))?;
        let entry = wanted.entry(u32::from(oid)).or_default().entry(column).or_default();
        if let Some(t) = infotype.map(|t| t.trim().to_ascii_lowercase()) {
            if !t.is_empty() && t != "none" {
                entry.insert(t);
            }
        }
    }
    let mut out = Vec::new();
    for (oid, labelled_columns) in wanted {
        let oid = pg_sys::Oid::from(oid);
        let (meta, analysis) = Spi::connect(|client| -> LakeResult<(RelationMeta, scan::Analysis)> {
            let meta =
                scan::load_meta(client, oid)?.ok_or_else(|| LakeError::invalid("a labelled table disappeared"))?;
            let analysis = scan::analyse(client, &meta, sample_rows)?;
            Ok((meta, analysis))
        })?;
        // Every column of a labelled table is judged; unlabelled columns are clean.
        for (column, detections) in meta.columns.iter().zip(&analysis.detections) {
            let predicted: BTreeSet<String> = detections
                .iter()
                .filter(|d| d.confidence >= threshold)
                .map(|d| d.infotype.as_str().to_string())
                .collect();
            out.push(EvaluatedColumn {
                table: meta.qualified.clone(),
                column: column.name.clone(),
                labelled: labelled_columns.get(&column.name).cloned().unwrap_or_default(),
                predicted,
            });
        }
        for name in labelled_columns.keys() {
            if !meta.columns.iter().any(|c| &c.name == name) {
                return Err(LakeError::invalid(format!("labelled column {name} does not exist in {}", meta.qualified)));
            }
        }
    }
    Ok(out)
}

type EvalRow = (
    name!(infotype, String),
    name!(labelled, i32),
    name!(predicted, i32),
    name!(true_positives, i32),
    name!(precision, Option<f32>),
    name!(recall, Option<f32>),
    name!(f2, Option<f32>),
);

#[pg_extern(sql = "
CREATE FUNCTION lake.eval_classifier(labels regclass)
RETURNS TABLE (infotype text, labelled int, predicted int, true_positives int, \"precision\" real, recall real, f2 real)
LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION lake.eval_classifier(regclass) IS 'Precision, recall and F2 of the PII classifier per infotype (and any_pii) against a table of labels (table_name, column_name, infotype)';
")]
#[allow(clippy::type_complexity)]
fn eval_classifier_by_oid(
    labels: pg_sys::Oid,
) -> TableIterator<
    'static,
    (
        name!(infotype, String),
        name!(labelled, i32),
        name!(predicted, i32),
        name!(true_positives, i32),
        name!(precision, Option<f32>),
        name!(recall, Option<f32>),
        name!(f2, Option<f32>),
    ),
> {
    let judged: Vec<Judged> = evaluate(labels)
        .or_report()
        .into_iter()
        .map(|c| Judged { labelled: c.labelled, predicted: c.predicted })
        .collect();
    let rows: Vec<EvalRow> = eval::summarise(&judged)
        .into_iter()
        .map(|s| (s.infotype, s.labelled, s.predicted, s.true_positives, s.precision, s.recall, s.f2))
        .collect();
    TableIterator::new(rows)
}

#[pg_extern(sql = "
CREATE FUNCTION lake.eval_classifier_details(labels regclass)
RETURNS TABLE (table_name text, column_name text, labelled text[], predicted text[], outcome text)
LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION lake.eval_classifier_details(regclass) IS 'Per labelled column: labelled and predicted infotypes and whether they agree';
")]
#[allow(clippy::type_complexity)]
fn eval_classifier_details_by_oid(
    labels: pg_sys::Oid,
) -> TableIterator<
    'static,
    (
        name!(table_name, String),
        name!(column_name, String),
        name!(labelled, Vec<String>),
        name!(predicted, Vec<String>),
        name!(outcome, String),
    ),
> {
    let rows: Vec<_> = evaluate(labels)
        .or_report()
        .into_iter()
        .map(|c| {
            let judged = Judged { labelled: c.labelled, predicted: c.predicted };
            let outcome = eval::outcome(&judged);
            (
                c.table,
                c.column,
                judged.labelled.into_iter().collect(),
                judged.predicted.into_iter().collect(),
                outcome.to_string(),
            )
        })
        .collect();
    TableIterator::new(rows)
}

extension_sql_file!("../../sql/pii/pii.sql", name = "pii_sql", requires = [lake_internal, pii_classifier_version, classify, classify_details, scan_by_oid, eval_classifier_by_oid, eval_classifier_details_by_oid]);
