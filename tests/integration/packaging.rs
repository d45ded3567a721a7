//! The version is the same everywhere it is written: `Cargo.toml`, the binary's `--version`,
//! the macOS bundle's Info.plist, the AppStream metainfo's newest release, the Debian package
//! (cargo-deb takes Cargo.toml's version when `[package.metadata.deb]` sets none and no revision)
//! and the Windows installer (cargo-wix passes Cargo.toml's version as `$(var.Version)`).
//! `scripts/package.sh` checks the built packages the same way.

use std::path::Path;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cargo_toml() -> toml::Table {
    read("Cargo.toml").parse().expect("Cargo.toml parses")
}

/// `package.version` from Cargo.toml.
pub fn cargo_toml_version() -> String {
    cargo_toml()["package"]["version"].as_str().expect("package.version").to_string()
}

/// The text between `<key>KEY</key><string>` and `</string>` in an Info.plist.
fn plist_string(plist: &str, key: &str) -> String {
    let start = plist.find(&format!("<key>{key}</key>")).unwrap_or_else(|| panic!("Info.plist has no {key}"));
    let rest = &plist[start..];
    let value = &rest[rest.find("<string>").expect("a <string> after the key") + "<string>".len()..];
    value[..value.find("</string>").expect("</string>")].to_string()
}

#[test]
fn binary_reports_cargo_toml_version_commit_and_features() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtm-studio")).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = format!(
        "dtm-studio {} (commit {}; features: {})\n",
        cargo_toml_version(),
        dtm_studio::build_info::COMMIT,
        dtm_studio::build_info::FEATURES
    );
    assert_eq!(text, expected);
    assert!(text.contains("features: gui") == cfg!(feature = "gui"), "{text}");
}

#[test]
fn packaging_files_carry_cargo_toml_version() {
    let version = cargo_toml_version();
    let plist = read("packaging/macos/Info.plist");
    assert_eq!(plist_string(&plist, "CFBundleShortVersionString"), version, "packaging/macos/Info.plist");
    assert_eq!(plist_string(&plist, "CFBundleVersion"), version, "packaging/macos/Info.plist");

    let metainfo = read("packaging/linux/org.dtmstudio.DTMStudio.metainfo.xml");
    let first_release = metainfo.find("<release ").expect("a <release> in the metainfo");
    assert!(
        metainfo[first_release..].starts_with(&format!("<release version=\"{version}\"")),
        "the metainfo's newest release must be {version}; add a <release> line first in <releases>"
    );

    let cargo = cargo_toml();
    let deb = &cargo["package"]["metadata"]["deb"];
    assert!(deb.get("version").is_none(), "[package.metadata.deb] must not set its own version");
    assert_eq!(deb["revision"].as_str(), Some(""), "no Debian revision: the package version is Cargo.toml's");
    for (name, variant) in deb["variants"].as_table().expect("deb variants") {
        assert!(variant.get("version").is_none() && variant.get("revision").is_none(), "variant {name} keeps the version");
    }

    let wxs = read("packaging/windows/main.wxs");
    assert!(wxs.contains("Version='$(var.Version)'"), "the installer takes the version cargo-wix passes");
}
