#!/usr/bin/env bash
# Publishing checks (issue 11 item 15):
#   1. `cargo package -p clfs-emu -p clfs` builds and verifies both crates from their .crate files;
#   2. neither .crate ships .ci/ or .cargo/ (each crate has an `include` list);
#   3. the docs.rs build of each crate, with the features, targets and rustdoc flags of its
#      [package.metadata.docs.rs], succeeds (docs.rs uses nightly; so does this step).
set -euo pipefail
cd "$(dirname "$0")/.."
die() { printf 'package.sh: FAILED: %s\n' "$*" >&2; exit 1; }

# clfs and clfs-emu, plus the workspace crates they depend on through path dependencies (e.g.
# clfs-format once the emulator uses it): cargo packages them together, in dependency order.
crates="$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
pkgs = {p["name"]: p for p in json.load(sys.stdin)["packages"]}
todo, seen = ["clfs-emu", "clfs"], []
while todo:
    n = todo.pop()
    if n in seen or n not in pkgs:
        continue
    seen.append(n)
    todo += [d["name"] for d in pkgs[n]["dependencies"] if d.get("path") and d["kind"] is None]
print(" ".join(sorted(seen)))
')"
echo "1. cargo package $crates (with verification)"
# Cargo verifies each .crate against the others through a local registry under
# target/package/, and unpacks those crates into $CARGO_HOME/registry/src/<source hash>/ --
# but it skips the unpack when a directory of the same name and version is already there. The
# hash depends only on the checkout's path, so a CI machine that reuses both its path and its
# CARGO_HOME would verify against the sources of an earlier run (a stale clfs-format once made
# clfs-emu fail to build here). Remove those unpacked copies first; crates.io sources are never
# touched (their directories are not named after our crates), and would be unpacked again if
# they were. The verification build goes to the workspace's target directory, where cargo
# fingerprints registry crates by name, version and source, not content, so a stale build of
# these crates from the local registry is reused the same way: drop their fingerprints (our
# crates only; they rebuild in seconds).
target_dir="$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
print(json.load(sys.stdin)["target_directory"])
')"
rm -rf "$target_dir/package"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
for c in $crates; do
    v="$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == sys.argv[1]))
' "$c")"
    if [ -d "$target_dir/debug/.fingerprint" ]; then
        find "$target_dir/debug/.fingerprint" -maxdepth 1 -regextype posix-extended \
            -regex ".*/$c-[0-9a-f]{16}" -exec rm -rf {} +
    fi
    for d in "$cargo_home"/registry/src/*/"$c-$v"; do
        case "$d" in
            */index.crates.io-*) ;;
            *) if [ -d "$d" ]; then rm -rf -- "$d"; echo "  removed a stale unpacked copy: $d"; fi ;;
        esac
    done
done
args=()
for c in $crates; do args+=(-p "$c"); done
cargo package -q --allow-dirty "${args[@]}"
ls target/package/*.crate | sed 's/^/  /'

echo "2. packaged file lists"
for p in $crates; do
    list="$(cargo package -q --allow-dirty --list -p "$p")"
    if grep -E '^\.(ci|cargo)/' <<<"$list"; then
        die "$p would ship the files above"
    fi
    echo "  $p: $(wc -l <<<"$list") files, none under .ci/ or .cargo/"
done

echo "3. the docs.rs builds"
rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || true
rustup target add --toolchain nightly x86_64-pc-windows-msvc >/dev/null
cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] not in sys.argv[1:]:
        continue
    # TOML reads [package.metadata.docs.rs] as the nested tables docs -> rs.
    d = ((p.get("metadata") or {}).get("docs") or {}).get("rs") or {}
    for t in d.get("targets") or ["x86_64-unknown-linux-gnu"]:
        print("|".join([p["name"], t, ",".join(d.get("features", [])), " ".join(d.get("rustdoc-args", []))]))
' $crates | while IFS='|' read -r name target features rdargs; do
    echo "  $name on $target, features [$features], rustdoc $rdargs"
    args=(-p "$name" --no-deps --target "$target")
    [ -n "$features" ] && args+=(--features "$features")
    RUSTDOCFLAGS="$rdargs -D warnings" cargo +nightly doc -q "${args[@]}" \
        || die "the docs.rs build of $name for $target"
done
echo "OK"
