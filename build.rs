//! Build script: records what `dtm-studio --version` and the About dialog report besides the
//! version — the git commit (`DTM_GIT_COMMIT`) and the enabled features (`DTM_FEATURES`).
//!
//! In release builds the commit is read with `git rev-parse` when the source is a git checkout of
//! this package, else taken from the environment variable `DTM_GIT_COMMIT` (for builds from a
//! source archive), else "unknown"; the script re-runs when HEAD moves (the files `HEAD`, the
//! current branch's ref and `packed-refs`), not on every source change. A re-run rebuilds the
//! whole package, so debug builds (the edit-test loop) do not record the commit: they say
//! "not recorded (debug build)" and a commit costs them no rebuild.

use std::path::Path;
use std::process::Command;

/// The features `--version` names, in this order.
const REPORTED_FEATURES: [&str; 3] = ["gui", "cuda", "metal"];

/// `git ARGS` in the package folder: its trimmed output, or `None` when git fails or is missing.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Whether the package folder is the top of a git work tree (not a folder inside some other
/// repository, such as a vendored copy).
fn is_own_checkout() -> bool {
    let (Some(top), Ok(manifest_dir)) = (git(&["rev-parse", "--show-toplevel"]), std::env::var("CARGO_MANIFEST_DIR")) else {
        return false;
    };
    match (Path::new(&top).canonicalize(), Path::new(&manifest_dir).canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The short commit of HEAD; asks cargo to re-run this script when HEAD moves.
fn git_commit() -> Option<String> {
    if !is_own_checkout() {
        return None;
    }
    let head_ref = git(&["symbolic-ref", "-q", "HEAD"]);
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"]), git(&["rev-parse", "--git-path", "packed-refs"])];
    if let Some(r) = &head_ref {
        watched.push(git(&["rev-parse", "--git-path", r]));
    }
    // A path that does not exist would make cargo re-run the script on every build.
    for path in watched.into_iter().flatten().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
    git(&["rev-parse", "--short=9", "HEAD"])
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DTM_GIT_COMMIT");
    let from_env = std::env::var("DTM_GIT_COMMIT").ok().map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    let commit = if std::env::var("PROFILE").as_deref() == Ok("release") {
        git_commit().or(from_env).unwrap_or_else(|| "unknown".to_string())
    } else {
        from_env.unwrap_or_else(|| "not recorded (debug build)".to_string())
    };
    println!("cargo:rustc-env=DTM_GIT_COMMIT={commit}");

    let features: Vec<&str> =
        REPORTED_FEATURES.into_iter().filter(|f| std::env::var_os(format!("CARGO_FEATURE_{}", f.to_uppercase())).is_some()).collect();
    let features = if features.is_empty() { "none".to_string() } else { features.join(", ") };
    println!("cargo:rustc-env=DTM_FEATURES={features}");
}
