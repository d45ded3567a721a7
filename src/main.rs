use clap::Parser;
use dtm_studio::cli::{self, Cli, HEADLESS_COMMANDS};

fn main() -> std::process::ExitCode {
    dtm_studio::engine::memory::keep_freed_memory();
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_writer(std::io::stderr).init();
    let parsed = Cli::parse();
    let result = match parsed.command {
        Some(command) => cli::run(command),
        None => open_gui(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if cli::interrupt_token().is_cancelled() => {
            eprintln!("stopped: {e:#}");
            std::process::ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "gui")]
fn has_display() -> bool {
    if cfg!(target_os = "linux") {
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    } else {
        true
    }
}

#[cfg(feature = "gui")]
fn open_gui() -> anyhow::Result<()> {
    if !has_display() {
        anyhow::bail!("no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the window cannot open. Headless commands: {HEADLESS_COMMANDS}; see `dtm-studio --help`");
    }
    dtm_studio::app::run_gui()
}

#[cfg(not(feature = "gui"))]
fn open_gui() -> anyhow::Result<()> {
    anyhow::bail!(
        "this build has no GUI (built without the `gui` feature). Headless commands: {HEADLESS_COMMANDS}; see `dtm-studio --help`"
    )
}
