//! Tests of the report on synthetic results, runs and splits: every file is written, the PNGs
//! are PNGs of the chart size, `report.md` has a row per model and only finite numbers, charts
//! without input are skipped with a sentence, and a merge that loses to vanilla is said to.

use super::*;
use crate::engine::cluster::keywords::Keyword;
use crate::engine::cluster::output::{Portion, ProjectionInfo, Quality, CLUSTERS_FORMAT};
use crate::engine::eval::metrics::{mean, stderr};
use crate::engine::eval::results::{BenchmarkResult, ChoiceResult, GenItemResult, ItemResult, McItemResult, RunConfig};
use crate::engine::train::config::TrainConfig;
use crate::engine::train::state::{EvalEntry, LogEntry, RunStatus};
use std::collections::BTreeMap;

/// A deterministic number in [0, 1) from a key (splitmix64).
fn unit(key: u64) -> f64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn config() -> RunConfig {
    RunConfig {
        fewshot: 0,
        limit: None,
        seed: 1234,
        prompt_example: String::new(),
        prompt_format: "arc".into(),
        kind: "multiple_choice".into(),
        model_sha256: String::new(),
        adapter_sha256: None,
        data_path: String::new(),
        data_sha256: String::new(),
        batch: 1,
        max_length: 2048,
        truncated_items: 0,
        continuations_cut: 0,
        skipped_rows: 0,
        skipped_examples: Vec::new(),
        max_new_tokens: None,
        stop: Vec::new(),
        dtype: "f32".into(),
        device: "cpu".into(),
        seconds: 0.0,
        dtm_studio_version: "test".into(),
    }
}

/// A benchmark result of `n` items where the model gets about a fraction `p` right; items share
/// their difficulty across models (so paired errors are small) and `model_seed` adds noise.
pub(super) fn result(benchmark: &str, n: usize, p: f64, model_seed: u64, generative: bool) -> BenchmarkResult {
    let bench_seed = benchmark.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    let correct: Vec<bool> = (0..n)
        .map(|i| {
            let (i, m) = (i as u64, model_seed.wrapping_mul(7_919));
            unit(bench_seed.wrapping_mul(1_000_003).wrapping_add(i)) + 0.15 * (unit(m.wrapping_add(bench_seed).wrapping_add(i * 13)) - 0.5)
                < p
        })
        .collect();
    let items = correct
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let id = format!("{benchmark}-{i}");
            if generative {
                ItemResult::Gen(GenItemResult {
                    id,
                    gold: Some("4".into()),
                    generated: if c { "4" } else { "5" }.into(),
                    correct: c,
                    pred_strict: None,
                    pred_flexible: None,
                    correct_flexible: None,
                    correct_loose: None,
                    instructions: None,
                    generated_tokens: 1,
                })
            } else {
                let choices = vec![
                    ChoiceResult { text: "a".into(), loglik: -1.0, chars: 1 },
                    ChoiceResult { text: "b".into(), loglik: -2.0, chars: 1 },
                ];
                ItemResult::Mc(McItemResult {
                    id,
                    gold: 0,
                    pred: usize::from(!c),
                    pred_norm: usize::from(!c),
                    choices,
                    group: None,
                    score: None,
                    truncated: false,
                })
            }
        })
        .collect();
    let acc: Vec<f64> = correct.iter().map(|&c| f64::from(u8::from(c))).collect();
    let metric = if generative { "exact_match_strict" } else { "acc" };
    let metrics: BTreeMap<String, f64> =
        [(metric.to_string(), mean(&acc)), (format!("{metric}_stderr"), stderr(&acc))].into_iter().collect();
    BenchmarkResult { benchmark: benchmark.into(), model: "m".into(), adapter: None, n, metrics, config: config(), items }
}

/// Models with their offsets from the base per benchmark (fractions).
pub(super) fn models(labels_offsets: &[(&str, f64)]) -> Vec<ModelResults> {
    let benches =
        [("arc_challenge", 300, 0.45, false), ("mmlu", 500, 0.48, false), ("truthfulqa_mc1", 200, 0.30, false), ("gsm8k", 250, 0.15, true)];
    labels_offsets
        .iter()
        .enumerate()
        .map(|(m, (label, offset))| ModelResults {
            label: label.to_string(),
            results: benches
                .iter()
                .enumerate()
                .map(|(b, (name, n, p, gen))| {
                    let bump = if *gen && m > 0 { 0.04 } else { 0.0 } + offset * (1.0 + 0.3 * b as f64);
                    (name.to_string(), result(name, *n, p + bump, m as u64 + 1, *gen))
                })
                .collect(),
        })
        .collect()
}

/// A run of `steps` logged steps with an evaluation every 5 steps (validation loss when `val`,
/// levelling off after about `val_steps` steps).
pub(super) fn run(name: &str, steps: u64, level: f64, val: bool) -> TrainerState {
    run_with(name, steps, level, if val { Some(8.0) } else { None })
}

/// [`run`] with the validation loss's time constant in steps.
pub(super) fn run_with(name: &str, steps: u64, level: f64, val_steps: Option<f64>) -> TrainerState {
    let val = val_steps.is_some();
    let log = (1..=steps)
        .map(|s| {
            let t = s as f64;
            let loss = level + 1.2 * (-t / 10.0).exp() + 0.12 * (unit((s * 17).wrapping_add(level.to_bits())) - 0.5);
            LogEntry { step: s, loss, lr: 3e-4, grad_norm: 0.5, tokens_per_s: 900.0 }
        })
        .collect();
    let evals = (0..=steps)
        .step_by(5)
        .map(|s| {
            let t = s as f64;
            let train_loss = level + 1.1 * (-t / 10.0).exp();
            let val_loss = val_steps.map(|k| level + 0.25 + 0.9 * (-t / k).exp() + 0.0005 * t);
            EvalEntry { step: s, train_loss, val_loss }
        })
        .collect();
    TrainerState {
        run: name.into(),
        status: RunStatus::Finished,
        message: None,
        global_step: steps,
        total_steps: steps,
        checkpoint_step: Some(steps),
        train_examples: 800,
        val_examples: if val { 40 } else { 0 },
        log,
        evals,
        config: TrainConfig::quick(),
    }
}

/// `rows` points in `k` blobs on the map, assigned to their blob.
pub(super) fn clusters(rows: usize, k: usize) -> ClustersFile {
    let centres: Vec<[f32; 2]> = (0..k).map(|p| [3.0 * (p as f32 * 1.9).cos(), 2.0 * (p as f32 * 1.9).sin()]).collect();
    let assignment: Vec<u32> = (0..rows).map(|i| (unit(i as u64 * 3 + 1) * k as f64) as u32).collect();
    let coords_2d = assignment
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let (u, v) = (unit(i as u64 * 5 + 2).max(1e-9), unit(i as u64 * 5 + 3));
            let r = (-2.0 * u.ln()).sqrt() as f32 * 0.7;
            let th = (std::f64::consts::TAU * v) as f32;
            [centres[a as usize][0] + r * th.cos(), centres[a as usize][1] + r * th.sin()]
        })
        .collect();
    let words = [["python", "code", "function"], ["story", "poem", "write"], ["math", "number", "solve"], ["health", "food", "explain"]];
    let portions = (0..k)
        .map(|p| Portion {
            id: p,
            label: None,
            size: assignment.iter().filter(|&&a| a as usize == p).count(),
            keywords: words[p % words.len()].iter().map(|w| Keyword { word: w.to_string(), score: 0.5 }).collect(),
            representatives: Vec::new(),
            centroid_2d: centres[p],
        })
        .collect();
    ClustersFile {
        format: CLUSTERS_FORMAT.into(),
        method: "kmeans".into(),
        k,
        seed: 0,
        by_field: None,
        data_sha256: "abc".into(),
        encoder: "builtin-tfidf".into(),
        field: "instruction".into(),
        rows,
        assignment,
        coords_2d,
        projection: ProjectionInfo { method: "pca-exact".into(), explained_variance_ratio: [0.31, 0.18] },
        centroids: vec![vec![0.0]; k],
        portions,
        quality: Quality { sizes: Vec::new(), inertia: 0.0, silhouette: None, silhouette_rows: 0, iterations: None },
        elbow: None,
    }
}

/// The realistic input: 4 benchmarks; base, vanilla, 4 sub-models and a merge; two runs; 1,000
/// clustered points.
pub(super) fn realistic_input() -> ReportInput {
    let labels = [
        ("base", 0.0),
        ("vanilla", -0.02),
        ("sub-0", -0.012),
        ("sub-1", -0.025),
        ("sub-2", -0.008),
        ("sub-3", -0.018),
        ("merge-linear", -0.006),
    ];
    ReportInput {
        title: "DTM report: synthetic run".into(),
        settings: vec![("K".into(), "4".into()), ("merge".into(), "linear, weights 1/4".into())],
        models: models(&labels),
        runs: vec![run_with("vanilla", 50, 1.0, Some(12.0)), run_with("sub-0", 50, 0.85, Some(9.0))],
        clusters: Some(clusters(1000, 4)),
    }
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |s: &[u8]| u32::from_be_bytes([s[0], s[1], s[2], s[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn report_writes_every_file_and_the_charts_are_pngs_of_the_chart_size() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(&realistic_input(), dir.path()).unwrap();
    assert!(files.skipped.is_empty(), "{:?}", files.skipped);
    let names: Vec<String> = files.paths().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["report.md", "results.csv", "scores.png", "tax.png", "loss.png", "lrr.png", "clusters.png"]);
    for chart in &files.charts {
        let bytes = std::fs::read(chart).unwrap();
        assert_eq!(png_size(&bytes), (style::WIDTH_PX, style::HEIGHT_PX), "{}", chart.display());
        // Not a blank canvas: the encoded picture has some content.
        assert!(bytes.len() > 5_000, "{} is {} bytes", chart.display(), bytes.len());
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left: {leftovers:?}");
    let csv = std::fs::read_to_string(&files.csv).unwrap();
    let rows = compare(&realistic_input().models, 0);
    assert_eq!(csv, to_csv(&realistic_input().models, 0, &rows), "the same numbers as `compare`");
}

#[test]
fn report_md_has_a_row_per_model_the_charts_and_only_finite_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let input = realistic_input();
    let files = write_report(&input, dir.path()).unwrap();
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    assert!(md.starts_with("# DTM report: synthetic run\n"), "{md}");
    assert!(md.contains("| K | 4 |"));
    for m in input.models.iter().skip(1) {
        assert!(md.lines().any(|l| l.starts_with(&format!("| {} | ", m.label))), "a tax row for {}:\n{md}", m.label);
    }
    for r in &input.runs {
        assert!(md.lines().any(|l| l.starts_with(&format!("| {} | finished | 50 / 50 |", r.run))), "a run row for {}:\n{md}", r.run);
    }
    for kind in ChartKind::ALL {
        assert!(md.contains(&format!("]({})", kind.file_name())), "{} embedded", kind.file_name());
    }
    for bad in ["NaN", "inf", "n/a"] {
        assert!(!md.contains(bad), "no '{bad}' in a complete report:\n{md}");
    }
    assert!(md.contains("| 0 | ") && md.contains("python, code, function"), "portion sizes and keywords:\n{md}");
    assert!(md.contains("### Merges against vanilla"));
}

#[test]
fn report_skips_charts_without_input_says_why_and_removes_stale_copies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("loss.png"), b"old").unwrap();
    let input =
        ReportInput { title: "Base only".into(), settings: Vec::new(), models: models(&[("base", 0.0)]), runs: Vec::new(), clusters: None };
    let files = write_report(&input, dir.path()).unwrap();
    let skipped: Vec<&str> = files.skipped.iter().map(|s| s.kind.file_name()).collect();
    assert_eq!(skipped, ["tax.png", "loss.png", "lrr.png", "clusters.png"]);
    assert_eq!(files.charts, vec![dir.path().join("scores.png")]);
    assert!(!dir.path().join("loss.png").exists(), "a stale chart is removed");
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    assert!(md.contains("_tax.png was not drawn: only the base model was given"), "{md}");
    assert!(md.contains("_loss.png was not drawn: no training runs were given._"), "{md}");
    assert!(md.contains("_clusters.png was not drawn: no clusters file was given._"), "{md}");
    assert!(!md.contains("](loss.png)"));
    assert!(md.contains("no clusters file was given._\n\n## Files"), "{md}");
}

#[test]
fn report_runs_without_validation_rows_say_n_a_and_skip_the_ratio_chart() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = realistic_input();
    input.runs = vec![run("vanilla", 20, 1.0, false)];
    let files = write_report(&input, dir.path()).unwrap();
    assert_eq!(files.skipped.iter().map(|s| s.kind).collect::<Vec<_>>(), [ChartKind::Lrr]);
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    let row = md.lines().find(|l| l.starts_with("| vanilla | finished |")).unwrap();
    assert!(row.ends_with("| n/a | n/a |"), "{row}");
    assert!(md.contains("_lrr.png was not drawn: no run has two evaluation points with a validation loss"), "{md}");
}

#[test]
fn report_says_plainly_when_a_merge_does_not_beat_vanilla() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = realistic_input();
    input.models = models(&[("base", 0.0), ("vanilla", -0.01), ("merge-ties", -0.05), ("merge-linear", 0.03)]);
    let md = std::fs::read_to_string(write_report(&input, dir.path()).unwrap().markdown).unwrap();
    assert!(md.contains("**`merge-ties` does NOT beat vanilla**"), "{md}");
    assert!(md.contains("`merge-linear` beats vanilla on all 4 benchmarks"), "{md}");
    let mut no_vanilla = realistic_input();
    no_vanilla.models = models(&[("base", 0.0), ("merged", 0.01)]);
    let md = std::fs::read_to_string(write_report(&no_vanilla, dir.path()).unwrap().markdown).unwrap();
    assert!(md.contains("No model is labelled `vanilla`"), "{md}");
}

#[test]
fn report_without_models_is_an_error_and_an_unwritable_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = ReportInput { title: "x".into(), settings: Vec::new(), models: Vec::new(), runs: Vec::new(), clusters: None };
    assert!(matches!(write_report(&empty, dir.path()), Err(ReportError::NoModels)));
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = write_report(&realistic_input(), &file.join("report")).unwrap_err().to_string();
    assert!(err.contains("a-file"), "{err}");
}

/// Renders the realistic report into `$REPORT_LOOK_DIR` (default /tmp/report-look) to look at:
/// `cargo nextest run --run-ignored only -E 'test(report_look)'`.
#[test]
#[ignore = "writes pictures to look at"]
fn report_look() {
    let dir = std::env::var_os("REPORT_LOOK_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| "/tmp/report-look".into());
    let input = realistic_input();
    let files = write_report(&input, &dir).unwrap();
    for p in files.paths() {
        println!("{}", p.display());
    }
    // The inputs as files, for `dtm-studio report` by hand.
    let inputs = dir.join("inputs");
    for m in &input.models {
        for r in m.results.values() {
            std::fs::create_dir_all(inputs.join(&m.label)).unwrap();
            r.write(&inputs.join(&m.label)).unwrap();
        }
    }
    for r in &input.runs {
        std::fs::create_dir_all(inputs.join("train").join(&r.run)).unwrap();
        r.write(&inputs.join("train").join(&r.run)).unwrap();
    }
    input.clusters.as_ref().unwrap().save(&inputs.join("clusters.json")).unwrap();
}

/// A crowded report to look at: 10 models with long names, 7 benchmarks, 8 portions on
/// 50,000 rows, three runs of 2,000 steps.
#[test]
#[ignore = "writes pictures to look at"]
fn report_look_crowded() {
    let dir =
        std::env::var_os("REPORT_LOOK_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| "/tmp/report-look".into()).join("crowded");
    let mut labels: Vec<(String, f64)> = vec![("base".into(), 0.0), ("vanilla".into(), -0.02)];
    labels.extend((0..6).map(|k| (format!("sub-{k}"), -0.01 - 0.003 * k as f64)));
    labels.push(("merge-ties-density-0.5-lambda-1.0".into(), 0.004));
    labels.push(("merge-linear".into(), -0.001));
    let refs: Vec<(&str, f64)> = labels.iter().map(|(l, o)| (l.as_str(), *o)).collect();
    let mut models = models(&refs);
    for (k, name) in ["hellaswag", "piqa", "boolq"].iter().enumerate() {
        for (m, model) in models.iter_mut().enumerate() {
            model.results.insert(name.to_string(), result(name, 400, 0.6 + 0.05 * k as f64 - 0.004 * m as f64, m as u64 + 1, false));
        }
    }
    let mut runs = vec![run_with("vanilla", 2000, 0.9, Some(300.0))];
    runs.extend((0..2).map(|k| run_with(&format!("sub-{k}"), 500, 0.8 + 0.05 * k as f64, Some(90.0))));
    let input = ReportInput { title: "Crowded".into(), settings: Vec::new(), models, runs, clusters: Some(clusters(50_000, 8)) };
    for p in write_report(&input, &dir).unwrap().paths() {
        println!("{}", p.display());
    }
}
