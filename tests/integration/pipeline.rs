//! The pipeline end to end on the tiny fixture model: a project runs every stage, a cancelled
//! training resumes, a changed merge weight re-runs only that merge, its evaluations and the
//! report, a finished project returns at once, and bad project files are refused before any work.

use crate::common::fixture;
use dtm_studio::engine::job::{CancelToken, Event, EventSink};
use dtm_studio::engine::pipeline::{project_status, run_project, Action, PipelineError, Project, RunOptions, StageState};
use dtm_studio::engine::train::state::TrainerState;
use std::path::Path;
use std::time::Instant;

const WORDS: &[&str] = &["apple", "river", "stone", "cloud", "garden", "engine", "music", "paper", "silver", "window"];

const ARC: &str = r#"{"id": "q1", "question": {"stem": "Which is a planet?", "choices": [{"text": "Mars", "label": "A"}, {"text": "the Moon", "label": "B"}]}, "answerKey": "A"}
{"id": "q2", "question": {"stem": "Which is wet?", "choices": [{"text": "water", "label": "A"}, {"text": "sand", "label": "B"}]}, "answerKey": "A"}
{"id": "q3", "question": {"stem": "What melts ice?", "choices": [{"text": "heat", "label": "A"}, {"text": "cold", "label": "B"}]}, "answerKey": "A"}
"#;

/// A project folder with data, a benchmark and a dtm.toml (the first merge's weights, if any, and
/// the training steps).
pub fn project(dir: &Path, merge_weights: &str, max_steps: u64) {
    let rows: Vec<serde_json::Value> = (0..40)
        .map(|i| {
            let (a, b) = (WORDS[i % WORDS.len()], WORDS[(i * 7 + 3) % WORDS.len()]);
            let topic = if i % 2 == 0 { "count" } else { "name" };
            serde_json::json!({"instruction": format!("{topic} {a} {b} {i}?"), "input": "", "output": format!("{b} {a}.")})
        })
        .collect();
    std::fs::write(dir.join("data.json"), serde_json::to_string(&rows).unwrap()).unwrap();
    std::fs::write(dir.join("arc.jsonl"), ARC).unwrap();
    let toml = format!(
        r#"[data]
path = "data.json"
template = "chat"
val_fraction = 0.1

[model]
path = "{model}"
dtype = "f32"

[disperse]
method = "balanced"
k = 2

[train]
preset = "quick"
lora_r = 4
lora_alpha = 8.0
targets = ["all-linear"]
lr = 0.01
max_steps = {max_steps}
batch = 2
grad_accum = 1
max_len = 128
warmup = 1
eval_every = 2
save_every = 2

[[merge]]
name = "average"
method = "linear"
{weights}

[[merge]]
name = "ties"
method = "ties"
output = "full"

[[eval]]
name = "arc"
path = "arc.jsonl"
batch = 2

[device]
device = "cpu"
"#,
        model = fixture("tiny-llama").display(),
        weights = if merge_weights.is_empty() { String::new() } else { format!("weights = [{merge_weights}]") }
    );
    std::fs::write(dir.join("dtm.toml"), toml).unwrap();
}

fn run(dir: &Path) -> Result<Vec<(String, Action)>, PipelineError> {
    run_project(dir, &RunOptions::default(), &EventSink::discard(), &CancelToken::new()).map(|s| s.stages)
}

fn ran(stages: &[(String, Action)]) -> Vec<String> {
    stages.iter().filter(|(_, a)| matches!(a, Action::Ran { .. })).map(|(s, _)| s.clone()).collect()
}

#[test]
fn pipeline_runs_every_stage_resumes_a_cancelled_run_and_reruns_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    project(dir, "0.5, 0.5", 4);
    // Cancel while the first sub-model trains.
    let (sink, rx) = EventSink::channel();
    let cancel = CancelToken::new();
    let stopper = cancel.clone();
    rx.set_waker(move |e| {
        if matches!(e, Event::Progress { stage, step, .. } if stage == "train sub-0" && *step == 2) {
            stopper.cancel("test stop");
        }
    });
    let err = run_project(dir, &RunOptions::default(), &sink, &cancel).unwrap_err();
    assert!(matches!(err, PipelineError::Cancelled(_)), "{err}");
    let stopped = TrainerState::read(&dir.join("train/sub-0")).unwrap().unwrap();
    assert_eq!(stopped.global_step, 2);
    assert!(!dir.join(".dtm/lock").exists(), "the lock is released");
    // Resume: the finished stages are not redone.
    let stages = run(dir).unwrap();
    let redone = ran(&stages);
    assert!(!redone.iter().any(|s| s == "data" || s == "embed" || s == "cluster" || s == "train:vanilla"), "{redone:?}");
    assert!(redone.contains(&"train:sub-0".to_string()) && redone.contains(&"report".to_string()));
    let resumed = TrainerState::read(&dir.join("train/sub-0")).unwrap().unwrap();
    assert_eq!((resumed.global_step, resumed.log.len()), (4, 4));
    // The report compares base, vanilla, every sub-model and both merges, with finite numbers.
    let csv = std::fs::read_to_string(dir.join("report/results.csv")).unwrap();
    let md = std::fs::read_to_string(dir.join("report/report.md")).unwrap();
    for label in ["base", "vanilla", "sub-0", "sub-1", "average", "ties"] {
        assert!(md.contains(label) && csv.contains(label), "{label} missing from\n{md}");
    }
    assert!(!csv.contains("NaN") && !csv.contains("inf"), "{csv}");
    for chart in ["scores.png", "tax.png", "loss.png", "clusters.png"] {
        let png = std::fs::read(dir.join("report").join(chart)).unwrap_or_else(|e| panic!("{chart}: {e}"));
        assert!(png.starts_with(b"\x89PNG") && png.len() > 1000, "{chart}");
    }
    assert!(dir.join("merge/ties/config.json").is_file() && dir.join("merge/average/adapter_model.safetensors").is_file());
    // Finished: nothing runs, quickly, and every stage is done.
    let started = Instant::now();
    let again = run(dir).unwrap();
    let took = started.elapsed();
    assert!(ran(&again).is_empty(), "{again:?}");
    assert!(took.as_secs_f64() < 1.0, "a finished project took {took:?}");
    let status = project_status(dir).unwrap();
    assert!(status.iter().all(|s| s.state == StageState::Done), "{status:?}");
    // A changed merge weight re-runs that merge, its evaluations and the report only.
    let sub1 = std::fs::read(dir.join("train/sub-1/adapter_model.safetensors")).unwrap();
    let text = std::fs::read_to_string(dir.join("dtm.toml")).unwrap().replace("weights = [0.5, 0.5]", "weights = [0.8, 0.2]");
    std::fs::write(dir.join("dtm.toml"), text).unwrap();
    let stale: Vec<String> = project_status(dir).unwrap().into_iter().filter(|s| s.state != StageState::Done).map(|s| s.stage).collect();
    assert_eq!(stale, vec!["merge:average", "eval:average:arc", "report"]);
    let changed = ran(&run(dir).unwrap());
    assert_eq!(changed, vec!["merge:average", "eval:average:arc", "report"]);
    assert_eq!(std::fs::read(dir.join("train/sub-1/adapter_model.safetensors")).unwrap(), sub1, "sub-models untouched");
}

#[test]
fn pipeline_refuses_bad_project_files_with_key_and_line() {
    let cases: &[(&str, &str, &str)] = &[
        ("path = \"data.json\"", "path = \"missing.json\"", "dtm.toml:2: data.path"),
        ("k = 2", "k = 1", "disperse.k: K = 1"),
        ("method = \"ties\"", "method = \"blend\"", "merge[1].method: merge settings: unknown method 'blend'"),
        ("path = \"arc.jsonl\"", "path = \"nowhere.jsonl\"", "eval[0].path"),
        ("max_steps = 4", "max_steps = 4\nmax_stepz = 3", "unknown field `max_stepz`"),
        ("lora_r = 4", "lora_r = \"four\"", "lora_r"),
        ("lr = 0.01", "lr = 0.01\nschedule = \"wavy\"", "unknown variant `wavy`"),
        ("k = 2", "k = 99", "disperse.k: K = 99 is larger than the 40 rows"),
    ];
    for (from, to, expected) in cases {
        let tmp = tempfile::tempdir().unwrap();
        project(tmp.path(), "", 4);
        let path = tmp.path().join("dtm.toml");
        let text = std::fs::read_to_string(&path).unwrap().replacen(from, to, 1);
        std::fs::write(&path, text).unwrap();
        let err = match Project::load(tmp.path()) {
            Err(e) => e,
            Ok(_) => run(tmp.path()).unwrap_err(),
        };
        let msg = err.to_string();
        assert!(msg.contains(expected), "{to}: {msg}");
        let has_line = msg.contains("line ")
            || msg.split("dtm.toml:").nth(1).is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() && c != '0'));
        assert!(has_line, "{to}: no line in {msg}");
        assert!(!tmp.path().join("data/manifest.json").exists(), "{to}: work started");
    }
}

#[test]
fn pipeline_on_two_devices_runs_stages_side_by_side_to_the_same_report() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    project(one.path(), "0.5, 0.5", 4);
    project(two.path(), "0.5, 0.5", 4);
    let file = two.path().join("dtm.toml");
    let text = std::fs::read_to_string(&file).unwrap().replace("device = \"cpu\"", "devices = [\"cpu\", \"cpu\"]");
    std::fs::write(&file, text).unwrap();
    run(one.path()).unwrap();
    let (sink, rx) = EventSink::channel();
    run_project(two.path(), &RunOptions::default(), &sink, &CancelToken::new()).unwrap();
    drop(sink);
    // Two training stages were running at the same time.
    let (mut running, mut most) = (0usize, 0usize);
    for e in rx.iter() {
        match e {
            Event::StageStarted { stage } if stage.starts_with("train ") => running += 1,
            Event::StageDone { stage, .. } if stage.starts_with("train ") => running -= 1,
            _ => {}
        }
        most = most.max(running);
    }
    assert_eq!(most, 2, "two devices train two runs at once");
    let csv = |dir: &Path| std::fs::read_to_string(dir.join("report/results.csv")).unwrap();
    assert_eq!(csv(one.path()), csv(two.path()));
}

#[test]
fn pipeline_init_writes_a_commented_project_that_loads() {
    let tmp = tempfile::tempdir().unwrap();
    project(tmp.path(), "", 4);
    let dir = tmp.path().join("new");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtm-studio"))
        .args(["init"])
        .arg(&dir)
        .arg("--model")
        .arg(fixture("tiny-llama"))
        .arg("--data")
        .arg(tmp.path().join("data.json"))
        .arg("--bench")
        .arg(format!("arc:{}", tmp.path().join("arc.jsonl").display()))
        .args(["--k", "3", "--preset", "quick"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(dir.join("dtm.toml")).unwrap();
    assert!(text.contains("k = 3") && text.contains("preset = \"quick\"") && text.contains("# "), "{text}");
    let p = Project::load(&dir).unwrap();
    assert_eq!((p.k(), p.evals.len(), p.merges.len(), p.vanilla), (3, 1, 1, true));
    let status = project_status(&dir).unwrap();
    assert_eq!(status.len(), 1 + 1 + 1 + 4 + 1 + 6 + 1, "data, embed, cluster, 4 runs, 1 merge, 6 evals, report");
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_dtm-studio"))
        .args(["init"])
        .arg(&dir)
        .args(["--model", "m", "--data", "d"])
        .output()
        .unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already exists"));
}
