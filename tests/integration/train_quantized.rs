//! A GGUF base kept in its quantized blocks (Q8_0, Q4_0, Q4_1, Q4_K) scores, trains LoRA
//! adapters and takes adapters as its de-quantised copy does, in a fraction of the memory: on
//! the CPU kernels and on the tile-by-tile composed path that CUDA and Metal run.

use crate::common::{flat_f64, lora_everywhere, mixed_sequences, tiny_train};
use crate::gguf_writer::{write_tiny_gguf, write_wide_gguf};
use candle_core::quantized::GgmlDType;
use candle_core::{DType, Device, Tensor, Var};
use dtm_studio::engine::job::{CancelToken, EventSink};
use dtm_studio::engine::model::linear::{ForwardCtx, Kernels};
use dtm_studio::engine::model::lora::LoraSet;
use dtm_studio::engine::model::{load_model, CausalLm, LoadOptions};
use dtm_studio::engine::train::batch::collate;
use dtm_studio::engine::train::gradients::loss_and_gradients;
use dtm_studio::engine::train::{train, TrainJob};
use std::path::{Path, PathBuf};

fn load(path: &Path, dtype: DType, keep_quantized: bool, adapter: Option<PathBuf>) -> CausalLm {
    let opts = LoadOptions { device: Device::Cpu, dtype: Some(dtype), adapter, keep_quantized };
    load_model(path.to_str().unwrap(), &opts).unwrap_or_else(|e| panic!("{e}")).model
}

/// The same adapters (B random, so every gradient is non-zero) on both models.
fn attach(a: &mut CausalLm, b: &mut CausalLm) -> Vec<(String, Var)> {
    let set = LoraSet::init(&lora_everywhere(), &a.lora_targets(&lora_everywhere()), 7, &Device::Cpu).unwrap();
    for (_, b) in set.params.values() {
        b.set(&Tensor::randn(0f32, 0.3, b.shape(), &Device::Cpu).unwrap()).unwrap();
    }
    a.attach_lora(&set).unwrap();
    b.attach_lora(&set).unwrap();
    set.named_vars().into_iter().map(|(n, v)| (n, v.clone())).collect()
}

/// `|a - b| / |b|` over all values.
fn rel(a: &[f64], b: &[f64]) -> f64 {
    let diff = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    diff / b.iter().map(|y| y * y).sum::<f64>().sqrt().max(1e-30)
}

/// Logits, then one training step's loss and LoRA gradients (plain and checkpointed), of the
/// quantized base against its de-quantised copy, within `tol` relative.
fn same_numbers(path: &Path, dtype: DType, tol: f64, what: &str) {
    let mut quantized = load(path, dtype, true, None);
    let mut dense = load(path, dtype, false, None);
    assert!(quantized.is_quantized() && !dense.is_quantized(), "{what}");
    let ids = Tensor::new(&[[5u32, 17, 42, 99, 3, 250, 7, 61]], &Device::Cpu).unwrap();
    let logits = |m: &CausalLm| flat_f64(&if dtype == DType::F32 { m.forward_inference(&ids, None) } else { m.forward(&ids) }.unwrap());
    let (lq, ld) = (logits(&quantized), logits(&dense));
    assert!(rel(&lq, &ld) < tol, "{what}: logits differ by {:e}", rel(&lq, &ld));
    let params = attach(&mut quantized, &mut dense);
    let rows = mixed_sequences(3);
    let batch = collate(&rows.iter().collect::<Vec<_>>(), 0, &Device::Cpu).unwrap();
    let ctx = ForwardCtx { kernels: Kernels::Differentiable, dropout_seed: Some(99) };
    for checkpointing in [false, true] {
        let (loss_q, grads_q) = loss_and_gradients(&quantized, &batch, ctx, &params, checkpointing).unwrap().unwrap();
        let (loss_d, grads_d) = loss_and_gradients(&dense, &batch, ctx, &params, checkpointing).unwrap().unwrap();
        assert!((loss_q - loss_d).abs() <= tol * loss_d.abs(), "{what}: loss {loss_q} on the blocks, {loss_d} de-quantised");
        for ((name, _), (q, d)) in params.iter().zip(grads_q.iter().zip(&grads_d)) {
            let (q, d) = (flat_f64(q), flat_f64(d));
            assert!(d.iter().any(|x| *x != 0.0), "{what}: {name} got no gradient");
            assert!(rel(&q, &d) < tol, "{what}, checkpointing {checkpointing}: {name} differs by {:e}", rel(&q, &d));
        }
    }
}

fn gguf(dir: &Path, dtype: GgmlDType) -> PathBuf {
    let path = dir.join(format!("{dtype:?}.gguf"));
    match dtype {
        GgmlDType::Q4K => drop(write_wide_gguf(&path, dtype)),
        _ => write_tiny_gguf(&path, dtype),
    }
    path
}

#[test]
fn each_block_type_scores_and_trains_as_its_dequantized_copy_in_a_third_of_the_memory() {
    let dir = tempfile::tempdir().unwrap();
    for dtype in [GgmlDType::Q8_0, GgmlDType::Q4_0, GgmlDType::Q4_1, GgmlDType::Q4K] {
        let path = gguf(dir.path(), dtype);
        same_numbers(&path, DType::F32, 1e-5, &format!("{dtype:?} on the CPU kernels"));
        let (q, d) = (load(&path, DType::F32, true, None).weight_bytes(), load(&path, DType::F32, false, None).weight_bytes());
        assert!(3 * q < d, "{dtype:?}: {q} bytes kept quantized against {d} de-quantised");
    }
}

/// f64 activations take the composed ops and the tile-by-tile products, as CUDA and Metal do
/// (there with candle's quantized kernels in the forward product); the products run in f32.
#[test]
fn the_tile_by_tile_path_of_gpus_trains_on_the_blocks_too() {
    let dir = tempfile::tempdir().unwrap();
    for dtype in [GgmlDType::Q4_1, GgmlDType::Q4K] {
        same_numbers(&gguf(dir.path(), dtype), DType::F64, 1e-5, &format!("{dtype:?} tile by tile"));
    }
}

#[test]
fn training_on_the_blocks_follows_the_dequantized_loss_curve_and_its_adapter_fits_the_dequantized_base() {
    let dir = tempfile::tempdir().unwrap();
    let path = gguf(dir.path(), GgmlDType::Q4_1);
    let cfg = tiny_train(12, 6);
    let (train_set, val_set) = (mixed_sequences(40), mixed_sequences(8));
    let run = |keep_quantized: bool| {
        let out = dir.path().join(format!("run-{keep_quantized}"));
        let mut m = load(&path, DType::F32, keep_quantized, None);
        let job = TrainJob {
            run: "q".into(),
            train: &train_set,
            val: &val_set,
            out_dir: &out,
            base_model: path.display().to_string(),
            pad_id: 0,
            checkpointing: false,
        };
        let state = train(&mut m, &job, &cfg, "train q", &EventSink::discard(), &CancelToken::new()).unwrap();
        (state.log.iter().map(|e| e.loss).collect::<Vec<_>>(), state.evals.iter().filter_map(|e| e.val_loss).collect::<Vec<_>>(), out)
    };
    let ((train_q, val_q, adapter), (train_d, val_d, _)) = (run(true), run(false));
    assert_eq!(train_q.len(), 12);
    assert!(train_q[11] < train_q[0], "the loss should fall: {train_q:?}");
    assert!(rel(&train_q, &train_d) < 1e-4 && rel(&val_q, &val_d) < 1e-4, "{train_q:?} / {val_q:?} against {train_d:?} / {val_d:?}");
    // The adapter, attached unmerged to the blocks, scores as it does merged into the
    // de-quantised base.
    let ids = Tensor::new(&[[5u32, 17, 42, 99, 3, 250, 7, 61]], &Device::Cpu).unwrap();
    let on_blocks = flat_f64(&load(&path, DType::F32, true, Some(adapter.clone())).forward_inference(&ids, None).unwrap());
    let merged = flat_f64(&load(&path, DType::F32, false, Some(adapter)).forward_inference(&ids, None).unwrap());
    let base = flat_f64(&load(&path, DType::F32, false, None).forward_inference(&ids, None).unwrap());
    assert!(rel(&on_blocks, &merged) < 1e-5, "{:e}", rel(&on_blocks, &merged));
    assert!(rel(&merged, &base) > 1e-3, "the adapter should change the logits");
}
