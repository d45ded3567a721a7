//! The stage contract, for every stage kind on the tiny fixture model: a stage runs to the end
//! while nobody reads its events (and then they all arrive: started, progress ending at its
//! total, done), and a stage cancelled mid-work returns the one cancelled result within a second.

use crate::common::fixture;
use candle_core::Device;
use dtm_studio::engine::cluster::{run_cluster, ClusterMethod, ClusterOptions, ClusterRequest, EmbeddingSource};
use dtm_studio::engine::data::{run_data_check, DataCheckRequest, LengthCheck, LoadDataOptions, PromptOptions, PromptTemplate};
use dtm_studio::engine::embed::{run_embed, EmbedOptions, EmbedRequest, EncoderRequest, TextField};
use dtm_studio::engine::eval::{run_eval, BenchSpec, EvalOptions, EvalRequest};
use dtm_studio::engine::job::{CancelToken, Event, EventSink, StageError};
use dtm_studio::engine::merge::fisher_run::{run_fisher, FisherRequest};
use dtm_studio::engine::merge::full::FullOptions;
use dtm_studio::engine::merge::{run_merge, MergeMethod, MergeOutput, MergeRequest, MergeSpec};
use dtm_studio::engine::model::chat::{run_generate, GenerateRequest, PromptFormat};
use dtm_studio::engine::model::generate::SamplingConfig;
use dtm_studio::engine::model::lora::LoraSpec;
use dtm_studio::engine::model::{load_model, load_model_stage, LoadOptions, LoadRequest};
use dtm_studio::engine::train::state::{RunStatus, TrainerState};
use dtm_studio::engine::train::{run_sft, SftRequest, TrainConfig};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WORDS: &[&str] = &["apple", "river", "stone", "cloud", "garden", "engine", "music", "paper", "silver", "window"];

/// An Alpaca JSON file of `n` short rows in a temporary folder.
fn alpaca(dir: &Path, n: usize) -> PathBuf {
    let rows: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let (a, b) = (WORDS[i % WORDS.len()], WORDS[(i * 7 + 3) % WORDS.len()]);
            serde_json::json!({"instruction": format!("{a} {b} {i}?"), "input": "", "output": format!("{b} {a}.")})
        })
        .collect();
    let p = dir.join("data.json");
    std::fs::write(&p, serde_json::to_string(&rows).unwrap()).unwrap();
    p
}

fn tiny() -> String {
    fixture("tiny-llama").to_string_lossy().into_owned()
}

fn cpu() -> LoadOptions {
    LoadOptions { device: Device::Cpu, dtype: Some(candle_core::DType::F32), adapter: None, ..Default::default() }
}

fn sft(dir: &Path, data: &Path, run: &str, max_steps: u64) -> SftRequest {
    SftRequest {
        run: run.into(),
        model: tiny(),
        load: cpu(),
        data: data.to_path_buf(),
        data_options: LoadDataOptions::default(),
        rows: None,
        prompt: PromptOptions { template: PromptTemplate::Chat, max_len: 128, ..Default::default() },
        val_fraction: 0.1,
        val_max: 8,
        out_dir: dir.join(run),
        config: TrainConfig {
            lora: LoraSpec { rank: 4, alpha: 8.0, dropout: 0.0, targets: vec!["all-linear".into()], use_rslora: false },
            micro_batch: 2,
            grad_accum: 2,
            max_steps: Some(max_steps),
            max_len: 128,
            eval_every: 2,
            eval_examples: 4,
            warmup_steps: 1,
            ..TrainConfig::quick()
        },
        checkpointing: Default::default(),
        memory_check: true,
    }
}

fn merge_request(out: &Path, output: MergeOutput) -> MergeRequest {
    MergeRequest {
        base: tiny(),
        adapters: (0..3).map(|i| fixture("merge-tiny").join(format!("sub-{i}"))).collect(),
        spec: MergeSpec::new(MergeMethod::Linear),
        output,
        out: out.to_path_buf(),
        full: FullOptions::default(),
        overwrite: false,
    }
}

const ARC: &str = r#"{"id": "q1", "question": {"stem": "Which is a planet?", "choices": [{"text": "Mars", "label": "A"}, {"text": "the Moon", "label": "B"}]}, "answerKey": "A"}
{"id": "q2", "question": {"stem": "Which is wet?", "choices": [{"text": "water", "label": "A"}, {"text": "sand", "label": "B"}]}, "answerKey": "A"}
{"id": "q3", "question": {"stem": "What melts ice?", "choices": [{"text": "heat", "label": "A"}, {"text": "cold", "label": "B"}]}, "answerKey": "A"}
{"id": "q4", "question": {"stem": "Which flies?", "choices": [{"text": "a bird", "label": "A"}, {"text": "a stone", "label": "B"}]}, "answerKey": "A"}
"#;

fn eval_request(dir: &Path) -> EvalRequest {
    let arc = dir.join("arc.jsonl");
    std::fs::write(&arc, ARC).unwrap();
    EvalRequest {
        model: tiny(),
        load: cpu(),
        benchmarks: vec![BenchSpec { name: "arc".into(), path: arc, extra: None }],
        options: EvalOptions { batch: 1, ..Default::default() },
        out_dir: dir.join("eval"),
        model_sha256: None,
    }
}

fn generate_request() -> GenerateRequest {
    GenerateRequest {
        prompt: "Say something".into(),
        format: PromptFormat::Raw,
        sampling: SamplingConfig { max_new_tokens: 24, temperature: 0.8, seed: 7, ..Default::default() },
        ..Default::default()
    }
}

/// Every stage kind, as (stage name, work). The work runs in the temporary folder.
type Work = Box<dyn Fn(&Path, &EventSink, &CancelToken) -> Result<(), Box<dyn StageErrorBox>>>;

/// An error that says whether it is a cancellation.
trait StageErrorBox: std::fmt::Display {
    fn is_cancelled(&self) -> bool;
}

impl<E: StageError> StageErrorBox for E {
    fn is_cancelled(&self) -> bool {
        self.cancelled().is_some()
    }
}

fn boxed<T, E: StageError + 'static>(r: Result<T, E>) -> Result<(), Box<dyn StageErrorBox>> {
    r.map(drop).map_err(|e| Box::new(e) as Box<dyn StageErrorBox>)
}

fn stages() -> Vec<(&'static str, Work)> {
    vec![
        ("load model", Box::new(|_, sink, cancel| boxed(load_model_stage(&LoadRequest { model: tiny(), options: cpu() }, sink, cancel)))),
        (
            "data",
            Box::new(|dir, sink, cancel| {
                let req = DataCheckRequest {
                    path: alpaca(dir, 40),
                    options: LoadDataOptions::default(),
                    lengths: Some(LengthCheck { model: tiny(), prompt: PromptOptions::default() }),
                };
                boxed(run_data_check(&req, sink, cancel))
            }),
        ),
        (
            "embed",
            Box::new(|dir, sink, cancel| {
                let req = EmbedRequest {
                    data: alpaca(dir, 3000),
                    data_options: LoadDataOptions::default(),
                    encoder: EncoderRequest { name: "builtin".into(), device: Device::Cpu, options: EmbedOptions::default() },
                    field: TextField::Instruction,
                    out: dir.join("emb.safetensors"),
                };
                boxed(run_embed(&req, sink, cancel))
            }),
        ),
        (
            "cluster",
            Box::new(|dir, sink, cancel| {
                let req = ClusterRequest {
                    data: alpaca(dir, 200),
                    data_options: LoadDataOptions::default(),
                    embeddings: EmbeddingSource::Encode {
                        encoder: EncoderRequest { name: "builtin".into(), device: Device::Cpu, options: EmbedOptions::default() },
                        field: TextField::Instruction,
                        cache_dir: dir.to_path_buf(),
                    },
                    options: ClusterOptions { method: ClusterMethod::KMeans, k: 3, elbow: true, ..Default::default() },
                    by: None,
                    out: dir.join("clusters.json"),
                };
                boxed(run_cluster(&req, sink, cancel))
            }),
        ),
        ("train t", Box::new(|dir, sink, cancel| boxed(run_sft(&sft(dir, &alpaca(dir, 40), "t", 6), sink, cancel)))),
        (
            "fisher",
            Box::new(|dir, sink, cancel| {
                let adapter = dir.join("adapter");
                std::fs::create_dir_all(&adapter).unwrap();
                for f in ["adapter_config.json", "adapter_model.safetensors"] {
                    std::fs::copy(fixture("merge-tiny").join("sub-0").join(f), adapter.join(f)).unwrap();
                }
                let req = FisherRequest {
                    base: tiny(),
                    adapter,
                    data: alpaca(dir, 12),
                    data_options: LoadDataOptions::default(),
                    rows: None,
                    prompt: PromptOptions { template: PromptTemplate::Chat, max_len: 128, ..Default::default() },
                    samples: 8,
                    seed: 0,
                    device: Device::Cpu,
                };
                boxed(run_fisher(&req, sink, cancel))
            }),
        ),
        ("merge", Box::new(|dir, sink, cancel| boxed(run_merge(&merge_request(&dir.join("adapter"), MergeOutput::Adapter), sink, cancel)))),
        ("merge", Box::new(|dir, sink, cancel| boxed(run_merge(&merge_request(&dir.join("full"), MergeOutput::Full), sink, cancel)))),
        ("eval arc", Box::new(|dir, sink, cancel| boxed(run_eval(&eval_request(dir), sink, cancel)))),
        (
            "generate",
            Box::new(|_, sink, cancel| {
                let loaded = load_model(&tiny(), &cpu()).unwrap();
                boxed(run_generate(&loaded, &generate_request(), sink, cancel, &mut |_| {}))
            }),
        ),
    ]
}

/// The last progress event of `stage`, as (step, total).
fn last_progress(events: &[Event], stage: &str) -> Option<(u64, u64)> {
    events.iter().rev().find_map(|e| match e {
        Event::Progress { stage: s, step, total, .. } if s == stage => Some((*step, *total)),
        _ => None,
    })
}

#[test]
fn stage_contract_nothing_is_lost_or_stalled_while_events_are_not_drained() {
    for (name, work) in stages() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, rx) = EventSink::channel();
        let cancel = CancelToken::new();
        let started = Instant::now();
        let result = work(dir.path(), &sink, &cancel);
        assert!(result.is_ok(), "{name}: {}", result.err().map(|e| e.to_string()).unwrap_or_default());
        // Nobody has read an event while the stage ran; keep it that way for a while longer.
        std::thread::sleep(Duration::from_secs(2).saturating_sub(started.elapsed()));
        drop(sink);
        let events: Vec<Event> = rx.iter().collect();
        assert!(events.contains(&Event::StageStarted { stage: name.into() }), "{name}: no StageStarted");
        assert!(events.iter().any(|e| matches!(e, Event::StageDone { stage, .. } if stage == name)), "{name}: no StageDone in {events:?}");
        let (step, total) = last_progress(&events, name).unwrap_or_else(|| panic!("{name}: no progress"));
        assert!(total > 0 && step == total, "{name}: last progress {step}/{total}");
        // Every stage that started (nested ones too) ended, and ended after its last progress.
        for e in &events {
            if let Event::StageStarted { stage } = e {
                let end = events.iter().rposition(|e| e.ended_stage() == Some(stage.as_str()));
                let progress = events.iter().rposition(|e| matches!(e, Event::Progress { stage: s, .. } if s == stage));
                assert!(end.is_some(), "{name}: nested stage {stage} never ended");
                assert!(progress <= end, "{name}: progress of {stage} after its end");
            }
        }
    }
}

#[test]
fn stage_contract_cancelling_mid_work_returns_the_cancelled_result_within_a_second() {
    for (name, work) in stages() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, rx) = EventSink::channel();
        let cancel = CancelToken::new();
        let cancelled_at: Arc<Mutex<Option<Instant>>> = Arc::default();
        {
            let (cancel, cancelled_at) = (cancel.clone(), cancelled_at.clone());
            rx.set_waker(move |e| {
                if matches!(e, Event::Progress { stage, step, .. } if stage == name && *step >= 1) && !cancel.is_cancelled() {
                    *cancelled_at.lock().unwrap() = Some(Instant::now());
                    cancel.cancel("test stop");
                }
            });
        }
        let result = work(dir.path(), &sink, &cancel);
        let returned = Instant::now();
        let at = cancelled_at.lock().unwrap().unwrap_or_else(|| panic!("{name}: never reached a progress step"));
        let err = result.err().unwrap_or_else(|| panic!("{name}: finished although cancelled"));
        assert!(err.is_cancelled(), "{name}: not the cancelled result: {err}");
        assert_eq!(err.to_string(), "cancelled: test stop", "{name}");
        let took = returned - at;
        eprintln!("{name}: returned {:.1} ms after the cancel", took.as_secs_f64() * 1e3);
        assert!(took < Duration::from_secs(1), "{name}: took {took:?} to notice the cancel");
        drop(sink);
        let events: Vec<Event> = rx.iter().collect();
        assert!(events.contains(&Event::Cancelled { stage: name.into(), reason: "test stop".into() }), "{name}: {events:?}");
    }
}

#[test]
fn stage_contract_cancelled_training_leaves_a_resumable_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = alpaca(dir.path(), 40);
    let req = sft(dir.path(), &data, "sub-0", 6);
    let (sink, rx) = EventSink::channel();
    let cancel = CancelToken::new();
    let stopper = cancel.clone();
    rx.set_waker(move |e| {
        if matches!(e, Event::Progress { stage, step, .. } if stage == "train sub-0" && *step == 3) {
            stopper.cancel("test stop");
        }
    });
    let err = run_sft(&req, &sink, &cancel).unwrap_err();
    assert!(err.cancelled().is_some(), "{err}");
    let state = TrainerState::read(&req.out_dir).unwrap().unwrap();
    assert_eq!((state.status, state.global_step, state.checkpoint_step), (RunStatus::Cancelled, 3, Some(3)));
    let resumed = run_sft(&req, &EventSink::discard(), &CancelToken::new()).unwrap();
    assert_eq!((resumed.status, resumed.global_step), (RunStatus::Finished, 6));
    assert_eq!(resumed.log.len(), 6, "the log before the stop is kept");
    // Evaluations at 0, 2, 4 and 6, the one at the stop included.
    assert_eq!(resumed.evals.iter().map(|e| e.step).collect::<Vec<_>>(), vec![0, 2, 4, 6]);
}

#[test]
fn stage_contract_a_run_without_validation_rows_resumes_with_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let data = alpaca(dir.path(), 9);
    let mut req = sft(dir.path(), &data, "small", 4);
    req.val_fraction = 0.05;
    let (sink, rx) = EventSink::channel();
    let cancel = CancelToken::new();
    let stopper = cancel.clone();
    rx.set_waker(move |e| {
        if matches!(e, Event::Progress { stage, step, .. } if stage == "train small" && *step == 2) {
            stopper.cancel("test stop");
        }
    });
    assert!(run_sft(&req, &sink, &cancel).unwrap_err().cancelled().is_some());
    drop(sink);
    let warned = rx.iter().any(|e| matches!(e, Event::Log { line, .. } if line.contains("no validation rows")));
    assert!(warned, "a run without validation rows says so");
    let text = std::fs::read_to_string(req.out_dir.join(TrainerState::FILE)).unwrap();
    assert!(!text.contains("\"val_loss\": null") && !text.contains("NaN"), "{text}");
    let stopped = TrainerState::read(&req.out_dir).unwrap().unwrap();
    assert!(stopped.evals.iter().all(|e| e.val_loss.is_none() && e.train_loss.is_finite()));
    let resumed = run_sft(&req, &EventSink::discard(), &CancelToken::new()).unwrap();
    assert_eq!(resumed.log.len(), 4, "the loss history survives the resume");
    assert_eq!(resumed.log[..2], stopped.log[..]);
}
