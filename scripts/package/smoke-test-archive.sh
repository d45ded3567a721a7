#!/usr/bin/env bash
# smoke-test-archive.sh ARCHIVE: unpacks the portable archive, installs it with its install.sh
# into a temporary HOME, runs the installed binary (`--version`), validates the installed desktop
# entry (when desktop-file-validate is installed), uninstalls, and checks that nothing is left
# but the desktop database cache. Needs no root.
set -euo pipefail
archive=${1:?usage: smoke-test-archive.sh ARCHIVE}
here=$(cd "$(dirname "$0")" && pwd)
version=$("$here/version.sh")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "error: $*" >&2; exit 1; }
mkdir "$tmp/unpacked" "$tmp/home"
tar -C "$tmp/unpacked" -xzf "$archive"
installer=$(echo "$tmp"/unpacked/*/install.sh)
[ -x "$installer" ] || fail "no install.sh in $archive"
HOME=$tmp/home "$installer" >/dev/null
bin=$tmp/home/.local/bin/dtm-studio
out=$(HOME=$tmp/home PATH="$tmp/home/.local/bin:$PATH" dtm-studio --version) || fail "the installed dtm-studio does not run"
case $out in "dtm-studio $version (commit "*) ;; *) fail "the installed binary says '$out', Cargo.toml has $version" ;; esac
echo "archive installed into a temporary HOME: $out"
entry=$tmp/home/.local/share/applications/dtm-studio.desktop
grep -qx "Exec=$bin open %f" "$entry" || fail "the installed desktop entry does not name $bin"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$entry" || fail "the installed desktop entry does not validate"; fi
HOME=$tmp/home "$installer" --uninstall >/dev/null
left=$(find "$tmp/home" -type f ! -name mimeinfo.cache)
[ -z "$left" ] || fail "left after --uninstall: $left"
echo "archive uninstalled cleanly"
