//! What this binary is: version, git commit and features, as `dtm-studio --version` and the
//! About dialog show them. The commit and features come from `build.rs`.

/// The package version, from `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short git commit a release binary was built from; "unknown" for a build outside a checkout
/// without `DTM_GIT_COMMIT` set, "not recorded (debug build)" for debug builds (see `build.rs`).
pub const COMMIT: &str = env!("DTM_GIT_COMMIT");

/// The enabled features among gui, cuda and metal, comma-separated, or "none".
pub const FEATURES: &str = env!("DTM_FEATURES");

/// The licence, as `Cargo.toml` declares it (an SPDX expression).
pub const LICENSE: &str = env!("CARGO_PKG_LICENSE");

/// The paper the method comes from, with where to find it.
pub const PAPER_TITLE: &str =
    "Fu et al., Disperse-Then-Merge: Pushing the Limits of Instruction Tuning via Alignment Tax Reduction (ACL 2024 Findings), arXiv 2405.13432";

/// Where to read the paper.
pub const PAPER_URL: &str = "https://arxiv.org/abs/2405.13432";

/// The text after the program's name in `dtm-studio --version`:
/// `0.1.0 (commit 1a2b3c4d5; features: gui, cuda)`.
pub const VERSION_TEXT: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("DTM_GIT_COMMIT"), "; features: ", env!("DTM_FEATURES"), ")");
