#!/usr/bin/env bash
# check-package.sh DEB [ARCHIVE]: checks a built .deb (and the portable archive) before it is
# handed out: the package's version, the binary's `--version` and Cargo.toml agree; the shipped
# desktop entry passes desktop-file-validate and the shipped metainfo `appstreamcli validate`
# (each when the tool is installed; Debian: desktop-file-utils, appstream).
set -euo pipefail
deb=${1:?usage: check-package.sh DEB [ARCHIVE]}
archive=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
version=$("$here/version.sh")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "error: $*" >&2; exit 1; }

deb_version=$(dpkg-deb -f "$deb" Version)
[ "$deb_version" = "$version" ] || fail "$deb has version $deb_version, Cargo.toml $version"
dpkg-deb -x "$deb" "$tmp/deb"
check_binary() { # BINARY WHAT
  local out
  out=$("$1" --version) || fail "$2: '$1 --version' failed"
  case $out in
    "dtm-studio $version (commit "*) echo "$2: $out" ;;
    *) fail "$2: '--version' says '$out', Cargo.toml has $version" ;;
  esac
}
check_binary "$tmp/deb/usr/bin/dtm-studio" "$(basename "$deb")"
if [ -n "$archive" ]; then
  mkdir "$tmp/archive" && tar -C "$tmp/archive" -xzf "$archive"
  check_binary "$(echo "$tmp"/archive/*/dtm-studio)" "$(basename "$archive")"
fi

if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$tmp/deb/usr/share/applications/dtm-studio.desktop" || fail "the desktop entry in $deb does not validate"
  echo "desktop-file-validate: ok"
else
  echo "skipped: desktop-file-validate is not installed (apt-get install desktop-file-utils)"
fi
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net "$tmp/deb/usr/share/metainfo/org.dtmstudio.DTMStudio.metainfo.xml" >"$tmp/as.log" 2>&1 \
    || { cat "$tmp/as.log" >&2; fail "the AppStream metainfo in $deb does not validate"; }
  echo "appstreamcli validate: ok"
else
  echo "skipped: appstreamcli is not installed (apt-get install appstream)"
fi
