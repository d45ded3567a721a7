#!/usr/bin/env bash
# make-archive.sh BINARY ICONS_DIR OUT_DIR NAME: the portable archive OUT_DIR/NAME.tar.gz, one
# folder NAME/ holding the binary, install.sh, the desktop entry, the icons (ICONS_DIR/hicolor,
# from render-icons.sh), the AppStream metainfo, README.md and LICENSE.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: make-archive.sh BINARY ICONS_DIR OUT_DIR NAME" >&2; exit 2; }
binary=$1 icons=$2 out=$3 name=$4
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$binary" ] || { echo "error: the binary $binary is missing" >&2; exit 1; }
[ -d "$icons/hicolor" ] || { echo "error: no icons in $icons/hicolor (run render-icons.sh first)" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/$name
mkdir -p "$dir/share/applications" "$dir/share/icons" "$dir/share/metainfo"
cp "$binary" "$dir/dtm-studio"
strip "$dir/dtm-studio" 2>/dev/null || true
cp "$root/packaging/linux/install.sh" "$dir/"
cp "$root/packaging/linux/dtm-studio.desktop" "$dir/share/applications/"
cp -r "$icons/hicolor" "$dir/share/icons/"
cp "$root/packaging/linux/org.dtmstudio.DTMStudio.metainfo.xml" "$dir/share/metainfo/"
cp "$root/README.md" "$root/LICENSE" "$dir/"
mkdir -p "$out"
tar -C "$stage" --owner=0 --group=0 -czf "$out/$name.tar.gz.tmp" "$name"
mv "$out/$name.tar.gz.tmp" "$out/$name.tar.gz"
echo "$out/$name.tar.gz"
