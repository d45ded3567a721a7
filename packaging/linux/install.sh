#!/bin/sh
# Installs DTM Studio from this unpacked archive for one user:
#   ./install.sh              into ~/.local (bin/, share/applications/, share/icons/, share/metainfo/)
#   ./install.sh --prefix DIR into DIR instead
#   ./install.sh --uninstall  removes what an install put there
# The desktop entry's Exec line names the installed binary by its full path, so the launcher
# finds it even when DIR/bin is not on PATH.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${HOME:?HOME is not set}/.local
action=install
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || { echo "error: --prefix needs a folder" >&2; exit 2; }; prefix=$2; shift 2 ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
bin=$prefix/bin/dtm-studio
apps=$prefix/share/applications
icons=$prefix/share/icons/hicolor
metainfo=$prefix/share/metainfo

refresh_caches() {
  # Launchers see the change sooner: the desktop database renewed (when the tool is there) and
  # the icon folder touched (no icon cache is written into a per-user folder; it would go stale).
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$apps" 2>/dev/null || true; fi
  if [ -d "$icons" ]; then touch "$icons"; fi
}

if [ "$action" = uninstall ]; then
  rm -f "$bin" "$apps/dtm-studio.desktop" "$metainfo/org.dtmstudio.DTMStudio.metainfo.xml"
  for f in "$icons"/*/apps/dtm-studio.png "$icons"/scalable/apps/dtm-studio.svg; do rm -f "$f"; done
  refresh_caches
  echo "DTM Studio removed from $prefix"
  exit 0
fi

[ -x "$here/dtm-studio" ] || { echo "error: $here/dtm-studio is missing; run install.sh from the unpacked archive" >&2; exit 1; }
mkdir -p "$prefix/bin" "$apps" "$metainfo"
cp "$here/dtm-studio" "$bin.tmp" && chmod 755 "$bin.tmp" && mv "$bin.tmp" "$bin"
sed -e "s|^Exec=dtm-studio|Exec=$bin|" -e "s|^TryExec=dtm-studio|TryExec=$bin|" \
  "$here/share/applications/dtm-studio.desktop" > "$apps/dtm-studio.desktop"
chmod 644 "$apps/dtm-studio.desktop"
(cd "$here/share/icons/hicolor" && find . -type f) | while read -r f; do
  mkdir -p "$icons/$(dirname "$f")"
  cp "$here/share/icons/hicolor/$f" "$icons/$f"
done
cp "$here/share/metainfo/org.dtmstudio.DTMStudio.metainfo.xml" "$metainfo/"
refresh_caches
echo "DTM Studio installed: $bin"
case ":${PATH:-}:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on PATH; add it to run 'dtm-studio' from a terminal (the launcher entry works without it)" ;;
esac
