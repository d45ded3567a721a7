#!/usr/bin/env bash
# render-icons.sh OUT_DIR: renders packaging/linux/dtm-studio.svg as PNG icons in the hicolor
# sizes, OUT_DIR/hicolor/<N>x<N>/apps/dtm-studio.png, with rsvg-convert (librsvg2-bin) or, if
# that is missing, ImageMagick's convert.
set -euo pipefail
out=${1:?usage: render-icons.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
svg=$root/packaging/linux/dtm-studio.svg
[ -f "$svg" ] || { echo "error: the icon $svg is missing" >&2; exit 1; }
if command -v rsvg-convert >/dev/null; then
  render() { rsvg-convert -w "$1" -h "$1" -o "$2" "$svg"; }
elif command -v convert >/dev/null; then
  render() { convert -background none -density 384 "$svg" -resize "$1x$1" "$2"; }
else
  echo "error: neither rsvg-convert nor ImageMagick's convert is installed; install one (Debian: apt-get install librsvg2-bin)" >&2
  exit 1
fi
for size in 16 24 32 48 64 128 256 512; do
  dir=$out/hicolor/${size}x${size}/apps
  mkdir -p "$dir"
  render "$size" "$dir/dtm-studio.png" || { echo "error: rendering the ${size}x${size} icon from $svg failed" >&2; exit 1; }
done
mkdir -p "$out/hicolor/scalable/apps"
cp "$svg" "$out/hicolor/scalable/apps/dtm-studio.svg"
