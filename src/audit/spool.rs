//! The file that holds the audit queue's slots: `townlake/audit_queue` in the
//! data directory, mapped shared into the postmaster (and so into every
//! process it forks).
//!
//! Stores into a shared file mapping land in the kernel's page cache, so they
//! outlive the process that made them: a backend killed with SIGKILL, and the
//! crash restart of every other process that follows, lose no queued record,
//! without a system call per record. The kernel writes the pages back in its
//! own time; nothing here fsyncs, so an operating system crash or power loss
//! can lose records not yet in `lake.audit_log` (`townlake.audit_synchronous`
//! closes that gap per statement).
//!
//! Layout: one 4 kB page with a magic number and the geometry, then the slots.
//! If the geometry changed (`townlake.audit_queue_slots`), the records are
//! carried over into a new file. If the file cannot be used the queue lives
//! in anonymous shared memory, as Postgres' own, and a WARNING says that
//! records queued at a crash will be lost.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::ptr::null_mut;

const DIR: &str = "townlake";
const PATH: &str = "townlake/audit_queue";
const NEW_PATH: &str = "townlake/audit_queue.new";
// 03: slot headers with record parts and owners
const MAGIC: &[u8; 8] = b"TLAUDQ03";
pub const FILE_HEADER: usize = 4096;

pub struct Mapped {
    /// The first slot.
    pub base: *mut u8,
    pub file_backed: bool,
}

/// The current mapping (address, length), unmapped at the next `map`.
static mut MAPPING: (usize, usize) = (0, 0);

/// What the file's first page says.
#[derive(Debug, PartialEq, Eq)]
pub struct Geometry {
    pub slot_bytes: u32,
    pub nslots: u32,
}

pub fn encode_geometry(g: &Geometry) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(MAGIC);
    out[8..12].copy_from_slice(&g.slot_bytes.to_le_bytes());
    out[12..16].copy_from_slice(&g.nslots.to_le_bytes());
    out
}

pub fn decode_geometry(bytes: &[u8]) -> Option<Geometry> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return None;
    }
    Some(Geometry {
        slot_bytes: u32::from_le_bytes(bytes[8..12].try_into().ok()?),
        nslots: u32::from_le_bytes(bytes[12..16].try_into().ok()?),
    })
}

fn file_len(g: &Geometry) -> usize {
    FILE_HEADER + g.nslots as usize * g.slot_bytes as usize
}

/// Maps `nslots` slots of `slot_bytes`, from the spool file if possible.
/// Runs in the postmaster (the working directory is the data directory).
pub fn map(nslots: u32, slot_bytes: usize) -> Mapped {
    // SAFETY: the previous mapping (before a crash restart) is no longer used
    // by any process: the postmaster resets shared memory only once all its
    // children are gone.
    unsafe {
        let (addr, len) = MAPPING;
        if addr != 0 {
            libc::munmap(addr as *mut libc::c_void, len);
            MAPPING = (0, 0);
        }
    }
    let want = Geometry { slot_bytes: slot_bytes as u32, nslots };
    match map_file(&want) {
        Ok((addr, carried)) => {
            if let Some((from, kept, dropped)) = carried {
                pgrx::log!("townlake: audit queue resized from {from} to {nslots} slots; {kept} queued records kept");
                if dropped > 0 {
                    pgrx::warning!("townlake: {dropped} queued audit records did not fit in the smaller queue and were lost");
                }
            }
            // SAFETY: plain store in the postmaster before any child exists.
            unsafe { MAPPING = (addr as usize, file_len(&want)) };
            // SAFETY: the mapping is file_len bytes long.
            Mapped { base: unsafe { addr.add(FILE_HEADER) }, file_backed: true }
        }
        Err(e) => {
            pgrx::warning!(
                "townlake: cannot use {PATH} in the data directory for the audit queue ({e}); \
                 queued audit records will not survive a crash restart"
            );
            let len = file_len(&want);
            // SAFETY: an anonymous shared mapping, zeroed by the kernel.
            let addr = unsafe {
                libc::mmap(null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0)
            };
            if addr == libc::MAP_FAILED {
                // the postmaster cannot go on without its queue memory
                pgrx::error!("townlake: cannot allocate {len} bytes for the audit queue");
            }
            // SAFETY: as above.
            unsafe { MAPPING = (addr as usize, len) };
            // SAFETY: the mapping is len bytes long.
            Mapped { base: unsafe { (addr as *mut u8).add(FILE_HEADER) }, file_backed: false }
        }
    }
}

/// (from, kept, dropped) when records were carried over into a resized file.
type Carried = Option<(u32, u32, u32)>;

fn map_file(want: &Geometry) -> io::Result<(*mut u8, Carried)> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(DIR)?;
    let existing = match OpenOptions::new().read(true).write(true).open(PATH) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let Some(mut old) = existing else {
        let f = create(NEW_PATH, want)?;
        fs::rename(NEW_PATH, PATH)?;
        return Ok((map_fd(&f, file_len(want))?, None));
    };
    let mut head = [0u8; 16];
    let have = match old.read_exact(&mut head) {
        Ok(()) => decode_geometry(&head),
        Err(_) => None,
    };
    let old_len = old.metadata()?.len() as usize;
    match have {
        Some(g) if g == *want && old_len == file_len(want) => Ok((map_fd(&old, old_len)?, None)),
        Some(g) if g.slot_bytes == want.slot_bytes && old_len == file_len(&g) => {
            // carry the queued records over into a file of the new size
            let src = map_fd(&old, old_len)?;
            let f = create(NEW_PATH, want)?;
            let dst = map_fd(&f, file_len(want))?;
            let slot = want.slot_bytes as usize;
            let (mut kept, mut dropped) = (0u32, 0u32);
            // SAFETY: both mappings are as long as their geometry says.
            unsafe {
                for i in 0..g.nslots as usize {
                    let from = src.add(FILE_HEADER + i * slot);
                    if *(from as *const u32) == 0 {
                        continue; // FREE
                    }
                    if kept < want.nslots {
                        std::ptr::copy_nonoverlapping(from, dst.add(FILE_HEADER + kept as usize * slot), slot);
                        kept += 1;
                    } else {
                        dropped += 1;
                    }
                }
                libc::munmap(src as *mut libc::c_void, old_len);
            }
            fs::rename(NEW_PATH, PATH)?;
            Ok((dst, Some((g.nslots, kept, dropped))))
        }
        _ => {
            pgrx::warning!("townlake: {PATH} is not an audit queue of this version; starting an empty one");
            drop(old);
            let f = create(NEW_PATH, want)?;
            fs::rename(NEW_PATH, PATH)?;
            Ok((map_fd(&f, file_len(want))?, None))
        }
    }
}

/// A new zero-filled file with its blocks allocated (so that stores into the
/// mapping cannot hit a full disk, which would be SIGBUS).
fn create(path: &str, g: &Geometry) -> io::Result<File> {
    let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(true).mode(0o600).open(path)?;
    let len = file_len(g);
    // SAFETY: fallocate on our own open file descriptor.
    let rc = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, len as libc::off_t) };
    if rc != 0 {
        if rc == libc::EINVAL || rc == libc::EOPNOTSUPP {
            f.set_len(len as u64)?;
        } else {
            return Err(io::Error::from_raw_os_error(rc));
        }
    }
    f.write_all(&encode_geometry(g))?;
    f.sync_all()?;
    Ok(f)
}

fn map_fd(f: &File, len: usize) -> io::Result<*mut u8> {
    // SAFETY: a shared read-write mapping of a file we opened read-write.
    let addr = unsafe {
        libc::mmap(null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, f.as_raw_fd(), 0)
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(addr as *mut u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_round_trips_and_rejects_other_files() {
        let g = Geometry { slot_bytes: 8192, nslots: 1024 };
        assert_eq!(decode_geometry(&encode_geometry(&g)), Some(g));
        assert_eq!(decode_geometry(b"PGDMP\0\0\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(decode_geometry(b"TLAUDQ03"), None);
    }
}
