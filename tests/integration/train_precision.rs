//! Half-precision training: the base in bf16, or in f16 with dynamic loss scaling (adapters,
//! gradients and AdamW state in f32), follows the f32 loss curve of the same run within the
//! format's rounding.

use crate::common::{counting_data, fixture, lora_everywhere, tiny_train};
use candle_core::{DType, Device};
use dtm_studio::engine::job::{CancelToken, Event, EventSink};
use dtm_studio::engine::model::lora::LoraSpec;
use dtm_studio::engine::model::{load_model, LoadOptions};
use dtm_studio::engine::train::{train, TrainConfig, TrainJob};

/// The loss per step and the first and last validation losses of 20 steps on the tiny Llama in
/// `dtype`, and the log lines of the run.
fn run(dtype: DType) -> (Vec<f64>, f64, f64, Vec<String>) {
    let cfg = TrainConfig { lora: LoraSpec { dropout: 0.0, ..lora_everywhere() }, grad_accum: 1, ..tiny_train(20, 10) };
    let opts = LoadOptions { device: Device::Cpu, dtype: Some(dtype), adapter: None, ..Default::default() };
    let mut model = load_model(fixture("tiny-llama").to_str().unwrap(), &opts).unwrap().model;
    let (train_set, val_set) = (counting_data(40, 0), counting_data(8, 3));
    let dir = tempfile::tempdir().unwrap();
    let job = TrainJob {
        run: "t".into(),
        train: &train_set,
        val: &val_set,
        out_dir: dir.path(),
        base_model: "tiny".into(),
        pad_id: 0,
        checkpointing: false,
    };
    let (sink, events) = EventSink::channel();
    let state = train(&mut model, &job, &cfg, "train t", &sink, &CancelToken::new()).unwrap();
    drop(sink);
    let logs = std::iter::from_fn(|| events.try_recv())
        .filter_map(|e| match e {
            Event::Log { line, .. } => Some(line),
            _ => None,
        })
        .collect();
    let val = |e: Option<&dtm_studio::engine::train::state::EvalEntry>| e.and_then(|e| e.val_loss).unwrap();
    (state.log.iter().map(|e| e.loss).collect(), val(state.evals.first()), val(state.evals.last()), logs)
}

#[test]
fn bf16_training_follows_the_f32_loss_curve() {
    let (f32_curve, f32_start, f32_val, _) = run(DType::F32);
    let (bf16_curve, _, bf16_val, _) = run(DType::BF16);
    assert_eq!(bf16_curve.len(), 20);
    assert!(f32_val < 0.9 * f32_start, "f32 should learn: validation loss {f32_start} -> {f32_val}");
    // bf16 keeps 8 bits of mantissa (a relative rounding of 0.4%); over 20 steps the curves may
    // drift apart a little, so each step's loss is held to 1.5% (measured: 0.44% at most) and the final validation loss to 1.5%.
    for (step, (a, b)) in f32_curve.iter().zip(&bf16_curve).enumerate() {
        assert!((a - b).abs() <= 0.015 * a, "step {}: f32 loss {a}, bf16 loss {b}", step + 1);
    }
    let worst = f32_curve.iter().zip(&bf16_curve).map(|(a, b)| (a - b).abs() / a).fold(0.0, f64::max);
    eprintln!("largest step-loss difference {:.3}%, validation loss f32 {f32_val:.4} bf16 {bf16_val:.4}", worst * 100.0);
    assert!((f32_val - bf16_val).abs() <= 0.015 * f32_val, "validation loss: f32 {f32_val}, bf16 {bf16_val}");
}

/// f16 rounds to 11 significant bits (0.05%) but holds only up to 65,504: the loss is scaled
/// by 2^16 before the backward pass and the step is computed again at half the scale when the
/// gradients overflow.
#[test]
fn f16_training_with_dynamic_loss_scaling_follows_the_f32_loss_curve() {
    let (f32_curve, _, f32_val, _) = run(DType::F32);
    let (f16_curve, _, f16_val, logs) = run(DType::F16);
    assert_eq!(f16_curve.len(), 20);
    let worst = f32_curve.iter().zip(&f16_curve).map(|(a, b)| (a - b).abs() / a).fold(0.0, f64::max);
    let retries = logs.iter().filter(|l| l.contains("overflowed")).count();
    eprintln!("largest step-loss difference {:.3}%, validation f32 {f32_val:.4} f16 {f16_val:.4}, {retries} steps redone", worst * 100.0);
    assert!(worst <= 0.01, "a step's loss differs by {:.2}%: f32 {f32_curve:?}, f16 {f16_curve:?}", worst * 100.0);
    assert!((f32_val - f16_val).abs() <= 0.01 * f32_val, "validation loss: f32 {f32_val}, f16 {f16_val}");
}

#[test]
fn the_parity_check_is_exact_against_itself_and_measures_bf16_drift() {
    use dtm_studio::engine::parity::device_parity;
    let model = fixture("tiny-llama").to_string_lossy().into_owned();
    let same = device_parity(&model, &Device::Cpu, DType::F32, 2, 16, false, false).unwrap();
    assert_eq!((same.logits_max_abs, same.loglik_max_abs, same.grad_max_rel), (0.0, 0.0, 0.0), "{same:?}");
    assert_eq!(same.loss_cpu, same.loss_device);
    let half = device_parity(&model, &Device::Cpu, DType::BF16, 2, 16, true, false).unwrap();
    eprintln!("bf16 against f32: {half:?}");
    assert!(half.logits_max_rel > 0.0 && half.logits_max_rel < 0.05, "{half:?}");
    assert!((half.loss_cpu - half.loss_device).abs() < 0.02 * half.loss_cpu, "{half:?}");
    assert!(half.grad_max_rel < 0.15, "{half:?}");
}
