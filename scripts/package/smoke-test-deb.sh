#!/usr/bin/env bash
# smoke-test-deb.sh DEB [SCREENSHOT.png]: installs DEB on this machine (root, or sudo), checks
# it, and removes it again:
#   dpkg -i (then apt-get -f install for missing dependencies); `dtm-studio --version` from PATH; desktop-file-validate and appstreamcli validate on
#   the installed files; the installed desktop entry's Exec line started under Xvfb, with a
#   screenshot (default /tmp/dtm-studio-deb.png) and the libraries the window loaded; dpkg -r,
#   then no file of the package is left.
# Needs Xvfb and ImageMagick (import) for the window; skips that part without them.
set -euo pipefail
deb=${1:?usage: smoke-test-deb.sh DEB [SCREENSHOT.png]}
shot=${2:-/tmp/dtm-studio-deb.png}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
fail() { echo "error: $*" >&2; exit 1; }
name=$(dpkg-deb -f "$deb" Package)
version=$(dpkg-deb -f "$deb" Version)

echo "== dpkg -i $(basename "$deb") ($(stat -c %s "$deb") bytes)"
if ! $SUDO dpkg -i "$deb"; then
  # Dependencies that are not installed yet: apt fetches them and finishes the configuration.
  command -v apt-get >/dev/null || fail "dpkg -i failed and there is no apt-get to install the missing dependencies"
  echo "== apt-get -f install (the dependencies dpkg -i named)"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -f install -y -qq || fail "apt-get -f install could not install the dependencies"
fi
[ "$(dpkg-query -W -f '${Status}' "$name" 2>/dev/null)" = "install ok installed" ] || fail "$name is not installed after dpkg -i"
files=$(dpkg -L "$name")
bin=$(command -v dtm-studio) || fail "dtm-studio is not on PATH after dpkg -i"
echo "$bin --version: $(dtm-studio --version)"
dtm-studio --version | grep -qF "dtm-studio $version (commit " || fail "the installed binary does not report version $version"

entry=/usr/share/applications/dtm-studio.desktop
desktop-file-validate "$entry" && echo "desktop-file-validate $entry: ok"
appstreamcli validate --no-net /usr/share/metainfo/org.dtmstudio.DTMStudio.metainfo.xml >/dev/null \
  && echo "appstreamcli validate (installed metainfo): ok"

if command -v Xvfb >/dev/null && command -v import >/dev/null; then
  # The Exec line as a launcher runs it, without a file (%f expands to nothing).
  exec_line=$(sed -n 's/^Exec=//p' "$entry" | sed 's/ *%[fFuU]//g')
  echo "== Exec=$exec_line under Xvfb"
  disp=:$(( 100 + RANDOM % 400 ))
  Xvfb "$disp" -screen 0 1600x1000x24 >/dev/null 2>&1 & xvfb=$!
  trap 'kill $xvfb 2>/dev/null || true' EXIT
  sleep 1
  home=$(mktemp -d)
  # shellcheck disable=SC2086 # the Exec line is split into words as a launcher splits it
  HOME=$home DISPLAY=$disp $exec_line >"$home/log" 2>&1 & app=$!
  sleep 10
  kill -0 $app 2>/dev/null || { tail -5 "$home/log"; fail "the window did not stay open"; }
  DISPLAY=$disp import -window root "$shot" && echo "screenshot: $shot"
  echo "window class: $(DISPLAY=$disp xprop -id "$(DISPLAY=$disp xdotool search --name 'DTM Studio' | head -1)" WM_CLASS 2>/dev/null | cut -d= -f2)"
  echo "libraries the window loaded: $(grep -oE '/[^ ]+\.so[.0-9]*' /proc/$app/maps | xargs -n1 basename | sort -u | tr '\n' ' ')"
  kill $app; wait $app 2>/dev/null || true
  rm -rf "$home"
else
  echo "skipped the window: Xvfb or ImageMagick is not installed"
fi

echo "== dpkg -r $name"
$SUDO dpkg -r "$name"
left=$(echo "$files" | while read -r f; do [ -f "$f" ] && echo "$f"; done || true)
[ -z "$left" ] || fail "files left after dpkg -r: $left"
! command -v dtm-studio >/dev/null || fail "dtm-studio is still on PATH after dpkg -r"
echo "removed cleanly: no file of $name is left"
