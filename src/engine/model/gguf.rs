//! Loading `.gguf` files: configuration from the metadata, tensors kept in their quantized
//! blocks or de-quantised, renamed to HF names (with llama.cpp's Q/K row permutation undone), and the tokenizer rebuilt from the
//! vocabulary and merges stored in the metadata.

use super::config::{Architecture, ModelConfig, QuantizedShare};
use super::error::{ModelError, Result};
use super::quantized_weight::{keeps_blocks, QuantizedWeight};
use super::safetensors_file::LoadProgress;
use super::weights::Weights;
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{Device, Tensor};
use std::io::BufReader;
use std::path::Path;

/// A parsed GGUF file's header, kept open to read tensors from.
pub struct GgufFile {
    content: Content,
    reader: BufReader<std::fs::File>,
    path: std::path::PathBuf,
}

impl GgufFile {
    /// Opens and parses the header; every length and count in it is bounded by the file's size.
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|e| ModelError::Weights {
            path: path.to_path_buf(),
            detail: format!("not a readable GGUF file ({e}); it may be truncated or damaged: download it again"),
        })?;
        Ok(Self { content, reader, path: path.to_path_buf() })
    }

    /// The parsed header (metadata and tensor index).
    pub fn content(&self) -> &Content {
        &self.content
    }

    fn meta(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    fn meta_u64(&self, key: &str) -> Option<u64> {
        self.meta(key).and_then(value_as_f64).map(|v| v as u64)
    }

    fn meta_str(&self, key: &str) -> Option<String> {
        self.meta(key).and_then(|v| v.to_string().ok()).cloned()
    }

    /// The chat template stored in the metadata, if any.
    pub fn chat_template(&self) -> Option<String> {
        self.meta_str("tokenizer.chat_template")
    }

    /// The architecture description from the `{arch}.*` metadata keys.
    pub fn config(&self) -> Result<ModelConfig> {
        let bad = |detail: String| ModelError::Config { path: self.path.clone(), detail };
        let arch_name = self.meta_str("general.architecture").ok_or_else(|| bad("metadata has no general.architecture".into()))?;
        let architecture = Architecture::from_hf_name(&arch_name)
            .ok_or_else(|| ModelError::UnknownArchitecture { path: self.path.clone(), name: arch_name.clone() })?;
        let need = |key: &str| -> Result<u64> {
            self.meta_u64(&format!("{arch_name}.{key}")).ok_or_else(|| bad(format!("metadata has no {arch_name}.{key}")))
        };
        let hidden = need("embedding_length")? as usize;
        let heads = need("attention.head_count")? as usize;
        let kv_heads = self.meta_u64(&format!("{arch_name}.attention.head_count_kv")).map(|v| v as usize).unwrap_or(heads);
        let embd = self.content.tensor_infos.get("token_embd.weight").ok_or_else(|| bad("has no token_embd.weight tensor".into()))?;
        let vocab_size = embd.shape.dims()[0];
        if heads == 0 {
            return Err(bad("attention.head_count is 0".into()));
        }
        let eps = self.meta(&format!("{arch_name}.attention.layer_norm_rms_epsilon")).and_then(value_as_f64).unwrap_or(1e-5);
        let rope_theta = self.meta(&format!("{arch_name}.rope.freq_base")).and_then(value_as_f64).unwrap_or(10_000.0);
        let head_dim = self.meta_u64(&format!("{arch_name}.attention.key_length")).map(|v| v as usize).unwrap_or(hidden / heads);
        let context = self.meta_u64(&format!("{arch_name}.context_length")).unwrap_or(4096) as usize;
        let tokenizer_id = |key: &str| self.meta(key).and_then(value_as_f64).map(|v| v as u32);
        let cfg = ModelConfig {
            architecture,
            vocab_size,
            hidden_size: hidden,
            intermediate_size: need("feed_forward_length")? as usize,
            num_hidden_layers: need("block_count")? as usize,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim,
            rms_norm_eps: eps,
            rope_theta,
            rope_scaling: None,
            max_position_embeddings: context,
            tie_word_embeddings: !self.content.tensor_infos.contains_key("output.weight"),
            qkv_bias: self.content.tensor_infos.contains_key("blk.0.attn_q.bias"),
            o_bias: self.content.tensor_infos.contains_key("blk.0.attn_output.bias"),
            mlp_bias: self.content.tensor_infos.contains_key("blk.0.ffn_up.bias"),
            bos_token_id: tokenizer_id("tokenizer.ggml.bos_token_id"),
            eos_token_ids: tokenizer_id("tokenizer.ggml.eos_token_id").into_iter().collect(),
            saved_dtype: Some("gguf".into()),
            quantized: self.quantized_share(),
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }

    /// The decoder's matrices stored in block types (what loading keeps in its blocks).
    fn quantized_share(&self) -> Option<QuantizedShare> {
        let mut share = QuantizedShare { parameters: 0, bytes: 0 };
        for (name, info) in &self.content.tensor_infos {
            let dims = info.shape.dims();
            if dims.len() != 2 || !keeps_blocks(info.ggml_dtype) || hf_tensor_name(name).is_none() {
                continue;
            }
            let n = (dims[0] * dims[1]) as u64;
            share.parameters += n;
            share.bytes += n / info.ggml_dtype.block_size() as u64 * info.ggml_dtype.type_size() as u64;
        }
        (share.parameters > 0).then_some(share)
    }

    /// Reads every tensor under its HF name: block-quantized 2-D tensors kept in their blocks
    /// on `keep_quantized_on` when given, everything else de-quantised to f32. For the `llama`
    /// architecture, Q and K rows are put back in HF order (llama.cpp permutes them for its
    /// interleaved RoPE).
    pub fn weights(&mut self, config: &ModelConfig, keep_quantized_on: Option<&Device>, progress: LoadProgress<'_>) -> Result<Weights> {
        let mut weights = Weights::new(&self.path);
        let names: Vec<String> = self.content.tensor_infos.keys().cloned().collect();
        let permuted = config.architecture != Architecture::Qwen2;
        let total = names.len() as u64;
        for (done, gguf_name) in names.into_iter().enumerate() {
            progress(done as u64, total)?;
            let Some(hf_name) = hf_tensor_name(&gguf_name) else { continue };
            let qtensor = self.content.tensor(&mut self.reader, &gguf_name, &Device::Cpu).map_err(|e| ModelError::Tensor {
                path: self.path.clone(),
                name: gguf_name.clone(),
                detail: format!("{e} (the file may be truncated: download it again)"),
            })?;
            let heads = match hf_name.as_str() {
                n if permuted && n.ends_with("q_proj.weight") => Some(config.num_attention_heads),
                n if permuted && n.ends_with("k_proj.weight") => Some(config.num_key_value_heads),
                _ => None,
            };
            let keep = keep_quantized_on.filter(|_| keeps_blocks(qtensor.dtype()) && qtensor.shape().rank() == 2);
            if let Some(device) = keep {
                let order = heads.map(|h| unpermuted_row_order(qtensor.shape().dims()[0], h));
                let weight = QuantizedWeight::new(&qtensor, order.as_deref(), device).map_err(|e| ModelError::Tensor {
                    path: self.path.clone(),
                    name: gguf_name.clone(),
                    detail: format!("cannot be kept quantized: {e}"),
                })?;
                weights.insert_quantized(hf_name, weight);
                continue;
            }
            let mut tensor = qtensor.dequantize(&Device::Cpu)?;
            if let Some(h) = heads {
                tensor = unpermute_rows(&tensor, h)?;
            }
            weights.insert(hf_name, tensor);
        }
        progress(total, total)?;
        Ok(weights)
    }
}

fn value_as_f64(v: &Value) -> Option<f64> {
    Some(match v {
        Value::U8(x) => *x as f64,
        Value::I8(x) => *x as f64,
        Value::U16(x) => *x as f64,
        Value::I16(x) => *x as f64,
        Value::U32(x) => *x as f64,
        Value::I32(x) => *x as f64,
        Value::U64(x) => *x as f64,
        Value::I64(x) => *x as f64,
        Value::F32(x) => *x as f64,
        Value::F64(x) => *x,
        _ => return None,
    })
}

/// Maps a llama.cpp tensor name to its HF name; `None` for tensors the decoder does not use.
pub fn hf_tensor_name(gguf: &str) -> Option<String> {
    let fixed = match gguf {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        "rope_freqs.weight" => Some("rope_freqs.weight"),
        _ => None,
    };
    if let Some(n) = fixed {
        return Some(n.to_string());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (module, kind) = rest.rsplit_once('.')?;
    let hf = match module {
        "attn_norm" => "input_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{kind}"))
}

/// The row order that undoes llama.cpp's `permute(w, n_head)`: row `i` of the HF weight is
/// row `order[i]` of the GGUF one (what [`unpermute_rows`] does, as indices).
pub fn unpermuted_row_order(rows: usize, n_head: usize) -> Vec<usize> {
    let half = rows / n_head / 2;
    (0..rows)
        .map(|i| {
            let (h, j, k) = (i / (2 * half), (i / half) % 2, i % half);
            h * 2 * half + k * 2 + j
        })
        .collect()
}

/// Undoes llama.cpp's `permute(w, n_head)`: rows `[n_head, 2, half, ...]` -> `[n_head, half, 2, ...]`.
pub fn unpermute_rows(w: &Tensor, n_head: usize) -> candle_core::Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    let half = rows / n_head / 2;
    w.reshape((n_head, half, 2, cols))?.transpose(1, 2)?.contiguous()?.reshape((rows, cols))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_hf() {
        assert_eq!(hf_tensor_name("blk.12.ffn_gate.weight").as_deref(), Some("model.layers.12.mlp.gate_proj.weight"));
        assert_eq!(hf_tensor_name("blk.0.attn_q.bias").as_deref(), Some("model.layers.0.self_attn.q_proj.bias"));
        assert_eq!(hf_tensor_name("token_embd.weight").as_deref(), Some("model.embed_tokens.weight"));
        assert_eq!(hf_tensor_name("blk.x.attn_q.weight"), None);
    }

    #[test]
    fn unpermute_inverts_llama_cpp_permute() -> candle_core::Result<()> {
        let (n_head, half, cols) = (3, 2, 5);
        let rows = n_head * half * 2;
        let w = Tensor::arange(0f32, (rows * cols) as f32, &Device::Cpu)?.reshape((rows, cols))?;
        // llama.cpp: reshape(n_head, 2, half, cols).swapaxes(1, 2)
        let permuted = w.reshape((n_head, 2, half, cols))?.transpose(1, 2)?.contiguous()?.reshape((rows, cols))?;
        let back = unpermute_rows(&permuted, n_head)?;
        assert_eq!(back.to_vec2::<f32>()?, w.to_vec2::<f32>()?);
        let order: Vec<u32> = unpermuted_row_order(rows, n_head).into_iter().map(|r| r as u32).collect();
        let by_order = permuted.index_select(&Tensor::new(order, &Device::Cpu)?, 0)?;
        assert_eq!(by_order.to_vec2::<f32>()?, w.to_vec2::<f32>()?);
        Ok(())
    }
}
