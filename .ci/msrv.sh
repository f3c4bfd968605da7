#!/usr/bin/env bash
# MSRV (issue 11 item 15): builds the published crates with the toolchain of the declared
# `rust-version` (workspace Cargo.toml): clfs-emu, clfs with the emulator on the host, and clfs
# with the kernel backend for x86_64-pc-windows-msvc. Its own target directory keeps the
# stable build's artefacts intact.
set -euo pipefail
cd "$(dirname "$0")/.."
msrv="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
[ -n "$msrv" ] || { echo "msrv.sh: no rust-version in Cargo.toml" >&2; exit 1; }
echo "declared rust-version: $msrv"
rustup toolchain install "$msrv" --profile minimal >/dev/null
rustup target add --toolchain "$msrv" x86_64-pc-windows-msvc >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/msrv"
cargo "+$msrv" --version
cargo "+$msrv" build -q --locked -p clfs-emu
cargo "+$msrv" build -q --locked -p clfs --features emulator
cargo "+$msrv" build -q --locked -p clfs --features kernel --target x86_64-pc-windows-msvc
echo "OK: clfs-emu, clfs (emulator) and clfs (kernel, x86_64-pc-windows-msvc) build with $msrv"
