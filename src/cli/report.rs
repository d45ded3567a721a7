//! `dtm-studio report --results DIR... [--base LABEL] [--runs DIR...] [--clusters FILE] --out DIR`:
//! report.md, results.csv and the PNG charts from result folders, training runs and a split.

use crate::engine::report::{load_input, write_report, ReportError, ReportSources};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `report`.
#[derive(Debug, Args)]
#[command(after_help = "Writes OUT/report.md (settings, the comparison table, the alignment tax of every model against the base, \
each merge against `vanilla`, the training runs, the portions), OUT/results.csv (as `compare --format csv`) and the charts \
scores.png, tax.png, loss.png, lrr.png and clusters.png; a chart whose input is not given is left out and report.md says so. \
Result folders are labelled by their names: `base`, `vanilla`, `sub-0`, ... and any other name counts as a merge.")]
pub struct ReportArgs {
    /// Result folders (`dtm-studio eval --out DIR`), one per model; the first is the base unless --base says otherwise.
    #[arg(long, required = true, num_args = 1.., value_name = "DIR")]
    pub results: Vec<PathBuf>,
    /// Label (folder name) of the base model.
    #[arg(long, value_name = "LABEL")]
    pub base: Option<String>,
    /// Training run folders holding a trainer_state.json (e.g. train/vanilla train/sub-0).
    #[arg(long, num_args = 1.., value_name = "DIR")]
    pub runs: Vec<PathBuf>,
    /// The split's clusters.json (`dtm-studio cluster`).
    #[arg(long, value_name = "FILE")]
    pub clusters: Option<PathBuf>,
    /// The report folder (created if needed; files in it are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The report's title.
    #[arg(long, default_value = "DTM Studio report")]
    pub title: String,
}

/// Writes the report and prints the paths of its files.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let sources = ReportSources { title: args.title, results: args.results, base: args.base, runs: args.runs, clusters: args.clusters };
    let input = match load_input(&sources) {
        Ok(input) => input,
        Err(ReportError::NoSuchBase { label, found }) => anyhow::bail!("--base {label}: no such folder among {found}"),
        Err(e) => return Err(e.into()),
    };
    let files = write_report(&input, &args.out)?;
    for path in files.paths() {
        println!("{}", path.display());
    }
    for s in &files.skipped {
        eprintln!("not drawn: {}: {}", s.kind.file_name(), s.reason);
    }
    Ok(())
}
