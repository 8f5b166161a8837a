//! Shared memory for preloaded parts: one shmem_request and one
//! shmem_startup hook, calling each part's request and startup in turn; the
//! calls a part makes from them; and LWLocks.

use std::ffi::CStr;

use pgrx::pg_sys;

/// A part's shared memory: what to request while the postmaster sizes
/// shared memory, and what to set up once it exists (at startup and after
/// every crash restart, in the postmaster, with no other process running).
#[derive(Clone, Copy)]
pub struct SharedMemory {
    pub request: fn(),
    pub startup: fn(),
}

/// What a [`ZeroedArea`] does at request and startup time.
trait Area: Sync {
    fn request(&self);
    fn startup(&self);
}

// Written only from _PG_init in the postmaster, read after.
static mut PARTS: &[SharedMemory] = &[];
static mut AREAS: &[&dyn Area] = &[];
static mut HOOKED: bool = false;
static mut PREV_REQUEST: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP: pg_sys::shmem_startup_hook_type = None;

/// Installs the two hooks, once.
fn install_hooks() {
    // SAFETY: _PG_init of a preloaded library, on the postmaster's one thread.
    unsafe {
        if !HOOKED {
            HOOKED = true;
            PREV_REQUEST = pg_sys::shmem_request_hook;
            pg_sys::shmem_request_hook = Some(on_request);
            PREV_STARTUP = pg_sys::shmem_startup_hook;
            pg_sys::shmem_startup_hook = Some(on_startup);
        }
    }
}

/// Registers a part's shared memory (from `_PG_init` while
/// shared_preload_libraries is processed). The first call installs the hooks.
pub fn register(part: SharedMemory) {
    install_hooks();
    // SAFETY: as in install_hooks; the replaced slice is leaked (a few words).
    unsafe {
        let parts: &[SharedMemory] = *(&raw const PARTS);
        PARTS = Box::leak([parts, &[part]].concat().into_boxed_slice());
    }
}

fn register_area(area: &'static dyn Area) {
    install_hooks();
    // SAFETY: as in register.
    unsafe {
        let areas: &[&dyn Area] = *(&raw const AREAS);
        AREAS = Box::leak([areas, &[area]].concat().into_boxed_slice());
    }
}

fn parts() -> &'static [SharedMemory] {
    // SAFETY: no writes after _PG_init.
    unsafe { *(&raw const PARTS) }
}

fn areas() -> &'static [&'static dyn Area] {
    // SAFETY: no writes after _PG_init.
    unsafe { *(&raw const AREAS) }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_request() {
    if let Some(prev) = PREV_REQUEST {
        prev();
    }
    for p in parts() {
        (p.request)();
    }
    for a in areas() {
        a.request();
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_startup() {
    if let Some(prev) = PREV_STARTUP {
        prev();
    }
    for p in parts() {
        (p.startup)();
    }
    for a in areas() {
        a.startup();
    }
}

/// Runs `f` holding AddinShmemInitLock, as Postgres' own add-ins create
/// their shared structures.
pub fn with_addin_init_lock<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: AddinShmemInitLock is entry 21 of the main LWLock array
    // (lwlocknames.txt, unchanged since Postgres 9.6); an ERROR in `f`
    // releases it with every other LWLock at abort.
    let lock = unsafe { &raw mut (*pg_sys::MainLWLockArray.add(21)).lock };
    unsafe { pg_sys::LWLockAcquire(lock, pg_sys::LWLockMode::LW_EXCLUSIVE) };
    let r = f();
    // SAFETY: releases the lock taken above.
    unsafe { pg_sys::LWLockRelease(lock) };
    r
}

/// Asks for `bytes` of shared memory and a tranche of `locks` LWLocks named
/// `tranche` (from a part's `request`).
pub fn request(bytes: usize, tranche: &'static CStr, locks: i32) {
    // SAFETY: called from pg::shmem's shmem_request hook (a part's
    // `request`), the one place these requests are allowed; the name lives
    // for the process.
    unsafe {
        pg_sys::RequestAddinShmemSpace(bytes);
        pg_sys::RequestNamedLWLockTranche(tranche.as_ptr(), locks);
    }
}

/// The shared structure `name` of `bytes`, created (uninitialised) by the
/// first caller: the address, and whether it existed already. From a part's
/// `startup`, inside `with_addin_init_lock`.
pub fn init_struct(name: &'static CStr, bytes: usize) -> (*mut u8, bool) {
    let mut found = false;
    // SAFETY: called under AddinShmemInitLock at shared memory startup with
    // space requested in `request`; Postgres raises an ERROR rather than
    // return NULL.
    let at = unsafe { pg_sys::ShmemInitStruct(name.as_ptr(), bytes, &mut found) };
    (at as *mut u8, found)
}

/// A table of `T` in shared memory, zeroed when first created, with a
/// tranche of one LWLock: what the parts keep their slots in. Declared as a
/// `static`, registered with [`ZeroedArea::register`] from `_PG_init`.
pub struct ZeroedArea<T: 'static> {
    at: std::sync::atomic::AtomicPtr<T>,
    tranche: &'static CStr,
    name: &'static CStr,
}

impl<T> ZeroedArea<T> {
    /// # Safety
    /// All-zero bytes must be a valid `T` (atomics and integers are).
    pub const unsafe fn new(tranche: &'static CStr, name: &'static CStr) -> Self {
        ZeroedArea { at: std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()), tranche, name }
    }

    /// The table; None where townlake was not preloaded.
    pub fn get(&'static self) -> Option<&'static T> {
        // SAFETY: set once at shared-memory startup in the postmaster,
        // before any child exists; points into shared memory from then on.
        unsafe { self.at.load(std::sync::atomic::Ordering::Acquire).as_ref() }
    }

    /// The tranche's lock.
    pub fn lock(&self) -> LwLock {
        named_lock(self.tranche)
    }

    /// Registers the table (from `_PG_init`; nothing unless preloaded).
    pub fn register(&'static self) {
        if preloading() {
            register_area(self);
        }
    }
}

impl<T> Area for ZeroedArea<T> {
    fn request(&self) {
        request(std::mem::size_of::<T>(), self.tranche, 1);
    }

    fn startup(&self) {
        with_addin_init_lock(|| {
            let (at, found) = init_struct(self.name, std::mem::size_of::<T>());
            if !found {
                // SAFETY: `at` has room for a T (requested above); zeroes
                // are a valid T (`new`'s contract).
                unsafe { std::ptr::write_bytes(at, 0, std::mem::size_of::<T>()) };
            }
            self.at.store(at as *mut T, std::sync::atomic::Ordering::Release);
        });
    }
}

/// Whether this is the postmaster loading shared_preload_libraries (the
/// one time shared memory can be registered).
pub fn preloading() -> bool {
    // SAFETY: plain read of a postmaster flag.
    unsafe { pg_sys::process_shared_preload_libraries_in_progress }
}

/// An LWLock in shared memory (from `named_lock`).
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct LwLock(*mut pg_sys::LWLock);

/// The first LWLock of tranche `name` (requested with `request`).
pub fn named_lock(name: &CStr) -> LwLock {
    // SAFETY: the tranche was requested in `request`; Postgres raises an
    // ERROR for an unknown one. Its locks live in shared memory for the
    // whole postmaster lifetime.
    LwLock(unsafe { &raw mut (*pg_sys::GetNamedLWLockTranche(name.as_ptr())).lock })
}

impl LwLock {
    /// Takes the lock in exclusive mode until the guard is dropped.
    pub fn exclusive(self) -> LwLockGuard {
        // SAFETY: a lock from `named_lock`, valid in every process.
        unsafe { pg_sys::LWLockAcquire(self.0, pg_sys::LWLockMode::LW_EXCLUSIVE) };
        LwLockGuard(self)
    }
}

/// Holds an LWLock; releases it on drop (also when unwinding).
pub struct LwLockGuard(LwLock);

impl Drop for LwLockGuard {
    fn drop(&mut self) {
        // SAFETY: we hold the lock, unless an elog ERROR came first: Postgres
        // has then released every LWLock already, and InterruptHoldoffCount
        // (raised while any LWLock is held) is back to 0.
        unsafe {
            if pg_sys::InterruptHoldoffCount > 0 {
                pg_sys::LWLockRelease((self.0).0);
            }
        }
    }
}
