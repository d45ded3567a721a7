//! `dtm-studio inspect MODEL`.

use super::RuntimeArgs;
use crate::engine::model::describe::describe_model;
use clap::Args;

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A folder with config.json, a .gguf file, or an HF model id in the local cache.
    pub model: String,
    /// Print the whole chat template instead of its start.
    #[arg(long)]
    pub full_template: bool,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Loads the model and prints its description.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let loaded = args.runtime.load(&args.model, None)?;
    let limit = if args.full_template { usize::MAX } else { 300 };
    for (label, value) in describe_model(&loaded, limit) {
        println!("{label:<16}{value}");
    }
    Ok(())
}
