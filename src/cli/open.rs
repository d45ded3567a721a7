//! `dtm-studio open [PATH] [--page NAME]` (and `dtm-studio` alone): the window, on a project
//! folder, a `dtm.toml`, a data file or a model, at the given page.

use clap::Args;
use std::path::PathBuf;

/// Arguments of `open`.
#[derive(Debug, Args, Default)]
pub struct OpenArgs {
    /// A project folder, its dtm.toml, a data file, or a model (.gguf or HF folder). Default: the last project.
    pub path: Option<PathBuf>,
    /// The page to show: project, data, base-model, disperse, train, merge, compare, playground.
    #[arg(long)]
    pub page: Option<String>,
}

#[cfg(feature = "gui")]
fn has_display() -> bool {
    if cfg!(target_os = "linux") {
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    } else {
        true
    }
}

/// Opens the window.
#[cfg(feature = "gui")]
pub fn open(args: OpenArgs) -> anyhow::Result<()> {
    use crate::app::{OpenTarget, StartRequest};
    let page = args.page.as_deref().map(str::parse).transpose().map_err(|e: String| anyhow::anyhow!(e))?;
    let target = args.path.as_deref().map(OpenTarget::of_path).transpose().map_err(|e| anyhow::anyhow!(e))?;
    if !has_display() {
        anyhow::bail!(
            "no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the window cannot open. Headless commands: {}; see `dtm-studio --help`",
            super::HEADLESS_COMMANDS
        );
    }
    crate::app::run_gui(StartRequest { target, page })
}

/// Says that this build has no window.
#[cfg(not(feature = "gui"))]
pub fn open(_args: OpenArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "this build has no GUI (built without the `gui` feature). Headless commands: {}; see `dtm-studio --help`",
        super::HEADLESS_COMMANDS
    )
}
