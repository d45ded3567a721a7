//! The `eval`, `compare` and `diagnose` commands end to end on the tiny fixture model, and the
//! held-out response loss against a direct computation.

use crate::common::{fixture, load_cpu_f32, read_json};
use candle_core::{IndexOp, Tensor};
use clap::Parser;
use dtm_studio::cli::{run, Cli};
use dtm_studio::engine::data::prompt::PromptOptions;
use dtm_studio::engine::data::split::split_train_val;
use dtm_studio::engine::eval::heldout::HeldoutOptions;
use dtm_studio::engine::eval::results::ItemResult;
use dtm_studio::engine::eval::{evaluate, load_benchmark, BenchSpec, EvalOptions, ModelIdentity};
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::model::generate::log_softmax;

const ARC: &str = r#"{"id": "q1", "question": {"stem": "Which is a planet?", "choices": [{"text": "Mars", "label": "A"}, {"text": "the Moon", "label": "B"}]}, "answerKey": "A"}
{"id": "q2", "question": {"stem": "Which is wet?", "choices": [{"text": "water", "label": "A"}, {"text": "sand", "label": "B"}]}, "answerKey": "A"}
"#;

fn cli(args: &[&str]) -> anyhow::Result<()> {
    let parsed = Cli::try_parse_from(std::iter::once("dtm-studio").chain(args.iter().copied()))?;
    run(parsed.command.expect("a subcommand"))
}

#[test]
fn eval_cli_writes_results_that_compare_reads() {
    let dir = tempfile::tempdir().unwrap();
    let arc = dir.path().join("arc.jsonl");
    std::fs::write(&arc, ARC).unwrap();
    let model = fixture("tiny-llama");
    let (a, b) = (dir.path().join("base"), dir.path().join("tuned"));
    for out in [&a, &b] {
        let bench = format!("arc:{}", arc.display());
        cli(&[
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--bench",
            &bench,
            "--out",
            out.to_str().unwrap(),
            "--device",
            "cpu",
            "--batch",
            "3",
        ])
        .unwrap();
    }
    let json = read_json(&a.join("arc.json"));
    assert_eq!(json["n"], 2);
    assert_eq!(json["config"]["batch"], 3);
    assert_eq!(json["config"]["model_sha256"].as_str().unwrap().len(), 64);
    cli(&["compare", a.to_str().unwrap(), b.to_str().unwrap(), "--csv", dir.path().join("t.csv").to_str().unwrap()]).unwrap();
    let csv = std::fs::read_to_string(dir.path().join("t.csv")).unwrap();
    // The same model twice: zero tax, paired.
    assert!(csv.lines().any(|l| l.starts_with("arc,acc,tuned,false,") && l.ends_with(",0,0,true")), "{csv}");
    let err = cli(&["compare", a.to_str().unwrap(), "--base", "nope"]).unwrap_err().to_string();
    assert!(err.contains("--base nope"), "{err}");
    let err = cli(&["eval", "--model", model.to_str().unwrap(), "--bench", "sciq:x.jsonl", "--out", "o"]).unwrap_err().to_string();
    assert!(err.contains("known names"), "{err}");
}

#[test]
fn eval_cli_diagnose_reads_trainer_state() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("trainer_state.json");
    std::fs::write(&p, r#"{"evals": [{"step": 0, "train_loss": 2.0, "val_loss": 2.1}, {"step": 50, "train_loss": 1.5, "val_loss": 1.9}]}"#)
        .unwrap();
    cli(&["diagnose", p.to_str().unwrap()]).unwrap();
    cli(&["diagnose", p.to_str().unwrap(), "--json"]).unwrap();
    std::fs::write(&p, "{\"log\": []}").unwrap();
    assert!(cli(&["diagnose", p.to_str().unwrap()]).unwrap_err().to_string().contains("at least 2"));
}

#[test]
fn eval_heldout_loss_matches_a_direct_computation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("alpaca.json");
    let rows: Vec<serde_json::Value> = (0..40)
        .map(|i| serde_json::json!({"instruction": format!("Count to {i}."), "input": "", "output": format!("Here: {}", (0..i % 7 + 1).map(|k| k.to_string()).collect::<Vec<_>>().join(" "))}))
        .collect();
    std::fs::write(&data, serde_json::to_string(&rows).unwrap()).unwrap();
    let m = load_cpu_f32(&fixture("tiny-llama"));
    let bench = load_benchmark(&BenchSpec { name: "heldout".into(), path: data, extra: None }).unwrap();
    // The tiny model's window is 128 tokens, so examples are cut there as training would.
    let heldout = HeldoutOptions { val_fraction: 0.25, prompt: PromptOptions { max_len: 128, ..Default::default() }, ..Default::default() };
    let opts = EvalOptions { heldout, batch: 4, ..Default::default() };
    let who = ModelIdentity { model: "tiny".into(), adapter: None, model_sha256: String::new(), adapter_sha256: None };
    let r = evaluate(&m, &bench, &opts, &who, &EventSink::discard(), &CancelToken::new()).unwrap();
    let (_, val) = split_train_val(40, 0.25, 200, 42);
    assert_eq!(r.n, 10);
    let ids: Vec<String> =
        r.items.iter().map(|it| if let ItemResult::Loss(l) = it { l.id.clone() } else { panic!("loss items") }).collect();
    assert_eq!(ids, val.iter().map(|i| format!("row-{i}")).collect::<Vec<_>>());
    assert!((r.metrics["perplexity"] - r.metrics["loss"].exp()).abs() < 1e-9);
    // Direct: the first held-out example through the differentiable forward, one sequence.
    let ItemResult::Loss(first) = &r.items[0] else { panic!("loss items") };
    let ex = dtm_studio::engine::eval::heldout::validation_slice(
        &match &bench.items {
            dtm_studio::engine::eval::task::Items::Heldout(e) => e.clone(),
            _ => panic!("heldout items"),
        },
        &m.tokenizer,
        &opts.heldout,
    )
    .unwrap()[0]
        .1
        .clone();
    let input = Tensor::new(ex.input_ids.as_slice(), m.model.device()).unwrap().unsqueeze(0).unwrap();
    let lsm: Vec<Vec<f32>> = log_softmax(&m.model.forward(&input).unwrap()).unwrap().i(0).unwrap().to_vec2().unwrap();
    let (mut nll, mut n) = (0f64, 0usize);
    for p in 0..ex.input_ids.len() - 1 {
        if ex.labels[p + 1] >= 0 {
            nll -= lsm[p][ex.labels[p + 1] as usize] as f64;
            n += 1;
        }
    }
    assert_eq!(first.tokens, n);
    assert!((first.loss - nll / n as f64).abs() < 1e-4, "{} vs {}", first.loss, nll / n as f64);
}
