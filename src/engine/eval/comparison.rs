//! Comparing result folders (base, vanilla SFT, sub-models, merged): every headline metric per
//! model, and the alignment tax of each model against the base, `tax = base − model` (positive:
//! the model lost score), with its standard error. When both models scored the same items the
//! error is the paired one (standard error of the per-item differences), which is what a
//! practitioner needs to tell a real tax from noise; otherwise `sqrt(se_base² + se_model²)`.

use super::error::{EvalError, Result};
use super::metrics::{mean, stderr};
use super::results::{BenchmarkResult, ItemResult};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The results of one model: a label (the folder name) and its result files by benchmark.
#[derive(Debug, Clone)]
pub struct ModelResults {
    /// Column label.
    pub label: String,
    /// Results by benchmark name.
    pub results: BTreeMap<String, BenchmarkResult>,
}

/// Reads every `*.json` result file of a folder.
pub fn read_results_dir(dir: &Path) -> Result<ModelResults> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| EvalError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()) == Some("json")
                && !p.file_name().and_then(|n| n.to_str()).unwrap_or(".").starts_with('.')
        })
        .collect();
    files.sort();
    let mut results = BTreeMap::new();
    for f in files {
        let r = BenchmarkResult::read(&f)?;
        results.insert(r.benchmark.clone(), r);
    }
    if results.is_empty() {
        return Err(EvalError::BadResults {
            path: dir.to_path_buf(),
            detail: "no result files (<benchmark>.json) here; evaluate a model into this folder first".into(),
        });
    }
    let label = dir.file_name().and_then(|n| n.to_str()).map(str::to_string).unwrap_or_else(|| dir.display().to_string());
    Ok(ModelResults { label, results })
}

/// The metrics shown for a result, in order.
pub fn headline_metrics(r: &BenchmarkResult) -> Vec<String> {
    let preferred = [
        "acc",
        "acc_norm",
        "loss",
        "perplexity",
        "exact_match_strict",
        "exact_match_flexible",
        "prompt_level_strict_acc",
        "inst_level_strict_acc",
        "prompt_level_loose_acc",
        "inst_level_loose_acc",
    ];
    let mut out: Vec<String> = preferred.iter().filter(|m| r.metrics.contains_key(**m)).map(|m| m.to_string()).collect();
    for k in r.metrics.keys() {
        if !k.contains('/') && !k.ends_with("_stderr") && !out.contains(k) {
            out.push(k.clone());
        }
    }
    out
}

/// Per-item (or per-instruction) scores behind a metric, keyed for pairing.
pub fn metric_samples(r: &BenchmarkResult, metric: &str) -> Option<Vec<(String, f64)>> {
    let f = |b: bool| if b { 1.0 } else { 0.0 };
    let mut out = Vec::new();
    for item in &r.items {
        match (item, metric) {
            (ItemResult::Mc(m), "acc") => out.push((m.id.clone(), m.score.unwrap_or(f(m.pred == m.gold)))),
            (ItemResult::Mc(m), "acc_norm") => out.push((m.id.clone(), f(m.pred_norm == m.gold))),
            (ItemResult::Loss(l), "example_loss") => out.push((l.id.clone(), l.loss)),
            (ItemResult::Gen(g), "exact_match_strict" | "prompt_level_strict_acc") => out.push((g.id.clone(), f(g.correct))),
            (ItemResult::Gen(g), "exact_match_flexible") => out.push((g.id.clone(), f(g.correct_flexible?))),
            (ItemResult::Gen(g), "prompt_level_loose_acc") => out.push((g.id.clone(), f(g.correct_loose?))),
            (ItemResult::Gen(g), "inst_level_strict_acc" | "inst_level_loose_acc") => {
                for (k, o) in g.instructions.as_ref()?.iter().enumerate() {
                    out.push((format!("{}#{k}", g.id), f(if metric.contains("strict") { o.strict } else { o.loose })));
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A model's value of a metric, with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Value {
    /// The metric.
    pub value: f64,
    /// Its standard error.
    pub stderr: f64,
}

/// The alignment tax of a model against the base on one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tax {
    /// base − model.
    pub tax: f64,
    /// Standard error of `tax`.
    pub stderr: f64,
    /// Whether it is paired over the same items.
    pub paired: bool,
}

/// One row of the comparison: a benchmark's metric across models.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Benchmark.
    pub benchmark: String,
    /// Metric.
    pub metric: String,
    /// Per model (in column order), if it has this result.
    pub values: Vec<Option<Value>>,
    /// Per model, the tax against the base (`None` for the base and for missing results).
    pub taxes: Vec<Option<Tax>>,
}

/// The tax of `model` against `base` on `metric`.
pub fn tax(base: &BenchmarkResult, model: &BenchmarkResult, metric: &str) -> Option<Tax> {
    let bv = *base.metrics.get(metric)?;
    let mv = *model.metrics.get(metric)?;
    if let (Some(bs), Some(ms)) = (metric_samples(base, metric), metric_samples(model, metric)) {
        let mine: HashMap<&str, f64> = ms.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let diffs: Vec<f64> = bs.iter().filter_map(|(k, b)| mine.get(k.as_str()).map(|m| b - m)).collect();
        if !diffs.is_empty() && diffs.len() == bs.len() && diffs.len() == ms.len() {
            return Some(Tax { tax: mean(&diffs), stderr: stderr(&diffs), paired: true });
        }
    }
    let se = |r: &BenchmarkResult| r.metrics.get(&format!("{metric}_stderr")).copied().unwrap_or(0.0);
    Some(Tax { tax: bv - mv, stderr: (se(base).powi(2) + se(model).powi(2)).sqrt(), paired: false })
}

/// The comparison rows; `models[base]` is the reference.
pub fn compare(models: &[ModelResults], base: usize) -> Vec<Row> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for m in models {
        for (b, r) in &m.results {
            for metric in headline_metrics(r) {
                if !keys.contains(&(b.clone(), metric.clone())) {
                    keys.push((b.clone(), metric));
                }
            }
        }
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    keys.into_iter()
        .map(|(benchmark, metric)| {
            let values = models
                .iter()
                .map(|m| {
                    let r = m.results.get(&benchmark)?;
                    Some(Value {
                        value: *r.metrics.get(&metric)?,
                        stderr: r.metrics.get(&format!("{metric}_stderr")).copied().unwrap_or(0.0),
                    })
                })
                .collect();
            let base_r = models.get(base).and_then(|m| m.results.get(&benchmark));
            let taxes = models
                .iter()
                .enumerate()
                .map(|(i, m)| if i == base { None } else { tax(base_r?, m.results.get(&benchmark)?, &metric) })
                .collect();
            Row { benchmark, metric, values, taxes }
        })
        .collect()
}

fn pct(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

/// The rows as a Markdown table (values and taxes in percentage points, ± one standard error).
pub fn to_markdown(models: &[ModelResults], base: usize, rows: &[Row]) -> String {
    let mut head = vec!["benchmark".to_string(), "metric".to_string()];
    for (i, m) in models.iter().enumerate() {
        head.push(if i == base { format!("{} (base)", m.label) } else { m.label.clone() });
        if i != base {
            head.push(format!("tax {}", m.label));
        }
    }
    let mut out = format!("| {} |\n|{}|\n", head.join(" | "), head.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
    for r in rows {
        let mut cells = vec![r.benchmark.clone(), r.metric.clone()];
        for i in 0..models.len() {
            cells.push(r.values[i].map(|v| format!("{} ± {}", pct(v.value), pct(v.stderr))).unwrap_or_else(|| "–".into()));
            if i != base {
                cells.push(
                    r.taxes[i]
                        .map(|t| format!("{:+.1} ± {}{}", 100.0 * t.tax, pct(t.stderr), if t.paired { "" } else { " (unpaired)" }))
                        .unwrap_or_else(|| "–".into()),
                );
            }
        }
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// The rows as CSV, one line per (benchmark, metric, model), raw fractions.
pub fn to_csv(models: &[ModelResults], base: usize, rows: &[Row]) -> String {
    let mut out = String::from("benchmark,metric,model,is_base,value,stderr,tax,tax_stderr,paired\n");
    for r in rows {
        for (i, m) in models.iter().enumerate() {
            let Some(v) = r.values[i] else { continue };
            let (t, ts, p) = match r.taxes[i] {
                Some(t) => (t.tax.to_string(), t.stderr.to_string(), t.paired.to_string()),
                None => (String::new(), String::new(), String::new()),
            };
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                csv_field(&r.benchmark),
                csv_field(&r.metric),
                csv_field(&m.label),
                i == base,
                v.value,
                v.stderr,
                t,
                ts,
                p
            ));
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests;
