//! `clfs-iobench`: what an IOCTL append costs through the real driver image under the harness,
//! against the same append made directly through the `clfs` library, and IOCTL round trips
//! per second (docs/performance.md, "The device interface").
//!
//! ```text
//! cargo run --release -p clfs-harness --bin clfs-iobench -- <clfs_sample_driver.sys> [insn|rate|all]
//! ```
//!
//! `insn` re-runs this binary under `valgrind --tool=callgrind`; the worker zeroes callgrind's
//! counters before each batch and dumps them after it (callgrind client requests), so each
//! dump is one batch, and the median instructions per operation are reported. (Toggling
//! collection on functions, as `clfs-bench` does, cannot work here: the driver runs on its own
//! 24 KiB stack, and callgrind takes the stack switch for a return.) `rate` times round trips
//! with the wall clock. Reports only; nothing gates.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod imp {
    use std::hint::black_box;
    use std::path::{Path, PathBuf};
    use std::process::{Command, ExitCode};
    use std::time::Instant;

    use clfs::{
        pool_tag, wide, LogFile, LogOptions, MarshallingArea, MarshallingConfig, PoolType,
        TaggedPool,
    };
    use clfs_harness::iomgr::{Caller, File, IoManager, READ_WRITE};
    use clfs_sample_proto as proto;

    type Res<T> = Result<T, String>;

    /// Operations per measured batch.
    const K: usize = 200;
    /// Batches per row (the median is reported).
    const R: usize = 7;
    /// Record sizes.
    const SIZES: [usize; 2] = [16, 256];

    /// The started sample driver behind the I/O manager, with one open handle.
    struct Rig {
        io: IoManager,
        file: File,
        _sandbox: clfs_emu::Sandbox,
    }

    fn start(image: &Path) -> Res<Rig> {
        let bytes = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
        let sandbox = clfs_emu::Sandbox::new();
        clfs_harness::set_file_root(Some(sandbox.root())).map_err(|e| e.to_string())?;
        let mut driver =
            clfs_harness::Driver::load(&bytes, "ClfsSample").map_err(|e| e.to_string())?;
        // SAFETY: the sample driver under test.
        let status = unsafe { driver.driver_entry() };
        if status != 0 {
            return Err(format!("DriverEntry returned {status:#x}"));
        }
        let io = IoManager::new(driver);
        let file = io
            .open(proto::WIN32_PATH, READ_WRITE, Caller::Administrator)
            .map_err(|e| e.to_string())?
            .map_err(|s| format!("open: {s:#x}"))?;
        Ok(Rig {
            io,
            file,
            _sandbox: sandbox,
        })
    }

    fn append_request(size: usize) -> Vec<u8> {
        let record = vec![0x5Au8; size];
        let mut req = vec![0u8; proto::AppendRequest::SIZE + size];
        let _ = proto::AppendRequest { flags: 0 }.encode(&record, &mut req);
        req
    }

    fn ioctl(rig: &Rig, code: u32, input: &[u8], out: usize) -> Res<()> {
        let r = rig
            .io
            .ioctl(&rig.file, code, Some(input), input.len(), out, false)
            .map_err(|e| e.to_string())?;
        if r.status != 0 {
            return Err(format!("IOCTL {code:#x}: status {:#010x}", r.status as u32));
        }
        Ok(())
    }

    /// `K` appends through the driver: IRP built by the harness, dispatch in the image,
    /// `clfs` in the image, the emulator.
    #[inline(never)]
    fn mark_ioctl_append(rig: &Rig, req: &[u8]) -> Res<()> {
        for _ in 0..K {
            ioctl(rig, proto::IOCTL_CLFS_SAMPLE_APPEND, black_box(req), 16)?;
        }
        Ok(())
    }

    /// `K` appends of the same record through the library (host build, same emulator).
    #[inline(never)]
    fn mark_lib_append(area: &MarshallingArea<'_, SamplePool>, record: &[u8]) -> Res<()> {
        for _ in 0..K {
            black_box(
                area.append(&[black_box(record)])
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok(())
    }

    /// `K` QUERY round trips through the driver (one CLFS query each).
    #[inline(never)]
    fn mark_ioctl_query(rig: &Rig) -> Res<()> {
        for _ in 0..K {
            ioctl(
                rig,
                proto::IOCTL_CLFS_SAMPLE_QUERY,
                &[],
                proto::QueryReply::SIZE,
            )?;
        }
        Ok(())
    }

    /// `K` log queries through the library.
    #[inline(never)]
    fn mark_lib_query(log: &LogFile) -> Res<()> {
        for _ in 0..K {
            black_box(log.info().map_err(|e| e.to_string())?);
        }
        Ok(())
    }

    /// `VG_USERREQ_TOOL_BASE('C', 'T')`: callgrind's client requests.
    const CALLGRIND_BASE: u64 = ((b'C' as u64) << 24) | ((b'T' as u64) << 16);
    /// `CALLGRIND_DUMP_STATS`.
    const DUMP_STATS: u64 = CALLGRIND_BASE;
    /// `CALLGRIND_ZERO_STATS`.
    const ZERO_STATS: u64 = CALLGRIND_BASE + 1;

    /// A valgrind client request (valgrind.h's amd64 `VALGRIND_DO_CLIENT_REQUEST`): the
    /// special no-op sequence with RAX pointing at the arguments. Outside valgrind it does
    /// nothing (the four rotations of RDI add up to 128 bits).
    fn client_request(request: u64) {
        let args: [u64; 6] = [request, 0, 0, 0, 0, 0];
        let mut result: u64 = 0;
        // SAFETY: rotating RDI by 3 + 13 + 61 + 51 = 2 × 64 bits leaves it unchanged, and
        // `xchg rbx, rbx` changes nothing; valgrind recognises the sequence and reads the six
        // words at RAX (a live local array), writing its answer to RDX.
        unsafe {
            core::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                in("rax") args.as_ptr(),
                inout("rdx") result,
                out("rdi") _,
            );
        }
        black_box(result);
    }

    /// Runs `f` as one measured batch: zero callgrind's counters, run, dump.
    fn batch(label: &str, f: impl FnOnce() -> Res<()>) -> Res<()> {
        println!("{label}");
        client_request(ZERO_STATS);
        let r = f();
        client_request(DUMP_STATS);
        r
    }

    /// The sample's block allocator, so both sides allocate alike.
    type SamplePool = TaggedPool<{ pool_tag(*b"Smpl") }>;

    fn lib_log() -> Res<LogFile> {
        let log = LogFile::create(
            wide!("log:\\SystemRoot\\Logs\\Bench\\lib"),
            LogOptions::new().create_if_missing(),
        )
        .map_err(|e| e.to_string())?;
        log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)
            .map_err(|e| e.to_string())?;
        Ok(log)
    }

    fn config() -> MarshallingConfig {
        MarshallingConfig::new(64 * 1024)
            .pool(PoolType::NonPagedPoolNx)
            .max_write_buffers(8)
            .max_read_buffers(4)
    }

    /// The worker run under callgrind: prints one label per dump, in dump order.
    fn insn_worker(image: &Path) -> Res<()> {
        let rig = start(image)?;
        std::fs::create_dir_all(rig._sandbox.root().join("SystemRoot/Logs/Bench"))
            .map_err(|e| e.to_string())?;
        let log = lib_log()?;
        let area =
            MarshallingArea::<SamplePool>::create(&log, config()).map_err(|e| e.to_string())?;
        for size in SIZES {
            let req = append_request(size);
            let record = vec![0x5Au8; size];
            for _ in 0..R {
                batch(&format!("ioctl_append {size}"), || {
                    mark_ioctl_append(&rig, &req)
                })?;
                batch(&format!("lib_append {size}"), || {
                    mark_lib_append(&area, &record)
                })?;
                ioctl(&rig, proto::IOCTL_CLFS_SAMPLE_FLUSH, &[], 8)?;
                area.flush().map_err(|e| e.to_string())?;
            }
        }
        for _ in 0..R {
            batch("ioctl_query 0", || mark_ioctl_query(&rig))?;
            batch("lib_query 0", || mark_lib_query(&log))?;
        }
        Ok(())
    }

    fn dump_total(path: &Path) -> Res<u64> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for line in text.lines() {
            if let Some(v) = line
                .strip_prefix("summary: ")
                .or_else(|| line.strip_prefix("totals: "))
            {
                return v
                    .split_whitespace()
                    .next()
                    .unwrap_or("0")
                    .parse()
                    .map_err(|e| format!("{e}"));
            }
        }
        Ok(0)
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }

    fn insn(image: &Path) -> Res<()> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let dir = std::env::temp_dir().join(format!("clfs-iobench-cg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out_file = dir.join("cg.out");
        let mut cmd = Command::new("valgrind");
        cmd.args(["--tool=callgrind", "--dump-instr=no"]);
        let out = cmd
            .arg(format!("--callgrind-out-file={}", out_file.display()))
            .arg(&exe)
            .arg(image)
            .arg("insn-worker")
            .output()
            .map_err(|e| format!("valgrind: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "valgrind failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let labels: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with('['))
            .map(str::to_owned)
            .collect();
        let mut per: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        for (i, l) in labels.iter().enumerate() {
            let ir = dump_total(&dir.join(format!("cg.out.{}", i + 1)))?;
            per.entry(l.clone()).or_default().push(ir as f64 / K as f64);
        }
        let _ = std::fs::remove_dir_all(&dir);
        println!("## Instructions per operation (callgrind Ir, median of {R} batches of {K})\n");
        println!(
            "| operation | record | through the driver (IOCTL) | through the library | ratio |"
        );
        println!("|---|---|---|---|---|");
        let mut rows: Vec<(String, usize)> =
            SIZES.iter().map(|s| ("append".to_string(), *s)).collect();
        rows.push(("query".into(), 0));
        for (what, size) in rows {
            let via = median(
                per.get(&format!("ioctl_{what} {size}"))
                    .cloned()
                    .unwrap_or_default(),
            );
            let lib = median(
                per.get(&format!("lib_{what} {size}"))
                    .cloned()
                    .unwrap_or_default(),
            );
            let rec = if size == 0 {
                "—".to_string()
            } else {
                format!("{size} B")
            };
            println!(
                "| {what} | {rec} | {via:.0} | {lib:.0} | {:.2} |",
                via / lib
            );
        }
        Ok(())
    }

    fn rate(image: &Path) -> Res<()> {
        const QUERIES: usize = 100_000;
        const APPENDS: usize = 5_000;
        let rig = start(image)?;
        let t = Instant::now();
        for _ in 0..QUERIES {
            ioctl(
                &rig,
                proto::IOCTL_CLFS_SAMPLE_QUERY,
                &[],
                proto::QueryReply::SIZE,
            )?;
        }
        let q = QUERIES as f64 / t.elapsed().as_secs_f64();
        let req = append_request(16);
        let t = Instant::now();
        for _ in 0..APPENDS {
            ioctl(&rig, proto::IOCTL_CLFS_SAMPLE_APPEND, &req, 16)?;
        }
        let a = APPENDS as f64 / t.elapsed().as_secs_f64();
        println!("## IOCTL round trips per second (one thread, wall clock)\n");
        println!("| request | count | per second |");
        println!("|---|---|---|");
        println!("| QUERY | {QUERIES} | {q:.0} |");
        println!("| APPEND 16 B (no flush) | {APPENDS} | {a:.0} |");
        Ok(())
    }

    pub fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let Some(image) = args.first().map(PathBuf::from) else {
            eprintln!("usage: clfs-iobench <clfs_sample_driver.sys> [insn|rate|all]");
            return ExitCode::from(2);
        };
        // The driver and the worker run on a big stack, as in clfs-hlk.
        let what = args.get(1).cloned().unwrap_or_else(|| "all".into());
        let result = clfs_harness::run_on_driver_stack(move || -> Res<()> {
            match what.as_str() {
                "insn-worker" => insn_worker(&image),
                "insn" => insn(&image),
                "rate" => rate(&image),
                "all" => {
                    insn(&image)?;
                    println!();
                    rate(&image)
                }
                other => Err(format!("unknown command {other}")),
            }
        })
        .unwrap_or_else(|| Err("the benchmark thread panicked".into()));
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("clfs-iobench: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn main() -> std::process::ExitCode {
    imp::main()
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn main() -> std::process::ExitCode {
    eprintln!("clfs-iobench runs driver images on x86-64 Linux hosts only");
    std::process::ExitCode::FAILURE
}
