//! What the Compare page shows: every model's result files as read from `eval/<model>/` on a
//! worker, and the view of a selection of models and benchmarks (the comparison rows, the
//! chart series, the table as Markdown and CSV), computed once per selection.

use crate::app::widgets::bars::Series;
use crate::engine::eval::comparison::{compare, to_csv, to_markdown, ModelResults, Row};
use crate::engine::eval::BenchmarkResult;
use crate::engine::pipeline::plan::paths;
use crate::engine::report::style::Colours;
use crate::engine::report::summary::{headline_rows, is_percent};
use eframe::egui::Color32;
use std::collections::BTreeMap;
use std::path::Path;

/// The label of the reference model of the alignment tax.
pub const BASE: &str = "base";

/// Every model's results on the project's benchmarks, as read from the run directory.
#[derive(Debug, Clone, Default)]
pub struct CompareData {
    /// The project's models in table order (base, vanilla, sub-models, merges).
    pub labels: Vec<String>,
    /// The project's benchmarks (`[[eval]]` names).
    pub benches: Vec<String>,
    /// Per label (same order), the result files found.
    pub results: Vec<ModelResults>,
    /// Result files that exist but could not be read: what and where.
    pub problems: Vec<String>,
}

impl CompareData {
    /// Reads `eval/<label>/<bench>.json` of every label and benchmark under `dir`; a missing
    /// file is no error (that evaluation has not run), a broken one is listed in `problems`.
    pub fn read(dir: &Path, labels: Vec<String>, benches: Vec<String>) -> Self {
        let mut problems = Vec::new();
        let results = labels
            .iter()
            .map(|label| {
                let mut results = BTreeMap::new();
                for bench in &benches {
                    let file = paths::eval_dir(dir, label).join(format!("{bench}.json"));
                    if !file.is_file() {
                        continue;
                    }
                    match BenchmarkResult::read(&file) {
                        Ok(r) => {
                            results.insert(bench.clone(), r);
                        }
                        Err(e) => problems.push(format!("{e} (run eval:{label}:{bench} again to rewrite it)")),
                    }
                }
                ModelResults { label: label.clone(), results }
            })
            .collect();
        Self { labels, benches, results, problems }
    }

    /// The result of `label` on `bench`, when it was evaluated.
    pub fn result(&self, label: &str, bench: &str) -> Option<&BenchmarkResult> {
        self.results.iter().find(|m| m.label == label)?.results.get(bench)
    }

    /// The evaluations among `labels` x `benches` that have no result yet, as stage names.
    pub fn missing(&self, labels: &[String], benches: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for label in labels {
            for bench in benches {
                if self.result(label, bench).is_none() {
                    out.push(format!("eval:{label}:{bench}"));
                }
            }
        }
        out
    }
}

/// The comparison of a selection, ready to draw.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The models shown (selected and with at least one selected result), base first if shown.
    pub models: Vec<String>,
    /// Index of the base in `models`, when it is shown.
    pub base: Option<usize>,
    /// Every metric of every selected benchmark across `models`.
    pub rows: Vec<Row>,
    /// The benchmarks of the charts (one headline metric each), in row order.
    pub groups: Vec<String>,
    /// Scores per model on the headline metrics (percentage points where the metric is a share).
    pub scores: Vec<Series>,
    /// Alignment tax per model other than the base (base - model, paired standard error).
    pub taxes: Vec<Series>,
    /// The colour of each model, the same in every chart.
    pub colours: Vec<(String, Color32)>,
    /// The table as Markdown.
    pub markdown: String,
    /// The table as CSV.
    pub csv: String,
}

/// A value as the page shows it: percentage points for shares, else three decimals.
pub fn shown_value(row: &Row, x: f64) -> String {
    if is_percent(row) {
        format!("{:.1}", 100.0 * x)
    } else {
        format!("{x:.3}")
    }
}

fn scale(row: &Row) -> f64 {
    if is_percent(row) {
        100.0
    } else {
        1.0
    }
}

impl View {
    /// The view of the selected `labels` and `benches` of `data`.
    pub fn of(data: &CompareData, labels: &[String], benches: &[String]) -> Self {
        let models: Vec<ModelResults> = data
            .results
            .iter()
            .filter(|m| labels.contains(&m.label))
            .map(|m| ModelResults {
                label: m.label.clone(),
                results: m.results.iter().filter(|(b, _)| benches.contains(b)).map(|(b, r)| (b.clone(), r.clone())).collect(),
            })
            .filter(|m| !m.results.is_empty())
            .collect();
        let base = models.iter().position(|m| m.label == BASE);
        let rows = compare(&models, base.unwrap_or(usize::MAX));
        let palette = Colours::new(Some(BASE), data.labels.iter().map(String::as_str));
        let colour = |label: &str| {
            let c = palette.of(label);
            Color32::from_rgb(c.0, c.1, c.2)
        };
        let headlines = headline_rows(&rows);
        let groups = headlines.iter().map(|r| r.benchmark.clone()).collect();
        let scores = models
            .iter()
            .enumerate()
            .map(|(i, m)| Series {
                label: m.label.clone(),
                colour: colour(&m.label),
                values: headlines.iter().map(|r| r.values[i].map(|v| (scale(r) * v.value, scale(r) * v.stderr))).collect(),
            })
            .collect();
        let taxes = models
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != base)
            .map(|(i, m)| Series {
                label: m.label.clone(),
                colour: colour(&m.label),
                values: headlines.iter().map(|r| r.taxes[i].map(|t| (scale(r) * t.tax, scale(r) * t.stderr))).collect(),
            })
            .collect();
        let markdown_base = base.unwrap_or(usize::MAX);
        Self {
            models: models.iter().map(|m| m.label.clone()).collect(),
            base,
            groups,
            scores,
            taxes,
            colours: models.iter().map(|m| (m.label.clone(), colour(&m.label))).collect(),
            markdown: to_markdown(&models, markdown_base, &rows),
            csv: to_csv(&models, markdown_base, &rows),
            rows,
        }
    }
}
