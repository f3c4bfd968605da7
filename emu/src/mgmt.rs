//! CLFS management (`ClfsMgmt*`, reference §1.9 and §2.11): policies, managed clients, the
//! log-full handler, explicit resizing, auto-grow, auto-shrink and the pinned-log callbacks.
//!
//! State lives beside the physical logs, keyed by the log's id, and is volatile: when the last
//! handle of a log closes, its policies are gone (reference §1.9, "Policies are volatile").
//! Clients are keyed by their cookie.
//!
//! Lock order: `EMU` → `MGMT` → `REG`. No lock is held while a client callback runs, so a
//! callback may call any routine (the documented rule is still "queue a work item").
//! Asynchronous work (log-full handling, AdvanceTail requests, LogGrowthComplete and
//! LogUnpinned) is queued on the sandbox's management worker (`workers`: one thread per
//! sandbox, items in request order, each at PASSIVE_LEVEL), never run on the thread of the call
//! that asked for it, except the pinned-log `LogGrowthComplete`, which the documentation places
//! on the calling thread before `ClfsMgmtHandleLogFileFull` returns.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, LazyLock, Mutex, MutexGuard};
use std::thread::ThreadId;

use crate::log::{self, MAX_CONTAINERS};
use crate::state::{emu, with_stats, IdHash};
use crate::status::*;
use crate::types::{
    CLFS_MGMT_CLIENT_REGISTRATION, CLS_LSN, FILE_OBJECT, NTSTATUS,
    PCLFS_CLIENT_ADVANCE_TAIL_CALLBACK, PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK,
    PCLFS_CLIENT_LOG_UNPINNED_CALLBACK,
};

/// `CLFS_MGMT_POLICY_VERSION`.
pub(crate) const POLICY_VERSION: u32 = crate::types::CLFS_MGMT_POLICY_VERSION;
/// `LOG_POLICY_OVERWRITE`.
pub(crate) const LOG_POLICY_OVERWRITE: u32 = crate::types::LOG_POLICY_OVERWRITE;
/// `LOG_POLICY_PERSIST` (defined, not supported).
pub(crate) const LOG_POLICY_PERSIST: u32 = crate::types::LOG_POLICY_PERSIST;
/// `sizeof(CLFS_MGMT_POLICY)`.
pub(crate) const POLICY_SIZE: u32 = crate::types::CLFS_MGMT_POLICY_SIZE;
/// Offset of `PolicyParameters`.
const PARAMS: usize = crate::types::CLFS_MGMT_POLICY_PARAMETERS;
/// Offset of the union's second `ULONG`.
const SECOND: usize = crate::types::CLFS_MGMT_POLICY_SECOND;
/// Offset of the prefix and extension strings.
const STRING: usize = crate::types::CLFS_MGMT_POLICY_STRING;
/// `CLFS_MGMT_NUM_POLICIES`.
pub(crate) const NUM_POLICIES: usize = crate::types::CLFS_MGMT_NUM_POLICIES as usize;
/// Most managed clients per physical log (`MAX_CLIENTS_DEFAULT`, reference §2.13).
const MAX_CLIENTS: usize = 124;
/// Default new-container size when no policy says otherwise (the 512 KiB granularity).
const DEFAULT_NEW_CONTAINER: u64 = 512 * 1024;

/// One decoded policy (reference §2.11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Policy {
    MaximumSize(u32),
    MinimumSize(u32),
    NewContainerSize(u32),
    GrowthRate { absolute: u32, relative: u32 },
    LogTail { percentage: u32, containers: u32 },
    AutoShrink(u32),
    AutoGrow(u32),
    Prefix(Vec<u16>),
    Suffix(u64),
    Extension(Vec<u16>),
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        w.copy_from_slice(s);
    }
    u32::from_le_bytes(w)
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    let mut w = [0u8; 2];
    if let Some(s) = b.get(off..off + 2) {
        w.copy_from_slice(s);
    }
    u16::from_le_bytes(w)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        w.copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}

/// Reads a `[USHORT length][WCHAR string]` parameter; `None` if it does not fit in `b`.
fn wide_param(b: &[u8]) -> Option<Vec<u16>> {
    let n = usize::from(u16_at(b, PARAMS));
    if n % 2 != 0 {
        return None;
    }
    let s = b.get(STRING..STRING + n)?;
    Some(
        s.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect(),
    )
}

impl Policy {
    /// The `CLFS_MGMT_POLICY_TYPE` value.
    pub fn kind(&self) -> usize {
        match self {
            Policy::MaximumSize(_) => 0,
            Policy::MinimumSize(_) => 1,
            Policy::NewContainerSize(_) => 2,
            Policy::GrowthRate { .. } => 3,
            Policy::LogTail { .. } => 4,
            Policy::AutoShrink(_) => 5,
            Policy::AutoGrow(_) => 6,
            Policy::Prefix(_) => 7,
            Policy::Suffix(_) => 8,
            Policy::Extension(_) => 9,
        }
    }

    /// Decodes and validates a policy whose header was checked (`b` holds `LengthInBytes`
    /// bytes, at least 24). `Err` is `STATUS_INVALID_PARAMETER`.
    pub fn decode(kind: usize, b: &[u8]) -> Result<Policy, NTSTATUS> {
        let a = u32_at(b, PARAMS);
        let c = u32_at(b, SECOND);
        let p = match kind {
            0 | 1 if !(2..=MAX_CONTAINERS as u32).contains(&a) => {
                return Err(STATUS_INVALID_PARAMETER)
            }
            0 => Policy::MaximumSize(a),
            1 => Policy::MinimumSize(a),
            2 if a == 0 => return Err(STATUS_INVALID_PARAMETER),
            2 => Policy::NewContainerSize(a),
            // Exactly one of the two is non-zero (§2.11).
            3 if (a == 0) == (c == 0) => return Err(STATUS_INVALID_PARAMETER),
            3 => Policy::GrowthRate {
                absolute: a,
                relative: c,
            },
            4 if (a != 0 && c != 0) || a > 100 || c > MAX_CONTAINERS as u32 => {
                return Err(STATUS_INVALID_PARAMETER)
            }
            4 => Policy::LogTail {
                percentage: a,
                containers: c,
            },
            5 if a > 100 => return Err(STATUS_INVALID_PARAMETER),
            5 => Policy::AutoShrink(a),
            6 => Policy::AutoGrow(a),
            7 => match wide_param(b) {
                Some(s) if !s.is_empty() && !s.contains(&0) => Policy::Prefix(s),
                _ => return Err(STATUS_INVALID_PARAMETER),
            },
            8 => Policy::Suffix(u64_at(b, PARAMS)),
            9 => match wide_param(b) {
                Some(s) if !s.contains(&0) => Policy::Extension(s),
                _ => return Err(STATUS_INVALID_PARAMETER),
            },
            _ => return Err(STATUS_INVALID_PARAMETER),
        };
        Ok(p)
    }

    /// Encodes the policy as a `CLFS_MGMT_POLICY` image (`LengthInBytes` bytes).
    pub fn encode(&self, flags: u32) -> Vec<u8> {
        let wide = |s: &[u16]| {
            let n = (STRING + 2 * s.len()).max(POLICY_SIZE as usize);
            let mut v = vec![0u8; n.div_ceil(8) * 8];
            v[PARAMS..PARAMS + 2].copy_from_slice(&((2 * s.len()) as u16).to_le_bytes());
            for (i, w) in s.iter().enumerate() {
                v[STRING + 2 * i..STRING + 2 + 2 * i].copy_from_slice(&w.to_le_bytes());
            }
            v
        };
        let two = |a: u32, c: u32| {
            let mut v = vec![0u8; POLICY_SIZE as usize];
            v[PARAMS..PARAMS + 4].copy_from_slice(&a.to_le_bytes());
            v[SECOND..SECOND + 4].copy_from_slice(&c.to_le_bytes());
            v
        };
        let mut v = match self {
            Policy::MaximumSize(a)
            | Policy::MinimumSize(a)
            | Policy::NewContainerSize(a)
            | Policy::AutoShrink(a)
            | Policy::AutoGrow(a) => two(*a, 0),
            Policy::GrowthRate { absolute, relative } => two(*absolute, *relative),
            Policy::LogTail {
                percentage,
                containers,
            } => two(*percentage, *containers),
            Policy::Suffix(n) => {
                let mut v = vec![0u8; POLICY_SIZE as usize];
                v[PARAMS..PARAMS + 8].copy_from_slice(&n.to_le_bytes());
                v
            }
            Policy::Prefix(s) | Policy::Extension(s) => wide(s),
        };
        let len = v.len() as u32;
        v[0..4].copy_from_slice(&POLICY_VERSION.to_le_bytes());
        v[4..8].copy_from_slice(&len.to_le_bytes());
        v[8..12].copy_from_slice(&flags.to_le_bytes());
        v[12..16].copy_from_slice(&(self.kind() as u32).to_le_bytes());
        v
    }
}

/// A client's context pointer, kept as a pointer (with its provenance: the callback gets
/// back exactly what the client passed) and handed only to the client's own callbacks.
#[derive(Clone, Copy)]
struct Ctx(*mut core::ffi::c_void);

// SAFETY: the emulator never dereferences it; the C contract lets CLFS pass a client's context
// to its callbacks on any thread.
unsafe impl Send for Ctx {}

/// A registered client's callbacks and their contexts.
#[derive(Clone, Copy)]
struct Callbacks {
    advance_tail: PCLFS_CLIENT_ADVANCE_TAIL_CALLBACK,
    advance_tail_data: Ctx,
    growth_complete: PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK,
    growth_complete_data: Ctx,
    unpinned: PCLFS_CLIENT_LOG_UNPINNED_CALLBACK,
    unpinned_data: Ctx,
}

/// One managed client.
struct Client {
    sandbox: u64,
    /// The log file object it registered with (passed to its callbacks).
    object: usize,
    /// The physical log's id.
    log: u64,
    cb: Callbacks,
    /// The log object closed under it: callbacks no longer run; only deregistration works.
    orphaned: bool,
    /// Deregistration began: no new callback starts.
    dead: bool,
    /// Threads inside one of its callbacks right now.
    busy: Vec<ThreadId>,
    /// A `ClfsMgmtHandleLogFileFull` of this client awaits its `LogGrowthComplete`.
    pending: bool,
    /// An AdvanceTail request was made and neither a tail move nor a failure report followed.
    advance_outstanding: bool,
    /// It reported `ClfsMgmtTailAdvanceFailure` and has not moved the tail since.
    failed: bool,
    /// It was told the log is pinned; `LogUnpinned` is owed.
    pinned_told: bool,
}

/// Management state of one physical log.
#[derive(Default)]
struct LogMgmt {
    sandbox: u64,
    policies: [Option<(Policy, u32)>; NUM_POLICIES],
    /// The suffix counter used when no suffix policy is installed.
    next_suffix: u64,
}

#[derive(Default)]
struct Mgmt {
    logs: HashMap<u64, LogMgmt, IdHash>,
    clients: HashMap<usize, Client, IdHash>,
    next_cookie: usize,
}

static MGMT: LazyLock<Mutex<Mgmt>> = LazyLock::new(|| Mutex::new(Mgmt::default()));
/// Signalled whenever a callback returns (deregistration waits on it).
static IDLE: Condvar = Condvar::new();
/// Logs with an auto-grow or log-tail policy installed (appends check management only then).
static WATCHED: AtomicUsize = AtomicUsize::new(0);

fn mgmt() -> MutexGuard<'static, Mgmt> {
    MGMT.lock().unwrap_or_else(|e| e.into_inner())
}

impl Mgmt {
    fn cookie(&mut self) -> usize {
        if self.next_cookie == 0 {
            self.next_cookie = 0x0C1E_0000;
        }
        self.next_cookie += 16;
        self.next_cookie
    }
}

fn policy_count_changed(sandbox: u64, delta: i64) {
    with_stats(sandbox, |s| {
        s.policies = s.policies.saturating_add_signed(delta)
    });
}

fn watched(p: &LogMgmt) -> bool {
    matches!(p.policies[6], Some((Policy::AutoGrow(e), _)) if e != 0) || p.policies[4].is_some()
}

fn update_watch(before: bool, after: bool) {
    match (before, after) {
        (false, true) => {
            WATCHED.fetch_add(1, Ordering::Relaxed);
        }
        (true, false) => {
            WATCHED.fetch_sub(1, Ordering::Relaxed);
        }
        _ => {}
    }
}

/// A consistent view of a log's space, taken under the `EMU` lock.
#[derive(Clone, Debug)]
struct View {
    id: u64,
    sandbox: u64,
    containers: u32,
    free: u32,
    tail: u64,
    last: u64,
    archive_pins: bool,
    stem: String,
}

fn view_of_object(h: usize) -> Result<View, NTSTATUS> {
    let emu = emu();
    let obj = log::object(&emu, h)?;
    let l = emu.logs.get(&obj.log).ok_or(STATUS_INVALID_HANDLE)?;
    Ok(View {
        id: obj.log,
        sandbox: obj.sandbox,
        containers: l.meta.containers.len() as u32,
        free: l.free_containers(),
        tail: l.s_tail(obj.stream),
        last: l.s_last(obj.stream).unwrap_or(l.s_base(obj.stream)),
        archive_pins: l.s_archive(obj.stream) != crate::CLFS_LSN_INVALID
            && l.s_archive(obj.stream) < l.s_base(obj.stream),
        stem: l
            .base_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    })
}

/// The log id behind a live marshalling area.
fn log_of_area(area: usize) -> Option<(u64, usize)> {
    let emu = emu();
    let a = emu.areas.get(&area).filter(|a| !a.deleted)?;
    Some((a.log, a.object))
}

// ---------------------------------------------------------------------------------------------
// Policies

/// `ClfsMgmtInstallPolicy` after the pointer checks: `bytes` is the caller's `PolicyLength`
/// bytes.
pub(crate) fn install(h: usize, bytes: &[u8]) -> NTSTATUS {
    let version = u32_at(bytes, 0);
    let len = u32_at(bytes, 4) as usize;
    let flags = u32_at(bytes, 8);
    let kind = u32_at(bytes, 12) as i32;
    if version != POLICY_VERSION || !(0..NUM_POLICIES as i32).contains(&kind) {
        return STATUS_INVALID_PARAMETER;
    }
    if flags & LOG_POLICY_PERSIST != 0 {
        return STATUS_NOT_SUPPORTED;
    }
    if flags & !LOG_POLICY_OVERWRITE != 0 {
        return STATUS_INVALID_PARAMETER;
    }
    if len < POLICY_SIZE as usize || len > bytes.len() {
        return STATUS_INVALID_PARAMETER;
    }
    let policy = match Policy::decode(kind as usize, &bytes[..len]) {
        Ok(p) => p,
        Err(st) => return st,
    };
    let v = match view_of_object(h) {
        Ok(v) => v,
        Err(st) => return st,
    };
    let mut m = mgmt();
    let lm = m.logs.entry(v.id).or_insert_with(|| LogMgmt {
        sandbox: v.sandbox,
        next_suffix: u64::from(v.containers),
        ..LogMgmt::default()
    });
    let slot = kind as usize;
    let had = lm.policies[slot].is_some();
    if had && flags & LOG_POLICY_OVERWRITE == 0 {
        return STATUS_LOG_POLICY_ALREADY_INSTALLED;
    }
    let before = watched(lm);
    lm.policies[slot] = Some((policy, flags));
    update_watch(before, watched(lm));
    drop(m);
    if !had {
        policy_count_changed(v.sandbox, 1);
    }
    STATUS_SUCCESS
}

/// `ClfsMgmtQueryPolicy`: the policy image (with the current suffix counter).
pub(crate) fn query(h: usize, kind: i32) -> Result<Vec<u8>, NTSTATUS> {
    if !(0..NUM_POLICIES as i32).contains(&kind) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let v = view_of_object(h)?;
    let m = mgmt();
    let (p, flags) = m
        .logs
        .get(&v.id)
        .and_then(|l| l.policies[kind as usize].as_ref())
        .ok_or(STATUS_LOG_POLICY_NOT_INSTALLED)?;
    Ok(p.encode(*flags))
}

/// `ClfsMgmtRemovePolicy`.
pub(crate) fn remove(h: usize, kind: i32) -> NTSTATUS {
    if !(0..NUM_POLICIES as i32).contains(&kind) {
        return STATUS_INVALID_PARAMETER;
    }
    let v = match view_of_object(h) {
        Ok(v) => v,
        Err(st) => return st,
    };
    let mut m = mgmt();
    let Some(lm) = m.logs.get_mut(&v.id) else {
        return STATUS_LOG_POLICY_NOT_INSTALLED;
    };
    let before = watched(lm);
    if lm.policies[kind as usize].take().is_none() {
        return STATUS_LOG_POLICY_NOT_INSTALLED;
    }
    update_watch(before, watched(lm));
    drop(m);
    policy_count_changed(v.sandbox, -1);
    STATUS_SUCCESS
}

/// The effective policy values of a log.
#[derive(Clone, Debug)]
struct Effective {
    max: Option<u32>,
    min: Option<u32>,
    new_size: Option<u32>,
    growth: (u32, u32),
    tail: (u32, u32),
    shrink: u32,
    auto_grow: bool,
    prefix: Option<Vec<u16>>,
    extension: Vec<u16>,
}

fn effective(m: &Mgmt, id: u64) -> Effective {
    let mut e = Effective {
        max: None,
        min: None,
        new_size: None,
        growth: (1, 0),
        tail: (0, 0),
        shrink: 0,
        auto_grow: false,
        prefix: None,
        extension: Vec::new(),
    };
    let Some(l) = m.logs.get(&id) else {
        return e;
    };
    for (p, _) in l.policies.iter().flatten() {
        match p {
            Policy::MaximumSize(n) => e.max = Some(*n),
            Policy::MinimumSize(n) => e.min = Some(*n),
            Policy::NewContainerSize(n) => e.new_size = Some(*n),
            Policy::GrowthRate { absolute, relative } => e.growth = (*absolute, *relative),
            Policy::LogTail {
                percentage,
                containers,
            } => e.tail = (*percentage, *containers),
            Policy::AutoShrink(p) => e.shrink = *p,
            Policy::AutoGrow(g) => e.auto_grow = *g != 0,
            Policy::Prefix(s) => e.prefix = Some(s.clone()),
            Policy::Extension(s) => e.extension = s.clone(),
            Policy::Suffix(_) => {}
        }
    }
    e
}

/// How many containers one growth step adds to a log of `count` containers (at least 1).
fn growth_step(e: &Effective, count: u32) -> u32 {
    match e.growth {
        (a, _) if a != 0 => a,
        (_, r) => (u64::from(count) * u64::from(r) / 100).max(1) as u32,
    }
}

/// The name of the next container: `[prefix][suffix][.extension]`, advancing the counter.
fn next_name(id: u64, stem: &str) -> Vec<u16> {
    let mut m = mgmt();
    let e = effective(&m, id);
    let Some(lm) = m.logs.get_mut(&id) else {
        return Vec::new();
    };
    let n = match &mut lm.policies[8] {
        Some((Policy::Suffix(s), _)) => {
            let n = *s;
            *s = s.wrapping_add(1);
            n
        }
        _ => {
            let n = lm.next_suffix;
            lm.next_suffix = n.wrapping_add(1);
            n
        }
    };
    let mut name = e
        .prefix
        .unwrap_or_else(|| format!("%BLF%\\{stem}Container").encode_utf16().collect());
    name.extend(n.to_string().encode_utf16());
    if !e.extension.is_empty() {
        if e.extension.first() != Some(&u16::from(b'.')) {
            name.push(u16::from(b'.'));
        }
        name.extend_from_slice(&e.extension);
    }
    name
}

/// Serialises growth, so that concurrent growers (a log-full handler, auto-grow, a resize)
/// never overshoot a limit. Lock order: `GROW` → `EMU` → `MGMT`.
static GROW: Mutex<()> = Mutex::new(());

/// Adds up to `n` containers to the log behind object `h`, never past `limit` containers in
/// all, one at a time (a name that is taken is skipped). Returns how many were added, and the
/// first failure, if any.
fn grow(h: usize, v: &View, n: u32, limit: u32, new_size: Option<u32>) -> (u32, Option<NTSTATUS>) {
    let _serial = GROW.lock().unwrap_or_else(|e| e.into_inner());
    let now = match view_of_object(h) {
        Ok(now) => now,
        Err(st) => return (0, Some(st)),
    };
    {
        let mut m = mgmt();
        m.logs.entry(v.id).or_insert_with(|| LogMgmt {
            sandbox: v.sandbox,
            next_suffix: u64::from(now.containers),
            ..LogMgmt::default()
        });
    }
    let n = n.min(limit.saturating_sub(now.containers));
    let first_size =
        (now.containers == 0).then(|| new_size.map_or(DEFAULT_NEW_CONTAINER, u64::from));
    let mut added = 0;
    let mut tries = 0;
    while added < n {
        if crate::faults::growth_fails(v.sandbox) {
            record_added(v.sandbox, added);
            return (added, Some(STATUS_LOG_CONTAINER_OPEN_FAILED));
        }
        let name = next_name(v.id, &v.stem);
        let size = first_size.filter(|_| added == 0);
        match log::add_containers(h, size, &[name]) {
            Ok(_) => added += 1,
            Err(STATUS_OBJECT_NAME_COLLISION) if tries < 64 => tries += 1,
            Err(st) => {
                record_added(v.sandbox, added);
                return (added, Some(st));
            }
        }
    }
    record_added(v.sandbox, added);
    (added, None)
}

fn record_added(sandbox: u64, added: u32) {
    if added > 0 {
        with_stats(sandbox, |s| s.mgmt_containers_added += u64::from(added));
    }
}

/// Removes up to `n` free containers of the log behind object `h` (never the active ones).
/// Returns how many went.
fn shrink(h: usize, v: &View, n: u32) -> u32 {
    let names: Vec<Vec<u16>> = {
        let emu = emu();
        let Some(l) = emu.logs.get(&v.id) else {
            return 0;
        };
        let dir = l.base_path.parent().map(std::path::Path::to_path_buf);
        l.meta
            .containers
            .iter()
            .rev()
            .filter(|c| l.is_free(c) && !c.pending_delete && c.path.parent() == dir.as_deref())
            .filter_map(|c| c.path.file_name().map(|f| f.to_string_lossy().into_owned()))
            .take(n as usize)
            .map(|f| format!("%BLF%\\{f}").encode_utf16().collect())
            .collect()
    };
    let mut removed = 0;
    for name in names {
        if log::remove_containers(h, &[name], true) == STATUS_SUCCESS {
            removed += 1;
        }
    }
    if removed > 0 {
        with_stats(v.sandbox, |s| {
            s.mgmt_containers_removed += u64::from(removed)
        });
    }
    removed
}

// ---------------------------------------------------------------------------------------------
// Clients and callbacks

/// `ClfsMgmtRegisterManagedClient` after the pointer checks.
pub(crate) fn register(h: usize, r: &CLFS_MGMT_CLIENT_REGISTRATION) -> Result<usize, NTSTATUS> {
    if r.Version != crate::types::CLFS_MGMT_CLIENT_REGISTRATION_VERSION {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let v = view_of_object(h)?;
    let mut m = mgmt();
    if m.clients
        .values()
        .filter(|c| c.log == v.id && !c.dead)
        .count()
        >= MAX_CLIENTS
    {
        return Err(STATUS_INSUFFICIENT_RESOURCES);
    }
    let cookie = m.cookie();
    m.clients.insert(
        cookie,
        Client {
            sandbox: v.sandbox,
            object: h,
            log: v.id,
            cb: Callbacks {
                advance_tail: r.AdvanceTailCallback,
                advance_tail_data: Ctx(r.AdvanceTailCallbackData),
                growth_complete: r.LogGrowthCompleteCallback,
                growth_complete_data: Ctx(r.LogGrowthCompleteCallbackData),
                unpinned: r.LogUnpinnedCallback,
                unpinned_data: Ctx(r.LogUnpinnedCallbackData),
            },
            orphaned: false,
            dead: false,
            busy: Vec::new(),
            pending: false,
            advance_outstanding: false,
            failed: false,
            pinned_told: false,
        },
    );
    drop(m);
    with_stats(v.sandbox, |s| s.live_clients += 1);
    Ok(cookie)
}

/// `ClfsMgmtDeregisterManagedClient`: after it returns no callback of the client runs. It
/// waits for callbacks running on other threads; one running on this thread (a callback that
/// deregisters its own client) is not waited for.
pub(crate) fn deregister(cookie: usize) -> NTSTATUS {
    let me = std::thread::current().id();
    let mut m = mgmt();
    let sandbox = match m.clients.get_mut(&cookie) {
        Some(c) if !c.dead => {
            c.dead = true;
            c.sandbox
        }
        _ => return STATUS_INVALID_PARAMETER_1,
    };
    while m
        .clients
        .get(&cookie)
        .is_some_and(|c| c.busy.iter().any(|t| *t != me))
    {
        m = IDLE.wait(m).unwrap_or_else(|e| e.into_inner());
    }
    m.clients.remove(&cookie);
    drop(m);
    with_stats(sandbox, |s| {
        s.live_clients = s.live_clients.saturating_sub(1)
    });
    STATUS_SUCCESS
}

/// Which callback to run.
#[derive(Clone, Copy)]
enum Call {
    AdvanceTail(u64),
    GrowthComplete(NTSTATUS, bool),
    Unpinned,
}

/// Runs one callback of `cookie` unless the client is gone, dead or orphaned. Returns the
/// AdvanceTail callback's status, if that one ran.
fn invoke(cookie: usize, call: Call) -> Option<NTSTATUS> {
    let me = std::thread::current().id();
    let (cb, object, sandbox) = {
        let mut m = mgmt();
        let c = m.clients.get_mut(&cookie)?;
        if c.dead || c.orphaned {
            return None;
        }
        c.busy.push(me);
        (c.cb, c.object, c.sandbox)
    };
    let lf = core::ptr::without_provenance::<FILE_OBJECT>(object);
    let mut ret = None;
    match call {
        Call::AdvanceTail(target) => {
            if let Some(f) = cb.advance_tail {
                let t = CLS_LSN { Internal: target };
                with_stats(sandbox, |s| s.tail_advance_requests += 1);
                // SAFETY: the client registered `f` with this context; `t` lives across the
                // call; no emulator lock is held.
                ret = Some(unsafe { f(lf, &t, cb.advance_tail_data.0) });
            }
        }
        Call::GrowthComplete(st, pinned) => {
            if let Some(f) = cb.growth_complete {
                // SAFETY: as above.
                unsafe {
                    f(lf, st, u8::from(pinned), cb.growth_complete_data.0);
                }
            }
        }
        Call::Unpinned => {
            if let Some(f) = cb.unpinned {
                // SAFETY: as above.
                unsafe { f(lf, cb.unpinned_data.0) };
            }
        }
    }
    let mut m = mgmt();
    if let Some(c) = m.clients.get_mut(&cookie) {
        if let Some(i) = c.busy.iter().position(|t| *t == me) {
            c.busy.swap_remove(i);
        }
    }
    drop(m);
    IDLE.notify_all();
    ret
}

/// Queues `f` on the management worker of `sandbox` (`workers`): it runs after this returns,
/// on the sandbox's one worker thread, after the items queued before it.
fn spawn(sandbox: u64, f: impl FnOnce() + Send + 'static) {
    crate::workers::queue(sandbox, f);
}

/// Completes the pending log-full request of `cookie` with `st` (asynchronously).
fn complete_async(cookie: usize, sandbox: u64, st: NTSTATUS, pinned: bool) {
    spawn(sandbox, move || {
        let go = {
            let mut m = mgmt();
            match m.clients.get_mut(&cookie) {
                Some(c) if c.pending => {
                    c.pending = false;
                    if pinned {
                        c.pinned_told = true;
                    }
                    true
                }
                _ => false,
            }
        };
        if go {
            invoke(cookie, Call::GrowthComplete(st, pinned));
        }
    });
}

/// True if client `c` of log `id` may be asked to advance its tail now.
fn askable(c: &Client, id: u64) -> bool {
    c.log == id
        && !c.dead
        && !c.orphaned
        && !c.failed
        && !c.advance_outstanding
        && c.cb.advance_tail.is_some()
}

/// Asks every client of log `id` that may be asked to advance its tail to `target`;
/// returns how many were asked.
fn ask_advance(id: u64, target: u64) -> u32 {
    let asked: Vec<usize> = {
        let mut m = mgmt();
        let mut v = Vec::new();
        for (k, c) in m.clients.iter_mut() {
            if askable(c, id) {
                c.advance_outstanding = true;
                v.push(*k);
            }
        }
        v
    };
    let n = asked.len() as u32;
    for k in asked {
        if let Some(st) = invoke(k, Call::AdvanceTail(target)) {
            if st >= 0 && st != STATUS_PENDING {
                // Contract breach (SUCCESS): the request still stands until the tail moves.
                with_stats_of_client(k, |s| s.advance_tail_contract_breaches += 1);
            } else if st < 0 {
                // An error return is a failure report.
                let _ = tail_advance_failure(k, st);
            }
        }
    }
    n
}

fn with_stats_of_client(cookie: usize, f: impl FnOnce(&mut crate::Stats)) {
    let sb = mgmt().clients.get(&cookie).map(|c| c.sandbox);
    if let Some(sb) = sb {
        with_stats(sb, f);
    }
}

/// The LSN that frees `n` more containers when the tail reaches it (clamped to the last LSN).
fn target_for(v: &View, n: u32) -> u64 {
    let cid = (v.tail >> 32) as u32;
    crate::log::lsn(cid.saturating_add(n.max(1)), 0, 0).min(v.last)
}

/// True if no client of log `id` can still move the tail (all failed, or none can be asked).
fn clients_stuck(m: &Mgmt, id: u64) -> bool {
    !m.clients
        .values()
        .any(|c| c.log == id && !c.dead && !c.orphaned && !c.failed && c.cb.advance_tail.is_some())
}

/// `ClfsMgmtHandleLogFileFull`.
pub(crate) fn handle_log_full(cookie: usize) -> NTSTATUS {
    let (object, sandbox) = {
        let m = mgmt();
        match m.clients.get(&cookie) {
            None => return STATUS_INVALID_PARAMETER_1,
            Some(c) if c.dead => return STATUS_INVALID_PARAMETER_1,
            Some(c) if c.orphaned => return STATUS_INVALID_PARAMETER,
            Some(c) if c.pending => return STATUS_LOG_FULL_HANDLER_IN_PROGRESS,
            Some(c) => (c.object, c.sandbox),
        }
    };
    let Ok(v) = view_of_object(object) else {
        return STATUS_INVALID_PARAMETER;
    };
    with_stats(sandbox, |s| s.log_full_requests += 1);
    if v.containers >= 2 && v.free > 0 {
        return STATUS_SUCCESS;
    }
    let (can_grow, step, max, new_size, pinned) = {
        let mut m = mgmt();
        let e = effective(&m, v.id);
        let max = e.max.unwrap_or(v.containers).min(MAX_CONTAINERS as u32);
        let can_grow = v.containers < max;
        let step = growth_step(&e, v.containers).min(max.saturating_sub(v.containers));
        let pinned = !can_grow && (v.archive_pins || clients_stuck(&m, v.id));
        let Some(c) = m.clients.get_mut(&cookie) else {
            return STATUS_INVALID_PARAMETER_1;
        };
        if c.pending {
            return STATUS_LOG_FULL_HANDLER_IN_PROGRESS;
        }
        if pinned {
            c.pinned_told = true;
        } else {
            c.pending = true;
        }
        (can_grow, step, max, e.new_size, pinned)
    };
    if pinned {
        // Documented: the completion callback runs with LogIsPinned before PENDING returns.
        let st = if v.archive_pins {
            STATUS_LOG_PINNED_ARCHIVE_TAIL
        } else {
            STATUS_LOG_PINNED
        };
        invoke(cookie, Call::GrowthComplete(st, true));
        return STATUS_PENDING;
    }
    spawn(sandbox, move || {
        if can_grow {
            let (added, err) = grow(object, &v, step, max, new_size);
            if added > 0 {
                complete_async(cookie, sandbox, STATUS_SUCCESS, false);
                return;
            }
            if let Some(st) = err {
                complete_async(cookie, sandbox, st, false);
                return;
            }
        }
        // The target from a fresh view: the tail may have moved since the request, or
        // another grower made room.
        let fresh = view_of_object(object).unwrap_or_else(|_| v.clone());
        if fresh.free > 0 {
            complete_async(cookie, sandbox, STATUS_SUCCESS, false);
            return;
        }
        let asked = ask_advance(v.id, target_for(&fresh, 1));
        // The tail may have moved while the callbacks ran, or nobody could be asked.
        let now = view_of_object(object);
        match now {
            Ok(n) if n.free > 0 => complete_async(cookie, sandbox, STATUS_SUCCESS, false),
            Ok(_) if asked == 0 => {
                let stuck = clients_stuck(&mgmt(), v.id);
                if stuck {
                    complete_async(cookie, sandbox, STATUS_LOG_PINNED, true);
                }
            }
            Ok(_) => {}
            Err(st) => complete_async(cookie, sandbox, st, false),
        }
    });
    STATUS_PENDING
}

/// `ClfsMgmtTailAdvanceFailure`.
pub(crate) fn tail_advance_failure(cookie: usize, reason: NTSTATUS) -> NTSTATUS {
    let (id, sandbox, pending, stuck) = {
        let mut m = mgmt();
        let Some(c) = m.clients.get_mut(&cookie).filter(|c| !c.dead) else {
            return STATUS_INVALID_PARAMETER_1;
        };
        c.failed = true;
        c.advance_outstanding = false;
        let (id, sandbox) = (c.log, c.sandbox);
        let pending: Vec<usize> = m
            .clients
            .iter()
            .filter(|(_, c)| c.log == id && c.pending && !c.dead)
            .map(|(k, _)| *k)
            .collect();
        let stuck = clients_stuck(&m, id);
        (id, sandbox, pending, stuck)
    };
    let _ = id;
    // The reason comes back as the OperationStatus of the pending requests' completion.
    for k in pending {
        complete_async(k, sandbox, reason, stuck);
    }
    STATUS_SUCCESS
}

/// Called after the tail (base or archive tail) of the log behind object `h` moved:
/// clears the outstanding requests, completes pending log-full requests if space is free,
/// owes `LogUnpinned` to the clients told the log was pinned, and applies auto-shrink.
pub(crate) fn tail_moved(h: usize) {
    let Ok(v) = view_of_object(h) else {
        return;
    };
    let (complete, unpin, shrink_by, reask) = {
        let mut m = mgmt();
        let e = effective(&m, v.id);
        let mut complete = Vec::new();
        let mut unpin = Vec::new();
        let free = v.free > 0;
        let mut reask = false;
        for (k, c) in m.clients.iter_mut() {
            if c.log != v.id || c.dead {
                continue;
            }
            c.advance_outstanding = false;
            c.failed = false;
            if free && c.pending {
                complete.push((*k, c.sandbox));
            }
            // Still no free container for a pending request: the move was not enough (a
            // target computed before an earlier move), so ask again.
            reask |= !free && c.pending;
            if free && c.pinned_told && !c.pending {
                c.pinned_told = false;
                unpin.push((*k, c.sandbox));
            }
        }
        let min = e.min.unwrap_or(2).max(2);
        let shrink_by = if e.shrink > 0
            && v.containers > 0
            && u64::from(v.free) * 100 >= u64::from(e.shrink) * u64::from(v.containers)
        {
            // Give back free containers down to the minimum, keeping one free for appends.
            v.containers
                .saturating_sub(min)
                .min(v.free.saturating_sub(1))
        } else {
            0
        };
        (complete, unpin, shrink_by, reask)
    };
    if reask && v.tail < v.last {
        let (id, target) = (v.id, target_for(&v, 1));
        spawn(v.sandbox, move || {
            ask_advance(id, target);
        });
    }
    for (k, sb) in complete {
        complete_async(k, sb, STATUS_SUCCESS, false);
    }
    for (k, sb) in unpin {
        // Always after LogGrowthComplete: that ran when the pinned request was answered.
        spawn(sb, move || {
            invoke(k, Call::Unpinned);
        });
    }
    if shrink_by > 0 {
        shrink(h, &v, shrink_by);
    }
}

/// [`tail_moved`] for the log of a marshalling area.
pub(crate) fn tail_moved_area(area: usize) {
    if let Some((_, object)) = log_of_area(area) {
        tail_moved(object);
    }
}

/// After an append through `area` (only while some log has an auto-grow or log-tail policy):
/// grows when fewer than two containers are free (auto-grow), and asks clients to advance
/// their tail when less space is free than the log-tail policy wants. Returns true if
/// containers were added.
pub(crate) fn after_append(area: usize, full: bool) -> bool {
    if WATCHED.load(Ordering::Relaxed) == 0 {
        return false;
    }
    let Some((id, object)) = log_of_area(area) else {
        return false;
    };
    let e = {
        let m = mgmt();
        if !m.logs.get(&id).is_some_and(watched) {
            return false;
        }
        effective(&m, id)
    };
    let Ok(v) = view_of_object(object) else {
        return false;
    };
    let mut grew = false;
    if e.auto_grow && (v.free < 2 || full) {
        let max = e.max.unwrap_or(v.containers).min(MAX_CONTAINERS as u32);
        let step = growth_step(&e, v.containers).min(max.saturating_sub(v.containers));
        if step > 0 {
            grew = grow(object, &v, step, max, e.new_size).0 > 0;
        }
    }
    let (pct, cnt) = e.tail;
    if !grew && (pct != 0 || cnt != 0) {
        let want = if cnt != 0 {
            cnt
        } else {
            (u64::from(v.containers) * u64::from(pct)).div_ceil(100) as u32
        };
        if v.free < want {
            let target = target_for(&v, want - v.free);
            // A thread only when some client can be asked (not one per append while a
            // request is outstanding).
            if target > v.tail && mgmt().clients.values().any(|c| askable(c, id)) {
                let sandbox = v.sandbox;
                spawn(sandbox, move || {
                    ask_advance(id, target);
                });
            }
        }
    }
    grew
}

/// `ClfsMgmtSetLogFileSize[AsClient]` after the pointer checks: returns the resulting
/// number of containers and the status.
pub(crate) fn set_size(h: usize, client: Option<usize>, want: u64) -> (u64, NTSTATUS) {
    let v = match view_of_object(h) {
        Ok(v) => v,
        Err(st) => return (0, st),
    };
    let cur = u64::from(v.containers);
    if let Some(c) = client {
        let m = mgmt();
        if !m.clients.get(&c).is_some_and(|c| !c.dead && c.log == v.id) {
            return (cur, STATUS_LOG_CLIENT_NOT_REGISTERED);
        }
    }
    if want == 1 {
        return (cur, STATUS_INVALID_PARAMETER_1);
    }
    let e = effective(&mgmt(), v.id);
    if let (Some(min), Some(max)) = (e.min, e.max) {
        if min > max {
            return (cur, STATUS_LOG_POLICY_INVALID);
        }
    }
    let target = match want {
        0 => cur.max(u64::from(e.min.unwrap_or(2))),
        2..=1023 => {
            if e.min.is_some_and(|m| want < u64::from(m)) {
                return (cur, STATUS_COULD_NOT_RESIZE_LOG);
            }
            want.min(e.max.map_or(u64::MAX, u64::from))
        }
        _ => match e.max {
            None => return (cur, STATUS_LOG_POLICY_CONFLICT),
            Some(m) => u64::from(m),
        },
    };
    if target > cur {
        let need = (target - cur) as u32;
        let (added, _) = grow(h, &v, need, target as u32, e.new_size);
        let now = cur + u64::from(added);
        if added < need {
            return (now, STATUS_LOG_POLICY_CONFLICT);
        }
        (now, STATUS_SUCCESS)
    } else if target < cur {
        let need = (cur - target) as u32;
        let removed = shrink(h, &v, need);
        let now = cur - u64::from(removed);
        if removed < need {
            return (now, STATUS_COULD_NOT_RESIZE_LOG);
        }
        (now, STATUS_SUCCESS)
    } else {
        (cur, STATUS_SUCCESS)
    }
}

/// A log object closed: its clients are orphaned (no more callbacks); if it was the last
/// handle of log `id`, the log's policies are gone.
pub(crate) fn object_closed(h: usize, id: u64, last: bool) {
    let mut m = mgmt();
    for c in m.clients.values_mut() {
        if c.object == h {
            c.orphaned = true;
            c.pending = false;
        }
    }
    if last {
        if let Some(lm) = m.logs.remove(&id) {
            update_watch(watched(&lm), false);
            let n = lm.policies.iter().flatten().count() as i64;
            drop(m);
            policy_count_changed(lm.sandbox, -n);
        }
    }
}

/// Simulated power loss: every client and policy of `sandbox` is gone.
pub(crate) fn crash_sandbox(sandbox: u64) {
    let mut m = mgmt();
    for c in m.clients.values_mut() {
        if c.sandbox == sandbox {
            c.orphaned = true;
            c.pending = false;
        }
    }
    let ids: Vec<u64> = m
        .logs
        .iter()
        .filter(|(_, l)| l.sandbox == sandbox)
        .map(|(k, _)| *k)
        .collect();
    for id in ids {
        if let Some(lm) = m.logs.remove(&id) {
            update_watch(watched(&lm), false);
        }
    }
    drop(m);
    with_stats(sandbox, |s| s.policies = 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_round_trip() {
        let all = [
            Policy::MaximumSize(8),
            Policy::MinimumSize(2),
            Policy::NewContainerSize(1 << 20),
            Policy::GrowthRate {
                absolute: 0,
                relative: 10,
            },
            Policy::LogTail {
                percentage: 0,
                containers: 1,
            },
            Policy::AutoShrink(50),
            Policy::AutoGrow(1),
            Policy::Prefix("%BLF%\\p".encode_utf16().collect()),
            Policy::Suffix(7),
            Policy::Extension("dat".encode_utf16().collect()),
        ];
        for p in all {
            let b = p.encode(1);
            assert_eq!(u32_at(&b, 4) as usize, b.len());
            assert!(b.len() >= 24 && b.len() % 8 == 0);
            assert_eq!(Policy::decode(p.kind(), &b), Ok(p));
        }
    }

    /// The emulator's policy type numbers are `CLFS_MGMT_POLICY_TYPE`'s (which tests/abi.rs
    /// compares with wdm.h through windows-sys's constants).
    #[test]
    fn policy_kinds_are_the_header_values() {
        use windows_sys::Win32::Storage::FileSystem as fs;
        let pairs = [
            (Policy::MaximumSize(2), fs::ClfsMgmtPolicyMaximumSize),
            (Policy::MinimumSize(2), fs::ClfsMgmtPolicyMinimumSize),
            (
                Policy::NewContainerSize(1),
                fs::ClfsMgmtPolicyNewContainerSize,
            ),
            (
                Policy::GrowthRate {
                    absolute: 1,
                    relative: 0,
                },
                fs::ClfsMgmtPolicyGrowthRate,
            ),
            (
                Policy::LogTail {
                    percentage: 1,
                    containers: 0,
                },
                fs::ClfsMgmtPolicyLogTail,
            ),
            (Policy::AutoShrink(1), fs::ClfsMgmtPolicyAutoShrink),
            (Policy::AutoGrow(1), fs::ClfsMgmtPolicyAutoGrow),
            (
                Policy::Prefix(vec![0x41]),
                fs::ClfsMgmtPolicyNewContainerPrefix,
            ),
            (Policy::Suffix(1), fs::ClfsMgmtPolicyNewContainerSuffix),
            (
                Policy::Extension(vec![0x41]),
                fs::ClfsMgmtPolicyNewContainerExtension,
            ),
        ];
        for (p, c) in pairs {
            assert_eq!(p.kind() as i32, c, "{p:?}");
        }
        assert_eq!(NUM_POLICIES as i32, fs::ClfsMgmtPolicyInvalid);
    }

    #[test]
    fn growth_rate_rounds_down() {
        let mut e = effective(&Mgmt::default(), 0);
        e.growth = (0, 10);
        assert_eq!(growth_step(&e, 32), 3);
        assert_eq!(growth_step(&e, 5), 1);
        e.growth = (4, 0);
        assert_eq!(growth_step(&e, 5), 4);
    }
}
