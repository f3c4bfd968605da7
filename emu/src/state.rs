//! Sandboxes, accounts and the global emulator state.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use crate::faults::FaultState;
use crate::log::{LogObject, PhysLog};
use crate::marshal::Area;
use crate::read::ReadCtx;

/// A count and byte total of outstanding allocations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outstanding {
    /// Number of outstanding allocations.
    pub count: u64,
    /// Sum of their sizes in bytes.
    pub bytes: u64,
}

/// The LSN helpers: pure arithmetic, no log object involved (not counted by
/// [`Stats::clfs_calls`]).
fn is_lsn_helper(name: &str) -> bool {
    name.starts_with("ClfsLsn") || matches!(name, "ClfsLaterLsn" | "ClfsEarlierLsn")
}

/// A snapshot of one sandbox's accounts.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Open log file objects (`ClfsCreateLogFile` minus `ClfsCloseLogFileObject`).
    pub open_logs: u64,
    /// Of those, the objects open on a stream or on the physical log of a multiplexed log.
    pub open_streams: u64,
    /// Marshalling areas not yet freed (a deleted area stays until its last read context ends).
    pub live_areas: u64,
    /// Read contexts not yet terminated.
    pub live_read_contexts: u64,
    /// Scan contexts (`ClfsCreateScanContext`) not yet closed with `CLFS_SCAN_CLOSE`.
    pub live_scan_contexts: u64,
    /// Log I/O blocks held by marshalling areas, per (pool type, tag CLFS passes to the
    /// allocate callback). That tag is always [`EMU_BLOCK_TAG`](crate::EMU_BLOCK_TAG) ('Clfs'),
    /// whoever allocates: the tag a driver's own allocator (e.g. `clfs::TaggedPool`) uses
    /// shows in [`pool`](Self::pool), the `ExAllocatePool2` allocations per tag.
    pub blocks: BTreeMap<(i32, u32), Outstanding>,
    /// `ExAllocatePool2` allocations not yet freed, per tag.
    pub pool: BTreeMap<u32, Outstanding>,
    /// Calls per routine name: every exported routine except `KeGetCurrentIrql`, which is a
    /// read of the simulated IRQL (a CR8 read in the kernel) and is not counted.
    pub calls: BTreeMap<&'static str, u64>,
    /// Flushes that wrote at least one block.
    pub flushes: u64,
    /// Log blocks written to containers.
    pub blocks_written: u64,
    /// Bytes written to containers (sector-rounded block sizes).
    pub bytes_written: u64,
    /// Reserved records held by live marshalling areas.
    pub reserved_records: i64,
    /// Reserved bytes held by live marshalling areas.
    pub reserved_bytes: i64,
    /// Managed clients registered and not deregistered (`ClfsMgmtRegisterManagedClient`
    /// minus `ClfsMgmtDeregisterManagedClient`).
    pub live_clients: u64,
    /// Management policies installed on open logs (they vanish with the log's last handle).
    pub policies: u64,
    /// Containers that management added (growth, auto-grow, `ClfsMgmtSetLogFileSize`).
    pub mgmt_containers_added: u64,
    /// Containers that management removed (auto-shrink, `ClfsMgmtSetLogFileSize`).
    pub mgmt_containers_removed: u64,
    /// AdvanceTail callbacks made.
    pub tail_advance_requests: u64,
    /// `ClfsMgmtHandleLogFileFull` calls that got past parameter validation.
    pub log_full_requests: u64,
    /// AdvanceTail callbacks that returned STATUS_SUCCESS (the contract says PENDING or an
    /// error).
    pub advance_tail_contract_breaches: u64,
    /// Threads the emulator started to run this sandbox's asynchronous management work: 0
    /// until the first item, then 1 (the sandbox's worker, which runs every item in order and
    /// ends when the sandbox is dropped), however many requests follow.
    pub mgmt_threads: u64,
    /// Asynchronous management work items queued for this sandbox (log-full handling,
    /// AdvanceTail requests, LogGrowthComplete and LogUnpinned callbacks).
    pub mgmt_work_items: u64,
    /// The options of the last `ClfsCreateLogFile` call whose parameters were accepted.
    pub last_create: Option<CreateCall>,
    /// What the emulator noticed about logs it opened that a test may want to show, e.g.
    /// why a Windows-made log was opened for reading only (`docs/emulator.md`).
    pub notes: Vec<String>,
}

/// What a `ClfsCreateLogFile` call passed beside the name, access, share, disposition and
/// attributes (the emulator accepts and records them; it does not act on them: it has no
/// file system to filter, no security model and no hidden attribute).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreateCall {
    /// `fCreateOptions`.
    pub create_options: u32,
    /// `fLogOptionFlag`.
    pub log_option_flag: u32,
    /// `psdLogFile` as an address (0 = NULL); never dereferenced.
    pub security_descriptor: usize,
    /// `pvContext` as an address (0 = NULL); never dereferenced.
    pub context: usize,
    /// `cbContext`.
    pub context_len: u32,
}

/// Records the options of an accepted `ClfsCreateLogFile` in the current sandbox.
pub(crate) fn record_create(call: CreateCall) {
    with_stats(current_sandbox(), |s| s.last_create = Some(call));
}

impl Stats {
    /// Calls of `routine` so far.
    pub fn calls(&self, routine: &str) -> u64 {
        self.calls.get(routine).copied().unwrap_or(0)
    }

    /// Calls of every `Clfs*` routine except the LSN helpers (`ClfsLsn*`, `ClfsLaterLsn`,
    /// `ClfsEarlierLsn`).
    pub fn clfs_calls(&self) -> u64 {
        self.calls
            .iter()
            .filter(|(k, _)| k.starts_with("Clfs") && !is_lsn_helper(k))
            .map(|(_, v)| *v)
            .sum()
    }

    /// One human-readable line per non-zero open/live/outstanding account; empty = no leaks.
    pub fn leaks(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.open_logs != 0 {
            let of = if self.open_streams != 0 {
                format!(" ({} on multiplexed logs)", self.open_streams)
            } else {
                String::new()
            };
            v.push(format!(
                "{} log file object(s) still open{of}",
                self.open_logs
            ));
        }
        if self.live_areas != 0 {
            v.push(format!(
                "{} marshalling area(s) still live",
                self.live_areas
            ));
        }
        if self.live_scan_contexts != 0 {
            v.push(format!(
                "{} scan context(s) not closed (CLFS_SCAN_CLOSE)",
                self.live_scan_contexts
            ));
        }
        if self.live_read_contexts != 0 {
            v.push(format!(
                "{} read context(s) not terminated",
                self.live_read_contexts
            ));
        }
        for ((pool, tag), o) in &self.blocks {
            if o.count != 0 || o.bytes != 0 {
                v.push(format!(
                    "{} log I/O block(s) ({} bytes) outstanding in pool type {pool} tag {}",
                    o.count,
                    o.bytes,
                    tag_name(*tag)
                ));
            }
        }
        for (tag, o) in &self.pool {
            if o.count != 0 || o.bytes != 0 {
                v.push(format!(
                    "{} ExAllocatePool2 allocation(s) ({} bytes) not freed, tag {}",
                    o.count,
                    o.bytes,
                    tag_name(*tag)
                ));
            }
        }
        if self.live_clients != 0 {
            v.push(format!(
                "{} managed client(s) never deregistered",
                self.live_clients
            ));
        }
        if self.policies != 0 {
            v.push(format!(
                "{} management policy(ies) still installed",
                self.policies
            ));
        }
        if self.reserved_records != 0 || self.reserved_bytes != 0 {
            v.push(format!(
                "{} reserved record(s) ({} bytes) still held",
                self.reserved_records, self.reserved_bytes
            ));
        }
        v
    }
}

/// Renders a pool tag as its four characters and hex value.
pub(crate) fn tag_name(tag: u32) -> String {
    let b = tag.to_le_bytes();
    let s: String = b
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                char::from(c)
            } else {
                '.'
            }
        })
        .collect();
    format!("'{s}' (0x{tag:08X})")
}

/// A cheap hasher for the emulator's integer keys (sandbox ids, routine-name addresses):
/// a Fibonacci multiply instead of SipHash, since the keys are not attacker-chosen.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

/// `HashMap` hasher for integer keys.
pub(crate) type IdHash = std::hash::BuildHasherDefault<IdHasher>;

/// Generates [`ROUTINES`] from the shared list ([`clfs_routines!`](crate::clfs_routines)) plus
/// the counted ntoskrnl routines.
macro_rules! routine_names {
    ($( $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty; )*) => {
        /// Every routine whose calls are counted; a call site names its slot with
        /// [`routine_index`] at compile time.
        pub(crate) const ROUTINES: &[&str] =
            &[$(stringify!($name),)* "ExAllocatePool2", "ExFreePoolWithTag"];
    };
}
crate::clfs_routines!(routine_names);

/// The slot of `name` in [`ROUTINES`] (`ROUTINES.len()` if absent; call sites assert it at
/// compile time).
pub(crate) const fn routine_index(name: &str) -> usize {
    let n = name.as_bytes();
    let mut i = 0;
    while i < ROUTINES.len() {
        let r = ROUTINES[i].as_bytes();
        if r.len() == n.len() {
            let mut k = 0;
            while k < r.len() && r[k] == n[k] {
                k += 1;
            }
            if k == r.len() {
                return i;
            }
        }
        i += 1;
    }
    ROUTINES.len()
}

/// Counts a call of a routine (by its literal name): lock-free, see [`count_call_at`].
macro_rules! count_call {
    ($name:literal) => {{
        const I: usize = $crate::state::routine_index($name);
        const _: () = assert!(I < $crate::state::ROUTINES.len(), "routine not in ROUTINES");
        $crate::state::count_call_at(I)
    }};
}
pub(crate) use count_call;

/// A sandbox's call counters, shared with the threads that call on its behalf: a call is an
/// atomic increment (no lock), merged into [`Stats::calls`] by name when a snapshot is taken.
pub(crate) struct Hot {
    calls: [AtomicU64; ROUTINES.len()],
    /// Some call fault may be armed: calls then take the registry lock to check.
    pub faults_armed: AtomicBool,
}

impl Default for Hot {
    fn default() -> Hot {
        Hot {
            calls: std::array::from_fn(|_| AtomicU64::new(0)),
            faults_armed: AtomicBool::new(false),
        }
    }
}

/// One sandbox's registry entry.
pub(crate) struct SbState {
    pub root: PathBuf,
    pub stats: Stats,
    pub faults: FaultState,
    pub hot: Arc<Hot>,
}

impl SbState {
    fn new(root: PathBuf) -> SbState {
        SbState {
            root,
            stats: Stats::default(),
            faults: FaultState::default(),
            hot: Arc::default(),
        }
    }

    /// The accounts with the call counts merged in.
    fn snapshot(&self) -> Stats {
        let mut st = self.stats.clone();
        for (name, n) in ROUTINES.iter().zip(&self.hot.calls) {
            let n = n.load(Ordering::Relaxed);
            if n != 0 {
                *st.calls.entry(name).or_insert(0) += n;
            }
        }
        st
    }
}

/// The sandbox registry and pool table. Lock order: `EMU` before `REG`; `REG` is never
/// held while `EMU` is taken, and never while caller callbacks run.
pub(crate) struct Reg {
    pub sandboxes: HashMap<u64, SbState, IdHash>,
    pub default_root: Option<PathBuf>,
    pub pool: HashMap<usize, crate::pool::PoolAlloc>,
}

pub(crate) static REG: LazyLock<Mutex<Reg>> = LazyLock::new(|| {
    Mutex::new(Reg {
        sandboxes: HashMap::default(),
        default_root: None,
        pool: HashMap::new(),
    })
});

pub(crate) fn reg() -> MutexGuard<'static, Reg> {
    REG.lock().unwrap_or_else(|e| e.into_inner())
}

impl Reg {
    /// The entry of sandbox `id`, creating the default sandbox (id 0) on first use.
    pub fn sb(&mut self, id: u64) -> Option<&mut SbState> {
        if id == 0 && !self.sandboxes.contains_key(&0) {
            let root = self
                .default_root
                .clone()
                .unwrap_or_else(default_root_from_env);
            self.sandboxes.insert(0, SbState::new(root));
        }
        self.sandboxes.get_mut(&id)
    }
}

fn default_root_from_env() -> PathBuf {
    match std::env::var_os("CLFS_EMU_ROOT") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => std::env::temp_dir().join("clfs-emu-default"),
    }
}

/// Runs `f` on the stats of sandbox `id` (ignored if the sandbox is gone).
pub(crate) fn with_stats(id: u64, f: impl FnOnce(&mut Stats)) {
    if let Some(s) = reg().sb(id) {
        f(&mut s.stats);
    }
}

/// The root directory of sandbox `id`.
pub(crate) fn root_of(id: u64) -> Option<PathBuf> {
    reg().sb(id).map(|s| s.root.clone())
}

/// Sets the root of the process-global default sandbox (used by threads without a
/// [`Sandbox`]). Without a call it is `$CLFS_EMU_ROOT` or `<temp>/clfs-emu-default`.
pub fn set_default_root(path: impl Into<PathBuf>) {
    let p = path.into();
    let mut r = reg();
    r.default_root = Some(p.clone());
    if let Some(s) = r.sandboxes.get_mut(&0) {
        s.root = p;
    }
}

thread_local! {
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

/// The current thread's sandbox id (0 = the default sandbox).
pub(crate) fn current_sandbox() -> u64 {
    CURRENT.with(Cell::get)
}

/// True while sandbox `id` exists (the default sandbox 0 always does).
pub(crate) fn sandbox_alive(id: u64) -> bool {
    id == 0 || reg().sandboxes.contains_key(&id)
}

/// Makes `id` the current thread's sandbox (emulator worker threads).
pub(crate) fn enter_sandbox(id: u64) {
    CURRENT.with(|c| c.set(id));
}

static NEXT_SANDBOX: AtomicU64 = AtomicU64::new(1);

/// A test sandbox: a root directory for logs plus its own accounts and fault controls.
///
/// Creating one makes it the current thread's sandbox; dropping it restores the previous
/// one and (for [`Sandbox::new`], unless [`Sandbox::keep`] was called) removes the directory.
/// Objects remember the sandbox that created them, so their frees are accounted there
/// whatever thread performs them.
#[derive(Debug)]
pub struct Sandbox {
    id: u64,
    root: PathBuf,
    previous: u64,
    remove_on_drop: bool,
}

impl Sandbox {
    /// Creates a fresh unique directory `<temp>/clfs-emu-<pid>-<n>` and makes it current.
    ///
    /// # Panics
    /// If the directory cannot be created (test-only API).
    #[allow(clippy::expect_used)]
    pub fn new() -> Sandbox {
        let n = NEXT_SANDBOX.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("clfs-emu-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("cannot create the sandbox directory");
        Self::register(n, root, true)
    }

    /// Uses `root` (created if missing, never removed) as a new current sandbox.
    pub fn with_root(root: impl Into<PathBuf>) -> Sandbox {
        let n = NEXT_SANDBOX.fetch_add(1, Ordering::Relaxed);
        let root = root.into();
        let _ = std::fs::create_dir_all(&root);
        Self::register(n, root, false)
    }

    fn register(id: u64, root: PathBuf, remove_on_drop: bool) -> Sandbox {
        reg().sandboxes.insert(id, SbState::new(root.clone()));
        let previous = CURRENT.with(|c| c.replace(id));
        Sandbox {
            id,
            root,
            previous,
            remove_on_drop,
        }
    }

    /// Keeps the directory when the sandbox is dropped (for post-mortem inspection).
    pub fn keep(&mut self) {
        self.remove_on_drop = false;
    }

    /// The root directory logs are mapped under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A snapshot of this sandbox's accounts.
    pub fn stats(&self) -> Stats {
        reg().sb(self.id).map(|s| s.snapshot()).unwrap_or_default()
    }

    /// Makes this sandbox current on the calling thread too (another thread than the one
    /// that created it), until the returned guard is dropped: that thread's calls, faults and
    /// pool allocations are then accounted here. For tests that call a driver from several
    /// threads (scoped threads can borrow the sandbox).
    pub fn enter(&self) -> Entered {
        Entered {
            id: self.id,
            previous: CURRENT.with(|c| c.replace(self.id)),
        }
    }

    /// Simulated power loss for every log of this sandbox: all unflushed records are
    /// dropped, every open log object, marshalling area and read context of this sandbox
    /// becomes an invalid handle and leaves the accounts; the blocks they held are returned
    /// through the owners' free callbacks. One exception keeps the safe API sound: the block
    /// a read context read into stays allocated (and in [`Stats::blocks`]) until the context
    /// is terminated (`ClfsTerminateReadLog` then answers `STATUS_INVALID_HANDLE` and frees
    /// it), because a record or restart area the caller still holds points into it.
    pub fn crash(&self) {
        crate::log::crash_sandbox(self.id);
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        crate::log::crash_sandbox(self.id);
        CURRENT.with(|c| {
            if c.get() == self.id {
                c.set(self.previous);
            }
        });
        reg().sandboxes.remove(&self.id);
        // Its management worker ends with it (queued items are dropped: its clients and
        // objects are gone); joined here, so no worker thread outlives its sandbox.
        crate::workers::stop(self.id);
        if self.remove_on_drop {
            crate::info::forget_under(&self.root);
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// The guard of [`Sandbox::enter`]: restores the thread's previous sandbox on drop.
#[derive(Debug)]
#[must_use = "the sandbox is current only until the guard is dropped"]
pub struct Entered {
    id: u64,
    previous: u64,
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|c| {
            if c.get() == self.id {
                c.set(self.previous);
            }
        });
    }
}

/// The global emulator tables. Handles are unique, never reused, never dereferenced.
#[derive(Default)]
pub(crate) struct Emu {
    pub next_handle: usize,
    pub objects: HashMap<usize, LogObject, IdHash>,
    pub areas: HashMap<usize, Area, IdHash>,
    pub reads: HashMap<usize, ReadCtx, IdHash>,
    /// Read contexts that died in a `Sandbox::crash`: their handles are invalid, but their
    /// read blocks stay allocated until `ClfsTerminateReadLog`, because the caller may still
    /// hold the record or restart area it read last (a pointer into the block).
    pub crashed_reads: HashMap<usize, ReadCtx, IdHash>,
    /// Physical logs by id (cheap to hash on every call).
    pub logs: HashMap<u64, PhysLog, IdHash>,
    /// Log ids by base file path (for opens and deletes by name).
    pub log_ids: HashMap<PathBuf, u64>,
    pub next_log: u64,
}

impl Emu {
    /// A fresh physical log id.
    pub fn new_log_id(&mut self) -> u64 {
        self.next_log += 1;
        self.next_log
    }

    /// A fresh handle value (non-null, 16-aligned, never reused).
    pub fn handle(&mut self) -> usize {
        if self.next_handle == 0 {
            self.next_handle = 0x0C1F_0000;
        }
        self.next_handle += 16;
        self.next_handle
    }
}

pub(crate) static EMU: LazyLock<Mutex<Emu>> = LazyLock::new(|| Mutex::new(Emu::default()));

pub(crate) fn emu() -> MutexGuard<'static, Emu> {
    EMU.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// The current thread's sandbox id and its call counters (refreshed when the thread's
    /// sandbox changes).
    static HOT: RefCell<Option<(u64, Arc<Hot>)>> = const { RefCell::new(None) };
}

/// Whether any fault may be armed for the current thread's sandbox: the thread-local's flag
/// when it is current (no lock), `true` otherwise (the caller then looks under the lock).
pub(crate) fn faults_maybe_armed() -> bool {
    let id = current_sandbox();
    HOT.try_with(|h| {
        let h = h.try_borrow().ok()?;
        let (sid, hot) = h.as_ref()?;
        (*sid == id).then(|| hot.faults_armed.load(Ordering::Relaxed))
    })
    .ok()
    .flatten()
    .unwrap_or(true)
}

/// Counts a call of routine `ROUTINES[i]` in the current sandbox and returns an injected
/// status, if any. The registry lock is taken only when the thread's sandbox changed or a
/// call fault is armed.
pub(crate) fn count_call_at(i: usize) -> Option<crate::types::NTSTATUS> {
    let id = current_sandbox();
    let fast = HOT.try_with(|h| {
        let mut h = h.try_borrow_mut().ok()?;
        if !matches!(&*h, Some((sid, _)) if *sid == id) {
            *h = reg().sb(id).map(|s| (id, Arc::clone(&s.hot)));
        }
        let (_, hot) = h.as_ref()?;
        hot.calls.get(i)?.fetch_add(1, Ordering::Relaxed);
        Some(hot.faults_armed.load(Ordering::Relaxed))
    });
    let armed = match fast {
        Ok(Some(armed)) => armed,
        // No usable thread-local (thread teardown): count under the lock.
        _ => {
            let mut r = reg();
            let s = r.sb(id)?;
            s.hot.calls.get(i)?.fetch_add(1, Ordering::Relaxed);
            s.hot.faults_armed.load(Ordering::Relaxed)
        }
    };
    if !armed {
        return None;
    }
    let name = ROUTINES.get(i)?;
    reg().sb(id)?.faults.take_call(name)
}
