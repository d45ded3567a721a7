//! `dtm-studio demo`: the built-in teaching demo (a synthetic world where the alignment tax is
//! real), or with `--real` the same method on SmolLM2 and real Alpaca data. Each seed is an
//! ordinary project folder that the app opens with every stage done.

use super::progress::with_progress;
use crate::engine::demo::summary::{aggregate, markdown};
use crate::engine::demo::{default_dir, real, run_demo, DemoRequest, DemoSize};
use crate::engine::pipeline::{run_project, RunOptions};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The project folder (default ~/dtm-studio-demo); with several seeds, one sub-folder `seed-N` per seed.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of the world, the data, the base model and the runs (repeat for several seeds side by side).
    #[arg(long = "seed", default_values_t = [0u64])]
    pub seeds: Vec<u64>,
    /// A few seconds' worth of everything (for a smoke test; the figures mean little).
    #[arg(long)]
    pub reduced: bool,
    /// The real-model project instead: SmolLM2-135M-Instruct on the Alpaca data of $DTM_DATA_DIR (slow on a CPU).
    #[arg(long)]
    pub real: bool,
}

/// Runs `demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let out = args.out.unwrap_or_else(default_dir);
    if args.real {
        let seed = args.seeds.first().copied().unwrap_or(0);
        real::prepare_real(&out, seed)?;
        let summary = with_progress(|sink, cancel| run_project(&out, &RunOptions::default(), sink, cancel))?;
        fail_on(summary.failed())?;
        println!("done; report in {}", out.join("report/report.md").display());
        return Ok(());
    }
    let size = if args.reduced { DemoSize::reduced() } else { DemoSize::standard() };
    let several = args.seeds.len() > 1;
    let mut summaries = Vec::new();
    for &seed in &args.seeds {
        let dir = if several { out.join(format!("seed-{seed}")) } else { out.clone() };
        let req = DemoRequest::new(dir.clone(), seed, size.clone());
        let (run, summary) = with_progress(|sink, cancel| run_demo(&req, sink, cancel))?;
        fail_on(run.failed())?;
        println!("{}", markdown(&summary));
        println!("project: {} (open it with `dtm-studio open {}`)\n", dir.display(), dir.display());
        summaries.push(summary);
    }
    if several {
        let md = aggregate(&summaries);
        let path = out.join("seeds.md");
        std::fs::write(&path, &md)?;
        println!("{md}\nwritten to {}", path.display());
    }
    Ok(())
}

/// An error naming every failed stage with its message, when there is one.
fn fail_on(failed: Vec<(String, String)>) -> anyhow::Result<()> {
    if failed.is_empty() {
        return Ok(());
    }
    let each: Vec<String> = failed.iter().map(|(stage, message)| format!("{stage}: {message}")).collect();
    anyhow::bail!("{} stage(s) failed: {}", failed.len(), each.join("; "))
}
