#!/usr/bin/env bash
# Runs the tests that exercise unsafe code under Miri (see docs/reliability.md for the subset).
set -euo pipefail
cd "$(dirname "$0")/.."
# The emulator keeps real files: Miri needs isolation off to reach the file system.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
cargo +nightly miri test -p clfs --lib
cargo +nightly miri test -p clfs --test miri_unsafe
