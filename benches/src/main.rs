//! `clfs-bench`: measures the `clfs` safe layer against raw seam calls (instructions, under
//! callgrind) and the `clfs-emu` emulator against `std::fs` (throughput, peak RSS), side by
//! side in one run. It reports; it never gates.
//!
//! ```text
//! cargo run --release -p clfs-bench -- all        # everything (valgrind needed for `insn`)
//! cargo run --release -p clfs-bench -- insn       # 1 + 2: instructions per op, safe vs raw
//! cargo run --release -p clfs-bench -- throughput # 3: append + flush MB/s, emulator vs std::fs
//! cargo run --release -p clfs-bench -- rss        # 4: peak RSS for two run lengths
//! cargo run --release -p clfs-bench -- size       # 5: sample driver image size, if built
//! cargo run --release -p clfs-bench -- format     # clfs-format reader vs CRC-32 + memcpy
//! cargo run --release -p clfs-bench -- mgmt       # a burst of management requests
//! ```
//!
//! `insn` re-runs this binary as `insn-worker` under `valgrind --tool=callgrind` with
//! collection off, `--toggle-collect` on the `mark_*` functions (each runs a batch of `K`
//! operations and nothing else) and `--dump-after` on the same functions, so every batch
//! lands in its own dump; the worker prints one label per batch in call order.
//!
//! Host-only: the benchmarks run the emulator (and callgrind), so on a Windows target this binary
//! only says so, and the `clfs/emulator` dependency is not even declared there: a workspace build
//! for the kernel target never links the emulator into the driver (docs/kernel-build.md).

#[cfg(not(windows))]
mod bench;
#[cfg(not(windows))]
mod format;
#[cfg(not(windows))]
mod mgmt;

#[cfg(not(windows))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    bench::main()
}

#[cfg(windows)]
fn main() -> std::process::ExitCode {
    eprintln!("clfs-bench runs on a non-Windows host only (the emulator and callgrind)");
    std::process::ExitCode::from(2)
}
