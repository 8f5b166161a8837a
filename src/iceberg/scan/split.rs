//! Parallel scans inside one data file (issue 15): a large file becomes
//! several byte ranges, each a unit that a worker claims. The Parquet
//! reader keeps the row groups whose midpoint falls in its range, so every
//! row group is read by exactly one process, however the ranges fall.
//!
//! The files of a table of few files are cut finer, into up to eight ranges
//! of at least 1 MiB each, so that the row groups of a small table (a TPC-H
//! dimension table: one 5 MB file of two row groups) spread over the
//! processes too — Postgres can then build one shared (Parallel) hash table
//! of it instead of one per process — and the last units of a mid-sized
//! file are small enough to keep the processes evenly busy. A range
//! without a row group of its own costs one footer read.

use iceberg::scan::FileScanTask;

/// Bytes per claimed piece: small enough that the row groups of a file
/// written with the default row group size spread over the workers, large
/// enough that the extra footer reads stay negligible.
pub const PIECE_BYTES: u64 = 8 << 20;
/// At most this many pieces per file.
const MAX_PIECES: u64 = 256;
/// In a table of fewer than `FEW_FILES` files, a file becomes at least
/// `FEW_FILE_PIECES` ranges of at least this size (when it has the bytes).
pub const MIN_PIECE_BYTES: u64 = 1 << 20;
const FEW_FILE_PIECES: u64 = 8;
/// With this many files or more, the files alone divide a scan.
pub const FEW_FILES: usize = 8;

/// How many ranges a file of `size` bytes is read as, in a table of
/// `files` data files.
pub fn file_pieces(size: u64, files: usize) -> u64 {
    let by_size = size.div_ceil(PIECE_BYTES).min(MAX_PIECES).max(1);
    if files < FEW_FILES {
        by_size.max(size.div_ceil(MIN_PIECE_BYTES).min(FEW_FILE_PIECES))
    } else {
        by_size
    }
}

/// `tasks` with every file larger than one piece cut into byte ranges, in
/// a deterministic order (every participant must list the same units).
pub fn pieces(tasks: Vec<FileScanTask>) -> Vec<FileScanTask> {
    let files = tasks.len();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let size = task.file_size_in_bytes;
        let count = file_pieces(size, files);
        // A range of its own already, or small: read whole.
        if task.start != 0 || task.length != size || count <= 1 {
            out.push(task);
            continue;
        }
        for (start, length) in ranges(size, count) {
            let mut piece = task.clone();
            piece.start = start;
            piece.length = length;
            // Known only for a whole file.
            piece.record_count = None;
            out.push(piece);
        }
    }
    out
}

/// `size` bytes as at most `count` adjoining ranges (start, length).
fn ranges(size: u64, count: u64) -> Vec<(u64, u64)> {
    let step = size.div_ceil(count.max(1)).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < size {
        let length = step.min(size - start);
        out.push((start, length));
        start += length;
    }
    out
}

/// The units a parallel scan of a table divides into: its files, or the
/// pieces of its bytes when there are more (files taken as of the average
/// size). A piece without a row group of its own reads nothing (a file
/// written as one row group still runs in one process), so this is an
/// upper bound, as block counts are for heaps.
pub fn units(files: f64, bytes: f64) -> f64 {
    let files = files.max(1.0);
    let average = (bytes.max(0.0) / files) as u64;
    (files * file_pieces(average, files as usize) as f64).max(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_files_or_pieces() {
        // One 200 MB file: 24 pieces of 8 MiB.
        assert_eq!(units(1.0, 200e6), 24.0);
        // Tiny files: one unit each.
        assert_eq!(units(3.0, 3e5), 3.0);
        assert_eq!(units(0.0, 0.0), 1.0);
        // One 5 MB file (TPC-H part): five ranges of its row groups.
        assert_eq!(units(1.0, 5.1e6), 5.0);
        // One 32 MB file (TPC-H partsupp): eight ranges, not four.
        assert_eq!(units(1.0, 32.3e6), 8.0);
        // Many small files: the files alone.
        assert_eq!(units(20.0, 20.0 * 5e6), 20.0);
    }

    #[test]
    fn pieces_per_file() {
        assert_eq!(file_pieces(0, 1), 1);
        assert_eq!(file_pieces(MIN_PIECE_BYTES, 1), 1);
        assert_eq!(file_pieces(MIN_PIECE_BYTES + 1, 1), 2);
        assert_eq!(file_pieces(PIECE_BYTES, 1), 8);
        assert_eq!(file_pieces(9 * PIECE_BYTES, 1), 9);
        // Many files: the large ones only, by 8 MiB.
        assert_eq!(file_pieces(PIECE_BYTES, FEW_FILES), 1);
        assert_eq!(file_pieces(PIECE_BYTES + 1, FEW_FILES), 2);
        assert_eq!(file_pieces(u64::MAX / 2, 1), MAX_PIECES);
    }

    #[test]
    fn pieces_cover_every_byte_once() {
        for size in [1u64, MIN_PIECE_BYTES + 1, 3 * MIN_PIECE_BYTES + 7, PIECE_BYTES, 3 * PIECE_BYTES + 5, 5 * PIECE_BYTES + 3] {
            let count = file_pieces(size, 1);
            let got = ranges(size, count);
            assert_eq!(got.len() as u64, count, "size {size}");
            assert_eq!(got[0].0, 0);
            for pair in got.windows(2) {
                assert_eq!(pair[0].0 + pair[0].1, pair[1].0, "adjoining");
            }
            assert_eq!(got.iter().map(|r| r.1).sum::<u64>(), size);
        }
    }
}
