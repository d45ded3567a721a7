//! The report written at the end of a pipeline run (DESIGN.md, "Data flow": `report/`):
//! `report.md`, `results.csv` and the charts `scores.png`, `tax.png`, `loss.png`, `lrr.png`
//! and `clusters.png`, from the models' results, the training runs and the split.
//!
//! The table numbers are those of `dtm-studio compare`
//! ([`crate::engine::eval::comparison::compare`], `to_markdown`, `to_csv`); the charts are drawn with plotters into memory and written as PNGs. Every file is
//! written atomically. A chart whose input is absent is not drawn; `report.md` says why and a
//! stale copy from an earlier report is removed.

mod bars;
mod canvas;
mod clusters;
mod error;
mod load;
mod loss;
mod markdown;
pub mod style;
pub mod summary;

#[cfg(test)]
mod tests;

pub use error::ReportError;
pub use load::{load_input, ReportSources};

use crate::engine::cluster::ClustersFile;
use crate::engine::eval::comparison::{compare, to_csv, ModelResults};
use crate::engine::train::state::TrainerState;
use std::path::{Path, PathBuf};
use style::{portion_label, Colours};
use summary::{headline_rows, is_percent, segments};

/// Everything the report is made from.
#[derive(Debug, Clone)]
pub struct ReportInput {
    /// The report's title (its first heading).
    pub title: String,
    /// Lines of the settings table: (setting, value).
    pub settings: Vec<(String, String)>,
    /// Every model's results, the base first (labels such as `base`, `vanilla`, `sub-0`, and
    /// merge names); the alignment tax is taken against the first.
    pub models: Vec<ModelResults>,
    /// Training runs (vanilla and sub-models).
    pub runs: Vec<TrainerState>,
    /// The split into portions, when there is one.
    pub clusters: Option<ClustersFile>,
}

/// The charts of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Headline score per benchmark and model.
    Scores,
    /// Alignment tax per benchmark and model.
    Tax,
    /// Training and validation loss of every run.
    Loss,
    /// Loss-reduction ratio per segment of every run.
    Lrr,
    /// The portions on the 2-D map.
    Clusters,
}

impl ChartKind {
    /// Every chart, in the report's order.
    pub const ALL: [ChartKind; 5] = [Self::Scores, Self::Tax, Self::Loss, Self::Lrr, Self::Clusters];

    /// Its file name in the report folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Scores => "scores.png",
            Self::Tax => "tax.png",
            Self::Loss => "loss.png",
            Self::Lrr => "lrr.png",
            Self::Clusters => "clusters.png",
        }
    }

    /// What it shows (its alt text in `report.md`).
    pub fn alt_text(self) -> &'static str {
        match self {
            Self::Scores => "Headline score per benchmark and model",
            Self::Tax => "Alignment tax against the base per benchmark and model",
            Self::Loss => "Training and validation loss of every run",
            Self::Lrr => "Loss-reduction ratio per segment of every run",
            Self::Clusters => "Portions on the 2-D map",
        }
    }
}

/// A chart that was not drawn, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedChart {
    /// Which chart.
    pub kind: ChartKind,
    /// Why (a clause: "no training runs were given").
    pub reason: String,
}

/// The files a report consists of.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `results.csv`.
    pub csv: PathBuf,
    /// The charts drawn.
    pub charts: Vec<PathBuf>,
    /// The charts not drawn.
    pub skipped: Vec<SkippedChart>,
}

impl ReportFiles {
    /// Every file written, `report.md` first.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = vec![self.markdown.as_path(), self.csv.as_path()];
        out.extend(self.charts.iter().map(PathBuf::as_path));
        out
    }
}

/// Why a chart cannot be drawn from `input`, or `None` when it can.
fn skip_reason(kind: ChartKind, input: &ReportInput, percent_benchmarks: usize) -> Option<String> {
    let no_percent = "no benchmark is scored in percent (losses and perplexities are in the table only)";
    match kind {
        ChartKind::Scores => (percent_benchmarks == 0).then(|| no_percent.into()),
        ChartKind::Tax if input.models.len() < 2 => Some("only the base model was given, so there is no tax to draw".into()),
        ChartKind::Tax => (percent_benchmarks == 0).then(|| no_percent.into()),
        ChartKind::Loss | ChartKind::Lrr if input.runs.is_empty() => Some("no training runs were given".into()),
        ChartKind::Loss => input
            .runs
            .iter()
            .all(|r| r.log.is_empty() && r.evals.iter().all(|e| e.val_loss.is_none()))
            .then(|| "the runs logged no loss".into()),
        ChartKind::Lrr => input.runs.iter().all(|r| segments(r).iter().all(|s| s.ratio.is_none())).then(|| {
            "no run has two evaluation points with a validation loss that moved (train with a validation fraction above 0 and evaluations at intervals)".into()
        }),
        ChartKind::Clusters => match &input.clusters {
            None => Some("no clusters file was given".into()),
            Some(c) if c.coords_2d.is_empty() => Some("the clusters file has no rows".into()),
            Some(_) => None,
        },
    }
}

/// Writes the report into `dir` (created if needed): `results.csv`, the charts whose inputs are
/// present, and `report.md`. The first model of `input.models` is the base.
pub fn write_report(input: &ReportInput, dir: &Path) -> Result<ReportFiles, ReportError> {
    let Some(base) = input.models.first() else { return Err(ReportError::NoModels) };
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })?;
    let write = |name: &str, bytes: &[u8]| -> Result<PathBuf, ReportError> {
        let path = dir.join(name);
        crate::engine::fsutil::write_atomic(&path, bytes).map_err(|source| ReportError::Io { path: path.clone(), source })?;
        Ok(path)
    };
    let rows = compare(&input.models, 0);
    let csv = write("results.csv", to_csv(&input.models, 0, &rows).as_bytes())?;

    let portions: Vec<String> = input.clusters.iter().flat_map(|c| (0..c.k).map(portion_label)).collect();
    let labels = input.models.iter().map(|m| m.label.as_str()).chain(input.runs.iter().map(|r| r.run.as_str()));
    let colours = Colours::new(Some(base.label.as_str()), labels.chain(portions.iter().map(String::as_str)));
    let heads: Vec<_> = headline_rows(&rows).into_iter().filter(|r| is_percent(r)).collect();

    let (mut charts, mut skipped) = (Vec::new(), Vec::new());
    for kind in ChartKind::ALL {
        let path = dir.join(kind.file_name());
        if let Some(reason) = skip_reason(kind, input, heads.len()) {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(ReportError::Io { path, source: e }),
                _ => {}
            }
            skipped.push(SkippedChart { kind, reason });
            continue;
        }
        match kind {
            ChartKind::Scores => bars::scores_chart(&path, &input.models, &heads, &colours)?,
            ChartKind::Tax => bars::tax_chart(&path, &input.models, &heads, &colours)?,
            ChartKind::Loss => loss::loss_chart(&path, &input.runs, &colours)?,
            ChartKind::Lrr => loss::lrr_chart(&path, &input.runs, &colours)?,
            ChartKind::Clusters => {
                if let Some(c) = &input.clusters {
                    clusters::clusters_chart(&path, c, &colours)?
                }
            }
        }
        charts.push(path);
    }
    let markdown = write("report.md", markdown::report_markdown(input, &rows, &skipped).as_bytes())?;
    Ok(ReportFiles { markdown, csv, charts, skipped })
}
