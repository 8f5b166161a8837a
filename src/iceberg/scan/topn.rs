//! Top-N (`ORDER BY … LIMIT n` over one Iceberg relation, issue 15): each
//! Arrow batch is cut to its first n rows in the query's order with Arrow's
//! sort kernel and merged into the n best so far, so only n rows ever reach
//! Postgres (which still applies LIMIT/OFFSET above). Pushed only for sort
//! keys whose Arrow order is Postgres' (see `aggplan::orders_for_top_n`).

use arrow_array::{ArrayRef, RecordBatch};
use arrow_ord::sort::{lexsort_to_indices, SortColumn, SortOptions};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopKey {
    /// Index into `TopN::outputs`.
    pub output: usize,
    pub descending: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopN {
    /// Each output column's plan column (the scan's rows are these, in order).
    pub outputs: Vec<usize>,
    pub keys: Vec<TopKey>,
    pub limit: usize,
}

/// The n best rows so far; `columns[i]` of a batch is the i-th needed
/// column (see `TopN::batch_column`).
pub struct TopRows {
    best: Option<RecordBatch>,
}

impl TopN {
    /// The batch column holding output `k`, given the plan's needed columns
    /// (batches hold them in that order).
    pub fn batch_column(&self, k: usize, needed: &[usize]) -> Option<usize> {
        needed.iter().position(|c| *c == self.outputs[k])
    }

    fn sort(&self, batch: &RecordBatch, needed: &[usize]) -> Result<RecordBatch, String> {
        let columns: Vec<SortColumn> = self
            .keys
            .iter()
            .map(|k| {
                let at = self.batch_column(k.output, needed).ok_or("sort key is not read")?;
                let values: ArrayRef = super::convert::plain(batch.column(at));
                Ok(SortColumn {
                    values,
                    options: Some(SortOptions { descending: k.descending, nulls_first: k.nulls_first }),
                })
            })
            .collect::<Result<_, String>>()?;
        let indices = lexsort_to_indices(&columns, Some(self.limit.min(batch.num_rows()))).map_err(|e| e.to_string())?;
        arrow_select::take::take_record_batch(batch, &indices).map_err(|e| e.to_string())
    }
}

impl TopRows {
    pub fn new() -> TopRows {
        TopRows { best: None }
    }

    pub fn add(&mut self, top: &TopN, needed: &[usize], batch: &RecordBatch) -> Result<(), String> {
        if top.limit == 0 || batch.num_rows() == 0 {
            return Ok(());
        }
        let cut = top.sort(batch, needed)?;
        let merged = match self.best.take() {
            None => cut,
            Some(best) => {
                let both = arrow_select::concat::concat_batches(&best.schema(), [&best, &cut]).map_err(|e| e.to_string())?;
                top.sort(&both, needed)?
            }
        };
        self.best = Some(merged);
        Ok(())
    }

    pub fn finish(self) -> Option<RecordBatch> {
        self.best
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn batch(ids: Vec<Option<i64>>, names: Vec<&str>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true), Field::new("n", DataType::Utf8, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(names))]).unwrap()
    }

    #[test]
    fn keeps_the_first_n_over_batches() {
        let top = TopN {
            outputs: vec![7, 3],
            keys: vec![TopKey { output: 1, descending: true, nulls_first: true }],
            limit: 3,
        };
        // needed columns (batch order): plan columns 3 then 7
        let needed = [3, 7];
        let mut rows = TopRows::new();
        rows.add(&top, &needed, &batch(vec![Some(5), None, Some(1)], vec!["a", "b", "c"])).unwrap();
        rows.add(&top, &needed, &batch(vec![Some(9), Some(2)], vec!["d", "e"])).unwrap();
        let best = rows.finish().unwrap();
        let ids: Vec<Option<i64>> = best.column(0).as_primitive::<Int64Type>().iter().collect();
        assert_eq!(ids, vec![None, Some(9), Some(5)]);
    }
}
