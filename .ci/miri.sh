#!/usr/bin/env bash
# Runs the tests that exercise unsafe code under Miri (see docs/reliability.md for the subset).
set -euo pipefail
cd "$(dirname "$0")/.."
# The emulator keeps real files: Miri needs isolation off to reach the file system. Strict
# provenance: no integer may be turned into a pointer that is then used (the emulator's
# handles are built with ptr::without_provenance_mut and never dereferenced).
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation -Zmiri-strict-provenance}"
cargo +nightly miri test -p clfs --lib
cargo +nightly miri test -p clfs --test miri_unsafe
cargo +nightly miri test -p clfs --test miri_mgmt
