//! The management work queue: one worker thread per sandbox runs the sandbox's asynchronous
//! management work (log-full handling, AdvanceTail requests, LogGrowthComplete and LogUnpinned
//! callbacks), one item at a time, in the order it was queued.
//!
//! Clfs.sys runs this work in system worker threads (work items), never on the thread of the
//! call that asked for it (except the pinned-log LogGrowthComplete, which `mgmt` runs inline):
//! a bounded set of threads, whatever the number of requests. So does the emulator: the
//! sandbox's worker is started on its first item and lives until the sandbox is dropped, so a
//! burst of thousands of requests costs one thread, not thousands. Every item starts at
//! `PASSIVE_LEVEL` (the callbacks' documented IRQL is <= APC_LEVEL) in the sandbox it belongs to.
//!
//! Shutdown: [`stop`] (from `Sandbox::drop`, after the sandbox's objects and clients are gone)
//! drops the items not started yet, lets the running one finish and joins the thread, so no
//! worker outlives its sandbox. The default sandbox (id 0) is never dropped; its worker lives
//! as long as the process.
//!
//! Lock order: `WORKERS` and a queue's lock are leaves except that `WORKERS` may take `REG`
//! (sandbox liveness, stats); no item runs under either lock.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard};
use std::thread::{JoinHandle, ThreadId};

use crate::state::{with_stats, IdHash};

/// One queued piece of work.
type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A sandbox's worker thread and its queue.
struct Worker {
    shared: Arc<Shared>,
    thread: JoinHandle<()>,
}

static WORKERS: LazyLock<Mutex<HashMap<u64, Worker, IdHash>>> =
    LazyLock::new(|| Mutex::new(HashMap::default()));

/// Worker threads running now, process-wide.
static LIVE: AtomicUsize = AtomicUsize::new(0);

fn workers() -> MutexGuard<'static, HashMap<u64, Worker, IdHash>> {
    WORKERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Management worker threads alive in this process now (one per sandbox that has queued
/// management work and is not dropped yet). After every [`Sandbox`](crate::Sandbox) with
/// management work is dropped, this is 0 (or 1 if the default sandbox, which is never
/// dropped, has queued work).
pub fn mgmt_worker_threads() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// Queues `f` on the worker of `sandbox`, starting the worker if it has none. Work for a
/// sandbox that was dropped is discarded (its clients and objects are gone with it); if no
/// thread can be created, `f` runs on the calling thread.
pub(crate) fn queue(sandbox: u64, f: impl FnOnce() + Send + 'static) {
    let job: Job = Box::new(f);
    let mut map = workers();
    let shared = match map.get(&sandbox) {
        Some(w) => Arc::clone(&w.shared),
        None => {
            if !crate::state::sandbox_alive(sandbox) {
                return;
            }
            let shared = Arc::new(Shared::default());
            let s2 = Arc::clone(&shared);
            LIVE.fetch_add(1, Ordering::SeqCst);
            let started = std::thread::Builder::new()
                .name(format!("clfs-emu-mgmt-{sandbox}"))
                .spawn(move || run(sandbox, &s2));
            match started {
                Ok(thread) => {
                    map.insert(
                        sandbox,
                        Worker {
                            shared: Arc::clone(&shared),
                            thread,
                        },
                    );
                    with_stats(sandbox, |s| s.mgmt_threads += 1);
                    shared
                }
                Err(_) => {
                    LIVE.fetch_sub(1, Ordering::SeqCst);
                    drop(map);
                    with_stats(sandbox, |s| s.mgmt_work_items += 1);
                    job();
                    return;
                }
            }
        }
    };
    drop(map);
    with_stats(sandbox, |s| s.mgmt_work_items += 1);
    shared.lock().jobs.push_back(job);
    shared.wake.notify_one();
}

/// The worker loop: runs the queued items in order until [`stop`].
fn run(sandbox: u64, shared: &Shared) {
    loop {
        let job = {
            let mut q = shared.lock();
            loop {
                if let Some(j) = q.jobs.pop_front() {
                    break Some(j);
                }
                if q.stop {
                    break None;
                }
                q = shared.wake.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some(job) = job else { break };
        // Each item starts as a fresh system worker thread would: at PASSIVE_LEVEL, in its
        // sandbox, whatever the previous item's callback left behind.
        crate::irql::set_irql(crate::irql::PASSIVE_LEVEL);
        crate::state::enter_sandbox(sandbox);
        // A panicking item (a bug) must not take the queue down with it; the panic hook has
        // reported it already.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
    LIVE.fetch_sub(1, Ordering::SeqCst);
}

/// Stops the worker of `sandbox` (from `Sandbox::drop`): items not started yet are dropped,
/// the running one finishes, and the thread is joined before this returns (unless this runs
/// on that very thread, which then ends after its current item).
pub(crate) fn stop(sandbox: u64) {
    let Some(w) = workers().remove(&sandbox) else {
        return;
    };
    let dropped: VecDeque<Job> = {
        let mut q = w.shared.lock();
        q.stop = true;
        std::mem::take(&mut q.jobs)
    };
    w.shared.wake.notify_all();
    drop(dropped);
    let me: ThreadId = std::thread::current().id();
    if w.thread.thread().id() != me {
        let _ = w.thread.join();
    }
}
