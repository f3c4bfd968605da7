#!/usr/bin/env bash
# Backend features (issue 11 items 4 and 8; docs/kernel-build.md, "Backends"):
#   1. the whole workspace type-checks for the kernel target, and no crate there turns on
#      `clfs/emulator` (the driver image can never link the emulator);
#   2. `kernel` + `emulator` together fail with the message that says why;
#   3. a Windows target with neither backend (a user-mode Windows build) fails with its message;
#   4. the library builds for the kernel target with `--features kernel`.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-pc-windows-msvc
dir="${CARGO_TARGET_DIR:-target}/kernel-features"
mkdir -p "$dir"
die() { printf 'kernel-features.sh: FAILED: %s\n' "$*" >&2; exit 1; }

echo "1. cargo check --workspace --target $target, and no clfs/emulator in its normal graph"
cargo check -q --workspace --target "$target"
if cargo tree -q --workspace --target "$target" -e features,no-dev -i clfs | grep -q 'clfs feature "emulator"'; then
    cargo tree --workspace --target "$target" -e features,no-dev -i clfs >&2
    die "a workspace crate turns on clfs/emulator for $target"
fi
if cargo tree -q -p clfs-sample-driver --target "$target" -e normal | grep -q 'clfs-emu'; then
    die "clfs-emu is in the driver's dependency graph for $target"
fi
echo "OK: no emulator in the kernel-target build"

expect_fail() { # <log name> <expected message> <cargo args...>
    local log="$dir/$1.log" msg="$2"
    shift 2
    if cargo "$@" >"$log" 2>&1; then
        die "cargo $* succeeded; it must fail with: $msg"
    fi
    grep -qF "$msg" "$log" || { cat "$log" >&2; die "cargo $* failed, but not with: $msg"; }
    grep -F "$msg" "$log" | head -1 | sed 's/^/  /'
}

echo "2. kernel + emulator must not compile"
expect_fail both "the \`kernel\` and \`emulator\` features exclude each other" \
    check -p clfs --target "$target" --features kernel,emulator
echo "3. a Windows target without a backend must not compile"
expect_fail neither "choose a backend for this Windows target" \
    check -p clfs --target "$target"
echo "4. cargo build -p clfs --target $target --features kernel"
cargo build -q -p clfs --target "$target" --features kernel
echo "OK"
