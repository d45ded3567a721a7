use clap::Parser;
use dtm_studio::cli::{self, Cli};

fn main() -> std::process::ExitCode {
    dtm_studio::engine::memory::keep_freed_memory();
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_writer(std::io::stderr).init();
    let parsed = Cli::parse();
    let result = match parsed.command {
        Some(command) => cli::run(command),
        None => cli::open::open(Default::default()),
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
