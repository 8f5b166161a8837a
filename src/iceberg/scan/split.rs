//! Parallel scans inside one data file (issue 15): a large file becomes
//! several byte ranges, each a unit that a worker claims. The Parquet
//! reader keeps the row groups whose midpoint falls in its range, so every
//! row group is read by exactly one process, however the ranges fall.

use iceberg::scan::FileScanTask;

/// Bytes per claimed piece: small enough that the row groups of a file
/// written with the default row group size spread over the workers, large
/// enough that the extra footer reads stay negligible.
pub const PIECE_BYTES: u64 = 8 << 20;
/// At most this many pieces per file.
const MAX_PIECES: u64 = 256;

/// `tasks` with every file larger than one piece cut into byte ranges, in
/// a deterministic order (every participant must list the same units).
pub fn pieces(tasks: Vec<FileScanTask>) -> Vec<FileScanTask> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let size = task.file_size_in_bytes;
        // A range of its own already, or small: read whole.
        if task.start != 0 || task.length != size || size <= PIECE_BYTES {
            out.push(task);
            continue;
        }
        let count = size.div_ceil(PIECE_BYTES).min(MAX_PIECES);
        let step = size.div_ceil(count);
        let mut start = 0;
        while start < size {
            let length = step.min(size - start);
            let mut piece = task.clone();
            piece.start = start;
            piece.length = length;
            // Known only for a whole file.
            piece.record_count = None;
            out.push(piece);
            start += length;
        }
    }
    out
}

/// The units a parallel scan of a table divides into: its files, or the
/// pieces of its bytes when there are more. A piece without a row group of
/// its own reads nothing (a file written as one row group still runs in
/// one process), so this is an upper bound, as block counts are for heaps.
pub fn units(files: f64, bytes: f64) -> f64 {
    files.max((bytes / PIECE_BYTES as f64).ceil()).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_files_or_pieces() {
        // One 200 MB file: 24 pieces of 8 MiB.
        assert_eq!(units(1.0, 200e6), 24.0);
        // Small files: one unit each.
        assert_eq!(units(3.0, 3e5), 3.0);
        assert_eq!(units(0.0, 0.0), 1.0);
    }
}
