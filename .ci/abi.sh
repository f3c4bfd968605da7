#!/usr/bin/env bash
# ABI conformance of the FFI seam (docs/reliability.md): installs the mingw-w64 C compiler the
# probe in tests/abi.rs needs, then runs that test file. CI never sets CLFS_ABI_PROBE=skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq gcc-mingw-w64-x86-64 mingw-w64-common >/dev/null
fi
x86_64-w64-mingw32-gcc --version | head -n 1
cargo test -p clfs --test abi -- --nocapture
