//! What the demo measured, read back from its project folder: every model's scores, the
//! knowledge tax against the base, each bias's rate in every model, which family each portion
//! holds (and how well the split recovered the families), and how long each stage took. Written
//! as `report/demo.md` and `report/demo.json`; [`aggregate`] sets several seeds side by side.

use super::error::DemoError;
use super::families::Family;
use super::{read_marker, MARKER};
use crate::engine::cluster::ClustersFile;
use crate::engine::pipeline::plan::{model_labels, paths};
use crate::engine::pipeline::{project_status, Project};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The benchmarks of the summary with their headline metric, in table order.
pub const COLUMNS: [(&str, &str); 7] = [
    ("knowledge", "acc"),
    ("reasoning", "acc"),
    ("ifeval", "prompt_level_strict_acc"),
    ("bias_letter", "acc"),
    ("bias_city", "acc"),
    ("bias_opening", "acc"),
    ("bias_padding", "acc"),
];

/// One model's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelRow {
    /// `base`, `vanilla`, `sub-N` or the merge's name.
    pub label: String,
    /// For a sub-model: the family most of its portion's rows belong to.
    pub family: Option<String>,
    /// Benchmark name -> headline metric (NaN when the result is missing).
    pub scores: BTreeMap<String, f64>,
}

/// The demo's findings for one seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoSummary {
    /// The seed.
    pub seed: u64,
    /// Every model, base first.
    pub models: Vec<ModelRow>,
    /// Per portion: its majority family and that family's share of its rows.
    pub portions: Vec<(String, f64)>,
    /// Share of rows whose portion's majority family is their own.
    pub purity: f64,
    /// Adjusted Rand index between portions and families (1 = identical, 0 = chance).
    pub adjusted_rand: f64,
    /// Seconds per stage group (base model, data, disperse, train, merge, eval, report).
    pub stage_seconds: Vec<(String, f64)>,
    /// Whether the base model came from the cache.
    pub base_cached: bool,
}

impl DemoSummary {
    /// A model's row.
    pub fn model(&self, label: &str) -> Option<&ModelRow> {
        self.models.iter().find(|m| m.label == label)
    }

    /// `base − model` on `bench` (positive: the model lost accuracy).
    pub fn tax(&self, label: &str, bench: &str) -> f64 {
        let score = |l: &str| self.model(l).and_then(|m| m.scores.get(bench).copied()).unwrap_or(f64::NAN);
        score("base") - score(label)
    }

    /// Total seconds of every stage.
    pub fn total_seconds(&self) -> f64 {
        self.stage_seconds.iter().map(|(_, s)| s).sum()
    }
}

fn headline(dir: &Path, label: &str, bench: &str, metric: &str) -> f64 {
    let path = paths::eval_dir(dir, label).join(format!("{bench}.json"));
    std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["metrics"][metric].as_f64())
        .unwrap_or(f64::NAN)
}

/// Adjusted Rand index of two labelings of the same rows.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let mut table: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let (mut rows, mut cols): (BTreeMap<usize, f64>, BTreeMap<usize, f64>) = Default::default();
    for i in 0..n {
        *table.entry((a[i], b[i])).or_default() += 1.0;
        *rows.entry(a[i]).or_default() += 1.0;
        *cols.entry(b[i]).or_default() += 1.0;
    }
    let pairs = |x: f64| x * (x - 1.0) / 2.0;
    let index: f64 = table.values().map(|&x| pairs(x)).sum();
    let (ra, cb): (f64, f64) = (rows.values().map(|&x| pairs(x)).sum(), cols.values().map(|&x| pairs(x)).sum());
    let expected = ra * cb / pairs(n as f64);
    let max = (ra + cb) / 2.0;
    if (max - expected).abs() < 1e-12 {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

/// Families of the data rows, in file order.
fn row_families(project: &Project) -> Result<Vec<usize>, DemoError> {
    let bytes = std::fs::read(&project.data).map_err(|e| DemoError::io(&project.data, e))?;
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&bytes).map_err(|e| DemoError::Folder {
        path: project.data.clone(),
        detail: format!("is not the demo's instruction data ({e}); make the demo again in a new folder"),
    })?;
    Ok(rows.iter().map(|r| Family::ALL.iter().position(|f| Some(f.name()) == r["family"].as_str()).unwrap_or(Family::ALL.len())).collect())
}

/// Groups stage names: `train:sub-0` -> `train`, `eval:base:knowledge` -> `eval`.
fn stage_group(stage: &str) -> &str {
    match stage.split(':').next().unwrap_or(stage) {
        "embed" | "cluster" => "disperse",
        other => other,
    }
}

/// Reads the demo project at `dir` back into its summary.
pub fn summarize(dir: &Path) -> Result<DemoSummary, DemoError> {
    let marker = read_marker(dir)
        .ok_or_else(|| DemoError::Folder { path: dir.to_path_buf(), detail: format!("has no {MARKER}: it is not a demo project") })?;
    let project = Project::load(dir)?;
    let clusters = ClustersFile::load(&paths::clusters(dir)).ok();
    let k = clusters.as_ref().map(|c| c.k).unwrap_or(project.k());
    let families = row_families(&project)?;
    let assignment: Vec<usize> = clusters.as_ref().map(|c| c.assignment.iter().map(|&a| a as usize).collect()).unwrap_or_default();
    let mut portions = Vec::new();
    let mut agree = 0usize;
    for j in 0..k {
        let mut counts = [0usize; 5];
        assignment.iter().zip(&families).filter(|(a, _)| **a == j).for_each(|(_, f)| counts[(*f).min(4)] += 1);
        let total: usize = counts.iter().sum();
        let (best, n) = counts.iter().enumerate().max_by_key(|(_, n)| **n).map(|(i, n)| (i, *n)).unwrap_or((4, 0));
        agree += n;
        let name = Family::ALL.get(best).map(|f| f.name()).unwrap_or("?");
        portions.push((name.to_string(), if total == 0 { f64::NAN } else { n as f64 / total as f64 }));
    }
    let purity = if assignment.is_empty() { f64::NAN } else { agree as f64 / assignment.len() as f64 };
    let adjusted_rand = adjusted_rand_index(&assignment, &families);
    let models = model_labels(&project, k)
        .into_iter()
        .map(|label| {
            let family =
                label.strip_prefix("sub-").and_then(|j| j.parse::<usize>().ok()).and_then(|j| portions.get(j)).map(|p| p.0.clone());
            let scores = COLUMNS.iter().map(|(b, m)| (b.to_string(), headline(dir, &label, b, m))).collect();
            ModelRow { label, family, scores }
        })
        .collect();
    let mut stage_seconds: Vec<(String, f64)> =
        vec![("base model".into(), marker.base_seconds), ("world files".into(), marker.files_seconds)];
    for s in project_status(dir)? {
        let group = stage_group(&s.stage).to_string();
        let secs = s.seconds.unwrap_or(0.0);
        match stage_seconds.iter_mut().find(|(g, _)| *g == group) {
            Some(entry) => entry.1 += secs,
            None => stage_seconds.push((group, secs)),
        }
    }
    Ok(DemoSummary { seed: marker.seed, models, portions, purity, adjusted_rand, stage_seconds, base_cached: marker.base_cached })
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}", 100.0 * x)
    } else {
        "n/a".into()
    }
}

/// The summary as Markdown: the scores table, the tax, the biases, the split and the times.
pub fn markdown(s: &DemoSummary) -> String {
    let mut md = format!("# The teaching demo, seed {}\n\n", s.seed);
    md.push_str("Scores in percent. Knowledge and reasoning: accuracy; ifeval: prompts meeting all three constraints; ");
    md.push_str("bias_*: rate at which the model prefers the biased answer (lower is better).\n\n");
    md.push_str("| model | portion's family |");
    for (b, _) in COLUMNS {
        md.push_str(&format!(" {b} |"));
    }
    md.push_str(" knowledge tax |\n|---|---|");
    md.push_str(&"---:|".repeat(COLUMNS.len() + 1));
    md.push('\n');
    for m in &s.models {
        md.push_str(&format!("| {} | {} |", m.label, m.family.as_deref().unwrap_or("")));
        for (b, _) in COLUMNS {
            md.push_str(&format!(" {} |", pct(m.scores.get(b).copied().unwrap_or(f64::NAN))));
        }
        let tax = if m.label == "base" { String::new() } else { pct(s.tax(&m.label, "knowledge")) };
        md.push_str(&format!(" {tax} |\n"));
    }
    md.push_str(&format!(
        "\nDisperse: purity {} %, adjusted Rand index {:.3} between portions and families; portions hold {}.\n",
        pct(s.purity),
        s.adjusted_rand,
        s.portions.iter().map(|(f, share)| format!("{f} ({} %)", pct(*share))).collect::<Vec<_>>().join(", ")
    ));
    md.push_str(&format!(
        "\nTime per stage (seconds{}): {}; total {:.1}.\n",
        if s.base_cached { ", base model from the cache" } else { "" },
        s.stage_seconds.iter().map(|(g, t)| format!("{g} {t:.1}")).collect::<Vec<_>>().join(", "),
        s.total_seconds()
    ));
    md
}

/// Writes `report/demo.md` and `report/demo.json`.
pub fn write_summary(dir: &Path, s: &DemoSummary) -> Result<(), DemoError> {
    let out = paths::report(dir);
    std::fs::create_dir_all(&out).map_err(|e| DemoError::io(&out, e))?;
    let md = format!("{}\n{}", markdown(s), super::explain::EXPLANATION);
    crate::engine::fsutil::write_atomic(&out.join("demo.md"), md.as_bytes()).map_err(|e| DemoError::io(out.join("demo.md"), e))?;
    let json = serde_json::to_vec_pretty(s).unwrap_or_default();
    crate::engine::fsutil::write_atomic(&out.join("demo.json"), &json).map_err(|e| DemoError::io(out.join("demo.json"), e))
}

/// Mean and sample standard deviation.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let sd = if xs.len() > 1 { (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    (mean, sd)
}

/// Several seeds side by side: mean ± sd of every figure, sub-models named by their family.
pub fn aggregate(all: &[DemoSummary]) -> String {
    let mut rows: Vec<(String, Vec<&ModelRow>)> = Vec::new();
    for s in all {
        for m in &s.models {
            let name = match &m.family {
                Some(f) => format!("sub-model ({f})"),
                None => m.label.clone(),
            };
            match rows.iter_mut().find(|(n, _)| *n == name) {
                Some(r) => r.1.push(m),
                None => rows.push((name, vec![m])),
            }
        }
    }
    let seeds: Vec<String> = all.iter().map(|s| s.seed.to_string()).collect();
    let mut md = format!("Seeds {}: mean ± sd over seeds, in percent.\n\n| model |", seeds.join(", "));
    for (b, _) in COLUMNS {
        md.push_str(&format!(" {b} |"));
    }
    md.push_str(" knowledge tax |\n|---|");
    md.push_str(&"---:|".repeat(COLUMNS.len() + 1));
    md.push('\n');
    let cell = |xs: Vec<f64>| {
        let xs: Vec<f64> = xs.into_iter().filter(|x| x.is_finite()).collect();
        if xs.is_empty() {
            return "n/a".to_string();
        }
        let (m, sd) = mean_sd(&xs);
        format!("{:.1} ± {:.1}", 100.0 * m, 100.0 * sd)
    };
    for (name, models) in &rows {
        md.push_str(&format!("| {name} (n = {}) |", models.len()));
        for (b, _) in COLUMNS {
            md.push_str(&format!(" {} |", cell(models.iter().map(|m| m.scores.get(b).copied().unwrap_or(f64::NAN)).collect())));
        }
        let taxes: Vec<f64> = if name == "base" {
            Vec::new()
        } else {
            all.iter()
                .flat_map(|s| s.models.iter().filter(|m| models.iter().any(|x| std::ptr::eq(*x, *m))).map(|m| s.tax(&m.label, "knowledge")))
                .collect()
        };
        md.push_str(&format!(" {} |\n", if name == "base" { String::new() } else { cell(taxes) }));
    }
    let purity: Vec<f64> = all.iter().map(|s| s.purity).collect();
    let ari: Vec<f64> = all.iter().map(|s| s.adjusted_rand).collect();
    let (pm, ps) = mean_sd(&purity);
    let (am, asd) = mean_sd(&ari);
    md.push_str(&format!(
        "\nDisperse against the families: purity {:.1} ± {:.1} %, adjusted Rand index {am:.3} ± {asd:.3}.\n",
        100.0 * pm,
        100.0 * ps
    ));
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjusted_rand_is_one_for_a_relabelling_and_near_zero_for_noise() {
        assert!((adjusted_rand_index(&[0, 0, 1, 1, 2, 2], &[2, 2, 0, 0, 1, 1]) - 1.0).abs() < 1e-12);
        let a: Vec<usize> = (0..400).map(|i| i % 4).collect();
        let b: Vec<usize> = (0..400).map(|i| (i / 4) % 4).collect();
        assert!(adjusted_rand_index(&a, &b).abs() < 0.05);
        assert_eq!(mean_sd(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
    }
}
