//! LoRA training on a tiny model: gradients reach every adapter, merged and unmerged adapters
//! agree, only adapters change, the loss falls, and a stopped run resumes on the same curve.

use crate::common::{counting_data, fixture, load_cpu_f32, max_abs_diff, tiny_train};
use candle_core::{Device, Tensor};
use dtm_studio::engine::job::{CancelToken, Event, EventSink};
use dtm_studio::engine::model::linear::ForwardCtx;
use dtm_studio::engine::model::lora::{LoraSet, LoraSpec};
use dtm_studio::engine::model::{load_model, LoadOptions};
use dtm_studio::engine::train::batch::collate;
use dtm_studio::engine::train::loss::masked_lm_loss;
use dtm_studio::engine::train::state::{RunStatus, TrainerState};
use dtm_studio::engine::train::{train, TrainConfig, TrainError, TrainJob};

fn tiny_config() -> TrainConfig {
    TrainConfig { save_every: 4, ..tiny_train(12, 4) }
}

fn random_b(set: &LoraSet) {
    for (a, b) in set.params.values() {
        let _ = a;
        b.set(&Tensor::randn(0f32, 0.5, b.shape(), &Device::Cpu).unwrap()).unwrap();
    }
}

#[test]
fn every_lora_parameter_gets_a_nonzero_gradient() {
    let mut m = load_cpu_f32(&fixture("tiny-qwen2")).model;
    let spec = LoraSpec { targets: vec!["all-linear".into()], ..LoraSpec::paper() };
    let set = LoraSet::init(&spec, &m.lora_targets(&spec), 1, &Device::Cpu).unwrap();
    assert_eq!(set.params.len(), 2 * 7);
    random_b(&set);
    m.attach_lora(&set).unwrap();
    let data = counting_data(4, 0);
    let batch = collate(&data.iter().collect::<Vec<_>>(), 0, &Device::Cpu).unwrap();
    let (loss, _) = masked_lm_loss(&m, &batch, ForwardCtx::DIFFERENTIABLE).unwrap().unwrap();
    let grads = loss.backward().unwrap();
    for (name, var) in set.named_vars() {
        let g = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("no gradient for {name}"));
        assert!(g.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0, "zero gradient for {name}");
    }
}

#[test]
fn merged_and_unmerged_adapters_agree() {
    let mut m = load_cpu_f32(&fixture("tiny-llama")).model;
    let spec = LoraSpec {
        rank: 8,
        alpha: 32.0,
        dropout: 0.0,
        targets: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
        use_rslora: false,
    };
    assert_eq!(spec.scale(), 4.0);
    let set = LoraSet::init(&spec, &m.lora_targets(&spec), 3, &Device::Cpu).unwrap();
    random_b(&set);
    m.attach_lora(&set).unwrap();
    let dir = tempfile::tempdir().unwrap();
    set.save_peft(dir.path(), "tiny-llama").unwrap();
    let ids = Tensor::new(&[[5u32, 17, 42, 99, 3, 250, 7, 61]], &Device::Cpu).unwrap();
    let unmerged = m.forward_inference(&ids, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let opts = LoadOptions { adapter: Some(dir.path().to_path_buf()), ..Default::default() };
    let merged_model = load_model(fixture("tiny-llama").to_str().unwrap(), &opts).unwrap().model;
    let merged = merged_model.forward_inference(&ids, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    m.detach_lora();
    let base = m.forward_inference(&ids, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(max_abs_diff(&base, &unmerged) > 0.1, "the adapter should change the output");
    assert!(max_abs_diff(&merged, &unmerged) < 1e-4, "merged vs unmerged differ by {}", max_abs_diff(&merged, &unmerged));
}

fn run(out: &std::path::Path, cfg: &TrainConfig, cancel_after: Option<u64>) -> dtm_studio::engine::train::state::TrainerState {
    let mut m = load_cpu_f32(&fixture("tiny-llama")).model;
    let (train_set, val_set) = (counting_data(40, 0), counting_data(8, 3));
    let (sink, rx) = EventSink::channel();
    let cancel = CancelToken::new();
    let job = TrainJob {
        run: "t".into(),
        train: &train_set,
        val: &val_set,
        out_dir: out,
        base_model: "tiny-llama".into(),
        pad_id: 0,
        checkpointing: false,
    };
    std::thread::scope(|s| {
        let watcher = cancel.clone();
        s.spawn(move || {
            for ev in rx.iter() {
                if let (Event::Loss { step, .. }, Some(stop)) = (&ev, cancel_after) {
                    if *step >= stop {
                        watcher.cancel("test stop");
                    }
                }
            }
        });
        let state = match train(&mut m, &job, cfg, "train t", &sink, &cancel) {
            Ok(state) => state,
            Err(TrainError::Cancelled(_)) => TrainerState::read(out).unwrap().unwrap(),
            Err(e) => panic!("{e}"),
        };
        drop(sink);
        state
    })
}

#[test]
fn training_lowers_validation_loss_and_changes_only_adapters() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = load_cpu_f32(&fixture("tiny-llama")).model;
    let ids = Tensor::new(&[[5u32, 17, 42, 99]], &Device::Cpu).unwrap();
    let before = m.forward_inference(&ids, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let (train_set, val_set) = (counting_data(40, 0), counting_data(8, 3));
    let job = TrainJob {
        run: "t".into(),
        train: &train_set,
        val: &val_set,
        out_dir: dir.path(),
        base_model: "tiny-llama".into(),
        pad_id: 0,
        checkpointing: false,
    };
    let cfg = TrainConfig { max_steps: Some(40), eval_every: 10, ..tiny_config() };
    let state = train(&mut m, &job, &cfg, "train t", &EventSink::discard(), &CancelToken::new()).unwrap();
    assert_eq!(state.status, RunStatus::Finished);
    let (first, last) = (state.evals.first().unwrap(), state.evals.last().unwrap());
    let (first, last) = (first.val_loss.unwrap(), last.val_loss.unwrap());
    assert!(last < first * 0.6, "val loss {first} -> {last}");
    assert!(dir.path().join("adapter_model.safetensors").is_file() && dir.path().join("trainer_state.json").is_file());
    let with_adapter = m.forward_inference(&ids, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(max_abs_diff(&before, &with_adapter) > 1e-3);
    m.detach_lora();
    let after = m.forward_inference(&ids, None).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(before, after, "the base weights must not change");
}

#[test]
fn stopped_run_resumes_on_the_same_curve() {
    let cfg = tiny_config();
    let whole = tempfile::tempdir().unwrap();
    let full = run(whole.path(), &cfg, None);
    let split = tempfile::tempdir().unwrap();
    let stopped = run(split.path(), &cfg, Some(5));
    assert_eq!(stopped.status, RunStatus::Cancelled);
    assert!(stopped.global_step < cfg.max_steps.unwrap());
    let resumed = run(split.path(), &cfg, None);
    assert_eq!(resumed.status, RunStatus::Finished);
    assert_eq!(resumed.log.len(), full.log.len());
    for (a, b) in full.log.iter().zip(&resumed.log) {
        assert_eq!(a.step, b.step);
        assert!((a.loss - b.loss).abs() < 1e-6, "step {}: {} vs {}", a.step, a.loss, b.loss);
    }
    let (fa, fb) = (full.evals.last().unwrap(), resumed.evals.last().unwrap());
    assert!((fa.val_loss.unwrap() - fb.val_loss.unwrap()).abs() < 1e-6);
}

#[test]
fn nonfinite_loss_stops_and_keeps_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_config();
    cfg.learning_rate = 1e30;
    cfg.max_grad_norm = 0.0;
    cfg.warmup_steps = 0;
    let mut m = load_cpu_f32(&fixture("tiny-llama")).model;
    let (train_set, val_set) = (counting_data(40, 0), counting_data(8, 3));
    let job = TrainJob {
        run: "t".into(),
        train: &train_set,
        val: &val_set,
        out_dir: dir.path(),
        base_model: "tiny-llama".into(),
        pad_id: 0,
        checkpointing: false,
    };
    let err = train(&mut m, &job, &cfg, "train t", &EventSink::discard(), &CancelToken::new()).unwrap_err().to_string();
    assert!(err.contains("loss became") && err.contains("step"), "{err}");
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("trainer_state.json")).unwrap()).unwrap();
    assert_eq!(state["status"], "failed");
}
