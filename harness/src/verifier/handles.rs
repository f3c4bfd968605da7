//! CLFS objects used after their release: every `clfs.sys` call the gate passes is checked
//! against the objects the driver has released (a log file object it closed, a marshalling
//! area it deleted, a read context it terminated, a management client it deregistered).
//!
//! In the kernel a released object is freed memory (the log file object is dereferenced, the
//! marshalling area and the read context are Clfs.sys pool): Clfs.sys reads it on the next
//! call, and the machine stops or silently corrupts. With Clfs.sys under special pool the
//! read faults: `PAGE_FAULT_IN_FREED_SPECIAL_POOL` (0xCC). The emulator only answers
//! `STATUS_INVALID_HANDLE`, which a driver that ignores the status never notices, so the
//! loader stops the call instead, with that code.
//!
//! Which parameter holds which kind of object comes from the routine's DDI parameter names
//! ([`super::ddi`]): `plfoLog` / `LogFile` a log file object, `pvMarshalContext` a marshalling
//! area, `pvReadContext` / `pvCursorContext` a read context, `ClientCookie` / `Client` a
//! management client. A value is released when its release routine succeeds, and is live
//! again when a creating routine returns it (the emulator may reuse a value).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

use super::gate::Call;

/// The kinds of CLFS objects a driver holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A log file object (`ClfsCreateLogFile`).
    Log,
    /// A marshalling area (`ClfsCreateMarshallingArea`).
    MarshallingArea,
    /// A read context (`ClfsReadLogRecord`, `ClfsReadRestartArea`).
    ReadContext,
    /// A management client (`ClfsMgmtRegisterManagedClient`).
    ManagedClient,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Log => "log file object",
            Kind::MarshallingArea => "marshalling area",
            Kind::ReadContext => "read context",
            Kind::ManagedClient => "management client",
        }
    }
}

/// The kind of object an input parameter of `routine` named `param` (lower case) holds.
fn input_kind(routine: &str, param: &str) -> Option<Kind> {
    match param {
        "plfolog" | "logfile" => Some(Kind::Log),
        "pvmarshalcontext" => Some(Kind::MarshallingArea),
        "pvreadcontext" | "pvcursorcontext" => Some(Kind::ReadContext),
        "client" => Some(Kind::ManagedClient),
        // An out parameter of the registration, the client itself everywhere else.
        "clientcookie" if routine != "ClfsMgmtRegisterManagedClient" => Some(Kind::ManagedClient),
        _ => None,
    }
}

/// The kind of object an out parameter of `routine` named `param` returns.
fn output_kind(routine: &str, param: &str) -> Option<Kind> {
    match param {
        "pplfolog" => Some(Kind::Log),
        "ppvmarshalcontext" => Some(Kind::MarshallingArea),
        "ppvreadcontext" => Some(Kind::ReadContext),
        "clientcookie" if routine == "ClfsMgmtRegisterManagedClient" => Some(Kind::ManagedClient),
        _ => None,
    }
}

/// The routines that release their first argument when they succeed.
fn releases(routine: &str) -> Option<Kind> {
    match routine {
        "ClfsCloseLogFileObject" | "ClfsCloseAndResetLogFile" => Some(Kind::Log),
        "ClfsDeleteMarshallingArea" => Some(Kind::MarshallingArea),
        "ClfsTerminateReadLog" => Some(Kind::ReadContext),
        "ClfsMgmtDeregisterManagedClient" => Some(Kind::ManagedClient),
        _ => None,
    }
}

/// Released values: the kind and the routine that released them.
static RELEASED: LazyLock<Mutex<HashMap<usize, (Kind, &'static str)>>> =
    LazyLock::new(Mutex::default);
/// `RELEASED.len()`, read without the lock on every call.
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn released() -> std::sync::MutexGuard<'static, HashMap<usize, (Kind, &'static str)>> {
    RELEASED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A parameter name without its `:bits` suffix.
fn base(param: &str) -> &str {
    param.split(':').next().unwrap_or(param)
}

/// Before a `clfs.sys` call: stops if an object argument is one the driver released.
pub(crate) fn check(dll: &str, name: &'static str, call: &Call) {
    if COUNT.load(Ordering::Relaxed) == 0
        || !dll.eq_ignore_ascii_case("clfs.sys")
        || !super::settings().handle_checks
    {
        return;
    }
    let Some(r) = super::ddi::routine(dll, name) else {
        return;
    };
    for (i, p) in r.params.iter().enumerate() {
        let p = base(p);
        let Some(kind) = input_kind(name, p) else {
            continue;
        };
        let v = call.arg(i) as usize;
        if v == 0 {
            continue;
        }
        let hit = released().get(&v).copied();
        if let Some((was, by)) = hit {
            use_after_release_stop(name, p, v, kind, was, by, call.return_address());
        }
    }
}

/// Stops the run: `dll!name`'s parameter `param` is `value`, which `by` released.
fn use_after_release_stop(
    name: &str,
    param: &str,
    value: usize,
    kind: Kind,
    was: Kind,
    by: &str,
    caller: usize,
) -> ! {
    let as_what = if kind == was {
        String::new()
    } else {
        format!(" (passed as a {})", kind.what())
    };
    super::stop(
        0xCC,
        [value, 0, caller, 0],
        &format!(
            "use after release: clfs.sys!{name}({param}={value:#x}) called from {} with a {} that {by} released{as_what}: a CLFS object must not be used after its release (Clfs.sys would read freed memory)",
            super::describe_code_address(caller),
            was.what(),
        ),
    )
}

/// After a `clfs.sys` call that returned `ret`: a successful release marks its object
/// released; a successful creation makes the object it returns live.
pub(crate) fn record(dll: &str, name: &'static str, call: &Call, ret: u64) {
    if !dll.eq_ignore_ascii_case("clfs.sys") || (ret as u32 as i32) < 0 {
        return;
    }
    if let Some(kind) = releases(name) {
        let v = call.arg(0) as usize;
        if v != 0 {
            let mut m = released();
            m.insert(v, (kind, name));
            COUNT.store(m.len(), Ordering::Relaxed);
        }
        return;
    }
    if COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Some(r) = super::ddi::routine(dll, name) else {
        return;
    };
    for (i, p) in r.params.iter().enumerate() {
        if output_kind(name, base(p)).is_none() {
            continue;
        }
        let out = call.arg(i) as usize as *const usize;
        if out.is_null() || (out as usize) & 7 != 0 {
            continue;
        }
        // SAFETY: the routine succeeded, so it wrote the object pointer to the caller's out
        // parameter, which is valid, aligned (checked) pointer-sized memory.
        let v = unsafe { out.read() };
        let mut m = released();
        m.remove(&v);
        COUNT.store(m.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_object_parameter_of_the_clfs_routines_has_a_kind() {
        let mut inputs = 0;
        for name in [
            "ClfsFlushBuffers",
            "ClfsQueryLogFileInformation",
            "ClfsReadNextLogRecord",
            "ClfsTerminateReadLog",
            "ClfsMgmtDeregisterManagedClient",
            "ClfsMgmtHandleLogFileFull",
        ] {
            let r = super::super::ddi::routine("clfs.sys", name).unwrap();
            inputs += r
                .params
                .iter()
                .filter(|p| input_kind(name, base(p)).is_some())
                .count();
        }
        assert_eq!(inputs, 6);
        for (name, out) in [
            ("ClfsCreateLogFile", "pplfolog"),
            ("ClfsCreateMarshallingArea", "ppvmarshalcontext"),
            ("ClfsReadLogRecord", "ppvreadcontext"),
            ("ClfsReadRestartArea", "ppvreadcontext"),
            ("ClfsMgmtRegisterManagedClient", "clientcookie"),
        ] {
            let r = super::super::ddi::routine("clfs.sys", name).unwrap();
            assert!(
                r.params
                    .iter()
                    .any(|p| base(p) == out && output_kind(name, out).is_some()),
                "{name}"
            );
        }
        assert_eq!(
            input_kind("ClfsMgmtRegisterManagedClient", "clientcookie"),
            None
        );
    }
}
