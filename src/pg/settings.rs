//! The settings registry. Each part defines its settings (named
//! `townlake.<part>_<name>`) through these helpers; a renamed setting keeps
//! its old name as a hidden twin for one release, and reading the setting
//! takes the twin's value when only the old name was set. SHOW of the old
//! name prints the value in effect (whichever name set it), so it never
//! reports a value that is not used.

use std::cell::UnsafeCell;
use std::ffi::{c_char, CStr, CString};
use std::sync::OnceLock;

use pgrx::pg_sys;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// How a setting is defined: its name, the name it had before (kept working
/// for one release), its descriptions and who may change it when.
pub struct Def {
    pub name: &'static CStr,
    pub renamed_from: Option<&'static CStr>,
    pub short: &'static CStr,
    pub long: &'static CStr,
    pub context: fn() -> GucContext,
}

/// An integer setting, possibly with a deprecated twin.
pub struct IntSetting {
    current: GucSetting<i32>,
    deprecated: GucSetting<i32>,
    boot: i32,
}

impl IntSetting {
    pub const fn new(boot: i32) -> Self {
        IntSetting { current: GucSetting::<i32>::new(boot), deprecated: GucSetting::<i32>::new(boot), boot }
    }

    /// The value under the current name, or the old name's when only that
    /// one was changed from the default.
    pub fn get(&self) -> i32 {
        pick(self.current.get(), self.deprecated.get(), self.boot)
    }
}

/// A boolean setting, possibly with a deprecated twin.
pub struct BoolSetting {
    current: GucSetting<bool>,
    deprecated: GucSetting<bool>,
    boot: bool,
}

impl BoolSetting {
    pub const fn new(boot: bool) -> Self {
        BoolSetting { current: GucSetting::<bool>::new(boot), deprecated: GucSetting::<bool>::new(boot), boot }
    }

    pub fn get(&self) -> bool {
        pick(self.current.get(), self.deprecated.get(), self.boot)
    }
}

/// The current name's value wins once it differs from the default.
pub fn pick<T: PartialEq>(current: T, deprecated: T, boot: T) -> T {
    if current == boot && deprecated != boot {
        deprecated
    } else {
        current
    }
}

/// The short description of a deprecated twin.
pub fn deprecated_description(new_name: &CStr) -> &'static CStr {
    let text = format!("Deprecated: renamed to {}.", new_name.to_string_lossy());
    // Postgres keeps the pointer for the life of the process.
    Box::leak(CString::new(text).unwrap_or_default().into_boxed_c_str())
}

fn hidden() -> GucFlags {
    GucFlags::NO_SHOW_ALL
}

pub fn define_int(def: Def, setting: &'static IntSetting, min: i32, max: i32) {
    GucRegistry::define_int_guc(def.name, def.short, def.long, &setting.current, min, max, (def.context)(), GucFlags::default());
    if let Some(old) = def.renamed_from {
        let show = register_show(Effective::Int(setting));
        // SAFETY: the show hook is guarded (`show_twin`); the names and the
        // setting live for the process.
        unsafe {
            GucRegistry::define_int_guc_with_hooks(
                old,
                deprecated_description(def.name),
                c"",
                &setting.deprecated,
                min,
                max,
                (def.context)(),
                hidden(),
                None,
                None,
                Some(show),
            )
        };
    }
}

pub fn define_bool(def: Def, setting: &'static BoolSetting) {
    GucRegistry::define_bool_guc(def.name, def.short, def.long, &setting.current, (def.context)(), GucFlags::default());
    if let Some(old) = def.renamed_from {
        let show = register_show(Effective::Bool(setting));
        // SAFETY: as in `define_int`.
        unsafe {
            GucRegistry::define_bool_guc_with_hooks(
                old,
                deprecated_description(def.name),
                c"",
                &setting.deprecated,
                (def.context)(),
                hidden(),
                None,
                None,
                Some(show),
            )
        };
    }
}

/// The setting behind a deprecated twin, for its SHOW.
#[derive(Clone, Copy)]
enum Effective {
    Int(&'static IntSetting),
    Bool(&'static BoolSetting),
    Text(&'static StringSetting),
}

impl Effective {
    /// The value in effect, as SHOW prints it.
    fn shown(self) -> String {
        match self {
            Effective::Int(s) => s.get().to_string(),
            Effective::Bool(s) => if s.get() { "on" } else { "off" }.to_string(),
            Effective::Text(s) => s.get().unwrap_or_default(),
        }
    }
}

type ShowHook = unsafe extern "C-unwind" fn() -> *const c_char;

const MAX_TWINS: usize = 16;
// Written only from _PG_init, read by the show hooks after.
static mut TWINS: [Option<Effective>; MAX_TWINS] = [None; MAX_TWINS];

/// Puts `setting` in a free slot of the table and returns the show hook that
/// prints its value in effect (a GUC show hook is not told which setting).
fn register_show(setting: Effective) -> ShowHook {
    const HOOKS: [ShowHook; MAX_TWINS] = [
        show_twin::<0>,
        show_twin::<1>,
        show_twin::<2>,
        show_twin::<3>,
        show_twin::<4>,
        show_twin::<5>,
        show_twin::<6>,
        show_twin::<7>,
        show_twin::<8>,
        show_twin::<9>,
        show_twin::<10>,
        show_twin::<11>,
        show_twin::<12>,
        show_twin::<13>,
        show_twin::<14>,
        show_twin::<15>,
    ];
    // SAFETY: _PG_init only, on the process' one thread.
    unsafe {
        let twins = &mut *(&raw mut TWINS);
        let slot = twins.iter().position(Option::is_none).expect("more renamed settings than MAX_TWINS");
        twins[slot] = Some(setting);
        HOOKS[slot]
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn show_twin<const N: usize>() -> *const c_char {
    let text = (*(&raw const TWINS))[N].map(Effective::shown).unwrap_or_default();
    let text = CString::new(text).unwrap_or_default();
    // Postgres copies the result before it frees anything; a palloc'd copy
    // goes with the caller's memory context.
    pg_sys::pstrdup(text.as_ptr())
}

/// Checks a new value of a text setting: `Err((message, hint))` rejects it.
pub type StringCheck = fn(&str) -> Result<(), (String, String)>;

/// A text setting (empty means unset), possibly with a deprecated twin.
pub struct StringSetting {
    current: UnsafeCell<*mut c_char>,
    deprecated: UnsafeCell<*mut c_char>,
    boot: OnceLock<String>,
}

// SAFETY: Postgres writes the pointers on SET and the backend reads them, all
// on the backend's one thread; no other thread touches settings.
unsafe impl Sync for StringSetting {}

impl StringSetting {
    pub const fn new() -> Self {
        StringSetting {
            current: UnsafeCell::new(std::ptr::null_mut()),
            deprecated: UnsafeCell::new(std::ptr::null_mut()),
            boot: OnceLock::new(),
        }
    }

    /// The value (trimmed), None when empty.
    pub fn get(&self) -> Option<String> {
        // SAFETY: see `Sync` above; Postgres keeps each string alive while
        // its pointer is set.
        let read = |p: *mut c_char| unsafe {
            if p.is_null() { String::new() } else { CStr::from_ptr(p).to_string_lossy().trim().to_string() }
        };
        let (current, old) = unsafe { (read(*self.current.get()), read(*self.deprecated.get())) };
        let boot = self.boot.get().cloned().unwrap_or_default();
        Some(pick(current, old, boot)).filter(|v| !v.is_empty())
    }
}

impl Default for StringSetting {
    fn default() -> Self {
        Self::new()
    }
}

const MAX_STRING_CHECKS: usize = 8;
// Written only from _PG_init, read by the check hooks after.
static mut STRING_CHECKS: [Option<StringCheck>; MAX_STRING_CHECKS] = [None; MAX_STRING_CHECKS];

/// Defines a text setting whose default is `boot`, checked by `check` on SET
/// and in configuration files.
pub fn define_string(def: Def, setting: &'static StringSetting, boot: &str, check: Option<StringCheck>) {
    let _ = setting.boot.set(boot.to_string());
    // Postgres keeps the boot value's pointer for the life of the process.
    let boot: *const c_char = Box::leak(CString::new(boot).unwrap_or_default().into_boxed_c_str()).as_ptr();
    let hook = check.map(register_string_check);
    let context = match (def.context)() {
        GucContext::Internal => pg_sys::GucContext::PGC_INTERNAL,
        GucContext::Postmaster => pg_sys::GucContext::PGC_POSTMASTER,
        GucContext::Sighup => pg_sys::GucContext::PGC_SIGHUP,
        GucContext::Backend => pg_sys::GucContext::PGC_BACKEND,
        GucContext::SuBackend => pg_sys::GucContext::PGC_SU_BACKEND,
        GucContext::Suset => pg_sys::GucContext::PGC_SUSET,
        GucContext::Userset => pg_sys::GucContext::PGC_USERSET,
    };
    let hidden = (pg_sys::GUC_NO_SHOW_ALL | pg_sys::GUC_NOT_IN_SAMPLE) as i32;
    let mut names: Vec<(&CStr, &CStr, &CStr, *mut *mut c_char, i32, Option<ShowHook>)> =
        vec![(def.name, def.short, def.long, setting.current.get(), 0, None)];
    if let Some(old) = def.renamed_from {
        let show = register_show(Effective::Text(setting));
        names.push((old, deprecated_description(def.name), c"", setting.deprecated.get(), hidden, Some(show)));
    }
    for (name, short, long, var, flags, show) in names {
        // SAFETY: _PG_init; every string passed lives for the process.
        unsafe {
            pg_sys::DefineCustomStringVariable(
                name.as_ptr(),
                short.as_ptr(),
                long.as_ptr(),
                var,
                boot,
                context,
                flags,
                hook,
                None,
                show,
            )
        };
    }
}

/// Puts `check` in a free slot of the table and returns the C hook that
/// calls it (a GUC check hook is not told which setting it checks).
fn register_string_check(check: StringCheck) -> unsafe extern "C-unwind" fn(*mut *mut c_char, *mut *mut std::ffi::c_void, pg_sys::GucSource::Type) -> bool {
    const HOOKS: [unsafe extern "C-unwind" fn(*mut *mut c_char, *mut *mut std::ffi::c_void, pg_sys::GucSource::Type) -> bool; MAX_STRING_CHECKS] = [
        string_check::<0>,
        string_check::<1>,
        string_check::<2>,
        string_check::<3>,
        string_check::<4>,
        string_check::<5>,
        string_check::<6>,
        string_check::<7>,
    ];
    // SAFETY: _PG_init only, on the process' one thread.
    unsafe {
        let checks = &mut *(&raw mut STRING_CHECKS);
        let slot = checks.iter().position(Option::is_none).expect("more checked text settings than MAX_STRING_CHECKS");
        checks[slot] = Some(check);
        HOOKS[slot]
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn string_check<const N: usize>(
    newval: *mut *mut c_char,
    _extra: *mut *mut std::ffi::c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    let Some(check) = (*(&raw const STRING_CHECKS))[N] else { return true };
    let text = if (*newval).is_null() { String::new() } else { CStr::from_ptr(*newval).to_string_lossy().into_owned() };
    match check(&text) {
        Ok(()) => true,
        Err((message, hint)) => {
            // What GUC_check_errmsg / GUC_check_errhint do in C.
            let m = CString::new(message).unwrap_or_default();
            let h = CString::new(hint).unwrap_or_default();
            pg_sys::GUC_check_errmsg_string = pg_sys::pstrdup(m.as_ptr());
            pg_sys::GUC_check_errhint_string = pg_sys::pstrdup(h.as_ptr());
            false
        }
    }
}

/// Reserves the `townlake.` prefix; called at the end of `_PG_init`, after
/// every part has defined its settings (reserving earlier would make
/// Postgres drop later-defined ones from postgresql.conf at startup).
pub fn reserve_prefix() {
    // SAFETY: a static NUL-terminated name, called from _PG_init.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"townlake".as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::pick;

    #[test]
    fn current_name_wins_once_set() {
        assert_eq!(pick(5, 7, 5), 7, "only the old name set");
        assert_eq!(pick(9, 7, 5), 9, "both set: the current name");
        assert_eq!(pick(9, 5, 5), 9);
        assert_eq!(pick(5, 5, 5), 5);
    }
}

/// The memory a hash table of this backend may use, as Postgres' own hash
/// aggregates and joins count it: work_mem × hash_mem_multiplier, in bytes.
pub fn hash_mem_bytes() -> u64 {
    // SAFETY: plain reads of two GUC variables on the backend thread.
    let (work_mem_kb, multiplier) = unsafe { (pg_sys::work_mem, pg_sys::hash_mem_multiplier) };
    ((work_mem_kb.max(64) as f64) * 1024.0 * multiplier.max(1.0)) as u64
}
