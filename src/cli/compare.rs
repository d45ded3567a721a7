//! `dtm-studio compare RESULTS_DIR...`: the comparison table across models with the alignment
//! tax; `dtm-studio diagnose trainer_state.json`: the loss-reduction ratio per training segment.

use crate::engine::eval::comparison::{compare, read_results_dir, to_csv, to_markdown};
use crate::engine::eval::diagnose::{loss_reduction_ratios, read_eval_points, SegmentFlag, DEFAULT_VAL_TOLERANCE};
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Table format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// A Markdown table (percent, ± one standard error).
    Markdown,
    /// CSV, one line per (benchmark, metric, model), raw fractions.
    Csv,
}

/// Arguments of `compare`.
#[derive(Debug, Args)]
#[command(after_help = "Each folder holds the <benchmark>.json files of one model (`dtm-studio eval --out DIR`); its name labels \
the column. The alignment tax is base - model (positive: the model lost score), with the standard error of the per-item \
differences when both scored the same items.")]
pub struct CompareArgs {
    /// Result folders, one per model; the first is the base unless --base says otherwise.
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Label (folder name) of the base model.
    #[arg(long)]
    pub base: Option<String>,
    /// What to print.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: TableFormat,
    /// Also write the CSV table to this file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

/// Prints the comparison table.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let models = args.dirs.iter().map(|d| read_results_dir(d)).collect::<Result<Vec<_>, _>>()?;
    let base = match &args.base {
        Some(label) => models.iter().position(|m| &m.label == label).with_context(|| {
            format!("--base {label}: no such folder among {}", models.iter().map(|m| m.label.as_str()).collect::<Vec<_>>().join(", "))
        })?,
        None => 0,
    };
    let rows = compare(&models, base);
    match args.format {
        TableFormat::Markdown => print!("{}", to_markdown(&models, base, &rows)),
        TableFormat::Csv => print!("{}", to_csv(&models, base, &rows)),
    }
    if let Some(path) = &args.csv {
        crate::engine::fsutil::write_atomic(path, to_csv(&models, base, &rows).as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Arguments of `diagnose`.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// A trainer_state.json with "evals": [{step, train_loss, val_loss}].
    pub trainer_state: PathBuf,
    /// Smallest |ΔL_val| for which a ratio is given.
    #[arg(long, default_value_t = DEFAULT_VAL_TOLERANCE)]
    pub tolerance: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Prints ΔL_train / ΔL_val per segment.
pub fn diagnose(args: DiagnoseArgs) -> anyhow::Result<()> {
    let points = read_eval_points(&args.trainer_state)?;
    let segments = loss_reduction_ratios(&points, args.tolerance);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&segments)?);
        return Ok(());
    }
    println!("{:>8} {:>8} {:>12} {:>12} {:>10}  note", "from", "to", "ΔL_train", "ΔL_val", "ratio");
    for s in &segments {
        let ratio = s.ratio.map(|r| format!("{r:10.2}")).unwrap_or_else(|| format!("{:>10}", "-"));
        let note = match s.flag {
            Some(SegmentFlag::ValFlat) => "validation loss flat: ratio undefined",
            Some(SegmentFlag::ValRose) => "validation loss rose while training loss fell",
            Some(SegmentFlag::TrainRose) => "training loss rose",
            None => "",
        };
        println!("{:>8} {:>8} {:>12.5} {:>12.5} {ratio}  {note}", s.start_step, s.end_step, s.delta_train, s.delta_val);
    }
    Ok(())
}
