//! `clfs-hlk`'s device-interface tests: the sample driver's control device, driven through
//! the harness's I/O manager (`clfs_harness::iomgr`) with the IOCTLs of `clfs-sample-proto`;
//! and the two generic device tests ([`DEVICE_TESTS`]) that any driver gets with `--device`.

use std::collections::{BTreeMap, HashSet};

use clfs_emu::{faults, Sandbox};
use clfs_harness::iomgr::{self, Caller, File, IoManager, IoResult, UnloadState};
use clfs_harness::ntos::{clear_faults, fail_pool_allocation, pool_allocations};
use clfs_sample_proto as proto;

use crate::generic::{
    enter, no_leaks, nt, read_logs, sandbox, Ctx, LogContents, Outcome, FAULT_STATUS,
    STATUS_INSUFFICIENT_RESOURCES,
};
use crate::sample;

/// A test of the suite.
type Test = fn(&Ctx<'_>) -> Outcome;

/// The sample's log, read back through `clfs` (an absent log holds nothing).
fn read_log(sandbox: &Sandbox, restarts: bool) -> Result<LogContents, String> {
    let logs = read_logs(sandbox, restarts)?;
    Ok(logs.get(sample::LOG_NAME).cloned().unwrap_or_default())
}

/// The device-interface tests, in report order.
pub(crate) const TESTS: [(&str, Test); 7] = [
    ("device_interface", device_interface),
    ("ioctl_round_trip", ioctl_round_trip),
    ("concurrent_io", concurrent_io),
    ("device_path_exerciser", device_path_exerciser),
    ("cleanup_storm", cleanup_storm),
    ("ioctl_fault_sweep", ioctl_fault_sweep),
    ("unload_after_last_close", unload_after_last_close),
];

const STATUS_SUCCESS: i32 = 0;
const STATUS_BUFFER_OVERFLOW: i32 = 0x8000_0005_u32 as i32;
const STATUS_INVALID_DEVICE_REQUEST: i32 = 0xC000_0010_u32 as i32;
const STATUS_ACCESS_DENIED: i32 = 0xC000_0022_u32 as i32;
const STATUS_OBJECT_NAME_NOT_FOUND: i32 = 0xC000_0034_u32 as i32;
const STATUS_DELETE_PENDING: i32 = 0xC000_0056_u32 as i32;
const STATUS_INVALID_DEVICE_STATE: i32 = 0xC000_0184_u32 as i32;

/// Records as (LSN, bytes).
type Records = Vec<(u64, Vec<u8>)>;

/// The pool tag of the driver's per-handle state.
const HANDLE_TAG: u32 = u32::from_le_bytes(*b"SmpH");

/// A loaded, started sample driver behind the I/O manager, in its sandbox.
struct Rig {
    io: IoManager,
    sandbox: Sandbox,
}

fn start(ctx: &Ctx<'_>) -> Result<Rig, String> {
    let sandbox = sandbox()?;
    let mut driver = ctx.load()?;
    let status = enter(&mut driver);
    if status != 0 {
        return Err(format!("DriverEntry returned {}", nt(status)));
    }
    Ok(Rig {
        io: IoManager::new(driver),
        sandbox,
    })
}

fn violation(e: iomgr::Violation) -> String {
    format!("I/O manager check failed: {e}")
}

impl Rig {
    fn open(&self, access: u32) -> Result<File, String> {
        match self
            .io
            .open(proto::WIN32_PATH, access, Caller::Administrator)
            .map_err(violation)?
        {
            Ok(f) => Ok(f),
            Err(st) => Err(format!(
                "opening {} failed with {}",
                proto::WIN32_PATH,
                nt(st)
            )),
        }
    }

    fn ioctl(&self, f: &File, code: u32, input: &[u8], out_len: usize) -> Result<IoResult, String> {
        self.io
            .ioctl(f, code, Some(input), input.len(), out_len, false)
            .map_err(violation)
    }

    fn close(&self, f: File) -> Result<(), String> {
        let (a, b) = self.io.close(f).map_err(violation)?;
        if a != 0 || b != 0 {
            return Err(format!("cleanup/close returned {} / {}", nt(a), nt(b)));
        }
        Ok(())
    }

    fn append(&self, f: &File, record: &[u8], force: bool) -> Result<proto::AppendReply, String> {
        let mut req = vec![0u8; proto::AppendRequest::SIZE + record.len()];
        let flags = if force { proto::APPEND_FORCE_FLUSH } else { 0 };
        proto::AppendRequest { flags }
            .encode(record, &mut req)
            .map_err(|e| e.to_string())?;
        let r = self.ioctl(
            f,
            proto::IOCTL_CLFS_SAMPLE_APPEND,
            &req,
            proto::AppendReply::SIZE,
        )?;
        if r.status != 0 || r.information != proto::AppendReply::SIZE {
            return Err(format!(
                "APPEND of {} bytes: status {}, information {}",
                record.len(),
                nt(r.status),
                r.information
            ));
        }
        proto::AppendReply::decode(&r.output).map_err(|e| e.to_string())
    }

    fn flush(&self, f: &File) -> Result<u64, String> {
        let r = self.ioctl(
            f,
            proto::IOCTL_CLFS_SAMPLE_FLUSH,
            &[],
            proto::FlushReply::SIZE,
        )?;
        if r.status != 0 {
            return Err(format!("FLUSH: status {}", nt(r.status)));
        }
        Ok(proto::FlushReply::decode(&r.output)
            .map_err(|e| e.to_string())?
            .flushed)
    }

    fn query(&self, f: &File) -> Result<proto::QueryReply, String> {
        let r = self.ioctl(
            f,
            proto::IOCTL_CLFS_SAMPLE_QUERY,
            &[],
            proto::QueryReply::SIZE,
        )?;
        if r.status != 0 {
            return Err(format!("QUERY: status {}", nt(r.status)));
        }
        proto::QueryReply::decode(&r.output).map_err(|e| e.to_string())
    }

    /// One READ; returns the reply, its records and the raw result.
    fn read_once(
        &self,
        f: &File,
        start: u64,
        out_len: usize,
    ) -> Result<(IoResult, proto::ReadReply, Records), String> {
        let mut req = [0u8; proto::ReadRequest::SIZE];
        proto::ReadRequest {
            start,
            mode: proto::ReadMode::Forward,
        }
        .encode(&mut req)
        .map_err(|e| e.to_string())?;
        let r = self.ioctl(f, proto::IOCTL_CLFS_SAMPLE_READ, &req, out_len)?;
        if r.status != STATUS_SUCCESS && r.status != STATUS_BUFFER_OVERFLOW {
            return Err(format!("READ from {start:#x}: status {}", nt(r.status)));
        }
        let h = proto::ReadReply::decode(&r.output).map_err(|e| format!("READ reply: {e}"))?;
        let body = r.output.get(proto::ReadReply::SIZE..).unwrap_or_default();
        let recs = proto::Records::new(body, h.count)
            .map(|x| x.map(|(l, d)| (l, d.to_vec())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("READ records: {e}"))?;
        Ok((r, h, recs))
    }

    /// Reads every record from `start` with replies of at most `out_len` bytes.
    fn read_all(
        &self,
        f: &File,
        start: u64,
        out_len: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, String> {
        let mut all = Vec::new();
        let mut from = start;
        for _ in 0..1_000_000 {
            let (r, h, recs) = self.read_once(f, from, out_len)?;
            if r.status == STATUS_BUFFER_OVERFLOW {
                return Err(format!(
                    "a {out_len}-byte READ reply holds no record; it needs {}",
                    h.needed
                ));
            }
            all.extend(recs);
            if h.flags & proto::READ_END != 0 {
                return Ok(all);
            }
            from = proto::LSN_NONE;
        }
        Err("the READ never ended".into())
    }

    /// Unloads (no file may be open) and checks every account: CLFS objects, pool by tag,
    /// kernel handles, devices, links.
    fn unload_clean(self, when: &str) -> Result<Sandbox, String> {
        let state = self.io.request_unload();
        if state != UnloadState::Unloaded {
            return Err(format!(
                "{when}: unload is {state:?} with {} file(s) open",
                self.io.open_files()
            ));
        }
        let driver = self.io.into_driver();
        let left = driver.io_leaks();
        if !left.is_empty() {
            return Err(format!("{when}: left behind: {}", left.join("; ")));
        }
        drop(driver);
        no_leaks(&self.sandbox.stats(), when)?;
        Ok(self.sandbox)
    }
}

/// A record payload that names its writer and sequence number (up to 700 bytes).
fn payload(thread: usize, i: usize) -> Vec<u8> {
    sized_payload(thread, i, 700)
}

/// As [`payload`], at most `max` bytes long (beyond the name).
fn sized_payload(thread: usize, i: usize, max: usize) -> Vec<u8> {
    let len = 1 + (i * 37 + thread * 11) % max;
    let mut v = format!("t{thread}-r{i}-").into_bytes();
    v.resize(len.max(v.len()), b'a' + (i % 26) as u8);
    v
}

/// The device exists as specified, is secured, and serves only its four major functions.
fn device_interface(ctx: &Ctx<'_>) -> Outcome {
    let bytes = ctx;
    let rig = start(bytes)?;
    let (devices, links) = rig.io.with_driver(|d| d.namespace().objects());
    if devices != [proto::DEVICE_NAME.to_string()] {
        return Err(format!(
            "devices {devices:?}, expected [{}]",
            proto::DEVICE_NAME
        ));
    }
    if links
        != [(
            proto::LINK_NAME.to_ascii_uppercase(),
            proto::DEVICE_NAME.to_string(),
        )]
    {
        return Err(format!("links {links:?}"));
    }
    // SAFETY: the driver object of a started driver; its device list is the I/O manager's.
    let device = unsafe { (*rig.io.driver_object()).DeviceObject };
    if device.is_null() {
        return Err("DRIVER_OBJECT.DeviceObject is NULL".into());
    }
    // SAFETY: as above.
    // SAFETY: as above.
    let device = unsafe { &*device };
    let (ty, ch, flags) = (device.DeviceType, device.Characteristics, device.Flags);
    if ty != proto::FILE_DEVICE_UNKNOWN || ch & 0x100 == 0 || flags & 0x80 != 0 {
        return Err(format!(
            "device type {ty:#x}, characteristics {ch:#x}, flags {flags:#x}: expected FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, not initializing"
        ));
    }
    let sd = rig
        .io
        .with_driver(|d| d.namespace().security(proto::DEVICE_NAME))
        .ok_or("no security descriptor was set on the device")?;
    if sd != proto::DEVICE_SECURITY_DESCRIPTOR {
        return Err(format!(
            "the device's security descriptor is {sd:02x?}, not the SDDL's"
        ));
    }
    // Who gets what from the DACL.
    let full = 0x001F_01FF;
    for (caller, want) in [
        (Caller::System, full),
        (Caller::Administrator, full),
        (Caller::User, 0),
    ] {
        let got = iomgr::granted_access(Some(&sd), caller);
        if got != want {
            return Err(format!(
                "the DACL grants {caller:?} {got:#x}, expected {want:#x}"
            ));
        }
    }
    match rig
        .io
        .open(proto::WIN32_PATH, iomgr::FILE_READ_DATA, Caller::User)
        .map_err(violation)?
    {
        Err(st) if st == STATUS_ACCESS_DENIED => {}
        other => {
            return Err(format!(
                "a standard user's open: {other:?}, expected ACCESS_DENIED"
            ))
        }
    }
    match rig
        .io
        .open(
            "\\\\.\\ClfsSample\\sub",
            iomgr::FILE_READ_DATA,
            Caller::User,
        )
        .map_err(violation)?
    {
        Err(st) if st == STATUS_ACCESS_DENIED => {}
        other => {
            return Err(format!(
                "a user's open below the device (FILE_DEVICE_SECURE_OPEN): {other:?}"
            ))
        }
    }
    match rig
        .io
        .open(
            "\\\\.\\ClfsSample\\sub",
            iomgr::READ_WRITE,
            Caller::Administrator,
        )
        .map_err(violation)?
    {
        Err(st) if st == STATUS_OBJECT_NAME_NOT_FOUND => {}
        other => {
            return Err(format!(
                "an open below the device: {other:?}, expected OBJECT_NAME_NOT_FOUND"
            ))
        }
    }
    let f = rig.open(iomgr::READ_WRITE)?;
    for major in [
        iomgr::IRP_MJ_READ,
        iomgr::IRP_MJ_WRITE,
        0x05,
        0x09,
        0x0f,
        0x10,
        0x16,
        0x1b,
    ] {
        let st = rig.io.send(&f, major).map_err(violation)?;
        if st != STATUS_INVALID_DEVICE_REQUEST {
            return Err(format!("IRP_MJ {major:#04x} completed with {}", nt(st)));
        }
    }
    let r = rig.ioctl(&f, proto::ctl_code(0x22, 0x9ff, 0, 0), &[], 16)?;
    if r.status != STATUS_INVALID_DEVICE_REQUEST {
        return Err(format!("an unknown IOCTL completed with {}", nt(r.status)));
    }
    rig.close(f)?;
    // Access rights per IOCTL: a read-only handle cannot append.
    let ro = rig.open(iomgr::FILE_READ_DATA)?;
    let mut req = vec![0u8; 9];
    req[8] = 1;
    let r = rig.ioctl(&ro, proto::IOCTL_CLFS_SAMPLE_APPEND, &req, 16)?;
    if r.status != STATUS_ACCESS_DENIED {
        return Err(format!("APPEND on a read-only handle: {}", nt(r.status)));
    }
    rig.query(&ro)?;
    rig.close(ro)?;
    rig.unload_clean("after unload")?;
    Ok("device, link, DACL (SY, BA only), FILE_DEVICE_SECURE_OPEN, per-IOCTL access and unsupported majors checked".into())
}

/// N appends, a flush, and the records read back twice: through READ and directly.
fn ioctl_round_trip(ctx: &Ctx<'_>) -> Outcome {
    let bytes = ctx;
    const N: usize = 300;
    let rig = start(bytes)?;
    let f = rig.open(iomgr::READ_WRITE)?;
    let before = rig.query(&f)?;
    let mut appended = Vec::new();
    for i in 0..N {
        let data = payload(0, i);
        let force = i % 50 == 49;
        let r = rig.append(&f, &data, force)?;
        if force && (r.flushed == proto::LSN_NONE || r.flushed < r.lsn) {
            return Err(format!(
                "forced append {i}: flushed {:#x} < LSN {:#x}",
                r.flushed, r.lsn
            ));
        }
        if !force && r.flushed != proto::LSN_NONE {
            return Err(format!(
                "append {i}: flushed {:#x} without the flag",
                r.flushed
            ));
        }
        appended.push((r.lsn, data));
    }
    if appended.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err("the appended LSNs do not increase".into());
    }
    let last = appended.last().map_or(0, |r| r.0);
    let flushed = rig.flush(&f)?;
    if flushed < last {
        return Err(format!(
            "FLUSH returned {flushed:#x}, below the last LSN {last:#x}"
        ));
    }
    let q = rig.query(&f)?;
    if q.last != last || q.flushed < last || q.containers != 2 || q.restart != before.restart {
        return Err(format!(
            "QUERY after the appends: {q:?}, last appended {last:#x}"
        ));
    }
    // Through the device, with replies of 4 KiB (many READs, records held over) and 64 KiB.
    let first = appended.first().map_or(0, |r| r.0);
    for out in [4096usize, 64 * 1024] {
        let back = rig.read_all(&f, first, out)?;
        if back != appended {
            return Err(format!(
                "READ with {out}-byte replies returned {} records, differing from the {} appended (first difference at {:?})",
                back.len(),
                appended.len(),
                back.iter().zip(&appended).position(|(a, b)| a != b)
            ));
        }
    }
    // A reply too small for the next record: BUFFER_OVERFLOW with the size it needs.
    let (r, h, recs) = rig.read_once(&f, first, proto::ReadReply::SIZE + 8)?;
    let need = proto::ReadReply::SIZE + proto::RecordHeader::entry_size(appended[0].1.len());
    if r.status != STATUS_BUFFER_OVERFLOW
        || !recs.is_empty()
        || h.needed as usize != need
        || h.next != first
        || r.information != proto::ReadReply::SIZE
    {
        return Err(format!(
            "a too-small READ: status {}, header {h:?}, expected needed {need}",
            nt(r.status)
        ));
    }
    rig.close(f)?;
    let sandbox = rig.unload_clean("after unload")?;
    // Directly through the emulator: the start-up record, then the N records.
    let c = read_log(&sandbox, false)?;
    let direct: Vec<_> = c.records.iter().skip(1).cloned().collect();
    if c.records.first().map(|r| r.1.as_slice()) != Some(&sample::STARTUP_RECORD[..])
        || direct != appended
    {
        return Err(format!(
            "read directly, the log holds {} records; expected the start-up record and the {N} appended",
            c.records.len()
        ));
    }
    no_leaks(&sandbox.stats(), "after reading the log back")?;
    Ok(format!(
        "{N} records: IOCTL and direct reads agree on bytes and LSNs {first:#x}..={last:#x}"
    ))
}

/// Four threads, two handles each, thousands of IOCTLs: every LSN unique, every record back.
fn concurrent_io(ctx: &Ctx<'_>) -> Outcome {
    let bytes = ctx;
    const THREADS: usize = 4;
    const PER_THREAD: usize = 1000;
    let rig = start(bytes)?;
    let results: Vec<Result<Records, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let rig = &rig;
                s.spawn(move || -> Result<Vec<(u64, Vec<u8>)>, String> {
                    let _in = rig.sandbox.enter();
                    let files = [rig.open(iomgr::READ_WRITE)?, rig.open(iomgr::READ_WRITE)?];
                    let mut mine = Vec::with_capacity(PER_THREAD);
                    for i in 0..PER_THREAD {
                        let f = &files[i % 2];
                        // Short records: 4000 of them fit the sample's 1 MiB log.
                        let data = sized_payload(t, i, 64);
                        let r = rig.append(f, &data, i % 250 == 0)?;
                        mine.push((r.lsn, data));
                        if i % 100 == 0 {
                            rig.query(f)?;
                            // A short read on this handle while the others append.
                            rig.read_once(f, mine[0].0, 2048)?;
                        }
                    }
                    for f in files {
                        rig.close(f)?;
                    }
                    Ok(mine)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    let mut all: Vec<(u64, Vec<u8>)> = Vec::new();
    for r in results {
        all.extend(r?);
    }
    let lsns: HashSet<u64> = all.iter().map(|r| r.0).collect();
    if lsns.len() != all.len() {
        return Err(format!(
            "{} appends returned only {} distinct LSNs",
            all.len(),
            lsns.len()
        ));
    }
    let f = rig.open(iomgr::READ_WRITE)?;
    rig.flush(&f)?;
    let q = rig.query(&f)?;
    let back = rig.read_all(&f, q.base, 16 * 1024)?;
    rig.close(f)?;
    let back: BTreeMap<u64, Vec<u8>> = back.into_iter().collect();
    for (lsn, data) in &all {
        if back.get(lsn) != Some(data) {
            return Err(format!(
                "the record appended at LSN {lsn:#x} did not read back"
            ));
        }
    }
    rig.unload_clean("after unload")?;
    Ok(format!(
        "{} appends from {THREADS} threads on {} handles, all LSNs unique, all read back",
        all.len(),
        THREADS * 2
    ))
}

/// xorshift64*: a small seeded generator, so that a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The seed of the device path exerciser (override with `CLFS_HLK_SEED`).
fn seed() -> u64 {
    std::env::var("CLFS_HLK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_C1F5)
}

/// One random request: code, input, output length, NULL flags.
fn random_request(rng: &mut Rng) -> (u32, Option<Vec<u8>>, usize, usize, bool) {
    const LENGTHS: [usize; 14] = [0, 1, 3, 7, 8, 9, 15, 16, 17, 23, 24, 63, 4097, 70_000];
    let code = match rng.below(6) {
        0..=2 => proto::IOCTLS[rng.below(4) as usize],
        // A served code with other access bits or METHOD_NEITHER.
        3 => {
            proto::IOCTLS[rng.below(4) as usize]
                ^ ((rng.below(4) as u32) << 14)
                ^ (rng.below(2) as u32 * 3)
        }
        4 => proto::ctl_code(
            rng.below(0x30) as u32,
            rng.below(0x1000) as u32,
            [0, 3][rng.below(2) as usize],
            rng.below(4) as u32,
        ),
        _ => ((rng.next() as u32) & !3) | [0, 3][rng.below(2) as usize],
    };
    let huge = rng.below(50) == 0;
    let pick = |rng: &mut Rng| {
        if huge {
            (1 << 20) + rng.below(4096) as usize
        } else {
            LENGTHS[rng.below(LENGTHS.len() as u64) as usize]
        }
    };
    let in_len = pick(rng);
    let out_len = pick(rng);
    let null_in = rng.below(20) == 0;
    let out_null = rng.below(20) == 0;
    let input = if null_in {
        None
    } else {
        let mut v: Vec<u8> = (0..in_len).map(|_| rng.next() as u8).collect();
        // Often a well-formed header, so the requests reach past the first check.
        if rng.below(2) == 0 {
            if let Some(h) = v.get_mut(..8) {
                h.fill(0);
                h[0] = rng.below(2) as u8;
            }
            if code == proto::IOCTL_CLFS_SAMPLE_READ {
                if let Some(h) = v.get_mut(..16) {
                    let start = [0u64, proto::LSN_NONE, rng.next()][rng.below(3) as usize];
                    h[..8].copy_from_slice(&start.to_le_bytes());
                    h[8..12].copy_from_slice(&(rng.below(5) as u32).to_le_bytes());
                    h[12..].fill(0);
                }
            }
        }
        Some(v)
    };
    (code, input, in_len, out_len, out_null)
}

/// Seeded random codes, lengths (0, 1, odd, huge) and NULL buffers: no crash, no write past
/// the system buffer, `Information` within bounds, no leak after unload.
fn device_path_exerciser(ctx: &Ctx<'_>) -> Outcome {
    let bytes = ctx;
    const REQUESTS: usize = 6000;
    let seed = seed();
    let mut rng = Rng(seed | 1);
    let rig = start(bytes)?;
    let mut files = vec![
        rig.open(iomgr::READ_WRITE)?,
        rig.open(iomgr::FILE_READ_DATA)?,
    ];
    let mut statuses: BTreeMap<u32, u64> = BTreeMap::new();
    for i in 0..REQUESTS {
        if rng.below(200) == 0 {
            let f = files.remove(rng.below(files.len() as u64) as usize);
            rig.close(f)?;
            let access = [
                iomgr::READ_WRITE,
                iomgr::FILE_READ_DATA,
                iomgr::FILE_WRITE_DATA,
                0,
            ][rng.below(4) as usize];
            files.push(rig.open(access)?);
        }
        let f = &files[rng.below(files.len() as u64) as usize];
        let (code, input, in_len, out_len, out_null) = random_request(&mut rng);
        let r = rig
            .io
            .ioctl(f, code, input.as_deref(), in_len, out_len, out_null)
            .map_err(|e| format!("request #{i} (seed {seed:#x}, code {code:#010x}, in {in_len}, out {out_len}): {e}"))?;
        if r.information > out_len && r.status >= 0 {
            return Err(format!(
                "request #{i} (seed {seed:#x}): Information {} > output {out_len}",
                r.information
            ));
        }
        *statuses.entry(r.status as u32).or_insert(0) += 1;
    }
    for f in files {
        rig.close(f)?;
    }
    rig.unload_clean("after unload")?;
    let seen: Vec<String> = statuses
        .iter()
        .map(|(s, n)| format!("{s:#010x}x{n}"))
        .collect();
    Ok(format!(
        "{REQUESTS} requests, seed {seed:#x}; statuses {}",
        seen.join(" ")
    ))
}

/// Opens and closes from four threads, some with a read in progress; and the read context
/// ends at cleanup.
fn cleanup_storm(ctx: &Ctx<'_>) -> Outcome {
    let bytes = ctx;
    const THREADS: usize = 4;
    const CYCLES: usize = 400;
    let rig = start(bytes)?;
    let f = rig.open(iomgr::READ_WRITE)?;
    let mut first = proto::LSN_NONE;
    for i in 0..64 {
        let r = rig.append(&f, &payload(9, i), false)?;
        if first == proto::LSN_NONE {
            first = r.lsn;
        }
    }
    // A read left in progress holds one read context until cleanup.
    let base = rig.sandbox.stats().live_read_contexts;
    let (r, h, _) = rig.read_once(&f, first, 512)?;
    if r.status != 0 || h.flags & proto::READ_END != 0 {
        return Err(format!("a short READ: {} {h:?}", nt(r.status)));
    }
    if rig.sandbox.stats().live_read_contexts != base + 1 {
        return Err("a READ in progress holds no read context".into());
    }
    rig.close(f)?;
    if rig.sandbox.stats().live_read_contexts != base {
        return Err("the read context did not end at cleanup".into());
    }
    // Continuing on a handle without a read in progress.
    let g = rig.open(iomgr::READ_WRITE)?;
    let mut req = [0u8; 16];
    proto::ReadRequest {
        start: proto::LSN_NONE,
        mode: proto::ReadMode::Forward,
    }
    .encode(&mut req)
    .map_err(|e| e.to_string())?;
    let r = rig.ioctl(&g, proto::IOCTL_CLFS_SAMPLE_READ, &req, 4096)?;
    if r.status != STATUS_INVALID_DEVICE_STATE {
        return Err(format!(
            "continuing a READ on a fresh handle: {}",
            nt(r.status)
        ));
    }
    rig.close(g)?;
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                let rig = &rig;
                s.spawn(move || -> Result<(), String> {
                    let _in = rig.sandbox.enter();
                    for i in 0..CYCLES {
                        let f = rig.open(iomgr::READ_WRITE)?;
                        if (i + t) % 3 == 0 {
                            rig.read_once(&f, first, 300)?;
                        }
                        rig.close(f)?;
                    }
                    Ok(())
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    for r in results {
        r?;
    }
    let st = rig.sandbox.stats();
    let handles = clfs_harness::verifier::pool::outstanding()
        .get(&HANDLE_TAG)
        .copied();
    if st.live_read_contexts != base || handles.is_some_and(|o| o.count != 0) {
        return Err(format!(
            "after the storm: {} read contexts, handle pool {handles:?}",
            st.live_read_contexts,
        ));
    }
    rig.unload_clean("after unload")?;
    Ok(format!(
        "{} opens and closes on {THREADS} threads; read contexts end at cleanup",
        THREADS * CYCLES + 2
    ))
}

/// One request kind of the fault sweep.
#[derive(Clone, Copy, Debug)]
enum Op {
    Append,
    AppendForce,
    Flush,
    Read,
    Query,
    Open,
}

/// Runs `op` once; returns its status.
fn run_op(rig: &Rig, f: &File, op: Op, first: u64) -> Result<i32, String> {
    let rec = b"fault sweep record";
    let status = match op {
        Op::Append | Op::AppendForce => {
            let mut req = vec![0u8; 8 + rec.len()];
            let flags = if matches!(op, Op::AppendForce) {
                proto::APPEND_FORCE_FLUSH
            } else {
                0
            };
            proto::AppendRequest { flags }
                .encode(rec, &mut req)
                .map_err(|e| e.to_string())?;
            rig.ioctl(f, proto::IOCTL_CLFS_SAMPLE_APPEND, &req, 16)?
                .status
        }
        Op::Flush => rig.ioctl(f, proto::IOCTL_CLFS_SAMPLE_FLUSH, &[], 8)?.status,
        Op::Query => {
            rig.ioctl(f, proto::IOCTL_CLFS_SAMPLE_QUERY, &[], 64)?
                .status
        }
        Op::Read => rig.read_once_status(f, first)?,
        Op::Open => match rig
            .io
            .open(proto::WIN32_PATH, iomgr::READ_WRITE, Caller::Administrator)
            .map_err(violation)?
        {
            Ok(g) => {
                rig.close(g)?;
                STATUS_SUCCESS
            }
            Err(st) => st,
        },
    };
    Ok(status)
}

impl Rig {
    fn read_once_status(&self, f: &File, first: u64) -> Result<i32, String> {
        let mut req = [0u8; 16];
        proto::ReadRequest {
            start: first,
            mode: proto::ReadMode::Forward,
        }
        .encode(&mut req)
        .map_err(|e| e.to_string())?;
        Ok(self
            .ioctl(f, proto::IOCTL_CLFS_SAMPLE_READ, &req, 64 * 1024)?
            .status)
    }
}

/// The fault points of one run of `op`.
#[derive(Clone, Debug)]
enum Point {
    Call(&'static str, u64),
    Pool(u64),
    Block(u64),
}

/// Routines whose failure the driver cannot report (teardown): not swept.
fn sweepable(routine: &str) -> bool {
    routine.starts_with("Clfs")
        && !routine.starts_with("ClfsLsn")
        && routine != "ClfsTerminateReadLog"
        && routine != "ClfsDeleteMarshallingArea"
        && routine != "ClfsCloseLogFileObject"
}

/// Each fault point of each IOCTL path in turn, and of unload: the request fails with the
/// injected status, the next identical request succeeds, nothing leaks.
fn ioctl_fault_sweep(ctx: &Ctx<'_>) -> Outcome {
    let bytes = ctx;
    let rig = start(bytes)?;
    let f = rig.open(iomgr::READ_WRITE)?;
    let first = rig.append(&f, b"first", true)?.lsn;
    let mut total = 0;
    let mut per_op = Vec::new();
    for op in [
        Op::Append,
        Op::AppendForce,
        Op::Flush,
        Op::Read,
        Op::Query,
        Op::Open,
    ] {
        // Count the points in a clean run.
        let before = rig.sandbox.stats();
        let pool_before = pool_allocations();
        let st = run_op(&rig, &f, op, first)?;
        if st != 0 {
            return Err(format!("{op:?}: clean run returned {}", nt(st)));
        }
        let after = rig.sandbox.stats();
        let mut points: Vec<Point> = after
            .calls
            .iter()
            .filter(|(r, _)| sweepable(r))
            .flat_map(|(r, n)| {
                (1..=n.saturating_sub(before.calls(r))).map(move |k| Point::Call(r, k))
            })
            .collect();
        points.extend((1..=pool_allocations().saturating_sub(pool_before)).map(Point::Pool));
        // Log block allocations happen when a write or read buffer is first needed.
        if matches!(op, Op::Append | Op::Read) {
            points.push(Point::Block(1));
        }
        let mut swept = 0;
        for p in &points {
            let expected = match p {
                Point::Call(r, n) => {
                    faults::fail_call(r, *n, FAULT_STATUS);
                    FAULT_STATUS
                }
                Point::Pool(n) => {
                    fail_pool_allocation(*n);
                    STATUS_INSUFFICIENT_RESOURCES
                }
                Point::Block(n) => {
                    faults::fail_alloc(*n);
                    STATUS_INSUFFICIENT_RESOURCES
                }
            };
            let st = run_op(&rig, &f, op, first)?;
            faults::clear();
            clear_faults();
            if let Point::Block(_) = p {
                // The area may already hold a free buffer: the allocation is then not made.
                if st != expected && st != 0 {
                    return Err(format!(
                        "{op:?} with {p:?}: {} (expected {} or success)",
                        nt(st),
                        nt(expected)
                    ));
                }
            } else if st != expected {
                return Err(format!(
                    "{op:?} with {p:?} failing: the request completed with {}, expected {}",
                    nt(st),
                    nt(expected)
                ));
            }
            let again = run_op(&rig, &f, op, first)?;
            if again != 0 {
                return Err(format!(
                    "{op:?} after {p:?}: the driver is not usable: {}",
                    nt(again)
                ));
            }
            swept += 1;
        }
        total += swept;
        per_op.push(format!("{op:?} {swept}"));
    }
    rig.close(f)?;
    let sandbox = rig.unload_clean("after the IOCTL sweep")?;
    drop(sandbox);
    // Unload: each CLFS call of the unload routine fails in turn; unload still releases all.
    let mut unload_points = 0;
    let points = {
        let rig = start(bytes)?;
        let before = rig.sandbox.stats();
        let sb = rig.unload_clean("clean unload")?;
        let after = sb.stats();
        after
            .calls
            .iter()
            .filter(|(r, _)| sweepable(r))
            .flat_map(|(r, n)| (1..=n.saturating_sub(before.calls(r))).map(move |k| (*r, k)))
            .collect::<Vec<_>>()
    };
    for (r, n) in points {
        let rig = start(bytes)?;
        let f = rig.open(iomgr::READ_WRITE)?;
        rig.append(&f, b"before unload", false)?;
        rig.close(f)?;
        faults::fail_call(r, n, FAULT_STATUS);
        let sb = rig.unload_clean(&format!("unload with call #{n} of {r} failing"))?;
        drop(sb);
        unload_points += 1;
    }
    Ok(format!(
        "{total} IOCTL fault points ({}), {unload_points} unload fault points",
        per_op.join(", ")
    ))
}

/// `sc stop` with handles open: the unload waits for the last close, new opens are refused,
/// open handles keep working; after the last close the driver unloads with zero leaks.
fn unload_after_last_close(ctx: &Ctx<'_>) -> Outcome {
    let bytes = ctx;
    let rig = start(bytes)?;
    let a = rig.open(iomgr::READ_WRITE)?;
    let b = rig.open(iomgr::FILE_READ_DATA)?;
    let first = rig.append(&a, b"one", false)?.lsn;
    rig.append(&a, b"two", false)?;
    rig.read_once(&b, first, proto::ReadReply::SIZE + 24)?;
    let state = rig.io.request_unload();
    if state != UnloadState::Pending {
        return Err(format!(
            "unload with two handles open: {state:?}, expected Pending"
        ));
    }
    match rig
        .io
        .open(proto::WIN32_PATH, iomgr::READ_WRITE, Caller::Administrator)
        .map_err(violation)?
    {
        Err(st) if st == STATUS_DELETE_PENDING => {}
        other => return Err(format!("an open while the unload is pending: {other:?}")),
    }
    rig.append(&a, b"three", true)?;
    rig.close(a)?;
    if rig.io.unload_state() != UnloadState::Pending {
        return Err("the driver unloaded with a handle still open".into());
    }
    let live = rig.sandbox.stats();
    if live.open_logs != 1 || live.live_read_contexts == 0 {
        return Err(format!(
            "before the last close: {} logs, {} read contexts",
            live.open_logs, live.live_read_contexts
        ));
    }
    rig.close(b)?;
    if rig.io.unload_state() != UnloadState::Unloaded {
        return Err("closing the last handle did not run the pending unload".into());
    }
    let driver = rig.io.into_driver();
    let left = driver.io_leaks();
    if !left.is_empty() {
        return Err(format!("after unload: {}", left.join("; ")));
    }
    drop(driver);
    let st = rig.sandbox.stats();
    no_leaks(&st, "after unload")?;
    let seen = clfs_harness::verifier::pool::tags_seen();
    let outstanding = clfs_harness::verifier::pool::outstanding();
    for tag in [sample::POOL_TAG, HANDLE_TAG] {
        if !seen.contains_key(&tag) || outstanding.get(&tag).is_some_and(|o| o.count != 0) {
            return Err(format!(
                "pool tag {tag:#x}: {:?} allocations, {:?} outstanding (expected used and all freed)",
                seen.get(&tag),
                outstanding.get(&tag)
            ));
        }
    }
    let c = read_log(&rig.sandbox, true)?;
    if c.records.len() != 4 || c.restarts.len() != 1 {
        return Err(format!(
            "{} records and {} restart areas after unload",
            c.records.len(),
            c.restarts.len()
        ));
    }
    Ok("unload pended until the last close; zero leaks (devices, links, CLFS objects, pool SmpH and Smpl)".into())
}

// ---------------------------------------------------------------------------------------------
// Generic device tests (`--device NAME`, `--ioctl CODE`): any driver with a named device.

/// The generic device tests, run when `--device` names the driver's device.
pub(crate) const DEVICE_TESTS: [(&str, Test); 2] = [
    ("open_close_storm", open_close_storm),
    ("path_exerciser", path_exerciser),
];

/// Starts the driver behind the I/O manager and returns it with the device's NT path.
fn start_device(ctx: &Ctx<'_>) -> Result<(Rig, String), String> {
    let name = ctx
        .config
        .device
        .clone()
        .ok_or("no device named (--device NAME)")?;
    let path = if name.starts_with('\\') {
        name
    } else {
        format!("\\Device\\{name}")
    };
    let sandbox = sandbox()?;
    let driver = ctx.start("start")?;
    Ok((
        Rig {
            io: IoManager::new(driver),
            sandbox,
        },
        path,
    ))
}

/// Opens `path` as SYSTEM for reading and writing.
fn open_device(rig: &Rig, path: &str) -> Result<File, String> {
    match rig
        .io
        .open(path, iomgr::READ_WRITE, Caller::System)
        .map_err(violation)?
    {
        Ok(f) => Ok(f),
        Err(st) => Err(format!("opening {path} as SYSTEM failed with {}", nt(st))),
    }
}

/// Unloads once every handle is closed and checks that nothing is left.
fn unload_device(rig: Rig, when: &str) -> Outcome {
    let state = rig.io.request_unload();
    if state != UnloadState::Unloaded {
        return Err(format!(
            "{when}: unload is {state:?} with {} file(s) open",
            rig.io.open_files()
        ));
    }
    let driver = rig.io.into_driver();
    let left = driver.io_leaks();
    if !left.is_empty() {
        return Err(format!("{when}: left behind: {}", left.join("; ")));
    }
    drop(driver);
    no_leaks(&rig.sandbox.stats(), when)?;
    Ok(String::new())
}

/// Four threads open and close the device 250 times each (every other time with one
/// request of a `--ioctl` code without buffers); then the driver unloads with nothing left.
fn open_close_storm(ctx: &Ctx<'_>) -> Outcome {
    const THREADS: usize = 4;
    const CYCLES: usize = 250;
    let (rig, path) = start_device(ctx)?;
    let codes = &ctx.config.ioctls;
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                let (rig, path) = (&rig, &path);
                s.spawn(move || -> Result<(), String> {
                    let _in = rig.sandbox.enter();
                    for i in 0..CYCLES {
                        let f = open_device(rig, path)?;
                        if let (false, Some(&code)) =
                            (codes.is_empty(), codes.get((i + t) % codes.len().max(1)))
                        {
                            if i % 2 == 0 {
                                rig.io
                                    .ioctl(&f, code, None, 0, 0, true)
                                    .map_err(violation)?;
                            }
                        }
                        let (_, _) = rig.io.close(f).map_err(violation)?;
                    }
                    Ok(())
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    for r in results {
        r?;
    }
    unload_device(rig, "after the storm")?;
    Ok(format!(
        "{} opens and closes of {path} on {THREADS} threads",
        THREADS * CYCLES
    ))
}

/// Seeded requests (`--seed`) on the device: the `--ioctl` codes and random ones
/// (METHOD_BUFFERED and METHOD_NEITHER), lengths 0, 1, odd, 4 KiB + 1, 70,000 and ≥ 1 MiB,
/// NULL buffers, random contents: no crash, no I/O manager violation, `Information` within
/// the output; then the driver unloads with nothing left.
fn path_exerciser(ctx: &Ctx<'_>) -> Outcome {
    const REQUESTS: usize = 4000;
    const LENGTHS: [usize; 12] = [0, 1, 3, 7, 8, 9, 16, 17, 63, 4097, 70_000, (1 << 20) + 5];
    let (rig, path) = start_device(ctx)?;
    let seed = ctx.config.seed;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let codes = &ctx.config.ioctls;
    let mut f = open_device(&rig, &path)?;
    let mut statuses: BTreeMap<u32, u64> = BTreeMap::new();
    for i in 0..REQUESTS {
        if rng.below(300) == 0 {
            rig.io.close(f).map_err(violation)?;
            f = open_device(&rig, &path)?;
        }
        let code = if !codes.is_empty() && rng.below(3) != 0 {
            codes[rng.below(codes.len() as u64) as usize]
        } else {
            ((rng.next() as u32) & !3) | [0, 3][rng.below(2) as usize]
        };
        if code & 3 == 1 || code & 3 == 2 {
            // Direct I/O needs MDLs, which the harness does not emulate.
            continue;
        }
        let in_len = LENGTHS[rng.below(LENGTHS.len() as u64) as usize];
        let out_len = LENGTHS[rng.below(LENGTHS.len() as u64) as usize];
        let input: Option<Vec<u8>> = if rng.below(20) == 0 {
            None
        } else {
            Some((0..in_len).map(|_| rng.next() as u8).collect())
        };
        let out_null = rng.below(20) == 0;
        let r = rig
            .io
            .ioctl(&f, code, input.as_deref(), in_len, out_len, out_null)
            .map_err(|e| {
                format!("request #{i} (seed {seed}, code {code:#010x}, in {in_len}, out {out_len}): {e}")
            })?;
        if r.information > out_len && r.status >= 0 {
            return Err(format!(
                "request #{i} (seed {seed}): Information {} > output {out_len}",
                r.information
            ));
        }
        *statuses.entry(r.status as u32).or_insert(0) += 1;
    }
    rig.io.close(f).map_err(violation)?;
    unload_device(rig, "after the exerciser")?;
    let seen: Vec<String> = statuses
        .iter()
        .map(|(s, n)| format!("{s:#010x}x{n}"))
        .collect();
    Ok(format!(
        "{REQUESTS} requests on {path}, seed {seed}, {} listed code(s); statuses {}",
        codes.len(),
        seen.join(" ")
    ))
}
