//! The Llama-family decoder (Llama, Mistral, Qwen2) as one causal LM that returns logits at every
//! position. Two paths share the weights: a differentiable one for training (composed ops only,
//! since candle's fused softmax / rms_norm / rope have no backward) and a fused, KV-cached one for
//! scoring and generation.

use super::causal_softmax::causal_softmax;
use super::config::ModelConfig;
use super::error::Result as ModelResult;
use super::frozen_matmul::FrozenWeight;
use super::fused_attention::{fused_attention, AttentionLayer};
use super::kv_cache::KvCache;
use super::linear::{ForwardCtx, Kernels, Linear};
use super::lora::LoraSet;
use super::rope::{inverse_frequencies, Rope};
use super::swiglu::swiglu;
use super::weights::Weights;
use candle_core::{DType, Device, Result, Tensor, D};

#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn forward(&self, xs: &Tensor, kernels: Kernels) -> Result<Tensor> {
        match kernels {
            Kernels::Differentiable => super::rms_norm::rms_norm_train(xs, &self.weight, self.eps),
            Kernels::Fused => candle_nn::ops::rms_norm(&xs.contiguous()?, &self.weight, self.eps as f32),
        }
    }
}

#[derive(Debug, Clone)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn forward(
        &self,
        xs: &Tensor,
        rope: &Rope,
        start: usize,
        left_pad: Option<&[usize]>,
        cache: Option<&mut (Option<Tensor>, Option<Tensor>)>,
        ctx: ForwardCtx,
    ) -> Result<Tensor> {
        if cache.is_none() && left_pad.is_none() && start == 0 {
            let layer = AttentionLayer {
                q: &self.q_proj,
                k: &self.k_proj,
                v: &self.v_proj,
                o: &self.o_proj,
                heads: self.num_heads,
                kv_heads: self.num_kv_heads,
                head_dim: self.head_dim,
            };
            if let Some(out) = fused_attention(xs, &layer, rope, ctx.kernels == Kernels::Differentiable)? {
                return Ok(out);
            }
        }
        self.forward_composed(xs, rope, start, left_pad, cache, ctx)
    }

    /// The attention from candle ops, for every device, cache and padding.
    fn forward_composed(
        &self,
        xs: &Tensor,
        rope: &Rope,
        start: usize,
        left_pad: Option<&[usize]>,
        cache: Option<&mut (Option<Tensor>, Option<Tensor>)>,
        ctx: ForwardCtx,
    ) -> Result<Tensor> {
        let kernels = ctx.kernels;
        let (b, t, _) = xs.dims3()?;
        let differentiable = kernels == Kernels::Differentiable;
        let heads =
            |proj: &Linear, n: usize| -> Result<Tensor> { proj.forward(xs, ctx)?.reshape((b, t, n, self.head_dim))?.transpose(1, 2) };
        let q = rope.apply(&heads(&self.q_proj, self.num_heads)?, start, differentiable)?;
        let mut k = rope.apply(&heads(&self.k_proj, self.num_kv_heads)?, start, differentiable)?;
        let mut v = heads(&self.v_proj, self.num_kv_heads)?.contiguous()?;
        if let Some((ck, cv)) = cache {
            if let (Some(pk), Some(pv)) = (ck.as_ref(), cv.as_ref()) {
                k = Tensor::cat(&[pk, &k], 2)?;
                v = Tensor::cat(&[pv, &v], 2)?;
            }
            *ck = Some(k.clone());
            *cv = Some(v.clone());
        }
        let s = k.dim(2)?;
        let n_rep = self.num_heads / self.num_kv_heads;
        // Grouped-query attention without copying K/V: the query heads that share a KV head are
        // stacked along the sequence axis.
        let q = q.contiguous()?.reshape((b, self.num_kv_heads, n_rep * t, self.head_dim))?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = q.matmul(&k.t()?)?.reshape((b, self.num_heads, t, s))?;
        let in_dtype = scores.dtype();
        let scores = if in_dtype == DType::F32 || in_dtype == DType::F64 { scores } else { scores.to_dtype(DType::F32)? };
        let probs = if differentiable && left_pad.is_none() {
            causal_softmax(&scores, scale, start)?
        } else {
            let scores = (scores * scale)?;
            let mask = match left_pad {
                Some(pad) => Some(padded_causal_mask(pad, t, s, start, scores.device())?),
                None => causal_mask(t, s, start, scores.device())?,
            };
            let scores = match mask {
                Some(mask) => scores.broadcast_add(&mask.to_dtype(scores.dtype())?)?,
                None => scores,
            };
            match kernels {
                Kernels::Differentiable => candle_nn::ops::softmax(&scores, D::Minus1)?,
                Kernels::Fused => candle_nn::ops::softmax_last_dim(&scores)?,
            }
        }
        .to_dtype(in_dtype)?;
        let probs = probs.reshape((b, self.num_kv_heads, n_rep * t, s))?;
        let out = probs.matmul(&v)?.reshape((b, self.num_heads, t, self.head_dim))?;
        let out = out.transpose(1, 2)?.reshape((b, t, self.num_heads * self.head_dim))?;
        self.o_proj.forward(&out, ctx)
    }
}

/// `[t, s]` additive mask hiding keys after each query's own position; `None` when nothing is hidden.
fn causal_mask(t: usize, s: usize, start: usize, device: &Device) -> Result<Option<Tensor>> {
    if t == 1 {
        return Ok(None);
    }
    let mask: Vec<f32> = (0..t).flat_map(|i| (0..s).map(move |j| if j > start + i { f32::NEG_INFINITY } else { 0.0 })).collect();
    Tensor::from_vec(mask, (t, s), device).map(Some)
}

/// A score far below any real one but finite, so that a padding query whose keys are all padding
/// still gets a (meaningless) distribution instead of NaN.
const PAD_SCORE: f32 = -1e30;

/// `[b, 1, t, s]` additive mask for left-padded rows: hides keys after each query's position and
/// the `left_pad[row]` padding keys at the start of each row.
fn padded_causal_mask(left_pad: &[usize], t: usize, s: usize, start: usize, device: &Device) -> Result<Tensor> {
    let mut mask = Vec::with_capacity(left_pad.len() * t * s);
    for &pad in left_pad {
        for i in 0..t {
            mask.extend((0..s).map(|j| {
                if j > start + i {
                    f32::NEG_INFINITY
                } else if j < pad {
                    PAD_SCORE
                } else {
                    0.0
                }
            }));
        }
    }
    Tensor::from_vec(mask, (left_pad.len(), 1, t, s), device)
}

#[derive(Debug, Clone)]
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn forward(&self, xs: &Tensor, ctx: ForwardCtx) -> Result<Tensor> {
        let gate = self.gate_proj.forward(xs, ctx)?;
        self.down_proj.forward(&swiglu(&gate, &self.up_proj.forward(xs, ctx)?)?, ctx)
    }
}

#[derive(Debug, Clone)]
struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl DecoderLayer {
    /// The seven projections, in [`LINEAR_MODULES`] order.
    fn linears(&self) -> [&Linear; 7] {
        let (a, m) = (&self.self_attn, &self.mlp);
        [&a.q_proj, &a.k_proj, &a.v_proj, &a.o_proj, &m.gate_proj, &m.up_proj, &m.down_proj]
    }

    fn forward(
        &self,
        xs: &Tensor,
        rope: &Rope,
        start: usize,
        left_pad: Option<&[usize]>,
        cache: Option<&mut (Option<Tensor>, Option<Tensor>)>,
        ctx: ForwardCtx,
    ) -> Result<Tensor> {
        let normed = self.input_layernorm.forward(xs, ctx.kernels)?;
        let xs = (xs + self.self_attn.forward(&normed, rope, start, left_pad, cache, ctx)?)?;
        let normed = self.post_attention_layernorm.forward(&xs, ctx.kernels)?;
        xs + self.mlp.forward(&normed, ctx)?
    }
}

/// A Llama-family causal language model.
#[derive(Debug, Clone)]
pub struct CausalLm {
    config: ModelConfig,
    /// `[vocab, hidden]`, dense or quantized (and shared with a tied output head).
    embed_tokens: FrozenWeight,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: Linear,
    rope: Rope,
    dtype: DType,
    device: Device,
}

impl CausalLm {
    /// Builds the model from HF-named weights in `dtype` on `device`; weights kept in quantized
    /// blocks stay so. Tensors it does not use are left in `weights`.
    pub fn from_weights(config: &ModelConfig, weights: &mut Weights, dtype: DType, device: &Device) -> ModelResult<Self> {
        let c = config;
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let (q_dim, kv_dim) = (c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim);
        let embed_tokens = weights.take_frozen("model.embed_tokens.weight", [c.vocab_size, h], dtype, device)?;
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for l in 0..c.num_hidden_layers {
            let p = format!("model.layers.{l}");
            let mut linear = |name: &str, out: usize, inp: usize, bias: bool| -> ModelResult<Linear> {
                let w = weights.take_frozen(&format!("{p}.{name}.weight"), [out, inp], dtype, device)?;
                let b = if bias { Some(weights.take(&format!("{p}.{name}.bias"), &[out], dtype, device)?) } else { None };
                Ok(Linear::from_frozen(w, b))
            };
            let self_attn = Attention {
                q_proj: linear("self_attn.q_proj", q_dim, h, c.qkv_bias)?,
                k_proj: linear("self_attn.k_proj", kv_dim, h, c.qkv_bias)?,
                v_proj: linear("self_attn.v_proj", kv_dim, h, c.qkv_bias)?,
                o_proj: linear("self_attn.o_proj", h, q_dim, c.o_bias)?,
                num_heads: c.num_attention_heads,
                num_kv_heads: c.num_key_value_heads,
                head_dim: c.head_dim,
            };
            let mlp = Mlp {
                gate_proj: linear("mlp.gate_proj", i, h, c.mlp_bias)?,
                up_proj: linear("mlp.up_proj", i, h, c.mlp_bias)?,
                down_proj: linear("mlp.down_proj", h, i, c.mlp_bias)?,
            };
            let mut norm = |name: &str| -> ModelResult<RmsNorm> {
                Ok(RmsNorm { weight: weights.take(&format!("{p}.{name}.weight"), &[h], dtype, device)?, eps: c.rms_norm_eps })
            };
            layers.push(DecoderLayer {
                input_layernorm: norm("input_layernorm")?,
                post_attention_layernorm: norm("post_attention_layernorm")?,
                self_attn,
                mlp,
            });
        }
        let norm = RmsNorm { weight: weights.take("model.norm.weight", &[h], dtype, device)?, eps: c.rms_norm_eps };
        let lm_head = if c.tie_word_embeddings {
            weights.tensors_mut().remove("lm_head.weight");
            Linear::from_frozen(embed_tokens.clone(), None)
        } else {
            Linear::from_frozen(weights.take_frozen("lm_head.weight", [c.vocab_size, h], dtype, device)?, None)
        };
        let mut inv_freq = inverse_frequencies(c);
        // llama.cpp stores Llama 3 RoPE scaling as per-frequency divisors.
        if let Some(factors) = weights.tensors_mut().remove("rope_freqs.weight") {
            let factors = factors.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
            if factors.len() != inv_freq.len() {
                return Err(super::error::ModelError::Tensor {
                    path: weights.origin().to_path_buf(),
                    name: "rope_freqs.weight".into(),
                    detail: format!("has {} entries but head_dim / 2 is {}", factors.len(), inv_freq.len()),
                });
            }
            inv_freq = inv_freq.iter().zip(&factors).map(|(f, d)| f / d).collect();
        }
        let rope = Rope::new(&inv_freq, c.max_position_embeddings, dtype, device)?;
        Ok(Self { config: c.clone(), embed_tokens, layers, norm, lm_head, rope, dtype, device: device.clone() })
    }

    /// The architecture description.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The working dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// An empty KV cache for generation.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.layers.len())
    }

    /// Logits `[batch, seq, vocab]` for every position, through differentiable ops only.
    pub fn forward(&self, input_ids: &Tensor) -> Result<Tensor> {
        let hidden = self.hidden_states(input_ids, None, ForwardCtx::DIFFERENTIABLE)?;
        self.logits(&hidden, ForwardCtx::DIFFERENTIABLE)
    }

    /// Logits `[batch, seq, vocab]` for every new position with fused kernels; with a cache, the
    /// tokens continue the cached sequence and the cache grows by them.
    pub fn forward_inference(&self, input_ids: &Tensor, cache: Option<&mut KvCache>) -> Result<Tensor> {
        let hidden = self.hidden_states(input_ids, cache, ForwardCtx::INFERENCE)?;
        self.logits(&hidden, ForwardCtx::INFERENCE)
    }

    /// Final-norm hidden states `[batch, seq, hidden]` (before the output projection).
    pub fn hidden_states(&self, input_ids: &Tensor, cache: Option<&mut KvCache>, ctx: ForwardCtx) -> Result<Tensor> {
        self.run_layers(input_ids, cache, None, ctx)
    }

    /// The token embeddings `[batch, seq, hidden]` of `input_ids` `[batch, seq]`: the first
    /// decoder layer's input.
    pub fn embed(&self, input_ids: &Tensor) -> Result<Tensor> {
        let (b, t) = input_ids.dims2()?;
        let ids = input_ids.flatten_all()?;
        let rows = match &self.embed_tokens {
            FrozenWeight::Dense(_) => self.embed_tokens.dense().map(|e| e.index_select(&ids, 0)).transpose()?,
            FrozenWeight::Quantized(q) => Some(q.gather_rows(&ids)?.to_dtype(self.dtype)?),
        };
        rows.ok_or_else(|| candle_core::Error::Msg("embedding has no rows".into()))?.reshape((b, t, self.config.hidden_size))
    }

    /// Bytes the base weights hold on their device (quantized blocks at their stored size, a
    /// tied embedding counted once).
    pub fn weight_bytes(&self) -> usize {
        let bytes = |t: &Tensor| t.elem_count() * t.dtype().size_in_bytes();
        let mut total = self.embed_tokens.storage_bytes() + bytes(&self.norm.weight);
        if !self.config.tie_word_embeddings {
            total += self.lm_head.frozen_weight().storage_bytes();
        }
        for layer in &self.layers {
            total += bytes(&layer.input_layernorm.weight) + bytes(&layer.post_attention_layernorm.weight);
            total += layer.linears().iter().map(|l| l.frozen_weight().storage_bytes() + l.bias().map_or(0, bytes)).sum::<usize>();
        }
        total
    }

    /// Whether some base weights are kept in quantized blocks.
    pub fn is_quantized(&self) -> bool {
        let quantized = |w: &FrozenWeight| matches!(w, FrozenWeight::Quantized(_));
        quantized(&self.embed_tokens) || self.layers.iter().flat_map(|l| l.linears()).any(|l| quantized(l.frozen_weight()))
    }

    /// How many decoder layers there are.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Decoder layer `l` on whole sequences `[batch, seq, hidden]` from position 0 (no cache, no
    /// padding): what [`Self::hidden_states`] runs layer by layer, for gradient checkpointing.
    pub fn decoder_layer(&self, l: usize, xs: &Tensor, ctx: ForwardCtx) -> Result<Tensor> {
        let layer = self.layers.get(l).ok_or_else(|| candle_core::Error::Msg(format!("no decoder layer {l}")))?;
        layer.forward(xs, &self.rope, 0, None, None, ctx)
    }

    /// The final norm after the last decoder layer.
    pub fn final_norm(&self, xs: &Tensor, ctx: ForwardCtx) -> Result<Tensor> {
        self.norm.forward(xs, ctx.kernels)
    }

    /// Last-position logits `[batch, vocab]` (fused kernels) of left-padded rows: row `r` starts
    /// with `left_pad[r]` padding tokens that no position attends to. With a cache, the tokens
    /// continue the cached batch (pass the same `left_pad` every step). RoPE depends only on
    /// relative positions, so a padded row scores as it would alone, up to rounding.
    pub fn last_logits_padded(&self, input_ids: &Tensor, cache: Option<&mut KvCache>, left_pad: &[usize]) -> Result<Tensor> {
        let (b, t) = input_ids.dims2()?;
        if left_pad.len() != b {
            candle_core::bail!("{} padding counts for a batch of {b} rows", left_pad.len());
        }
        let hidden = self.run_layers(input_ids, cache, Some(left_pad), ForwardCtx::INFERENCE)?;
        self.logits(&hidden.narrow(1, t - 1, 1)?.squeeze(1)?, ForwardCtx::INFERENCE)
    }

    fn run_layers(
        &self,
        input_ids: &Tensor,
        mut cache: Option<&mut KvCache>,
        left_pad: Option<&[usize]>,
        ctx: ForwardCtx,
    ) -> Result<Tensor> {
        let t = input_ids.dim(1)?;
        let start = cache.as_ref().map(|c| c.len()).unwrap_or(0);
        let mut xs = self.embed(input_ids)?;
        for (l, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_mut().map(|c| c.layer_mut(l));
            xs = layer.forward(&xs, &self.rope, start, left_pad, slot, ctx)?;
        }
        if let Some(c) = cache {
            c.advance(t);
        }
        self.norm.forward(&xs, ctx.kernels)
    }

    /// Output projection of hidden states `[..., hidden]` to logits `[..., vocab]`. Training
    /// computes it only at the positions that carry a loss.
    pub fn logits(&self, hidden: &Tensor, ctx: ForwardCtx) -> Result<Tensor> {
        self.lm_head.forward(hidden, ctx)
    }

    /// The output projection.
    pub fn lm_head(&self) -> &Linear {
        &self.lm_head
    }

    /// Names of every linear module (`model.layers.0.self_attn.q_proj`, ...), in layer order.
    pub fn linear_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for l in 0..self.layers.len() {
            for m in LINEAR_MODULES {
                names.push(format!("model.layers.{l}.{m}"));
            }
        }
        names
    }

    fn linear_mut(&mut self, name: &str) -> Option<&mut Linear> {
        let rest = name.strip_prefix("model.layers.")?;
        let (l, module) = rest.split_once('.')?;
        let layer = self.layers.get_mut(l.parse::<usize>().ok()?)?;
        Some(match module {
            "self_attn.q_proj" => &mut layer.self_attn.q_proj,
            "self_attn.k_proj" => &mut layer.self_attn.k_proj,
            "self_attn.v_proj" => &mut layer.self_attn.v_proj,
            "self_attn.o_proj" => &mut layer.self_attn.o_proj,
            "mlp.gate_proj" => &mut layer.mlp.gate_proj,
            "mlp.up_proj" => &mut layer.mlp.up_proj,
            "mlp.down_proj" => &mut layer.mlp.down_proj,
            _ => return None,
        })
    }

    /// `(module, out, in)` of every linear module the LoRA spec targets.
    pub fn lora_targets(&mut self, spec: &super::lora::LoraSpec) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        for name in self.linear_names() {
            if spec.targets_module(&name) {
                if let Some((o, i)) = self.linear_mut(&name).and_then(|lin| lin.shape().ok()) {
                    out.push((name, o, i));
                }
            }
        }
        out
    }

    /// Attaches a fixed (not trained) adapter to one module: how an adapter given at load time
    /// applies to a weight kept in quantized blocks, which cannot be merged into.
    pub fn attach_fixed_lora(&mut self, module: &str, a: &Tensor, b: &Tensor, scale: f64) -> super::error::Result<()> {
        let device = self.device.clone();
        let linear = self.linear_mut(module).ok_or_else(|| super::error::ModelError::Adapter {
            path: Default::default(),
            detail: format!("module '{module}' does not exist in this model"),
        })?;
        let (a, b) = (a.to_device(&device)?.to_dtype(DType::F32)?, b.to_device(&device)?.to_dtype(DType::F32)?);
        linear.set_lora(Some(super::lora::LoraWeights { a, b, scale, dropout: 0.0, mask_stream: 0 }));
        Ok(())
    }

    /// Attaches the adapters of `set` to their modules (replacing any attached before, a fixed
    /// one from [`Self::attach_fixed_lora`] included).
    pub fn attach_lora(&mut self, set: &LoraSet) -> super::error::Result<()> {
        self.detach_lora();
        for (i, module) in set.params.keys().enumerate() {
            let weights = set.weights_for(module, i as u64 + 1);
            let linear = self.linear_mut(module).ok_or_else(|| super::error::ModelError::Adapter {
                path: Default::default(),
                detail: format!("module '{module}' does not exist in this model"),
            })?;
            let (out, inp) = linear.shape()?;
            if let Some(w) = &weights {
                if w.a.dim(1)? != inp || w.b.dim(0)? != out || w.a.dim(0)? != w.b.dim(1)? {
                    return Err(super::error::ModelError::Adapter {
                        path: Default::default(),
                        detail: format!(
                            "adapter for '{module}' has A {:?} and B {:?}, but the layer is [{out}, {inp}]",
                            w.a.dims(),
                            w.b.dims()
                        ),
                    });
                }
            }
            linear.set_lora(weights);
        }
        Ok(())
    }

    /// Removes every attached adapter.
    pub fn detach_lora(&mut self) {
        for name in self.linear_names() {
            if let Some(l) = self.linear_mut(&name) {
                l.set_lora(None);
            }
        }
    }
}

/// The linear modules of one decoder layer, by HF name.
pub const LINEAR_MODULES: [&str; 7] =
    ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    fn linear(out: usize, inp: usize, bias: bool) -> Result<Linear> {
        let dev = Device::Cpu;
        let b = if bias { Some(Tensor::randn(0f32, 0.1, out, &dev)?) } else { None };
        Ok(Linear::new(Tensor::randn(0f32, 0.3, (out, inp), &dev)?, b))
    }

    /// The fused CPU attention (grouped-query, biases) equals the composed ops, forward and in
    /// the input's gradient.
    #[test]
    fn fused_attention_matches_the_composed_ops() -> Result<()> {
        let dev = Device::Cpu;
        let (hidden, heads, kv_heads, head_dim) = (24, 6, 2, 8);
        let attn = Attention {
            q_proj: linear(heads * head_dim, hidden, true)?,
            k_proj: linear(kv_heads * head_dim, hidden, true)?,
            v_proj: linear(kv_heads * head_dim, hidden, true)?,
            o_proj: linear(hidden, heads * head_dim, false)?,
            num_heads: heads,
            num_kv_heads: kv_heads,
            head_dim,
        };
        let rope = Rope::new(&[1.0, 0.3, 0.05, 0.01], 64, DType::F32, &dev)?;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 11, hidden), &dev)?)?;
        let diff = |a: &Tensor, b: &Tensor| (a - b).and_then(|d| d.abs()?.max_all()?.to_scalar::<f32>());
        let probe = Tensor::randn(0f32, 1.0, (3, 11, hidden), &dev)?;
        for ctx in [ForwardCtx::DIFFERENTIABLE, ForwardCtx::INFERENCE] {
            let fused = attn.forward(x.as_tensor(), &rope, 0, None, None, ctx)?;
            let plain = attn.forward_composed(x.as_tensor(), &rope, 0, None, None, ctx)?;
            assert!(diff(&fused, &plain)? < 1e-5, "forward differs by {}", diff(&fused, &plain)?);
            if ctx.kernels == Kernels::Differentiable {
                let gf = (fused * &probe)?.sum_all()?.backward()?;
                let gp = (plain * &probe)?.sum_all()?.backward()?;
                let (gf, gp) = (gf.get(x.as_tensor()).unwrap(), gp.get(x.as_tensor()).unwrap());
                assert!(diff(gf, gp)? < 1e-4, "input gradient differs by {}", diff(gf, gp)?);
                assert!(gf.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0);
            }
        }
        Ok(())
    }
}
