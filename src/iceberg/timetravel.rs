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

/// Where the snapshot to read is chosen, by precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceSource<'a> {
    /// The foreign table's `snapshot_id` option pins one.
    Pinned(i64),
    /// The session's `townlake.snapshot_id`.
    SessionId(&'a str),
    /// The session's `townlake.as_of`.
    AsOf(&'a str),
    Current,
}

/// The table option pins a snapshot; otherwise the session's
/// townlake.snapshot_id, then townlake.as_of, then the current snapshot.
pub fn choice_source<'a>(pinned: Option<i64>, session_id: Option<&'a str>, as_of: Option<&'a str>) -> ChoiceSource<'a> {
    match (pinned, session_id, as_of) {
        (Some(id), _, _) => ChoiceSource::Pinned(id),
        (None, Some(text), _) => ChoiceSource::SessionId(text),
        (None, None, Some(text)) => ChoiceSource::AsOf(text),
        (None, None, None) => ChoiceSource::Current,
    }
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
            // Stable by time only: two commits in one millisecond keep their
            // log order, so the later one wins (not the larger random id).
            log.sort_by_key(|(ts, _)| *ts);
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

/// A timestamptz (microseconds since 2000-01-01 UTC) as Unix milliseconds,
/// rounded down (a time inside a commit's millisecond but before the commit
/// must not read it); -infinity and infinity stay the extremes.
pub fn pg_micros_to_unix_millis(micros: i64) -> i64 {
    use crate::pg::time::PG_EPOCH_OFFSET_MICROS;
    match micros {
        i64::MIN => i64::MIN,
        i64::MAX => i64::MAX,
        t => t.saturating_add(PG_EPOCH_OFFSET_MICROS).div_euclid(1000),
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
    fn as_of_micros_round_down() {
        let epoch = -946_684_800_000_000i64; // 1970-01-01 in Postgres' microseconds
        assert_eq!(pg_micros_to_unix_millis(epoch), 0);
        assert_eq!(pg_micros_to_unix_millis(epoch + 999), 0);
        assert_eq!(pg_micros_to_unix_millis(epoch + 1000), 1);
        assert_eq!(pg_micros_to_unix_millis(epoch - 1), -1);
        assert_eq!(pg_micros_to_unix_millis(i64::MAX), i64::MAX);
        assert_eq!(pg_micros_to_unix_millis(i64::MIN), i64::MIN);
    }

    /// Metadata with three snapshots; the last two committed in the same
    /// millisecond, the later one with the smaller id.
    fn same_millisecond_metadata() -> TableMetadata {
        let snapshot = |id: i64, parent: Option<i64>, seq: i64, ts: i64| {
            serde_json::json!({"snapshot-id": id, "parent-snapshot-id": parent, "sequence-number": seq,
                "timestamp-ms": ts, "manifest-list": format!("file:///t/metadata/snap-{id}.avro"),
                "summary": {"operation": "append"}, "schema-id": 0})
        };
        let json = serde_json::json!({
            "format-version": 2, "table-uuid": "9c12d441-03fe-4693-9a96-a0705ddf69c1",
            "location": "file:///t", "last-sequence-number": 3, "last-updated-ms": 3000,
            "last-column-id": 1, "current-schema-id": 0,
            "schemas": [{"type": "struct", "schema-id": 0,
                         "fields": [{"id": 1, "name": "id", "required": true, "type": "long"}]}],
            "default-spec-id": 0, "partition-specs": [{"spec-id": 0, "fields": []}],
            "last-partition-id": 999, "default-sort-order-id": 0,
            "sort-orders": [{"order-id": 0, "fields": []}], "properties": {},
            "current-snapshot-id": 5,
            "snapshots": [snapshot(900, None, 1, 1000), snapshot(700, Some(900), 2, 2000),
                          snapshot(5, Some(700), 3, 2000)],
            "snapshot-log": [{"snapshot-id": 900, "timestamp-ms": 1000},
                             {"snapshot-id": 700, "timestamp-ms": 2000},
                             {"snapshot-id": 5, "timestamp-ms": 2000}],
            "metadata-log": []
        });
        serde_json::from_value(json).expect("valid metadata")
    }

    #[test]
    fn as_of_resolves_by_the_snapshot_log() {
        let metadata = same_millisecond_metadata();
        let at = |ms| resolve(&metadata, SnapshotChoice::AsOf(ms));
        assert!(at(999).unwrap_err().contains("first snapshot was committed at"));
        assert_eq!(at(i64::MIN).is_err(), true);
        assert_eq!(at(1000), Ok(Some(900)));
        assert_eq!(at(1999), Ok(Some(900)));
        // the log's later entry of the same millisecond, not the larger id
        assert_eq!(at(2000), Ok(Some(5)));
        assert_eq!(at(i64::MAX), Ok(Some(5)));
    }

    #[test]
    fn choice_precedence() {
        assert_eq!(choice_source(Some(7), Some("8"), Some("2024-01-01")), ChoiceSource::Pinned(7));
        assert_eq!(choice_source(None, Some("8"), Some("2024-01-01")), ChoiceSource::SessionId("8"));
        assert_eq!(choice_source(None, None, Some("2024-01-01")), ChoiceSource::AsOf("2024-01-01"));
        assert_eq!(choice_source(None, None, None), ChoiceSource::Current);
    }

    #[test]
    fn parses_ids() {
        assert_eq!(parse_snapshot_id(" 42 "), Ok(42));
        assert!(parse_snapshot_id("x").is_err());
    }
}
