//! The benchmarks (see the crate docs in main.rs).

use std::error::Error as StdError;
use std::ffi::c_void;
use std::hint::black_box;
use std::io::Write as _;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clfs::{sys, ClfsAllocator, LogFile, LogOptions, MarshallingArea, MarshallingConfig, ReadMode};

pub(crate) type Res<T> = std::result::Result<T, Box<dyn StdError>>;

/// Operations per measured batch (instructions).
const K: usize = 200;
/// Measured batches per variant (the median is reported).
const R: usize = 7;
/// Record sizes for the wrapper-overhead comparison.
const INSN_SIZES: [usize; 3] = [16, 256, 4096];
/// Marshalling buffer size everywhere.
const BUF: u32 = 64 * 1024;

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn err(msg: String) -> Box<dyn StdError> {
    msg.into()
}

/// Opens (creating) a log with `n` containers of `size` bytes.
fn open_log(name: &str, n: usize, size: u64) -> Res<LogFile> {
    let log = LogFile::create(&wide(name), LogOptions::new().create_if_missing())?;
    for i in 0..n {
        log.add_container(&wide(&format!("%BLF%\\c{i}")), size)?;
    }
    Ok(log)
}

// ---------------------------------------------------------------------------------------
// 1 + 2: instructions (the worker runs under callgrind)
// ---------------------------------------------------------------------------------------

#[inline(never)]
fn mark_safe_append(area: &MarshallingArea<'_>, data: &[u8], k: usize) -> Res<()> {
    for _ in 0..k {
        black_box(area.append(&[black_box(data)])?);
    }
    Ok(())
}

/// The raw append a careful C driver writes: one write entry, and `CLFS_LSN_INVALID` for both
/// chain links ("not in a chain", reference §1.5: what CLFS does with NULL links is
/// undocumented). The safe layer passes the same links, so both sides append the same records.
#[inline(always)]
fn raw_append(ctx: *mut c_void, data: &[u8], links: *const sys::CLFS_LSN) -> Res<()> {
    let entries = [sys::CLFS_WRITE_ENTRY {
        Buffer: data.as_ptr().cast_mut().cast(),
        ByteLength: data.len() as u32,
    }];
    let mut lsn = MaybeUninit::<sys::CLFS_LSN>::uninit();
    // SAFETY: `ctx` is a live marshalling context; one valid write entry over `data`;
    // `links` is NULL or points to a valid CLFS_LSN; no reservation; `lsn` is a valid out
    // pointer.
    let st = unsafe {
        sys::ClfsReserveAndAppendLog(
            ctx,
            entries.as_ptr(),
            1,
            links,
            links,
            0,
            std::ptr::null_mut(),
            0,
            lsn.as_mut_ptr(),
        )
    };
    if st < 0 {
        return Err(err(format!("ClfsReserveAndAppendLog: {st:#x}")));
    }
    black_box(&lsn);
    Ok(())
}

/// `CLFS_LSN_INVALID`, the documented "no link".
const NO_LINK: sys::CLFS_LSN = sys::CLFS_LSN {
    Internal: sys::CLFS_LSN_INVALID,
};

#[inline(never)]
fn mark_raw_append(ctx: *mut c_void, data: &[u8], k: usize) -> Res<()> {
    for _ in 0..k {
        raw_append(ctx, black_box(data), &NO_LINK)?;
    }
    Ok(())
}

/// As [`mark_raw_append`] with NULL links (undocumented, but what the emulator accepts): shows
/// what the emulator's reading of two link pointers costs.
#[inline(never)]
fn mark_rawnull_append(ctx: *mut c_void, data: &[u8], k: usize) -> Res<()> {
    for _ in 0..k {
        raw_append(ctx, black_box(data), std::ptr::null())?;
    }
    Ok(())
}

#[inline(never)]
fn mark_safe_next(cx: &mut clfs::ReadContext<'_>, k: usize) -> Res<()> {
    for _ in 0..k {
        let r = cx.next()?.ok_or_else(|| err("end of log".into()))?;
        black_box(r.data);
    }
    Ok(())
}

#[inline(never)]
fn mark_raw_next(cx: *mut c_void, k: usize) -> Res<()> {
    for _ in 0..k {
        let mut buf: *mut c_void = std::ptr::null_mut();
        let mut len = 0u32;
        let mut kind = sys::ClfsDataRecord;
        let mut undo = MaybeUninit::<sys::CLFS_LSN>::uninit();
        let mut prev = MaybeUninit::<sys::CLFS_LSN>::uninit();
        let mut lsn = MaybeUninit::<sys::CLFS_LSN>::uninit();
        // SAFETY: `cx` is a live read context; every out pointer is a valid local; no user LSN.
        let st = unsafe {
            sys::ClfsReadNextLogRecord(
                cx,
                &mut buf,
                &mut len,
                &mut kind,
                std::ptr::null(),
                undo.as_mut_ptr(),
                prev.as_mut_ptr(),
                lsn.as_mut_ptr(),
            )
        };
        if st < 0 {
            return Err(err(format!("ClfsReadNextLogRecord: {st:#x}")));
        }
        black_box((buf, len, &lsn));
    }
    Ok(())
}

#[inline(never)]
fn mark_safe_create(log: &LogFile) -> Res<MarshallingArea<'_>> {
    Ok(MarshallingArea::<ClfsAllocator>::create(
        log,
        // Unlimited write blocks, as when these figures were first measured (the default is
        // now 10: docs/decisions.md, "Default write-buffer limit").
        MarshallingConfig::new(BUF).unlimited_write_buffers(),
    )?)
}

#[inline(never)]
fn mark_raw_create(log: &LogFile) -> Res<*mut c_void> {
    let mut raw: *mut c_void = std::ptr::null_mut();
    // SAFETY: the log object is open; no callbacks (CLFS's allocator); `raw` is a valid out
    // pointer.
    let st = unsafe {
        sys::ClfsCreateMarshallingArea(
            log.as_raw(),
            sys::NonPagedPoolNx,
            None,
            None,
            BUF,
            sys::INFINITE,
            sys::INFINITE,
            &mut raw,
        )
    };
    if st < 0 {
        return Err(err(format!("ClfsCreateMarshallingArea: {st:#x}")));
    }
    Ok(raw)
}

/// The validation's query (`ClfsQueryLogFileInformation`), as `create` makes it.
#[inline(never)]
fn mark_validate_query(log: &LogFile) -> Res<()> {
    black_box(log.info()?);
    Ok(())
}

/// The validation's IRQL check (`KeGetCurrentIrql`), as `create` makes it.
#[inline(never)]
fn mark_validate_irql() {
    black_box(clfs::irql::current());
}

fn label(l: &str) {
    println!("{l}");
}

fn raw_read(area: &MarshallingArea<'_>, first: clfs::Lsn) -> Res<*mut c_void> {
    let mut lsn = sys::CLFS_LSN {
        Internal: first.raw(),
    };
    let mut buf: *mut c_void = std::ptr::null_mut();
    let mut len = 0u32;
    let mut kind = 0u8;
    let mut undo = MaybeUninit::<sys::CLFS_LSN>::uninit();
    let mut prev = MaybeUninit::<sys::CLFS_LSN>::uninit();
    let mut cx: *mut c_void = std::ptr::null_mut();
    // SAFETY: the area is live; every out pointer is a valid local.
    let st = unsafe {
        sys::ClfsReadLogRecord(
            area.as_raw(),
            &mut lsn,
            sys::ClfsContextForward,
            &mut buf,
            &mut len,
            &mut kind,
            undo.as_mut_ptr(),
            prev.as_mut_ptr(),
            &mut cx,
        )
    };
    if st < 0 {
        return Err(err(format!("ClfsReadLogRecord: {st:#x}")));
    }
    Ok(cx)
}

fn insn_worker() -> Res<()> {
    let _sandbox = clfs_emu::Sandbox::new();
    // Make the simulated IRQL opaque: a program that never changes it lets LTO fold every
    // IRQL check of the safe layer to "passive" and drop it, which the kernel (a read of CR8)
    // never can. With a store the optimiser cannot see through, each check stays a real load.
    clfs_emu::set_irql(black_box(clfs_emu::PASSIVE_LEVEL));
    for &size in &INSN_SIZES {
        let data = vec![0xA5u8; size];
        // Same-length names so both sides hash and compare alike in the emulator.
        let ls = open_log(&format!("log:C:\\bench\\safe{size:05}\\log"), 2, 16 << 20)?;
        let lr = open_log(&format!("log:C:\\bench\\rawx{size:05}\\log"), 2, 16 << 20)?;
        let cfg = MarshallingConfig::new(BUF).unlimited_write_buffers();
        let a_s = MarshallingArea::<ClfsAllocator>::create(&ls, cfg)?;
        let a_r = MarshallingArea::<ClfsAllocator>::create(&lr, cfg)?;
        let first_s = a_s.append(&[&data])?;
        let first_r = a_r.append(&[&data])?;
        // Warm-up (outside mark_*: neither collected nor dumped).
        for _ in 0..K {
            a_s.append(&[&data])?;
            a_r.append(&[&data])?;
        }
        a_s.flush()?;
        a_r.flush()?;
        for _ in 0..R {
            label(&format!("safe_append {size}"));
            mark_safe_append(&a_s, &data, K)?;
            a_s.flush()?;
            label(&format!("raw_append {size}"));
            mark_raw_append(a_r.as_raw(), &data, K)?;
            a_r.flush()?;
            label(&format!("rawnull_append {size}"));
            mark_rawnull_append(a_r.as_raw(), &data, K)?;
            a_r.flush()?;
        }
        // Read-next over the records just appended (flushed).
        let mut cs = a_s.read(first_s, ReadMode::Forward)?;
        let cr = raw_read(&a_r, first_r)?;
        cs.next()?; // the record the context was opened at
        for _ in 0..R {
            label(&format!("safe_next {size}"));
            mark_safe_next(&mut cs, K)?;
            label(&format!("raw_next {size}"));
            mark_raw_next(cr, K)?;
        }
        drop(cs);
        // SAFETY: `cr` is a live read context, terminated once.
        unsafe { sys::ClfsTerminateReadLog(cr) };
    }
    // 2: MarshallingArea::create vs ClfsCreateMarshallingArea.
    let log = open_log("log:C:\\bench\\create\\log", 2, 1 << 20)?;
    for _ in 0..R {
        label("safe_create 0");
        let a = mark_safe_create(&log)?;
        drop(a);
        label("raw_create 0");
        let raw = mark_raw_create(&log)?;
        // SAFETY: `raw` is a live marshalling context, deleted once.
        unsafe { sys::ClfsDeleteMarshallingArea(raw) };
        label("validate_query 0");
        mark_validate_query(&log)?;
        label("validate_irql 0");
        mark_validate_irql();
    }
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Total `Ir` of one callgrind dump.
fn dump_total(path: &Path) -> Res<u64> {
    let text = std::fs::read_to_string(path)?;
    for line in text.lines() {
        if let Some(v) = line
            .strip_prefix("summary: ")
            .or_else(|| line.strip_prefix("totals: "))
        {
            return Ok(v.split_whitespace().next().unwrap_or("0").parse()?);
        }
    }
    Ok(0)
}

/// The measured functions.
const MARKS: [&str; 9] = [
    "mark_safe_append",
    "mark_raw_append",
    "mark_rawnull_append",
    "mark_safe_next",
    "mark_raw_next",
    "mark_safe_create",
    "mark_raw_create",
    "mark_validate_query",
    "mark_validate_irql",
];

struct InsnRow {
    what: &'static str,
    size: usize,
    safe: f64,
    raw: f64,
}

fn insn() -> Res<Vec<InsnRow>> {
    let exe = std::env::current_exe()?;
    let dir = std::env::temp_dir().join(format!("clfs-bench-cg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let out_file = dir.join("cg.out");
    let mut cmd = Command::new("valgrind");
    // valgrind 3.19 honours one `--toggle-collect` (a wildcard is fine) but takes no
    // wildcard in `--dump-after`: name each function there.
    cmd.args([
        "--tool=callgrind",
        "--collect-atstart=no",
        "--toggle-collect=clfs_bench::bench::mark_*",
    ]);
    for f in MARKS {
        cmd.arg(format!("--dump-after=clfs_bench::bench::{f}"));
    }
    let out = cmd
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(&exe)
        .arg("insn-worker")
        .output()?;
    if !out.status.success() {
        return Err(err(format!(
            "valgrind failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let labels: Vec<String> = String::from_utf8(out.stdout)?
        .lines()
        .map(str::to_owned)
        .collect();
    let mut per: std::collections::BTreeMap<(String, usize), Vec<f64>> = Default::default();
    for (i, l) in labels.iter().enumerate() {
        let ir = dump_total(&dir.join(format!("cg.out.{}", i + 1)))?;
        let mut it = l.split(' ');
        let name = it.next().unwrap_or_default().to_owned();
        let size: usize = it.next().unwrap_or("0").parse()?;
        let ops = if name.contains("create") || name.starts_with("validate") {
            1.0
        } else {
            K as f64
        };
        per.entry((name, size)).or_default().push(ir as f64 / ops);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut med = |n: &str, s: usize| -> f64 {
        per.get_mut(&(n.to_owned(), s))
            .map_or(f64::NAN, |v| median(v))
    };
    let mut rows = Vec::new();
    for &s in &INSN_SIZES {
        rows.push(InsnRow {
            what: "append",
            size: s,
            safe: med("safe_append", s),
            raw: med("raw_append", s),
        });
    }
    for &s in &INSN_SIZES {
        rows.push(InsnRow {
            what: "append, raw with NULL links",
            size: s,
            safe: med("safe_append", s),
            raw: med("rawnull_append", s),
        });
    }
    for &s in &INSN_SIZES {
        rows.push(InsnRow {
            what: "read next",
            size: s,
            safe: med("safe_next", s),
            raw: med("raw_next", s),
        });
    }
    rows.push(InsnRow {
        what: "create",
        size: 0,
        safe: med("safe_create", 0),
        raw: med("raw_create", 0),
    });
    rows.push(InsnRow {
        what: "create validation: query",
        size: 0,
        safe: med("validate_query", 0),
        raw: 0.0,
    });
    rows.push(InsnRow {
        what: "create validation: IRQL",
        size: 0,
        safe: med("validate_irql", 0),
        raw: 0.0,
    });
    Ok(rows)
}

fn print_insn(rows: &[InsnRow]) {
    println!("\n## Instructions per operation (callgrind Ir, median of {R} batches of {K} ops)\n");
    println!("| operation | record | safe | raw | safe - raw | safe / raw |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        if r.raw == 0.0 {
            println!("| {} | - | {:.0} | - | - | - |", r.what, r.safe);
            continue;
        }
        let size = if r.size == 0 {
            "-".to_owned()
        } else {
            format!("{} B", r.size)
        };
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.4} |",
            r.what,
            size,
            r.safe,
            r.raw,
            r.safe - r.raw,
            r.safe / r.raw
        );
    }
}

// ---------------------------------------------------------------------------------------
// 3: throughput
// ---------------------------------------------------------------------------------------

/// Payload bytes between flushes (both paths flush / fsync after every this many bytes).
const FLUSH_EVERY: u64 = 1 << 20;

fn total_bytes() -> u64 {
    std::env::var("CLFS_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(256)
        << 20
}

/// Appends `total` bytes of `rec`-byte records through the safe API, flushing every
/// `FLUSH_EVERY` bytes. Returns (seconds, flushes the emulator did, bytes it wrote).
fn emu_run(root: &Path, total: u64, rec: usize) -> Res<(f64, u64, u64)> {
    let sandbox = clfs_emu::Sandbox::with_root(root);
    let log = open_log(&format!("log:C:\\tput\\r{rec}\\log"), 8, 64 << 20)?;
    let area = MarshallingArea::<ClfsAllocator>::create(
        &log,
        MarshallingConfig::new(BUF)
            .max_write_buffers(32)
            .max_read_buffers(1),
    )?;
    let data = vec![0x5Au8; rec];
    let n = total / rec as u64;
    let mut since = 0u64;
    let t = Instant::now();
    for _ in 0..n {
        area.append(&[&data])?;
        since += rec as u64;
        if since >= FLUSH_EVERY {
            area.flush()?;
            since = 0;
        }
    }
    area.flush()?;
    let secs = t.elapsed().as_secs_f64();
    let st = sandbox.stats();
    drop(area);
    log.close()?;
    drop(sandbox);
    // The log's files (mapped under <root>/C/...).
    let _ = std::fs::remove_dir_all(root.join("C"));
    Ok((secs, st.flushes, st.bytes_written))
}

/// Writes the same records with std::fs: a 64 KiB BufWriter (the marshalling buffer), flush +
/// fsync at the same points (after every `FLUSH_EVERY` bytes of payload). Each record is written
/// as `out` bytes: `rec` for the payload-equal run, or the emulator's on-disk bytes per record
/// (headers, block headers, sector padding) for the bytes-equal run. Returns (seconds, fsyncs,
/// bytes written).
fn fs_run(root: &Path, total: u64, rec: usize, out: usize) -> Res<(f64, u64, u64)> {
    let path = root.join(format!("raw-{rec}.dat"));
    let _ = std::fs::remove_file(&path);
    let data = vec![0x5Au8; out];
    let n = total / rec as u64;
    let mut since = 0u64;
    let mut fsyncs = 0u64;
    let t = Instant::now();
    let f = std::fs::File::create(&path)?;
    let mut w = std::io::BufWriter::with_capacity(BUF as usize, &f);
    for _ in 0..n {
        w.write_all(&data)?;
        since += rec as u64;
        if since >= FLUSH_EVERY {
            w.flush()?;
            f.sync_all()?;
            fsyncs += 1;
            since = 0;
        }
    }
    w.flush()?;
    f.sync_all()?;
    fsyncs += 1;
    let secs = t.elapsed().as_secs_f64();
    drop(w);
    std::fs::remove_file(&path)?;
    Ok((secs, fsyncs, n * out as u64))
}

/// Lets the previous run's dirty pages reach the disk before the next timed run starts, so that
/// neither side is charged for the other's writeback (`sync`; ignored where there is none).
fn settle() {
    let _ = Command::new("sync").status();
    // The file system's own deferred work (freeing the previous run's deleted files) is not
    // covered by sync: give it a moment (CLFS_BENCH_SETTLE_MS, default 1000).
    let ms = std::env::var("CLFS_BENCH_SETTLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

struct TputRow {
    rec: usize,
    /// Medians of payload MB/s.
    emu: f64,
    fs: f64,
    fs_same: f64,
    /// Medians of the ratios of runs made back to back.
    ratio: f64,
    ratio_same: f64,
    flushes: u64,
    fsyncs: u64,
    disk: u64,
    fs_same_disk: u64,
}

fn reps() -> usize {
    std::env::var("CLFS_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

fn throughput() -> Res<Vec<TputRow>> {
    let root = bench_root()?;
    let total = total_bytes();
    let mut rows = Vec::new();
    // CLFS_BENCH_SIZES=64,1024 picks record sizes; CLFS_BENCH_SIDE=emu|fs runs one side only
    // (for profiling; the other side's columns are then 0).
    let sizes: Vec<usize> = std::env::var("CLFS_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![64, 1024, 16 * 1024]);
    let side = std::env::var("CLFS_BENCH_SIDE").unwrap_or_default();
    for rec in sizes {
        let n = total / rec as u64;
        let (mut e, mut f, mut g) = (Vec::new(), Vec::new(), Vec::new());
        let (mut r1, mut r2) = (Vec::new(), Vec::new());
        let (mut flushes, mut fsyncs, mut disk, mut same_disk) = (0, 0, 0, 0);
        // The emulator's on-disk bytes per record, known after its first run (the layout is
        // deterministic); the payload size until then.
        let mut out_same = rec;
        for i in 0..reps() {
            // Alternate which side goes first, so that neither always runs on a warmer cache.
            let mut emu = 0.0;
            let mut fs = 0.0;
            let mut fs_same = 0.0;
            for turn in 0..2 {
                let emu_turn = (i + turn) % 2 == 0;
                if emu_turn && side != "fs" {
                    settle();
                    let (s, fl, b) = emu_run(&root, total, rec)?;
                    emu = total as f64 / s / 1e6;
                    e.push(emu);
                    (flushes, disk) = (fl, b);
                    out_same = usize::try_from(b.div_ceil(n)).unwrap_or(rec);
                } else if !emu_turn && side != "emu" {
                    settle();
                    let (s, fsy, _) = fs_run(&root, total, rec, rec)?;
                    fs = total as f64 / s / 1e6;
                    f.push(fs);
                    fsyncs = fsy;
                    if side != "fs" {
                        settle();
                        let (s, _, b) = fs_run(&root, total, rec, out_same)?;
                        fs_same = total as f64 / s / 1e6;
                        g.push(fs_same);
                        same_disk = b;
                    }
                }
            }
            if emu > 0.0 && fs > 0.0 {
                r1.push(emu / fs);
            }
            if emu > 0.0 && fs_same > 0.0 {
                r2.push(emu / fs_same);
            }
        }
        rows.push(TputRow {
            rec,
            emu: median(&mut e),
            fs: median(&mut f),
            fs_same: median(&mut g),
            ratio: median(&mut r1),
            ratio_same: median(&mut r2),
            flushes,
            fsyncs,
            disk,
            fs_same_disk: same_disk,
        });
    }
    let _ = std::fs::remove_dir_all(&root);
    Ok(rows)
}

fn print_tput(rows: &[TputRow]) {
    let mib = total_bytes() >> 20;
    println!(
        "\n## Append + flush {mib} MiB (64 KiB buffers, flush every {} KiB of payload; MB/s = 10^6 B/s of payload; medians of {} runs per side, ratios = medians of back-to-back pairs)\n",
        FLUSH_EVERY >> 10,
        reps()
    );
    println!("| record | emulator MB/s | std::fs MB/s (payload) | emulator / std::fs | std::fs MB/s (emulator's bytes) | emulator / std::fs, same bytes | emulator flushes | std::fs fsyncs | emulator bytes on disk | std::fs bytes, same-bytes run |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} B | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} | {} | {} | {} | {} |",
            r.rec,
            r.emu,
            r.fs,
            r.ratio,
            r.fs_same,
            r.ratio_same,
            r.flushes,
            r.fsyncs,
            r.disk,
            r.fs_same_disk
        );
    }
}

fn bench_root() -> Res<PathBuf> {
    let root = std::env::temp_dir().join(format!("clfs-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    Ok(root)
}

// ---------------------------------------------------------------------------------------
// 4: peak RSS
// ---------------------------------------------------------------------------------------

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// RSS record size and write-buffer cap.
const RSS_REC: usize = 64;
const RSS_MAX_WRITE: u32 = 8;

fn rss_worker(n: u64) -> Res<()> {
    let root = bench_root()?;
    let sandbox = clfs_emu::Sandbox::with_root(&root);
    let log = open_log("log:C:\\rss\\log", 4, 64 << 20)?;
    let area = MarshallingArea::<ClfsAllocator>::create(
        &log,
        MarshallingConfig::new(BUF)
            .max_write_buffers(RSS_MAX_WRITE)
            .max_read_buffers(1),
    )?;
    let data = vec![0x33u8; RSS_REC];
    let before = vm_hwm_kib();
    for _ in 0..n {
        area.append(&[&data])?;
    }
    area.flush()?;
    let after = vm_hwm_kib();
    let flushes = sandbox.stats().flushes;
    drop(area);
    log.close()?;
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&root);
    println!("{before} {after} {flushes}");
    Ok(())
}

struct RssRow {
    n: u64,
    before: u64,
    after: u64,
    flushes: u64,
}

fn rss() -> Res<Vec<RssRow>> {
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    for n in [10_000u64, 1_000_000] {
        let out = Command::new(&exe)
            .args(["rss-worker", &n.to_string()])
            .output()?;
        if !out.status.success() {
            return Err(err(format!(
                "rss-worker failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let s = String::from_utf8(out.stdout)?;
        let v: Vec<u64> = s
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        if v.len() != 3 {
            return Err(err(format!("rss-worker printed {s:?}")));
        }
        rows.push(RssRow {
            n,
            before: v[0],
            after: v[1],
            flushes: v[2],
        });
    }
    Ok(rows)
}

fn print_rss(rows: &[RssRow]) {
    let bound = u64::from(RSS_MAX_WRITE) * u64::from(BUF) / 1024;
    println!(
        "\n## Peak RSS (VmHWM) of a child appending {RSS_REC}-byte records, cMaxWriteBuffers = {RSS_MAX_WRITE} x 64 KiB = {bound} KiB\n"
    );
    println!("| records | VmHWM after setup (KiB) | VmHWM at end (KiB) | growth (KiB) | flushes |");
    println!("|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.n,
            r.before,
            r.after,
            r.after.saturating_sub(r.before),
            r.flushes
        );
    }
}

// ---------------------------------------------------------------------------------------
// 5: driver size
// ---------------------------------------------------------------------------------------

fn size() {
    println!("\n## Sample driver image\n");
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(t));
    }
    dirs.push(ws.join("target"));
    dirs.push(ws.join("target/bench"));
    for d in dirs {
        let sys = d.join("x86_64-pc-windows-msvc/release/clfs_sample_driver.sys");
        if let Ok(m) = std::fs::metadata(&sys) {
            println!("- `{}`: {} bytes", sys.display(), m.len());
            let map = sys.with_extension("map");
            if let Ok(text) = std::fs::read_to_string(&map) {
                print_map_share(&text);
            }
            return;
        }
    }
    println!("- not built (run `bash samples/build-driver.sh` first)");
}

/// Prints the section sizes of an MSVC-style map (`0001:00000000 00000b48H .text  CODE`) and
/// which objects define public symbols in `.text`.
fn print_map_share(text: &str) {
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() == 4 && cols[1].ends_with('H') && cols[2].starts_with('.') {
            if let Ok(n) = u64::from_str_radix(cols[1].trim_end_matches('H'), 16) {
                println!("- section `{}`: {n} bytes", cols[2]);
            }
        }
    }
    let code: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("0001:"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    println!(
        "- public symbols in .text: {} (with LTO the clfs code is inlined into them, so its share is not separable in the map)",
        code.join(", ")
    );
}

pub(crate) fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let cmd = args.get(1).map_or("all", String::as_str);
    match cmd {
        "insn-worker" => return insn_worker(),
        "rss-worker" => {
            let n = args.get(2).ok_or_else(|| err("rss-worker N".into()))?;
            return rss_worker(n.parse()?);
        }
        _ => {}
    }
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model()
    );
    if matches!(cmd, "all" | "insn") {
        print_insn(&insn()?);
    }
    if matches!(cmd, "all" | "throughput") {
        print_tput(&throughput()?);
    }
    if matches!(cmd, "all" | "rss") {
        print_rss(&rss()?);
    }
    if matches!(cmd, "all" | "size") {
        size();
    }
    if matches!(cmd, "all" | "format") {
        crate::format::print(&crate::format::run()?);
    }
    if matches!(cmd, "all" | "mgmt") {
        crate::mgmt::print(&crate::mgmt::run()?);
    }
    Ok(())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_default()
}
