//! The API trace: with [`set`] on, every import call of the driver is printed to stderr as
//! one line, `[trace] dll!Routine(Param=value, ...) -> result`, after the call returns
//! (calls nested inside it, such as the block allocator callbacks Clfs.sys makes, print
//! first). NTSTATUS results are printed as hex with `NT_SUCCESS` spelled out; calls the
//! low-resources simulation failed are marked `[injected]`.

use std::sync::atomic::{AtomicBool, Ordering};

use super::ddi::{routine, Ret};
use super::gate::Call;

static ON: AtomicBool = AtomicBool::new(false);

/// Turns the trace on or off (process-wide).
pub fn set(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// True if the trace is on.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Prints one call (if the trace is on).
pub(crate) fn record(dll: &str, name: &str, call: &Call, ret: u64, injected: bool) {
    if !enabled() {
        return;
    }
    let info = routine(dll, name);
    let args: Vec<String> = match info {
        Some(r) => (0..r.params.len())
            .filter_map(|i| {
                let (name, bits) = r.param(i)?;
                let v = call.arg(i);
                let v = if bits < 64 {
                    v & ((1u64 << bits) - 1)
                } else {
                    v
                };
                Some(format!("{name}={v:#x}"))
            })
            .collect(),
        None => (0..4).map(|i| format!("{:#x}", call.arg(i))).collect(),
    };
    let result = match info.map(|r| r.ret) {
        Some(Ret::Status) => {
            let st = ret as u32;
            format!(
                " -> {st:#010x}{}",
                if (st as i32) >= 0 { "" } else { " (failure)" }
            )
        }
        Some(Ret::Void) => String::new(),
        Some(Ret::Pointer) => format!(" -> {ret:#x}"),
        Some(Ret::Value) | None => format!(" -> {ret:#x}"),
    };
    eprintln!(
        "[trace] {dll}!{name}({}){result}{}",
        args.join(", "),
        if injected { " [injected]" } else { "" }
    );
}
