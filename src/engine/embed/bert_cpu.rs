//! The BERT forward pass on the CPU, tuned for sentence embedding: sequences are packed one after
//! the other with no padding, Q/K/V are one matrix product, and the element-wise work candle does
//! one element at a time on one core (GELU, bias adds, softmax) runs in fused, parallel kernels
//! ([`super::kernels`]). The matrix products are candle's. Same weights and the same arithmetic as
//! candle-transformers' `BertModel` (erf GELU, LayerNorm with biased variance, absolute
//! positions), so the vectors agree with sentence-transformers to float precision.

use super::bert::Pooling;
use super::kernels::{bias_gelu, bias_residual_layernorm, packed_attention};
use candle_core::{Device, Result, Storage, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;

struct Layer {
    qkv_t: Tensor,
    qkv_bias: Vec<f32>,
    attn_out_t: Tensor,
    attn_out_bias: Vec<f32>,
    ln1: (Vec<f32>, Vec<f32>),
    inter_t: Tensor,
    inter_bias: Vec<f32>,
    out_t: Tensor,
    out_bias: Vec<f32>,
    ln2: (Vec<f32>, Vec<f32>),
}

/// A BERT encoder whose forward pass runs on the CPU with packed sequences.
pub struct CpuBert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type0: Vec<f32>,
    emb_ln: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    intermediate: usize,
    vocab: usize,
    max_positions: usize,
    eps: f32,
}

fn vec1(vb: &VarBuilder, n: usize, name: &str) -> Result<Vec<f32>> {
    vb.get(n, name)?.to_vec1::<f32>()
}

fn transposed(vb: &VarBuilder, out: usize, inp: usize, name: &str) -> Result<Tensor> {
    vb.get((out, inp), name)?.t()?.contiguous()
}

fn ln(vb: &VarBuilder, n: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    Ok((vec1(vb, n, "weight")?, vec1(vb, n, "bias")?))
}

/// Runs `f` on the contiguous f32 data of a CPU tensor.
fn with_slice<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else { candle_core::bail!("expected a CPU tensor") };
    let all = cpu.as_slice::<f32>()?;
    let (start, end) = layout.contiguous_offsets().ok_or_else(|| candle_core::Error::Msg("expected a contiguous tensor".into()))?;
    Ok(f(&all[start..end]))
}

impl CpuBert {
    /// Whether this path can run `cfg` (erf GELU, absolute positions); otherwise use
    /// candle-transformers' `BertModel`.
    pub fn supports(cfg: &Config) -> bool {
        matches!(cfg.hidden_act, candle_transformers::models::bert::HiddenAct::Gelu) && cfg.hidden_size % cfg.num_attention_heads == 0
    }

    /// Loads the weights (names as in Hugging Face's `BertModel`, with or without a `bert.`
    /// prefix) onto the CPU.
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") { vb.pp("bert") } else { vb };
        let h = cfg.hidden_size;
        let e = vb.pp("embeddings");
        let word = e.get((cfg.vocab_size, h), "word_embeddings.weight")?.flatten_all()?.to_vec1()?;
        let position = e.get((cfg.max_position_embeddings, h), "position_embeddings.weight")?.flatten_all()?.to_vec1()?;
        let token_type0 = e.get((cfg.type_vocab_size, h), "token_type_embeddings.weight")?.get(0)?.to_vec1()?;
        let emb_ln = ln(&e.pp("LayerNorm"), h)?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let s = l.pp("attention.self");
            let (q, k, v) = (s.get((h, h), "query.weight")?, s.get((h, h), "key.weight")?, s.get((h, h), "value.weight")?);
            let qkv_t = Tensor::cat(&[&q, &k, &v], 0)?.t()?.contiguous()?;
            let mut qkv_bias = vec1(&s, h, "query.bias")?;
            qkv_bias.extend(vec1(&s, h, "key.bias")?);
            qkv_bias.extend(vec1(&s, h, "value.bias")?);
            let ao = l.pp("attention.output");
            let it = l.pp("intermediate.dense");
            let o = l.pp("output");
            layers.push(Layer {
                qkv_t,
                qkv_bias,
                attn_out_t: transposed(&ao, h, h, "dense.weight")?,
                attn_out_bias: vec1(&ao, h, "dense.bias")?,
                ln1: ln(&ao.pp("LayerNorm"), h)?,
                inter_t: transposed(&it, cfg.intermediate_size, h, "weight")?,
                inter_bias: vec1(&it, cfg.intermediate_size, "bias")?,
                out_t: transposed(&o, h, cfg.intermediate_size, "dense.weight")?,
                out_bias: vec1(&o, h, "dense.bias")?,
                ln2: ln(&o.pp("LayerNorm"), h)?,
            });
        }
        Ok(Self {
            word,
            position,
            token_type0,
            emb_ln,
            layers,
            hidden: h,
            heads: cfg.num_attention_heads,
            intermediate: cfg.intermediate_size,
            vocab: cfg.vocab_size,
            max_positions: cfg.max_position_embeddings,
            eps: cfg.layer_norm_eps as f32,
        })
    }

    /// Token vectors of the last layer for the packed sequences `ids`, `[tokens, hidden]`.
    pub fn forward_packed(&self, ids: &[Vec<u32>]) -> Result<Vec<f32>> {
        let h = self.hidden;
        let lens: Vec<usize> = ids.iter().map(Vec::len).collect();
        let tokens: usize = lens.iter().sum();
        let mut words = Vec::with_capacity(tokens * h);
        let mut positions = Vec::with_capacity(tokens * h);
        for seq in ids {
            if seq.len() > self.max_positions {
                candle_core::bail!("sequence of {} tokens is longer than the {} positions of the model", seq.len(), self.max_positions);
            }
            for (p, &id) in seq.iter().enumerate() {
                let id = id as usize;
                if id >= self.vocab {
                    candle_core::bail!("token id {id} is outside the vocabulary ({})", self.vocab);
                }
                words.extend_from_slice(&self.word[id * h..(id + 1) * h]);
                positions.extend_from_slice(&self.position[p * h..(p + 1) * h]);
            }
        }
        let mut x = vec![0f32; tokens * h];
        bias_residual_layernorm(&words, &self.token_type0, &positions, &self.emb_ln.0, &self.emb_ln.1, self.eps, &mut x);
        drop((words, positions));
        let dev = Device::Cpu;
        let mut ctx = vec![0f32; tokens * h];
        for l in &self.layers {
            let xt = Tensor::from_vec(x, (tokens, h), &dev)?;
            let qkv = xt.matmul(&l.qkv_t)?;
            with_slice(&qkv, |s| packed_attention(s, &l.qkv_bias, &lens, self.heads, h / self.heads, &mut ctx))?;
            drop(qkv);
            let attn = Tensor::from_slice(&ctx, (tokens, h), &dev)?.matmul(&l.attn_out_t)?;
            let mut y = vec![0f32; tokens * h];
            with_slice(&xt, |res| {
                with_slice(&attn, |a| bias_residual_layernorm(a, &l.attn_out_bias, res, &l.ln1.0, &l.ln1.1, self.eps, &mut y))
            })??;
            drop((xt, attn));
            let yt = Tensor::from_vec(y, (tokens, h), &dev)?;
            let pre = yt.matmul(&l.inter_t)?;
            let mut inter = vec![0f32; tokens * self.intermediate];
            with_slice(&pre, |s| bias_gelu(s, &l.inter_bias, &mut inter))?;
            drop(pre);
            let out = Tensor::from_vec(inter, (tokens, self.intermediate), &dev)?.matmul(&l.out_t)?;
            let mut z = vec![0f32; tokens * h];
            with_slice(&yt, |res| {
                with_slice(&out, |o| bias_residual_layernorm(o, &l.out_bias, res, &l.ln2.0, &l.ln2.1, self.eps, &mut z))
            })??;
            x = z;
        }
        Ok(x)
    }

    /// One pooled (and, with `normalize`, L2-normalised) vector per sequence, `[ids.len(), hidden]`.
    pub fn embed(&self, ids: &[Vec<u32>], pooling: Pooling, normalize: bool) -> Result<Vec<f32>> {
        let h = self.hidden;
        let tokens = self.forward_packed(ids)?;
        let mut out = vec![0f32; ids.len() * h];
        let mut start = 0;
        for (seq, o) in ids.iter().zip(out.chunks_mut(h)) {
            let rows = &tokens[start * h..(start + seq.len()) * h];
            match pooling {
                Pooling::Cls => o.copy_from_slice(&rows[..h.min(rows.len())]),
                Pooling::Mean => {
                    for r in rows.chunks(h) {
                        o.iter_mut().zip(r).for_each(|(a, v)| *a += v);
                    }
                    let n = seq.len().max(1) as f32;
                    o.iter_mut().for_each(|a| *a /= n);
                }
                Pooling::Max => {
                    o.fill(f32::NEG_INFINITY);
                    for r in rows.chunks(h) {
                        o.iter_mut().zip(r).for_each(|(a, v)| *a = a.max(*v));
                    }
                }
            }
            if normalize {
                let norm = o.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                o.iter_mut().for_each(|v| *v /= norm);
            }
            start += seq.len();
        }
        Ok(out)
    }
}
