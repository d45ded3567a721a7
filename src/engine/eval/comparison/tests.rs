//! Tests of the comparison table and the alignment-tax uncertainty.

use super::*;
use crate::engine::eval::results::{ChoiceResult, McItemResult, RunConfig};

fn result(name: &str, correct: &[bool], ids: &[&str]) -> BenchmarkResult {
    let items: Vec<ItemResult> = correct
        .iter()
        .zip(ids)
        .map(|(&c, id)| {
            ItemResult::Mc(McItemResult {
                id: id.to_string(),
                gold: 0,
                pred: if c { 0 } else { 1 },
                pred_norm: 0,
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
    let acc: Vec<f64> = correct.iter().map(|&c| if c { 1.0 } else { 0.0 }).collect();
    let mut metrics = BTreeMap::new();
    metrics.insert("acc".to_string(), mean(&acc));
    metrics.insert("acc_stderr".to_string(), stderr(&acc));
    metrics.insert("acc_norm".to_string(), 1.0);
    metrics.insert("acc_norm_stderr".to_string(), 0.0);
    metrics.insert("acc/sub".to_string(), 0.5);
    let config = RunConfig {
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
        max_length: 8192,
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
    BenchmarkResult { benchmark: name.into(), model: "m".into(), adapter: None, n: items.len(), metrics, config, items }
}

fn model(label: &str, r: BenchmarkResult) -> ModelResults {
    ModelResults { label: label.into(), results: [(r.benchmark.clone(), r)].into_iter().collect() }
}

#[test]
fn paired_tax_uses_the_per_item_differences() {
    let ids = ["a", "b", "c", "d", "e"];
    let base = result("arc", &[true, true, true, false, false], &ids);
    let tuned = result("arc", &[true, false, true, false, true], &ids);
    let t = tax(&base, &tuned, "acc").unwrap();
    // differences base - tuned: 0, 1, 0, 0, -1
    let d = [0.0, 1.0, 0.0, 0.0, -1.0];
    assert!(t.paired);
    assert!((t.tax - mean(&d)).abs() < 1e-12);
    assert!((t.stderr - stderr(&d)).abs() < 1e-12);
    // The paired error is smaller than the unpaired one when the models agree on most items.
    let unpaired = (base.metrics["acc_stderr"].powi(2) + tuned.metrics["acc_stderr"].powi(2)).sqrt();
    assert!(t.stderr < unpaired);
}

#[test]
fn different_item_sets_fall_back_to_unpaired_errors() {
    let base = result("arc", &[true, false, true], &["a", "b", "c"]);
    let other = result("arc", &[true, true], &["a", "b"]);
    let t = tax(&base, &other, "acc").unwrap();
    assert!(!t.paired);
    assert!((t.tax - (2.0 / 3.0 - 1.0)).abs() < 1e-12);
}

#[test]
fn tables_list_headline_metrics_with_tax_columns() {
    let ids = ["a", "b"];
    let models = vec![model("base", result("arc", &[true, true], &ids)), model("dtm", result("arc", &[true, false], &ids))];
    let rows = compare(&models, 0);
    assert_eq!(
        rows.iter().map(|r| r.metric.as_str()).collect::<Vec<_>>(),
        vec!["acc", "acc_norm"],
        "per-subject and stderr keys are not rows"
    );
    let md = to_markdown(&models, 0, &rows);
    assert!(md.contains("| benchmark | metric | base (base) | dtm | tax dtm |"), "{md}");
    assert!(md.contains("| arc | acc | 100.0 ± 0.0 | 50.0 ± 50.0 | +50.0 ± 50.0 |"), "{md}");
    let csv = to_csv(&models, 0, &rows);
    assert!(csv.lines().any(|l| l == "arc,acc,dtm,false,0.5,0.5,0.5,0.5,true"), "{csv}");
}
