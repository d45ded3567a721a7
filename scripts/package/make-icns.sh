#!/usr/bin/env bash
# make-icns.sh OUT.icns: the macOS icon, rendered from packaging/linux/dtm-studio.svg in every
# size an .iconset holds, then packed with iconutil. macOS only (iconutil); needs rsvg-convert
# (brew install librsvg).
set -euo pipefail
out=${1:?usage: make-icns.sh OUT.icns}
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v iconutil >/dev/null || { echo "error: iconutil is missing (it comes with macOS)" >&2; exit 1; }
command -v rsvg-convert >/dev/null || { echo "error: rsvg-convert is missing; run: brew install librsvg" >&2; exit 1; }
set_dir=$(mktemp -d)/dtm-studio.iconset
trap 'rm -rf "$(dirname "$set_dir")"' EXIT
mkdir -p "$set_dir"
for size in 16 32 128 256 512; do
  rsvg-convert -w "$size" -h "$size" -o "$set_dir/icon_${size}x${size}.png" "$root/packaging/linux/dtm-studio.svg"
  rsvg-convert -w $((size * 2)) -h $((size * 2)) -o "$set_dir/icon_${size}x${size}@2x.png" "$root/packaging/linux/dtm-studio.svg"
done
iconutil -c icns -o "$out" "$set_dir"
