#!/usr/bin/env bash
# Independent check: dissect.clfs (PyPI, a Python CLFS reader) and `clfs-dump --json --all`
# must agree on containers and on every record dissect finds (tools/dissect-check.py lists
# dissect's known limits). dissect.clfs is installed into a throwaway venv.
#
# Usage: .ci/dissect-check.sh [--base-only] [LOG.blf ...]
# --base-only compares only the base file (the container tables), for logs whose records
# dissect cannot walk (tools/dissect-check.py lists its limits).
# Without arguments: the Windows-made sample of the dissect.clfs sdist, fetched by
# tools/clfs-dump/tests/real_log.rs into target/tmp/real-logs (or $CLFS_REAL_LOGS_CACHE).
# When python3, venv or PyPI is unavailable the check prints why and skips (exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."

DISSECT_VERSION=1.11
skip() {
    echo "SKIPPED dissect.clfs cross-check: $*"
    exit 0
}
command -v python3 >/dev/null || skip "python3 is not installed"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv" >"$tmp/venv.log" 2>&1 ||
    skip "python3 -m venv failed: $(tail -n 1 "$tmp/venv.log")"
"$tmp/venv/bin/pip" install -q "dissect.clfs==$DISSECT_VERSION" >"$tmp/pip.log" 2>&1 ||
    skip "pip could not install dissect.clfs from PyPI: $(tail -n 1 "$tmp/pip.log")"

cargo build -q -p clfs-dump
dump="${CARGO_TARGET_DIR:-target}/debug/clfs-dump"
mode=()
if [ "${1:-}" = "--base-only" ]; then
    mode=(--base-only)
    shift
fi
logs=("$@")
if [ "${#logs[@]}" -eq 0 ]; then
    cache="${CLFS_REAL_LOGS_CACHE:-${CARGO_TARGET_DIR:-target}/tmp/real-logs}"
    data="$cache/dissect_clfs-$DISSECT_VERSION/tests/data"
    if ! ls "$data"/DRIVERS*.TM.blf >/dev/null 2>&1; then
        cargo test -q -p clfs-dump --test real_log >/dev/null 2>&1 || true
    fi
    ls "$data"/DRIVERS*.TM.blf >/dev/null 2>&1 || skip "the Windows-made sample could not be fetched"
    logs=("$data"/DRIVERS*.TM.blf)
fi
status=0
for blf in "${logs[@]}"; do
    echo "=== dissect.clfs $DISSECT_VERSION vs clfs-dump: $blf"
    "$dump" --json --all "$blf" >"$tmp/dump.json"
    "$tmp/venv/bin/python" tools/dissect-check.py "$blf" "$tmp/dump.json" ${mode[@]+"${mode[@]}"} || status=1
done
exit "$status"
