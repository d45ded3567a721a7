//! BERT-family sentence encoders from a local sentence-transformers folder (`config.json`,
//! `model.safetensors`, `tokenizer.json`, `1_Pooling/config.json`, `modules.json`), run with
//! candle-transformers' BERT. Pooling and normalisation follow the folder's own configuration, and
//! texts are truncated at its `max_seq_length`, as sentence-transformers does.

use super::bert_cpu::CpuBert;
use super::error::EmbedError;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use std::path::{Path, PathBuf};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// How token vectors become one sentence vector (`1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Mean over the real (non-padding) tokens.
    Mean,
    /// The first token (`[CLS]`).
    Cls,
    /// Element-wise maximum over the real tokens.
    Max,
}

/// The forward pass in use.
enum Backend {
    /// Packed sequences and fused kernels on the CPU.
    Cpu(CpuBert),
    /// candle-transformers' `BertModel` (GPUs, and models the CPU path does not cover).
    Candle(BertModel),
}

/// A loaded sentence-transformers BERT encoder.
pub struct BertEncoder {
    backend: Backend,
    tokenizer: Tokenizer,
    device: Device,
    dir: PathBuf,
    /// How token vectors are pooled.
    pub pooling: Pooling,
    /// Whether sentence vectors are L2-normalised (a `Normalize` module in `modules.json`).
    pub normalize: bool,
    /// Longest input in tokens (special tokens included); longer texts are truncated.
    pub max_seq_len: usize,
    /// Output dimension.
    pub dim: usize,
    id: String,
}

fn read_json(path: &Path) -> Result<serde_json::Value, EmbedError> {
    let text = std::fs::read_to_string(path).map_err(|e| EmbedError::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| EmbedError::Config { path: path.to_path_buf(), detail: format!("not valid JSON (line {}): {e}", e.line()) })
}

fn not_encoder(dir: &Path, detail: impl Into<String>) -> EmbedError {
    EmbedError::NotAnEncoder { path: dir.to_path_buf(), detail: detail.into() }
}

/// Reads `1_Pooling/config.json` (mean pooling when the folder has none).
fn read_pooling(dir: &Path) -> Result<Pooling, EmbedError> {
    let path = dir.join("1_Pooling").join("config.json");
    if !path.is_file() {
        return Ok(Pooling::Mean);
    }
    let json = read_json(&path)?;
    let on = |key: &str| json.get(key).and_then(|v| v.as_bool()).unwrap_or(false);
    if on("pooling_mode_mean_tokens") {
        Ok(Pooling::Mean)
    } else if on("pooling_mode_cls_token") {
        Ok(Pooling::Cls)
    } else if on("pooling_mode_max_tokens") {
        Ok(Pooling::Max)
    } else {
        Err(EmbedError::Config {
            path,
            detail:
                "no supported pooling mode is on (supported: pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_max_tokens)"
                    .into(),
        })
    }
}

/// Whether `modules.json` lists a `Normalize` module.
fn read_normalize(dir: &Path) -> Result<bool, EmbedError> {
    let path = dir.join("modules.json");
    if !path.is_file() {
        return Ok(false);
    }
    let json = read_json(&path)?;
    let modules =
        json.as_array().ok_or_else(|| EmbedError::Config { path: path.clone(), detail: "expected a JSON array of modules".into() })?;
    Ok(modules.iter().any(|m| m.get("type").and_then(|t| t.as_str()).is_some_and(|t| t.ends_with("Normalize"))))
}

/// `max_seq_length` from `sentence_bert_config.json`, else the position table's size.
fn read_max_seq_len(dir: &Path, config: &BertConfig) -> Result<usize, EmbedError> {
    let path = dir.join("sentence_bert_config.json");
    let from_st = if path.is_file() { read_json(&path)?.get("max_seq_length").and_then(|v| v.as_u64()) } else { None };
    let max = from_st.map(|v| v as usize).unwrap_or(config.max_position_embeddings);
    Ok(max.clamp(2, config.max_position_embeddings))
}

impl BertEncoder {
    /// Loads a sentence-transformers folder onto `device`. Refuses folders that are not BERT
    /// models, saying what was found instead. On the CPU the packed forward pass is used.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, EmbedError> {
        Self::load_with(dir, device, true)
    }

    /// As [`BertEncoder::load`]; `packed_cpu = false` keeps candle-transformers' `BertModel` on
    /// the CPU too (for comparison).
    pub fn load_with(dir: &Path, device: &Device, packed_cpu: bool) -> Result<Self, EmbedError> {
        if !dir.is_dir() {
            return Err(not_encoder(dir, "no such folder"));
        }
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(not_encoder(dir, "it has no config.json"));
        }
        let raw = read_json(&config_path)?;
        let model_type = raw.get("model_type").and_then(|v| v.as_str()).unwrap_or("");
        let archs = raw.get("architectures").map(|a| a.to_string()).unwrap_or_default();
        if model_type != "bert" {
            return Err(not_encoder(dir, format!("config.json has model_type '{model_type}' (architectures {archs}), not 'bert'")));
        }
        let config: BertConfig = serde_json::from_value(raw)
            .map_err(|e| EmbedError::Config { path: config_path.clone(), detail: format!("not a BERT config: {e}") })?;
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            if dir.join("pytorch_model.bin").is_file() {
                return Err(not_encoder(dir, "it has only pytorch_model.bin; PyTorch pickles are never unpickled (they can run code). Convert it with `SentenceTransformer(DIR).save(OUT, safe_serialization=True)`"));
            }
            return Err(not_encoder(dir, "it has no model.safetensors"));
        }
        let tok_path = dir.join("tokenizer.json");
        if !tok_path.is_file() {
            return Err(not_encoder(dir, "it has no tokenizer.json"));
        }
        let mut tokenizer =
            Tokenizer::from_file(&tok_path).map_err(|e| EmbedError::Tokenizer { path: tok_path.clone(), detail: e.to_string() })?;
        let max_seq_len = read_max_seq_len(dir, &config)?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_seq_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| EmbedError::Tokenizer { path: tok_path.clone(), detail: e.to_string() })?;
        let bytes = std::fs::read(&weights).map_err(|e| EmbedError::io(&weights, e))?;
        let weights_len = bytes.len();
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, device)
            .map_err(|source| EmbedError::Model { path: weights.clone(), source })?;
        let model_err = |source| EmbedError::Model { path: weights.clone(), source };
        let backend = if packed_cpu && device.is_cpu() && CpuBert::supports(&config) {
            Backend::Cpu(CpuBert::load(vb, &config).map_err(model_err)?)
        } else {
            Backend::Candle(BertModel::load(vb, &config).map_err(model_err)?)
        };
        let pooling = read_pooling(dir)?;
        let normalize = read_normalize(dir)?;
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let name = canonical.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let parent = canonical.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let id = format!("bert:{parent}/{name}:weights={weights_len}:max_seq={max_seq_len}:{pooling:?}:normalize={normalize}");
        Ok(Self {
            backend,
            tokenizer,
            device: device.clone(),
            dir: dir.to_path_buf(),
            pooling,
            normalize,
            max_seq_len,
            dim: config.hidden_size,
            id,
        })
    }

    /// The identity written into embedding files and cache keys.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The folder it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn model_err(&self, source: candle_core::Error) -> EmbedError {
        EmbedError::Model { path: self.dir.clone(), source }
    }

    /// Token ids of each text (special tokens added, truncated at `max_seq_len`).
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Tokenizer { path: self.dir.join("tokenizer.json"), detail: e.to_string() })?;
        Ok(encodings.into_iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Embeds a batch into a row-major `[texts.len(), dim]` buffer. Sort texts by length before
    /// batching: every text is padded to the longest in its batch.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<f32>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self.tokenize(texts)?;
        self.encode_ids(&ids)
    }

    /// Whether the packed CPU forward pass is in use.
    pub fn is_packed_cpu(&self) -> bool {
        matches!(self.backend, Backend::Cpu(_))
    }

    /// Embeds already tokenised texts.
    pub fn encode_ids(&self, ids: &[Vec<u32>]) -> Result<Vec<f32>, EmbedError> {
        let model = match &self.backend {
            Backend::Cpu(m) => return m.embed(ids, self.pooling, self.normalize).map_err(|e| self.model_err(e)),
            Backend::Candle(m) => m,
        };
        let batch = ids.len();
        let seq = ids.iter().map(|v| v.len()).max().unwrap_or(0).max(1);
        let mut flat_ids = vec![0u32; batch * seq];
        let mut mask = vec![0f32; batch * seq];
        for (b, row) in ids.iter().enumerate() {
            flat_ids[b * seq..b * seq + row.len()].copy_from_slice(row);
            mask[b * seq..b * seq + row.len()].fill(1.0);
        }
        let out = (|| -> candle_core::Result<Vec<f32>> {
            let input = Tensor::from_vec(flat_ids, (batch, seq), &self.device)?;
            let mask_t = Tensor::from_vec(mask, (batch, seq), &self.device)?;
            let types = input.zeros_like()?;
            let hidden = model.forward(&input, &types, Some(&mask_t))?; // [b, s, h]
            let pooled = match self.pooling {
                Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
                Pooling::Mean => {
                    let m = mask_t.unsqueeze(2)?;
                    let summed = hidden.broadcast_mul(&m)?.sum(1)?;
                    let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
                    summed.broadcast_div(&counts)?
                }
                Pooling::Max => {
                    let penalty = ((mask_t.unsqueeze(2)? - 1.0)? * 1e9)?;
                    hidden.broadcast_add(&penalty)?.max(1)?
                }
            };
            let pooled = if self.normalize {
                let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
                pooled.broadcast_div(&norm)?
            } else {
                pooled
            };
            pooled.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
        })()
        .map_err(|e| self.model_err(e))?;
        Ok(out)
    }
}
