#!/usr/bin/env bash
# package.sh [--cuda | --cuda-only] [--out DIR]: builds the release binary and the Linux packages
# into DIR (default dist/):
#   dtm-studio_VERSION_ARCH.deb              the CPU build, for dpkg -i / apt install
#   dtm-studio-VERSION-ARCH-linux.tar.gz     the same binary, portable: unpack, ./install.sh
#   dtm-studio-cuda_VERSION_ARCH.deb         with --cuda or --cuda-only: built with --features cuda
# and checks each (versions agree with Cargo.toml, desktop entry and metainfo validate).
# Needs cargo-deb (cargo install --locked cargo-deb), dpkg-dev, and rsvg-convert (librsvg2-bin) or
# ImageMagick for the icons.
set -euo pipefail
cd "$(dirname "$0")/.."
cpu=1 cuda=0 out=dist
while [ $# -gt 0 ]; do
  case $1 in
    --cuda) cuda=1; shift ;;
    --cuda-only) cuda=1; cpu=0; shift ;;
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

need() { # COMMAND WHAT-TO-DO
  command -v "$1" >/dev/null || { echo "error: '$1' is not installed; $2" >&2; exit 1; }
}
need cargo "install Rust from https://rustup.rs"
need dpkg-deb "packages are built on Debian or Ubuntu (apt-get install dpkg-dev)"
need dpkg-shlibdeps "apt-get install dpkg-dev"
cargo deb --version >/dev/null 2>&1 || { echo "error: cargo-deb is not installed; run: cargo install --locked cargo-deb" >&2; exit 1; }

version=$(scripts/package/version.sh)
arch=$(dpkg --print-architecture)
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$target_dir" ] || { echo "error: cargo metadata did not name the target folder" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

# TARGET_DIR VARIANT: icons into the release folder (where the deb's assets point), then the .deb.
make_deb() {
  local dir=$1 variant=$2
  scripts/package/render-icons.sh "$dir/release/icons"
  if [ -n "$variant" ]; then
    CARGO_TARGET_DIR=$dir cargo deb --no-build --variant "$variant" --output "$out" >/dev/null
  else
    CARGO_TARGET_DIR=$dir cargo deb --no-build --output "$out" >/dev/null
  fi
}

if [ "$cpu" = 1 ]; then
  echo "== release build (CPU) into $target_dir/release"
  start=$(date +%s)
  cargo build --release --locked --bin dtm-studio
  echo "release build: $(( $(date +%s) - start )) s"
  make_deb "$target_dir" ""
  deb=$out/dtm-studio_${version}_${arch}.deb
  archive_name=dtm-studio-$version-$(uname -m)-linux
  scripts/package/make-archive.sh "$target_dir/release/dtm-studio" "$target_dir/release/icons" "$out" "$archive_name" >/dev/null
  scripts/package/check-package.sh "$deb" "$out/$archive_name.tar.gz"
  scripts/package/smoke-test-archive.sh "$out/$archive_name.tar.gz"
fi

if [ "$cuda" = 1 ]; then
  cuda_dir=$target_dir/cuda
  echo "== release build (CUDA) into $cuda_dir/release"
  start=$(date +%s)
  CARGO_TARGET_DIR=$cuda_dir scripts/build-cuda.sh --release --locked --bin dtm-studio \
    || { echo "error: the CUDA build failed (see above); the CPU packages are unaffected" >&2; exit 1; }
  echo "release build (CUDA): $(( $(date +%s) - start )) s"
  make_deb "$cuda_dir" cuda
  # The CUDA binary loads the NVIDIA driver library (libcuda.so.1) and the toolkit's libraries at
  # start-up. On a machine without them its `--version` is checked against the build's own:
  # the link-time stub of the driver and the toolkit's libraries the build linked against.
  check=(scripts/package/check-package.sh)
  if ldd "$cuda_dir/release/dtm-studio" | grep -q "not found"; then
    libs=$(mktemp -d)
    link=${DTM_CUDA_HOME:-$HOME/.cache/dtm-cuda}/link
    [ -f "$link/libcuda.so" ] && ln -s "$link/libcuda.so" "$libs/libcuda.so.1"
    for l in "$link"/lib*.so; do
      real=$(readlink -f "$l")
      [ "$real" = "$(readlink -f "$link/libcuda.so")" ] || ln -sf "$real" "$libs/$(basename "$real")"
    done
    echo "no NVIDIA driver here: checking the CUDA binary with the build's link-time libraries ($libs)"
    check=(env "LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "${check[@]}")
  fi
  "${check[@]}" "$out/dtm-studio-cuda_${version}_${arch}.deb"
fi

echo "== packages in $out"
for f in "$out"/dtm-studio*"$version"*; do
  [ -f "$f" ] && printf '%8s  %s\n' "$(du -h "$f" | cut -f1)" "$(basename "$f")"
done
