//! The `report` command end to end: result folders, a training run and a clusters file written
//! to disk, read back by the command, and the report folder it writes.

use clap::Parser;
use dtm_studio::cli::{run, Cli};
use dtm_studio::engine::cluster::output::{ProjectionInfo, Quality, CLUSTERS_FORMAT};
use dtm_studio::engine::cluster::ClustersFile;
use dtm_studio::engine::eval::results::{BenchmarkResult, ChoiceResult, ItemResult, McItemResult, RunConfig};
use dtm_studio::engine::train::config::TrainConfig;
use dtm_studio::engine::train::state::{EvalEntry, LogEntry, RunStatus, TrainerState};
use std::path::Path;

fn cli(args: &[&str]) -> anyhow::Result<()> {
    let parsed = Cli::try_parse_from(std::iter::once("dtm-studio").chain(args.iter().copied()))?;
    run(parsed.command.expect("a subcommand"))
}

/// Writes `dir/<benchmark>.json` for a model that answers the items marked true correctly.
fn write_result(dir: &Path, benchmark: &str, correct: &[bool]) {
    let items: Vec<ItemResult> = correct
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            ItemResult::Mc(McItemResult {
                id: format!("q{i}"),
                gold: 0,
                pred: usize::from(!c),
                pred_norm: usize::from(!c),
                choices: vec![
                    ChoiceResult { text: "a".into(), loglik: -1.0, chars: 1 },
                    ChoiceResult { text: "b".into(), loglik: -2.0, chars: 1 },
                ],
                group: None,
                score: None,
                truncated: false,
            })
        })
        .collect();
    let n = correct.len() as f64;
    let acc = correct.iter().filter(|&&c| c).count() as f64 / n;
    let metrics = [("acc".to_string(), acc), ("acc_stderr".to_string(), (acc * (1.0 - acc) / (n - 1.0)).sqrt())].into_iter().collect();
    let config = RunConfig {
        fewshot: 0,
        limit: None,
        seed: 1234,
        prompt_example: "Question: ...\nAnswer:".into(),
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
    };
    let result =
        BenchmarkResult { benchmark: benchmark.into(), model: "m".into(), adapter: None, n: correct.len(), metrics, config, items };
    std::fs::create_dir_all(dir).unwrap();
    result.write(dir).unwrap();
}

/// `n` answers, the first `right` correct.
fn answers(n: usize, right: usize) -> Vec<bool> {
    (0..n).map(|i| i < right).collect()
}

fn write_run(dir: &Path) {
    let state = TrainerState {
        run: "vanilla".into(),
        status: RunStatus::Finished,
        message: None,
        global_step: 20,
        total_steps: 20,
        checkpoint_step: Some(20),
        train_examples: 100,
        val_examples: 10,
        log: (1..=20).map(|s| LogEntry { step: s, loss: 2.0 - 0.04 * s as f64, lr: 1e-4, grad_norm: 0.5, tokens_per_s: 500.0 }).collect(),
        evals: (0..=4).map(|k| EvalEntry { step: 5 * k, train_loss: 2.0 - 0.2 * k as f64, val_loss: Some(2.1 - 0.1 * k as f64) }).collect(),
        config: TrainConfig::quick(),
    };
    std::fs::create_dir_all(dir).unwrap();
    state.write(dir).unwrap();
}

fn write_clusters(path: &Path) {
    let rows = 40;
    let file = ClustersFile {
        format: CLUSTERS_FORMAT.into(),
        method: "random".into(),
        k: 2,
        seed: 3,
        by_field: None,
        data_sha256: "abc".into(),
        encoder: "builtin".into(),
        field: "instruction".into(),
        rows,
        assignment: (0..rows).map(|i| (i % 2) as u32).collect(),
        coords_2d: (0..rows).map(|i| [(i % 2) as f32 * 2.0 + (i as f32 * 0.37).sin(), (i as f32 * 0.71).cos()]).collect(),
        projection: ProjectionInfo { method: "pca-exact".into(), explained_variance_ratio: [0.4, 0.2] },
        centroids: vec![vec![0.0], vec![1.0]],
        portions: Vec::new(),
        quality: Quality { sizes: vec![20, 20], inertia: 0.0, silhouette: None, silhouette_rows: 0, iterations: None },
        elbow: None,
    };
    file.save(path).unwrap();
}

#[test]
fn report_cli_writes_the_report_of_result_run_and_cluster_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    for (label, arc, mmlu) in [("base", 30, 25), ("vanilla", 26, 22), ("merged", 24, 23)] {
        write_result(&d(label), "arc", &answers(40, arc));
        write_result(&d(label), "mmlu", &answers(50, mmlu));
    }
    write_run(&d("train/vanilla"));
    write_clusters(&d("clusters.json"));
    let out = d("report");
    let s = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
    cli(&[
        "report",
        "--results",
        &s(d("vanilla")),
        &s(d("base")),
        &s(d("merged")),
        "--base",
        "base",
        "--runs",
        &s(d("train/vanilla")),
        "--clusters",
        &s(d("clusters.json")),
        "--out",
        &s(out.clone()),
        "--title",
        "CLI report",
    ])
    .unwrap();
    for name in ["report.md", "results.csv", "scores.png", "tax.png", "loss.png", "lrr.png", "clusters.png"] {
        assert!(out.join(name).is_file(), "{name} written");
    }
    let png = std::fs::read(out.join("tax.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.starts_with("# CLI report\n"), "{md}");
    assert!(md.contains("| base model | base |"), "--base moves the base first:\n{md}");
    // merged: arc 24/40 vs vanilla 26/40 (-5.0 pp), mmlu 23/50 vs 22/50 (+2.0 pp): mean -1.5.
    assert!(md.contains("**`merged` does NOT beat vanilla**: higher on 1 of 2 benchmarks; mean difference -1.5 percentage points"), "{md}");
    assert!(md.contains("| vanilla | finished | 20 / 20 | 100 / 10 | 1.960 → 1.200 | 2.100 → 1.700 |"), "{md}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(csv.lines().any(|l| l.starts_with("arc,acc,base,true,0.75,")), "{csv}");

    let err = cli(&["report", "--results", &s(d("base")), "--base", "nope", "--out", &s(d("r2"))]).unwrap_err().to_string();
    assert!(err.contains("--base nope") && err.contains("base"), "{err}");
    let err = cli(&["report", "--results", &s(d("base")), "--runs", &s(d("base")), "--out", &s(d("r2"))]).unwrap_err().to_string();
    assert!(err.contains("no trainer_state.json"), "{err}");
    // Only the base: the report is still written, the charts that need more are skipped.
    cli(&["report", "--results", &s(d("base")), "--out", &s(d("r3"))]).unwrap();
    let md = std::fs::read_to_string(d("r3").join("report.md")).unwrap();
    assert!(md.contains("_tax.png was not drawn: only the base model was given"), "{md}");
    assert!(!d("r3").join("tax.png").exists());
}
