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

/// Runs the built `dtm-studio` with `args`; its standard output, or a panic with its stderr.
fn cli_stdout(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtm-studio")).args(args).output().unwrap();
    assert!(out.status.success(), "dtm-studio {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A trainer state whose evaluations are out of step order, with losses chosen so that every
/// ΔL and ratio below is worked out by hand (binary fractions: exact in f64), and one segment
/// of every kind: normal, validation flat, validation rising, training rising, and the paper's
/// late-training ratio of about 20.
const TRAINER_STATE: &str = r#"{"log": [{"step": 1, "loss": 2.7, "lr": 0.0003, "tokens_per_s": 800.0}],
 "evals": [
  {"step": 0,   "train_loss": 2.0,   "val_loss": 2.5},
  {"step": 200, "train_loss": 1.0,   "val_loss": 2.125},
  {"step": 100, "train_loss": 1.5,   "val_loss": 2.25},
  {"step": 300, "train_loss": 0.75,  "val_loss": 2.125},
  {"step": 400, "train_loss": 0.5,   "val_loss": 2.25},
  {"step": 500, "train_loss": 0.625, "val_loss": 2.0},
  {"step": 600, "train_loss": 0.425, "val_loss": 1.99}
 ]}"#;

/// (start, end, ΔL_train, ΔL_val, ratio, flag) per segment, by hand from [`TRAINER_STATE`].
type Expected = (u64, u64, f64, f64, Option<f64>, Option<&'static str>);

/// Default tolerance (1e-4): only the segment where the validation loss does not move has no ratio.
const BY_HAND: [Expected; 6] = [
    (0, 100, 0.5, 0.25, Some(2.0), None),                     // 0.5 / 0.25
    (100, 200, 0.5, 0.125, Some(4.0), None),                  // 0.5 / 0.125
    (200, 300, 0.25, 0.0, None, Some("val_flat")),            // 2.125 - 2.125 = 0
    (300, 400, 0.25, -0.125, Some(-2.0), Some("val_rose")),   // 2.125 - 2.25 < 0 while train falls
    (400, 500, -0.125, 0.25, Some(-0.5), Some("train_rose")), // 0.5 - 0.625 < 0
    (500, 600, 0.2, 0.01, Some(20.0), None),                  // 0.2 / 0.01: "~20 late"
];

/// `--tolerance 0.2`: every segment with |ΔL_val| < 0.2 (0.125, 0, 0.125, 0.01) is flat; the flat
/// check comes first, so the rising validation loss of 300..400 is reported as flat.
const BY_HAND_TOL_0_2: [Expected; 6] = [
    (0, 100, 0.5, 0.25, Some(2.0), None),
    (100, 200, 0.5, 0.125, None, Some("val_flat")),
    (200, 300, 0.25, 0.0, None, Some("val_flat")),
    (300, 400, 0.25, -0.125, None, Some("val_flat")),
    (400, 500, -0.125, 0.25, Some(-0.5), Some("train_rose")),
    (500, 600, 0.2, 0.01, None, Some("val_flat")),
];

fn close(a: f64, b: f64) -> bool {
    // 1.99 and 0.425 are not binary fractions: allow their rounding, nothing more.
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

fn check_json(json: &str, want: &[Expected]) {
    let got: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("diagnose --json printed no JSON ({e}): {json}"));
    let segs = got.as_array().unwrap_or_else(|| panic!("not an array: {json}"));
    assert_eq!(segs.len(), want.len(), "{json}");
    for (s, &(start, end, dt, dv, ratio, flag)) in segs.iter().zip(want) {
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 6, "{s}");
        assert_eq!((s["start_step"].as_u64(), s["end_step"].as_u64()), (Some(start), Some(end)), "{s}");
        assert!(close(s["delta_train"].as_f64().unwrap(), dt), "ΔL_train of {start}..{end}: {s} vs {dt}");
        assert!(close(s["delta_val"].as_f64().unwrap(), dv), "ΔL_val of {start}..{end}: {s} vs {dv}");
        match ratio {
            Some(r) => assert!(close(s["ratio"].as_f64().unwrap_or(f64::NAN), r), "ratio of {start}..{end}: {s} vs {r}"),
            None => assert!(s["ratio"].is_null(), "ratio of {start}..{end} should be undefined: {s}"),
        }
        assert_eq!(s["flag"].as_str(), flag, "flag of {start}..{end}: {s}");
    }
}

#[test]
fn eval_cli_diagnose_reads_trainer_state() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("trainer_state.json");
    std::fs::write(&p, TRAINER_STATE).unwrap();
    let path = p.to_str().unwrap();
    check_json(&cli_stdout(&["diagnose", path, "--json"]), &BY_HAND);
    check_json(&cli_stdout(&["diagnose", path, "--json", "--tolerance", "0.2"]), &BY_HAND_TOL_0_2);

    // The table: a header, then one row per segment with the same numbers (ΔL to 5 decimals,
    // the ratio to 2, "-" when undefined) and a note for every flag.
    let table = cli_stdout(&["diagnose", path]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1 + BY_HAND.len(), "{table}");
    assert!(lines[0].contains("ΔL_train") && lines[0].contains("ΔL_val") && lines[0].contains("ratio"), "{table}");
    let rows = [
        ["0", "100", "0.50000", "0.25000", "2.00"],
        ["100", "200", "0.50000", "0.12500", "4.00"],
        ["200", "300", "0.25000", "0.00000", "-"],
        ["300", "400", "0.25000", "-0.12500", "-2.00"],
        ["400", "500", "-0.12500", "0.25000", "-0.50"],
        ["500", "600", "0.20000", "0.01000", "20.00"],
    ];
    let notes =
        ["", "", "validation loss flat: ratio undefined", "validation loss rose while training loss fell", "training loss rose", ""];
    for ((line, row), note) in lines[1..].iter().zip(rows).zip(notes) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&cells[..5], &row[..], "{line}");
        assert_eq!(cells[5..].join(" "), note, "{line}");
    }

    // In process, through the same entry point as the binary.
    cli(&["diagnose", path, "--json"]).unwrap();
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
