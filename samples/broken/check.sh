#!/usr/bin/env bash
# Proof that the loader's verifier checks bite: builds the deliberately broken driver
# images (samples/broken, one cargo invocation, the workspace's target directory) and runs
# `clfs-hlk --generic` on each. Each must FAIL with the stop that names its defect; the
# clean sample passing everything is checked by .ci/run.
#
# Usage: samples/broken/check.sh        (exits non-zero if any image is not caught as expected)
# Env:   CARGO_TARGET_DIR, CARGO as for samples/build-driver.sh.
set -euo pipefail

workspace="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$workspace"
cargo="${CARGO:-cargo}"
target=x86_64-pc-windows-msvc
target_dir="${CARGO_TARGET_DIR:-$workspace/target}"
images="$target_dir/$target/release/examples"

die() { printf 'broken/check.sh: FAILED: %s\n' "$*" >&2; exit 1; }

echo "==> build the broken images (one invocation)"
CARGO_TARGET_DIR="$target_dir" "$cargo" build -q -p clfs-broken-drivers --release \
    --target "$target" --examples
CARGO_TARGET_DIR="$target_dir" "$cargo" build -q -p clfs-harness --bin clfs-hlk
hlk="$target_dir/debug/clfs-hlk"

# image | the test that must catch it | text the FAIL line must contain (grep -F), ...
# ($extra: more clfs-hlk options, e.g. the device to open; empty unless set for one call)
extra=()
check() {
    local image="$1" test="$2"
    shift 2
    local out
    if out="$("$hlk" "$images/$image.dll" --generic "${extra[@]}" --only "$test" 2>/dev/null)"; then
        printf '%s\n' "$out"
        die "$image passed $test: its defect was not caught"
    fi
    local line
    line="$(printf '%s\n' "$out" | grep "^FAIL $test: " || true)"
    [ -n "$line" ] || { printf '%s\n' "$out"; die "$image: no FAIL line for $test"; }
    for want in "$@"; do
        printf '%s\n' "$line" | grep -qF -- "$want" \
            || { printf '%s\n' "$line"; die "$image: the stop does not say: $want"; }
    done
    local shown
    shown="$(printf '%s\n' "$line" | grep -o '\*\*\* STOP: [^[]*' || printf '%s' "${line#FAIL "$test": }")"
    printf 'OK %-26s %s\n' "$image" "$(printf '%s\n' "$shown" | cut -c1-150)"
}

echo "==> clfs-hlk --generic on each: the right stop, naming the cause"
check broken_overrun load_unload \
    "STOP: 0x000000D6 (DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION) pool overrun: write at offset 0x40 of a 64-byte block" \
    "tag 'Brk1'" "by the instruction at image+0x"
check broken_use_after_free load_unload \
    "STOP: 0x000000D5 (DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL) use after free: read at offset 0x8 of a freed 64-byte block" \
    "tag 'Brk2'" "by the instruction at image+0x"
check broken_leak load_unload \
    "STOP: 0x000000C4 (DRIVER_VERIFIER_DETECTED_VIOLATION) after DriverUnload returned, but the driver still holds 1 pool allocation(s), 100 bytes" \
    "tag 'Brk3'" "[0x62,"
check broken_clfs_at_dispatch load_unload \
    "STOP: 0x000000C4 (DRIVER_VERIFIER_DETECTED_VIOLATION) DDI compliance: clfs.sys!ClfsFlushBuffers called at IRQL 2 (DISPATCH_LEVEL); its maximum is APC_LEVEL (1)"
check broken_double_free load_unload \
    "STOP: 0x000000C2 (BAD_POOL_CALLER) ExFreePoolWithTag(" "double free of a 64-byte block with tag 'Brk5'"
check broken_error_path_leak fault_sweep \
    "STOP: 0x000000C4 (DRIVER_VERIFIER_DETECTED_VIOLATION) DriverEntry failed with 0xc000009a (the image is unloaded), but the driver still holds 1 pool allocation(s), 32 bytes" \
    "tag 'Brk6'"
check broken_stack_overflow load_unload \
    "STOP: 0x0000007F (UNEXPECTED_KERNEL_MODE_TRAP) EXCEPTION_DOUBLE_FAULT: kernel stack overflow: the driver used more than its 24 KiB kernel stack" \
    "called from image+0x"
check broken_irql_not_restored load_unload \
    "STOP: 0x000000C8 (IRQL_UNEXPECTED_VALUE) DriverEntry at image+0x" \
    "returned at IRQL 2 (DISPATCH_LEVEL), but was called at IRQL 0 (PASSIVE_LEVEL): a driver routine must return at the IRQL it was called at" \
    "[0x20002,"
# The device tests need the device and an IOCTL code (any METHOD_BUFFERED code).
extra=(--device BrokenPending --ioctl 0x222000)
check broken_pending_not_marked open_close_storm \
    "STOP: 0x000000C9 (DRIVER_VERIFIER_IOMANAGER_VIOLATION) I/O verification: the dispatch routine for IRP_MJ_DEVICE_CONTROL (0x0e) at image+0x" \
    "returned STATUS_PENDING but did not mark the IRP" \
    "must call IoMarkIrpPending first" "[0x23D,"
extra=(--device BrokenIrql --ioctl 0x222000)
check broken_dispatch_irql path_exerciser \
    "STOP: 0x000000C9 (DRIVER_VERIFIER_IOMANAGER_VIOLATION) I/O verification: the dispatch routine for IRP_MJ_DEVICE_CONTROL (0x0e) at image+0x" \
    "returned at IRQL 2 (DISPATCH_LEVEL), but was called at IRQL 0 (PASSIVE_LEVEL)" "[0x5,"
extra=(--device BrokenComplete --ioctl 0x222000)
check broken_completed_pending path_exerciser \
    "STOP: 0x000000C9 (DRIVER_VERIFIER_IOMANAGER_VIOLATION) I/O verification: IofCompleteRequest(0x" \
    "with IoStatus.Status 0x00000103: an IRP is completed with its final status, never STATUS_PENDING" \
    "[0x6, 0x103,"
extra=()
check broken_use_after_close load_unload \
    "STOP: 0x000000CC (PAGE_FAULT_IN_FREED_SPECIAL_POOL) use after release: clfs.sys!ClfsQueryLogFileInformation(plfolog=0x" \
    "called from image+0x" "with a log file object that ClfsCloseLogFileObject released"
check broken_spin_lock_double_release load_unload \
    "STOP: 0x000000C4 (DRIVER_VERIFIER_DETECTED_VIOLATION) KeReleaseSpinLock(0x" \
    "called at IRQL 0 (PASSIVE_LEVEL): a spin lock is released at DISPATCH_LEVEL by its holder (a double release" \
    "[0x32, 0x0,"
check broken_error_path_device fault_sweep \
    "call #1 of ClfsCreateLogFile: DriverEntry failed with 0xc0000185, but left its objects behind" \
    'device \Device\BrokenEntry not deleted'

# The error-path leaks hide from everything but the fault sweep: the clean paths pass.
for image in broken_error_path_leak broken_error_path_device; do
    if ! "$hlk" "$images/$image.dll" --generic --only load_unload >/dev/null 2>&1; then
        die "$image fails load_unload: its clean path should pass"
    fi
    echo "OK $image passes load_unload (only the fault sweep finds it)"
done
echo "==> every defect caught"
