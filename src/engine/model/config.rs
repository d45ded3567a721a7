//! The architecture description of a Llama-family causal LM, read from an HF `config.json` or
//! from GGUF metadata.

use super::error::ModelError;
use serde::Deserialize;
use std::path::Path;

/// The model families DTM Studio runs. They share one decoder; they differ in biases and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `LlamaForCausalLM`: Llama 2/3, SmolLM, TinyLlama.
    Llama,
    /// `MistralForCausalLM`.
    Mistral,
    /// `Qwen2ForCausalLM`: biases on q/k/v.
    Qwen2,
}

impl Architecture {
    /// Maps an HF `architectures` entry or `model_type` to a family.
    pub fn from_hf_name(name: &str) -> Option<Self> {
        match name {
            "LlamaForCausalLM" | "llama" => Some(Self::Llama),
            "MistralForCausalLM" | "mistral" => Some(Self::Mistral),
            "Qwen2ForCausalLM" | "qwen2" => Some(Self::Qwen2),
            _ => None,
        }
    }

    /// The HF class name, as written back into exported `config.json` files.
    pub fn hf_class(self) -> &'static str {
        match self {
            Self::Llama => "LlamaForCausalLM",
            Self::Mistral => "MistralForCausalLM",
            Self::Qwen2 => "Qwen2ForCausalLM",
        }
    }

    /// The names this build supports, for error messages.
    pub const SUPPORTED: &'static str = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM";
}

/// Llama 3 style frequency-dependent RoPE scaling.
#[derive(Debug, Clone, PartialEq)]
pub struct Llama3RopeScaling {
    /// Overall scale factor.
    pub factor: f64,
    /// Wavelengths longer than `original / low_freq_factor` are divided by `factor`.
    pub low_freq_factor: f64,
    /// Wavelengths shorter than `original / high_freq_factor` are kept.
    pub high_freq_factor: f64,
    /// The context length the base model was trained with.
    pub original_max_position_embeddings: f64,
}

/// Everything the decoder needs to know about its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// The model family.
    pub architecture: Architecture,
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (GQA when fewer than query heads).
    pub num_key_value_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Llama 3 RoPE scaling, when the config asks for it.
    pub rope_scaling: Option<Llama3RopeScaling>,
    /// Context length.
    pub max_position_embeddings: usize,
    /// Whether the output projection reuses the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Biases on q/k/v projections (Qwen2, or Llama's `attention_bias`).
    pub qkv_bias: bool,
    /// Bias on the attention output projection (Llama's `attention_bias`).
    pub o_bias: bool,
    /// Biases in the MLP (Llama's `mlp_bias`).
    pub mlp_bias: bool,
    /// Beginning-of-sequence token id, if any.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence token ids.
    pub eos_token_ids: Vec<u32>,
    /// The dtype the checkpoint was saved in (`torch_dtype` / `dtype`), if stated.
    pub saved_dtype: Option<String>,
    /// A GGUF file's block-quantized matrices, which load kept in their blocks (`None` for
    /// dense checkpoints, and once [`Self::dequantized`]).
    pub quantized: Option<QuantizedShare>,
}

/// The part of a model stored in quantized blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantizedShare {
    /// Parameters in block-quantized matrices.
    pub parameters: u64,
    /// Their bytes in blocks.
    pub bytes: u64,
}

impl ModelConfig {
    /// The same model loaded with its quantized matrices de-quantised to the working dtype.
    pub fn dequantized(self) -> Self {
        Self { quantized: None, ..self }
    }

    /// Bytes of the base weights held in `dtype`, quantized matrices at their block size (a
    /// tied embedding counted once).
    pub fn weight_bytes(&self, dtype: candle_core::DType) -> u64 {
        let size = dtype.size_in_bytes() as u64;
        match self.quantized {
            Some(q) => q.bytes + self.parameter_count().saturating_sub(q.parameters) * size,
            None => self.parameter_count() * size,
        }
    }
}

/// Raw HF `config.json`: only the fields the decoder reads; unknown ones are ignored.
#[derive(Debug, Deserialize)]
struct HfConfig {
    architectures: Option<Vec<String>>,
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    #[serde(default = "default_rms_eps")]
    rms_norm_eps: f64,
    rope_theta: Option<f64>,
    rope_scaling: Option<serde_json::Value>,
    rope_parameters: Option<serde_json::Value>,
    #[serde(default = "default_max_positions")]
    max_position_embeddings: usize,
    #[serde(default)]
    tie_word_embeddings: Option<bool>,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
    bos_token_id: Option<serde_json::Value>,
    eos_token_id: Option<serde_json::Value>,
    torch_dtype: Option<String>,
    dtype: Option<String>,
}

fn default_rms_eps() -> f64 {
    1e-6
}
fn default_max_positions() -> usize {
    4096
}

/// Token ids written as a number or a list of numbers.
pub(crate) fn token_ids(value: Option<&serde_json::Value>) -> Vec<u32> {
    match value {
        Some(serde_json::Value::Number(n)) => n.as_u64().map(|n| vec![n as u32]).unwrap_or_default(),
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(|v| v.as_u64()).map(|n| n as u32).collect(),
        _ => Vec::new(),
    }
}

impl ModelConfig {
    /// Reads and validates an HF `config.json`.
    pub fn from_hf_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
        Self::from_hf_json(&text, path)
    }

    /// Parses HF `config.json` text; `path` is only used in messages.
    pub fn from_hf_json(text: &str, path: &Path) -> Result<Self, ModelError> {
        let bad = |detail: String| ModelError::Config { path: path.to_path_buf(), detail };
        let probe: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON (line {}): {e}", e.line())))?;
        let arch_name = probe
            .get("architectures")
            .and_then(|a| a.get(0))
            .and_then(|a| a.as_str())
            .or_else(|| probe.get("model_type").and_then(|m| m.as_str()))
            .unwrap_or("<none>")
            .to_string();
        let raw: HfConfig = serde_json::from_value(probe).map_err(|e| bad(format!("{e}")))?;
        let architecture = raw
            .architectures
            .iter()
            .flatten()
            .find_map(|a| Architecture::from_hf_name(a))
            .or_else(|| raw.model_type.as_deref().and_then(Architecture::from_hf_name))
            .ok_or_else(|| ModelError::UnknownArchitecture { path: path.to_path_buf(), name: arch_name })?;
        let rope_params = raw.rope_parameters.as_ref();
        let rope_theta =
            raw.rope_theta.or_else(|| rope_params.and_then(|p| p.get("rope_theta")).and_then(|v| v.as_f64())).unwrap_or(10_000.0);
        let scaling_source = raw.rope_scaling.as_ref().filter(|v| !v.is_null()).or(rope_params);
        let rope_scaling = parse_rope_scaling(scaling_source).map_err(bad)?;
        let heads = raw.num_attention_heads;
        if heads == 0 || raw.hidden_size == 0 || raw.num_hidden_layers == 0 || raw.vocab_size == 0 {
            return Err(bad("hidden_size, num_attention_heads, num_hidden_layers and vocab_size must be positive".into()));
        }
        let kv_heads = raw.num_key_value_heads.unwrap_or(heads);
        let cfg = Self {
            architecture,
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            intermediate_size: raw.intermediate_size,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim: raw.head_dim.unwrap_or(raw.hidden_size / heads),
            rms_norm_eps: raw.rms_norm_eps,
            rope_theta,
            rope_scaling,
            max_position_embeddings: raw.max_position_embeddings,
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
            qkv_bias: architecture == Architecture::Qwen2 || raw.attention_bias,
            o_bias: architecture != Architecture::Qwen2 && raw.attention_bias,
            mlp_bias: raw.mlp_bias,
            bos_token_id: token_ids(raw.bos_token_id.as_ref()).first().copied(),
            eos_token_ids: token_ids(raw.eos_token_id.as_ref()),
            saved_dtype: raw.torch_dtype.or(raw.dtype),
            quantized: None,
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }

    /// Checks the shape relations the decoder relies on.
    pub fn validate(&self) -> Result<(), String> {
        if self.num_key_value_heads == 0 || self.num_attention_heads % self.num_key_value_heads != 0 {
            return Err(format!(
                "num_attention_heads ({}) must be a multiple of num_key_value_heads ({})",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if self.head_dim == 0 || self.head_dim % 2 != 0 {
            return Err(format!("head_dim ({}) must be even and positive for RoPE", self.head_dim));
        }
        if self.num_hidden_layers > 1024 || self.hidden_size > 1 << 16 || self.vocab_size > 1 << 22 {
            return Err("sizes are implausibly large (layers > 1024, hidden > 65536 or vocab > 4M)".into());
        }
        Ok(())
    }

    /// The config as HF `config.json` text (what `transformers` reads back).
    pub fn to_hf_json(&self, dtype: &str) -> serde_json::Value {
        let mut v = serde_json::json!({
            "architectures": [self.architecture.hf_class()],
            "model_type": match self.architecture { Architecture::Llama => "llama", Architecture::Mistral => "mistral", Architecture::Qwen2 => "qwen2" },
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "hidden_act": "silu",
            "torch_dtype": dtype,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_ids.first(),
        });
        if self.architecture == Architecture::Llama {
            v["attention_bias"] = serde_json::json!(self.qkv_bias);
            v["mlp_bias"] = serde_json::json!(self.mlp_bias);
        }
        if let Some(s) = &self.rope_scaling {
            v["rope_scaling"] = serde_json::json!({
                "rope_type": "llama3",
                "factor": s.factor,
                "low_freq_factor": s.low_freq_factor,
                "high_freq_factor": s.high_freq_factor,
                "original_max_position_embeddings": s.original_max_position_embeddings,
            });
        }
        v
    }

    /// Total parameters implied by the shapes (tied embeddings counted once).
    pub fn parameter_count(&self) -> u64 {
        let (h, i, v) = (self.hidden_size as u64, self.intermediate_size as u64, self.vocab_size as u64);
        let q = (self.num_attention_heads * self.head_dim) as u64;
        let kv = (self.num_key_value_heads * self.head_dim) as u64;
        let mut attn = h * q + 2 * h * kv + q * h;
        if self.qkv_bias {
            attn += q + 2 * kv;
        }
        if self.o_bias {
            attn += h;
        }
        let mut mlp = 3 * h * i;
        if self.mlp_bias {
            mlp += 2 * i + h;
        }
        let per_layer = attn + mlp + 2 * h;
        let head = if self.tie_word_embeddings { 0 } else { v * h };
        v * h + self.num_hidden_layers as u64 * per_layer + h + head
    }
}

fn parse_rope_scaling(value: Option<&serde_json::Value>) -> Result<Option<Llama3RopeScaling>, String> {
    let Some(v) = value else { return Ok(None) };
    let kind = v.get("rope_type").or_else(|| v.get("type")).and_then(|t| t.as_str()).unwrap_or("default");
    match kind {
        "default" => Ok(None),
        "llama3" => {
            let num = |k: &str| v.get(k).and_then(|x| x.as_f64()).ok_or_else(|| format!("rope scaling 'llama3' needs a numeric '{k}'"));
            Ok(Some(Llama3RopeScaling {
                factor: num("factor")?,
                low_freq_factor: num("low_freq_factor")?,
                high_freq_factor: num("high_freq_factor")?,
                original_max_position_embeddings: num("original_max_position_embeddings")?,
            }))
        }
        other => Err(format!("rope scaling type '{other}' is not supported (supported: default, llama3)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM_LIKE: &str = r#"{"architectures":["LlamaForCausalLM"],"vocab_size":49152,"hidden_size":576,
      "intermediate_size":1536,"num_hidden_layers":30,"num_attention_heads":9,"num_key_value_heads":3,
      "rms_norm_eps":1e-5,"rope_theta":100000,"max_position_embeddings":8192,"tie_word_embeddings":true,
      "bos_token_id":1,"eos_token_id":2}"#;

    #[test]
    fn smollm2_shapes_give_its_parameter_count() {
        let cfg = ModelConfig::from_hf_json(SMOLLM_LIKE, Path::new("config.json")).unwrap();
        assert_eq!(cfg.head_dim, 64);
        assert_eq!(cfg.parameter_count(), 134_515_008);
    }

    #[test]
    fn unknown_architecture_is_named() {
        let text = SMOLLM_LIKE.replace("LlamaForCausalLM", "GPTNeoXForCausalLM");
        let err = ModelConfig::from_hf_json(&text, Path::new("m/config.json")).unwrap_err().to_string();
        assert!(err.contains("GPTNeoXForCausalLM") && err.contains("m/config.json"), "{err}");
    }

    #[test]
    fn reads_rope_parameters_of_newer_transformers() {
        let text = SMOLLM_LIKE.replace(
            r#""rope_theta":100000"#,
            r#""rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}"#,
        );
        let cfg = ModelConfig::from_hf_json(&text, Path::new("config.json")).unwrap();
        assert_eq!(cfg.rope_theta, 500000.0);
        assert_eq!(cfg.rope_scaling.map(|s| s.factor), Some(8.0));
    }

    #[test]
    fn bad_head_ratio_is_rejected() {
        let text = SMOLLM_LIKE.replace(r#""num_key_value_heads":3"#, r#""num_key_value_heads":4"#);
        assert!(ModelConfig::from_hf_json(&text, Path::new("config.json")).is_err());
    }
}
