#!/usr/bin/env bash
# Builds the sample driver image (clfs_sample_driver.sys) for x86_64-pc-windows-msvc on any
# host, checks it with clfs-imgcheck, and proves the checks can fail:
#
#   1. rustup target add x86_64-pc-windows-msvc                  (idempotent)
#   2. cargo build -p clfs-sample-driver --release --target ...  (rust-lld as lld-link, LTO)
#   3. copy clfs_sample_driver.dll -> .sys and deps/clfs_sample_driver.map -> beside it
#   4. clfs-imgcheck <the .sys> --map <the .map>                  (must pass)
#   5. negative build `prove-panic-check` (a reachable panic): the link must FAIL with
#      "undefined symbol: a_panic_path_survived_into_the_driver_image"
#   6. negative build `trap-dbgprint` (windows-sys's DbgPrint, an ntdll.dll import): it links,
#      and clfs-imgcheck must FAIL kernel-imports-only naming ntdll.dll!DbgPrint
#   7. the stack-budget probe `stack-probe` (one exported function per public clfs routine,
#      src/stack_probe.rs): clfs-imgcheck must pass, stack-frames included (budget 4096 bytes
#      per function), and its report of the largest frames is printed
#   8. negative build `prove-stack-check` (the probe plus issue 11's 32 KiB container-set
#      frame): clfs-imgcheck must FAIL stack-frames naming clfs_probe_old_container_set
#
# Usage: samples/build-driver.sh            (from anywhere; exits non-zero on any failure)
# Env:   CARGO_TARGET_DIR  target directory (default: <workspace>/target). The negative builds
#                          use <target dir>/negative so they never overwrite the real image.
#        CARGO             cargo to use (default: cargo)
# Needs: rustup and cargo (stable); nothing from Windows, the WDK or MSVC.
set -euo pipefail

workspace="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$workspace"

cargo="${CARGO:-cargo}"
target=x86_64-pc-windows-msvc
target_dir="${CARGO_TARGET_DIR:-$workspace/target}"
out="$target_dir/$target/release"
negative_dir="$target_dir/negative"
probe_dir="$target_dir/stack-probe"
host_dir="$target_dir"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'build-driver.sh: FAILED: %s\n' "$*" >&2; exit 1; }

step "rustup target add $target"
if rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "$target already installed"
else
    rustup target add "$target"
fi

step "build the driver image (release, LTO, rust-lld)"
CARGO_TARGET_DIR="$target_dir" "$cargo" build -p clfs-sample-driver --release --target "$target"
cp "$out/clfs_sample_driver.dll" "$out/clfs_sample_driver.sys"
cp "$out/deps/clfs_sample_driver.map" "$out/clfs_sample_driver.map"
echo "image: $out/clfs_sample_driver.sys"
echo "map:   $out/clfs_sample_driver.map"

step "build clfs-imgcheck (host)"
CARGO_TARGET_DIR="$host_dir" "$cargo" build -q -p clfs-imgcheck
imgcheck="$host_dir/debug/clfs-imgcheck"

step "clfs-imgcheck on the image"
"$imgcheck" "$out/clfs_sample_driver.sys" --map "$out/clfs_sample_driver.map" \
    || die "clfs-imgcheck rejected the driver image"

step "negative build 1: prove-panic-check must fail to link (undefined symbol)"
log="$negative_dir/prove-panic-check.log"
mkdir -p "$negative_dir"
if CARGO_TARGET_DIR="$negative_dir" "$cargo" build -p clfs-sample-driver --release \
    --target "$target" --features prove-panic-check >"$log" 2>&1; then
    die "the prove-panic-check build linked: a reachable panic was not detected (see $log)"
fi
grep -q "undefined symbol: a_panic_path_survived_into_the_driver_image" "$log" \
    || { cat "$log" >&2; die "prove-panic-check failed, but not with the expected undefined-symbol error"; }
grep "undefined symbol" "$log" | sed 's/^[ =]*note: */  /'
echo "OK: a reachable panic fails the link"

step "negative build 2: trap-dbgprint must be rejected by clfs-imgcheck"
CARGO_TARGET_DIR="$negative_dir" "$cargo" build -q -p clfs-sample-driver --release \
    --target "$target" --features trap-dbgprint
neg_out="$negative_dir/$target/release"
report="$negative_dir/trap-dbgprint.imgcheck.txt"
if "$imgcheck" "$neg_out/clfs_sample_driver.dll" --map "$neg_out/deps/clfs_sample_driver.map" \
    >"$report" 2>&1; then
    cat "$report"
    die "clfs-imgcheck accepted an image that imports ntdll.dll!DbgPrint"
fi
grep -q "^FAIL kernel-imports-only: .*ntdll.dll!DbgPrint" "$report" \
    || { cat "$report" >&2; die "clfs-imgcheck failed the trap image, but not on ntdll.dll!DbgPrint"; }
grep "^FAIL" "$report" | sed 's/^/  /'
echo "OK: the ntdll.dll DbgPrint import is rejected"

step "stack budget: the probe image instantiates every public clfs routine"
CARGO_TARGET_DIR="$probe_dir" "$cargo" build -q -p clfs-sample-driver --release \
    --target "$target" --features stack-probe
probe_out="$probe_dir/$target/release"
report="$probe_dir/stack-probe.imgcheck.txt"
"$imgcheck" "$probe_out/clfs_sample_driver.dll" --map "$probe_out/deps/clfs_sample_driver.map" \
    >"$report" 2>&1 || { cat "$report" >&2; die "clfs-imgcheck rejected the stack-probe image"; }
grep -E "^PASS (stack-frames|no-panic-path)" "$report" | sed 's/^/  /'
echo "OK: every public routine's frame is within the budget"

step "negative build 3: prove-stack-check must be rejected by clfs-imgcheck"
CARGO_TARGET_DIR="$negative_dir" "$cargo" build -q -p clfs-sample-driver --release \
    --target "$target" --features prove-stack-check
report="$negative_dir/prove-stack-check.imgcheck.txt"
if "$imgcheck" "$neg_out/clfs_sample_driver.dll" --map "$neg_out/deps/clfs_sample_driver.map" \
    >"$report" 2>&1; then
    cat "$report"
    die "clfs-imgcheck accepted an image with a 32 KiB stack frame"
fi
grep -q "^FAIL stack-frames: clfs_probe_old_container_set [0-9]* bytes, via __chkstk exceeds" "$report" \
    || { cat "$report" >&2; die "clfs-imgcheck failed the prove-stack-check image, but not on its frame"; }
grep "^FAIL" "$report" | sed 's/^/  /'
echo "OK: a 32 KiB frame is rejected"

step "done"
echo "driver image: $out/clfs_sample_driver.sys ($(wc -c <"$out/clfs_sample_driver.sys") bytes)"
