//! Bad benchmark input: a file of the wrong format, items without a gold answer, and requests
//! longer than the context window (on the tiny fixture model, no downloads).

use crate::common::{fixture, load_cpu_f32};
use dtm_studio::engine::eval::results::ItemResult;
use dtm_studio::engine::eval::{evaluate, load_benchmark, BenchSpec, EvalError, EvalOptions, ModelIdentity};
use dtm_studio::engine::job::{CancelToken, EventSink};

fn who() -> ModelIdentity {
    ModelIdentity { model: "tiny-llama".into(), adapter: None, model_sha256: "test".into(), adapter_sha256: None }
}

const ARC_ROWS: &str = r#"{"id": "q1", "question": {"stem": "Which is a planet?", "choices": [{"text": "Mars", "label": "A"}, {"text": "the Moon", "label": "B"}]}, "answerKey": "A"}
{"id": "q2", "question": {"stem": "Which is wet?", "choices": [{"text": "water", "label": "A"}, {"text": "sand", "label": "B"}]}}
{"id": "q3", "question": {"stem": "What melts ice?", "choices": [{"text": "heat", "label": "1"}, {"text": "a very long answer that goes on and on and will not fit", "label": "2"}]}, "answerKey": "1"}
"#;

#[test]
fn eval_wrong_format_names_the_expected_format() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("arc.csv");
    std::fs::write(&csv, "question,A,B,C,D,answer\nWhat?,a,b,c,d,A\n").unwrap();
    let err = load_benchmark(&BenchSpec { name: "arc".into(), path: csv.clone(), extra: None }).unwrap_err();
    assert!(matches!(err, EvalError::WrongFormat { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("arc.csv") && msg.contains("ARC/OpenBookQA JSONL") && msg.contains("answerKey"), "{msg}");
    let err = load_benchmark(&BenchSpec { name: "truthfulqa_mc1".into(), path: csv, extra: None }).unwrap_err().to_string();
    assert!(err.contains("mc_task.json"), "{err}");
    let err = load_benchmark(&BenchSpec { name: "mmlu".into(), path: dir.path().to_path_buf(), extra: None }).unwrap_err().to_string();
    assert!(err.contains("MMLU CSV folder"), "{err}");
}

#[test]
fn eval_items_without_gold_are_skipped_and_reported_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("arc.jsonl");
    std::fs::write(&p, ARC_ROWS).unwrap();
    let bench = load_benchmark(&BenchSpec { name: "arc".into(), path: p.clone(), extra: None }).unwrap();
    assert_eq!(bench.items.len(), 2);
    assert_eq!(bench.skipped.len(), 1);
    let s = bench.skipped[0].to_string();
    assert!(s.ends_with("arc.jsonl:2: no gold answer: 'answerKey' is missing or empty"), "{s}");
    let m = load_cpu_f32(&fixture("tiny-llama"));
    let r = evaluate(&m, &bench, &EvalOptions::default(), &who(), &EventSink::discard(), &CancelToken::new()).unwrap();
    assert_eq!(r.n, 2);
    assert_eq!(r.config.skipped_rows, 1);
    assert!(r.config.skipped_examples[0].contains(":2: no gold answer"));
    // Labels "1"/"2" map to indices like "A"/"B".
    let ItemResult::Mc(q3) = &r.items[1] else { panic!("multiple choice") };
    assert_eq!((q3.id.as_str(), q3.gold), ("q3", 0));
}

#[test]
fn eval_requests_longer_than_the_window_are_cut_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("arc.jsonl");
    std::fs::write(&p, ARC_ROWS).unwrap();
    let bench = load_benchmark(&BenchSpec { name: "arc".into(), path: p, extra: None }).unwrap();
    let m = load_cpu_f32(&fixture("tiny-llama"));
    let full = evaluate(&m, &bench, &EvalOptions::default(), &who(), &EventSink::discard(), &CancelToken::new()).unwrap();
    assert_eq!((full.config.truncated_items, full.config.continuations_cut), (0, 0));
    let (sink, rx) = EventSink::channel();
    let short =
        evaluate(&m, &bench, &EvalOptions { max_length: Some(12), ..Default::default() }, &who(), &sink, &CancelToken::new()).unwrap();
    assert_eq!(short.config.max_length, 12);
    assert_eq!(short.config.truncated_items, 2, "both items exceed 12 tokens");
    assert!(short.config.continuations_cut >= 1, "the long answer itself does not fit");
    let ItemResult::Mc(q3) = &short.items[1] else { panic!("multiple choice") };
    assert!(q3.truncated);
    let logs: Vec<String> =
        rx.try_iter().filter_map(|e| if let dtm_studio::engine::job::Event::Log { line, .. } = e { Some(line) } else { None }).collect();
    assert!(logs.iter().any(|l| l.contains("did not fit the 12-token window")), "{logs:?}");
    // Cutting changes the scores: the truncated run is not the full one.
    let ItemResult::Mc(q3_full) = &full.items[1] else { panic!("multiple choice") };
    assert_ne!(q3.choices[1].loglik, q3_full.choices[1].loglik);
}
