//! The sample driver's own expectations (samples/clfs-sample-driver/src/logic.rs), on top of
//! the generic suite, and its own test.

use clfs_emu::{Stats, DISPATCH_LEVEL};

use crate::generic::{
    enter, no_leaks, nt, sandbox, unload, Ctx, Expectations, Fault, Logs, Outcome,
};

/// The service name the harness loads the image as.
pub const SERVICE: &str = "ClfsSample";
/// `log:\SystemRoot\Logs\ClfsSample\sample`, as the generic reader names it.
pub const LOG_NAME: &str = "log:\\SystemRoot\\Logs\\ClfsSample\\sample";
/// The start-up record appended on every load.
pub const STARTUP_RECORD: [u8; 16] = *b"SMPLSTRT\x01\0\0\0\0\0\0\0";
/// The restart area's magic; the start-up record's LSN follows (u64, little-endian).
pub const RESTART_MAGIC: [u8; 8] = *b"SMPLRSTA";
/// The pool tag of the marshalling area's blocks.
pub const POOL_TAG: u32 = u32::from_le_bytes(*b"Smpl");

/// What the sample does: one log, one area while loaded; one start-up record per session,
/// one restart area naming it; the failing status comes back from DriverEntry unchanged and
/// a failed start leaves the log as it was; a crash loses exactly the unflushed start-up
/// record.
pub struct Sample;

/// Checks one restart area: the magic, then the LSN of `startup`.
fn check_restart(restart: &[u8], startup: u64) -> Result<(), String> {
    let mut want = RESTART_MAGIC.to_vec();
    want.extend_from_slice(&startup.to_le_bytes());
    if restart == want {
        Ok(())
    } else {
        Err(format!(
            "restart area {restart:02x?} is not SMPLRSTA + the start-up record's LSN {startup:#x}"
        ))
    }
}

impl Expectations for Sample {
    fn loaded(&self, stats: &Stats) -> Result<(), String> {
        if stats.open_logs != 1 || stats.live_areas != 1 {
            return Err(format!(
                "while loaded: {} open log(s) and {} marshalling area(s), expected 1 and 1",
                stats.open_logs, stats.live_areas
            ));
        }
        Ok(())
    }

    fn after_session(&self, session: usize, logs: &Logs, restarts: bool) -> Result<(), String> {
        let Some(log) = logs.get(LOG_NAME) else {
            return Err(format!("there is no log {LOG_NAME}"));
        };
        if log.records.len() != session {
            return Err(format!(
                "the log holds {} data record(s) after {session} session(s), expected one start-up record each",
                log.records.len()
            ));
        }
        if let Some((lsn, data)) = log
            .records
            .iter()
            .find(|(_, d)| d.as_slice() != STARTUP_RECORD)
        {
            return Err(format!(
                "the record at LSN {lsn:#x} is not the start-up record: {data:02x?}"
            ));
        }
        if restarts {
            if log.restarts.len() != session {
                return Err(format!(
                    "{} restart area(s) reachable through ClfsReadRestartArea + ClfsReadPreviousRestartArea, expected {session}",
                    log.restarts.len()
                ));
            }
            // Newest first: restart k belongs to session `session - 1 - k`.
            for (k, (lsn, restart)) in log.restarts.iter().enumerate() {
                let startup = log.records.get(session - 1 - k).map_or(0, |r| r.0);
                check_restart(restart, startup)
                    .map_err(|e| format!("restart area #{k} (LSN {lsn:#x}): {e}"))?;
            }
        }
        Ok(())
    }

    fn pool_tags(&self) -> &[u32] {
        &[POOL_TAG]
    }

    fn entry_status(&self, _fault: &Fault, injected: i32) -> Option<i32> {
        Some(injected)
    }

    fn after_failed_entry(&self, before: &Logs, after: &Logs) -> Result<(), String> {
        // A log created by the failed start may remain (CLFS created it), but it holds
        // nothing new.
        let contents = |l: &Logs| {
            l.get(LOG_NAME)
                .map(|c| (c.records.clone(), c.restarts.clone()))
                .unwrap_or_default()
        };
        let (b, a) = (contents(before), contents(after));
        if b == a {
            Ok(())
        } else {
            Err(format!(
                "a failed start changed the log: {} data record(s) and {} restart area(s) before, {} and {} after",
                b.0.len(),
                b.1.len(),
                a.0.len(),
                a.1.len()
            ))
        }
    }

    fn after_crash(&self, before: &Logs, after: &Logs) -> Result<(), String> {
        // The crashed session's start-up record was never flushed: the log holds exactly
        // what the sessions before it flushed.
        if before == after {
            Ok(())
        } else {
            Err(format!(
                "the log does not hold exactly the flushed prefix: {} record(s) and {} restart area(s) before the crashed session, {} and {} after",
                before.records(),
                before.logs.iter().map(|l| l.restarts.len()).sum::<usize>(),
                after.records(),
                after.logs.iter().map(|l| l.restarts.len()).sum::<usize>()
            ))
        }
    }
}

/// At DISPATCH_LEVEL, DriverEntry refuses through the driver's typed error path and never
/// reaches a CLFS routine (the verifier would stop the run if it did).
pub fn irql_discipline(ctx: &Ctx<'_>) -> Outcome {
    let sandbox = sandbox()?;
    let mut driver = ctx.load()?;
    let before = sandbox.stats().clfs_calls();
    let status = {
        let _irql = clfs_emu::raise_irql(DISPATCH_LEVEL);
        enter(&mut driver)
    };
    if clfs_emu::current_irql() != clfs_emu::PASSIVE_LEVEL {
        return Err("the simulated IRQL was not restored".into());
    }
    let after = sandbox.stats().clfs_calls();
    if status >= 0 {
        let _ = unload(&mut driver);
        return Err(format!(
            "DriverEntry at DISPATCH_LEVEL returned {}, expected a failure",
            nt(status)
        ));
    }
    if after != before {
        return Err(format!(
            "{} CLFS call(s) were made at DISPATCH_LEVEL",
            after - before
        ));
    }
    no_leaks(&sandbox.stats(), "after the refused DriverEntry")?;
    drop(driver);
    let refused = status;
    let mut driver = ctx.start("DriverEntry at PASSIVE_LEVEL afterwards")?;
    unload(&mut driver)?;
    no_leaks(&sandbox.stats(), "after the PASSIVE_LEVEL run")?;
    Ok(format!(
        "DriverEntry at DISPATCH_LEVEL returned {} with no CLFS call",
        nt(refused)
    ))
}
