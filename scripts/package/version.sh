#!/usr/bin/env bash
# version.sh: prints the package version from Cargo.toml ([package] version), the one source of
# every version the packages carry.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
v=$(awk -F'"' '/^\[package\]/ { p = 1; next } /^\[/ { p = 0 } p && /^version *=/ { print $2; exit }' "$root/Cargo.toml")
[ -n "$v" ] || { echo "error: no version in the [package] section of $root/Cargo.toml" >&2; exit 1; }
echo "$v"
