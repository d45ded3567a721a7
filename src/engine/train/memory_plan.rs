//! How much memory a LoRA training run needs, from the model's shape and the training settings
//! alone (no model is loaded): pure arithmetic, so the GUI can redraw it every frame.
//!
//! What a training step holds at its peak:
//! - the frozen weights in the working dtype, and a row-major copy of every decoder projection
//!   (`FrozenWeight` makes it on the first backward pass for the input gradients); or, for a
//!   GGUF base kept in its blocks, the blocks at their size and one de-quantised tile;
//! - the adapters in f32 with their gradients, and AdamW's two moments (16 bytes a parameter);
//! - the activations the backward pass needs, per token and layer (the norms' inputs, Q/K/V and
//!   the attention context, the MLP's gate/up/activation, each adapter's input), the attention
//!   probabilities (heads x max_len² per sequence and layer, f32), and the f32 logits of the
//!   labelled positions (all of them, the worst case).
//! - with gradient checkpointing, instead of every layer's activations: every layer's input, a
//!   few hidden-state-sized working tensors, and one layer's activations (the layer being
//!   recomputed).
//!
//! Calibration (CPU, f32, SmolLM2-135M-Instruct Q4_1, r16 on gate/up/down, every position
//! labelled; `dtm-studio bench train --batch B --seq S --reps 1`, peak RSS in MiB): 1x128 1,171,
//! 4x128 1,731, 1x512 1,954, 4x256 2,602, 2x512 2,890; the estimate is within 1.2% of each
//! (1,184, 1,748, 1,950, 2,634, 2,904; see the tests). A real run, `dtm-studio bench memory
//! --steps 3` (quick preset, r8, 4 x 128 tokens of Alpaca data), peaked at 1,695 MiB against an
//! estimate of 1,723 (its batches are not all full length, nor all positions labelled). At 4 x
//! 1024 (r16 on gate/up/down) the peaks were 10,566 MiB plain and 2,246 MiB with gradient
//! checkpointing, against estimates of 10,783 and 2,365. On GPUs candle's composed kernels keep
//! more intermediates (activations, and the logits through the unfused loss) than the fused CPU
//! ones; that factor ([`COMPOSED_FACTOR`]) is a guess, not a measurement.

use super::config::TrainConfig;
use crate::engine::model::lora::LoraSpec;
use crate::engine::model::ModelConfig;
use candle_core::DType;

/// Bytes of the process besides the model (code, tokenizer, allocator), from `inspect`'s peak
/// RSS (565 MB) less SmolLM2's f32 weights (538 MB).
const RUNTIME_BYTES: u64 = 32 << 20;

/// How many more activation and logit bytes candle's composed kernels keep than the fused CPU
/// kernels (not measured: a GPU estimate is a rough guide).
pub const COMPOSED_FACTOR: u64 = 2;

/// The f32 tiles a quantized base's products de-quantise into (two at a time at most).
const QUANTIZED_TILE_BYTES: u64 = 8 << 20;

/// Bytes per adapter parameter: the f32 value and its gradient.
const LORA_BYTES_PER_PARAM: u64 = 4 + 4;
/// AdamW's first and second moments, f32 each.
const OPTIMIZER_BYTES_PER_PARAM: u64 = 8;

/// Which kernels the run uses: the fused CPU ones (calibrated) or candle's composed ones (GPUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelKind {
    /// The CPU's fused attention, LoRA, SwiGLU, RMSNorm and loss kernels.
    FusedCpu,
    /// candle's ops on CUDA or Metal.
    Composed,
}

impl KernelKind {
    /// The kernels a run on the CPU (`cpu`) or a GPU uses in `dtype`: the fused ones only on the
    /// CPU in f32.
    pub fn for_run(cpu: bool, dtype: DType) -> Self {
        if cpu && dtype == DType::F32 {
            Self::FusedCpu
        } else {
            Self::Composed
        }
    }
}

/// The memory a training run needs, by part, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryPlan {
    /// The frozen weights in the working dtype.
    pub weights: u64,
    /// The row-major copies of the decoder projections made for input gradients.
    pub gradient_copies: u64,
    /// Adapter parameters and their gradients (f32).
    pub adapters: u64,
    /// AdamW's moments (f32).
    pub optimizer: u64,
    /// Activations kept for the backward pass, attention probabilities included.
    pub activations: u64,
    /// f32 logits of the labelled positions.
    pub logits: u64,
    /// The process besides the model.
    pub runtime: u64,
}

impl MemoryPlan {
    /// Everything together.
    pub fn total(&self) -> u64 {
        self.fixed() + self.per_batch()
    }

    /// The part that does not depend on batch size or sequence length.
    pub fn fixed(&self) -> u64 {
        self.weights + self.gradient_copies + self.adapters + self.optimizer + self.runtime
    }

    /// The part that grows with batch size and sequence length.
    pub fn per_batch(&self) -> u64 {
        self.activations + self.logits
    }

    /// The parts with their names, in the order they are shown.
    pub fn parts(&self) -> [(&'static str, u64); 7] {
        [
            ("weights", self.weights),
            ("projection copies", self.gradient_copies),
            ("LoRA adapters", self.adapters),
            ("optimizer (AdamW)", self.optimizer),
            ("activations", self.activations),
            ("logits", self.logits),
            ("runtime", self.runtime),
        ]
    }
}

/// `(name, out, in)` of each decoder projection of one layer.
fn projections(c: &ModelConfig) -> [(&'static str, u64, u64); 7] {
    let (h, i) = (c.hidden_size as u64, c.intermediate_size as u64);
    let q = (c.num_attention_heads * c.head_dim) as u64;
    let kv = (c.num_key_value_heads * c.head_dim) as u64;
    [
        ("self_attn.q_proj", q, h),
        ("self_attn.k_proj", kv, h),
        ("self_attn.v_proj", kv, h),
        ("self_attn.o_proj", h, q),
        ("mlp.gate_proj", i, h),
        ("mlp.up_proj", i, h),
        ("mlp.down_proj", h, i),
    ]
}

/// The projections of one layer that `spec` puts adapters on.
fn targeted<'a>(c: &ModelConfig, spec: &'a LoraSpec) -> impl Iterator<Item = (&'static str, u64, u64)> + 'a {
    projections(c).into_iter().filter(move |(name, _, _)| spec.targets_module(&format!("model.layers.0.{name}")))
}

/// Trainable parameters of the adapters `spec` puts on a model shaped `c`: r x (in + out) per
/// targeted projection and layer.
pub fn lora_parameters(c: &ModelConfig, spec: &LoraSpec) -> u64 {
    let per_layer: u64 = targeted(c, spec).map(|(_, out, inp)| spec.rank as u64 * (out + inp)).sum();
    per_layer * c.num_hidden_layers as u64
}

/// Activation elements kept per token and layer: the two norms' inputs, Q, K, V and the
/// attention context, the MLP's gate, up and activation, and each adapter's input and rank-r
/// intermediate.
fn activation_elements_per_token_layer(c: &ModelConfig, spec: &LoraSpec) -> u64 {
    let (h, i) = (c.hidden_size as u64, c.intermediate_size as u64);
    let q = (c.num_attention_heads * c.head_dim) as u64;
    let kv = (c.num_key_value_heads * c.head_dim) as u64;
    let adapters: u64 = targeted(c, spec).map(|(_, _, inp)| inp + spec.rank as u64).sum();
    2 * h + 2 * q + 2 * kv + 3 * i + adapters
}

/// Hidden-state-sized tensors a checkpointed backward pass holds besides the kept layer inputs:
/// the recomputed layer's input as a variable, the gradient arriving at its output, and their
/// product.
const CHECKPOINT_WORKING_COPIES: u64 = 3;

/// How one micro-batch runs: its size and whether gradient checkpointing is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepShape {
    /// Sequences per micro-batch.
    pub batch: usize,
    /// Tokens per sequence (the longest).
    pub max_len: usize,
    /// Keep only each layer's input and recompute the layer in the backward pass.
    pub checkpointing: bool,
}

impl StepShape {
    /// The settings' own micro-batch and maximum length.
    pub fn of(train: &TrainConfig, checkpointing: bool) -> Self {
        Self { batch: train.micro_batch, max_len: train.max_len, checkpointing }
    }
}

/// The memory a training run with `train` needs for a model shaped `model`, weights and
/// activations in `dtype`, run by `kernels`, one micro-batch shaped `step`. With checkpointing
/// the activations are every layer's input plus one layer's activations (the layer being
/// recomputed) instead of every layer's.
pub fn plan_with(model: &ModelConfig, train: &TrainConfig, dtype: DType, kernels: KernelKind, step: StepShape) -> MemoryPlan {
    let StepShape { batch, max_len, checkpointing } = step;
    let size = dtype.size_in_bytes() as u64;
    let layers = model.num_hidden_layers as u64;
    let projection_params: u64 = projections(model).iter().map(|(_, out, inp)| out * inp).sum::<u64>() * layers;
    let adapter_params = lora_parameters(model, &train.lora);
    let (batch, len) = (batch.max(1) as u64, max_len.max(1) as u64);
    let tokens = batch * len;
    let factor = match kernels {
        KernelKind::FusedCpu => 1,
        KernelKind::Composed => COMPOSED_FACTOR,
    };
    let per_token_layer = activation_elements_per_token_layer(model, &train.lora) * size;
    let probabilities_layer = batch * model.num_attention_heads as u64 * len * len * 4;
    let hidden_bytes = tokens * model.hidden_size as u64 * size;
    let activations = if checkpointing {
        hidden_bytes * (layers + CHECKPOINT_WORKING_COPIES) + (tokens * per_token_layer + probabilities_layer) * factor
    } else {
        (tokens * per_token_layer + probabilities_layer) * layers * factor
    };
    // A quantized base has no row-major copies: each product de-quantises one tile at a time.
    let gradient_copies = match model.quantized {
        Some(_) => QUANTIZED_TILE_BYTES,
        None => projection_params * size,
    };
    MemoryPlan {
        weights: model.weight_bytes(dtype),
        gradient_copies,
        adapters: adapter_params * LORA_BYTES_PER_PARAM,
        optimizer: adapter_params * OPTIMIZER_BYTES_PER_PARAM,
        activations,
        logits: tokens * model.vocab_size as u64 * 4 * factor,
        runtime: RUNTIME_BYTES,
    }
}

/// [`plan_with`] at the settings' own micro-batch and maximum length.
pub fn plan_training_memory(
    model: &ModelConfig,
    train: &TrainConfig,
    dtype: DType,
    kernels: KernelKind,
    checkpointing: bool,
) -> MemoryPlan {
    plan_with(model, train, dtype, kernels, StepShape::of(train, checkpointing))
}

/// What fits in a given amount of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    /// The largest micro-batch up to the settings' that fits at their maximum length.
    pub batch: Option<usize>,
    /// The largest maximum length up to the settings' that fits at their micro-batch (rounded
    /// down to a multiple of 64 when shorter than theirs and at least 64).
    pub max_len: Option<usize>,
    /// Whether even one sequence of 64 tokens does not fit: the model is too big for the device.
    pub nothing_fits: bool,
}

/// The largest value in `1..=upto` for which `fits` holds (`fits` must be monotone).
fn largest(upto: usize, fits: impl Fn(usize) -> bool) -> Option<usize> {
    let (mut lo, mut hi) = (0usize, upto + 1);
    // Invariant: `lo` fits (or is 0), `hi` does not (or is past the range).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo >= 1).then_some(lo)
}

/// What fits in `free` bytes: the settings themselves, a smaller micro-batch, a shorter maximum
/// length, or nothing.
pub fn fit_in(model: &ModelConfig, train: &TrainConfig, dtype: DType, kernels: KernelKind, checkpointing: bool, free: u64) -> Fit {
    let fits =
        |batch: usize, max_len: usize| plan_with(model, train, dtype, kernels, StepShape { batch, max_len, checkpointing }).total() <= free;
    let batch = largest(train.micro_batch, |b| fits(b, train.max_len));
    let max_len =
        largest(train.max_len, |l| fits(train.micro_batch, l)).map(|l| if l < train.max_len && l >= 64 { l / 64 * 64 } else { l });
    Fit { batch, max_len, nothing_fits: !fits(1, 64.min(train.max_len)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::config::QuantizedShare;
    use std::path::Path;

    const MB: f64 = 1024.0 * 1024.0;

    fn shape(batch: usize, max_len: usize) -> StepShape {
        StepShape { batch, max_len, checkpointing: false }
    }

    fn smollm2() -> ModelConfig {
        let json = r#"{"architectures":["LlamaForCausalLM"],"vocab_size":49152,"hidden_size":576,"intermediate_size":1536,
            "num_hidden_layers":30,"num_attention_heads":9,"num_key_value_heads":3,"rms_norm_eps":1e-5,"rope_theta":100000,
            "max_position_embeddings":8192,"tie_word_embeddings":true,"bos_token_id":1,"eos_token_id":2}"#;
        ModelConfig::from_hf_json(json, Path::new("config.json")).unwrap()
    }

    /// The setting `bench train` measures: r16 on gate/up/down.
    fn bench_setting() -> TrainConfig {
        TrainConfig { lora: LoraSpec::paper(), ..TrainConfig::paper() }
    }

    #[test]
    fn adapter_count_is_rank_times_in_plus_out() {
        let c = smollm2();
        // gate and up: 16 x (576 + 1536) each, down the same: 3 x 33,792 per layer, 30 layers.
        assert_eq!(lora_parameters(&c, &LoraSpec::paper()), 3 * 16 * (576 + 1536) * 30);
        let all = LoraSpec { targets: vec!["all-linear".into()], ..LoraSpec::paper() };
        let attn = 16 * ((576 + 576) + 2 * (576 + 192) + (576 + 576));
        assert_eq!(lora_parameters(&c, &all), (attn + 3 * 16 * (576 + 1536)) * 30);
        let q_only = LoraSpec { targets: vec!["q_proj".into()], ..LoraSpec::paper() };
        assert_eq!(lora_parameters(&c, &q_only), 16 * (576 + 576) * 30);
    }

    #[test]
    fn fixed_parts_are_weights_copies_and_adapter_state() {
        let c = smollm2();
        let p = plan_training_memory(&c, &bench_setting(), DType::F32, KernelKind::FusedCpu, false);
        assert_eq!(p.weights, c.parameter_count() * 4);
        let projections = (576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536) * 30;
        assert_eq!(p.gradient_copies, projections * 4);
        let adapters = lora_parameters(&c, &LoraSpec::paper());
        assert_eq!((p.adapters, p.optimizer), (adapters * 8, adapters * 8));
        // bf16 halves the weights and the activations, not the f32 adapter state or logits.
        let half = plan_training_memory(&c, &bench_setting(), DType::BF16, KernelKind::FusedCpu, false);
        assert_eq!((half.weights * 2, half.adapters, half.logits), (p.weights, p.adapters, p.logits));
        assert!(half.activations < p.activations);
    }

    #[test]
    fn estimate_is_within_five_percent_of_measured_cpu_peaks() {
        // Peak RSS in MiB of `dtm-studio bench train --batch B --seq S --reps 1` (release, f32, CPU).
        let measured = [(1, 128, 1171.0), (4, 128, 1731.0), (1, 512, 1954.0), (4, 256, 2602.0), (2, 512, 2890.0)];
        let c = smollm2();
        for (batch, len, mb) in measured {
            let est = plan_with(&c, &bench_setting(), DType::F32, KernelKind::FusedCpu, shape(batch, len)).total() as f64 / MB;
            let ratio = est / mb;
            assert!((0.95..1.05).contains(&ratio), "{batch}x{len}: estimated {est:.0} MiB, measured {mb} MiB ({ratio:.3})");
        }
    }

    /// SmolLM2-135M-Instruct.Q4_1.gguf as it loads kept in its blocks: 30 layers of Q4_1
    /// projections (20 bytes per 32 values) and the Q8_0 embedding (34 bytes per 32).
    fn smollm2_q4_1() -> ModelConfig {
        let (layer, embedding) = (576 * (576 + 192 + 192 + 576) + 3 * 1536 * 576, 49152 * 576);
        let quantized = QuantizedShare { parameters: 30 * layer + embedding, bytes: 30 * layer / 32 * 20 + embedding / 32 * 34 };
        ModelConfig { quantized: Some(quantized), ..smollm2() }
    }

    #[test]
    fn estimates_are_within_twenty_percent_of_the_measured_peak_on_four_configurations() {
        // `dtm-studio bench train --batch 4 --seq 1024 --reps 1 [--checkpointing] [--dequantize]`
        // on the Q4_1 GGUF (CPU, f32 activations): the base kept in blocks, and de-quantised.
        let cases =
            [(smollm2_q4_1(), false, 9719.0), (smollm2_q4_1(), true, 1352.0), (smollm2(), false, 10570.0), (smollm2(), true, 2235.0)];
        for (c, checkpointing, mb) in cases {
            let step = StepShape { batch: 4, max_len: 1024, checkpointing };
            let est = plan_with(&c, &bench_setting(), DType::F32, KernelKind::FusedCpu, step).total() as f64 / MB;
            let blocks = c.quantized.is_some();
            assert!(
                (0.8..1.2).contains(&(est / mb)),
                "blocks {blocks}, checkpointing {checkpointing}: estimated {est:.0} MiB, measured {mb} MiB"
            );
        }
        assert_eq!(smollm2_q4_1().weight_bytes(DType::F32) / (1 << 20), 92, "the file's blocks, 96,436,224 bytes, and the f32 norms");
    }

    #[test]
    fn grows_with_batch_and_quadratically_with_length() {
        let (c, t) = (smollm2(), bench_setting());
        let at = |b, l| plan_with(&c, &t, DType::F32, KernelKind::FusedCpu, shape(b, l)).per_batch();
        assert_eq!(at(4, 256), 4 * at(1, 256));
        // Same tokens, longer sequences: the attention probabilities grow with length squared.
        assert!(at(1, 1024) > at(4, 256));
        let composed = plan_with(&c, &t, DType::F32, KernelKind::Composed, shape(4, 256));
        let fused = plan_with(&c, &t, DType::F32, KernelKind::FusedCpu, shape(4, 256));
        assert_eq!((composed.activations, composed.logits), (COMPOSED_FACTOR * fused.activations, COMPOSED_FACTOR * fused.logits));
        assert_eq!(composed.fixed(), fused.fixed());
    }

    #[test]
    fn suggests_the_largest_batch_and_length_that_fit() {
        let (c, t) = (smollm2(), TrainConfig::paper());
        let total = |b, l| plan_with(&c, &t, DType::F32, KernelKind::FusedCpu, shape(b, l)).total();
        let need = total(t.micro_batch, t.max_len);
        // Exactly enough: the settings themselves.
        let roomy = fit_in(&c, &t, DType::F32, KernelKind::FusedCpu, false, need);
        assert_eq!((roomy.batch, roomy.max_len, roomy.nothing_fits), (Some(4), Some(1024), false));
        // 5 GiB: batch 4 x 1024 (about 11 GB) does not fit; the suggestions do, and one more does not.
        let free = 5 << 30;
        assert!(need > free);
        let fit = fit_in(&c, &t, DType::F32, KernelKind::FusedCpu, false, free);
        assert_eq!((fit.batch, fit.max_len, fit.nothing_fits), (Some(1), Some(512), false));
        assert!(total(1, 1024) <= free && total(2, 1024) > free);
        assert!(total(4, 512) <= free && total(4, 512 + 64) > free);
        // 600 MB: not even the weights with their copies.
        let tiny = fit_in(&c, &t, DType::F32, KernelKind::FusedCpu, false, 600 << 20);
        assert_eq!((tiny.batch, tiny.max_len, tiny.nothing_fits), (None, None, true));
    }
}
