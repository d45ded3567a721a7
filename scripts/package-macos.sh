#!/usr/bin/env bash
# package-macos.sh [--out DIR]: on macOS, builds the release binary with `--features metal` and
# makes DIR/DTM Studio.app (Info.plist from packaging/macos, icon from the SVG) and
# DIR/DTM-Studio-VERSION-macos-ARCH.dmg (the app and a link to /Applications). Default DIR: dist/.
# Needs the Xcode command line tools (iconutil, hdiutil, codesign) and rsvg-convert
# (brew install librsvg). The app is signed ad hoc, not notarised: on first start macOS asks the
# user to confirm it (right-click, Open).
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(uname)" = Darwin ] || { echo "error: the .app and .dmg are made on macOS (hdiutil, iconutil); on Linux use scripts/package.sh" >&2; exit 1; }
version=$(scripts/package/version.sh)
plist_version=$(plutil -extract CFBundleShortVersionString raw packaging/macos/Info.plist)
[ "$plist_version" = "$version" ] || { echo "error: packaging/macos/Info.plist says $plist_version, Cargo.toml $version; make them agree" >&2; exit 1; }

cargo build --release --locked --features metal --bin dtm-studio
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
mkdir -p "$out"
app="$out/DTM Studio.app"
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
cp "$target_dir/release/dtm-studio" "$app/Contents/MacOS/dtm-studio"
cp packaging/macos/Info.plist "$app/Contents/Info.plist"
scripts/package/make-icns.sh "$app/Contents/Resources/dtm-studio.icns"
codesign --force --deep --sign - "$app"
reported=$("$app/Contents/MacOS/dtm-studio" --version)
case $reported in
  "dtm-studio $version (commit "*"metal"*) echo "$reported" ;;
  *) echo "error: the bundled binary says '$reported'; expected version $version with the metal feature" >&2; exit 1 ;;
esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
dmg="$out/DTM-Studio-$version-macos-$(uname -m).dmg"
rm -f "$dmg"
hdiutil create -volname "DTM Studio" -srcfolder "$stage" -ov -format UDZO "$dmg"
ls -lh "$dmg"
