#!/usr/bin/env bash
# Bounded fuzzing of clfs against the clfs-emu emulator (docs/reliability.md).
#
# Runs each cargo-fuzz target for FUZZ_SECONDS (default 50; less where TARGETS says so) from the checked-in seed corpus,
# in a scratch corpus so the checked-in one stays small. Fails if any target finds a crash
# (libFuzzer exits non-zero and leaves the input in fuzz/artifacts/<target>/); reproduce it
# with `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>` and turn it into a
# test in tests/regressions.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-50}"
# <project dir>:<target>[:<seconds>]: the library against the emulator (multiplexed-log streams
# 30 s: about 25 inputs per second, each a whole log), the on-disk format
# reader (clfs-format: base files and container blocks, 30 s each to keep CI lean), the
# emulator opening, recovering, reading and appending to damaged logs (emu_open, 30 s), the PE
# loader (harness/), and the sample driver's dispatch routines through the harness's I/O
# manager (30 s; it needs the .sys that samples/build-driver.sh builds, which .ci/run runs
# first). A target runs for min(<seconds>, FUZZ_SECONDS). An optional fourth field adds
# libFuzzer flags (comma-separated): emu_open's inputs are mutation lists, which find more
# when long inputs are tried from the start.
TARGETS=(fuzz:marshalling_create fuzz:operations fuzz:streams:30 fuzz:format_base_file:30 fuzz:format_container:30
    fuzz:emu_open:30:-max_len=512,-len_control=0 harness/fuzz:load_image harness/fuzz:dispatch:30)

rustup toolchain install nightly --profile minimal >/dev/null
if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz (cargo install cargo-fuzz --locked; a few minutes on 2 cores)"
    cargo install cargo-fuzz --locked
fi

# The emulator keeps real files and fsyncs them: a tmpfs makes that cheap. Every sandbox
# directory goes under the scratch directory, so a crashed run leaves nothing behind.
base="${TMPDIR:-/tmp}"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    base=/dev/shm
fi
scratch="$(mktemp -d "$base/clfs-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/tmp"
export TMPDIR="$scratch/tmp"
status=0
root="$(pwd)"
for entry in "${TARGETS[@]}"; do
    IFS=: read -r dir t secs extra <<<"$entry"
    IFS=, read -r -a flags <<<"${extra:-}"
    secs="${secs:-$FUZZ_SECONDS}"
    [ "$secs" -le "$FUZZ_SECONDS" ] || secs="$FUZZ_SECONDS"
    cd "$root/$dir"
    cargo +nightly fuzz build -O "$t"
    echo "=== fuzz $dir $t for ${secs}s"
    mkdir -p "$scratch/$t"
    log="$scratch/$t.log"
    if cargo +nightly fuzz run -O "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 ${flags[@]+"${flags[@]}"} >"$log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units)' "$log" || true
    else
        status=1
        echo "*** $t found a crash:"
        tail -n 60 "$log"
        ls -l "artifacts/$t" 2>/dev/null || true
    fi
done
exit "$status"
