//! Gradient checkpointing gives the gradients and the loss curve of the plain backward pass, on
//! the fused CPU kernels (f32) and on the composed ops (f64, the path GPUs take); and a run the
//! memory plan says cannot fit is refused before the model loads.

use crate::common::{fixture, flat_f64, load_cpu_f32, lora_everywhere, mixed_sequences, tiny_train};
use candle_core::{DType, Device, Tensor, Var};
use dtm_studio::engine::data::prompt::{PromptOptions, PromptTemplate};
use dtm_studio::engine::data::LoadDataOptions;
use dtm_studio::engine::job::{CancelToken, Event, EventSink};
use dtm_studio::engine::model::linear::{ForwardCtx, Kernels};
use dtm_studio::engine::model::lora::LoraSet;
use dtm_studio::engine::model::{load_model, CausalLm, LoadOptions};
use dtm_studio::engine::train::batch::collate;
use dtm_studio::engine::train::gradients::loss_and_gradients;
use dtm_studio::engine::train::memory_fit::Checkpointing;
use dtm_studio::engine::train::{run_sft, train, SftRequest, TrainConfig, TrainError, TrainJob};

/// The tiny Llama in `dtype` with f32 adapters on every linear layer (B random, so every
/// gradient is non-zero), and its parameters.
fn with_adapters(dtype: DType) -> (CausalLm, Vec<(String, Var)>) {
    let opts = LoadOptions { device: Device::Cpu, dtype: Some(dtype), adapter: None, ..Default::default() };
    let mut m = load_model(fixture("tiny-llama").to_str().unwrap(), &opts).unwrap().model;
    let set = LoraSet::init(&lora_everywhere(), &m.lora_targets(&lora_everywhere()), 7, &Device::Cpu).unwrap();
    for (_, b) in set.params.values() {
        b.set(&Tensor::randn(0f32, 0.3, b.shape(), &Device::Cpu).unwrap()).unwrap();
    }
    m.attach_lora(&set).unwrap();
    (m, set.named_vars().into_iter().map(|(n, v)| (n, v.clone())).collect())
}

fn same_gradients_both_ways(dtype: DType) {
    let (model, params) = with_adapters(dtype);
    let rows = mixed_sequences(3);
    let batch = collate(&rows.iter().collect::<Vec<_>>(), 0, &Device::Cpu).unwrap();
    let ctx = ForwardCtx { kernels: Kernels::Differentiable, dropout_seed: Some(99) };
    let (plain_loss, plain) = loss_and_gradients(&model, &batch, ctx, &params, false).unwrap().unwrap();
    let (check_loss, checkpointed) = loss_and_gradients(&model, &batch, ctx, &params, true).unwrap().unwrap();
    assert!((plain_loss - check_loss).abs() <= 1e-6 * plain_loss.abs(), "{dtype:?}: loss {plain_loss} vs {check_loss}");
    for ((name, _), (p, c)) in params.iter().zip(plain.iter().zip(&checkpointed)) {
        let (p, c) = (flat_f64(p), flat_f64(c));
        let norm = p.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(norm > 0.0, "{dtype:?}: {name} got no gradient");
        let diff = p.iter().zip(&c).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        assert!(diff <= 1e-5 * norm, "{dtype:?}: {name}: |plain - checkpointed| = {diff:e}, |plain| = {norm:e}");
    }
}

#[test]
fn checkpointing_gives_the_same_gradients_on_the_fused_cpu_kernels() {
    same_gradients_both_ways(DType::F32);
}

#[test]
fn checkpointing_gives_the_same_gradients_on_the_composed_ops() {
    same_gradients_both_ways(DType::F64);
}

#[test]
fn checkpointing_gives_the_same_loss_curve_over_twenty_steps() {
    let cfg = tiny_train(20, 10);
    let (train_set, val_set) = (mixed_sequences(40), mixed_sequences(8));
    let curve = |checkpointing: bool| {
        let dir = tempfile::tempdir().unwrap();
        let mut m = load_cpu_f32(&fixture("tiny-llama")).model;
        let job = TrainJob {
            run: "t".into(),
            train: &train_set,
            val: &val_set,
            out_dir: dir.path(),
            base_model: "tiny".into(),
            pad_id: 0,
            checkpointing,
        };
        let state = train(&mut m, &job, &cfg, "train t", &EventSink::discard(), &CancelToken::new()).unwrap();
        state.log.iter().map(|e| e.loss).collect::<Vec<_>>()
    };
    let (plain, checkpointed) = (curve(false), curve(true));
    assert_eq!(plain.len(), 20);
    assert!(plain[19] < plain[0], "the loss should fall: {plain:?}");
    for (step, (a, b)) in plain.iter().zip(&checkpointed).enumerate() {
        assert!((a - b).abs() <= 1e-4 * a.abs(), "step {}: loss {a} without checkpointing, {b} with", step + 1);
    }
}

#[test]
fn a_run_that_cannot_fit_is_refused_before_the_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.json");
    std::fs::write(&data, r#"[{"instruction": "count", "input": "", "output": "one two three"}]"#).unwrap();
    // A million sequences of the model's whole context (128 tokens): terabytes of logits alone.
    let config = TrainConfig { micro_batch: 1_000_000, max_len: 128, ..TrainConfig::quick() };
    let req = SftRequest {
        run: "huge".into(),
        model: fixture("tiny-llama").to_string_lossy().into_owned(),
        load: LoadOptions { device: Device::Cpu, dtype: Some(DType::F32), adapter: None, ..Default::default() },
        data,
        data_options: LoadDataOptions::default(),
        rows: None,
        prompt: PromptOptions { template: PromptTemplate::Chat, max_len: 128, ..Default::default() },
        val_fraction: 0.0,
        val_max: 0,
        out_dir: dir.path().join("run"),
        config,
        checkpointing: Checkpointing::Auto,
        memory_check: true,
    };
    let (sink, rx) = EventSink::channel();
    let err = run_sft(&req, &sink, &CancelToken::new()).unwrap_err();
    drop(sink);
    let TrainError::Memory(refused) = &err else { panic!("expected a memory refusal, got {err}") };
    let text = err.to_string();
    assert!(text.contains("refused before loading anything") && text.contains("lower the micro-batch from 1000000"), "{text}");
    assert!(refused.plan.total() > refused.free);
    let loaded = rx.try_iter().any(|e| matches!(&e, Event::StageStarted { stage, .. } if stage == "load model"));
    assert!(!loaded, "the model must not load for a run that cannot fit");
}

#[test]
fn plan_prints_the_estimate_and_refuses_what_cannot_fit() {
    let model = fixture("tiny-llama");
    let plan = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtm-studio"))
            .args(["plan", "--model"])
            .arg(&model)
            .args(["--device", "cpu"])
            .args(extra)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let (ok, text) = plan(&[]);
    assert!(ok && text.contains("checkpointing") && text.contains("fits without gradient checkpointing"), "{text}");
    let (ok, text) = plan(&["--batch", "1000000"]);
    assert!(!ok, "a run that cannot fit exits with an error: {text}");
    assert!(text.contains("does not fit") && text.contains("lower the micro-batch from 1000000") && text.contains("train.batch"), "{text}");
}
