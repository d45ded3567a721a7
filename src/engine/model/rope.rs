//! Rotary position embeddings (the "rotate half" form HF Llama/Qwen2/Mistral use), with Llama 3
//! frequency scaling. One table per model, shared by every layer.

use super::config::ModelConfig;
use candle_core::{DType, Device, Result, Tensor};
use rayon::prelude::*;

/// Precomputed cos/sin tables, `[max_positions, head_dim / 2]` each.
#[derive(Debug, Clone)]
pub struct Rope {
    cos: Tensor,
    sin: Tensor,
}

/// The inverse frequencies `1 / theta^(2i/d)`, Llama 3 scaled when configured.
pub fn inverse_frequencies(cfg: &ModelConfig) -> Vec<f64> {
    let dim = cfg.head_dim;
    let base: Vec<f64> = (0..dim / 2).map(|i| 1.0 / cfg.rope_theta.powf(2.0 * i as f64 / dim as f64)).collect();
    let Some(s) = &cfg.rope_scaling else { return base };
    let low_freq_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
    let high_freq_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
    base.into_iter()
        .map(|freq| {
            let wavelen = 2.0 * std::f64::consts::PI / freq;
            if wavelen < high_freq_wavelen {
                freq
            } else if wavelen > low_freq_wavelen {
                freq / s.factor
            } else {
                let smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
                (1.0 - smooth) * freq / s.factor + smooth * freq
            }
        })
        .collect()
}

impl Rope {
    /// Builds the tables for `max_positions` positions from the given inverse frequencies.
    pub fn new(inv_freq: &[f64], max_positions: usize, dtype: DType, device: &Device) -> Result<Self> {
        let half = inv_freq.len();
        let mut cos = Vec::with_capacity(max_positions * half);
        let mut sin = Vec::with_capacity(max_positions * half);
        for pos in 0..max_positions {
            for f in inv_freq {
                // f32 angles, as transformers computes them, so long contexts agree too.
                let angle = (pos as f32) * (*f as f32);
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        let cos = Tensor::from_vec(cos, (max_positions, half), device)?.to_dtype(dtype)?;
        let sin = Tensor::from_vec(sin, (max_positions, half), device)?.to_dtype(dtype)?;
        Ok(Self { cos, sin })
    }

    /// How many positions the tables cover.
    pub fn max_positions(&self) -> usize {
        self.cos.dims()[0]
    }

    /// The cos and sin tables for positions `start..start+seq` as f32, `[seq, head_dim / 2]` each.
    pub fn tables_f32(&self, start: usize, seq: usize) -> Result<(Vec<f32>, Vec<f32>)> {
        if start + seq > self.max_positions() {
            candle_core::bail!("sequence of {} positions exceeds the model's context of {} positions", start + seq, self.max_positions());
        }
        let table = |t: &Tensor| t.narrow(0, start, seq)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>();
        Ok((table(&self.cos)?, table(&self.sin)?))
    }

    /// Rotates `xs` of shape `[batch, heads, seq, head_dim]` for positions `start..start+seq`.
    /// `differentiable` selects composed ops that carry gradients; otherwise candle's fused kernel.
    pub fn apply(&self, xs: &Tensor, start: usize, differentiable: bool) -> Result<Tensor> {
        let seq = xs.dim(2)?;
        if start + seq > self.max_positions() {
            candle_core::bail!("sequence of {} positions exceeds the model's context of {} positions", start + seq, self.max_positions());
        }
        if differentiable && matches!(xs.device(), Device::Cpu) && xs.dtype() == DType::F32 {
            let (cos, sin) = self.tables_f32(start, seq)?;
            return xs.contiguous()?.apply_op1(RotateOp { cos, sin, seq });
        }
        let cos = self.cos.narrow(0, start, seq)?;
        let sin = self.sin.narrow(0, start, seq)?;
        if differentiable {
            candle_nn::rotary_emb::rope_slow(xs, &cos, &sin)
        } else {
            candle_nn::rotary_emb::rope(&xs.contiguous()?, &cos.contiguous()?, &sin.contiguous()?)
        }
    }
}

/// Non-interleaved RoPE on contiguous f32 `[.., seq, head_dim]` with a backward pass (the
/// rotation's transpose is the rotation by minus the angle), in one pass each way instead of the
/// composed form's multiply / rotate-half / add passes.
struct RotateOp {
    /// `[seq, head_dim / 2]`.
    cos: Vec<f32>,
    sin: Vec<f32>,
    seq: usize,
}

/// Rotates every head of rows `[rows, width]` in place by the angle of the row's position
/// (`row % seq`); each row holds `width / head_dim` heads. `sign` -1 rotates back (the
/// transpose, for gradients).
pub fn rotate_rows(x: &mut [f32], width: usize, head_dim: usize, cos: &[f32], sin: &[f32], seq: usize, sign: f32) {
    let half = head_dim / 2;
    x.par_chunks_mut(width).enumerate().for_each(|(r, row)| {
        let t = r % seq;
        let (c, s) = (&cos[t * half..(t + 1) * half], &sin[t * half..(t + 1) * half]);
        for head in row.chunks_exact_mut(head_dim) {
            let (x1, x2) = head.split_at_mut(half);
            for i in 0..half {
                let (a, b, si) = (x1[i], x2[i], sign * s[i]);
                x1[i] = a * c[i] - b * si;
                x2[i] = b * c[i] + a * si;
            }
        }
    });
}

impl RotateOp {
    /// `[.., seq, head_dim]` values rotated.
    fn rotate(&self, x: &[f32], sign: f32) -> Vec<f32> {
        let head_dim = 2 * self.cos.len() / self.seq.max(1);
        let mut out = x.to_vec();
        rotate_rows(&mut out, head_dim, head_dim, &self.cos, &self.sin, self.seq, sign);
        out
    }
}

impl candle_core::CustomOp1 for RotateOp {
    fn name(&self) -> &'static str {
        "rope-train"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let Some((a, b)) = layout.contiguous_offsets() else { candle_core::bail!("rope: input must be contiguous") };
        let candle_core::CpuStorage::F32(all) = storage else { candle_core::bail!("rope: input must be f32") };
        let out = self.rotate(&all[a..b], 1.0);
        Ok((candle_core::CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let g = grad_res.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let grad = self.rotate(&g, -1.0);
        Ok(Some(Tensor::from_vec(grad, grad_res.shape(), grad_res.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::config::{Architecture, Llama3RopeScaling};

    fn cfg(scaling: Option<Llama3RopeScaling>) -> ModelConfig {
        ModelConfig {
            architecture: Architecture::Llama,
            vocab_size: 10,
            hidden_size: 32,
            intermediate_size: 64,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            num_key_value_heads: 1,
            head_dim: 16,
            rms_norm_eps: 1e-5,
            rope_theta: 10000.0,
            rope_scaling: scaling,
            max_position_embeddings: 64,
            tie_word_embeddings: false,
            qkv_bias: false,
            o_bias: false,
            mlp_bias: false,
            bos_token_id: None,
            eos_token_ids: vec![],
            saved_dtype: None,
            quantized: None,
        }
    }

    #[test]
    fn fused_training_rotation_matches_the_composed_one_with_gradients() -> Result<()> {
        let dev = Device::Cpu;
        let rope = Rope::new(&inverse_frequencies(&cfg(None)), 64, DType::F32, &dev)?;
        let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 5, 16), &dev)?)?;
        let fused = rope.apply(x.as_tensor(), 7, true)?;
        let (cos, sin) = (rope.cos.narrow(0, 7, 5)?, rope.sin.narrow(0, 7, 5)?);
        let plain = candle_nn::rotary_emb::rope_slow(x.as_tensor(), &cos, &sin)?;
        assert!((&fused - &plain)?.abs()?.max_all()?.to_scalar::<f32>()? < 1e-6);
        let probe = Tensor::randn(0f32, 1.0, (2, 3, 5, 16), &dev)?;
        let ga = (fused * &probe)?.sum_all()?.backward()?.get(x.as_tensor()).unwrap().clone();
        let gb = (plain * &probe)?.sum_all()?.backward()?.get(x.as_tensor()).unwrap().clone();
        assert!((ga - gb)?.abs()?.max_all()?.to_scalar::<f32>()? < 1e-5);
        Ok(())
    }

    #[test]
    fn llama3_scaling_keeps_high_and_divides_low_frequencies() {
        let plain = inverse_frequencies(&cfg(None));
        let scaled = inverse_frequencies(&cfg(Some(Llama3RopeScaling {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 64.0,
        })));
        assert_eq!(plain[0], scaled[0]);
        let last = plain.len() - 1;
        assert!((scaled[last] - plain[last] / 8.0).abs() < 1e-15);
    }

    #[test]
    fn fused_and_differentiable_rope_agree() -> Result<()> {
        let c = cfg(None);
        let rope = Rope::new(&inverse_frequencies(&c), 32, DType::F32, &Device::Cpu)?;
        let xs = Tensor::randn(0f32, 1.0, (2, 3, 5, 16), &Device::Cpu)?;
        let a = rope.apply(&xs, 4, true)?;
        let b = rope.apply(&xs, 4, false)?;
        let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "{diff}");
        Ok(())
    }
}
