//! A LIMIT pushed into an Iceberg scan without a filter: only the first
//! files that surely hold enough rows need reading. Pure logic: no pgrx.

/// How many of the planned files, in order, a scan under `LIMIT limit`
/// keeps. `sure_rows[i]` is how many rows file `i` surely yields: its record
/// count, or 0 when unknown or when delete files may remove some. At least
/// one file is kept (when there is one), so the scan still reads the schema's
/// shape and an empty table stays empty.
pub fn files_needed(sure_rows: &[u64], limit: u64) -> usize {
    let mut rows = 0u64;
    let mut keep = 0;
    for n in sure_rows {
        if rows >= limit {
            break;
        }
        keep += 1;
        rows += n;
    }
    keep.max(1).min(sure_rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_once_enough_rows_are_sure() {
        assert_eq!(files_needed(&[100, 100, 100], 50), 1);
        assert_eq!(files_needed(&[100, 100, 100], 100), 1);
        assert_eq!(files_needed(&[100, 100, 100], 101), 2);
        assert_eq!(files_needed(&[100, 100, 100], 1000), 3);
    }

    #[test]
    fn unsure_files_do_not_count() {
        // Files with deletes (0 sure rows) are kept but never end the walk.
        assert_eq!(files_needed(&[0, 0, 5, 10], 10), 4);
        assert_eq!(files_needed(&[0, 10, 5], 10), 2);
    }

    #[test]
    fn edges() {
        assert_eq!(files_needed(&[], 10), 0);
        // LIMIT 0 still keeps one file.
        assert_eq!(files_needed(&[7, 7], 0), 1);
    }
}
