#!/usr/bin/env bash
# What the JWT core alone costs a program: the crates it pulls in, the
# stripped release size of examples/verify_only.rs, and the time to build it
# from scratch, for two ways of depending on minijwt:
#
#   core      minijwt = { version = "0.1", default-features = false }   (no_std + alloc)
#   default   minijwt = "0.1"                                            (std, cli, server)
#
# and a baseline, to show what Rust's std itself weighs in such a binary: a
# program with no dependencies that reads its argument and prints a line.
#
#   bench/verify-only-size.sh
#
# Each is a package of its own under target/verify-only-size, so that
# minijwt's dev-dependencies (which turn std features on) are not in the
# build; with minijwt's release profile (LTO, one codegen unit); offline, from
# the versions in Cargo.lock; each in its own, emptied target directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/target/verify-only-size

tree() { # MANIFEST -> the distinct crates of its normal dependency tree, itself excluded
  cargo tree --offline --manifest-path "$1" -e normal --prefix none \
    | sed 's/ (\*)$//; s/ (proc-macro)$//' | sort -u | grep -v '^verify-only-' || true
}

printf '%-9s %7s %11s %8s\n' variant crates "stripped B" "build s"
for variant in baseline core default; do
  dir=$WORK/$variant
  rm -rf "$dir"
  mkdir -p "$dir"
  main=$ROOT/examples/verify_only.rs
  deps="minijwt = { path = \"$ROOT\", default-features = false }"
  case $variant in
    baseline)
      main=$dir/main.rs
      deps=""
      printf '%s\n' 'fn main() {' \
        '    let token = std::env::args().nth(1).unwrap_or_default();' \
        '    println!("refused: {} bytes, not checked", token.len());' '}' >"$main"
      ;;
    default) deps="minijwt = { path = \"$ROOT\" }" ;;
  esac
  [ -z "$deps" ] || deps="$deps
serde = { version = \"1\", default-features = false, features = [\"derive\"] }"
  cat >"$dir/Cargo.toml" <<EOF
[package]
name = "verify-only-$variant"
version = "0.0.0"
edition = "2021"
publish = false

[[bin]]
name = "verify_only-$variant"
path = "$main"

[dependencies]
$deps

[profile.release]
lto = true
codegen-units = 1
panic = "unwind"

[workspace]
EOF
  cp Cargo.lock "$dir/Cargo.lock"
  start=$(date +%s)
  CARGO_TARGET_DIR=$dir/target cargo build --offline --quiet --release --manifest-path "$dir/Cargo.toml"
  seconds=$(($(date +%s) - start))
  bin=$dir/target/release/verify_only-$variant
  "$bin" >/dev/null || [ "$variant" = baseline ] # the sample token verifies
  strip -o "$bin.stripped" "$bin"
  printf '%-9s %7s %11s %8s\n' "$variant" "$(tree "$dir/Cargo.toml" | wc -l)" \
    "$(stat -c %s "$bin.stripped")" "$seconds"
done
echo
echo "core: $(tree "$WORK/core/Cargo.toml" | tr '\n' ' ')"
