#!/usr/bin/env bash
# Builds and opens DTM Studio. On Linux, installs the window system libraries the GUI loads at
# run time when they are missing (Debian/Ubuntu, as root or with sudo). Without a display the
# binary says so and lists the headless commands. Arguments are passed on (e.g. `inspect MODEL`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(uname)" = Linux ] && command -v apt-get >/dev/null && ! ldconfig -p 2>/dev/null | grep -q libxkbcommon.so; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y -q libxkbcommon0 libxkbcommon-x11-0 libgl1 libegl1 libx11-6 libxcursor1 libxrandr2 libxi6 libwayland-client0 >/dev/null || echo "could not install GUI libraries; the headless commands still work"
fi
exec cargo run --release --bin dtm-studio -- "$@"
