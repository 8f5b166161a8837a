//! Choosing the snapshot a scan reads. Pure logic: no pgrx.

use iceberg::spec::TableMetadata;

/// What the session or the table asks to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotChoice {
    Current,
    Id(i64),
    /// Milliseconds since the Unix epoch.
    AsOf(i64),
}

/// The snapshot id to scan, `Ok(None)` for a table with no snapshot yet.
pub fn resolve(metadata: &TableMetadata, choice: SnapshotChoice) -> Result<Option<i64>, String> {
    match choice {
        SnapshotChoice::Current => Ok(metadata.current_snapshot().map(|s| s.snapshot_id())),
        SnapshotChoice::Id(id) => match metadata.snapshot_by_id(id) {
            Some(_) => Ok(Some(id)),
            None => Err(format!("snapshot {id} does not exist in this table")),
        },
        SnapshotChoice::AsOf(ms) => {
            // The snapshot log records which snapshot was current when; it is
            // the history of the main branch, unlike the list of snapshots.
            let mut log: Vec<(i64, i64)> = metadata
                .history()
                .iter()
                .map(|l| (l.timestamp_ms, l.snapshot_id))
                .collect();
            if log.is_empty() {
                log = metadata.snapshots().map(|s| (s.timestamp_ms(), s.snapshot_id())).collect();
            }
            log.sort();
            match log.iter().rev().find(|(ts, _)| *ts <= ms) {
                Some((_, id)) => Ok(Some(*id)),
                None => Err(match log.first() {
                    Some((first, _)) => format!(
                        "the table has no snapshot as of that time; its first snapshot was committed at {}",
                        chrono::DateTime::from_timestamp_millis(*first)
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_default()
                    ),
                    None => "the table has no snapshots".to_string(),
                }),
            }
        }
    }
}

/// Parse a snapshot id given as text (GUC or table option).
pub fn parse_snapshot_id(text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| format!("\"{text}\" is not a snapshot id (a 64-bit integer)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids() {
        assert_eq!(parse_snapshot_id(" 42 "), Ok(42));
        assert!(parse_snapshot_id("x").is_err());
    }
}
